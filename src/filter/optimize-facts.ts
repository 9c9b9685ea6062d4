/**
 * What the optimiser knows at a point of the program, on every path that
 * reaches it:
 *
 * - facts: the outcomes of the tests taken on the way (`ldh [12] == 0x800`
 *   was true, `ldb [14] & 0x20` was clear), over value numbers. A test whose
 *   outcome they imply (directly, by range, by known bits, or through simple
 *   algebra such as `(x & m) == 0` being `!(x & m)` and `x + c == k` being
 *   `x == k - c`) need not run: that is how jump threading and branch folding
 *   decide.
 * - safety: which effects cannot end the program any more: the captured
 *   length is known to be at least `cap` (a load that fit), indirect loads
 *   that fit from a base value, divisors known non-zero, Linux ancillary
 *   loads that worked. A load such knowledge covers may be dropped or
 *   skipped without changing any verdict.
 *
 * Both are "must" information: at a join, only what holds on every incoming
 * path survives (an intersection).
 */
import * as insn from '../cbpf/insn.js';
import * as values from './optimize-values.js';
import type { Effect, ValueTable } from './optimize-values.js';

// Module-level copies: cheaper than cross-module bindings in hot loops (tsx compiles those to getters).
const { BPF_ADD, BPF_AND, BPF_XOR } = insn;
const { E_ANC, E_DEV, E_DIV, E_IND, E_LOAD, V_ALU } = values;

const JEQ = 0x10, JGT = 0x20, JGE = 0x30, JSET = 0x40;
const AD = 0xfffff000;

/** A test: `a op b` where b is a constant (bConst) or a value. */
export interface Cond {
  op: number;
  a: number;
  /** The operand value number (a constant's number when comparing with K). */
  b: number;
}

/**
 * A small map from value numbers to T, as two arrays sorted by key: copying
 * one (every edge copies its block's facts) is two slices, and two are
 * intersected by a merge.
 */
export class VMap<T> {
  constructor(readonly keys: number[] = [], readonly vals: T[] = []) {}

  get size(): number {
    return this.keys.length;
  }

  private find(k: number): number {
    const keys = this.keys;
    let lo = 0, hi = keys.length;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (keys[mid]! < k) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  }

  get(k: number): T | undefined {
    const i = this.find(k);
    return this.keys[i] === k ? this.vals[i] : undefined;
  }

  set(k: number, v: T): void {
    const i = this.find(k);
    if (this.keys[i] === k) this.vals[i] = v;
    else {
      this.keys.splice(i, 0, k);
      this.vals.splice(i, 0, v);
    }
  }

  copy(): VMap<T> {
    return new VMap(this.keys.slice(), this.vals.slice());
  }

  /** A copy with k set to v. */
  with(k: number, v: T): VMap<T> {
    const i = this.find(k);
    const n = this.keys.length;
    if (this.keys[i] === k) {
      const vals = this.vals.slice();
      vals[i] = v;
      return new VMap(this.keys.slice(), vals);
    }
    const keys = new Array<number>(n + 1);
    const vals = new Array<T>(n + 1);
    for (let j = 0; j < i; j++) {
      keys[j] = this.keys[j]!;
      vals[j] = this.vals[j]!;
    }
    keys[i] = k;
    vals[i] = v;
    for (let j = i; j < n; j++) {
      keys[j + 1] = this.keys[j]!;
      vals[j + 1] = this.vals[j]!;
    }
    return new VMap(keys, vals);
  }
}

/** The union of two ascending lists without repeats (each such a list), or undefined past 16 entries. */
function unionSorted(a: readonly number[], b: readonly number[]): number[] | undefined {
  const u: number[] = [];
  let i = 0, j = 0;
  while (i < a.length || j < b.length) {
    if (u.length === 16) return undefined;
    if (j >= b.length || (i < a.length && a[i]! < b[j]!)) u.push(a[i++]!);
    else if (i >= a.length || b[j]! < a[i]!) u.push(b[j++]!);
    else {
      u.push(a[i++]!);
      j++;
    }
  }
  return u;
}

/** One test with a constant, as known for a value. */
export interface ConstFact {
  op: number;
  k: number;
  truth: boolean;
}

/**
 * Outcomes of tests: with a value operand in `map`, keyed by a number made of
 * (a, op, b) (value numbers); with a constant in `byValue`.
 * The per-value lists are never changed in place (a new list replaces the
 * old), so a copy shares them.
 */
