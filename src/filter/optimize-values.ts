/**
 * Value numbering for the optimiser: every value a classic program computes
 * (a packet load, the wire length, an ALU result, a constant) gets a number,
 * and equal numbers mean equal values on every packet. Numbers are
 * hash-consed, so the same load or the same arithmetic on the same values
 * gets the same number wherever it happens; constants fold and simple
 * algebra normalises (x + 0, x & ~0, (x + 1) + 2, ((x & m) with bits
 * already zero)...). A value the analysis cannot name (registers merging
 * different values at a join, anything at a loop header) is an opaque value
 * of its own, with the range of what flows in.
 *
 * Each value also carries a range [lo, hi] and a mask of bits known to be 0;
 * they prove facts (a byte is < 256, an IPv4 header length fits in 60, a
 * branch on bits that are always clear never jumps) and keep indirect loads
 * in the range where libpcap's and the kernel's address arithmetic agree.
 *
 * `step` runs one statement on a symbolic state (the value in A, X and each
 * scratch slot) and reports what it may do besides computing: an effect
 * (a load that may run past the captured bytes, a division by X that may be
 * by 0, a Linux ancillary load that fails under libpcap).
 */
import * as insn from '../cbpf/insn.js';
import type { Stmt } from './cfg.js';

// Module-level copies: cheaper than cross-module bindings in hot loops (tsx compiles those to getters).
const { BPF_ABS, BPF_ADD, BPF_ALU, BPF_AND, BPF_B, BPF_DIV, BPF_H, BPF_IMM, BPF_IND, BPF_JMP, BPF_LD, BPF_LDX, BPF_LEN, BPF_LSH, BPF_MEM, BPF_MISC, BPF_MOD, BPF_MSH, BPF_MUL, BPF_NEG, BPF_OR, BPF_RET, BPF_RSH, BPF_ST, BPF_STX, BPF_SUB, BPF_W, BPF_X, BPF_XOR, bpfClass, bpfMode, bpfOp, bpfSize } = insn;

export const V_CONST = 0;
/** A packet load at an absolute offset k (code = BPF_LD|size|BPF_ABS), or the wire length (code = BPF_LD|BPF_LEN). */
export const V_LOAD = 1;
/** A packet load at (value b) + k. */
export const V_IND = 2;
/** 4 * (packet byte k & 0xf). */
export const V_MSH = 3;
/** An ALU operation (op in `op`) on values a and b. */
export const V_ALU = 4;
export const V_NEG = 5;
/** A value nothing is known about but its range (a join of different values, a loop header). */
export const V_OPAQUE = 6;
/** A Linux ancillary value that depends on A and X too (ALU_XOR_X, NLATTR, NLATTR_NEST): k, a = A, b = X. */
export const V_ANCX = 7;

/** ALU op codes for shifts by X, whose count the kernel takes modulo 32 where libpcap gives 0. */
export const OP_LSH_X = 0x61;
export const OP_RSH_X = 0x71;

const FULL = 0xffffffff;

export interface ValueInfo {
  kind: number;
  /** V_LOAD: the load code; V_ALU: the op; V_IND: the load code. */
  code: number;
  k: number;
  a: number;
  b: number;
  lo: number;
  hi: number;
  /** Bits known to be 0. */
  zeros: number;
}

/** SKF_AD offsets (as u32) of the Linux ancillary fields, and which are special. */
const AD = 0xfffff000;
export const AD_IFINDEX = AD + 8;
export const AD_HATYPE = AD + 28;
export const AD_NLATTR = AD + 12;
export const AD_NLATTR_NEST = AD + 16;
export const AD_ALU_XOR_X = AD + 40;
export const AD_RANDOM = AD + 56;
/** Ranges of the ancillary fields (the kernel masks most of them). */
const AD_RANGE: Record<number, number> = {
  0: 0xffff, 4: 7, 24: 0xffff, 28: 0xffff, 44: 0xffff, 48: 1, 60: 0xffff,
};

