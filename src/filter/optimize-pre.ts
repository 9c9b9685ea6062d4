/**
 * A cheap first pass of jump threading, before the optimiser's rounds: code generation tests the
 * same packet field again and again (`ldh [12]; jeq #0x800` once per primitive), and most of what
 * threading does is skip such a test where an earlier test of the same field decides it. This
 * pass does that in one walk of an acyclic graph in topological order, with facts of one kind
 * only: outcomes of tests of an absolute packet load against a constant, made by blocks that do
 * nothing else (`ld[hb] [k]; jxx #c`). An edge into such a block that the facts on it decide goes
 * straight to the side it would take (and on from there, when that block is decided too):
 *
 * - the facts on an edge hold on every path through it (intersection at joins), so a test of the
 *   same field was made on every such path: the skipped load cannot fail there;
 * - the skipped block writes only A; the edge is moved only when A is not read at the new target.
 *
 * What it leaves is what the full analysis would find anyway; the rounds then have less to do.
 */
import type { Block, Cfg } from './cfg.js';
import type { Graph } from './optimize-analysis.js';
import * as analysis from './optimize-analysis.js';

const { BIT_A, stmtDef, stmtUse, termUse } = analysis;

/**
 * Is A live on entry to b (read on some path before it is written)? Memoised by `ix`; past a
 * depth of 64 blocks that neither read nor write A, taken to be live (the caller then keeps
 * its edge where it is). Blocks almost always load A first or test it at once.
 */
function readsA(b: Block, memo: number[], depth: number): boolean {
  const ix = b.ix!;
  const m = memo[ix];
  if (m !== undefined) return m === 2;
  let live: boolean | undefined;
  for (const s of b.stmts) {
    if (stmtUse(s) & BIT_A) {
      live = true;
      break;
    }
    if (stmtDef(s) & BIT_A) {
      live = false;
      break;
    }
  }
  if (live === undefined) {
    const t = b.term;
    if (termUse(b) & BIT_A) live = true;
    else if (t.kind === 'ret') live = false;
    else if (depth >= 64) live = true;
    else if (t.kind === 'jump') live = readsA(t.target, memo, depth + 1);
    else live = readsA(t.jt, memo, depth + 1) || readsA(t.jf, memo, depth + 1);
  }
  memo[ix] = live ? 2 : 1;
  return live;
}

/**
 * A test outcome: load key (code * 2^32 + offset), jump op, constant, truth. Facts form
 * persistent lists (newest first, sharing their tails): an edge adds one to its block's list.
 */
export interface Fact {
  key: number;
  op: number;
  k: number;
  truth: boolean;
  next: Fact | undefined;
}

/** The absolute load a block tests with `jeq #k` (key), or -1 when the block is not such a pure load-and-test. */
function testedLoad(b: Block): number {
  const t = b.term;
  return t.kind === 'branch' && t.code === 0x15 ? loadKey(b) : -1;
}

/** The absolute load a block tests against a constant (key), or -1 when it is not a pure load-and-test. */
export function loadKey(b: Block): number {
  const t = b.term;
  if (t.kind !== 'branch' || b.stmts.length !== 1 || (t.code & 0x08) !== 0 || t.jt === t.jf) return -1;
  const s = b.stmts[0]!;
  const code = s.code;
  // BPF_LD | BPF_ABS | W/H/B, packet offsets only (not Linux's ancillary area or negative offsets).
  if (code !== 0x20 && code !== 0x28 && code !== 0x30) return -1;
  const k = s.k >>> 0;
  if (k >= 0x80000000) return -1;
  return code * 0x100000000 + k;
}

function compare(op: number, a: number, b: number): boolean {
  if (op === 0x10) return a === b;
  if (op === 0x20) return a > b;
  if (op === 0x30) return a >= b;
  return (a & b) !== 0;
}

/** The outcome of `key op k` that facts decide, or undefined. */
export function decide(facts: Fact | undefined, key: number, op: number, k: number): boolean | undefined {
  for (let f = facts; f !== undefined; f = f.next) {
    if (f.key !== key) continue;
    if (f.op === op && f.k === k) return f.truth;
    if (f.op === 0x10 && f.truth) return compare(op, f.k, k);
    if (op === 0x10 && f.op === 0x10 && !f.truth && f.k === k) return false;
  }
  return undefined;
}

function has(list: Fact | undefined, f: Fact): boolean {
  for (let g = list; g !== undefined; g = g.next) {
    if (g === f || (f.key === g.key && f.op === g.op && f.k === g.k && f.truth === g.truth)) return true;
  }
  return false;
}

