/**
 * The address map (vm_allocate, vm_deallocate, vm_protect, vm_inherit, vm_region, vm_read,
 * vm_write) of mach3-kernel-interfaces.txt chapter 4, and the rule that a refused call changes
 * nothing.
 */
import { describe, expect, it } from 'vitest';
import { IpcKernel } from '../src/actors/ipcKernel.ts';
import {
  type AddressSpace,
  createHostMemory,
  VM_INHERIT_COPY,
  VM_INHERIT_NONE,
  VM_INHERIT_SHARE,
  VM_PROT_ALL,
  VM_PROT_EXECUTE,
  VM_PROT_NONE,
  VM_PROT_READ,
  VM_PROT_WRITE,
  type VmInherit,
} from '../src/memory/index.ts';
import { isMachError } from '../src/protocol/errors.ts';
import type { ReturnCodeName } from '../src/protocol/returnCodes.ts';
import { HOST_PROFILES } from '../src/world/profiles.ts';
import { World } from '../src/world/world.ts';

const PAGE = 4096;
const RW = VM_PROT_READ | VM_PROT_WRITE;

function makeSpace() {
  const world = new World(1);
  const ipc = new IpcKernel(world, 'host');
  const memory = createHostMemory({ world, name: 'host', profile: HOST_PROFILES.pentium90, ipc });
  return { world, memory, space: memory.createAddressSpace('task') };
}

/** Regions as [address, size, protection, max, inheritance] rows, for compact comparisons. */
function layout(space: AddressSpace): [number, number, number, number, VmInherit][] {
  return space
    .regionList()
    .map((r) => [r.address, r.size, r.protection, r.maxProtection, r.inheritance]);
}

/** Expects `call` to throw MachError `code` (with `detail`) and to leave the map as it was. */
function refused(space: AddressSpace, code: ReturnCodeName, detail: string, call: () => unknown) {
  const before = JSON.stringify(space.regionList());
  let thrown: unknown;
  try {
    call();
  } catch (e) {
    thrown = e;
  }
  expect(isMachError(thrown, code), String(thrown)).toBe(true);
  expect((thrown as Error).message).toBe(`${code}: ${detail}`);
  expect(JSON.stringify(space.regionList())).toBe(before);
}

describe('vm_allocate', () => {
  it('maps zero-fill memory at a fixed address, rounded out to whole pages as Mach rounds', () => {
    const { space } = makeSpace();
    expect(space.allocate(0x10010, 100)).toBe(0x10000);
    expect(space.allocate(0x20ff0, 0x20)).toBe(0x20000);
    expect(layout(space)).toEqual([
      [0x10000, PAGE, VM_PROT_ALL, VM_PROT_ALL, VM_INHERIT_COPY],
      [0x20000, 2 * PAGE, VM_PROT_ALL, VM_PROT_ALL, VM_INHERIT_COPY],
    ]);
  });

  it('finds room anywhere, first fit above page 0', () => {
    const { space } = makeSpace();
    space.allocate(0x1000, 2 * PAGE);
    space.allocate(0x5000, PAGE);
    expect(space.allocate('anywhere', PAGE)).toBe(0x3000);
    expect(space.allocate('anywhere', 2 * PAGE)).toBe(0x6000);
    expect(space.allocateAnywhere(1)).toBe(0x4000);
  });

  it('takes protection, maximum protection and inheritance, as bits or as flags', () => {
    const { space } = makeSpace();
    space.allocate(0x10000, PAGE, { read: true, write: false, execute: true });
    space.allocate(0x20000, PAGE, VM_PROT_READ, {
      maxProtection: RW,
      inheritance: VM_INHERIT_SHARE,
    });
    expect(layout(space)).toEqual([
      [0x10000, PAGE, VM_PROT_READ | VM_PROT_EXECUTE, VM_PROT_ALL, VM_INHERIT_COPY],
      [0x20000, PAGE, VM_PROT_READ, RW, VM_INHERIT_SHARE],
    ]);
  });

  it('refuses bad requests and changes nothing', () => {
    const { space } = makeSpace();
    space.allocate(0x10000, 2 * PAGE);
    refused(
      space,
      'KERN_NO_SPACE',
      'vm_allocate: [0x11000, 0x13000) overlaps the region at 0x10000',
      () => space.allocate(0x11000, 2 * PAGE),
    );
    refused(
      space,
      'KERN_INVALID_ADDRESS',
      'vm_allocate: address -4096 is outside the 32-bit address space',
      () => space.allocate(-PAGE, PAGE),
    );
    refused(
      space,
      'KERN_INVALID_ADDRESS',
      'vm_allocate: 0xfffff000 + 8192 runs past the end of the address space',
      () => space.allocate(0xffff_f000, 2 * PAGE),
    );
    refused(
      space,
      'KERN_INVALID_ARGUMENT',
      'vm_allocate: size 0 is not a positive byte count',
      () => space.allocate(0x40000, 0),
    );
    refused(
      space,
      'KERN_INVALID_ARGUMENT',
      'vm_allocate: size 1.5 is not a positive byte count',
      () => space.allocate('anywhere', 1.5),
    );
    refused(
      space,
      'KERN_PROTECTION_FAILURE',
      'vm_allocate: protection rw- exceeds the maximum r--',
      () => space.allocate(0x40000, PAGE, RW, { maxProtection: VM_PROT_READ }),
    );
    refused(space, 'KERN_INVALID_ARGUMENT', 'protection 9 is not VM_PROT_* bits', () =>
      space.allocate(0x40000, PAGE, 9),
    );
    refused(
      space,
      'KERN_INVALID_ARGUMENT',
      'inheritance 7 is not VM_INHERIT_SHARE, _COPY or _NONE',
      () => space.allocate(0x40000, PAGE, RW, { inheritance: 7 as VmInherit }),
    );
    refused(space, 'KERN_NO_SPACE', 'vm_allocate: no room for 1048576 pages in task', () =>
      space.allocate('anywhere', 0xffff_ffff),
    );
  });
});

