import { describe, expect, it } from 'vitest';
import { Random } from '../src/world/random.ts';

const draw = (r: Random, n = 50) => Array.from({ length: n }, () => r.int(0, 1_000_000));

describe('seeded random', () => {
  it('gives the same sequence for the same seed', () => {
    expect(draw(new Random(42))).toEqual(draw(new Random(42)));
    const a = new Random(7);
    const b = new Random(7);
    expect(Array.from({ length: 20 }, () => a.float())).toEqual(
      Array.from({ length: 20 }, () => b.float()),
    );
  });

  it('gives different sequences for different seeds', () => {
    expect(draw(new Random(1))).not.toEqual(draw(new Random(2)));
  });

  it('rejects seeds that are not integers', () => {
    expect(() => new Random(1.5)).toThrow(RangeError);
  });

  it('stays within bounds', () => {
    const r = new Random(3);
    for (let i = 0; i < 10_000; i++) {
      const n = r.int(-3, 3);
      expect(Number.isInteger(n) && n >= -3 && n <= 3).toBe(true);
      const f = r.float();
      expect(f >= 0 && f < 1).toBe(true);
    }
    expect(r.int(5, 5)).toBe(5);
  });

  it('reaches every value of a small range', () => {
    const r = new Random(4);
    const seen = new Set(Array.from({ length: 1000 }, () => r.int(0, 9)));
    expect(seen.size).toBe(10);
  });

  it('chance(p) is never for p <= 0, always for p >= 1, roughly p otherwise', () => {
    const r = new Random(5);
    const count = (p: number) =>
      Array.from({ length: 10_000 }, () => r.chance(p)).filter(Boolean).length;
    expect(count(0)).toBe(0);
    expect(count(1)).toBe(10_000);
    expect(count(0.25)).toBeGreaterThan(2200);
    expect(count(0.25)).toBeLessThan(2800);
  });

  it('pick returns an element and refuses an empty list', () => {
    const r = new Random(6);
    const items = ['a', 'b', 'c'];
    for (let i = 0; i < 100; i++) expect(items).toContain(r.pick(items));
    expect(() => r.pick([])).toThrow(RangeError);
  });
});

describe('forks', () => {
  it('are deterministic per seed and purpose', () => {
    expect(draw(new Random(9).fork('net'))).toEqual(draw(new Random(9).fork('net')));
  });

  it('differ between purposes and from the parent', () => {
    const parent = new Random(9);
    const net = draw(parent.fork('net'));
    expect(net).not.toEqual(draw(parent.fork('faults')));
    expect(net).not.toEqual(draw(new Random(9)));
  });

  it('are independent: draws from one stream do not shift another', () => {
    const quiet = new Random(11);
    const busy = new Random(11);
    draw(busy, 1000);
    draw(busy.fork('other'), 1000);
    expect(draw(busy.fork('net'))).toEqual(draw(quiet.fork('net')));
  });
});
