/**
 * The builder: eBPF programs written in TypeScript, in the spirit of
 * cilium/ebpf's asm package. Instructions are values; any of them can carry a
 * symbol (a label); jumps, bpf-to-bpf calls and function addresses name
 * symbols; maps, kfuncs and kernel symbols are named and become the
 * `references` of a ProgramSpec, resolved when an engine loads it.
 *
 *   import { asm, R0, R1, R2, R10, buildProgram } from 'bpfkit/ebpf';
 *   const spec = buildProgram('count', ProgType.XDP, [
 *     asm.st('u32', R10, -4, 0),
 *     asm.mov(R2, R10), asm.add(R2, -4),
 *     asm.ldMap(R1, 'counts'),
 *     asm.call('map_lookup_elem'),
 *     asm.jeq(R0, 0, 'out'),
 *     asm.mov(R1, 1), asm.atomic('add', 'u64', R0, 0, R1),
 *     asm.mov(R0, 2).sym('out'),
 *     asm.exit(),
 *   ]);
 *
 * Registers are values (R0..R10), so `mov(R0, R1)` and `mov(R0, 1)` are told
 * apart by type, not by a naming convention.
 */
import { BpfkitError } from '../errors.js';
import { helperId, type HelperName } from './helper-ids.js';
import { type Instruction, insn, lddw } from './insn.js';
import { AluOp, Atomic, Class, JmpOp, Mode, PseudoCall, PseudoLd, Size, Source } from './opcodes.js';
import type { ProgramSpec, Reference } from './spec.js';
import type { ProgType } from './types.js';

/** A register operand. */
export interface Register {
  readonly reg: number;
}

const mkReg = (n: number): Register => Object.freeze({ reg: n, toString: () => `r${n}` });
export const R0 = mkReg(0);
export const R1 = mkReg(1);
export const R2 = mkReg(2);
export const R3 = mkReg(3);
export const R4 = mkReg(4);
export const R5 = mkReg(5);
export const R6 = mkReg(6);
export const R7 = mkReg(7);
export const R8 = mkReg(8);
export const R9 = mkReg(9);
/** The read-only frame pointer. */
export const R10 = mkReg(10);
/** Register n (0..10). */
export function reg(n: number): Register {
  if (!Number.isInteger(n) || n < 0 || n > 10) throw new BuilderError(`there is no register r${n} (r0..r10)`);
  return [R0, R1, R2, R3, R4, R5, R6, R7, R8, R9, R10][n]!;
}

const isReg = (v: unknown): v is Register => typeof v === 'object' && v !== null && 'reg' in v;

/** A mistake in building a program: an unknown symbol, a duplicate symbol, an out-of-range operand. */
export class BuilderError extends BpfkitError {
  constructor(
    message: string,
    /** The index of the offending entry in the list given to the builder, when known. */
    readonly entry?: number,
  ) {
    super('EBPF_BUILD', entry === undefined ? message : `entry ${entry}: ${message}`);
  }
}

/** What an instruction refers to by name, resolved by assembleInstructions (symbols) or at load (the rest). */
export type BuilderRef =
  | { kind: 'jump'; symbol: string }
  | { kind: 'jump32'; symbol: string }
  | { kind: 'call'; symbol: string }
  | { kind: 'func'; symbol: string }
  | { kind: 'map'; map: string }
  | { kind: 'mapValue'; map: string; offset: number }
  | { kind: 'kfunc'; name: string }
  | { kind: 'ksym'; name: string };

/** One instruction as a value (two slots for LDDW), with an optional symbol and reference. */
export class Asm {
  constructor(
    readonly slots: readonly Instruction[],
    readonly symbol?: string,
    readonly ref?: BuilderRef,
  ) {}
  /** A copy of this instruction with the symbol (label) `name`. */
  sym(name: string): Asm {
    return new Asm(this.slots, name, this.ref);
  }
  /** The first slot. */
  get ins(): Instruction {
    return this.slots[0]!;
  }
}

export type SizeName = 'u8' | 'u16' | 'u32' | 'u64';
const SIZE: Record<SizeName, number> = { u8: Size.B, u16: Size.H, u32: Size.W, u64: Size.DW };
const sizeOf = (s: SizeName): number => {
  const v = SIZE[s];
  if (v === undefined) throw new BuilderError(`unknown size '${s}' (u8, u16, u32, u64)`);
  return v;
};

