/**
 * Structural clean-ups and block merging:
 *
 * - jumps through blocks that hold nothing but a jump go straight to the
 *   end of the chain; a test whose two sides are the same block is a jump;
 * - a block that jumps to a block only it reaches absorbs it;
 * - blocks that are identical (same statements, same test, same successors)
 *   become one, bottom-up, so that the graph becomes a DAG with shared tails
 *   (libpcap's intern_blocks).
 */
import type { Block, Cfg } from './cfg.js';
import * as cfgModule from './cfg.js';
import * as analysis from './optimize-analysis.js';
import type { Graph } from './optimize-analysis.js';

// Module-level copies: cheaper than cross-module bindings in hot loops (tsx compiles those to getters).
const { buildGraph, graphOfOrder, successors } = analysis;
const { sameStmts } = cfgModule;

/** Follow blocks that only jump. */
function resolve(b: Block): Block {
  // A cycle of empty jumps (never generated) stops the walk after a bounded number of steps.
  for (let steps = 0; b.term.kind === 'jump' && b.stmts.length === 0 && steps < 4096; steps++) b = b.term.target;
  return b;
}

/** What retarget reports: some edge or terminator changed; the block ends in a jump. */
const CHANGED = 1, JUMPS = 2;

/**
 * Cleanup's first step for one block: its edges pass over chains of empty jumps, and a test with
 * the same block on both sides becomes a jump.
 */
function retarget(b: Block): number {
  const t = b.term;
  if (t.kind === 'branch') {
    const jt = resolve(t.jt), jf = resolve(t.jf);
    const r = jt !== t.jt || jf !== t.jf ? CHANGED : 0;
    t.jt = jt;
    t.jf = jf;
    if (jt !== jf) return r;
    b.term = { kind: 'jump', target: jt };
    return CHANGED | JUMPS;
  }
  if (t.kind !== 'jump') return 0;
  const to = resolve(t.target);
  if (to === t.target) return JUMPS;
  t.target = to;
  return CHANGED | JUMPS;
}

/**
 * One round of clean-ups; returns whether anything changed (the entry may be new). With `out`
 * (and a graph of the optimiser's working copies, no loop), `out.g` is then the graph of the
 * changed result: no new walk (undefined: not known, or nothing changed).
 */
export function cleanup(cfg: Cfg, g0?: Graph, out?: { g: Graph | undefined }): boolean {
  if (out !== undefined) {
    out.g = undefined;
    if (g0 !== undefined && g0.headers.size === 0 && dense(g0.order)) return cleanupDense(cfg, g0, out);
  }
  let changed = false;
  let g = g0 ?? buildGraph(cfg);
  let jumps = false;
  for (const b of g.order) {
    const r = retarget(b);
    if (r & CHANGED) changed = true;
    if (r & JUMPS) jumps = true;
  }
  const entry = resolve(cfg.entry);
  if (entry !== cfg.entry) {
    cfg.entry = entry;
    changed = true;
  }
  // Absorb single-predecessor jump targets (where some reachable block jumps: a block that
  // does not is only ever a target).
  if (!jumps) return changed;
  if (changed) g = buildGraph(cfg);
  let dead: Set<Block> | undefined;
  for (const b of g.order) {
    if (dead !== undefined && dead.has(b)) continue;
    for (;;) {
      const t = b.term;
      if (t.kind !== 'jump') break;
      const to = t.target;
      if (to === b || to === cfg.entry || g.preds.get(to)!.length !== 1 || g.headers.has(to)) break;
      (dead ??= new Set<Block>()).add(to);
      b.stmts = [...b.stmts, ...to.stmts];
      b.term = to.term.kind === 'branch' ? { ...to.term } : to.term.kind === 'jump' ? { ...to.term } : { ...to.term };
      // `to` is gone; its successors now have b as predecessor.
      for (const s of successors(b)) {
        const ps = g.preds.get(s)!;
        const i = ps.indexOf(to);
        if (i >= 0) ps[i] = b;
      }
      changed = true;
    }
  }
  return changed;
}

/** Every block has an `ix` (the optimiser's working copies). */
function dense(order: readonly Block[]): boolean {
  for (let i = 0; i < order.length; i++) if (order[i]!.ix === undefined) return false;
  return true;
}

/**
 * By block `ix`, for cleanupDense: the number of predecessors, -1 for a block that goes (an
 * empty jump passed, a block absorbed). Reused between calls (set for the blocks of each).
 */
let preds = new Int32Array(256);

/**
 * cleanup on an acyclic graph whose blocks all have an `ix`: the same changes, with predecessor
 * counts in a typed array instead of a new graph's lists, and `out.g` the graph of the result,
 * made from the order it was given without the blocks that went. That is the order a new walk
 * would give: a block passed or absorbed had one way on, which the walk took straight after it,
 * so leaving it out of the reverse postorder leaves the rest as it was.
 */