const sizeBytes = (code: number): number => (bpfSize(code) === BPF_W ? 4 : bpfSize(code) === BPF_H ? 2 : 1);
/** Highest value with the bit pattern of x's top bit filled below. */
const fillBelow = (x: number): number => (x === 0 ? 0 : (FULL >>> Math.clz32(x)) >>> 0);

export class ValueTable {
  readonly info: ValueInfo[] = [];
  // (The tables are made when first written: most compiles never reach the rounds, and six
  // Maps per table cost more than an optimised compile's fast path spends on some graphs.)
  private map: Map<string, number> | undefined = undefined;
  private consts: Map<number, number> | undefined = undefined;

  private add(v: ValueInfo, key?: string): number {
    const id = this.info.length;
    this.info.push(v);
    if (key !== undefined) (this.map ??= new Map()).set(key, id);
    return id;
  }

  private lookup(key: string): number | undefined {
    return this.map?.get(key);
  }

  /** Numeric-keyed tables for the frequent kinds (absolute loads, MSH, NEG, ALU by op). */
  private loads: Map<number, number> | undefined = undefined;
  private mshs: Map<number, number> | undefined = undefined;
  private negs: Map<number, number> | undefined = undefined;
  private alus: Map<number, Map<number, number>> | undefined = undefined;

  konst(c: number): number {
    c >>>= 0;
    let id = this.consts?.get(c);
    if (id === undefined) {
      id = this.add({ kind: V_CONST, code: 0, k: c, a: -1, b: -1, lo: c, hi: c, zeros: ~c >>> 0 });
      (this.consts ??= new Map()).set(c, id);
    }
    return id;
  }

  constOf(v: number): number | undefined {
    const i = this.info[v]!;
    return i.kind === V_CONST ? i.k : undefined;
  }

  /** An absolute packet load (or the wire length, code BPF_LD|BPF_LEN). */
  load(code: number, k: number): number {
    k >>>= 0;
    // Small offsets make small-integer keys (fast to hash); others a double.
    const key = k < 0x100000 ? code * 0x100000 + k : -(code * 0x100000000 + k);
    const hit = this.loads?.get(key);
    if (hit !== undefined) return hit;
    let hi = FULL;
    if (bpfMode(code) === BPF_ABS) {
      hi = sizeBytes(code) === 4 ? FULL : sizeBytes(code) === 2 ? 0xffff : 0xff;
      if (k >= AD) {
        const r = AD_RANGE[k - AD];
        if (r !== undefined && (k !== AD_IFINDEX && k !== AD_HATYPE)) hi = Math.min(hi, r);
        else if (k === AD_HATYPE) hi = Math.min(hi, 0xffff);
      }
    }
    const id = this.add({ kind: V_LOAD, code, k, a: -1, b: -1, lo: 0, hi, zeros: ~hi >>> 0 });
    (this.loads ??= new Map()).set(key, id);
    return id;
  }

  /** A packet load at base + k. A constant base that keeps the offset small makes it an absolute load. */
  ind(code: number, k: number, base: number): number {
    k >>>= 0;
    const size = sizeBytes(code);
    const bi = this.info[base]!;
    if (bi.kind === V_CONST && bi.k + k + size < 0x80000000) return this.load(BPF_LD | bpfSize(code) | BPF_ABS, bi.k + k);
    // (v + c) + k = v + (c + k) when nothing wraps (the range of v says so).
    if (bi.kind === V_ALU && bi.code === BPF_ADD) {
      const c = this.constOf(bi.b);
      const inner = this.info[bi.a]!;
      if (c !== undefined && inner.hi + c + k + size < 0x80000000 && c + k < 0x80000000) return this.ind(code, c + k, bi.a);
    }
    const key = `I${code}:${k}:${base}`;
    const hit = this.lookup(key);
    if (hit !== undefined) return hit;
    const hi = size === 4 ? FULL : size === 2 ? 0xffff : 0xff;
    return this.add({ kind: V_IND, code, k, a: base, b: -1, lo: 0, hi, zeros: ~hi >>> 0 }, key);
  }

