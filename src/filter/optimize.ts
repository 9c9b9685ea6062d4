/**
 * The optimiser: Cfg → Cfg, never changing a verdict.
 *
 * It does what libpcap's optimiser does — value numbering, constant
 * propagation and folding, dead-store elimination, jump threading, merging
 * identical blocks — with more precise knowledge, and without libpcap's
 * shortcuts that change verdicts (libpcap drops loads whose value it does
 * not need, so a packet too short for them passes; here a load goes only
 * when an earlier one proves it fits):
 *
 * 1. clean-ups (optimize-merge.ts): jump chains, tests with equal sides,
 *    blocks absorbed by their only predecessor;
 * 2. analysis (optimize-analysis.ts): value numbers for A, X and the slots
 *    on entry to every block, the facts and safety that hold there;
 * 3. branch folding and jump threading (optimize-thread.ts), then chains of
 *    tests on loads that can no longer fail regrouped so that each value is
 *    loaded once (optimize-regroup.ts: `host a or host b`);
 * 4. every block rewritten to the shortest code that leaves the values its
 *    successors read, makes the same test and keeps the same effects
 *    (optimize-regen.ts), successors first so that each block knows what is
 *    read after it;
 * 5. identical blocks merged (optimize-merge.ts);
 *
 * repeated until nothing changes. Blocks on a loop (protochain's header
 * walk) are analysed but not rewritten; the rest of such a program is
 * optimised like any other.
 */
import * as insn from '../cbpf/insn.js';
import type { CbpfProgram } from '../cbpf/insn.js';
import type { Block, Cfg } from './cfg.js';
import * as cfgModule from './cfg.js';
import * as analysis from './optimize-analysis.js';
import { BlockMap } from './optimize-analysis.js';
import type { Analysis, Graph } from './optimize-analysis.js';
import * as merge from './optimize-merge.js';
import { fastPath } from './optimize-fast.js';
import { flatProgram, flatRoute } from './optimize-flat.js';
import { localPath } from './optimize-local.js';
import { localProgram, localRoute } from './optimize-route.js';
import type { Handover } from './optimize-route.js';
import { alreadyOptimal, prefold, prethread } from './optimize-pre.js';
import * as regen from './optimize-regen.js';
import { regroup } from './optimize-regroup.js';
import type { BlockSpec } from './optimize-regen.js';
import * as thread from './optimize-thread.js';
import * as values from './optimize-values.js';
import { ValueTable } from './optimize-values.js';

// Module-level copies: cheaper than cross-module bindings in hot loops (tsx compiles those to getters).
const { BPF_A, BPF_RET, bpfClass, bpfRval } = insn;
const { ALL_LOCS, analyze, buildGraph, graphOfOrder, liveOut, liveness, stmtDef, stmtUse, successors, termUse } = analysis;
const { cleanup, intern } = merge;
const { regenerate } = regen;
const { foldBranches, threadJumps } = thread;
const { LOC_A } = values;
const { sameStmts } = cfgModule;

export interface OptimizeOptions {
  /** Upper bound on rounds of the pipeline (default 16). */
  maxRounds?: number;
}

/**
 * A copy of the reachable graph's blocks (the optimiser rewrites blocks in place). Statement
 * arrays are shared: they are never changed in place (cfg.ts), only replaced.
 */
export function cloneCfg(cfg: Cfg): Cfg {
  // Copies found by the original's id (small and unique in what code generation makes); a
  // Map for blocks whose id another block already has.
  const orig: (Block | undefined)[] = [];
  const copy: Block[] = [];
  let other: Map<Block, Block> | undefined;
  const work: Block[] = [];
  const done: Block[] = [];
  let n = 0;
  const get = (b: Block): Block => {
    const id = b.id;
    const small = id >>> 0 === id && id < 0x10000;
    if (small) {
      const o = orig[id];
      if (o === b) return copy[id]!;
      if (o === undefined) {
        const c: Block = { id, stmts: b.stmts, term: b.term, ix: n++ };
        orig[id] = b;
        copy[id] = c;
        work.push(b);
        done.push(c);
        return c;
      }
    }
    let c = (other ??= new Map()).get(b);
    if (c === undefined) {
      c = { id, stmts: b.stmts, term: b.term, ix: n++ };
      other.set(b, c);
      work.push(b);
      done.push(c);
    }
    return c;
  };
  const entry = get(cfg.entry);
  for (let i = 0; i < work.length; i++) {
    const b = work[i]!;
    const c = done[i]!;
    const t = b.term;
    if (t.kind === 'branch') c.term = { kind: 'branch', code: t.code, k: t.k, jt: get(t.jt), jf: get(t.jf) };
    else if (t.kind === 'jump') c.term = { kind: 'jump', target: get(t.target) };
    else c.term = { kind: 'ret', code: t.code, k: t.k };
  }
  const out: Cfg = { entry };
  if (cfg.cyclic) out.cyclic = true;
  return out;
}