/** Facts in both lists (lists are never changed once made). */
export function intersect(a: Fact | undefined, b: Fact | undefined): Fact | undefined {
  if (a === b || a === undefined) return a;
  if (b === undefined) return b;
  const kept: Fact[] = [];
  let all = true;
  for (let g: Fact | undefined = a; g !== undefined; g = g.next) {
    if (has(b, g)) kept.push(g);
    else all = false;
  }
  if (all) return a;
  let out: Fact | undefined;
  for (let i = kept.length - 1; i >= 0; i--) {
    const g = kept[i]!;
    out = { key: g.key, op: g.op, k: g.k, truth: g.truth, next: out };
  }
  return out;
}

/** An edge into a block: its source and which of its edges (0 jt, 1 jf, 2 jump). */
interface Edge {
  from: Block;
  side: number;
  facts: Fact | undefined;
}

function retarget(e: Edge, to: Block): void {
  const t = e.from.term;
  if (t.kind === 'branch') {
    if (e.side === 0) t.jt = to;
    else t.jf = to;
  } else if (t.kind === 'jump') t.target = to;
}

/**
 * Tests of A against X right after `tax` or `txa` compare a value with itself (code generation
 * makes them where paths join): jeq and jge always jump to jt, jgt never does. True when one
 * became a jump.
 */
export function prefold(g: Graph): boolean {
  let folded = false;
  for (const b of g.order) {
    const t = b.term;
    const n = b.stmts.length;
    if (t.kind !== 'branch' || (t.code & 0x08) === 0 || n === 0) continue;
    const last = b.stmts[n - 1]!.code;
    if (last !== 0x07 && last !== 0x87) continue; // tax, txa
    const op = t.code & 0xf0;
    if (op === 0x10 || op === 0x30) b.term = { kind: 'jump', target: t.jt };
    else if (op === 0x20) b.term = { kind: 'jump', target: t.jf };
    else continue;
    folded = true;
  }
  return folded;
}

/**
 * Thread edges past decided load tests; true when an edge moved. `g` is the graph of `cfg`.
 * When it walks the graph, the blocks still reached after it are pushed onto `reached` (in the
 * order of `g`, which stays topological: moved edges only skip forward).
 */
export function prethread(cfg: Cfg, g: Graph, reached?: Block[]): boolean {
  if (g.headers.size) return false;
  // Only a load tested twice can be decided: without one, there is nothing to walk for.
  const keys: number[] = [];
  let twice = false;
  for (const b of g.order) {
    const key = testedLoad(b);
    if (key < 0) continue;
    if (keys.includes(key)) {
      twice = true;
      break;
    }
    keys.push(key);
  }
  if (!twice) return false;
  const aLive: number[] = []; // by ix: 1 + whether A is live on entry, when known
  const order = g.order;
  const n = order.length;
  const pos = g.index;
  const incoming: Edge[][] = [];
  for (let i = 0; i < n; i++) incoming.push([]);
  let changed = false;
  for (let i = 0; i < n; i++) {
    const b = order[i]!;
    const ins = incoming[i]!;
    if (i > 0 && ins.length === 0) continue; // no way in any more
    const key = testedLoad(b);
    const t = b.term;
    let facts: Fact | undefined;
    // (Edges into b that stay: the first nIn of ins. Nothing reads ins after this block, so
    // it is not truncated: setting an array's length is a slow call.)
    let nIn = ins.length;
    if (key >= 0 && t.kind === 'branch') {
      const op = t.code & 0xf0;
      const k = t.k >>> 0;
      // Edges the facts decide go on to the side taken (A is only read there if never).
      let kept = 0;
      for (const e of ins) {
        const d = decide(e.facts, key, op, k);
        const to = d === undefined ? undefined : d ? t.jt : t.jf;
        if (to !== undefined && !readsA(to, aLive, 0)) {
          retarget(e, to);
          incoming[pos.get(to)!]!.push(e);
          changed = true;
        } else ins[kept++] = e;
      }
      nIn = kept;
      if (kept === 0 && i > 0) continue;
    }
    if (reached !== undefined) reached.push(b);
    // (A return passes nothing on: no facts to intersect.)
    if (t.kind === 'ret') continue;
    if (i > 0) {
      facts = ins[0]!.facts;
      for (let j = 1; j < nIn; j++) facts = intersect(facts, ins[j]!.facts);
    }
    if (t.kind === 'branch') {
      let ft = facts, ff = facts;
      if (key >= 0) {
        const op = t.code & 0xf0;
        const k = t.k >>> 0;
        ft = { key, op, k, truth: true, next: facts };
        ff = { key, op, k, truth: false, next: facts };
      }
      incoming[pos.get(t.jt)!]!.push({ from: b, side: 0, facts: ft });
      incoming[pos.get(t.jf)!]!.push({ from: b, side: 1, facts: ff });
    } else if (t.kind === 'jump') {
      incoming[pos.get(t.target)!]!.push({ from: b, side: 2, facts });
    }
  }
  return changed;
}

