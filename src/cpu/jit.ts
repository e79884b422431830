import { rTag, rU8, rW32, TLB_MASK, wTag, wU8, wW32 } from './runtime.ts';

/**
 * The region compiler: translates a hot region of a code page (REGION_INSTRUCTIONS instructions,
 * aligned) into a JavaScript function, so that hot loops run with the registers in JavaScript
 * locals instead of going through the interpreter's switch. run() (interpreter.ts) counts the
 * instructions interpreted per region and compiles a region once it is hot.
 *
 * It is an optimisation with exactly the interpreter's semantics: the same results, the same
 * instruction counts, the same restartable faults. A compiled region is a `for (;;) switch (ix)`
 * with one case per basic block (falling through to the next); branches within the region are
 * `ix = target; continue`. Each block first checks that the budget covers all its instructions
 * (EXIT_BUDGET otherwise: the interpreter executes the last few). Anything unusual leaves
 * *before* the instruction with EXIT_INTERP, giving the rest of the block back to the budget, and
 * the interpreter executes that one instruction and steps on to the next block start: a trap,
 * halt or illegal word, a misaligned access, a division by zero, a TLB miss (so Memory.page is
 * only ever called by the interpreter, and faults are reported there), and entering at an
 * instruction that does not start a block. Control leaving the region leaves with EXIT_JUMP. On
 * every exit the locals are written back to the registers.
 *
 * Coherence: the generated code reads the instructions only when it is compiled. A page with
 * compiled code is never in the write TLB, so stores into it leave to the interpreter, whose
 * `fill` discards the page's code (runtime.ts); and run() compares a region with a snapshot once
 * per run, in case the kernel rewrote the page between runs.
 *
 * Why it looks the way it does (V8): functions of a few dozen instructions compile quickly in
 * TurboFan (its time grows faster than linearly with the number of memory accesses); the epilogue
 * has no rarely taken branches, and the only call into the runtime (Memory.page) happens in the
 * interpreter, because code that never ran before V8 optimised it would deoptimise.
 */

/** Slots of the `st` Int32Array passed to a compiled region. */
export const ST_PC = 0;
export const ST_FLAGS = 1;
export const ST_LEFT = 2;
export const ST_SIZE = 3;

/** Exit codes of a compiled region. */
export const EXIT_BUDGET = 0;
export const EXIT_JUMP = 1;
export const EXIT_INTERP = 2;

export type PageFunction = (regs: Int32Array, st: Int32Array, ix: number) => number;

const lit = (v: number): string => (v < 0 ? `(${v})` : String(v));

/** Opcodes the compiler leaves to the interpreter: HALT and TRAP (they stop the thread). */
const isExit = (op: number): boolean => op === 2 || op === 3;
/** Control transfers: branches, jumps, calls, returns. */
const isTransfer = (op: number): boolean => (op >= 36 && op <= 50) || (op >= 58 && op <= 67);
/** Transfers with a static target in the immediate. */
const hasStaticTarget = (op: number): boolean => (op >= 36 && op <= 46) || op === 48 || op >= 58;

/** Instructions per compiled region (512 bytes of code): small functions compile fast in V8. */
export const REGION_INSTRUCTIONS = 64;

export interface GeneratedRegion {
  /** Body of the factory: helpers, then `return function xmachPage(regs, st, ix) {...}`. */
  readonly source: string;
  /** leaders[ix] = 1 where the compiled code has a case (ix relative to the page). */
  readonly leaders: Uint8Array;
  /** rem[ix]: instructions from ix to the end of its block (given back on an early exit). */
  readonly rem: Int32Array;
}

/**
 * Generates the JavaScript for instructions [first, first + count) of a code page (indexes are
 * page-relative, `words` is the whole page, `base` its address): one switch case per basic block,
 * entered only at block leaders (the region's first instruction, targets of branches within the
 * region, instructions after a control transfer, halts, traps and illegal words). Each block
 * checks the budget once for all its instructions; an exit in the middle of a block gives the
 * unexecuted instructions back. Control leaving the region leaves the function (EXIT_JUMP).
 *
 * Inside the body, exits use `code` -2 (interpret, giving back the rest of the block) besides the
 * EXIT_* codes; the epilogue maps it with tables.
 */
