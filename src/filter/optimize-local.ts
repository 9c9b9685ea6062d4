/**
 * The local path of the optimiser: for graphs the fast path (optimize-fast.ts) does not take
 * because some blocks compute (the variable offsets of the UDP tunnels, `geneve`/`vxlan`: ALU
 * statements, scratch slots, `tax`/`txa`, a jump block with code of its own) or because a test
 * is `and #m; jeq #0`. What the rounds do on such graphs is local: drop the reloads of what a
 * location already holds, drop statements whose result nobody reads, turn `and #m; jeq #0`
 * into `jset #m` the other way round, merge identical blocks. This pass does that in one
 * topological walk and one backward pass, without the analysis, and gives up (changing
 * nothing, the rounds run as before) wherever the rounds could find more than it does by the
 * same rules as the fast path:
 *
 * - values are named symbolically and hash-consed as the value numbering does (constants,
 *   packet loads at constant offsets, `ldxb 4*([k]&0xf)`, loads at a named base + k, ALU
 *   results on names and constants, reassociated and commuted as the value table does; every
 *   location holds the constant 0 on entry); a location holds a name on entry to a block when
 *   it holds it on every edge in, otherwise a fresh opaque name with the range of the names
 *   that flow in (as the analysis's join). Where the value table would simplify (constant operands
 *   on both sides, an identity or absorbing constant, a narrowing mask, a constant base or X
 *   operand, a test with X) the pass gives up;
 * - facts are what tests tell of a named value on every path to an edge (the fast path's exact
 *   sets and ranges, opaque after `jset`); a block whose test its value's range or a fact
 *   could decide, or whose loads read bytes some fact on an edge in concerns (other than a
 *   fact on the tested value leaving a `jeq` undecided), sends the graph to the rounds;
 * - a statement is dropped when it leaves its location holding the name it holds (a load of
 *   what is there cannot fail: the same load succeeded on every path in), or when nothing
 *   reads what it writes and it cannot fail (not a load); a dead load, or a block that leaves
 *   a location it writes as it was on entry, sends the graph to the rounds;
 * - a chain of tests the rounds could regroup (optimize-regroup.ts; found as the fast path finds
 *   it, see optimize-fast.ts) sends the graph to the rounds.
 *
 * Blocks of loads and `and #m` feeding one test are then what the fast path takes (the rounds
 * would find nothing more there, see optimize-fast.ts). Blocks that compute are rewritten here
 * by dropping what is provably useless, and where the rounds' instruction selection (tried on
 * blocks of at most 10 statements longer than a lower bound on any code for them) could find
 * shorter code, the pass gives up (see lowerBound), except for one form it makes itself: a
 * test of the block's only load, made straight from what A or X holds (see loadAlone). Other
 * shorter code for longer blocks is not looked for (the rounds search those window by window,
 * optimize-regen.ts windowed, and could find some: the tunnels' 12-statement block has none); on
 * every conformance case this path takes, and on every tunnel expression tried, the programs
 * are the rounds', byte for byte.
 */
import type { Cfg, Stmt } from './cfg.js';
import type { Graph } from './optimize-analysis.js';
import * as fastModule from './optimize-fast.js';
import * as ranges from './optimize-ranges.js';
import type { Fact } from './optimize-ranges.js';
import * as slots from './optimize-slots.js';

const { MAX_SLOTS, REGROUPS, chainStep } = slots;
const { IN, NO_VALS, OPAQUE, RANGE, add, apply, opaque, possible, unite, f64Of, i32Of } = ranges;


/** A way into a block: the facts on it and the name each location holds (-1: none). */
interface Edge {
  facts: Fact | undefined;
  a: number;
  x: number;
  /** M[0..15] (shared between edges and blocks: copied on write). */
  m: readonly number[];
  /**
   * For chains of tests the rounds might regroup (optimize-regroup.ts; see optimize-fast.ts
   * edgeExit): the position of the chain's common exit (-1: no chain), the values it has tested
   * (a bit per name, folded to 32) and the value tested last.
   */
  exit: number;
  bits: number;
  prev: number;
}

const FULL = 0xffffffff;
/** Location indices (as the value numbering's): slots 0..15, A, X. */
const LA = 16, LX = 17;
const BA = 1 << LA, BX = 1 << LX;

/** Symbol kinds. */
const K_CONST = 0, K_ABS = 1, K_MSH = 2, K_IND = 3, K_AND = 4, K_ALU = 5, K_ALUX = 6, K_OPAQUE = 7;

/** Largest value with x's top bit and every bit below it set. */
const fillBelow = (x: number): number => (x === 0 ? 0 : (FULL >>> Math.clz32(x)) >>> 0);

class Syms {
  n = 0;
  kind = new Int32Array(64);
  code = new Int32Array(64);
  k = new Float64Array(64);
  base = new Int32Array(64);
  /** Byte space: 0 for the packet, 1 + base for loads relative to a named base, -1 for no bytes. */
  space = new Int32Array(64);
  blo = new Float64Array(64);
  bhi = new Float64Array(64);
  bits = new Int32Array(64);
  /** Range of the value. */
  vlo = new Float64Array(64);
  vhi = new Float64Array(64);

