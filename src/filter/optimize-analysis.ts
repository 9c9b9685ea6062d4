/**
 * The optimiser's analyses over a Cfg:
 *
 * - graph: blocks reachable from the entry in reverse postorder,
 *   predecessors, and the blocks that lie on a loop (protochain's header
 *   walk) — those are analysed soundly but never rewritten.
 * - forward: for each block, the value in every register and scratch slot
 *   on entry (the same value number when all predecessors agree, an opaque
 *   value otherwise), the facts and the safety that hold there (see
 *   optimize-facts.ts), the effects of its statements, its test, and the
 *   state on exit. At a loop header nothing is known about registers.
 * - liveness: which registers and slots a block's code may read before
 *   writing them (bits 0..15 the slots, 16 A, 17 X).
 */
import * as insn from '../cbpf/insn.js';
import type { Block, Cfg, Stmt } from './cfg.js';
import * as factsMod from './optimize-facts.js';
import { Safety } from './optimize-facts.js';
import { Facts, type Cond } from './optimize-facts.js';
import * as values from './optimize-values.js';
import type { Effect, State, ValueTable } from './optimize-values.js';

// Module-level copies: cheaper than cross-module bindings in hot loops (tsx compiles those to getters).
const { BPF_A, BPF_JMP, BPF_RET, BPF_X, bpfClass, bpfRval, bpfSrc } = insn;
const { addFact, mayFail, record } = factsMod;
const { E_LOAD, LOC_A, LOC_X, NLOC, step } = values;

export const BIT_A = 1 << LOC_A;
export const BIT_X = 1 << LOC_X;
export const ALL_LOCS = (1 << NLOC) - 1;

export function successors(b: Block): Block[] {
  const t = b.term;
  if (t.kind === 'branch') return t.jt === t.jf ? [t.jt] : [t.jt, t.jf];
  if (t.kind === 'jump') return [t.target];
  return [];
}

/**
 * A table keyed by blocks: by array position for blocks with an `ix` (the optimiser's working
 * copies), through a Map for any other block. Only get/set/has.
 */
export class BlockMap<V> {
  private readonly keys: (Block | undefined)[] = [];
  private readonly vals: (V | undefined)[] = [];
  private other: Map<Block, V> | undefined = undefined;

  get(b: Block): V | undefined {
    const i = b.ix;
    if (i !== undefined) return this.keys[i] === b ? this.vals[i] : undefined;
    return this.other === undefined ? undefined : this.other.get(b);
  }

  has(b: Block): boolean {
    const i = b.ix;
    if (i !== undefined) return this.keys[i] === b;
    return this.other !== undefined && this.other.has(b);
  }

  /** Fill from arrays indexed by `ix` (`keys[i].ix === i` for every key present); takes them over. */
  static dense<V>(keys: (Block | undefined)[], vals: (V | undefined)[]): BlockMap<V> {
    const m = new BlockMap<V>();
    (m as unknown as { keys: (Block | undefined)[] }).keys = keys;
    (m as unknown as { vals: (V | undefined)[] }).vals = vals;
    return m;
  }

  set(b: Block, v: V): this {
    const i = b.ix;
    if (i !== undefined) {
      this.keys[i] = b;
      this.vals[i] = v;
    } else (this.other ??= new Map()).set(b, v);
    return this;
  }
}

export interface Graph {
  /** Reachable blocks in reverse postorder (a topological order when acyclic). */
  order: Block[];
  index: BlockMap<number>;
  preds: BlockMap<Block[]>;
  /** Blocks on a cycle. */
  inLoop: Set<Block>;
  /** Targets of back edges. */
  headers: Set<Block>;
}

/** The i-th distinct successor of b, or undefined. */
function succAt(b: Block, i: number): Block | undefined {
  const t = b.term;
  if (t.kind === 'branch') return i === 0 ? t.jt : i === 1 && t.jf !== t.jt ? t.jf : undefined;
  if (t.kind === 'jump') return i === 0 ? t.target : undefined;
  return undefined;
}

/** The loop sets of an acyclic graph (shared, never changed). */
const NO_BLOCKS: Set<Block> = new Set<Block>();

/** Marks of the dense walk, by block `ix`: `epoch` + 1 on the stack, `epoch` + 2 done. */
let marks = new Uint32Array(256);
let epoch = 0;

function grow(ix: number): void {
  const m = new Uint32Array(Math.max(marks.length * 2, ix + 1));
  m.set(marks);
  marks = m;
}

