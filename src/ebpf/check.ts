/**
 * Structural checks of one instruction slot, in isolation: is the opcode one
 * RFC 9669 defines, are the fields it does not use zero, are registers in
 * range, does it write the read-only frame pointer, does it divide by a
 * constant zero. Whole-program checks (jump targets, the end of the program)
 * are in validate.ts; both printers use this to decide whether a slot can be
 * shown as an instruction or only as raw fields.
 */
import type { Instruction } from './insn.js';
import {
  AluOp,
  Atomic,
  Class,
  FRAME_POINTER,
  JmpOp,
  LDDW,
  Mode,
  PseudoCall,
  PseudoLd,
  Size,
  Source,
  opAlu,
  opClass,
  opMode,
  opSize,
  opSource,
} from './opcodes.js';

/**
 * CPU versions as clang's -mcpu names them and bpf_conformance assigns them:
 * v1 base, v2 jlt/jle/jslt/jsle, v3 jmp32, atomics and bpf-to-bpf calls,
 * v4 sign extension, sdiv/smod, bswap, gotol.
 */
export type CpuVersion = 1 | 2 | 3 | 4;

export interface CheckOptions {
  /** Refuse instructions newer than this CPU version (default 4: everything). */
  cpuVersion?: CpuVersion;
  /** Accept callx (BPF_JMP | BPF_CALL | BPF_X, register in dst). Default true. */
  callx?: boolean;
  /** Accept the legacy packet loads LD_ABS / LD_IND. Default true. */
  legacyPacket?: boolean;
  /** Accept LDDW with a pseudo source (map fd, map value, BTF id, function, map index). Default true. */
  pseudoLddw?: boolean;
  /** Accept kfunc calls (CALL with src = 2). Default true. */
  kfuncCalls?: boolean;
  /**
   * Refuse shifts by a constant outside 0..width-1, as the kernel's verifier
   * does. Off by default: RFC 9669 masks the amount, and bpf_conformance
   * runs such shifts (lsh64-imm-high.data, ...).
   */
  shiftRange?: boolean;
  /** When given, helper calls (CALL with src = 0) must name a helper this accepts, as uBPF checks its registry at load. */
  knownHelper?: (id: number) => boolean;
}

/**
 * The checks of Linux 6.18's verifier that concern the shape of
 * instructions: no callx, constant shifts in range. (The kernel accepts a
 * non-zero offset on exit, which RFC 9669 reserves; we still refuse it.)
 */
export const KERNEL_CHECKS: Readonly<CheckOptions> = Object.freeze({ callx: false, shiftRange: true });

const ATOMIC_OPS = new Set<number>([
  Atomic.ADD,
  Atomic.OR,
  Atomic.AND,
  Atomic.XOR,
  Atomic.ADD | Atomic.FETCH,
  Atomic.OR | Atomic.FETCH,
  Atomic.AND | Atomic.FETCH,
  Atomic.XOR | Atomic.FETCH,
  Atomic.XCHG,
  Atomic.CMPXCHG,
]);

const COND_JUMPS = new Set<number>([
  JmpOp.JEQ,
  JmpOp.JGT,
  JmpOp.JGE,
  JmpOp.JSET,
  JmpOp.JNE,
  JmpOp.JSGT,
  JmpOp.JSGE,
  JmpOp.JLT,
  JmpOp.JLE,
  JmpOp.JSLT,
  JmpOp.JSLE,
]);

const hex = (n: number): string => '0x' + n.toString(16).padStart(2, '0');

/**
 * The minimum CPU version that defines this instruction, or undefined for an
 * unknown opcode. (LDDW's second slot is not an instruction of its own.)
 */
export function cpuVersionOf(ins: Instruction): CpuVersion {
  const code = ins.code;
  const cls = opClass(code);
  switch (cls) {
    case Class.ALU:
    case Class.ALU64: {
      const op = opAlu(code);
      if ((op === AluOp.DIV || op === AluOp.MOD) && ins.off !== 0) return 4;
      if (op === AluOp.MOV && opSource(code) === Source.X && ins.off !== 0) return 4;
      if (op === AluOp.END && cls === Class.ALU64) return 4;
      return 1;
    }
    case Class.LDX:
      return opMode(code) === Mode.MEMSX ? 4 : 1;
    case Class.STX:
      return opMode(code) === Mode.ATOMIC ? 3 : 1;
    case Class.JMP32:
      return opAlu(code) === JmpOp.JA ? 4 : 3;
    case Class.JMP: {
      const op = opAlu(code);
      if (op === JmpOp.CALL && opSource(code) === Source.K && ins.src === PseudoCall.CALL) return 3;
      if (op === JmpOp.JLT || op === JmpOp.JLE || op === JmpOp.JSLT || op === JmpOp.JSLE) return 2;
      return 1;
    }
    default:
      return 1;
  }
}