  msh(k: number): number {
    k >>>= 0;
    const hit = this.mshs?.get(k);
    if (hit !== undefined) return hit;
    const id = this.add({ kind: V_MSH, code: 0, k, a: -1, b: -1, lo: 0, hi: 60, zeros: ~0x3c >>> 0 });
    (this.mshs ??= new Map()).set(k, id);
    return id;
  }

  opaque(lo = 0, hi = FULL, zeros = 0): number {
    return this.add({ kind: V_OPAQUE, code: 0, k: 0, a: -1, b: -1, lo, hi, zeros: (zeros | ~fillBelow(hi)) >>> 0 });
  }

  ancx(k: number, a: number, x: number): number {
    const key = `X${k}:${a}:${x}`;
    const hit = this.lookup(key);
    if (hit !== undefined) return hit;
    return this.add({ kind: V_ANCX, code: 0, k, a, b: x, lo: 0, hi: FULL, zeros: 0 }, key);
  }

  neg(a: number): number {
    const c = this.constOf(a);
    if (c !== undefined) return this.konst(-c);
    const ai = this.info[a]!;
    if (ai.kind === V_NEG) return ai.a;
    const hit = this.negs?.get(a);
    if (hit !== undefined) return hit;
    const id = this.add({ kind: V_NEG, code: 0, k: 0, a, b: -1, lo: 0, hi: FULL, zeros: 0 });
    (this.negs ??= new Map()).set(a, id);
    return id;
  }

  /**
   * op(a, b). Returns undefined for a division or modulo by the constant 0
   * (the program returns 0 there: not a value).
   */
  alu(op: number, a: number, b: number): number | undefined {
    const ca = this.constOf(a);
    const cb = this.constOf(b);
    if (cb !== undefined && (op === BPF_DIV || op === BPF_MOD) && cb === 0) return undefined;
    // Shifts by X: the same as by K only when the count is below 32 (else libpcap and the kernel differ).
    if (op === OP_LSH_X || op === OP_RSH_X) {
      if (this.info[b]!.hi < 32) op = op === OP_LSH_X ? BPF_LSH : BPF_RSH;
    }
    if (ca !== undefined && cb !== undefined && op !== OP_LSH_X && op !== OP_RSH_X) return this.konst(foldOp(op, ca, cb));
    // Constants second for commutative ops.
    if (ca !== undefined && (op === BPF_ADD || op === BPF_MUL || op === BPF_AND || op === BPF_OR || op === BPF_XOR)) {
      return this.alu(op, b, a);
    }
    const ai = this.info[a]!;
    if (cb !== undefined) {
      switch (op) {
        case BPF_ADD: case BPF_SUB: case BPF_OR: case BPF_XOR:
          if (cb === 0) return a;
          break;
        case BPF_LSH: case BPF_RSH:
          if (cb === 0) return a;
          if (cb >= 32) return this.konst(0);
          break;
        case BPF_MUL:
          if (cb === 1) return a;
          if (cb === 0) return this.konst(0);
          break;
        case BPF_DIV:
          if (cb === 1) return a;
          break;
        case BPF_AND:
          if (cb === 0) return this.konst(0);
          if (((~cb >>> 0) & ~ai.zeros) === 0) return a; // clears only bits that are 0 anyway
          break;
        default:
      }
      if (op === BPF_SUB) return this.alu(BPF_ADD, a, this.konst(-cb));
      // Reassociate constants: (x op c1) op c2 = x op (c1 op c2) for add, and, or, xor.
      if (ai.kind === V_ALU && ai.code === op && (op === BPF_ADD || op === BPF_AND || op === BPF_OR || op === BPF_XOR)) {
        const c1 = this.constOf(ai.b);
        if (c1 !== undefined) return this.alu(op, ai.a, this.konst(foldOp(op, c1, cb)));
      }
      // Parts of a wider load are narrower loads of the same bytes (same end, so the same bounds check).
      if (ai.kind === V_LOAD || ai.kind === V_IND) {
        const n = sizeBytes(ai.code);
        const base = ai.kind === V_IND ? ai.a : -1;
        if (bpfMode(ai.code) !== BPF_LEN && (ai.kind === V_IND || bpfMode(ai.code) === BPF_ABS) && ai.k < 0x80000000) {
          if (op === BPF_AND && cb === 0xffff && n === 4) return this.narrow(2, ai.k + 2, base);
          if (op === BPF_AND && cb === 0xff && n >= 2) return this.narrow(1, ai.k + n - 1, base);
        }
      }
      if (op === BPF_AND && ai.kind === V_ALU && ai.code === BPF_OR) {
        // (x | c1) & c2 with c1 & c2 = 0 is x & c2.
        const c1 = this.constOf(ai.b);
        if (c1 !== undefined && (c1 & cb) === 0) return this.alu(BPF_AND, ai.a, b);
      }
    }
    if (a === b && (op === BPF_SUB || op === BPF_XOR)) return this.konst(0);
    if (a === b && (op === BPF_AND || op === BPF_OR)) return a;
    // Commutative: order operands.
    if ((op === BPF_ADD || op === BPF_MUL || op === BPF_AND || op === BPF_OR || op === BPF_XOR) && cb === undefined && b < a) {
      [a, b] = [b, a];
    }
    // Value numbers stay far below 2^26 (each is an object in memory), so a * 2^26 + b is exact;
    // below 2^14 each, a * 2^14 + b is a small integer (fast to hash).
    const alus = (this.alus ??= new Map());
    let byOp = alus.get(op);
    if (!byOp) alus.set(op, (byOp = new Map()));
    const key = a < 0x4000 && b < 0x4000 ? a * 0x4000 + b : -(a * 0x4000000 + b) - 1;
    const hit = byOp.get(key);
    if (hit !== undefined) return hit;
    const [lo, hi, zeros] = this.aluRange(op, a, b);
    const id = this.add({ kind: V_ALU, code: op, k: 0, a, b, lo, hi, zeros });
    byOp.set(key, id);
    return id;
  }