/**
 * buildGraph for graphs whose blocks all have an `ix` (the optimiser's working copies): marks in
 * a typed array, the tables filled by position. Undefined when a block has no `ix`.
 */
function buildGraphDense(cfg: Cfg): Graph | undefined {
  if (epoch > 0xfffffff0) {
    marks.fill(0);
    epoch = 0;
  }
  const on = epoch + 1, done = epoch + 2;
  epoch += 2;
  const post: Block[] = [];
  let headers: Set<Block> | undefined;
  const stack: Block[] = [cfg.entry];
  const next: number[] = [0];
  let max = 0;
  const e = cfg.entry.ix;
  if (e === undefined) return undefined;
  if (e >= marks.length) grow(e);
  marks[e] = on;
  max = e;
  let sp = 0;
  while (sp >= 0) {
    const b = stack[sp]!;
    const t = b.term;
    const i = next[sp]!;
    let n: Block | undefined;
    if (t.kind === 'branch') n = i === 0 ? t.jt : i === 1 && t.jf !== t.jt ? t.jf : undefined;
    else if (t.kind === 'jump') n = i === 0 ? t.target : undefined;
    if (n !== undefined) {
      next[sp] = i + 1;
      const x = n.ix;
      if (x === undefined) return undefined;
      if (x >= marks.length) grow(x);
      const st = marks[x]!;
      if (st !== on && st !== done) {
        marks[x] = on;
        if (x > max) max = x;
        sp++;
        stack[sp] = n;
        next[sp] = 0;
      } else if (st === on) (headers ??= new Set<Block>()).add(n);
    } else {
      marks[b.ix!] = done;
      post.push(b);
      sp--;
    }
  }
  const order = post.reverse();
  const g = denseGraph(order, max);
  if (headers === undefined) return g;
  const preds = g.preds;
  return { order, index: g.index, preds, inLoop: loopBlocks(headers, g.index, preds), headers };
}

/** Predecessor lists of the blocks in `order`, by `ix` (`keys`: the blocks by `ix`). */
function densePreds(order: readonly Block[], keys: (Block | undefined)[]): BlockMap<Block[]> {
  const ps = new Array<Block[] | undefined>(keys.length);
  for (let i = 0; i < order.length; i++) ps[order[i]!.ix!] = [];
  for (let i = 0; i < order.length; i++) {
    const b = order[i]!;
    const t = b.term;
    if (t.kind === 'branch') {
      ps[t.jt.ix!]!.push(b);
      if (t.jf !== t.jt) ps[t.jf.ix!]!.push(b);
    } else if (t.kind === 'jump') ps[t.target.ix!]!.push(b);
  }
  // (The index and predecessor tables share their keys: neither gets a key after this.)
  return BlockMap.dense<Block[]>(keys, ps);
}

/**
 * The graph of an acyclic working copy. Its predecessor lists are made when first asked for
 * (the cheap passes and the fast path never ask): from the edges as they are then, which is
 * as they were when the graph was made wherever it is used (a pass that changes edges makes a
 * new graph before the next one reads predecessors).
 */
class DenseGraph implements Graph {
  private p: BlockMap<Block[]> | undefined = undefined;
  readonly inLoop: Set<Block> = NO_BLOCKS;
  readonly headers: Set<Block> = NO_BLOCKS;

  constructor(
    readonly order: Block[],
    readonly index: BlockMap<number>,
    private readonly keys: (Block | undefined)[],
  ) {}

  get preds(): BlockMap<Block[]> {
    return (this.p ??= densePreds(this.order, this.keys));
  }
}

/**
 * The graph of an acyclic working copy whose reachable blocks (all with an `ix`) are known in
 * a topological order, entry first: no walk needed.
 */
export function graphOfOrder(order: Block[]): Graph {
  let max = 0;
  for (let i = 0; i < order.length; i++) if (order[i]!.ix! > max) max = order[i]!.ix!;
  return denseGraph(order, max);
}

/** The graph of `order`, blocks in a topological order whose `ix` go up to `max` (loops not marked). */
function denseGraph(order: Block[], max: number): DenseGraph {
  const keys = new Array<Block | undefined>(max + 1);
  const ixs = new Array<number | undefined>(max + 1);
  for (let i = 0; i < order.length; i++) {
    const b = order[i]!;
    keys[b.ix!] = b;
    ixs[b.ix!] = i;
  }
  return new DenseGraph(order, BlockMap.dense<number>(keys, ixs), keys);
}