/** A signed 16-bit offset, or a 32-bit immediate (signed, or unsigned up to 2^32 - 1). */
function int(v: number, bits: 16 | 32, what: string): number {
  const min = -(2 ** (bits - 1));
  const max = bits === 32 ? 2 ** 32 - 1 : 2 ** 15 - 1;
  if (!Number.isInteger(v) || v < min || v > max) throw new BuilderError(`${what} ${v} does not fit in ${bits} bits`);
  return bits === 32 ? v | 0 : (v << 16) >> 16;
}

const one = (code: number, dst = 0, src = 0, off = 0, imm = 0, ref?: BuilderRef): Asm =>
  new Asm([insn(code, dst, src, off, imm)], undefined, ref);

type Operand = Register | number;

function alu(cls: number, op: number, dst: Register, src: Operand, off = 0): Asm {
  if (isReg(src)) return one(cls | op | Source.X, dst.reg, src.reg, off);
  return one(cls | op | Source.K, dst.reg, 0, off, int(src, 32, 'immediate'));
}

type Target = string | number;
function jumpTarget(t: Target, kind: 'jump' | 'jump32'): { off: number; ref?: BuilderRef } {
  if (typeof t === 'string') return { off: 0, ref: { kind, symbol: t } };
  return { off: int(t, kind === 'jump' ? 16 : 32, 'jump offset') };
}

function cond(cls: number, op: number, dst: Register, src: Operand, target: Target): Asm {
  const { off, ref } = jumpTarget(target, 'jump');
  if (isReg(src)) return one(cls | op | Source.X, dst.reg, src.reg, off, 0, ref);
  return one(cls | op | Source.K, dst.reg, 0, off, int(src, 32, 'immediate'), ref);
}

function wide(dst: Register, value: bigint, src: number, ref?: BuilderRef): Asm {
  return new Asm(lddw(dst.reg, value, src), undefined, ref);
}

export type AtomicOp = 'add' | 'or' | 'and' | 'xor' | 'fetch_add' | 'fetch_or' | 'fetch_and' | 'fetch_xor' | 'xchg' | 'cmpxchg';
const ATOMIC: Record<AtomicOp, number> = {
  add: Atomic.ADD,
  or: Atomic.OR,
  and: Atomic.AND,
  xor: Atomic.XOR,
  fetch_add: Atomic.ADD | Atomic.FETCH,
  fetch_or: Atomic.OR | Atomic.FETCH,
  fetch_and: Atomic.AND | Atomic.FETCH,
  fetch_xor: Atomic.XOR | Atomic.FETCH,
  xchg: Atomic.XCHG,
  cmpxchg: Atomic.CMPXCHG,
};

const A64 = Class.ALU64;
const A32 = Class.ALU;
const J64 = Class.JMP;
const J32 = Class.JMP32;