  /** A 1- or 2-byte load at k (from base when base >= 0). */
  private narrow(size: number, k: number, base: number): number {
    return base < 0
      ? this.load(BPF_LD | (size === 2 ? BPF_H : BPF_B) | BPF_ABS, k)
      : this.ind(BPF_LD | (size === 2 ? BPF_H : BPF_B) | BPF_IND, k, base);
  }

  private aluRange(op: number, a: number, b: number): [number, number, number] {
    const A = this.info[a]!, B = this.info[b]!;
    const cb = this.constOf(b);
    let lo = 0, hi = FULL, zeros = 0;
    switch (op) {
      case BPF_ADD:
        if (A.hi + B.hi <= FULL) [lo, hi] = [A.lo + B.lo, A.hi + B.hi];
        break;
      case BPF_SUB:
        if (A.lo >= B.hi) [lo, hi] = [A.lo - B.hi, A.hi - B.lo];
        break;
      case BPF_MUL:
        if (A.hi * B.hi <= FULL) [lo, hi] = [A.lo * B.lo, A.hi * B.hi];
        break;
      case BPF_DIV:
        if (B.lo > 0) [lo, hi] = [Math.floor(A.lo / B.hi), Math.floor(A.hi / B.lo)];
        else hi = A.hi;
        break;
      case BPF_MOD:
        hi = B.hi > 0 ? Math.min(A.hi, B.hi - 1) : A.hi;
        break;
      case BPF_AND:
        hi = Math.min(A.hi, B.hi);
        zeros = (A.zeros | B.zeros) >>> 0;
        break;
      case BPF_OR:
        lo = Math.max(A.lo, B.lo);
        hi = fillBelow(Math.max(A.hi, B.hi));
        zeros = (A.zeros & B.zeros) >>> 0;
        break;
      case BPF_XOR:
        hi = fillBelow(Math.max(A.hi, B.hi));
        zeros = (A.zeros & B.zeros) >>> 0;
        break;
      case BPF_LSH:
        if (cb !== undefined && cb < 32) {
          if (A.hi * 2 ** cb <= FULL) [lo, hi] = [A.lo * 2 ** cb, A.hi * 2 ** cb];
          zeros = ((A.zeros << cb) | ((1 << cb) - 1)) >>> 0;
        }
        break;
      case BPF_RSH:
        if (cb !== undefined && cb < 32) {
          [lo, hi] = [Math.floor(A.lo / 2 ** cb), Math.floor(A.hi / 2 ** cb)];
          zeros = ((A.zeros >>> cb) | ~(FULL >>> cb)) >>> 0;
        } else hi = A.hi;
        break;
      default:
    }
    zeros = (zeros | ~fillBelow(hi)) >>> 0;
    return [lo, hi, zeros];
  }
}