export function generateRegionSource(
  words: Int32Array,
  base: number,
  pageSize: number,
  first: number,
  count: number,
  entries?: Uint8Array,
): GeneratedRegion {
  const shift = 31 - Math.clz32(pageSize);
  const offMask = pageSize - 1;
  const codeMask = ~offMask | 7;
  const pageCount = pageSize >>> 3;
  const end = first + count;
  base |= 0;
  if (first < 0 || end > pageCount || count < 1) throw new RangeError('bad region');
  const inRegion = (t: number) =>
    (t & codeMask) === base && (t & offMask) >>> 3 >= first && (t & offMask) >>> 3 < end;

  const ops = new Uint8Array(pageCount);
  const legal = new Uint8Array(pageCount);
  const leaders = new Uint8Array(pageCount);
  leaders[first] = 1;
  // Entry points seen at run time (e.g. targets of calls from other pages).
  if (entries) for (let i = 0; i < count; i++) if (entries[i]) leaders[first + i] = 1;
  // Branches anywhere on the page into this region.
  for (let ix = 0; ix < pageCount; ix++) {
    const w0 = words[ix * 2]!;
    if ((w0 & 0xf0f0f000) === 0 && hasStaticTarget(w0 & 0xff) && isTransfer(w0 & 0xff)) {
      const t = words[ix * 2 + 1]!;
      if (inRegion(t)) leaders[(t & offMask) >>> 3] = 1;
    }
  }
  for (let ix = first; ix < end; ix++) {
    const w0 = words[ix * 2]!;
    const op = w0 & 0xff;
    ops[ix] = op;
    const ok = (w0 & 0xf0f0f000) === 0 && op >= 1 && op <= 67;
    legal[ix] = ok ? 1 : 0;
    if (!ok || isExit(op)) {
      leaders[ix] = 1;
      if (ix + 1 < end) leaders[ix + 1] = 1;
    } else if (isTransfer(op)) {
      if (ix + 1 < end) leaders[ix + 1] = 1;
      if (hasStaticTarget(op)) {
        const t = words[ix * 2 + 1]!;
        if (inRegion(t)) leaders[(t & offMask) >>> 3] = 1;
      }
    }
  }

  const out: string[] = [];
  const emit = (s: string) => out.push(s);
  const rem = new Int32Array(pageCount);
  // Exit codes inside the body: -2 interpret (giving back the rest of the block), 0 budget,
  // 1 jump, 2 interpret. The epilogue maps them with tables so that it has no rarely taken
  // branches (which V8 would deoptimise on).
  emit('const GB=Int32Array.of(1,0,0,0,0),CM=Int32Array.of(2,2,0,1,2);');
  emit('return function xmachPage(regs,st,ix){');
  emit('let r0=regs[0],r1=regs[1],r2=regs[2],r3=regs[3],r4=regs[4],r5=regs[5],r6=regs[6],');
  emit('r7=regs[7],r8=regs[8],r9=regs[9],r10=regs[10],r11=regs[11],r12=regs[12],r13=regs[13],');
  emit('r14=regs[14],r15=regs[15];');
  emit('let f=st[1],left=st[2],a=0,p=0,e=0,t=0,pcOut=0,code=0,ex=0;');
  emit('const RT=rTag,RU=rU8,RW=rW32,WT=wTag,WU=wU8,WW=wW32;');
  emit('out:{for(;;){switch(ix){');

  const regionBase = (base + first * 8) | 0;
  const ctx: CodegenContext = {
    base,
    shift,
    offMask,
    regionBase,
    regionBytes: count * 8,
    inRegion,
  };
  let ix = first;
  while (ix < end) {
    if (!legal[ix] || isExit(ops[ix]!)) {
      // The interpreter executes (or rejects) it. Runs of illegal words share `default`.
      if (legal[ix] || ix === first || legal[ix - 1]) {
        emit(`case ${ix}:ex=${ix};code=${EXIT_INTERP};break out;`);
      }
      ix++;
      continue;
    }
    // A block: from this leader to the next leader or exit instruction.
    let stop = ix + 1;
    while (stop < end && !leaders[stop]) stop++;
    const len = stop - ix;
    emit(`case ${ix}:if(left<${len}){ex=${ix};code=${EXIT_BUDGET};break out;}left-=${len};`);
    for (let j = ix; j < stop; j++) {
      rem[j] = stop - j;
      emit(instruction(words, j, ctx));
    }
    if (stop === end && !isUnconditional(ops[stop - 1]!)) {
      // Falling off the end of the region continues after it.
      emit(`pcOut=${lit((base + end * 8) | 0)};code=${EXIT_JUMP};break out;`);
    }
    ix = stop;
  }
  emit(`default:ex=ix;code=${EXIT_INTERP};break out;`);
  emit('}}}');
  emit('regs[0]=r0;regs[1]=r1;regs[2]=r2;regs[3]=r3;regs[4]=r4;regs[5]=r5;regs[6]=r6;');
  emit('regs[7]=r7;regs[8]=r8;regs[9]=r9;regs[10]=r10;regs[11]=r11;regs[12]=r12;');
  emit('regs[13]=r13;regs[14]=r14;regs[15]=r15;');
  // Every exit but EXIT_JUMP leaves at instruction `ex`.
  emit('t=code+2;left=(left+GB[t]*rem[ex])|0;');
  emit(`pcOut=code===${EXIT_JUMP}?pcOut:(${lit(base)}+ex*8)|0;`);
  emit('st[0]=pcOut;st[1]=f;st[2]=left;return CM[t];};');
  return { source: out.join('\n'), leaders, rem };
}

