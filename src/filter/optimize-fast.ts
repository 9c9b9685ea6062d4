/**
 * The fast path of the optimiser: after the cheap passes (optimize-pre.ts, reject sinking, the
 * clean-ups), most graphs code generation makes need only one more thing, dropping loads of
 * what A or X already holds (the protocol test repeated after a join, `ldxb 4*([14]&0xf)`
 * before every TCP/UDP port load), and then merging identical blocks. This pass does that in
 * one topological walk, and at the same time checks that the rounds could find nothing more:
 *
 * - values are named symbolically (packet loads at constant offsets, `ldxb 4*([k]&0xf)`,
 *   loads at X + k with X such a value, `A & m` of a load); A and X hold a name on entry to a
 *   block when they hold it on every edge into it;
 * - facts are what `jeq`, `jgt` and `jge` tests tell of a named value on every path to an edge:
 *   the constants it may be (`IN`), or a range less some constants (`RANGE`), exactly (a union
 *   over paths, so at least as precise as the analysis's facts and `oneOf`); a `jset` outcome,
 *   or a union no such set describes, leaves an opaque fact that no later test of an
 *   overlapping value may meet;
 * - a block qualifies when it is made of loads and `and #m` feeding one test of A against a
 *   constant (or only returns), every statement left is needed (no load of a value that is not
 *   read before it is overwritten, no location left as it was on entry), the test's constant is
 *   within its value's range and no single-test form exists (`and #m; jeq #0` is a `jset`), and
 *   no fact on any edge into it concerns the packet bytes it reads, unless it is a fact on the
 *   tested value itself that leaves a `jeq` test undecided;
 * - no chain of tests that the rounds could regroup (optimize-regroup.ts) runs through it: a
 *   test of a load (its only statement left) or of what A holds that continues its only
 *   predecessor's chain (one side to the same block) tests a value the chain tested before,
 *   other than the one right before it (a superset of what the rounds change).
 *
 * When every block qualifies, no test can be folded or threaded (nothing decides it on any
 * edge), no block can be rewritten shorter (each statement makes a value the test needs that no
 * location holds, from packet bytes nothing is known about), nothing can be sunk and no chain
 * regrouped: the rounds would only drop the same loads and merge the same blocks. Otherwise nothing is changed
 * and the rounds run as before.
 */
import type { Cfg, Stmt } from './cfg.js';
import type { Graph } from './optimize-analysis.js';
import * as ranges from './optimize-ranges.js';
import type { Fact } from './optimize-ranges.js';
import * as slots from './optimize-slots.js';

// Module-level copy: cheaper than a cross-module binding in the walk's loop.
const { MAX_SLOTS, REGROUPS, chainStep, linkEdge } = slots;
const { IN, NO_VALS, OPAQUE, RANGE, add, apply, opaque, possible, unite, f64Of, i32Of } = ranges;

/**
 * The bytes [k, k + size) of a space (0: the packet; other spaces are shifted) as a bit per byte,
 * folded to 32 bits: values that share no bit share no byte (Syms.bits, and the flat route's
 * bytes read per block, which the fast path's walk compares with them).
 */
export function byteBits(space: number, k: number, size: number): number {
  let bits = 0;
  for (let i = 0; i < size; i++) bits |= 1 << ((space + k + i) & 31);
  return bits;
}

/** Symbol kinds. */
const ABS = 0, MSH = 1, IND = 2, AND = 3;

/**
 * The table of symbols: parallel typed arrays (reused between calls, grown as needed), found
 * through an open-addressed hash table stamped per call (see get).
 */
class Syms {
  /** How many symbols this call has named. */
  n = 0;
  kind = new Int32Array(64);
  code = new Int32Array(64);
  k = new Float64Array(64);
  base = new Int32Array(64);
  /** 0 for the packet; 1 + the MSH symbol for loads relative to X. */
  space = new Int32Array(64);
  lo = new Float64Array(64);
  hi = new Float64Array(64);
  /** Largest value (a load's width, an AND's mask). */
  max = new Float64Array(64);
  /** A bit per byte read, folded to 32 (values that share no bit share no byte). */
  bits = new Int32Array(64);

  private grow(): void {
    const m = this.kind.length * 2;
    const i32 = (a: Int32Array) => i32Of(a, m);
    const f64 = (a: Float64Array) => f64Of(a, m);
    this.kind = i32(this.kind);
    this.code = i32(this.code);
    this.k = f64(this.k);
    this.base = i32(this.base);
    this.space = i32(this.space);
    this.lo = f64(this.lo);
    this.hi = f64(this.hi);
    this.max = f64(this.max);
    this.bits = i32(this.bits);
  }