/** Blocks on a loop: those on the natural loop of some header. */
function loopBlocks(headers: Set<Block>, index: BlockMap<number>, preds: BlockMap<Block[]>): Set<Block> {
  const inLoop = new Set<Block>();
  // A block is on a loop when it reaches a header that reaches it back (both within the graph).
  for (const h of headers) {
    // Blocks that reach h backwards from its back-edge sources without passing h: the natural loop.
    const body = new Set<Block>([h]);
    const work: Block[] = preds.get(h)!.filter((p) => index.get(p)! >= index.get(h)!);
    while (work.length) {
      const x = work.pop()!;
      if (body.has(x)) continue;
      body.add(x);
      for (const p of preds.get(x)!) work.push(p);
    }
    for (const x of body) inLoop.add(x);
  }
  return inLoop;
}

export function buildGraph(cfg: Cfg): Graph {
  if (cfg.entry.ix !== undefined) {
    const g = buildGraphDense(cfg);
    if (g !== undefined) return g;
  }
  const post: Block[] = [];
  const state = new BlockMap<number>(); // 1 on stack, 2 done
  const headers = new Set<Block>();
  const stack: Block[] = [cfg.entry];
  const next: number[] = [0];
  state.set(cfg.entry, 1);
  while (stack.length) {
    const top = stack.length - 1;
    const b = stack[top]!;
    const n = succAt(b, next[top]!);
    if (n !== undefined) {
      next[top]!++;
      const st = state.get(n);
      if (st === undefined) {
        state.set(n, 1);
        stack.push(n);
        next.push(0);
      } else if (st === 1) headers.add(n);
    } else {
      state.set(b, 2);
      post.push(b);
      stack.pop();
      next.pop();
    }
  }
  const order = post.reverse();
  const index = new BlockMap<number>();
  const preds = new BlockMap<Block[]>();
  for (let i = 0; i < order.length; i++) {
    index.set(order[i]!, i);
    preds.set(order[i]!, []);
  }
  for (const b of order) {
    for (let i = 0; ; i++) {
      const s = succAt(b, i);
      if (s === undefined) break;
      preds.get(s)!.push(b);
    }
  }
  const inLoop = headers.size ? loopBlocks(headers, index, preds) : new Set<Block>();
  return { order, index, preds, inLoop, headers };
}

/** Locations a statement reads (bit mask). */
export function stmtUse(s: Stmt): number {
  const code = s.code;
  const k = s.k >>> 0;
  switch (code & 7) {
    case 0x00: { // LD
      const mode = code & 0xe0;
      if (mode === 0x60) return k < 16 ? 1 << k : 0;
      if (mode === 0x40) return BIT_X;
      // Linux extensions that read A and X, and ifindex/hatype which may return A.
      if (mode === 0x20 && k >= 0xfffff000) return BIT_A | BIT_X;
      return 0;
    }
    case 0x01: // LDX
      return (code & 0xe0) === 0x60 && k < 16 ? 1 << k : 0;
    case 0x02:
      return BIT_A;
    case 0x03:
      return BIT_X;
    case 0x04:
      return BIT_A | ((code & 0x08) === BPF_X ? BIT_X : 0);
    case 0x07:
      return (code & 0xf8) === 0x80 ? BIT_X : BIT_A;
    default:
      return ALL_LOCS;
  }
}

/** Locations a statement writes (bit mask). */
export function stmtDef(s: Stmt): number {
  switch (s.code & 7) {
    case 0x00:
    case 0x04:
      return BIT_A;
    case 0x01:
      return BIT_X;
    case 0x02:
    case 0x03: {
      const k = s.k >>> 0;
      return k < 16 ? 1 << k : 0;
    }
    case 0x07:
      return (s.code & 0xf8) === 0x80 ? BIT_A : BIT_X;
    default:
      return 0;
  }
}

/** Locations the terminator reads. */
export function termUse(b: Block): number {
  const t = b.term;
  if (t.kind === 'ret') return bpfClass(t.code) === BPF_RET && bpfRval(t.code) === BPF_A ? BIT_A : 0;
  if (t.kind === 'branch') return BIT_A | (bpfSrc(t.code) === BPF_X ? BIT_X : 0);
  return 0;
}