export function foldOp(op: number, a: number, b: number): number {
  a >>>= 0;
  b >>>= 0;
  switch (op) {
    case BPF_ADD: return (a + b) >>> 0;
    case BPF_SUB: return (a - b) >>> 0;
    case BPF_MUL: return Math.imul(a, b) >>> 0;
    case BPF_DIV: return b === 0 ? 0 : Math.floor(a / b) >>> 0;
    case BPF_MOD: return b === 0 ? 0 : a % b;
    case BPF_AND: return (a & b) >>> 0;
    case BPF_OR: return (a | b) >>> 0;
    case BPF_XOR: return (a ^ b) >>> 0;
    case BPF_LSH: return b < 32 ? (a << b) >>> 0 : 0;
    case BPF_RSH: return b < 32 ? a >>> b : 0;
    // Shifts by X whose count is known: libpcap gives 0 at 32 or more, the kernel shifts by count & 31.
    // alu() only folds these when both agree (count < 32).
    case OP_LSH_X: return (a << b) >>> 0;
    case OP_RSH_X: return a >>> b;
    default: return a;
  }
}

/** Registers: A, X and the 16 scratch slots. */
export const LOC_A = 16;
export const LOC_X = 17;
export const NLOC = 18;

/** The value in each location. */
export type State = number[];

/** Something a statement does besides computing a value: it may end the program. */
export interface Effect {
  /** E_LOAD (absolute), E_IND, E_DIV (by X), E_ANC (Linux ancillary/extension load), E_DEV (ifindex/hatype: may return A). */
  kind: number;
  /** E_LOAD: end offset (k + size); E_IND: k + size; E_ANC/E_DEV: the load's k and size as `k`, end = size. */
  end: number;
  /** E_IND: the base value; E_DIV: the divisor value; E_DEV: the value of A at that point. */
  v: number;
  k: number;
}

export const E_LOAD = 0;
export const E_IND = 1;
export const E_DIV = 2;
export const E_ANC = 3;
export const E_DEV = 4;

/**
 * Run one statement on `s` (changed in place). Returns false when the
 * statement is one the optimiser does not model (it then leaves the block
 * alone): an unknown opcode, a scratch slot out of range, a division by the
 * constant 0.
 */