interface CodegenContext {
  readonly base: number;
  readonly shift: number;
  readonly offMask: number;
  /** Address and size in bytes of the region being compiled. */
  readonly regionBase: number;
  readonly regionBytes: number;
  readonly inRegion: (target: number) => boolean;
}

/** Transfers after which control never falls through to the next instruction. */
const isUnconditional = (op: number): boolean => op === 36 || (op >= 47 && op <= 50);

/** Code of the instruction at index `ix` of the page (inside a block; see generateRegionSource). */
function instruction(words: Int32Array, ix: number, ctx: CodegenContext): string {
  const { base, offMask, shift, inRegion } = ctx;
  const w0 = words[ix * 2]!;
  const imm = words[ix * 2 + 1]!;
  const op = w0 & 0xff;
  const X = `r${(w0 >>> 8) & 15}`;
  const Y = `r${(w0 >>> 16) & 15}`;
  const Z = `r${w0 >>> 24}`;
  const I = lit(imm);
  const next = (base + ix * 8 + 8) | 0;
  // Leave before this instruction, giving back the rest of the block (see the epilogue).
  const interp = `{ex=${ix};code=-2;break out;}`;
  const aligned = `if((a&3)!==0)${interp}`;
  const tlb = `p=a>>>${shift};e=p&${TLB_MASK};`;
  // A TLB miss leaves too: the interpreter does the translation (a warm call site, where a
  // fault is reported), this instruction, and the way to the next block.
  const read = `${tlb}if(RT[e]!==p)${interp}`;
  const write = `${tlb}if(WT[e]!==p)${interp}`;
  const translate = (kind: 'rw' | 'rb' | 'ww' | 'wb'): string =>
    kind === 'rw' ? aligned + read : kind === 'rb' ? read : kind === 'ww' ? aligned + write : write;
  const word = `[(a&${offMask})>>>2]`;
  const byte = `[a&${offMask}]`;
  const jump = (target: number): string => {
    const t = target | 0;
    if (inRegion(t)) return `{ix=${(t & offMask) >>> 3};continue;}`;
    return `{pcOut=${lit(t)};code=${EXIT_JUMP};break out;}`;
  };
  // A dynamic target at a block entry of this region continues compiled; anything else goes
  // back to the dispatcher.
  const dynJump =
    `if(((t-${lit(ctx.regionBase)})>>>0)<${ctx.regionBytes}&&(t&7)===0&&LD[(t&${offMask})>>>3]===1)` +
    `{ix=(t&${offMask})>>>3;continue;}pcOut=t;code=${EXIT_JUMP};break out;`;
  switch (op) {
    case 1:
      return '';
    case 4:
      return `${X}=${Y};`;
    case 5:
      return `${X}=${I};`;
    case 6:
      return `${X}=~${Y};`;
    case 7:
      return `${X}=(-${Y})|0;`;
    case 8:
      return `${X}=(${Y}+${Z})|0;`;
    case 9:
      return `${X}=(${Y}+${I})|0;`;
    case 10:
      return `${X}=(${Y}-${Z})|0;`;
    case 11:
      return `${X}=(${Y}-${I})|0;`;
    case 12:
      return `${X}=Math.imul(${Y},${Z});`;
    case 13:
      return `${X}=Math.imul(${Y},${I});`;
    case 14:
      return `if(${Z}===0)${interp}${X}=(${Y}/${Z})|0;`;
    case 15:
      return imm === 0 ? interp : `${X}=(${Y}/${I})|0;`;
    case 16:
      return `if(${Z}===0)${interp}${X}=((${Y}>>>0)/(${Z}>>>0))|0;`;
    case 17:
      return imm === 0 ? interp : `${X}=((${Y}>>>0)/${imm >>> 0})|0;`;
    case 18:
      return `if(${Z}===0)${interp}${X}=(${Y}%${Z})|0;`;
    case 19:
      return imm === 0 ? interp : `${X}=(${Y}%${I})|0;`;
    case 20:
      return `if(${Z}===0)${interp}${X}=((${Y}>>>0)%(${Z}>>>0))|0;`;
    case 21:
      return imm === 0 ? interp : `${X}=((${Y}>>>0)%${imm >>> 0})|0;`;
    case 22:
      return `${X}=${Y}&${Z};`;
    case 23:
      return `${X}=${Y}&${I};`;
    case 24:
      return `${X}=${Y}|${Z};`;
    case 25:
      return `${X}=${Y}|${I};`;
    case 26:
      return `${X}=${Y}^${Z};`;
    case 27:
      return `${X}=${Y}^${I};`;
    case 28:
      return `${X}=${Y}<<${Z};`;
    case 29:
      return `${X}=${Y}<<${imm & 31};`;
    case 30:
      return `${X}=(${Y}>>>${Z})|0;`;
    case 31:
      return `${X}=(${Y}>>>${imm & 31})|0;`;
    case 32:
      return `${X}=${Y}>>${Z};`;
    case 33:
      return `${X}=${Y}>>${imm & 31};`;
    case 34:
    case 35: {
      const B = op === 34 ? Z : I;
      return (
        `t=(${Y}-${B})|0;f=(t<0?8:0)|(${Y}===${B}?4:0)|((${Y}>>>0)>=(${B}>>>0)?2:0)|` +
        `(((${Y}^${B})&(${Y}^t))<0?1:0);`
      );
    }
    case 36:
      return jump(imm);
    case 37:
      return `if((f&4)!==0)${jump(imm)}`;
    case 38:
      return `if((f&4)===0)${jump(imm)}`;
    case 39:
      return `if(((f^(f>>3))&1)!==0)${jump(imm)}`;
    case 40:
      return `if((f&4)!==0||((f^(f>>3))&1)!==0)${jump(imm)}`;
    case 41:
      return `if((f&4)===0&&((f^(f>>3))&1)===0)${jump(imm)}`;
    case 42:
      return `if(((f^(f>>3))&1)===0)${jump(imm)}`;
    case 43:
      return `if((f&2)===0)${jump(imm)}`;
    case 44:
      return `if((f&6)!==2)${jump(imm)}`;
    case 45:
      return `if((f&6)===2)${jump(imm)}`;
    case 46:
      return `if((f&2)!==0)${jump(imm)}`;
    case 47:
      return `t=${Y};${dynJump}`;
    case 48:
    case 49:
      return (
        `t=${op === 48 ? lit(imm) : Y};a=(r15-4)|0;${translate('ww')}` +
        `WW[e]${word}=${lit(next)};r15=a;${op === 48 ? jump(imm) : dynJump}`
      );
    case 50:
      return `a=r15;${translate('rw')}t=RW[e]${word};r15=(a+4)|0;${dynJump}`;
    case 51:
      return `a=(r15-4)|0;${translate('ww')}WW[e]${word}=${Y};r15=a;`;
    case 52:
      return `a=r15;${translate('rw')}t=RW[e]${word};r15=(a+4)|0;${X}=t;`;
    case 53:
      return `a=(${Y}+${I})|0;${translate('rw')}${X}=RW[e]${word};`;
    case 54:
      return `a=(${Y}+${I})|0;${translate('rb')}${X}=RU[e]${byte};`;
    case 55:
      return `a=(${Y}+${I})|0;${translate('rb')}${X}=(RU[e]${byte}<<24)>>24;`;
    case 56:
      return `a=(${Y}+${I})|0;${translate('ww')}WW[e]${word}=${Z};`;
    case 57:
      return `a=(${Y}+${I})|0;${translate('wb')}WU[e]${byte}=${Z};`;
    case 58:
      return `if(${Y}===${Z})${jump(imm)}`;
    case 59:
      return `if(${Y}!==${Z})${jump(imm)}`;
    case 60:
      return `if(${Y}<${Z})${jump(imm)}`;
    case 61:
      return `if(${Y}<=${Z})${jump(imm)}`;
    case 62:
      return `if(${Y}>${Z})${jump(imm)}`;
    case 63:
      return `if(${Y}>=${Z})${jump(imm)}`;
    case 64:
      return `if((${Y}>>>0)<(${Z}>>>0))${jump(imm)}`;
    case 65:
      return `if((${Y}>>>0)<=(${Z}>>>0))${jump(imm)}`;
    case 66:
      return `if((${Y}>>>0)>(${Z}>>>0))${jump(imm)}`;
    default:
      // 67 BGEUR
      return `if((${Y}>>>0)>=(${Z}>>>0))${jump(imm)}`;
  }
}