function reg(name: string, r: number): string | undefined {
  return r > FRAME_POINTER ? `invalid ${name} register r${r}` : undefined;
}

/** `dst` is written: it must be a valid register other than r10. */
function writtenDst(ins: Instruction): string | undefined {
  if (ins.dst > FRAME_POINTER) return `invalid destination register r${ins.dst}`;
  if (ins.dst === FRAME_POINTER) return 'writes to the read-only frame pointer r10';
  return undefined;
}

/** Fields that must be zero, in order; returns the first that is not. */
function zero(ins: Instruction, ...fields: ('dst' | 'src' | 'off' | 'imm')[]): string | undefined {
  for (const f of fields) {
    if (ins[f] !== 0) return `reserved field ${f} is ${ins[f]}, must be 0`;
  }
  return undefined;
}

function checkAlu(ins: Instruction, opts: CheckOptions): string | undefined {
  const { code } = ins;
  const is64 = opClass(code) === Class.ALU64;
  const op = opAlu(code);
  const x = opSource(code) === Source.X;
  switch (op) {
    case AluOp.LSH:
    case AluOp.RSH:
    case AluOp.ARSH: {
      const e = (x ? zero(ins, 'off', 'imm') ?? reg('source', ins.src) : zero(ins, 'off', 'src')) ?? writtenDst(ins);
      if (e) return e;
      if (!x && opts.shiftRange && (ins.imm < 0 || ins.imm >= (is64 ? 64 : 32))) return `shift by ${ins.imm}, outside 0..${is64 ? 63 : 31}`;
      return undefined;
    }
    case AluOp.ADD:
    case AluOp.SUB:
    case AluOp.MUL:
    case AluOp.OR:
    case AluOp.AND:
    case AluOp.XOR:
      return (x ? zero(ins, 'off', 'imm') ?? reg('source', ins.src) : zero(ins, 'off', 'src')) ?? writtenDst(ins);
    case AluOp.DIV:
    case AluOp.MOD: {
      if (ins.off !== 0 && ins.off !== 1) return `offset ${ins.off} of ${op === AluOp.DIV ? 'div' : 'mod'} must be 0 (unsigned) or 1 (signed)`;
      const e = (x ? zero(ins, 'imm') ?? reg('source', ins.src) : zero(ins, 'src')) ?? writtenDst(ins);
      if (e) return e;
      if (!x && ins.imm === 0) return 'division by constant zero';
      return undefined;
    }
    case AluOp.NEG:
      if (x) return `unknown opcode ${hex(code)}`;
      return zero(ins, 'src', 'off', 'imm') ?? writtenDst(ins);
    case AluOp.MOV:
      if (x) {
        const offs = is64 ? [0, 8, 16, 32] : [0, 8, 16];
        if (!offs.includes(ins.off)) return `offset ${ins.off} of mov must be one of ${offs.join(', ')}`;
        return zero(ins, 'imm') ?? reg('source', ins.src) ?? writtenDst(ins);
      }
      return zero(ins, 'src', 'off') ?? writtenDst(ins);
    case AluOp.END:
      if (is64 && x) return `unknown opcode ${hex(code)}`;
      if (ins.imm !== 16 && ins.imm !== 32 && ins.imm !== 64) return `byte swap width ${ins.imm} must be 16, 32 or 64`;
      return zero(ins, 'src', 'off') ?? writtenDst(ins);
    default:
      return `unknown opcode ${hex(code)}`;
  }
}

function checkJmp(ins: Instruction, opts: CheckOptions): string | undefined {
  const { code } = ins;
  const is32 = opClass(code) === Class.JMP32;
  const op = opAlu(code);
  const x = opSource(code) === Source.X;
  if (op === JmpOp.JA) {
    if (x) return `unknown opcode ${hex(code)}`;
    // ja uses off; gotol (JMP32) uses imm.
    return is32 ? zero(ins, 'dst', 'src', 'off') : zero(ins, 'dst', 'src', 'imm');
  }
  if (COND_JUMPS.has(op)) {
    const e = x ? zero(ins, 'imm') ?? reg('source', ins.src) : zero(ins, 'src');
    return e ?? reg('destination', ins.dst);
  }
  if (is32) return `unknown opcode ${hex(code)}`;
  if (op === JmpOp.CALL) {
    if (x) {
      if (opts.callx === false) return 'callx is not enabled';
      return zero(ins, 'src', 'off', 'imm') ?? reg('destination', ins.dst);
    }
    // A kfunc call's offset is the index of its module's BTF in fd_array (0: vmlinux).
    const e = ins.src === PseudoCall.KFUNC ? zero(ins, 'dst') : zero(ins, 'dst', 'off');
    if (e) return e;
    if (ins.src === PseudoCall.HELPER) return opts.knownHelper && !opts.knownHelper(ins.imm) ? `unknown helper ${ins.imm}` : undefined;
    if (ins.src === PseudoCall.CALL) return undefined;
    if (ins.src === PseudoCall.KFUNC) return opts.kfuncCalls === false ? 'kfunc calls are not enabled' : undefined;
    return `unknown call kind (src ${ins.src})`;
  }
  if (op === JmpOp.EXIT) {
    if (x) return `unknown opcode ${hex(code)}`;
    return zero(ins, 'dst', 'src', 'off', 'imm');
  }
  return `unknown opcode ${hex(code)}`;
}