function blockLiveIn(b: Block, out: number): number {
  let use = 0, def = 0;
  for (const s of b.stmts) {
    use |= stmtUse(s) & ~def;
    def |= stmtDef(s);
  }
  return use | (termUse(b) & ~def) | (out & ~def);
}

/** Recompute live-in of loop blocks (whose code does not change) from their successors' current sets. */
function refreshLoops(g: Graph, liveIn: BlockMap<number>): void {
  for (let changed = true; changed; ) {
    changed = false;
    for (const b of g.order) {
      if (!g.inLoop.has(b)) continue;
      const inn = blockLiveIn(b, liveOut(b, liveIn));
      if (inn !== liveIn.get(b)) {
        liveIn.set(b, inn);
        changed = true;
      }
    }
  }
}

/**
 * Rewrite every block (successors first). `liveIn` (the live-in sets of the graph as it is, by
 * default computed here) is updated to the rewritten code's.
 */
export function regenAll(a: Analysis, liveIn: BlockMap<number> = liveness(a.g)): boolean {
  const { g, t } = a;
  let changed = false;
  for (let i = g.order.length - 1; i >= 0; i--) {
    const b = g.order[i]!;
    if (g.inLoop.has(b)) continue;
    if (g.inLoop.size && successors(b).some((s) => g.inLoop.has(s))) refreshLoops(g, liveIn);
    const bi = a.info.get(b)!;
    const out = liveOut(b, liveIn);
    if (bi.ok) {
      const term = b.term;
      const spec: BlockSpec = {
        entry: bi.inState,
        safety: bi.inSafety,
        facts: bi.inFacts,
        liveOut: out,
        exit: bi.outState,
        effects: bi.effects,
      };
      if (bi.cond) spec.cond = bi.cond;
      if (term.kind === 'ret' && bpfClass(term.code) === BPF_RET && bpfRval(term.code) === BPF_A) spec.retA = bi.outState[LOC_A]!;
      const br = term.kind === 'branch' ? { code: term.code, k: term.k } : undefined;
      const code = regenerate(t, spec, b.stmts, br);
      if (code) {
        if (!sameStmts(code.stmts, b.stmts)) {
          b.stmts = code.stmts;
          changed = true;
        }
        if (code.branch && term.kind === 'branch') {
          if (code.branch.code !== term.code || code.branch.k >>> 0 !== term.k >>> 0 || code.branch.swap) {
            b.term = {
              kind: 'branch',
              code: code.branch.code,
              k: code.branch.k,
              jt: code.branch.swap ? term.jf : term.jt,
              jf: code.branch.swap ? term.jt : term.jf,
            };
            changed = true;
          }
        }
      }
    }
    liveIn.set(b, bi.ok ? blockLiveIn(b, out) : ALL_LOCS);
  }
  return changed;
}

/**
 * Blocks from which no path can return a non-zero verdict become `ret #0`:
 * whatever they load, a failing load returns 0 too, so nothing they do can
 * matter. (A Linux ifindex/hatype load may return A instead: blocks with one
 * are taken to accept.)
 */
