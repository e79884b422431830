/**
 * `.include "file"`: the assembler assembles another file's text in place, as GNU as does. The
 * text comes from `AssembleOptions.include(path, from)`; `fileIncluder(baseDir)` reads it from
 * disk relative to the including file, and `assembleFile(path)` wires that up for a program file.
 * A file is included at most once; cycles, nesting deeper than MAX_INCLUDE_DEPTH and a missing
 * resolver or file are AssemblyErrors that name the files involved.
 */
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, posix } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { receiverSource, tickerSource, workloadIncluder } from '../src/check/workloads.ts';
import {
  type AssembleOptions,
  AssemblyError,
  assemble,
  assembleFile,
  decodeInstruction,
  fileIncluder,
  type Image,
  type Includer,
  MAX_INCLUDE_DEPTH,
  Op,
  primesInJs,
  runStandalone,
} from '../src/cpu/index.ts';

const EXAMPLES = fileURLToPath(new URL('../examples/', import.meta.url));

/** An in-memory resolver: `path` joined to the including file's directory, looked up in `texts`. */
function memoryFiles(texts: Record<string, string>): Includer & { calls: string[][] } {
  const calls: string[][] = [];
  const include = (path: string, from: string) => {
    calls.push([path, from]);
    const name = posix.join(posix.dirname(from), path);
    const text = texts[name];
    if (text === undefined) throw new Error(`no such file ${name}`);
    return text;
  };
  return Object.assign(include, { calls });
}

/** Assembles and returns the AssemblyError it throws. */
function error(source: string, options: AssembleOptions): AssemblyError {
  try {
    assemble(source, options);
  } catch (e) {
    if (e instanceof AssemblyError) return e;
    throw e;
  }
  throw new Error('expected an AssemblyError');
}

/** The parts of an image that the program is made of (not `lines`, which say where it came from). */
const program = (img: Image) => ({
  segments: img.segments,
  entry: img.entry,
  symbols: img.symbols,
});

/** `source` with each `.include` replaced by the file's text, done by hand from `dir`. */
function expand(source: string, dir: string): string {
  return source.replace(/^\s*\.include\s+"([^"]+)".*$/gm, (_, path: string) => {
    const file = join(dir, path);
    return expand(readFileSync(file, 'utf8'), dirname(file));
  });
}

function tempDir(files: Record<string, string>): string {
  const dir = mkdtempSync(join(tmpdir(), 'xmach-include-'));
  for (const [name, text] of Object.entries(files)) {
    mkdirSync(dirname(join(dir, name)), { recursive: true });
    writeFileSync(join(dir, name), text);
  }
  return dir;
}