/**
 * Check the slot `ins` (with `next`, the following slot, when `ins` is an
 * LDDW). Returns what is wrong, or undefined when the slot is a valid
 * instruction. Does not look at jump targets.
 */
export function checkInstruction(ins: Instruction, next: Instruction | undefined, opts: CheckOptions = {}): string | undefined {
  const e = checkShape(ins, next, opts);
  if (e) return e;
  const v = cpuVersionOf(ins);
  if (v > (opts.cpuVersion ?? 4)) return `needs CPU version v${v} (enabled: v${opts.cpuVersion})`;
  return undefined;
}

function checkShape(ins: Instruction, next: Instruction | undefined, opts: CheckOptions): string | undefined {
  const { code } = ins;
  switch (opClass(code)) {
    case Class.LD: {
      if (code === LDDW) {
        const e = zero(ins, 'off') ?? writtenDst(ins);
        if (e) return e;
        if (ins.src > PseudoLd.MAP_IDX_VALUE) return `unknown lddw source ${ins.src}`;
        if (ins.src !== PseudoLd.NONE && opts.pseudoLddw === false) return 'lddw with a pseudo source is not enabled';
        if (!next) return 'lddw is missing its second slot';
        if (next.code !== 0 || next.dst !== 0 || next.src !== 0 || next.off !== 0) {
          return 'the second slot of lddw must have code, registers and offset 0';
        }
        if ((ins.src === PseudoLd.MAP_FD || ins.src === PseudoLd.MAP_IDX) && next.imm !== 0) {
          return 'the second slot of an lddw of a map must have imm 0';
        }
        return undefined;
      }
      const mode = opMode(code);
      if ((mode === Mode.ABS || mode === Mode.IND) && opSize(code) !== Size.DW) {
        if (opts.legacyPacket === false) return 'legacy packet loads (LD_ABS/LD_IND) are not enabled';
        return mode === Mode.ABS ? zero(ins, 'dst', 'src', 'off') : zero(ins, 'dst', 'off') ?? reg('source', ins.src);
      }
      return `unknown opcode ${hex(code)}`;
    }
    case Class.LDX: {
      const mode = opMode(code);
      if (mode === Mode.MEM || (mode === Mode.MEMSX && opSize(code) !== Size.DW)) {
        return zero(ins, 'imm') ?? reg('source', ins.src) ?? writtenDst(ins);
      }
      return `unknown opcode ${hex(code)}`;
    }
    case Class.ST:
      if (opMode(code) === Mode.MEM) return zero(ins, 'src') ?? reg('destination', ins.dst);
      return `unknown opcode ${hex(code)}`;
    case Class.STX: {
      const mode = opMode(code);
      if (mode === Mode.MEM) return zero(ins, 'imm') ?? reg('destination', ins.dst) ?? reg('source', ins.src);
      if (mode === Mode.ATOMIC && (opSize(code) === Size.W || opSize(code) === Size.DW)) {
        if (!ATOMIC_OPS.has(ins.imm)) return `unknown atomic operation ${hex(ins.imm >>> 0)}`;
        const e = reg('destination', ins.dst) ?? reg('source', ins.src);
        if (e) return e;
        if (ins.imm & Atomic.FETCH && ins.imm !== Atomic.CMPXCHG && ins.src === FRAME_POINTER) {
          return 'atomic fetch writes to the read-only frame pointer r10';
        }
        return undefined;
      }
      return `unknown opcode ${hex(code)}`;
    }
    case Class.ALU:
    case Class.ALU64:
      return checkAlu(ins, opts);
    default:
      return checkJmp(ins, opts);
  }
}

/** True when the slot at `i` is the second half of an LDDW (given the slots before it). */
export function secondSlots(insns: readonly Instruction[]): Uint8Array {
  const out = new Uint8Array(insns.length);
  for (let i = 0; i < insns.length; i++) {
    if (insns[i]!.code === LDDW && i + 1 < insns.length) {
      out[i + 1] = 1;
      i++;
    }
  }
  return out;
}