export class Facts {
  map: Map<number, boolean>;
  /** Per value: its tests with constants (for range and bit reasoning). */
  byValue: VMap<readonly ConstFact[]>;
  /**
   * Per value: the only constants it can be (what `==` tests that came out
   * true allow, joined over paths: a value that is 0x806 on one path and
   * 0x8035 on the other is not 0x86dd on either).
   */
  oneOf: VMap<readonly number[]>;
  /** Which maps are shared with another Facts (bits 1 map, 2 byValue, 4 oneOf): copy before a change. */
  private shared = 0;

  constructor(
    map?: Map<number, boolean>,
    byValue?: VMap<readonly ConstFact[]>,
    oneOf?: VMap<readonly number[]>,
  ) {
    this.map = map ?? new Map();
    this.byValue = byValue ?? new VMap();
    this.oneOf = oneOf ?? new VMap();
  }

  /** A copy (sharing the maps until either side changes). */
  clone(): Facts {
    const c = new Facts(this.map, this.byValue, this.oneOf);
    c.shared = 7;
    this.shared = 7;
    return c;
  }

  /** Set byValue[v] (copying the map if it is shared). */
  setByValue(v: number, list: readonly ConstFact[]): void {
    if (this.shared & 2) {
      this.byValue = this.byValue.with(v, list);
      this.shared &= ~2;
    } else this.byValue.set(v, list);
  }

  /** Set oneOf[v] (copying the map if it is shared). */
  setOneOf(v: number, set: readonly number[]): void {
    if (this.shared & 4) {
      this.oneOf = this.oneOf.with(v, set);
      this.shared &= ~4;
    } else this.oneOf.set(v, set);
  }

  /** Make the maps in `which` (bits as in `shared`) this object's own before changing them. */
  own(which: number): void {
    const w = this.shared & which;
    if (!w) return;
    if (w & 1) this.map = new Map(this.map);
    if (w & 2) this.byValue = this.byValue.copy();
    if (w & 4) this.oneOf = this.oneOf.copy();
    this.shared &= ~w;
  }

  /** Only the facts both hold. */
  intersect(o: Facts): Facts {
    if (o === this) return this;
    const out = new Facts();
    // Merge joins over the sorted keys.
    {
      const ak = this.oneOf.keys, av = this.oneOf.vals, bk = o.oneOf.keys, bv = o.oneOf.vals;
      for (let i = 0, j = 0; i < ak.length && j < bk.length; ) {
        if (ak[i]! < bk[j]!) i++;
        else if (ak[i]! > bk[j]!) j++;
        else {
          const set = av[i]!, other = bv[j]!;
          if (other === set) {
            out.oneOf.keys.push(ak[i]!);
            out.oneOf.vals.push(set);
          } else {
            const u = unionSorted(set, other);
            if (u !== undefined) {
              out.oneOf.keys.push(ak[i]!);
              out.oneOf.vals.push(u);
            }
          }
          i++;
          j++;
        }
      }
    }
    if (this.map.size && o.map.size) {
      const [small, big] = this.map.size <= o.map.size ? [this, o] : [o, this];
      for (const [k, v] of small.map) if (big.map.get(k) === v) out.map.set(k, v);
    }
    {
      const ak = this.byValue.keys, av = this.byValue.vals, bk = o.byValue.keys, bv = o.byValue.vals;
      for (let i = 0, j = 0; i < ak.length && j < bk.length; ) {
        if (ak[i]! < bk[j]!) i++;
        else if (ak[i]! > bk[j]!) j++;
        else {
          const list = av[i]!, other = bv[j]!;
          let kept: readonly ConstFact[];
          if (other === list) kept = list;
          else kept = list.filter((f) => other.some((g) => g.op === f.op && g.k === f.k && g.truth === f.truth));
          if (kept.length) {
            out.byValue.keys.push(ak[i]!);
            out.byValue.vals.push(kept);
          }
          i++;
          j++;
        }
      }
    }
    return out;
  }

  get size(): number {
    return this.map.size;
  }
}

/**
 * The canonical form of a test (so that equivalent tests share a key):
 * `(x & m) == 0` → `!(x jset m)`, `(x & m) jset k` → `x jset (m & k)`,
 * `x + c == k` → `x == k - c`, `x ^ c == k` → `x == k ^ c`.
 * Returns the test and whether its truth is inverted.
 */