describe('.include assembles a file in place', () => {
  const lib = `
        .equ SCALE, 3
double:                     ; r1 = r1 * FACTOR
        muli  r1, r1, FACTOR
        ret
`;

  it('shares labels and constants both ways, as if the text were written there', () => {
    const main = `
        .equ FACTOR, 2
_start: li    r1, SCALE
        call  double
        halt
        .include "lib.s"
`;
    const include = memoryFiles({ 'lib.s': lib });
    const img = assemble(main, { fileName: 'main.s', include });
    expect(program(img)).toEqual(program(assemble(main.replace('.include "lib.s"', lib))));
    expect(img.symbols).toMatchObject({ SCALE: 3, FACTOR: 2, double: 0x1018 });
    expect(decodeInstruction(img.segments[0]!.bytes, 0x18)).toMatchObject({
      opcode: Op.MULI,
      imm: 2,
    });
    expect(include.calls).toEqual([['lib.s', 'main.s']]);
    // an instruction's line is its line in its own file
    expect(img.lines.get(0x1018)).toBe(4);
  });

  it('leaves the section the included file switched to in effect after it', () => {
    const include = memoryFiles({ 'strings.s': '.data\nhello: .asciz "hi"\n' });
    const img = assemble('halt\n.include "strings.s"\nafter: .byte 7', { include });
    expect(img.segments.map((s) => s.kind)).toEqual(['text', 'data']);
    expect([...img.segments[1]!.bytes]).toEqual([104, 105, 0, 7]);
    expect(img.symbols.after).toBe(img.symbols.hello! + 3);
  });

  it('resolves a nested include against the directory of the file that includes it', () => {
    const include = memoryFiles({
      'lib/a.s': '.include "b.s"\na: nop',
      'lib/b.s': '.include "../top.s"\nb: nop',
      'top.s': 'top: nop',
    });
    const img = assemble('.include "lib/a.s"\nmain: halt', { fileName: 'prog.s', include });
    expect(include.calls).toEqual([
      ['lib/a.s', 'prog.s'],
      ['b.s', 'lib/a.s'],
      ['../top.s', 'lib/b.s'],
    ]);
    expect(img.symbols).toMatchObject({ top: 0x1000, b: 0x1008, a: 0x1010, main: 0x1018 });
  });

  it('reads files relative to the including file with fileIncluder and assembleFile', () => {
    const dir = tempDir({
      'prog/main.s': '.include "../lib/one.s"\n_start: call one\nhalt',
      'lib/one.s': '.include "two.s"\none: call two\nret',
      'lib/two.s': 'two: ret',
    });
    const img = assembleFile(join(dir, 'prog/main.s'));
    expect(img.symbols).toMatchObject({ two: 0x1000, one: 0x1008, _start: 0x1018 });
    // a relative fileName is taken from baseDir
    const same = assemble('.include "../lib/one.s"\n_start: call one\nhalt', {
      fileName: 'prog/main.s',
      include: fileIncluder(dir),
    });
    expect(program(same)).toEqual(program(img));
  });
});