  /** The hash table: symbol by slot, valid where its stamp is this call's epoch. */
  slots = new Int32Array(256);
  stamp = new Int32Array(256);
  epoch = 1;

  /** Forget every symbol (a new call). */
  clear(): void {
    this.n = 0;
    if (++this.epoch > 0x3fffffff) {
      this.stamp.fill(0);
      this.epoch = 1;
    }
  }

  /** A table twice as big holding the first n symbols. */
  private rehash(n: number): void {
    const size = this.slots.length * 2;
    this.slots = new Int32Array(size);
    this.stamp = new Int32Array(size);
    this.epoch = 1;
    const all = n;
    this.n = 0;
    for (let i = 0; i < all; i++) {
      const mask = size - 1;
      const k = this.k[i]!, code = this.code[i]!, base = this.base[i]!;
      let h = (Math.imul((k | 0) ^ (code << 20) ^ Math.imul(base + 2, 0x27d4eb2f), 0x9e3779b1) >>> 24) & mask;
      while (this.stamp[h] === this.epoch) h = (h + 1) & mask;
      this.stamp[h] = this.epoch;
      this.slots[h] = i;
    }
    this.n = all;
  }

  get(kind: number, code: number, k: number, base: number): number {
    const n = this.n;
    // (An open-addressed table of the symbols named this call, by a hash of k, code and base;
    // the code says the kind.)
    const mask = this.slots.length - 1;
    let h = (Math.imul((k | 0) ^ (code << 20) ^ Math.imul(base + 2, 0x27d4eb2f), 0x9e3779b1) >>> 24) & mask;
    for (;;) {
      if (this.stamp[h] !== this.epoch) break;
      const i = this.slots[h]!;
      if (this.k[i] === k && this.code[i] === code && this.base[i] === base) return i;
      h = (h + 1) & mask;
    }
    if (n === this.kind.length) this.grow();
    if (2 * (n + 1) > this.slots.length) {
      this.rehash(n);
      return this.get(kind, code, k, base);
    }
    this.stamp[h] = this.epoch;
    this.slots[h] = n;
    this.n = n + 1;
    this.kind[n] = kind;
    this.code[n] = code;
    this.k[n] = k;
    this.base[n] = base;
    if (kind === AND) {
      this.space[n] = this.space[base]!;
      this.lo[n] = this.lo[base]!;
      this.hi[n] = this.hi[base]!;
      this.max[n] = k;
      this.bits[n] = this.bits[base]!;
    } else {
      this.space[n] = kind === IND ? base + 1 : 0;
      const size = kind === MSH ? 1 : code === 0x20 || code === 0x40 ? 4 : code === 0x28 || code === 0x48 ? 2 : 1;
      this.lo[n] = k;
      this.hi[n] = k + size;
      this.max[n] = kind === MSH ? 60 : size === 4 ? 0xffffffff : size === 2 ? 0xffff : 0xff;
      this.bits[n] = byteBits(kind === IND ? (base + 1) * 13 : 0, k, size);
    }
    return n;
  }

  overlaps(a: number, b: number): boolean {
    return this.space[a] === this.space[b] && this.lo[a]! < this.hi[b]! && this.lo[b]! < this.hi[a]!;
  }
}

/**
 * Facts on every one of the edges into a block: the list from edge `e0` on (`facts` and `next` by
 * edge).
 */
function join(e0: number, facts: readonly (Fact | undefined)[], next: Int32Array, syms: Syms): Fact | undefined {
  const first = facts[e0];
  let same = true;
  for (let e = next[e0]!; e >= 0 && same; e = next[e]!) if (facts[e] !== first) same = false;
  if (same || first === undefined) return first;
  let out: Fact | undefined;
  for (let f: Fact | undefined = first; f !== undefined; f = f.next) {
    let u: Fact | undefined = f;
    for (let e = next[e0]!; e >= 0 && u !== undefined; e = next[e]!) {
      let g: Fact | undefined = facts[e];
      while (g !== undefined && g.s !== f.s) g = g.next;
      u = g === undefined ? undefined : unite(u, g, 0, syms.max[f.s]!);
    }
    if (u !== undefined) out = { s: u.s, kind: u.kind, lo: u.lo, hi: u.hi, vals: u.vals, next: out };
  }
  return out;
}

/**
 * apply() on a value nothing was known of but its range 0..max (without making that fact first),
 * for a test the walk takes: k within the range, jgt below max, jge above 0.
 */
