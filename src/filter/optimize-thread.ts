/**
 * Branch folding and jump threading.
 *
 * - A test whose outcome the facts at its block's entry decide (on every path
 *   that reaches it) becomes a jump to the side it always takes.
 * - An edge P → B where B's test is decided on that edge (by the facts of the
 *   paths through P, which are more than those at B's entry: libpcap uses
 *   edge dominators for this, we use the intersection over all paths to P,
 *   plus P's own outcome) is moved to go straight to the side B would take —
 *   when skipping B changes nothing: none of B's effects can still fail on
 *   that edge, and B writes no location that the new target reads with a
 *   different value.
 *
 * Threading may run on the analysis made before folding: folding removes
 * only edges no packet takes, so what held on every path still holds (an
 * edge folding removed is skipped).
 *
 * Blocks on loops are left alone.
 */
import type { Block, Cfg } from './cfg.js';
import * as factsMod from './optimize-facts.js';
import * as analysis from './optimize-analysis.js';
import type { Analysis, BlockMap } from './optimize-analysis.js';
import * as values from './optimize-values.js';

// Module-level copies: cheaper than cross-module bindings in hot loops (tsx compiles those to getters).
const { decide } = factsMod;
const { condOf, edgeFacts, liveness, runBlock } = analysis;
const { NLOC } = values;

/** Point every edge of p that goes to `from` at `to`. */
export function redirect(p: Block, from: Block, to: Block): void {
  const t = p.term;
  if (t.kind === 'branch') {
    if (t.jt === from) t.jt = to;
    if (t.jf === from) t.jf = to;
  } else if (t.kind === 'jump' && t.target === from) t.target = to;
}

/** Does p still go to b (branch folding may have removed the edge since the analysis)? */
function hasEdge(p: Block, b: Block): boolean {
  const t = p.term;
  if (t.kind === 'branch') return t.jt === b || t.jf === b;
  return t.kind === 'jump' && t.target === b;
}

export function foldBranches(cfg: Cfg, a: Analysis): boolean {
  let changed = false;
  for (const b of a.g.order) {
    const bi = a.info.get(b)!;
    const t = b.term;
    if (t.kind !== 'branch' || !bi.ok || !bi.cond || a.g.inLoop.has(b)) continue;
    if (t.jt === t.jf) {
      b.term = { kind: 'jump', target: t.jt };
      changed = true;
      continue;
    }
    const d = decide(a.t, bi.inFacts, bi.cond);
    if (d === undefined) continue;
    b.term = { kind: 'jump', target: d ? t.jt : t.jf };
    changed = true;
  }
  void cfg;
  return changed;
}

/**
 * Thread what the analysis decides. `stats.blocked` counts edges whose target's test was decided
 * but that could not move (an effect that may still fail, or a location read at the new target
 * that the skipped block changes).
 */
export function threadJumps(
  cfg: Cfg, a: Analysis, liveIn: BlockMap<number> = liveness(a.g), stats?: { blocked: number },
): boolean {
  const t = a.t;
  let changed = false;
  for (const b of a.g.order) {
    const term = b.term;
    if (term.kind !== 'branch' || a.g.inLoop.has(b) || b === cfg.entry) continue;
    const bi = a.info.get(b)!;
    if (!bi.ok) continue;
    const preds = a.g.preds.get(b)!;
    // With one way in, the edge knows what the block's entry knows: folding already decided.
    if (preds.length === 1) continue;
    for (const p of preds) {
      if (a.g.inLoop.has(p) || !hasEdge(p, b)) continue;
      const pi = a.info.get(p)!;
      if (!pi.ok) continue;
      const facts = edgeFacts(a, p, b);
      const r = runBlock(t, b.stmts, pi.outState, pi.outSafety, facts);
      if (!r.ok) continue;
      const c = condOf(t, b, r.state);
      if (!c) continue;
      const d = decide(t, facts, c);
      if (d === undefined) continue;
      const target = d ? term.jt : term.jf;
      const live = liveIn.get(target)!;
      let clash = r.mayFail;
      for (let l = 0; l < NLOC && !clash; l++) if ((live >> l) & 1 && r.state[l] !== pi.outState[l]) clash = true;
      if (clash) {
        if (stats) stats.blocked++;
        continue;
      }
      redirect(p, b, target);
      changed = true;
    }
  }
  return changed;
}