export function canonical(t: ValueTable, c: Cond): { c: Cond; neg: boolean } {
  let { op, a, b } = c;
  let neg = false;
  for (let guard = 0; guard < 8; guard++) {
    const k = t.constOf(b);
    if (k === undefined) break;
    const ai = t.info[a]!;
    if (ai.kind !== V_ALU) break;
    const c1 = t.constOf(ai.b);
    if (c1 === undefined) break;
    if (op === JEQ && ai.code === BPF_AND && k === 0) {
      op = JSET;
      b = ai.b;
      a = ai.a;
      neg = !neg;
    } else if (op === JEQ && ai.code === BPF_AND && k === c1 && (c1 & (c1 - 1)) === 0) {
      // (x & bit) == bit is x jset bit.
      op = JSET;
      b = ai.b;
      a = ai.a;
    } else if (op === JSET && ai.code === BPF_AND) {
      b = t.konst(c1 & k);
      a = ai.a;
    } else if (op === JEQ && ai.code === BPF_ADD) {
      b = t.konst(k - c1);
      a = ai.a;
    } else if (op === JEQ && ai.code === BPF_XOR) {
      b = t.konst(k ^ c1);
      a = ai.a;
    } else break;
  }
  return { c: { op, a, b }, neg };
}

/** A test's key: value numbers stay far below 2^24, op is 0x10..0x40. */
function keyOf(c: Cond): number {
  return (c.a * 8 + (c.op >> 4)) * 0x1000000 + c.b;
}

/** Record that test c came out `truth`. */
export function addFact(t: ValueTable, f: Facts, c: Cond, truth: boolean): void {
  const cc = canonical(t, c);
  const val = truth !== cc.neg;
  const k = t.constOf(cc.c.b);
  if (k === undefined) {
    f.own(1);
    f.map.set(keyOf(cc.c), val);
  } else {
    // Tests with a constant are kept per value only (decideCanonical looks them up there).
    const list = f.byValue.get(cc.c.a);
    const fact: ConstFact = { op: cc.c.op, k, truth: val };
    f.setByValue(cc.c.a, list ? [...list, fact] : [fact]);
    const set = f.oneOf.get(cc.c.a);
    if (cc.c.op === JEQ && val) f.setOneOf(cc.c.a, [k]);
    else if (set) {
      const kept = set.filter((x) => compare(cc.c.op, x, k) === val);
      if (kept.length !== set.length) f.setOneOf(cc.c.a, kept);
    }
  }
}

/** The constant a value is known to be here, if any (facts `v == c`, or arithmetic on such values). */
export function knownConst(t: ValueTable, f: Facts, v: number, depth = 0): number | undefined {
  const c = t.constOf(v);
  if (c !== undefined) return c;
  const list = f.byValue.get(v);
  if (list) for (const x of list) if (x.op === JEQ && x.truth) return x.k;
  const vi = t.info[v]!;
  if (vi.kind === V_ALU && depth < 6) {
    const a = knownConst(t, f, vi.a, depth + 1);
    if (a === undefined) return undefined;
    const b = knownConst(t, f, vi.b, depth + 1);
    if (b === undefined) return undefined;
    const r = t.alu(vi.code, t.konst(a), t.konst(b));
    return r === undefined ? undefined : t.constOf(r);
  }
  return undefined;
}

/** Is test c decided here? true / false, or undefined when it may go either way. */
export function decide(t: ValueTable, f: Facts, c: Cond): boolean | undefined {
  const cc = canonical(t, c);
  const r = decideCanonical(t, f, cc.c);
  return r === undefined ? undefined : r !== cc.neg;
}