describe('vm_deallocate', () => {
  it('removes a range, splitting the region around it', () => {
    const { space } = makeSpace();
    space.allocate(0x10000, 4 * PAGE);
    space.deallocate(0x11000, 2 * PAGE);
    expect(layout(space).map(([a, s]) => [a, s])).toEqual([
      [0x10000, PAGE],
      [0x13000, PAGE],
    ]);
    expect(space.page(0x11, false)).toBe('unmapped');
    expect(space.page(0x13, false)).toBe('notResident');
  });

  it('refuses a range that is not allocated throughout and changes nothing', () => {
    const { space } = makeSpace();
    space.allocate(0x10000, PAGE);
    space.allocate(0x12000, PAGE);
    refused(
      space,
      'KERN_INVALID_ADDRESS',
      'vm_deallocate: [0x10000, 0x13000) is not allocated throughout',
      () => space.deallocate(0x10000, 3 * PAGE),
    );
    refused(
      space,
      'KERN_INVALID_ADDRESS',
      'vm_deallocate: [0x30000, 0x31000) is not allocated throughout',
      () => space.deallocate(0x30000, 1),
    );
  });
});

describe('vm_protect', () => {
  it('lowers the current protection of part of a region, and page() enforces it', () => {
    const { space } = makeSpace();
    space.allocate(0x10000, 3 * PAGE, RW, { maxProtection: RW });
    space.protect(0x11000, PAGE, VM_PROT_READ);
    expect(layout(space)).toEqual([
      [0x10000, PAGE, RW, RW, VM_INHERIT_COPY],
      [0x11000, PAGE, VM_PROT_READ, RW, VM_INHERIT_COPY],
      [0x12000, PAGE, RW, RW, VM_INHERIT_COPY],
    ]);
    expect(space.page(0x11, true)).toBe('protection');
    expect(space.page(0x11, false)).toBe('notResident');
    space.protect(0x11000, PAGE, VM_PROT_NONE);
    expect(space.page(0x11, false)).toBe('protection');
    // Restoring the protection merges the region back.
    space.protect(0x11000, PAGE, RW);
    expect(layout(space)).toEqual([[0x10000, 3 * PAGE, RW, RW, VM_INHERIT_COPY]]);
  });

  it('sets the maximum, which pulls the current protection down with it', () => {
    const { space } = makeSpace();
    space.allocate(0x10000, PAGE);
    space.protect(0x10000, PAGE, VM_PROT_READ, true);
    expect(layout(space)).toEqual([[0x10000, PAGE, VM_PROT_READ, VM_PROT_READ, VM_INHERIT_COPY]]);
    refused(
      space,
      'KERN_PROTECTION_FAILURE',
      'vm_protect: rw- exceeds the maximum r-- of the region at 0x10000',
      () => space.protect(0x10000, PAGE, RW),
    );
    refused(
      space,
      'KERN_PROTECTION_FAILURE',
      'vm_protect: rwx exceeds the maximum r-- of the region at 0x10000',
      () => space.protect(0x10000, PAGE, VM_PROT_ALL, true),
    );
  });

  it('takes away a write translation the task already had', () => {
    const { world, space } = makeSpace();
    space.allocate(0x10000, PAGE);
    let done = false;
    space.faultIn(0x10, true, () => {
      done = true;
    });
    world.runUntil(() => done);
    expect(space.page(0x10, true)).toBeInstanceOf(Uint8Array);
    space.protect(0x10000, PAGE, VM_PROT_READ);
    expect(space.page(0x10, true)).toBe('protection');
    expect(space.page(0x10, false)).toBeInstanceOf(Uint8Array);
  });

  it('refuses a partly unallocated range without touching the allocated part', () => {
    const { space } = makeSpace();
    space.allocate(0x10000, PAGE);
    refused(
      space,
      'KERN_INVALID_ADDRESS',
      'vm_protect: [0x10000, 0x12000) is not allocated throughout',
      () => space.protect(0x10000, 2 * PAGE, VM_PROT_READ),
    );
  });
});