function fresh(s: number, max: number, op: number, k: number, truth: boolean): Fact {
  if (op === 0x10) return truth ? { s, kind: IN, lo: 0, hi: 0, vals: [k], next: undefined } : { s, kind: RANGE, lo: 0, hi: max, vals: [k], next: undefined };
  if (op === 0x20) return truth ? { s, kind: RANGE, lo: k + 1, hi: max, vals: NO_VALS, next: undefined } : { s, kind: RANGE, lo: 0, hi: k, vals: NO_VALS, next: undefined };
  return truth ? { s, kind: RANGE, lo: k, hi: max, vals: NO_VALS, next: undefined } : { s, kind: RANGE, lo: 0, hi: k - 1, vals: NO_VALS, next: undefined };
}

/** The symbol table (reused: made anew per call it cost more than the walk's use of it). */
const SYMS = new Syms();

/**
 * Values whose facts a block's check meets: symbols it loads or tests (at most one per statement
 * and one for the test; a block of more statements is left to the rounds). Constant tables, as
 * the routes' (see MAX_SLOTS).
 */
const MAX_TOUCHED = 256;
const touched = new Int32Array(MAX_TOUCHED);

/** A graph as flat arrays by slot (see optimize-flat.ts), for the walk below. */
export interface FlatGraph {
  /** Slots in a topological order, entry first (the first `m`). */
  order: Int32Array;
  m: number;
  /** Position in `order` by slot. */
  at: Int32Array;
  /** By slot: RET, BRANCH or JUMP; successors (a jump's target in `jt`). */
  kind: Uint8Array;
  jt: Int32Array;
  jf: Int32Array;
  /** By slot: the statements, and the terminator's code and k (a jump's: anything). */
  stmts: Stmt[][];
  terms: CodeK[];
}

/** A return's or a branch's code and k. */
export interface CodeK {
  code: number;
  k: number;
}

const NO_CODE: CodeK = { code: -1, k: 0 };

export const RET = 0, BRANCH = 1, JUMP = 2;

/** Is every statement of a kind the walk takes (else it ends at once: the walk may find it late)? */
export function stmtsTaken(stmts: readonly Stmt[]): boolean {
  for (let j = 0; j < stmts.length; j++) {
    const c = stmts[j]!.code;
    if (c !== 0x20 && c !== 0x28 && c !== 0x30 && c !== 0x40 && c !== 0x48 && c !== 0x50 && c !== 0xb1 && c !== 0x54) return false;
  }
  return true;
}

/** fastPath's view of a Graph (reused between calls; a graph of more blocks is left to the rounds). */
const view: FlatGraph = {
  order: new Int32Array(MAX_SLOTS), m: 0, at: new Int32Array(MAX_SLOTS), kind: new Uint8Array(MAX_SLOTS), jt: new Int32Array(MAX_SLOTS), jf: new Int32Array(MAX_SLOTS), stmts: [], terms: [],
};

/**
 * Drop reloads and check that the rounds could do nothing more (see above); true when the graph
 * qualified and the reloads were dropped, false (nothing changed) otherwise. `g` is the graph of
 * `cfg`, acyclic or not.
 */
export function fastPath(cfg: Cfg, g: Graph): boolean {
  if (g.headers.size) return false;
  const order = g.order;
  const n = order.length;
  if (n > MAX_SLOTS) return false;
  for (let i = 0; i < n; i++) if (!stmtsTaken(order[i]!.stmts)) return false;
  const v = view;
  const pos = g.index;
  const stmts: Stmt[][] = [];
  const terms: CodeK[] = [];
  for (let i = 0; i < n; i++) {
    const b = order[i]!;
    const t = b.term;
    v.order[i] = i;
    v.at[i] = i;
    stmts.push(b.stmts);
    if (t.kind === 'branch') {
      v.kind[i] = BRANCH;
      v.jt[i] = pos.get(t.jt)!;
      v.jf[i] = pos.get(t.jf)!;
      terms.push(t);
    } else if (t.kind === 'jump') {
      v.kind[i] = JUMP;
      v.jt[i] = pos.get(t.target)!;
      terms.push(NO_CODE);
    } else {
      v.kind[i] = RET;
      terms.push(t);
    }
  }
  v.m = n;
  v.stmts = stmts;
  v.terms = terms;
  const newStmts: (Stmt[] | undefined)[] = [];
  const ok = fastWalk(v, newStmts);
  v.stmts = v.terms = [];
  if (!ok) return false;
  for (let i = 0; i < n; i++) if (newStmts[i] !== undefined) order[i]!.stmts = newStmts[i]!;
  void cfg;
  return true;
}

/**
 * The walk's tables, reused between calls (constants, see MAX_SLOTS): by edge (at most two per
 * block), what A and X hold on it and the next edge into the same block; by position, the first
 * and last edge into the block.
 */