function decideCanonical(t: ValueTable, f: Facts, c: Cond): boolean | undefined {
  const { op, a, b } = c;
  const kb = t.constOf(b);
  if (kb === undefined) {
    const direct = f.map.get(keyOf(c));
    if (direct !== undefined) return direct;
  } else {
    // The very same test, last outcome recorded.
    const same = f.byValue.get(a);
    if (same) {
      for (let i = same.length - 1; i >= 0; i--) {
        const x = same[i]!;
        if (x.op === op && x.k === kb) return x.truth;
      }
    }
  }
  const av = knownConst(t, f, a);
  const bv = knownConst(t, f, b);
  if (av !== undefined && bv !== undefined) return compare(op, av, bv);
  if (bv === undefined) {
    if (a === b) return op === JEQ || op === JGE ? true : op === JGT ? false : undefined;
    return undefined;
  }
  const k = bv;
  const set = f.oneOf.get(a);
  if (set && set.length) {
    const first = compare(op, set[0]!, k);
    if (set.every((x) => compare(op, x, k) === first)) return first;
  }
  const ai = t.info[a]!;
  let lo = ai.lo, hi = ai.hi, zeros = ai.zeros;
  const list = f.byValue.get(a) ?? [];
  for (const x of list) {
    if (x.op === JEQ) {
      if (x.truth) lo = hi = x.k;
      else if (x.k === k && op === JEQ) return false;
    } else if (x.op === JGT) {
      if (x.truth) lo = Math.max(lo, x.k + 1);
      else hi = Math.min(hi, x.k);
    } else if (x.op === JGE) {
      if (x.truth) lo = Math.max(lo, x.k);
      else hi = Math.min(hi, x.k - 1);
    } else if (x.op === JSET) {
      if (!x.truth) zeros = (zeros | x.k) >>> 0;
      // (v & m) != 0 and m within k: (v & k) != 0.
      else if (op === JSET && (x.k & ~k) === 0) return true;
    }
  }
  if (lo > hi) return undefined; // contradictory knowledge: an unreachable point; decide nothing
  switch (op) {
    case JEQ:
      if (k < lo || k > hi || (k & zeros) !== 0) return false;
      if (lo === hi && lo === k) return true;
      return undefined;
    case JGT:
      if (lo > k) return true;
      if (hi <= k) return false;
      return undefined;
    case JGE:
      if (lo >= k) return true;
      if (hi < k) return false;
      return undefined;
    case JSET:
      if ((k & ~zeros) === 0) return false;
      if (lo === hi) return (lo & k) !== 0;
      // Every bit that may be set is tested and the value is not 0.
      if (lo > 0 && (~zeros & ~k) === 0) return true;
      return undefined;
    default:
      return undefined;
  }
}

function compare(op: number, a: number, b: number): boolean {
  if (op === JEQ) return a === b;
  if (op === JGT) return a > b;
  if (op === JGE) return a >= b;
  return (a & b) !== 0;
}

/** Which effects cannot end the program any more (see the file comment). */
export class Safety {
  cap = 0;
  /** Base values of indirect loads and how far past each one loads cannot fail: pairs (v, end). */
  ind: number[];
  /** Values known not to be zero. */
  nz: number[];
  anc = false;
  dev = false;
  /** Negative-offset loads and indirect loads that happened (keys: `indKey`, `ancKey`): the very same load cannot fail. */
  neg: number[];
  /** Which collections are shared with another Safety (1 ind, 2 nz, 4 neg): copy them before a change. */
  private shared = 0;

  // (Plain arrays: they hold a few entries each, and copying one on write costs far less than
  // copying a Set or Map.)
  constructor(ind?: number[], nz?: number[], neg?: number[]) {
    this.ind = ind ?? [];
    this.nz = nz ?? [];
    this.neg = neg ?? [];
  }

  /** A copy (sharing the collections until either side changes). */
  clone(): Safety {
    const s = new Safety(this.ind, this.nz, this.neg);
    s.cap = this.cap;
    s.anc = this.anc;
    s.dev = this.dev;
    s.shared = 7;
    this.shared = 7;
    return s;
  }

  /** How far past base value v indirect loads cannot fail (undefined: not known). */
  indEnd(v: number): number | undefined {
    const ind = this.ind;
    for (let i = 0; i < ind.length; i += 2) if (ind[i] === v) return ind[i + 1];
    return undefined;
  }

  hasNz(v: number): boolean {
    return this.nz.includes(v);
  }

  hasNeg(key: number): boolean {
    return this.neg.includes(key);
  }

  /** Record that the load of base value v ending at `end` cannot fail any more. */
  addInd(v: number, end: number): void {
    let ind = this.ind;
    let i = 0;
    while (i < ind.length && ind[i] !== v) i += 2;
    if (end <= (i < ind.length ? ind[i + 1]! : 0)) return;
    if (this.shared & 1) {
      this.ind = ind = ind.slice();
      this.shared &= ~1;
    }
    if (i < ind.length) ind[i + 1] = end;
    else ind.push(v, end);
  }