describe('vm_inherit', () => {
  it('sets inheritance on part of a region', () => {
    const { space } = makeSpace();
    space.allocate(0x10000, 3 * PAGE);
    space.inherit(0x12000, PAGE, VM_INHERIT_NONE);
    space.inherit(0x10000, PAGE, VM_INHERIT_SHARE);
    expect(layout(space).map((r) => r[4])).toEqual([
      VM_INHERIT_SHARE,
      VM_INHERIT_COPY,
      VM_INHERIT_NONE,
    ]);
  });

  it('refuses an unknown inheritance or an unallocated range', () => {
    const { space } = makeSpace();
    space.allocate(0x10000, PAGE);
    refused(
      space,
      'KERN_INVALID_ARGUMENT',
      'inheritance 3 is not VM_INHERIT_SHARE, _COPY or _NONE',
      () => space.inherit(0x10000, PAGE, 3 as VmInherit),
    );
    refused(
      space,
      'KERN_INVALID_ADDRESS',
      'vm_inherit: [0x20000, 0x21000) is not allocated throughout',
      () => space.inherit(0x20000, PAGE, VM_INHERIT_NONE),
    );
  });
});

describe('vm_region', () => {
  it('describes the region at or above an address', () => {
    const { space } = makeSpace();
    space.allocate(0x10000, 2 * PAGE, VM_PROT_READ);
    space.allocate(0x30000, PAGE);
    expect(space.region(0x11800)).toMatchObject({
      address: 0x10000,
      size: 2 * PAGE,
      protection: VM_PROT_READ,
      maxProtection: VM_PROT_ALL,
      inheritance: VM_INHERIT_COPY,
      shared: false,
      offset: 0,
    });
    expect(space.region(0x20000).address).toBe(0x30000);
    expect(space.region(0).address).toBe(0x10000);
  });

  it('reports the offset into the object of a region split from a larger one', () => {
    const { space } = makeSpace();
    space.allocate(0x10000, 4 * PAGE);
    space.protect(0x12000, PAGE, VM_PROT_READ);
    const [a, b, c] = space.regionList();
    expect([a!.offset, b!.offset, c!.offset]).toEqual([0, 2 * PAGE, 3 * PAGE]);
    expect(new Set([a!.object, b!.object, c!.object]).size).toBe(1);
  });

  it('says KERN_NO_SPACE past the last region', () => {
    const { space } = makeSpace();
    space.allocate(0x10000, PAGE);
    refused(space, 'KERN_NO_SPACE', 'vm_region: no region at or above 0x11000', () =>
      space.region(0x11000),
    );
    refused(space, 'KERN_INVALID_ADDRESS', 'vm_region: 4294967296 is not an address', () =>
      space.region(2 ** 32),
    );
  });
});