  /** Hash table of names (see get), its stamps, and this call's stamp. */
  table = new Int32Array(256);
  stamp = new Int32Array(256);
  gen = 1;

  /** Start naming afresh. */
  reset(): void {
    this.n = 0;
    if (++this.gen === 0x7fffffff) {
      this.stamp.fill(0);
      this.gen = 1;
    }
  }

  private grow(): void {
    const m = this.kind.length * 2;
    // The hash table, rebuilt at four times the names' room (at most a quarter full).
    this.table = new Int32Array(4 * m);
    this.stamp = new Int32Array(4 * m);
    this.gen = 1;
    const tm = 4 * m - 1;
    for (let i = 0; i < this.n; i++) {
      if (this.kind[i] === K_OPAQUE) continue;
      const kind = this.kind[i]!, code = this.code[i]!, k = this.k[i]!, base = this.base[i]!;
      let h = Math.imul(kind * 0x100 + code, 0x9e3779b1) ^ Math.imul((k | 0) ^ ((k / 0x100000000) | 0), 0x85ebca6b) ^ Math.imul(base + 3, 0xc2b2ae35);
      h ^= h >>> 15;
      let slot = h & tm;
      while (this.stamp[slot] === 1) slot = (slot + 1) & tm;
      this.table[slot] = i;
      this.stamp[slot] = 1;
    }
    const i32 = (a: Int32Array) => i32Of(a, m);
    const f64 = (a: Float64Array) => f64Of(a, m);
    this.kind = i32(this.kind);
    this.code = i32(this.code);
    this.k = f64(this.k);
    this.base = i32(this.base);
    this.space = i32(this.space);
    this.blo = f64(this.blo);
    this.bhi = f64(this.bhi);
    this.bits = i32(this.bits);
    this.vlo = f64(this.vlo);
    this.vhi = f64(this.vhi);
  }

  /** The name of (kind, code, k, base): found, or made with the given value range. */
  get(kind: number, code: number, k: number, base: number, vlo: number, vhi: number): number {
    const n = this.n;
    let slot = -1;
    if (kind !== K_OPAQUE) {
      // An open-addressed table of names + 1, valid where its stamp is this call's.
      let h = Math.imul(kind * 0x100 + code, 0x9e3779b1) ^ Math.imul((k | 0) ^ ((k / 0x100000000) | 0), 0x85ebca6b) ^ Math.imul(base + 3, 0xc2b2ae35);
      h ^= h >>> 15;
      const table = this.table, stamp = this.stamp, gen = this.gen, mask = table.length - 1;
      for (slot = h & mask; stamp[slot] === gen; slot = (slot + 1) & mask) {
        const i = table[slot]!;
        if (this.kind[i] === kind && this.code[i] === code && this.k[i] === k && this.base[i] === base) return i;
      }
    }
    if (n === this.kind.length) {
      this.grow();
      return this.get(kind, code, k, base, vlo, vhi);
    }
    if (slot >= 0) {
      this.table[slot] = n;
      this.stamp[slot] = this.gen;
    }
    this.n = n + 1;
    this.kind[n] = kind;
    this.code[n] = code;
    this.k[n] = k;
    this.base[n] = base;
    this.vlo[n] = vlo;
    this.vhi[n] = vhi;
    if (kind === K_ABS || kind === K_IND || kind === K_MSH) {
      const size = kind === K_MSH ? 1 : code === 0x20 || code === 0x40 ? 4 : code === 0x28 || code === 0x48 ? 2 : 1;
      const space = kind === K_IND ? base + 1 : 0;
      this.space[n] = space;
      this.blo[n] = k;
      this.bhi[n] = k + size;
      let bits = 0;
      const sp = space * 13;
      for (let i = 0; i < size; i++) bits |= 1 << ((sp + k + i) & 31);
      this.bits[n] = bits;
    } else if (kind === K_AND) {
      this.space[n] = this.space[base]!;
      this.blo[n] = this.blo[base]!;
      this.bhi[n] = this.bhi[base]!;
      this.bits[n] = this.bits[base]!;
    } else {
      this.space[n] = -1;
      this.blo[n] = 0;
      this.bhi[n] = 0;
      this.bits[n] = 0;
    }
    return n;
  }

  overlaps(a: number, b: number): boolean {
    const sa = this.space[a]!;
    return sa >= 0 && sa === this.space[b] && this.blo[a]! < this.bhi[b]! && this.blo[b]! < this.bhi[a]!;
  }
}






/** Facts on every one of the edges. */
function join(edges: readonly Edge[], syms: Syms): Fact | undefined {
  const first = edges[0]!.facts;
  let same = true;
  for (let j = 1; j < edges.length; j++) if (edges[j]!.facts !== first) same = false;
  if (same || first === undefined) return first;
  let out: Fact | undefined;
  for (let f: Fact | undefined = first; f !== undefined; f = f.next) {
    let u: Fact | undefined = f;
    for (let j = 1; j < edges.length && u !== undefined; j++) {
      let g: Fact | undefined = edges[j]!.facts;
      while (g !== undefined && g.s !== f.s) g = g.next;
      u = g === undefined ? undefined : unite(u, g, syms.vlo[f.s]!, syms.vhi[f.s]!);
    }
    if (u !== undefined) out = { s: u.s, kind: u.kind, lo: u.lo, hi: u.hi, vals: u.vals, next: out };
  }
  return out;
}

