import { MachError } from '../protocol/errors.ts';

/**
 * Protection and inheritance values with Mach's numbers (mach3-kernel-interfaces.txt, vm_protect
 * and vm_inherit).
 */
export const VM_PROT_NONE = 0;
export const VM_PROT_READ = 1;
export const VM_PROT_WRITE = 2;
export const VM_PROT_EXECUTE = 4;
export const VM_PROT_DEFAULT = VM_PROT_READ | VM_PROT_WRITE;
export const VM_PROT_ALL = VM_PROT_READ | VM_PROT_WRITE | VM_PROT_EXECUTE;

export const VM_INHERIT_SHARE = 0;
export const VM_INHERIT_COPY = 1;
export const VM_INHERIT_NONE = 2;
export type VmInherit = typeof VM_INHERIT_SHARE | typeof VM_INHERIT_COPY | typeof VM_INHERIT_NONE;

/** The same protection as flags, the form the task layer uses. */
export interface Protection {
  readonly read: boolean;
  readonly write: boolean;
  readonly execute: boolean;
}

export type ProtectionLike = number | Protection;

/** VM_PROT_* bits from either form; throws KERN_INVALID_ARGUMENT naming `what` if invalid. */
export function protBits(p: ProtectionLike, what = 'protection'): number {
  if (typeof p === 'number') {
    if (!Number.isInteger(p) || p < 0 || p > VM_PROT_ALL)
      throw new MachError('KERN_INVALID_ARGUMENT', `${what} ${String(p)} is not VM_PROT_* bits`);
    return p;
  }
  if (p === null || typeof p !== 'object')
    throw new MachError('KERN_INVALID_ARGUMENT', `${what} must be VM_PROT_* bits or flags`);
  return (
    (p.read ? VM_PROT_READ : 0) | (p.write ? VM_PROT_WRITE : 0) | (p.execute ? VM_PROT_EXECUTE : 0)
  );
}

export function checkInherit(v: unknown): VmInherit {
  if (v === VM_INHERIT_SHARE || v === VM_INHERIT_COPY || v === VM_INHERIT_NONE) return v;
  throw new MachError(
    'KERN_INVALID_ARGUMENT',
    `inheritance ${String(v)} is not VM_INHERIT_SHARE, _COPY or _NONE`,
  );
}

export function protName(p: number): string {
  if (p === 0) return 'none';
  return `${p & VM_PROT_READ ? 'r' : '-'}${p & VM_PROT_WRITE ? 'w' : '-'}${p & VM_PROT_EXECUTE ? 'x' : '-'}`;
}

/** Size of the simulated virtual address space: 32-bit addresses. */
export const ADDRESS_SPACE_BYTES = 0x1_0000_0000;