export function sinkRejects(cfg: Cfg, g: Graph = buildGraph(cfg)): boolean {
  const order = g.order;
  const n = order.length;
  const index = g.index;
  // Whether each block can accept, by position in the order (a typed array reused between calls).
  if (n > acceptsBuf.length) acceptsBuf = new Uint8Array(Math.max(n, acceptsBuf.length * 2));
  const accepts = acceptsBuf;
  for (let i = 0; i < n; i++) {
    const b = order[i]!;
    const t = b.term;
    let a = t.kind === 'ret' ? t.code !== 0x06 || t.k >>> 0 !== 0 : false;
    for (const s of b.stmts) {
      if ((s.code & 0xe7) === 0x20 && (s.k >>> 0 === 0xfffff008 || s.k >>> 0 === 0xfffff01c)) a = true;
    }
    accepts[i] = a ? 1 : 0;
  }
  // Successors come later in the order (earlier only on a loop's back edge): one backward pass
  // settles an acyclic graph.
  for (let changed = true; changed; ) {
    changed = false;
    for (let i = n - 1; i >= 0; i--) {
      if (accepts[i]) continue;
      const t = order[i]!.term;
      const a = t.kind === 'branch' ? accepts[index.get(t.jt)!]! | accepts[index.get(t.jf)!]! : t.kind === 'jump' ? accepts[index.get(t.target)!]! : 0;
      if (a) {
        accepts[i] = 1;
        changed = g.headers.size > 0;
      }
    }
  }
  let changed = false;
  for (let i = 0; i < n; i++) {
    if (accepts[i]) continue;
    const b = order[i]!;
    if (b.term.kind === 'ret' && b.stmts.length === 0) continue;
    if (g.inLoop.size && g.inLoop.has(b)) continue;
    b.stmts = [];
    b.term = { kind: 'ret', code: 0x06, k: 0 };
    changed = true;
  }
  return changed;
}

/** sinkRejects's table (grown as needed). */
let acceptsBuf = new Uint8Array(64);

const NO_SHRINK: readonly number[] = [];

/** What the local route leaves where the rounds go on from its clean-up (see optimize-route.ts). */
const HANDOVER: Handover = { order: undefined, entry: undefined, changed: false };

/** The clean-up's graph of what it leaves (emptied after each use). */
const CLEANED: { g: Graph | undefined } = { g: undefined };

/** Does some block of the graph test with the same block on both sides? */
function sameSides(g: Graph): boolean {
  for (const b of g.order) if (b.term.kind === 'branch' && b.term.jt === b.term.jf) return true;
  return false;
}

/**
 * Could a second clean-up change anything after the first and the fast or local path, where
 * nothing merged? The first leaves no jump it could pass or absorb, no test with the same
 * block on both sides, and those paths change statements and tests but no edge: only a block
 * left with nothing but a jump can be passed now (and absorbed into a jump before it).
 */
function emptyJumps(g: Graph): boolean {
  for (const b of g.order) if (b.stmts.length === 0 && b.term.kind === 'jump') return true;
  return false;
}

/** Did some block's live-in set lose a location (against `before`, by position in g.order)? */
function shrank(g: Graph, before: readonly number[], liveIn: BlockMap<number>): boolean {
  for (let i = 0; i < before.length; i++) if (before[i]! & ~liveIn.get(g.order[i]!)!) return true;
  return false;
}

export function optimize(cfg: Cfg, options: OptimizeOptions = {}): Cfg {
  // A graph the rounds would return unchanged is returned as it is (optimize-pre.ts).
  if (alreadyOptimal(cfg)) return cfg;
  // Most other graphs end on the fast path in the first round: that round on flat tables
  // (optimize-flat.ts), where it takes the graph.
  // Graphs that compute and end on the local path in the first round: that round on flat
  // tables too (optimize-route.ts). The rest: the rounds.
  return flatRoute(cfg) ?? localRoute(cfg, HANDOVER) ?? rounds(cfg, options);
}

/**
 * What compile() needs of the optimiser: the optimised graph, or, where the flat or the local
 * route takes the graph, the program linearize() would make of it (made from the route's tables:
 * no blocks for a graph that would only be linearised). The same steps as optimize().
 */
export function optimizeForProgram(cfg: Cfg): Cfg | CbpfProgram {
  if (alreadyOptimal(cfg)) return cfg;
  return flatProgram(cfg) ?? localProgram(cfg, HANDOVER) ?? rounds(cfg, {});
}