/** Instruction constructors. 64-bit forms have no suffix; 32-bit forms end in 32. */
export const asm = {
  add: (d: Register, s: Operand) => alu(A64, AluOp.ADD, d, s),
  sub: (d: Register, s: Operand) => alu(A64, AluOp.SUB, d, s),
  mul: (d: Register, s: Operand) => alu(A64, AluOp.MUL, d, s),
  div: (d: Register, s: Operand) => alu(A64, AluOp.DIV, d, s),
  sdiv: (d: Register, s: Operand) => alu(A64, AluOp.DIV, d, s, 1),
  mod: (d: Register, s: Operand) => alu(A64, AluOp.MOD, d, s),
  smod: (d: Register, s: Operand) => alu(A64, AluOp.MOD, d, s, 1),
  or: (d: Register, s: Operand) => alu(A64, AluOp.OR, d, s),
  and: (d: Register, s: Operand) => alu(A64, AluOp.AND, d, s),
  xor: (d: Register, s: Operand) => alu(A64, AluOp.XOR, d, s),
  lsh: (d: Register, s: Operand) => alu(A64, AluOp.LSH, d, s),
  rsh: (d: Register, s: Operand) => alu(A64, AluOp.RSH, d, s),
  arsh: (d: Register, s: Operand) => alu(A64, AluOp.ARSH, d, s),
  mov: (d: Register, s: Operand) => alu(A64, AluOp.MOV, d, s),
  neg: (d: Register) => one(A64 | AluOp.NEG, d.reg),
  add32: (d: Register, s: Operand) => alu(A32, AluOp.ADD, d, s),
  sub32: (d: Register, s: Operand) => alu(A32, AluOp.SUB, d, s),
  mul32: (d: Register, s: Operand) => alu(A32, AluOp.MUL, d, s),
  div32: (d: Register, s: Operand) => alu(A32, AluOp.DIV, d, s),
  sdiv32: (d: Register, s: Operand) => alu(A32, AluOp.DIV, d, s, 1),
  mod32: (d: Register, s: Operand) => alu(A32, AluOp.MOD, d, s),
  smod32: (d: Register, s: Operand) => alu(A32, AluOp.MOD, d, s, 1),
  or32: (d: Register, s: Operand) => alu(A32, AluOp.OR, d, s),
  and32: (d: Register, s: Operand) => alu(A32, AluOp.AND, d, s),
  xor32: (d: Register, s: Operand) => alu(A32, AluOp.XOR, d, s),
  lsh32: (d: Register, s: Operand) => alu(A32, AluOp.LSH, d, s),
  rsh32: (d: Register, s: Operand) => alu(A32, AluOp.RSH, d, s),
  arsh32: (d: Register, s: Operand) => alu(A32, AluOp.ARSH, d, s),
  mov32: (d: Register, s: Operand) => alu(A32, AluOp.MOV, d, s),
  neg32: (d: Register) => one(A32 | AluOp.NEG, d.reg),
  /** Sign-extending move of the low 8, 16 or 32 bits (v4). */
  movsx: (d: Register, s: Register, bits: 8 | 16 | 32) => one(A64 | AluOp.MOV | Source.X, d.reg, s.reg, bits),
  movsx32: (d: Register, s: Register, bits: 8 | 16) => one(A32 | AluOp.MOV | Source.X, d.reg, s.reg, bits),
  /** Convert to little-endian (truncates to the width on a little-endian machine). */
  le: (d: Register, bits: 16 | 32 | 64) => one(A32 | AluOp.END | Source.K, d.reg, 0, 0, bits),
  /** Convert to big-endian. */
  be: (d: Register, bits: 16 | 32 | 64) => one(A32 | AluOp.END | Source.X, d.reg, 0, 0, bits),
  /** Unconditional byte swap (v4). */
  bswap: (d: Register, bits: 16 | 32 | 64) => one(A64 | AluOp.END, d.reg, 0, 0, bits),

  /** 64-bit constant (LDDW). */
  lddw: (d: Register, value: bigint | number) => wide(d, BigInt(value), PseudoLd.NONE),
  /** The map named `name` (LDDW src=MAP_FD), resolved at load. */
  ldMap: (d: Register, name: string) => wide(d, 0n, PseudoLd.MAP_FD, { kind: 'map', map: name }),
  /** A map by fd (already resolved). */
  ldMapFd: (d: Register, fd: number) => wide(d, BigInt(fd >>> 0), PseudoLd.MAP_FD),
  /** The address of byte `offset` of value 0 of the map named `name` (global data), resolved at load. */
  ldMapValue: (d: Register, name: string, offset = 0) =>
    wide(d, BigInt(offset >>> 0) << 32n, PseudoLd.MAP_VALUE, { kind: 'mapValue', map: name, offset }),
  /** A map by its index in fd_array. */
  ldMapIdx: (d: Register, index: number) => wide(d, BigInt(index >>> 0), PseudoLd.MAP_IDX),
  ldMapIdxValue: (d: Register, index: number, offset = 0) =>
    wide(d, (BigInt(offset >>> 0) << 32n) | BigInt(index >>> 0), PseudoLd.MAP_IDX_VALUE),
  /** The address of the kernel symbol `name` (a ksym extern), resolved at load. */
  ldKsym: (d: Register, name: string) => wide(d, 0n, PseudoLd.BTF_ID, { kind: 'ksym', name }),
  /** The address of the function at symbol `name` in this program. */
  ldFunc: (d: Register, name: string) => wide(d, 0n, PseudoLd.FUNC, { kind: 'func', symbol: name }),

  /** dst = *(size *)(base + off) */
  ldx: (size: SizeName, d: Register, base: Register, off = 0) => one(Class.LDX | Mode.MEM | sizeOf(size), d.reg, base.reg, int(off, 16, 'offset')),
  /** dst = *(signed size *)(base + off), sign-extended (v4; u8/u16/u32). */
  ldxs: (size: Exclude<SizeName, 'u64'>, d: Register, base: Register, off = 0) =>
    one(Class.LDX | Mode.MEMSX | sizeOf(size), d.reg, base.reg, int(off, 16, 'offset')),
  /** *(size *)(base + off) = imm */
  st: (size: SizeName, base: Register, off: number, imm: number) =>
    one(Class.ST | Mode.MEM | sizeOf(size), base.reg, 0, int(off, 16, 'offset'), int(imm, 32, 'immediate')),
  /** *(size *)(base + off) = src */
  stx: (size: SizeName, base: Register, off: number, src: Register) =>
    one(Class.STX | Mode.MEM | sizeOf(size), base.reg, src.reg, int(off, 16, 'offset')),
  /** Atomic read-modify-write of *(size *)(base + off) with src (u32 or u64). cmpxchg compares with r0. */
  atomic: (op: AtomicOp, size: 'u32' | 'u64', base: Register, off: number, src: Register) => {
    const imm = ATOMIC[op];
    if (imm === undefined) throw new BuilderError(`unknown atomic operation '${op}'`);
    if (size !== 'u32' && size !== 'u64') throw new BuilderError(`atomic operations are u32 or u64, not ${size}`);
    return one(Class.STX | Mode.ATOMIC | sizeOf(size), base.reg, src.reg, int(off, 16, 'offset'), imm);
  },
  /** Legacy packet load: r0 = packet[imm] (network byte order). */
  ldAbs: (size: Exclude<SizeName, 'u64'>, imm: number) => one(Class.LD | Mode.ABS | sizeOf(size), 0, 0, 0, int(imm, 32, 'offset')),
  /** Legacy packet load: r0 = packet[src + imm]. */
  ldInd: (size: Exclude<SizeName, 'u64'>, src: Register, imm = 0) =>
    one(Class.LD | Mode.IND | sizeOf(size), 0, src.reg, 0, int(imm, 32, 'offset')),

  /** goto symbol (or a relative slot offset). */
  ja: (t: Target) => {
    const { off, ref } = jumpTarget(t, 'jump');
    return one(J64 | JmpOp.JA, 0, 0, off, 0, ref);
  },
  /** goto with a 32-bit offset (v4). */
  gotol: (t: Target) => {
    const { off, ref } = jumpTarget(t, 'jump32');
    return one(J32 | JmpOp.JA, 0, 0, 0, off, ref);
  },
  jeq: (d: Register, s: Operand, t: Target) => cond(J64, JmpOp.JEQ, d, s, t),
  jne: (d: Register, s: Operand, t: Target) => cond(J64, JmpOp.JNE, d, s, t),
  jgt: (d: Register, s: Operand, t: Target) => cond(J64, JmpOp.JGT, d, s, t),
  jge: (d: Register, s: Operand, t: Target) => cond(J64, JmpOp.JGE, d, s, t),
  jlt: (d: Register, s: Operand, t: Target) => cond(J64, JmpOp.JLT, d, s, t),
  jle: (d: Register, s: Operand, t: Target) => cond(J64, JmpOp.JLE, d, s, t),
  jsgt: (d: Register, s: Operand, t: Target) => cond(J64, JmpOp.JSGT, d, s, t),
  jsge: (d: Register, s: Operand, t: Target) => cond(J64, JmpOp.JSGE, d, s, t),
  jslt: (d: Register, s: Operand, t: Target) => cond(J64, JmpOp.JSLT, d, s, t),
  jsle: (d: Register, s: Operand, t: Target) => cond(J64, JmpOp.JSLE, d, s, t),
  jset: (d: Register, s: Operand, t: Target) => cond(J64, JmpOp.JSET, d, s, t),
  jeq32: (d: Register, s: Operand, t: Target) => cond(J32, JmpOp.JEQ, d, s, t),
  jne32: (d: Register, s: Operand, t: Target) => cond(J32, JmpOp.JNE, d, s, t),
  jgt32: (d: Register, s: Operand, t: Target) => cond(J32, JmpOp.JGT, d, s, t),
  jge32: (d: Register, s: Operand, t: Target) => cond(J32, JmpOp.JGE, d, s, t),
  jlt32: (d: Register, s: Operand, t: Target) => cond(J32, JmpOp.JLT, d, s, t),
  jle32: (d: Register, s: Operand, t: Target) => cond(J32, JmpOp.JLE, d, s, t),
  jsgt32: (d: Register, s: Operand, t: Target) => cond(J32, JmpOp.JSGT, d, s, t),
  jsge32: (d: Register, s: Operand, t: Target) => cond(J32, JmpOp.JSGE, d, s, t),
  jslt32: (d: Register, s: Operand, t: Target) => cond(J32, JmpOp.JSLT, d, s, t),
  jsle32: (d: Register, s: Operand, t: Target) => cond(J32, JmpOp.JSLE, d, s, t),
  jset32: (d: Register, s: Operand, t: Target) => cond(J32, JmpOp.JSET, d, s, t),

  /** Call a helper by id or name (`'map_lookup_elem'` or `'bpf_map_lookup_elem'`). */
  call: (helper: number | HelperName | `bpf_${HelperName}`) => {
    const id = typeof helper === 'number' ? helper : helperId(helper);
    if (id === undefined) throw new BuilderError(`unknown helper '${String(helper)}'`);
    return one(J64 | JmpOp.CALL, 0, PseudoCall.HELPER, 0, int(id, 32, 'helper id'));
  },
  /** A bpf-to-bpf call of the function at symbol `name`. */
  callLocal: (name: string) => one(J64 | JmpOp.CALL, 0, PseudoCall.CALL, 0, 0, { kind: 'call', symbol: name }),
  /** A kfunc call by name (resolved to a BTF id at load) or by BTF id. */
  kfunc: (nameOrId: string | number) =>
    typeof nameOrId === 'number'
      ? one(J64 | JmpOp.CALL, 0, PseudoCall.KFUNC, 0, int(nameOrId, 32, 'BTF id'))
      : one(J64 | JmpOp.CALL, 0, PseudoCall.KFUNC, 0, 0, { kind: 'kfunc', name: nameOrId }),
  /** Call the function whose address is in `r` (callx). */
  callx: (r: Register) => one(J64 | JmpOp.CALL | Source.X, r.reg),
  exit: () => one(J64 | JmpOp.EXIT),
  /** A raw slot. */
  raw: (ins: Instruction) => new Asm([{ ...ins }]),
} as const;