  /** Record that value v is not zero. */
  addNz(v: number): void {
    if (this.nz.includes(v)) return;
    if (this.shared & 2) {
      this.nz = this.nz.slice();
      this.shared &= ~2;
    }
    this.nz.push(v);
  }

  /** Record that the load described by key happened. */
  addNeg(key: number): void {
    if (this.neg.includes(key)) return;
    if (this.shared & 4) {
      this.neg = this.neg.slice();
      this.shared &= ~4;
    }
    this.neg.push(key);
  }

  intersect(o: Safety): Safety {
    let s: Safety;
    if (o.ind === this.ind && o.nz === this.nz && o.neg === this.neg) {
      // The same collections (copies of one another): share them.
      s = this.clone();
    } else {
      s = new Safety();
      const ind = this.ind;
      for (let i = 0; i < ind.length; i += 2) {
        const e2 = o.indEnd(ind[i]!);
        if (e2 !== undefined) s.ind.push(ind[i]!, Math.min(ind[i + 1]!, e2));
      }
      for (const v of this.nz) if (o.nz.includes(v)) s.nz.push(v);
      for (const n of this.neg) if (o.neg.includes(n)) s.neg.push(n);
    }
    s.cap = Math.min(this.cap, o.cap);
    s.anc = this.anc && o.anc;
    s.dev = this.dev && o.dev;
    return s;
  }

  equals(o: Safety): boolean {
    if (this.cap !== o.cap || this.anc !== o.anc || this.dev !== o.dev) return false;
    if (this.ind.length !== o.ind.length || this.nz.length !== o.nz.length || this.neg.length !== o.neg.length) return false;
    const ind = this.ind;
    for (let i = 0; i < ind.length; i += 2) if (o.indEnd(ind[i]!) !== ind[i + 1]) return false;
    for (const v of this.nz) if (!o.nz.includes(v)) return false;
    for (const n of this.neg) if (!o.neg.includes(n)) return false;
    return true;
  }
}

/**
 * Keys of loads in `Safety.neg`: an indirect load (base value, size, offset below 2^32; value
 * numbers stay far below 2^18, so the key is exact) as a non-negative number, a negative-offset
 * load (offset, size) as a negative one.
 */
function indKey(e: Effect): number {
  return (e.v * 8 + (e.end - e.k)) * 0x100000000 + (e.k >>> 0);
}

function ancKey(e: Effect): number {
  return -((e.k >>> 0) * 8 + e.end) - 1;
}

/** Can effect e still end the program, given s (and the facts f, for divisors)? */
export function mayFail(t: ValueTable, s: Safety, e: Effect, f?: Facts): boolean {
  switch (e.kind) {
    case E_LOAD:
      return e.end > s.cap;
    case E_IND: {
      const known = s.indEnd(e.v);
      if (known !== undefined && known >= e.end) return false;
      if (s.hasNeg(indKey(e))) return false;
      return t.info[e.v]!.hi + e.end > s.cap;
    }
    case E_DIV: {
      if (s.hasNz(e.v) || t.info[e.v]!.lo > 0) return false;
      if (f && decide(t, f, { op: JEQ, a: e.v, b: t.konst(0) }) === false) return false;
      return true;
    }
    case E_ANC:
      return e.k >= AD ? !s.anc : !s.hasNeg(ancKey(e));
    case E_DEV:
      return !s.dev;
    default:
      return true;
  }
}

/** What is known once effect e has happened (the program did not end there). */
export function record(t: ValueTable, s: Safety, e: Effect): void {
  switch (e.kind) {
    case E_LOAD:
      if (e.end > s.cap) s.cap = e.end;
      break;
    case E_IND: {
      const vi = t.info[e.v]!;
      s.addNeg(indKey(e));
      if (vi.hi + e.end < 0x80000000) s.addInd(e.v, e.end);
      if (vi.lo + e.end > s.cap && vi.lo + e.end < 0x80000000) s.cap = vi.lo + e.end;
      break;
    }
    case E_DIV:
      s.addNz(e.v);
      break;
    case E_ANC:
      if (e.k >= AD) s.anc = true;
      else {
        s.addNeg(ancKey(e));
      }
      break;
    case E_DEV:
      s.dev = true;
      s.anc = true;
      break;
    default:
  }
}