/** The rounds, for a graph neither route takes to the end (from where the local route handed it over, if it did). */
function rounds(cfg: Cfg, options: OptimizeOptions): Cfg {
  // (Where it took the graph as far as the clean-up, the rounds go on from there.)
  const handed = HANDOVER.order;
  const work = handed !== undefined ? { entry: HANDOVER.entry! } : cloneCfg(cfg);
  HANDOVER.order = HANDOVER.entry = undefined;
  const t = new ValueTable();
  const maxRounds = options.maxRounds ?? 16;
  let final: Graph | undefined;
  let carry = false;
  for (let round = 0; round < maxRounds; round++) {
    let g: Graph;
    let changed: boolean;
    if (round === 0 && handed !== undefined) {
      g = graphOfOrder(handed);
      changed = HANDOVER.changed;
    } else {
      // One graph for as long as nothing changes the edges.
      g = buildGraph(work);
      // First, the cheap folding and threading of what code generation repeats (optimize-pre.ts).
      // These and reject sinking only need an order in which successors come later and the
      // current edges, so they share one graph (blocks they leave without a way in are skipped or
      // harmlessly sunk); the clean-up needs current predecessors.
      let pre = false;
      let reached: Block[] | undefined;
      if (round === 0) {
        pre = prefold(g);
        reached = [];
        if (prethread(work, g, reached)) pre = true;
      }
      changed = sinkRejects(work, g) || carry;
      carry = false;
      // (Where nothing was sunk, the blocks the threading pass still reached are the graph, in
      // a topological order: no new walk.)
      if (changed) g = buildGraph(work);
      else if (pre) g = reached !== undefined && reached.length ? graphOfOrder(reached) : buildGraph(work);
      let cleaned = false;
      if (cleanup(work, g, CLEANED)) {
        changed = cleaned = true;
        g = CLEANED.g ?? buildGraph(work);
        CLEANED.g = undefined;
      }
      // Most graphs need only their reloads dropped and identical blocks merged: the fast path
      // does that where it can show the rounds would find nothing more (optimize-fast.ts).
      // (After the clean-up, the graph has no jump left that it could remove: the fast path takes
      // no block that jumps. Merging can only leave a test with the same block on both sides.)
      // (Graphs that compute: the local path, optimize-local.ts.)
      if (round === 0 && (fastPath(work, g) || localPath(work, g))) {
        if (!intern(work, g) ? !cleaned || !emptyJumps(g) || !cleanup(work, g) : !sameSides(g)) return { entry: work.entry };
        carry = true;
        continue;
      }
    }
    let a = analyze(work, t, g);
    // Threading works on the same analysis as folding (see optimize-thread.ts), with the
    // live-in sets after folding.
    const folded = foldBranches(work, a);
    // (Folding turns tests into jumps, which read nothing: then the analysis's sets are stale.)
    let liveIn = folded || a.liveIn === undefined ? liveness(a.g) : a.liveIn;
    const stats = { blocked: 0 };
    const threaded = threadJumps(work, a, liveIn, stats);
    if (folded || threaded) {
      changed = true;
      cleanup(work);
      a = analyze(work, t);
      liveIn = liveness(a.g);
    }
    // Chains of tests on loads that can no longer fail, regrouped to load each value once
    // (optimize-regroup.ts): new edges, so a new analysis.
    const regrouped = regroup(a, liveIn);
    if (regrouped) {
      changed = true;
      cleanup(work);
      a = analyze(work, t);
      liveIn = liveness(a.g);
    }
    // After a round of rewriting, a graph that nothing above changed is done
    // (rewriting it again finds what the last rewrite found).
    if (round > 0 && !changed) {
      final = a.g;
      break;
    }
    // (Live-in sets before rewriting: only needed where threading was decided but held back.)
    const before = folded || threaded || regrouped ? undefined : stats.blocked ? a.g.order.map((b) => liveIn.get(b)!) : NO_SHRINK;
    // Rewriting may swap a branch's targets but keeps the edges: the analysis's graph still holds.
    if (regenAll(a, liveIn)) changed = true;
    const interned = intern(work, a.g);
    if (interned) changed = true;
    if (!changed) {
      final = a.g;
      break;
    }
    // The round that would confirm this one can be left out when it could only find what this
    // one found: folding and threading found nothing on this graph, and rewriting kept every
    // test (or its negation) and every live value, so the facts and the values threading
    // compares are the same, and so are its decisions; its effects fail on the same packets.
    // What could differ is a location no longer read where an edge would lead: where a decided
    // edge was held back, no live-in set may have shrunk.
    // Merging identical blocks moves edges to a block with the same code (same decisions on
    // them; folding knows less at a join, not more). The structural clean-ups are cheap and run
    // here; what they change goes on to the next round.
    if (before !== undefined && !shrank(a.g, before, liveIn)) {
      const g2 = interned ? buildGraph(work) : a.g;
      if (!sinkRejects(work, g2) && !cleanup(work, g2)) {
        final = g2;
        break;
      }
      carry = true;
    }
  }
  // A round that changed nothing leaves its graph current; after the last round, clean up.
  if (final === undefined) {
    cleanup(work);
    final = buildGraph(work);
  }
  const out: Cfg = { entry: work.entry };
  if (final.headers.size) out.cyclic = true;
  return out;
}
