/**
 * One instruction in the uBPF / bpf_conformance syntax (what the `-- asm`
 * sections of the conformance files use): `mov32 %r0, 1`, `ldxdw %r0,
 * [%r1+8]`, `lock fetch add [%r10-8], %r1`, `jeq %r1, 0x10, +3`, `call local
 * +2`. Everything it prints, our assembler reads back to the same slots.
 */
import { checkInstruction } from './check.js';
import { formatRaw, labelOr, signed } from './disasm-llvm.js';
import type { Instruction } from './insn.js';
import { AluOp, Atomic, Class, JmpOp, LDDW, Mode, PseudoCall, PseudoLd, Size, Source, opAlu, opClass, opMode, opSize, opSource } from './opcodes.js';

const ALU: Record<number, string> = {
  [AluOp.ADD]: 'add',
  [AluOp.SUB]: 'sub',
  [AluOp.MUL]: 'mul',
  [AluOp.DIV]: 'div',
  [AluOp.OR]: 'or',
  [AluOp.AND]: 'and',
  [AluOp.LSH]: 'lsh',
  [AluOp.RSH]: 'rsh',
  [AluOp.MOD]: 'mod',
  [AluOp.XOR]: 'xor',
  [AluOp.MOV]: 'mov',
  [AluOp.ARSH]: 'arsh',
};

const JUMPS: Record<number, string> = {
  [JmpOp.JEQ]: 'jeq',
  [JmpOp.JGT]: 'jgt',
  [JmpOp.JGE]: 'jge',
  [JmpOp.JSET]: 'jset',
  [JmpOp.JNE]: 'jne',
  [JmpOp.JSGT]: 'jsgt',
  [JmpOp.JSGE]: 'jsge',
  [JmpOp.JLT]: 'jlt',
  [JmpOp.JLE]: 'jle',
  [JmpOp.JSLT]: 'jslt',
  [JmpOp.JSLE]: 'jsle',
};

const SUFFIX: Record<number, string> = { [Size.B]: 'b', [Size.H]: 'h', [Size.W]: 'w', [Size.DW]: 'dw' };
const ATOMIC: Record<number, string> = { [Atomic.ADD]: 'add', [Atomic.OR]: 'or', [Atomic.AND]: 'and', [Atomic.XOR]: 'xor' };

/** Small and negative immediates in decimal, others in hex. */
export function formatImm(v: number): string {
  if (v < 0 || v <= 10) return `${v}`;
  return `0x${v.toString(16)}`;
}

function formatImm64(v: bigint): string {
  return v <= 10n ? `${v}` : `0x${v.toString(16)}`;
}

const mem = (reg: number, off: number): string => (off === 0 ? `[%r${reg}]` : `[%r${reg}${off < 0 ? '-' : '+'}${Math.abs(off)}]`);

const PSEUDO_NAMES: Record<number, string> = {
  [PseudoLd.MAP_FD]: 'map_fd',
  [PseudoLd.MAP_VALUE]: 'map_value',
  [PseudoLd.BTF_ID]: 'btf_id',
  [PseudoLd.FUNC]: 'func',
  [PseudoLd.MAP_IDX]: 'map_idx',
  [PseudoLd.MAP_IDX_VALUE]: 'map_idx_value',
};

export interface UbpfFormatOptions {
  /** A label for a slot index, used for jump and call targets when given. */
  label?: (slot: number) => string | undefined;
}

/** The uBPF text of slot `i` (an LDDW reads slot i + 1 too). */
export function formatUbpf(insns: readonly Instruction[], i: number, opts: UbpfFormatOptions = {}): string {
  if (checkInstruction(insns[i]!, insns[i + 1])) return formatRaw(insns[i]!);
  return formatValidUbpf(insns, i, opts);
}