function cleanupDense(cfg: Cfg, g: Graph, out: { g: Graph | undefined }): boolean {
  const order = g.order;
  const n = order.length;
  let max = 0;
  for (let i = 0; i < n; i++) if (order[i]!.ix! > max) max = order[i]!.ix!;
  if (max >= preds.length) preds = new Int32Array(Math.max(max + 1, 2 * preds.length));
  const np = preds;
  for (let i = 0; i < n; i++) np[order[i]!.ix!] = 0;
  let changed = false;
  let jumps = false;
  let gone = 0;
  for (let i = 0; i < n; i++) {
    const b = order[i]!;
    // (Every way into an empty jump, all from blocks before it, is passed on by retarget.)
    if (b.term.kind === 'jump' && b.stmts.length === 0) {
      np[b.ix!] = -1;
      gone++;
    }
    const r = retarget(b);
    if (r & CHANGED) changed = true;
    if (r & JUMPS) jumps = true;
  }
  const entry = resolve(cfg.entry);
  if (entry !== cfg.entry) {
    // (The chain may start at a test with the same block on both sides, made a jump above.)
    for (let b = cfg.entry; b !== entry; b = (b.term as { target: Block }).target) {
      if (np[b.ix!] !== -1) {
        np[b.ix!] = -1;
        gone++;
      }
    }
    cfg.entry = entry;
    changed = true;
  }
  if (jumps) {
    // Predecessors on the edges as they are now (each counted once, as in a graph's lists).
    for (let i = 0; i < n; i++) {
      const b = order[i]!;
      if (np[b.ix!] === -1) continue;
      const t = b.term;
      if (t.kind === 'branch') {
        np[t.jt.ix!]!++;
        if (t.jf !== t.jt) np[t.jf.ix!]!++;
      } else if (t.kind === 'jump') np[t.target.ix!]!++;
    }
    // Absorb single-predecessor jump targets (absorbing keeps every count: b takes the place
    // of the block it absorbs).
    for (let i = 0; i < n; i++) {
      const b = order[i]!;
      if (np[b.ix!] === -1) continue;
      for (;;) {
        const t = b.term;
        if (t.kind !== 'jump') break;
        const to = t.target;
        if (to === b || to === cfg.entry || np[to.ix!] !== 1) break;
        np[to.ix!] = -1;
        gone++;
        b.stmts = [...b.stmts, ...to.stmts];
        b.term = to.term.kind === 'branch' ? { ...to.term } : to.term.kind === 'jump' ? { ...to.term } : { ...to.term };
        changed = true;
      }
    }
  }
  if (!changed) return false;
  // (A new graph also where no block went: the old one's predecessor lists may be stale.)
  let kept = order;
  if (gone) {
    kept = [];
    for (let i = 0; i < n; i++) if (np[order[i]!.ix!] !== -1) kept.push(order[i]!);
  }
  out.g = graphOfOrder(kept);
  return true;
}

/** Same terminator, successors compared by their representatives. */
function sameTerm(a: Block, b: Block): boolean {
  const s = a.term, t = b.term;
  if (s.kind === 'ret') return t.kind === 'ret' && s.code === t.code && s.k >>> 0 === t.k >>> 0;
  if (s.kind === 'branch') return t.kind === 'branch' && s.code === t.code && s.k >>> 0 === t.k >>> 0 && s.jt === t.jt && s.jf === t.jf;
  return t.kind === 'jump' && s.target === t.target;
}

/** intern's hash table: position + 1 of a kept block (0: empty), and its hash. */
let table = new Int32Array(256);
let hashes = new Int32Array(256);

/** Merge identical blocks (bottom-up). */
export function intern(cfg: Cfg, g0?: Graph): boolean {
  const g = g0 ?? buildGraph(cfg);
  if (g.headers.size) return false;
  const order = g.order;
  const n = order.length;
  const index = g.index;
  // By position in the order: a block's representative (undefined: itself) and, for kept
  // blocks, a dense id. Kept blocks sit in an open-addressed table by a hash of their code and
  // terminator (successors already replaced by their representatives, so equal blocks have
  // identical successor objects).
  const rep: (Block | undefined)[] = new Array<Block | undefined>(n);
  const id: number[] = new Array<number>(n).fill(0);
  let size = 16;
  while (size < 2 * n) size *= 2;
  // (Scratch tables kept between calls: a typed array costs more to make than to clear.)
  if (size > table.length) {
    table = new Int32Array(size);
    hashes = new Int32Array(size);
  } else table.fill(0, 0, size);
  let next = 0;
  let changed = false;
  const r = (b: Block): Block => rep[index.get(b)!] ?? b;
  for (let i = n - 1; i >= 0; i--) {
    const b = order[i]!;
    const t = b.term;
    let h: number;
    if (t.kind === 'branch') {
      const jt = (t.jt = r(t.jt));
      const jf = (t.jf = r(t.jf));
      h = Math.imul(t.code ^ 0x3b, 0x9e3779b1) ^ t.k ^ Math.imul(id[index.get(jt)!]! + 1, 0x85ebca6b) ^ Math.imul(id[index.get(jf)!]! + 7, 0xc2b2ae35);
    } else if (t.kind === 'jump') {
      const to = (t.target = r(t.target));
      h = Math.imul(id[index.get(to)!]! + 3, 0x27d4eb2f);
    } else h = Math.imul(t.code + 11, 0x165667b1) ^ t.k;
    for (const x of b.stmts) h = Math.imul(h ^ x.code, 0x01000193) ^ Math.imul(x.k, 0x5bd1e995);
    h |= 0;
    let slot = (h ^ (h >>> 15)) & (size - 1);
    let hit: Block | undefined;
    for (let e = table[slot]!; e !== 0; e = table[slot]!) {
      if (hashes[slot] === h) {
        const c = order[e - 1]!;
        if (sameTerm(c, b) && sameStmts(c.stmts, b.stmts)) {
          hit = c;
          break;
        }
      }
      slot = (slot + 1) & (size - 1);
    }
    if (hit !== undefined) {
      rep[i] = hit;
      changed = true;
    } else {
      table[slot] = i + 1;
      hashes[slot] = h;
      id[i] = next++;
    }
  }
  const e = index.get(cfg.entry);
  if (e !== undefined && rep[e] !== undefined) cfg.entry = rep[e]!;
  return changed;
}