/** The slots of a list of builder instructions, with symbols resolved, and the references left for load time. */
export interface Built {
  instructions: Instruction[];
  references: Reference[];
  /** Symbol → slot index. */
  symbols: Map<string, number>;
}

/** Resolve symbols (jumps, local calls, function addresses) and collect references. */
export function assembleInstructions(list: readonly Asm[]): Built {
  const symbols = new Map<string, number>();
  const starts: number[] = [];
  let slot = 0;
  list.forEach((a, k) => {
    if (!(a instanceof Asm)) throw new BuilderError('not an instruction (build entries with asm.*)', k);
    starts.push(slot);
    if (a.symbol !== undefined) {
      if (symbols.has(a.symbol)) throw new BuilderError(`symbol '${a.symbol}' is defined twice`, k);
      symbols.set(a.symbol, slot);
    }
    slot += a.slots.length;
  });
  const instructions: Instruction[] = [];
  const references: Reference[] = [];
  list.forEach((a, k) => {
    const at = starts[k]!;
    const slots = a.slots.map((s) => ({ ...s }));
    const r = a.ref;
    if (r) {
      switch (r.kind) {
        case 'jump':
        case 'jump32':
        case 'call':
        case 'func': {
          const t = symbols.get(r.symbol);
          if (t === undefined) throw new BuilderError(`unknown symbol '${r.symbol}'`, k);
          const delta = t - (at + 1);
          if (r.kind === 'jump') {
            if (delta < -32768 || delta > 32767) throw new BuilderError(`the jump to '${r.symbol}' is too far for a 16-bit offset (use gotol)`, k);
            slots[0]!.off = delta;
          } else {
            slots[0]!.imm = delta;
          }
          break;
        }
        case 'map':
          references.push({ kind: 'map', index: at, map: r.map });
          break;
        case 'mapValue':
          references.push({ kind: 'mapValue', index: at, map: r.map, offset: r.offset });
          break;
        case 'kfunc':
          references.push({ kind: 'kfunc', index: at, name: r.name });
          break;
        case 'ksym':
          references.push({ kind: 'ksym', index: at, name: r.name });
          break;
      }
    }
    instructions.push(...slots);
  });
  return { instructions, references, symbols };
}

export interface BuildOptions {
  license?: string;
  attachTo?: string;
  flags?: number;
}

/** A ProgramSpec from builder instructions. */
export function buildProgram(name: string, type: ProgType, list: readonly Asm[], opts: BuildOptions = {}): ProgramSpec {
  const { instructions, references } = assembleInstructions(list);
  return {
    name,
    type,
    license: opts.license ?? 'GPL',
    instructions,
    references,
    ...(opts.attachTo !== undefined ? { attachTo: opts.attachTo } : {}),
    ...(opts.flags !== undefined ? { flags: opts.flags } : {}),
  };
}