/** formatUbpf for a slot already known to pass checkInstruction. */
export function formatValidUbpf(insns: readonly Instruction[], i: number, opts: UbpfFormatOptions): string {
  const ins = insns[i]!;
  const { code, dst, src, off, imm } = ins;
  const label = opts.label;
  switch (opClass(code)) {
    case Class.ALU:
    case Class.ALU64: {
      const is32 = opClass(code) === Class.ALU;
      const w = is32 ? '32' : '';
      const op = opAlu(code);
      if (op === AluOp.NEG) return `neg${w} %r${dst}`;
      if (op === AluOp.END) {
        const kind = !is32 ? 'bswap' : opSource(code) === Source.X ? 'be' : 'le';
        return `${kind}${imm} %r${dst}`;
      }
      if (op === AluOp.MOV && off !== 0) return `movsx${off}${is32 ? 32 : 64} %r${dst}, %r${src}`;
      const name = (off === 1 ? 's' : '') + ALU[op];
      const s = opSource(code) === Source.X ? `%r${src}` : formatImm(imm);
      return `${name}${w} %r${dst}, ${s}`;
    }
    case Class.LD: {
      if (code === LDDW) {
        const lo = ins.imm >>> 0;
        const hi = insns[i + 1]!.imm >>> 0;
        if (src === PseudoLd.NONE) return `lddw %r${dst}, ${formatImm64((BigInt(hi) << 32n) | BigInt(lo))}`;
        if (src === PseudoLd.FUNC) return `lddw %r${dst}, func(${labelOr(label, i + 1 + imm, signed(imm))})`;
        return `lddw %r${dst}, ${PSEUDO_NAMES[src]}(${lo}${hi !== 0 ? `, ${hi}` : ''})`;
      }
      const sz = SUFFIX[opSize(code)];
      if (opMode(code) === Mode.ABS) return `ldabs${sz} ${formatImm(imm)}`;
      return `ldind${sz} %r${src}, ${formatImm(imm)}`;
    }
    case Class.LDX:
      return `ldx${opMode(code) === Mode.MEMSX ? 's' : ''}${SUFFIX[opSize(code)]} %r${dst}, ${mem(src, off)}`;
    case Class.ST:
      return `st${SUFFIX[opSize(code)]} ${mem(dst, off)}, ${formatImm(imm)}`;
    case Class.STX: {
      if (opMode(code) === Mode.MEM) return `stx${SUFFIX[opSize(code)]} ${mem(dst, off)}, %r${src}`;
      const w = opSize(code) === Size.W ? '32' : '';
      const operands = `${mem(dst, off)}, %r${src}`;
      if (imm === Atomic.XCHG) return `lock xchg${w} ${operands}`;
      if (imm === Atomic.CMPXCHG) return `lock cmpxchg${w} ${operands}`;
      return `lock ${imm & Atomic.FETCH ? 'fetch ' : ''}${ATOMIC[imm & ~Atomic.FETCH]}${w} ${operands}`;
    }
    default: {
      const cls = opClass(code);
      const op = opAlu(code);
      if (op === JmpOp.EXIT) return 'exit';
      if (op === JmpOp.CALL) {
        if (opSource(code) === Source.X) return `call %r${dst}`;
        if (src === PseudoCall.CALL) return `call local ${labelOr(label, i + 1 + imm, signed(imm))}`;
        if (src === PseudoCall.KFUNC) return off ? `call kfunc(${imm}, ${off})` : `call runtime ${imm}`;
        return `call ${imm}`;
      }
      if (op === JmpOp.JA) return cls === Class.JMP32 ? `ja32 ${labelOr(label, i + 1 + imm, signed(imm))}` : `ja ${labelOr(label, i + 1 + off, signed(off))}`;
      const w = cls === Class.JMP32 ? '32' : '';
      const rhs = opSource(code) === Source.X ? `%r${src}` : formatImm(imm);
      return `${JUMPS[op]}${w} %r${dst}, ${rhs}, ${labelOr(label, i + 1 + off, signed(off))}`;
    }
  }
}