/** The largest value of a packet load of this code (W, H, B). */
function loadMax(code: number): number {
  return code === 0x20 ? 0xffffffff : code === 0x28 ? 0xffff : 0xff;
}

/**
 * Is there nothing for the optimiser to do? True for a graph of tests of distinct packet loads
 * against constants (`ld[hb] [k]; jxx #c`, one load per block) and distinct `ret #k`, where no
 * test is decided by its load's range and every test can still lead to acceptance: no test can
 * decide another (they are on unrelated values), no block can be shorter (each load is needed
 * for its test, nothing holds it before), none is the same as another, none only rejects, and
 * there is nothing to clean up. The rounds would return the same graph.
 */
export function alreadyOptimal(cfg: Cfg): boolean {
  nVisited = 0;
  const r = optimalWalk(cfg);
  // (Clear the tables by id for the next call.)
  for (let i = 0; i < nVisited; i++) {
    const id = visited[i]!.id;
    seenById[id] = undefined;
    acceptsById[id] = 0;
  }
  return r;
}

/**
 * alreadyOptimal's tables, reused between calls with counts of what is in use (a Set per call
 * cost more than the check on the small graphs it answers for): by block id, the block seen
 * with that id and whether it can accept; the blocks seen; the walk's stack; the loads and
 * returns met. Constants (see optimize-slots.ts MAX_SLOTS), for ids below MAX_IDS.
 */
const MAX_IDS = 4096;
const seenById: (Block | undefined)[] = new Array<Block | undefined>(MAX_IDS).fill(undefined);
const acceptsById = new Uint8Array(MAX_IDS);
const visited: Block[] = [];
let nVisited = 0;
const stack: Block[] = [];
const loadsMet: number[] = [];
const retsMet: number[] = [];

function met(list: number[], n: number, v: number): boolean {
  for (let i = 0; i < n; i++) if (list[i] === v) return true;
  return false;
}

function optimalWalk(cfg: Cfg): boolean {
  if (cfg.cyclic) return false;
  const loads = loadsMet;
  const rets = retsMet;
  let nl = 0, nr = 0;
  const work = stack;
  work[0] = cfg.entry;
  let sp = 1;
  let accepting = false;
  while (sp > 0) {
    const b = work[--sp]!;
    const id = b.id;
    // (Ids are small and unique in what code generation makes; otherwise the rounds decide.)
    if (id >>> 0 !== id || id >= MAX_IDS) return false;
    const seen = seenById[id];
    if (seen === b) continue;
    if (seen !== undefined) return false;
    seenById[id] = b;
    visited[nVisited++] = b;
    if (nVisited > 64) return false;
    const t = b.term;
    if (t.kind === 'ret') {
      const k = t.k >>> 0;
      if (t.code !== 0x06 || b.stmts.length !== 0 || met(rets, nr, k)) return false;
      rets[nr++] = k;
      if (k !== 0) {
        acceptsById[id] = 1;
        accepting = true;
      }
      continue;
    }
    if (t.kind !== 'branch' || t.jt === t.jf) return false;
    const key = loadKey(b);
    if (key < 0 || met(loads, nl, key)) return false;
    loads[nl++] = key;
    const code = b.stmts[0]!.code;
    const max = loadMax(code);
    const k = t.k >>> 0;
    const op = t.code & 0xf0;
    if (op === 0x10 ? k > max : op === 0x20 ? k >= max : op === 0x30 ? k === 0 || k > max : (k & max) === 0) return false;
    work[sp++] = t.jt;
    work[sp++] = t.jf;
  }
  // Every test must reach a `ret` that accepts (else it would sink to `ret #0`).
  if (!accepting) return false;
  for (let changed = true; changed; ) {
    changed = false;
    for (let i = nVisited - 1; i >= 0; i--) {
      const b = visited[i]!;
      const t = b.term;
      if (acceptsById[b.id] || t.kind !== 'branch') continue;
      if (acceptsById[t.jt.id] || acceptsById[t.jf.id]) {
        acceptsById[b.id] = 1;
        changed = true;
      }
    }
  }
  for (let i = 0; i < nVisited; i++) {
    const b = visited[i]!;
    if (b.term.kind === 'branch' && !acceptsById[b.id]) return false;
  }
  return true;
}
