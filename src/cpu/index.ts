/**
 * The data plane that threads run: instruction set, assembler, disassembler and interpreter.
 * See isa.ts for the machine, syscalls.ts for the system call ABI, memory.ts for the page interface.
 */
export {
  type AssembleOptions,
  AssemblyError,
  assemble,
  DEFAULT_PAGE_SIZE,
  DEFAULT_STACK_SIZE,
  DEFAULT_STACK_TOP,
  DEFAULT_TEXT_BASE,
  type Includer,
  type IncludeSite,
  MAX_INCLUDE_DEPTH,
} from './assembler.ts';
export {
  benchPrimesVsJs,
  type PrimesBenchOptions,
  type PrimesBenchResult,
  primesInJs,
} from './bench.ts';
export { disassemble, disassembleInstruction, labelsByAddress } from './disassembler.ts';
export { FlatMemory, type FlatMemoryOptions } from './flatMemory.ts';
export { type Image, imageSize, type Segment, type SegmentKind, segmentAt } from './image.ts';
export {
  type ExceptionKind,
  getJitOptions,
  type JitOptions,
  jitStats,
  run,
  type StopReason,
  setJitOptions,
} from './interpreter.ts';
export * from './isa.ts';
export {
  type Memory,
  type MemoryAccessFault,
  type PageFaultKind,
  readMemory,
  readWord,
  writeMemory,
  writeWord,
} from './memory.ts';
export { assembleFile, fileIncluder } from './sourceFiles.ts';
export {
  runStandalone,
  type StandaloneOptions,
  type StandaloneResult,
} from './standalone.ts';
export * from './syscalls.ts';
export * from './thread.ts';