/** Live-in sets of every block, to a fixpoint (loops included). */
export function liveness(g: Graph): BlockMap<number> {
  const liveIn = new BlockMap<number>();
  const n = g.order.length;
  const uses = new Array<number>(n);
  const defs = new Array<number>(n);
  for (let i = 0; i < n; i++) {
    const b = g.order[i]!;
    let use = 0, def = 0;
    for (const s of b.stmts) {
      use |= stmtUse(s) & ~def;
      def |= stmtDef(s);
    }
    use |= termUse(b) & ~def;
    uses[i] = use;
    defs[i] = def;
    liveIn.set(b, use);
  }
  // Successors come later in the order except on a loop's back edge: without loops, one
  // backward pass is the fixpoint.
  const again = g.headers.size > 0;
  for (let changed = true; changed; ) {
    changed = false;
    for (let i = n - 1; i >= 0; i--) {
      const b = g.order[i]!;
      const t = b.term;
      const out = t.kind === 'branch' ? liveIn.get(t.jt)! | liveIn.get(t.jf)! : t.kind === 'jump' ? liveIn.get(t.target)! : 0;
      const inn = uses[i]! | (out & ~defs[i]!);
      if (inn !== liveIn.get(b)) {
        liveIn.set(b, inn);
        changed = again;
      }
    }
  }
  return liveIn;
}

export function liveOut(b: Block, liveIn: BlockMap<number>): number {
  const t = b.term;
  if (t.kind === 'branch') return (liveIn.get(t.jt) ?? ALL_LOCS) | (liveIn.get(t.jf) ?? ALL_LOCS);
  if (t.kind === 'jump') return liveIn.get(t.target) ?? ALL_LOCS;
  return 0;
}

/** What the forward analysis knows about one block. */
export interface BlockInfo {
  inState: State;
  outState: State;
  inFacts: Facts;
  inSafety: Safety;
  /** Safety after the statements (before the test). */
  outSafety: Safety;
  /** Effects of the statements in order. */
  effects: Effect[];
  /** The test (for a branch), on the values at its end. */
  cond?: Cond | undefined;
  /** False when some statement is not modelled: leave the block as it is. */
  ok: boolean;
  /** The facts on its true and false edges, once asked for (read only). */
  edgeT?: Facts | undefined;
  edgeF?: Facts | undefined;
}

export interface Analysis {
  g: Graph;
  t: ValueTable;
  info: BlockMap<BlockInfo>;
  /** Live-in sets of the graph as analysed, when the analysis needed them (its own copy). */
  liveIn?: BlockMap<number> | undefined;
}

/** The facts on the edge b → succ (the branch's outcome added). Shared: do not change them. */
export function edgeFacts(a: Analysis, b: Block, succ: Block): Facts {
  const bi = a.info.get(b)!;
  const t = b.term;
  if (t.kind === 'branch' && t.jt !== t.jf && bi.cond && bi.ok) {
    const onTrue = succ === t.jt;
    const known = onTrue ? bi.edgeT : bi.edgeF;
    if (known) return known;
    const f = bi.inFacts.clone();
    addFact(a.t, f, bi.cond, onTrue);
    if (onTrue) bi.edgeT = f;
    else bi.edgeF = f;
    return f;
  }
  return bi.inFacts;
}

/** Run the statements of a block from a state: its exit state and safety, its effects, whether any of them may still fail. */
export function runBlock(
  t: ValueTable,
  stmts: readonly Stmt[],
  state: State,
  safety: Safety,
  facts: Facts | undefined,
): { state: State; safety: Safety; effects: Effect[]; mayFail: boolean; ok: boolean } {
  const s = state.slice();
  // The entry's safety until an effect adds to it (a load past what is known to fit, or any other kind).
  let sf = safety;
  let own = false;
  const effects: Effect[] = [];
  let fails = false;
  let ok = true;
  for (const st of stmts) {
    const start = effects.length;
    if (!step(t, s, st, effects)) {
      effects.length = start;
      ok = false;
      break;
    }
    for (let i = start; i < effects.length; i++) {
      const e = effects[i]!;
      if (!fails && mayFail(t, sf, e, facts)) fails = true;
      if (!own && (e.kind !== E_LOAD || e.end > sf.cap)) {
        sf = sf.clone();
        own = true;
      }
      record(t, sf, e);
    }
  }
  return { state: s, safety: sf, effects, mayFail: fails, ok };
}

/** The test a branch terminator makes, on a state. */
export function condOf(t: ValueTable, b: Block, s: State): Cond | undefined {
  const term = b.term;
  if (term.kind !== 'branch') return undefined;
  const op = term.code & 0xf0;
  return { op, a: s[LOC_A]!, b: bpfSrc(term.code) === BPF_X ? s[LOC_X]! : t.konst(term.k) };
}

