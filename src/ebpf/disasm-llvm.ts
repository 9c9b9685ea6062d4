/**
 * One instruction in the syntax of `llvm-objdump -d` for BPF (LLVM 19, the
 * first version that decodes all of RFC 9669; LLVM 14 prints the same text
 * for everything it decodes).
 *
 * objdump prints 32-bit loads and stores with r registers unless given
 * `--mattr=+alu32`, and decodes 32-bit atomics other than add only with it
 * (`<unknown>` otherwise, which `objdump: true` reproduces); we print those
 * with w registers always (they exist only in that form) and the loads and
 * stores with w registers when `alu32` is set.
 *
 * Where objdump's text loses information (it prints `call -1` for both a
 * helper and a bpf-to-bpf call, `call 1234` for a kfunc (and not its module
 * BTF index in the offset), only the low half
 * of a pseudo LDDW and no immediate for LD_IND), the default output adds it
 * back in a form our assembler reads (`call local -1`, `call kfunc(1234)`,
 * `ld_pseudo r1, 2, 3, 8`, `skb[r1 + 4]`); `objdump: true` gives objdump's
 * exact text instead.
 */
import { checkInstruction } from './check.js';
import type { Instruction } from './insn.js';
import { AluOp, Atomic, Class, JmpOp, LDDW, Mode, PseudoCall, PseudoLd, Size, Source, opAlu, opClass, opMode, opSize, opSource } from './opcodes.js';

export interface FormatOptions {
  /** Print exactly what llvm-objdump prints, even where it loses information. */
  objdump?: boolean;
  /** Print 32-bit loads and stores with w registers (objdump --mattr=+alu32). */
  alu32?: boolean;
  /**
   * Immediates and offsets in hexadecimal, as llvm-objdump 15 and later print
   * them by default (--print-imm-hex); LLVM 14 and llvm-mc print decimal.
   */
  hex?: boolean;
  /** A label for a slot index, used for jump and call targets when given. */
  label?: (slot: number) => string | undefined;
}

const ALU_OPS: Record<number, string> = {
  [AluOp.ADD]: '+=',
  [AluOp.SUB]: '-=',
  [AluOp.MUL]: '*=',
  [AluOp.DIV]: '/=',
  [AluOp.OR]: '|=',
  [AluOp.AND]: '&=',
  [AluOp.LSH]: '<<=',
  [AluOp.RSH]: '>>=',
  [AluOp.MOD]: '%=',
  [AluOp.XOR]: '^=',
  [AluOp.ARSH]: 's>>=',
};

const CONDS: Record<number, string> = {
  [JmpOp.JEQ]: '==',
  [JmpOp.JGT]: '>',
  [JmpOp.JGE]: '>=',
  [JmpOp.JSET]: '&',
  [JmpOp.JNE]: '!=',
  [JmpOp.JSGT]: 's>',
  [JmpOp.JSGE]: 's>=',
  [JmpOp.JLT]: '<',
  [JmpOp.JLE]: '<=',
  [JmpOp.JSLT]: 's<',
  [JmpOp.JSLE]: 's<=',
};

const BITS: Record<number, number> = { [Size.B]: 8, [Size.H]: 16, [Size.W]: 32, [Size.DW]: 64 };
const LOCK_OPS: Record<number, string> = { [Atomic.ADD]: '+=', [Atomic.OR]: '|=', [Atomic.AND]: '&=', [Atomic.XOR]: '^=' };
const FETCH_OPS: Record<number, string> = { [Atomic.ADD]: 'add', [Atomic.OR]: 'or', [Atomic.AND]: 'and', [Atomic.XOR]: 'xor' };

/** `+3`, `-2`, `+0` (jump offsets). */
export const signed = (n: number): string => (n >= 0 ? `+${n}` : `${n}`);