const edgeA = new Int32Array(2 * MAX_SLOTS);
const edgeX = new Int32Array(2 * MAX_SLOTS);
const edgeNext = new Int32Array(2 * MAX_SLOTS);
/**
 * By edge, for chains of tests (optimize-regroup.ts) the rounds might regroup: the position of
 * the chain's common exit (the other side of the test the edge leaves, -1: no chain), the values
 * the chain has tested so far (a bit per symbol, folded to 32; with the value A held where it
 * began) and the value tested last.
 */
const edgeExit = new Int32Array(2 * MAX_SLOTS);
const edgeBits = new Int32Array(2 * MAX_SLOTS);
const edgePrev = new Int32Array(2 * MAX_SLOTS);
const inHead = new Int32Array(MAX_SLOTS);
const inTail = new Int32Array(MAX_SLOTS);

/**
 * The walk of fastPath over a flat graph whose statements are all of kinds it takes: true when
 * the graph qualified, with the statements left after dropping reloads in `newStmts` (by slot,
 * where any were dropped); nothing is changed. `reads`, where given: by slot, the packet bytes
 * read by the block or any it reaches (a bit per byte, folded as `Syms.bits`; all bits for
 * X-relative loads); a test then passes a fact on its value only along an edge from which those
 * bytes are read again (a fact no block meets changes nothing).
 */