describe('vm_read and vm_write', () => {
  it('write whole pages without any page fault, and read them back', () => {
    const { memory, space } = makeSpace();
    space.allocate(0x10000, 2 * PAGE);
    const data = new Uint8Array(2 * PAGE).map((_, i) => i & 0xff);
    space.vmWrite(0x10000, data);
    expect(memory.stats.dataRequests).toBe(0);
    expect(space.vmRead(0x10000, 2 * PAGE)).toEqual(data);
    expect(space.dirtyPages()).toEqual([0x10, 0x11]);
  });

  it('report a page that must be faulted in first', () => {
    const { space } = makeSpace();
    space.allocate(0x10000, PAGE);
    expect(space.vmRead(0x10000, PAGE)).toEqual({
      kind: 'notResident',
      address: 0x10000,
      write: false,
    });
  });

  it('refuse unaligned ranges, unallocated pages and protection, changing nothing', () => {
    const { space } = makeSpace();
    space.allocate(0x10000, PAGE, VM_PROT_READ);
    space.allocate(0x11000, PAGE, VM_PROT_WRITE);
    const page = new Uint8Array(PAGE);
    refused(space, 'KERN_INVALID_ARGUMENT', 'vm_write: address 0x10010 is not page aligned', () =>
      space.vmWrite(0x10010, page),
    );
    refused(
      space,
      'KERN_INVALID_ARGUMENT',
      'vm_read: size 100 is not a whole number of 4096-byte pages',
      () => space.vmRead(0x10000, 100),
    );
    refused(
      space,
      'KERN_PROTECTION_FAILURE',
      'vm_write: 0x10000 is protected against writing',
      () => space.vmWrite(0x10000, page),
    );
    refused(space, 'KERN_PROTECTION_FAILURE', 'vm_read: 0x11000 is protected against reading', () =>
      space.vmRead(0x11000, PAGE),
    );
    refused(space, 'KERN_INVALID_ADDRESS', 'vm_write: 0x12000 is not allocated', () =>
      space.vmWrite(0x11000, new Uint8Array(2 * PAGE)),
    );
    expect(space.dirtyPages()).toEqual([]);
  });
});

describe('the kernel copyin / copyout helpers', () => {
  it('read and write across page boundaries at any alignment', () => {
    const { space } = makeSpace();
    space.allocate(0x10000, 2 * PAGE);
    space.vmWrite(0x10000, new Uint8Array(2 * PAGE));
    const text = new TextEncoder().encode('straddles a page boundary');
    expect(space.write(0x10ff0, text)).toBeUndefined();
    expect(new TextDecoder().decode(space.read(0x10ff0, text.length) as Uint8Array)).toBe(
      'straddles a page boundary',
    );
  });

  it('write all or nothing: a range reaching an unmapped page writes nothing', () => {
    const { space } = makeSpace();
    space.allocate(0x10000, PAGE);
    space.vmWrite(0x10000, new Uint8Array(PAGE));
    expect(space.write(0x10ffe, Uint8Array.of(1, 2, 3, 4))).toEqual({
      kind: 'unmapped',
      address: 0x11000,
      write: true,
    });
    expect([...(space.read(0x10ffe, 2) as Uint8Array)]).toEqual([0, 0]);
  });

  it('let the kernel write read-only memory when privileged (program loading)', () => {
    const { world, space } = makeSpace();
    space.allocate(0x10000, PAGE, VM_PROT_READ | VM_PROT_EXECUTE);
    expect(space.write(0x10000, Uint8Array.of(1))).toEqual({
      kind: 'protection',
      address: 0x10000,
      write: true,
    });
    expect(space.write(0x10000, Uint8Array.of(1), true)).toEqual({
      kind: 'notResident',
      address: 0x10000,
      write: true,
    });
    let done = false;
    space.faultIn(0x10, false, () => {
      done = true;
    });
    world.runUntil(() => done);
    expect(space.write(0x10000, Uint8Array.of(42), true)).toBeUndefined();
    expect([...(space.read(0x10000, 1) as Uint8Array)]).toEqual([42]);
    // The task itself still cannot write its text.
    expect(space.page(0x10, true)).toBe('protection');
  });

  it('put out-of-line data in new memory', () => {
    const { space } = makeSpace();
    const address = space.allocateOol(new TextEncoder().encode('ool'));
    expect(space.region(address).size).toBe(PAGE);
    expect(new TextDecoder().decode(space.read(address, 3) as Uint8Array)).toBe('ool');
  });

  it('refuse ranges outside the address space', () => {
    const { space } = makeSpace();
    refused(
      space,
      'KERN_INVALID_ADDRESS',
      'read: [4294967295, +2) is outside the 32-bit address space',
      () => space.read(0xffff_ffff, 2),
    );
    refused(space, 'KERN_INVALID_ARGUMENT', 'read: length -1 is not a byte count', () =>
      space.read(0, -1),
    );
  });
});

describe('a destroyed address space', () => {
  it('refuses every call with KERN_INVALID_TASK and maps nothing', () => {
    const { memory, space } = makeSpace();
    space.allocate(0x10000, PAGE);
    space.destroy();
    expect(space.regionList()).toEqual([]);
    expect(space.page(0x10, false)).toBe('unmapped');
    refused(space, 'KERN_INVALID_TASK', 'vm_allocate: address space task was destroyed', () =>
      space.allocate(0x10000, PAGE),
    );
    expect(memory.stats.objects).toBe(0);
  });
});