const SYMS = new Syms();
/** The slots on entry: the constant 0, name 0. */
const ZERO_SLOTS: readonly number[] = new Array<number>(16).fill(0);
/**
 * Per-block scratch by position, reused between calls: constant tables, as the routes' (see
 * MAX_SLOTS; a graph of more blocks is left to the rounds).
 */
const fwd: (Stmt[] | undefined)[] = new Array<Stmt[] | undefined>(MAX_SLOTS).fill(undefined);
const fin: (Stmt[] | undefined)[] = new Array<Stmt[] | undefined>(MAX_SLOTS).fill(undefined);
const toJset = new Uint8Array(MAX_SLOTS);
const liveIn = new Int32Array(MAX_SLOTS);
/** Names on entry to and exit from each block (by position). */
const inA = new Int32Array(MAX_SLOTS), inX = new Int32Array(MAX_SLOTS), outA = new Int32Array(MAX_SLOTS), outX = new Int32Array(MAX_SLOTS);
const inM: (readonly number[])[] = [];
const outM: (readonly number[])[] = [];
/** Values a block's check meets (one per statement and the test at most: a block of more statements is left to the rounds). */
const MAX_TOUCHED = 256;
const touched = new Int32Array(MAX_TOUCHED);

/**
 * How many statements that write A any code needs to leave `v` in A, from a block's entry
 * (A, X and the slots holding `ea`, `ex`, `em`): none when A holds it; one when X or a slot
 * does, or for a constant or a load; for an ALU result, one more than for its operand, or for
 * a value that the same operation with another constant turns into it (the value table
 * reassociates add, and, or), whichever is less. Never more than any code needs.
 */
function needA(syms: Syms, v: number, ea: number, ex: number, em: readonly number[], depth: number): number {
  if (v === ea) return 0;
  const kind = syms.kind[v];
  if (kind === K_OPAQUE) return 0;
  if (v === ex || em.includes(v)) return 1;
  if (kind !== K_ALU && kind !== K_AND && kind !== K_ALUX) return 1;
  if (depth > 8) return 1;
  const base = syms.base[v]!;
  if (kind === K_ALUX) {
    const q = syms.k[v]!;
    return 1 + Math.min(needA(syms, base, ea, ex, em, depth + 1), needA(syms, q, ea, ex, em, depth + 1));
  }
  let best = needA(syms, base, ea, ex, em, depth + 1);
  const code = syms.code[v]!;
  if (best > 0 && (code === 0x00 || code === 0x40 || code === 0x50)) {
    // A value of the same operation on the same operand, with another constant.
    const same = (u: number): boolean => u >= 0 && syms.kind[u] === kind && syms.code[u] === code && syms.base[u] === base;
    if (same(ea)) best = 0;
    else if (same(ex) || em.some(same)) best = Math.min(best, 1);
  }
  return 1 + best;
}

/**
 * For block i (by position), whose statements are `stmts` and whose successors read `out`: when
 * its test is on a packet load that is its only load (its last statement) and no location its
 * successors read changes but A, code that makes that load straight from what holds on entry:
 * the load itself (absolute, or at X + k with X holding the base), or `tax` and the load (A
 * holding the base, X not read after). The load is the same (same bytes, the same failure).
 */
function loadAlone(syms: Syms, i: number, stmts: readonly Stmt[], out: number): Stmt[] | undefined {
  const n = stmts.length;
  const last = stmts[n - 1]!.code;
  if (!isLoad(last) || last === 0xb1) return undefined;
  for (let j = 0; j < n - 1; j++) if (isLoad(stmts[j]!.code)) return undefined;
  const em = inM[i]!, xm = outM[i]!;
  if (out & 0xffff) for (let l = 0; l < 16; l++) if ((out >> l) & 1 && xm[l] !== em[l]) return undefined;
  const t = outA[i]!;
  const kind = syms.kind[t];
  if (kind === K_ABS) return out & BX && outX[i] !== inX[i] ? undefined : [{ code: last, k: syms.k[t]! }];
  if (kind !== K_IND) return undefined;
  const base = syms.base[t]!, k = syms.k[t]!;
  if (k >= 0x80000000) return undefined;
  if (inX[i] === base) return out & BX && outX[i] !== base ? undefined : [{ code: last, k }];
  if (inA[i] === base && (!(out & BX) || outX[i] === base)) return [{ code: 0x07, k: 0 }, { code: last, k }];
  return undefined;
}

/** The operand under an added constant (the value itself otherwise): offsets fold into the base. */
function addRoot(syms: Syms, v: number): number {
  return v >= 0 && syms.kind[v] === K_ALU && syms.code[v] === 0x00 ? syms.base[v]! : v;
}

/**
 * A lower bound on the length of any code for block i (by position) that leaves what its
 * successors read (`out`) and feeds its test (`op`, -1 for none; `jset`: an `and #m; jeq #0`
 * made a jset, whose operand is the unmasked value): a statement per slot that must change
 * (st/stx write nothing else), one for X, and as many writes of A as the costliest value that
 * must pass through A needs (see needA). (A load at X + k also needs X to hold its base, up to
 * an added constant.)
 */