export function step(t: ValueTable, s: State, st: Stmt, effects: Effect[] | undefined): boolean {
  const code = st.code;
  const k = st.k >>> 0;
  const cls = bpfClass(code);
  switch (cls) {
    case BPF_LD:
    case BPF_LDX: {
      const mode = bpfMode(code);
      const dst = cls === BPF_LD ? LOC_A : LOC_X;
      if (mode === BPF_IMM) {
        if (bpfSize(code) !== BPF_W) return false;
        s[dst] = t.konst(k);
        return true;
      }
      if (mode === BPF_MEM) {
        if (k >= 16 || bpfSize(code) !== BPF_W) return false;
        s[dst] = s[k]!;
        return true;
      }
      if (mode === BPF_LEN) {
        if (bpfSize(code) !== BPF_W) return false;
        s[dst] = t.load(BPF_LD | BPF_LEN, 0);
        return true;
      }
      if (cls === BPF_LDX) {
        if (mode !== BPF_MSH || bpfSize(code) !== BPF_B) return false;
        if (k >= 0x80000000) {
          // Linux negative-offset byte: modelled as an opaque effectful load.
          if (effects) effects.push({ kind: E_ANC, end: 1, v: -1, k });
          s[LOC_X] = t.opaque(0, 60, ~0x3c >>> 0);
          return true;
        }
        if (effects) effects.push({ kind: E_LOAD, end: k + 1, v: -1, k });
        s[LOC_X] = t.msh(k);
        return true;
      }
      const size = bpfSize(code);
      if (size !== BPF_W && size !== BPF_H && size !== BPF_B) return false;
      if (mode === BPF_ABS) {
        const n = sizeBytes(code);
        if (k >= 0x80000000) {
          if (k === AD_RANDOM) {
            if (effects) effects.push({ kind: E_ANC, end: n, v: -1, k });
            s[LOC_A] = t.opaque(0, FULL);
            return true;
          }
          if (k === AD_ALU_XOR_X || k === AD_NLATTR || k === AD_NLATTR_NEST) {
            if (effects) effects.push({ kind: E_ANC, end: n, v: -1, k });
            s[LOC_A] = t.ancx(k, s[LOC_A]!, s[LOC_X]!);
            return true;
          }
          if (effects) {
            if (k === AD_IFINDEX || k === AD_HATYPE) effects.push({ kind: E_DEV, end: n, v: s[LOC_A]!, k });
            else effects.push({ kind: E_ANC, end: n, v: -1, k });
          }
          s[LOC_A] = t.load(code, k);
          return true;
        }
        if (effects) effects.push({ kind: E_LOAD, end: k + n, v: -1, k });
        s[LOC_A] = t.load(code, k);
        return true;
      }
      if (mode === BPF_IND) {
        const n = sizeBytes(code);
        const v = t.ind(code, k, s[LOC_X]!);
        const vi = t.info[v]!;
        if (effects) {
          if (vi.kind === V_LOAD) effects.push({ kind: E_LOAD, end: vi.k + n, v: -1, k: vi.k });
          else effects.push({ kind: E_IND, end: vi.k + n, v: vi.a, k: vi.k });
        }
        s[LOC_A] = v;
        return true;
      }
      return false;
    }
    case BPF_ST:
    case BPF_STX:
      if (k >= 16 || code !== cls) return false;
      s[k] = s[cls === BPF_ST ? LOC_A : LOC_X]!;
      return true;
    case BPF_ALU: {
      const op = bpfOp(code);
      if (op === BPF_NEG) {
        if (code !== (BPF_ALU | BPF_NEG)) return false;
        s[LOC_A] = t.neg(s[LOC_A]!);
        return true;
      }
      if (op > 0xa0 || op === 0xb0) return false;
      const useX = (code & BPF_X) !== 0;
      const b = useX ? s[LOC_X]! : t.konst(k);
      if (useX && (op === BPF_DIV || op === BPF_MOD)) {
        const cb = t.constOf(b);
        if (cb === 0) return false;
        if (cb === undefined && effects) effects.push({ kind: E_DIV, end: 0, v: b, k: 0 });
      }
      const aluOp = useX && op === BPF_LSH ? OP_LSH_X : useX && op === BPF_RSH ? OP_RSH_X : op;
      const r = t.alu(aluOp, s[LOC_A]!, b);
      if (r === undefined) return false;
      s[LOC_A] = r;
      return true;
    }
    case BPF_MISC:
      if (code === (BPF_MISC | 0x00)) s[LOC_X] = s[LOC_A]!;
      else if (code === (BPF_MISC | 0x80)) s[LOC_A] = s[LOC_X]!;
      else return false;
      return true;
    case BPF_JMP:
    case BPF_RET:
    default:
      return false;
  }
}

export { BPF_ALU, BPF_IMM, BPF_IND, BPF_LD, BPF_LDX, BPF_MEM, BPF_MSH, BPF_B, BPF_MISC, BPF_ST, BPF_STX, BPF_JMP };