/** Number formatting: decimal, or llvm's hexadecimal (`0x10`, `-0x4`). */
function numbers(hex: boolean) {
  const num = (n: number | bigint): string => (!hex ? `${n}` : n < 0 ? `-0x${(-BigInt(n)).toString(16)}` : `0x${n.toString(16)}`);
  return {
    num,
    /** Jump offsets: `+3`, `-2`, `+0x3`. */
    rel: (n: number): string => (n >= 0 ? `+${num(n)}` : num(n)),
    /** `r1 + 8`, `r10 - 8`: the address operand of loads, stores and atomics. */
    base: (reg: number, off: number): string => `r${reg} ${off < 0 ? '-' : '+'} ${num(Math.abs(off))}`,
    /** `(r1 + 8)`. */
    addr: (reg: number, off: number): string => `(r${reg} ${off < 0 ? '-' : '+'} ${num(Math.abs(off))})`,
  };
}
const DECIMAL = numbers(false);

/** The label of slot `t`, or `fallback`. */
export function labelOr(label: ((slot: number) => string | undefined) | undefined, t: number, fallback: string): string {
  return (label && label(t)) ?? fallback;
}
const HEX = numbers(true);

/** A raw slot, for slots that are not valid instructions: `.insn 0x07, 0x0, 0x0, 1, 1`. */
export function formatRaw(ins: Instruction): string {
  return `.insn 0x${ins.code.toString(16).padStart(2, '0')}, 0x${ins.dst.toString(16)}, 0x${ins.src.toString(16)}, ${ins.off}, ${ins.imm}`;
}

/** The llvm text of slot `i` (an LDDW reads slot i + 1 too). */
export function formatLlvm(insns: readonly Instruction[], i: number, opts: FormatOptions = {}): string {
  const ins = insns[i]!;
  if (checkInstruction(ins, insns[i + 1])) return opts.objdump ? '<unknown>' : formatRaw(ins);
  return formatValidLlvm(insns, i, opts);
}