function lowerBound(syms: Syms, i: number, out: number, op: number, jset: boolean): number {
  const ea = inA[i]!, ex = inX[i]!, em = inM[i]!;
  const xa = outA[i]!, xx = outX[i]!, xm = outM[i]!;
  let n = 0, costA = 0;
  let xw = false;
  const held = (v: number): boolean => v === ea || v === ex || em.includes(v) || syms.kind[v] === K_OPAQUE || syms.kind[v] === K_CONST || syms.kind[v] === K_MSH;
  if (out & 0xffff) {
    for (let l = 0; l < 16; l++) {
      if (!((out >> l) & 1) || xm[l] === em[l]) continue;
      n++;
      if (!held(xm[l]!)) costA = Math.max(costA, needA(syms, xm[l]!, ea, ex, em, 0));
    }
  }
  if (out & BX && xx !== ex) {
    xw = true;
    if (!held(xx)) costA = Math.max(costA, needA(syms, xx, ea, ex, em, 0));
  }
  let target = -1;
  if (out & BA && xa !== ea) target = xa;
  else if (op >= 0) target = xa;
  if (target >= 0) {
    let c: number;
    if (out & BA) c = needA(syms, target, ea, ex, em, 0);
    else if (jset) c = needA(syms, syms.base[target]!, ea, ex, em, 0);
    else {
      c = needA(syms, target, ea, ex, em, 0);
      // x + c == k is also x == k - c.
      if (op === 0x10 && c > 0 && addRoot(syms, target) !== target) c = Math.min(c, needA(syms, addRoot(syms, target), ea, ex, em, 0));
    }
    costA = Math.max(costA, c);
    // A load at X + k: X must come to hold its base (up to an added constant).
    const v = jset ? syms.base[target]! : target;
    if (!xw && c > 0 && syms.kind[v] === K_IND) {
      const r = addRoot(syms, syms.base[v]!);
      if (addRoot(syms, ex) !== r) xw = true;
    }
  }
  return n + (xw ? 1 : 0) + costA;
}

/** An opaque name for location l where the edges bring different names, with their range. */
function joined(syms: Syms, ins: readonly Edge[], l: number): number {
  let lo = FULL, hi = 0;
  for (let j = 0; j < ins.length; j++) {
    const e = ins[j]!;
    const v = l === LA ? e.a : l === LX ? e.x : e.m[l]!;
    if (v < 0) return syms.get(K_OPAQUE, 0, 0, -1, 0, FULL);
    lo = Math.min(lo, syms.vlo[v]!);
    hi = Math.max(hi, syms.vhi[v]!);
  }
  return syms.get(K_OPAQUE, 0, 0, -1, lo, hi);
}


/** Locations a statement of the kinds taken here reads and writes (bit masks). */
function useOf(code: number, k: number): number {
  switch (code) {
    case 0x60: return 1 << k; // ld M[k]
    case 0x61: return 1 << k; // ldx M[k]
    case 0x02: return BA; // st
    case 0x03: return BX; // stx
    case 0x07: return BA; // tax
    case 0x87: return BX; // txa
    case 0x40: case 0x48: case 0x50: return BX; // ld[hb] [x + k]
    default:
      if ((code & 7) === 0x04) return code & 0x08 ? BA | BX : BA;
      return 0;
  }
}

function defOf(code: number, k: number): number {
  switch (code & 7) {
    case 0x00: case 0x04: return BA;
    case 0x01: return BX;
    case 0x02: case 0x03: return 1 << k;
    default: return code === 0x07 ? BX : BA; // tax : txa
  }
}

/** Packet loads into A (at a constant offset or at X + k). */
const isLoadA = (code: number): boolean => code === 0x20 || code === 0x28 || code === 0x30 || code === 0x40 || code === 0x48 || code === 0x50;

/** Packet loads (the only statements taken here that can end the program). */
const isLoad = (code: number): boolean => code === 0x20 || code === 0x28 || code === 0x30 || code === 0x40 || code === 0x48 || code === 0x50 || code === 0xb1;

/** ALU ops taken here: add, sub, mul, or, and (K or X), lsh, rsh (K). */
function aluOk(code: number): boolean {
  const op = code & 0xf0;
  if (code & 0x08) return op === 0x00 || op === 0x10 || op === 0x20 || op === 0x40 || op === 0x50;
  return op === 0x00 || op === 0x10 || op === 0x20 || op === 0x40 || op === 0x50 || op === 0x60 || op === 0x70;
}

/**
 * Drop reloads and dead code and make `jset` tests where the rounds would (see above); true
 * when the graph qualified and was changed so (or needed nothing), false (nothing changed)
 * otherwise. `g` is the graph of `cfg`.
 */