describe('.include errors', () => {
  it('needs a resolver', () => {
    const e = error('nop\n  .include "lib/print.s"', { fileName: 'main.s' });
    expect(e.message).toBe(
      "main.s:2:12: cannot include 'lib/print.s': no include resolver (AssembleOptions.include)",
    );
  });

  it('names a file that is not there, where fileIncluder looked for it', () => {
    const dir = tempDir({ 'main.s': 'nop\n.include "lib/nope.s"\n' });
    const e = error('nop\n.include "lib/nope.s"\n', {
      fileName: 'main.s',
      include: fileIncluder(dir),
    });
    expect(e).toMatchObject({ fileName: 'main.s', line: 2, column: 10 });
    expect(e.reason).toBe(`cannot include 'lib/nope.s': no such file ${join(dir, 'lib/nope.s')}`);
  });

  it('needs one file name in double quotes, not empty', () => {
    const include = memoryFiles({});
    expect(error('.include lib.s', { include }).reason).toBe(
      "'.include' needs a file name in double quotes",
    );
    expect(error('.include "a.s", "b.s"', { include }).reason).toBe(
      "'.include' needs a file name in double quotes",
    );
    expect(error('.include ""', { include }).message).toBe('<source>:1:10: empty file name');
  });

  it('reports an error inside an included file at its own name and line, and where it came from', () => {
    const include = memoryFiles({
      'lib/a.s': 'nop\n.include "b.s"',
      'lib/b.s': 'nop\nnop\n  frobnicate r1',
    });
    const e = error('\n.include "lib/a.s"', { fileName: 'main.s', include });
    expect(e).toMatchObject({
      fileName: 'lib/b.s',
      line: 3,
      column: 3,
      sourceLine: '  frobnicate r1',
      reason: "unknown mnemonic 'frobnicate'",
      includedFrom: [
        { fileName: 'lib/a.s', line: 2 },
        { fileName: 'main.s', line: 2 },
      ],
    });
    expect(e.message).toBe(
      "lib/b.s:3:3: unknown mnemonic 'frobnicate' (included from lib/a.s:2, main.s:2)",
    );
  });

  it('names the other file when a label or constant is defined twice across files', () => {
    const include = memoryFiles({ 'lib.s': 'nop\nputs: ret\n.equ N, 1' });
    expect(error('.include "lib.s"\nputs: nop', { fileName: 'main.s', include }).message).toBe(
      "main.s:2:1: duplicate label 'puts' (first defined at lib.s:2)",
    );
    expect(error('.include "lib.s"\n.equ N, 2', { fileName: 'main.s', include }).reason).toBe(
      "duplicate constant 'N' (first defined at lib.s:3)",
    );
  });

  it('refuses a file included twice, naming it and its first include', () => {
    const include = memoryFiles({ 'lib/a.s': 'a: nop', 'lib/b.s': '.include "a.s"' });
    const twice = error('.include "lib/a.s"\n.include "./lib/a.s"', {
      fileName: 'main.s',
      include,
    });
    expect(twice.message).toBe(
      "main.s:2:10: 'lib/a.s' is already included (at main.s:1); a file is included once",
    );
    const diamond = error('.include "lib/a.s"\n.include "lib/b.s"', {
      fileName: 'main.s',
      include,
    });
    expect(diamond).toMatchObject({ fileName: 'lib/b.s', line: 1 });
    expect(diamond.reason).toBe(
      "'lib/a.s' is already included (at main.s:1); a file is included once",
    );
  });

  it('refuses an include cycle, naming the chain', () => {
    const include = memoryFiles({
      'main.s': '',
      'a.s': 'nop\n.include "lib/b.s"',
      'lib/b.s': '.include "../a.s"',
    });
    const e = error('.include "a.s"', { fileName: 'main.s', include });
    expect(e.message).toBe(
      'lib/b.s:1:10: include cycle: a.s -> lib/b.s -> a.s (included from a.s:2, main.s:1)',
    );
    expect(error('.include "main.s"', { fileName: 'main.s', include }).reason).toBe(
      'include cycle: main.s -> main.s',
    );
  });

  it(`refuses includes nested more than ${MAX_INCLUDE_DEPTH} deep`, () => {
    const texts: Record<string, string> = {};
    for (let i = 1; i <= 20; i++) texts[`d${i}.s`] = `.include "d${i + 1}.s"`;
    const e = error('.include "d1.s"', { fileName: 'main.s', include: memoryFiles(texts) });
    expect(e.reason).toBe(`includes nested more than ${MAX_INCLUDE_DEPTH} deep`);
    expect(e.fileName).toBe(`d${MAX_INCLUDE_DEPTH}.s`);
    expect(e.includedFrom).toHaveLength(MAX_INCLUDE_DEPTH);
    // exactly MAX_INCLUDE_DEPTH levels are fine
    texts[`d${MAX_INCLUDE_DEPTH}.s`] = 'halt';
    expect(() => assemble('.include "d1.s"', { include: memoryFiles(texts) })).not.toThrow();
  });

  it('passes on an AssemblyError the resolver throws', () => {
    const inner = new AssemblyError('bad', 'x.s', 1, 1, '');
    const e = error('.include "x.s"', {
      include: () => {
        throw inner;
      },
    });
    expect(e).toBe(inner);
  });
});

describe('the examples share their print routines from examples/lib/', () => {
  const examples = readdirSync(EXAMPLES).filter((f) => f.endsWith('.s'));

  it.each(examples)('%s includes lib/print.s and assembles as its expanded text', (name) => {
    const source = readFileSync(join(EXAMPLES, name), 'utf8');
    expect(source).toContain('.include "lib/print.s"');
    expect(source).not.toMatch(/^puts:/m);
    expect(program(assembleFile(join(EXAMPLES, name)))).toEqual(
      program(assemble(expand(source, EXAMPLES))),
    );
  });

  it('primes.s prints exactly what the JavaScript version prints', () => {
    const img = assembleFile(join(EXAMPLES, 'primes.s'), { defines: { N: 3000, STEP: 700 } });
    const run = runStandalone(img);
    expect(run.end).toBe('exit');
    expect(run.output).toBe(primesInJs(3000, 700));
  });

  it("the checker's workloads include the same library", () => {
    const sources = [
      tickerSource({ ticks: 3, pages: 2, sleepMs: 1 }),
      receiverSource({ name: 'rx', count: 2, pages: 1 }),
    ];
    for (const source of sources) {
      expect(source).toContain('.include "lib/print.s"');
      expect(program(assemble(source, { fileName: 'w.s', include: workloadIncluder }))).toEqual(
        program(assemble(expand(source, EXAMPLES))),
      );
    }
  });
});