/** What holds where nothing is known (shared; never changed). */
const EMPTY_FACTS = new Facts();
const EMPTY_SAFETY = new Safety();

export function analyze(cfg: Cfg, t: ValueTable, g: Graph = buildGraph(cfg)): Analysis {
  const info = new BlockMap<BlockInfo>();
  const a: Analysis = { g, t, info, liveIn: undefined };
  const entryState: State = new Array<number>(NLOC).fill(t.konst(0));
  let live: BlockMap<number> | undefined;
  let dead: number | undefined;
  for (const b of g.order) {
    const preds = g.preds.get(b)!;
    let inState: State;
    let inFacts: Facts;
    let inSafety: Safety;
    if (b === cfg.entry && preds.length === 0) {
      inState = entryState.slice();
      inFacts = new Facts();
      inSafety = new Safety();
    } else {
      // Forward edges only (a back edge's source comes later in the order).
      const fwd: Block[] = [];
      const fwdInfo: BlockInfo[] = [];
      const states: State[] = [];
      for (let i = 0; i < preds.length; i++) {
        const pi = info.get(preds[i]!);
        if (pi === undefined) continue;
        fwd.push(preds[i]!);
        fwdInfo.push(pi);
        states.push(pi.outState);
      }
      if (b === cfg.entry) states.push(entryState);
      const header = g.headers.has(b);
      if (b.stmts.length === 0 && b.term.kind === 'ret' && b !== cfg.entry) {
        // A block that only returns: nothing reads what holds on its entry (folding, threading
        // and rewriting look at tests and statements), so no join is made for it.
        const bi: BlockInfo = {
          inState: states[0]!, outState: states[0]!, inFacts: EMPTY_FACTS, inSafety: EMPTY_SAFETY, outSafety: EMPTY_SAFETY,
          effects: [], ok: true, cond: undefined, edgeT: undefined, edgeF: undefined,
        };
        info.set(b, bi);
        continue;
      }
      live ??= liveness(g);
      const liveIn = live.get(b)!;
      // One way in: the same values (states are never changed once made, so it is shared).
      if (states.length === 1 && !header) inState = states[0]!;
      else inState = new Array<number>(NLOC);
      for (let l = 0; l < NLOC && inState !== states[0]; l++) {
        const v0 = states[0]!;
        let same = !header;
        for (let j = 1; same && j < states.length; j++) if (states[j]![l] !== v0[l]) same = false;
        if (same) inState[l] = v0[l]!;
        else if (header) inState[l] = t.opaque();
        else if (!((liveIn >> l) & 1)) inState[l] = (dead ??= t.opaque()); // never read: any value
        else {
          let lo = Infinity, hi = 0, zeros = 0xffffffff;
          for (const st of states) {
            const vi = t.info[st[l]!]!;
            lo = Math.min(lo, vi.lo);
            hi = Math.max(hi, vi.hi);
            zeros &= vi.zeros;
          }
          inState[l] = t.opaque(lo, hi, zeros >>> 0);
        }
      }
      inFacts = fwd.length ? edgeFacts(a, fwd[0]!, b) : new Facts();
      for (let i = 1; i < fwd.length; i++) inFacts = inFacts.intersect(edgeFacts(a, fwd[i]!, b));
      if (b === cfg.entry) inFacts = new Facts();
      inSafety = fwd.length ? fwdInfo[0]!.outSafety : new Safety();
      for (let i = 1; i < fwd.length; i++) inSafety = inSafety.intersect(fwdInfo[i]!.outSafety);
      if (b === cfg.entry) inSafety = new Safety();
    }
    const r = runBlock(t, b.stmts, inState, inSafety, inFacts);
    // Every field present from the start: one object shape for all blocks.
    const bi: BlockInfo = {
      inState, outState: r.state, inFacts, inSafety, outSafety: r.safety, effects: r.effects, ok: r.ok,
      cond: undefined, edgeT: undefined, edgeF: undefined,
    };
    if (!r.ok) {
      // Unmodelled: nothing is known after it.
      bi.outState = r.state.map(() => t.opaque());
      bi.outSafety = inSafety;
    } else {
      const c = condOf(t, b, r.state);
      if (c) bi.cond = c;
    }
    info.set(b, bi);
  }
  a.liveIn = live;
  return a;
}

export { BPF_A, BPF_JMP };