export function localPath(cfg: Cfg, g: Graph): boolean {
  if (g.headers.size) return false;
  const order = g.order;
  const n = order.length;
  // Statements of kinds not taken here end it at once.
  if (n > MAX_SLOTS) return false;
  for (let i = 0; i < n; i++) if (!localStmts(order[i]!.stmts)) return false;
  const v = view;
  const pos = g.index;
  const stmts: Stmt[][] = [];
  for (let i = 0; i < n; i++) {
    const b = order[i]!;
    const t = b.term;
    stmts.push(b.stmts);
    if (t.kind === 'branch') {
      v.kind[i] = L_BRANCH;
      v.code[i] = t.code;
      v.k[i] = t.k;
      v.jt[i] = pos.get(t.jt)!;
      v.jf[i] = pos.get(t.jf)!;
    } else if (t.kind === 'jump') {
      v.kind[i] = L_JUMP;
      v.jt[i] = pos.get(t.target)!;
    } else {
      v.kind[i] = L_RET;
      v.code[i] = t.code;
      v.k[i] = t.k;
    }
  }
  v.n = n;
  v.stmts = stmts;
  const ok = localCore(v);
  v.stmts = [];
  if (!ok) return false;
  for (let i = 0; i < n; i++) {
    const b = order[i]!;
    const f = fin[i];
    if (f !== undefined) b.stmts = f;
    fin[i] = undefined;
    if (toJset[i]) {
      const t = b.term;
      if (t.kind !== 'branch') continue;
      const m = b.stmts[b.stmts.length - 1]!.k >>> 0;
      b.stmts = b.stmts.slice(0, -1);
      b.term = toJset[i] === 1 ? { kind: 'branch', code: 0x45, k: m, jt: t.jf, jf: t.jt } : { kind: 'branch', code: 0x45, k: m, jt: t.jt, jf: t.jf };
    }
  }
  void cfg;
  return true;
}

/** Are all the statements of kinds the local path takes? */
export function localStmts(stmts: readonly Stmt[]): boolean {
  for (let j = 0; j < stmts.length; j++) {
    const st = stmts[j]!;
    const c = st.code;
    if (isLoad(c) || c === 0x00 || c === 0x01 || c === 0x07 || c === 0x87) continue;
    if ((c === 0x02 || c === 0x03 || c === 0x60 || c === 0x61) && st.k >>> 0 < 16) continue;
    if ((c & 7) === 0x04 && aluOk(c)) continue;
    return false;
  }
  return true;
}

/** Terminator kinds of a LocalView: optimize-fast.ts's (the routes fill both kinds of view from one table). */
const L_RET = fastModule.RET, L_BRANCH = fastModule.BRANCH, L_JUMP = fastModule.JUMP;

/**
 * A graph by position in a topological order (entry first, no loop), every statement of a kind
 * localStmts takes: the statements, the terminator's kind, code and k (a branch's or a
 * return's), and the positions of its successors (a jump's target in jt).
 */
export interface LocalView {
  n: number;
  stmts: Stmt[][];
  kind: Uint8Array;
  code: Int32Array;
  k: Int32Array;
  jt: Int32Array;
  jf: Int32Array;
}

const view: LocalView = { n: 0, stmts: [], kind: new Uint8Array(MAX_SLOTS), code: new Int32Array(MAX_SLOTS), k: new Int32Array(MAX_SLOTS), jt: new Int32Array(MAX_SLOTS), jf: new Int32Array(MAX_SLOTS) };

/**
 * What localCore leaves when it succeeds, by position: the new statements (undefined: as they
 * were; the caller takes them and resets the entry) and whether the test becomes a jset (1: the
 * other way round, 2: the same way), its mask then the last statement, which goes.
 */
export function localResult(): { stmts: (Stmt[] | undefined)[]; jset: Uint8Array } {
  return { stmts: fin, jset: toJset };
}

/**
 * The local path on a view (see localPath): true when the graph qualified; then localResult
 * holds what changes.
 */