export function fastWalk(fg: FlatGraph, newStmts: (Stmt[] | undefined)[], reads?: Int32Array): boolean {
  const { order, m: n, at, kind, jt, jf } = fg;
  const stmtsOf = fg.stmts, terms = fg.terms;
  const syms = SYMS;
  if (n > MAX_SLOTS) return false;
  syms.clear();
  for (let i = 0; i < n; i++) inHead[i] = inTail[i] = -1;
  // (Facts by edge: made per call, they hold young objects.)
  const edgeFacts: (Fact | undefined)[] = [];
  let ne = 0;
  for (let i = 0; i < n; i++) {
    const slot = order[i]!;
    const e0 = inHead[i]!;
    let a0 = -1, x0 = -1;
    let facts: Fact | undefined;
    const stmts = stmtsOf[slot]!;
    const bk = kind[slot];
    if (stmts.length >= MAX_TOUCHED) return false;
    if (bk === RET) {
      // (A return passes nothing on: no facts or values to join.)
      if ((i > 0 && e0 < 0) || stmts.length || terms[slot]!.code !== 0x06) return false;
      continue;
    }
    if (i > 0) {
      if (e0 < 0) return false;
      a0 = edgeA[e0]!;
      x0 = edgeX[e0]!;
      for (let e = edgeNext[e0]!; e >= 0; e = edgeNext[e]!) {
        if (edgeA[e] !== a0) a0 = -1;
        if (edgeX[e] !== x0) x0 = -1;
      }
      facts = join(e0, edgeFacts, edgeNext, syms);
    }
    let a = a0, x = x0;
    let aWrote = false, xWrote = false, aPending = false, xPending = false;
    let nt = 0;
    let tbits = 0;
    let kept: Stmt[] | undefined;
    for (let j = 0; j < stmts.length; j++) {
      const st = stmts[j]!;
      const code = st.code;
      const k = st.k >>> 0;
      let drop = false;
      if (code === 0x20 || code === 0x28 || code === 0x30 || code === 0x40 || code === 0x48 || code === 0x50) {
        let s: number;
        if (code < 0x40) {
          if (k >= 0x80000000) return false;
          s = syms.get(ABS, code, k, -1);
        } else {
          if (x < 0 || k >= 0x80000000) return false;
          s = syms.get(IND, code, k, x);
        }
        touched[nt++] = s;
        tbits |= syms.bits[s]!;
        if (a === s) drop = true;
        else {
          if (aPending) return false;
          if (code >= 0x40) xPending = false;
          a = s;
          aWrote = aPending = true;
        }
      } else if (code === 0xb1) {
        if (k >= 0x80000000) return false;
        const s = syms.get(MSH, code, k, -1);
        touched[nt++] = s;
        tbits |= syms.bits[s]!;
        if (x === s) drop = true;
        else {
          if (xPending) return false;
          x = s;
          xWrote = xPending = true;
        }
      } else if (code === 0x54) {
        if (a < 0 || syms.kind[a] === AND || ((syms.max[a]! & ~k) >>> 0) === 0) return false;
        a = syms.get(AND, code, k, a);
        aWrote = aPending = true;
      } else return false;
      if (drop) {
        if (kept === undefined) kept = stmts.slice(0, j);
      } else if (kept !== undefined) kept.push(st);
    }
    if (bk !== BRANCH) {
      if (stmts.length) return false;
      edgeFacts.push(facts);
      edgeA[ne] = a;
      edgeX[ne] = x;
      edgeExit[ne] = -1;
      linkEdge(ne++, at[jt[slot]!]!, inHead, inTail, edgeNext);
      continue;
    }
    const t = terms[slot]!;
    const op = t.code & 0xf0;
    if ((t.code & 0x08) !== 0 || op === 0 || op > 0x40 || a < 0 || xPending) return false;
    if ((aWrote && a === a0) || (xWrote && x === x0)) return false;
    const k = t.k >>> 0;
    const mx = syms.max[a]!;
    const sk = syms.kind[a];
    if (sk === MSH) return false;
    if (sk === AND) {
      if (op !== 0x10 || k === 0 || k === mx || (k & ~mx) >>> 0 !== 0 || ((mx & (mx - 1)) >>> 0) === 0) return false;
    } else if (op === 0x10 ? k > mx : op === 0x20 ? k >= mx : op === 0x30 ? k === 0 || k > mx : (k & mx) === 0) return false;
    touched[nt++] = a;
    tbits |= syms.bits[a]!;
    // No edge in may know anything of the bytes this block reads, except facts on the tested
    // value that leave its test undecided.
    for (let e = e0; e >= 0; e = edgeNext[e]!) {
      for (let f = edgeFacts[e]; f !== undefined; f = f.next) {
        if ((syms.bits[f.s]! & tbits) === 0) continue;
        let hit = false;
        for (let q = 0; q < nt && !hit; q++) hit = syms.overlaps(f.s, touched[q]!);
        if (!hit) continue;
        if (f.s !== a || op === 0x40 || f.kind === OPAQUE || (sk === AND && f.vals.length > 1)) return false;
        if (!possible(f, op, k, true) || !possible(f, op, k, false)) return false;
      }
    }
    if (kept !== undefined) newStmts[slot] = kept;
    let ft: Fact | undefined = facts, ff: Fact | undefined = facts;
    const sb = syms.bits[a]!;
    const onT = reads === undefined || (reads[jt[slot]!]! & sb) !== 0;
    const onF = reads === undefined || (reads[jf[slot]!]! & sb) !== 0;
    if (onT || onF) {
      let known: Fact | undefined;
      for (let f = facts; f !== undefined; f = f.next) if (f.s === a) known = f;
      if (op === 0x40) {
        const o = add(facts, opaque(a), known);
        if (onT) ft = o;
        if (onF) ff = o;
      } else if (known === undefined) {
        if (onT) {
          ft = fresh(a, mx, op, k, true);
          ft.next = facts;
        }
        if (onF) {
          ff = fresh(a, mx, op, k, false);
          ff.next = facts;
        }
      } else {
        if (onT) ft = add(facts, apply(known, op, k, true), known);
        if (onF) ff = add(facts, apply(known, op, k, false), known);
      }
    }
    // A test of a packet load into A (its only statement left) or of what A holds, in a chain
    // whose values repeat other than one after the other: the rounds may regroup it
    // (optimize-regroup.ts), so they take the graph. (The chain as optimize-regroup.ts links it,
    // without its other conditions: more graphs go to the rounds than it changes, none fewer.)
    const pj = at[jt[slot]!]!, pf = at[jf[slot]!]!;
    let exitT = -1, exitF = -1, bits = 0;
    const left = kept ?? stmts;
    if ((t.code & 0x08) === 0 && pj !== pf && (left.length === 0 || (left.length === 1 && left[0]!.code !== 0xb1 && left[0]!.code !== 0x54))) {
      const one = e0 >= 0 && edgeNext[e0]! < 0;
      bits = chainStep(one ? edgeExit[e0]! : -1, one ? edgeBits[e0]! : 0, one ? edgePrev[e0]! : -1, a, a0, pj, pf);
      if (bits === REGROUPS) return false;
      exitT = pf;
      exitF = pj;
    }
    edgeFacts.push(ft, ff);
    edgeA[ne] = edgeA[ne + 1] = a;
    edgeX[ne] = edgeX[ne + 1] = x;
    edgeExit[ne] = exitT;
    edgeExit[ne + 1] = exitF;
    edgeBits[ne] = edgeBits[ne + 1] = bits;
    edgePrev[ne] = edgePrev[ne + 1] = a;
    linkEdge(ne++, at[jt[slot]!]!, inHead, inTail, edgeNext);
    linkEdge(ne++, at[jf[slot]!]!, inHead, inTail, edgeNext);
  }
  return true;
}