export interface CompiledRegion {
  readonly fn: PageFunction;
  /** 1 where a block starts (page-relative). */
  readonly leaders: Uint8Array;
  readonly rem: Int32Array;
}

/**
 * Compiles instructions [first, first + count) of a code page into a PageFunction. `entries`
 * (region-relative) marks extra instructions where the code must be enterable.
 */
export function compileRegion(
  words: Int32Array,
  base: number,
  pageSize: number,
  first: number,
  count: number,
  entries?: Uint8Array,
): CompiledRegion {
  const { source, leaders, rem } = generateRegionSource(
    words,
    base,
    pageSize,
    first,
    count,
    entries,
  );
  const name = `xmach-code-${((base + first * 8) >>> 0).toString(16)}.js`;
  const factory = new Function(
    'rTag',
    'rU8',
    'rW32',
    'wTag',
    'wU8',
    'wW32',
    'rem',
    'LD',
    `"use strict";\n${source}\n//# sourceURL=${name}`,
  ) as (...args: unknown[]) => PageFunction;
  const fn = factory(rTag, rU8, rW32, wTag, wU8, wW32, rem, leaders);
  // A dry run with no budget leaves at once without doing anything, but runs the epilogue, so V8
  // has type feedback for it before it optimises the function.
  dryRun(fn, first);
  return { fn, leaders, rem };
}

const dryRegs = new Int32Array(16);
const dryState = new Int32Array(ST_SIZE);

function dryRun(fn: PageFunction, first: number): void {
  dryState[ST_LEFT] = 0;
  fn(dryRegs, dryState, first);
}