export function localCore(v: LocalView): boolean {
  const n = v.n;
  const vstmts = v.stmts, vkind = v.kind, vcode = v.code, vk = v.k, vjt = v.jt, vjf = v.jf;
  if (n > MAX_SLOTS) return false;
  const syms = SYMS;
  syms.reset();
  const incoming: Edge[][] = [];
  for (let i = 0; i < n; i++) incoming.push([]);
  // What A, X and the slots hold (names, -1: none): the slots copied on write.
  let A = -1, X = -1;
  let m = ZERO_SLOTS;
  let own = false;
  for (let i = 0; i < n; i++) {
    const ins = incoming[i]!;
    const bstmts = vstmts[i]!;
    const bkind = vkind[i]!;
    let facts: Fact | undefined;
    if (i === 0) {
      // Every location holds 0 on entry (as the analysis takes it): the first name made.
      A = X = syms.get(K_CONST, 0, 0, -1, 0, 0);
      m = ZERO_SLOTS;
      own = false;
    } else {
      if (ins.length === 0) return false;
      // A block that only returns reads nothing of what holds on its way in (no join).
      if (bstmts.length === 0 && bkind === L_RET) {
        if (vcode[i] !== 0x06) return false;
        fwd[i] = undefined;
        toJset[i] = 0;
        continue;
      }
      const e0 = ins[0]!;
      A = e0.a;
      X = e0.x;
      m = e0.m;
      own = false;
      let diff = 0;
      for (let j = 1; j < ins.length; j++) {
        const ej = ins[j]!;
        if (ej.a !== A) diff |= BA;
        if (ej.x !== X) diff |= BX;
        const mj = ej.m;
        if (mj === m) continue;
        for (let l = 0; l < 16; l++) if (m[l] !== mj[l]) diff |= 1 << l;
      }
      // Where the edges differ, an opaque name with the range of what flows in (as the
      // analysis makes it).
      if (diff) {
        if (diff & BA) A = joined(syms, ins, LA);
        if (diff & BX) X = joined(syms, ins, LX);
        if (diff & 0xffff) {
          m = m.slice();
          for (let l = 0; l < 16; l++) if ((diff >> l) & 1) (m as number[])[l] = joined(syms, ins, l);
        }
      }
      facts = join(ins, syms);
    }
    // (The entry's slots stay as they are: the first write copies them.)
    const entryA = A, entryX = X, entryM = m;
    toJset[i] = 0;
    inA[i] = A;
    inX[i] = X;
    inM[i] = m;
    own = false;
    let wrote = 0;
    let nt = 0;
    let tbits = 0;
    const stmts = bstmts;
    if (stmts.length >= MAX_TOUCHED) return false;
    let kept: Stmt[] | undefined;
    for (let j = 0; j < stmts.length; j++) {
      const st = stmts[j]!;
      const code = st.code;
      const k = st.k >>> 0;
      let dst: number, v: number;
      if (isLoad(code)) {
        if (k >= 0x80000000) return false;
        if (code === 0xb1) {
          dst = LX;
          v = syms.get(K_MSH, 0xb1, k, -1, 0, 60);
        } else {
          dst = LA;
          const size = code === 0x20 || code === 0x40 ? 4 : code === 0x28 || code === 0x48 ? 2 : 1;
          const hi = size === 4 ? FULL : size === 2 ? 0xffff : 0xff;
          if (code < 0x40) v = syms.get(K_ABS, code, k, -1, 0, hi);
          else {
            if (X < 0) X = syms.get(K_OPAQUE, 0, 0, -1, 0, FULL);
            let x = X;
            let kk = k;
            const xk = syms.kind[x];
            // A constant base makes an absolute load in the value table: the rounds' business.
            if (xk === K_CONST) return false;
            // (v + c) + k = v + (c + k) when nothing wraps, as the value table folds it.
            if (xk === K_ALU && syms.code[x] === 0x00) {
              const c = syms.k[x]!;
              const inner = syms.base[x]!;
              if (syms.vhi[inner]! + c + k + size < 0x80000000 && c + k < 0x80000000) {
                kk = c + k;
                x = inner;
              }
            }
            v = syms.get(K_IND, code, kk, x, 0, hi);
          }
        }
        touched[nt++] = v;
        tbits |= syms.bits[v]!;
      } else if (code === 0x00 || code === 0x01) {
        dst = code === 0x00 ? LA : LX;
        v = syms.get(K_CONST, 0, k, -1, k, k);
      } else if (code === 0x07 || code === 0x02) {
        // tax, st: A's name.
        if (A < 0) A = syms.get(K_OPAQUE, 0, 0, -1, 0, FULL);
        dst = code === 0x07 ? LX : k;
        v = A;
      } else if (code === 0x87 || code === 0x03) {
        // txa, stx: X's name.
        if (X < 0) X = syms.get(K_OPAQUE, 0, 0, -1, 0, FULL);
        dst = code === 0x87 ? LA : k;
        v = X;
      } else if (code === 0x60 || code === 0x61) {
        dst = code === 0x60 ? LA : LX;
        v = m[k]!;
        if (v < 0) {
          v = syms.get(K_OPAQUE, 0, 0, -1, 0, FULL);
          if (!own) {
            m = m.slice();
            own = true;
          }
          (m as number[])[k] = v;
        }
      } else {
        // ALU on A.
        dst = LA;
        if (A < 0) A = syms.get(K_OPAQUE, 0, 0, -1, 0, FULL);
        const a = A;
        if (syms.kind[a] === K_CONST) return false;
        const op = code & 0xf0;
        const ahi = syms.vhi[a]!;
        if (code & 0x08) {
          if (X < 0) X = syms.get(K_OPAQUE, 0, 0, -1, 0, FULL);
          const x = X;
          if (syms.kind[x] === K_CONST) return false;
          if (a === x && (op === 0x10 || op === 0x40 || op === 0x50)) return false;
          // Commutative operations: operands in one order (lower name first), so that x op y and
          // y op x get one name, as in the value table.
          let p = a, q = x;
          if (op !== 0x10 && q < p) {
            p = x;
            q = a;
          }
          const xlo = syms.vlo[q]!, xhi = syms.vhi[q]!;
          const plo = syms.vlo[p]!, phi = syms.vhi[p]!;
          let lo = 0, hi = FULL;
          if (op === 0x00 && phi + xhi <= FULL) {
            lo = plo + xlo;
            hi = phi + xhi;
          } else if (op === 0x20 && phi * xhi <= FULL) {
            lo = plo * xlo;
            hi = phi * xhi;
          } else if (op === 0x10 && plo >= xhi) {
            lo = plo - xhi;
            hi = phi - xlo;
          } else if (op === 0x50) hi = Math.min(phi, xhi);
          else if (op === 0x40) {
            lo = Math.max(plo, xlo);
            hi = fillBelow(Math.max(phi, xhi));
          }
          v = syms.get(K_ALUX, op, q, p, lo, hi);
        } else {
          let c = k;
          if (op === 0x10) {
            if (c === 0) return false;
            c = (-c) >>> 0;
          }
          const aop = op === 0x10 ? 0x00 : op;
          // Identity and absorbing constants simplify in the value table.
          if (c === 0 && aop !== 0x20) return false;
          if ((aop === 0x20 && (c === 0 || c === 1)) || ((aop === 0x60 || aop === 0x70) && c >= 32)) return false;
          let base = a;
          if (aop === 0x50) {
            const ak = syms.kind[a];
            // Masks that clear no bit, masks of masks, masks of an or, narrowing masks: simplified there.
            if (((fillBelow(ahi) & ~c) >>> 0) === 0 || ak === K_AND || (ak === K_ALU && syms.code[a] === 0x40)) return false;
            if (ak === K_ABS || ak === K_IND) {
              const w = syms.bhi[a]! - syms.blo[a]!;
              if ((c === 0xff && w >= 2) || (c === 0xffff && w === 4)) return false;
            }
            v = syms.get(K_AND, 0x50, c, a, 0, Math.min(ahi, c));
          } else {
            // Reassociate (x op c1) op c2 for add and or.
            if ((aop === 0x00 || aop === 0x40) && syms.kind[a] === K_ALU && syms.code[a] === aop) {
              const c1 = syms.k[a]!;
              base = syms.base[a]!;
              c = aop === 0x00 ? (c1 + c) >>> 0 : (c1 | c) >>> 0;
              if (c === 0) return false;
            }
            const blo = syms.vlo[base]!, bhi = syms.vhi[base]!;
            let lo = 0, hi = FULL;
            if (aop === 0x00) {
              if (bhi + c <= FULL) {
                lo = blo + c;
                hi = bhi + c;
              }
            } else if (aop === 0x20) {
              if (bhi * c <= FULL) {
                lo = blo * c;
                hi = bhi * c;
              }
            } else if (aop === 0x40) {
              lo = Math.max(blo, c);
              hi = fillBelow(Math.max(bhi, c));
            } else if (aop === 0x60) {
              if (bhi * 2 ** c <= FULL) {
                lo = blo * 2 ** c;
                hi = bhi * 2 ** c;
              }
            } else {
              lo = Math.floor(blo / 2 ** c);
              hi = Math.floor(bhi / 2 ** c);
            }
            v = syms.get(K_ALU, aop, c, base, lo, hi);
          }
        }
      }
      if ((dst === LA ? A : dst === LX ? X : m[dst]) === v) {
        if (kept === undefined) kept = stmts.slice(0, j);
        continue;
      }
      if (dst === LA) A = v;
      else if (dst === LX) X = v;
      else {
        if (!own) {
          m = m.slice();
          own = true;
        }
        (m as number[])[dst] = v;
      }
      wrote |= 1 << dst;
      if (kept !== undefined) kept.push(st);
    }
    fwd[i] = kept;
    outA[i] = A;
    outX[i] = X;
    outM[i] = m;
    // A location written and left as it was on entry: the rounds may drop more.
    if (wrote & BA && A === entryA && A !== -1) return false;
    if (wrote & BX && X === entryX && X !== -1) return false;
    if (wrote & 0xffff) for (let l = 0; l < 16; l++) if ((wrote >> l) & 1 && m[l] === entryM[l] && m[l] !== -1) return false;
    if (bkind === L_RET) {
      if (vcode[i] !== 0x06) return false;
      continue;
    }
    if (bkind === L_JUMP) {
      incoming[vjt[i]!]!.push({ facts, a: A, x: X, m, exit: -1, bits: 0, prev: -1 });
      continue;
    }
    const tcode = vcode[i]!;
    const op = tcode & 0xf0;
    if ((tcode & 0x08) !== 0 || op === 0 || op > 0x40) return false;
    if (A < 0) A = syms.get(K_OPAQUE, 0, 0, -1, 0, FULL);
    const a = A;
    const k = vk[i]! >>> 0;
    const kind = syms.kind[a];
    if (kind === K_CONST || kind === K_MSH) return false;
    const lo = syms.vlo[a]!, mx = syms.vhi[a]!;
    let jset = false;
    if (kind === K_AND) {
      const m = syms.k[a]!;
      // (x & m) == 0 is jset #m the other way round; (x & bit) == bit is jset #bit.
      if (op === 0x10 && k === 0) {
        jset = true;
        toJset[i] = 1;
      } else if (op === 0x10 && k === m && ((m & (m - 1)) >>> 0) === 0) {
        jset = true;
        toJset[i] = 2;
      } else if (op === 0x10 ? k === m || (k & ~mx) >>> 0 !== 0 || ((m & (m - 1)) >>> 0) === 0 : op === 0x20 ? k >= mx || k < lo : op === 0x30 ? k <= lo || k > mx : true) return false;
    } else if (op === 0x10 ? k > mx || k < lo : op === 0x20 ? k >= mx || k < lo : op === 0x30 ? k <= lo || k > mx : (k & fillBelow(mx)) === 0) return false;
    touched[nt++] = a;
    tbits |= syms.bits[a]!;
    // No edge in may know anything of the bytes this block reads (or of its tested value),
    // except facts on the tested value that leave its test undecided.
    let known: Fact | undefined;
    for (let e = 0; e < ins.length; e++) {
      for (let f = ins[e]!.facts; f !== undefined; f = f.next) {
        if (f.s !== a) {
          if ((syms.bits[f.s]! & tbits) === 0) continue;
          let hit = false;
          for (let q = 0; q < nt && !hit; q++) hit = syms.overlaps(f.s, touched[q]!);
          if (!hit) continue;
          return false;
        }
        if (op === 0x40 || jset || f.kind === OPAQUE || (kind === K_AND && f.vals.length > 1)) return false;
        if (!possible(f, op, k, true) || !possible(f, op, k, false)) return false;
      }
    }
    for (let f = facts; f !== undefined; f = f.next) if (f.s === a) known = f;
    let ft: Fact, ff: Fact;
    if (op === 0x40 || jset) ft = ff = add(facts, opaque(a), known);
    else if (known === undefined && op === 0x10) {
      // (What apply and add make for the first test of a value, most tests: without the copies.)
      ft = { s: a, kind: IN, lo: 0, hi: 0, vals: [k], next: facts };
      ff = { s: a, kind: RANGE, lo, hi: mx, vals: k >= lo && k <= mx ? [k] : NO_VALS, next: facts };
    } else {
      const base = known ?? { s: a, kind: RANGE, lo, hi: mx, vals: NO_VALS, next: undefined };
      ft = add(facts, apply(base, op, k, true), known);
      ff = add(facts, apply(base, op, k, false), known);
    }
    // A test of a packet load into A (its only statement left) or of what A holds, in a chain
    // whose values repeat other than one after the other: the rounds may regroup it (see
    // optimize-fast.ts), so they take the graph.
    let exitT = -1, exitF = -1, bits = 0;
    const left = kept ?? stmts;
    const pj = vjt[i]!, pf = vjf[i]!;
    if ((tcode & 0x08) === 0 && pj !== pf && (left.length === 0 || (left.length === 1 && isLoadA(left[0]!.code)))) {
      const e = ins.length === 1 ? ins[0]! : undefined;
      bits = e !== undefined ? chainStep(e.exit, e.bits, e.prev, a, entryA, pj, pf) : chainStep(-1, 0, -1, a, entryA, pj, pf);
      if (bits === REGROUPS) return false;
      exitT = pf;
      exitF = pj;
    }
    incoming[pj]!.push({ facts: ft, a, x: X, m, exit: exitT, bits, prev: a });
    incoming[pf]!.push({ facts: ff, a, x: X, m, exit: exitF, bits, prev: a });
  }
  // Backward: live-in sets (successors first), dead statements dropped (a dead load gives up).
  const final = fin;
  for (let i = n - 1; i >= 0; i--) {
    const tk = vkind[i]!;
    let live: number;
    if (tk === L_RET) live = 0;
    else if (tk === L_JUMP) live = liveIn[vjt[i]!]!;
    else {
      live = liveIn[vjt[i]!]! | liveIn[vjf[i]!]!;
      // The masked value must not be needed after a jset.
      if (toJset[i] && live & BA) return false;
    }
    const out = live;
    if (tk === L_BRANCH) live |= BA;
    const stmts = fwd[i] ?? vstmts[i]!;
    let keep: Stmt[] | undefined;
    for (let j = stmts.length - 1; j >= 0; j--) {
      const st = stmts[j]!;
      const code = st.code, k = st.k >>> 0;
      const def = defOf(code, k);
      if ((def & live) === 0) {
        if (isLoad(code)) return false;
        if (keep === undefined) keep = stmts.slice(j + 1).reverse();
        continue;
      }
      live = (live & ~def) | useOf(code, k);
      if (keep !== undefined) keep.push(st);
    }
    liveIn[i] = live;
    final[i] = keep !== undefined ? keep.reverse() : fwd[i] !== undefined ? stmts : undefined;
    // Where the rounds would search for shorter code (at most 10 statements), no shorter code
    // may exist.
    const len = (final[i] ?? stmts).length - (toJset[i] ? 1 : 0);
    if (len > 1 && len <= 10) {
      const least = lowerBound(syms, i, out, tk === L_BRANCH ? vcode[i]! & 0xf0 : -1, toJset[i] !== 0);
      if (len > least) {
        // The one shorter form taken here: a test of a packet load, the block's only load, made
        // straight from what A or X holds (what the rounds' instruction selection finds).
        const code = tk === L_BRANCH && !toJset[i] ? loadAlone(syms, i, final[i] ?? stmts, out) : undefined;
        if (code === undefined || code.length > least) return false;
        final[i] = code;
        liveIn[i] = code.length === 2 ? (out & ~BX) | BA : (out & ~BA) | (code[0]!.code >= 0x40 ? BX : 0);
      }
    }
    // A jump block left without code is the clean-up's business (the rounds').
    if (tk === L_JUMP && final[i] !== undefined && final[i]!.length === 0) return false;
  }
  // The `and #m` under a test that becomes `jset #m` must be the block's last statement.
  for (let i = 0; i < n; i++) {
    if (!toJset[i]) continue;
    const f = final[i] ?? vstmts[i]!;
    if (f.length === 0 || f[f.length - 1]!.code !== 0x54) return false;
  }
  return true;
}