/** formatLlvm for a slot already known to pass checkInstruction. */
export function formatValidLlvm(insns: readonly Instruction[], i: number, opts: FormatOptions): string {
  const ins = insns[i]!;
  const { code, dst, src, off, imm } = ins;
  const exact = opts.objdump === true;
  const { num, rel, base, addr } = opts.hex ? HEX : DECIMAL;
  const label = opts.label;
  switch (opClass(code)) {
    case Class.ALU:
    case Class.ALU64: {
      const p = opClass(code) === Class.ALU ? 'w' : 'r';
      const d = `${p}${dst}`;
      const s = opSource(code) === Source.X ? `${p}${src}` : num(imm);
      const op = opAlu(code);
      if (op === AluOp.NEG) return `${d} = -${d}`;
      if (op === AluOp.END) {
        const kind = opClass(code) === Class.ALU64 ? 'bswap' : opSource(code) === Source.X ? 'be' : 'le';
        return `r${dst} = ${kind}${imm} r${dst}`;
      }
      if (op === AluOp.MOV) return off !== 0 ? `${d} = (s${off})${p}${src}` : `${d} = ${s}`;
      if ((op === AluOp.DIV || op === AluOp.MOD) && off === 1) return `${d} s${op === AluOp.DIV ? '/=' : '%='} ${s}`;
      return `${d} ${ALU_OPS[op]} ${s}`;
    }
    case Class.LD: {
      if (code === LDDW) {
        const lo = ins.imm >>> 0;
        const hi = insns[i + 1]!.imm >>> 0;
        if (src === PseudoLd.NONE) return `r${dst} = ${num(BigInt.asIntN(64, (BigInt(hi) << 32n) | BigInt(lo)))} ll`;
        if (!exact && src === PseudoLd.FUNC) {
          const l = opts.label?.(i + 1 + imm);
          if (l) return `ld_pseudo\tr${dst}, ${num(src)}, ${l}`;
        }
        return `ld_pseudo\tr${dst}, ${num(src)}, ${num(lo)}${!exact && hi !== 0 ? `, ${num(hi)}` : ''}`;
      }
      const size = `u${BITS[opSize(code)]}`;
      if (opMode(code) === Mode.ABS) return `r0 = *(${size} *)skb[${num(imm)}]`;
      const extra = !exact && imm !== 0 ? ` ${imm < 0 ? '-' : '+'} ${num(Math.abs(imm))}` : '';
      return `r0 = *(${size} *)skb[r${src}${extra}]`;
    }
    case Class.LDX: {
      const bits = BITS[opSize(code)]!;
      if (opMode(code) === Mode.MEMSX) return `r${dst} = *(s${bits} *)${addr(src, off)}`;
      const p = opts.alu32 && bits < 64 ? 'w' : 'r';
      return `${p}${dst} = *(u${bits} *)${addr(src, off)}`;
    }
    case Class.ST:
      return `*(u${BITS[opSize(code)]} *)${addr(dst, off)} = ${num(imm)}`;
    case Class.STX: {
      const bits = BITS[opSize(code)]!;
      if (opMode(code) === Mode.MEM) {
        const p = opts.alu32 && bits < 64 ? 'w' : 'r';
        return `*(u${bits} *)${addr(dst, off)} = ${p}${src}`;
      }
      const w = bits === 32;
      const p = w ? 'w' : 'r';
      // Without alu32, LLVM decodes the 32-bit atomics other than add as
      // unknown, and a 32-bit fetch-add as a plain add (it ignores the fetch bit).
      if (exact && w && !opts.alu32) {
        if (imm === (Atomic.ADD | Atomic.FETCH)) return `lock *(u32 *)${addr(dst, off)} += r${src}`;
        if (imm !== Atomic.ADD) return '<unknown>';
      }
      if (imm === Atomic.XCHG) return `${p}${src} = ${w ? 'xchg32_32' : 'xchg_64'}(${base(dst, off)}, ${p}${src})`;
      if (imm === Atomic.CMPXCHG) return `${p}0 = ${w ? 'cmpxchg32_32' : 'cmpxchg_64'}(${base(dst, off)}, ${p}0, ${p}${src})`;
      if (imm & Atomic.FETCH) {
        return `${p}${src} = atomic_fetch_${FETCH_OPS[imm & ~Atomic.FETCH]}((u${bits} *)${addr(dst, off)}, ${p}${src})`;
      }
      const sp = w && opts.alu32 ? 'w' : 'r';
      return `lock *(u${bits} *)${addr(dst, off)} ${LOCK_OPS[imm]} ${sp}${src}`;
    }
    default: {
      const cls = opClass(code);
      const op = opAlu(code);
      if (op === JmpOp.EXIT) return 'exit';
      if (op === JmpOp.CALL) {
        if (opSource(code) === Source.X) return `callx r${dst}`;
        if (src === PseudoCall.CALL) {
          if (exact) return `call ${num(imm)}`;
          const l = opts.label?.(i + 1 + imm);
          return l ? `call ${l}` : `call local ${rel(imm)}`;
        }
        if (src === PseudoCall.KFUNC && !exact) return `call kfunc(${num(imm)}${off ? `, ${num(off)}` : ''})`;
        return `call ${num(imm)}`;
      }
      if (op === JmpOp.JA) {
        if (cls === Class.JMP32) return `gotol ${exact ? rel(imm) : labelOr(label, i + 1 + imm, rel(imm))}`;
        return `goto ${exact ? rel(off) : labelOr(label, i + 1 + off, rel(off))}`;
      }
      const p = cls === Class.JMP32 ? 'w' : 'r';
      const rhs = opSource(code) === Source.X ? `${p}${src}` : num(imm);
      return `if ${p}${dst} ${CONDS[op]} ${rhs} goto ${exact ? rel(off) : labelOr(label, i + 1 + off, rel(off))}`;
    }
  }
}
