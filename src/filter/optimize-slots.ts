/**
 * What the flat route (optimize-flat.ts), the local route (optimize-route.ts) and the fast path's
 * walk (optimize-fast.ts) share: the table from a block's id to the slot the route's walk gave
 * it, lists of edges by block, and merging's hash table.
 */
import type { Stmt } from './cfg.js';
import { i32Of } from './optimize-ranges.js';

/**
 * How many blocks the routes (optimize-flat.ts, optimize-route.ts) and the fast and local paths'
 * walks (optimize-fast.ts, optimize-local.ts) take: their tables by block are typed arrays of this
 * length made once, as module-level constants. V8 compiles a module-level `const` typed array
 * into optimised code as a constant (its length and its memory known), where a `let` one that
 * could be swapped for a bigger one costs a load of the binding, a check that it is initialised
 * and loads of its length and memory at every access: the routes ran 1.14x faster on issue 3's
 * expressions with the same tables made constant (measured, src/filter/README.md "Compile
 * speed"). A graph of more blocks (none of the conformance suites' graphs has more than 46) goes
 * to the rounds, which give the same result.
 */
export const MAX_SLOTS = 1024;

/** chainStep's answer where the value comes back in the chain. */
export const REGROUPS = -1;

/**
 * The check the fast and local paths make for chains of tests the rounds could regroup
 * (optimize-regroup.ts; see optimize-fast.ts): a test of value `a` whose sides are the positions
 * `pt` and `pf`, reached by one edge that leaves a test of a chain whose other side is `exit`
 * (-1: no chain, or more than one way in), the chain having tested the values `bits` (a bit per
 * value, folded to 32) and last `prev`; `a0`: the value A held on the way in (-1: none known).
 * The chain's values with `a` (a uint32), or REGROUPS where `a` comes back other than right after
 * itself.
 */
export function chainStep(exit: number, bits: number, prev: number, a: number, a0: number, pt: number, pf: number): number {
  const sb = 1 << (a & 31);
  if (exit >= 0 && (exit === pt || exit === pf)) {
    if ((bits & sb) !== 0 && prev !== a) return REGROUPS;
    return (bits | sb) >>> 0;
  }
  return ((a0 >= 0 ? 1 << (a0 & 31) : 0) | sb) >>> 0;
}

/**
 * Block id → slot for one call of a route: typed arrays reused between calls, an entry valid
 * where its stamp is the call's (nothing cleared per call, no block kept between calls).
 */
export class IdSlots {
  private slot = new Int32Array(256);
  private stamp = new Int32Array(256);
  private epoch = 0;

  /** A new call: every id unseen. */
  clear(): void {
    if (++this.epoch > 0x3fffffff) {
      this.stamp.fill(0);
      this.epoch = 1;
    }
  }

  /** The slot given to `id` (a non-negative integer) this call, or -1. */
  get(id: number): number {
    if (id >= this.slot.length) this.grow(id);
    return this.stamp[id] === this.epoch ? this.slot[id]! : -1;
  }

  set(id: number, s: number): void {
    this.stamp[id] = this.epoch;
    this.slot[id] = s;
  }

  private grow(id: number): void {
    const m = Math.max(id + 1, this.slot.length * 2);
    this.slot = i32Of(this.slot, m);
    this.stamp = i32Of(this.stamp, m);
  }
}

/**
 * Add edge e at the end of the edges into s: lists by block (`head`, `tail`: first and last
 * edge, -1 for none) chained through `next` by edge.
 */
export function linkEdge(e: number, s: number, head: Int32Array, tail: Int32Array, next: Int32Array): void {
  next[e] = -1;
  const tl = tail[s]!;
  if (tl < 0) head[s] = e;
  else next[tl] = e;
  tail[s] = e;
}

/**
 * Merging's open-addressed hash table, reused between calls: by table slot, the kept block's
 * slot + 1 and its hash, valid where the stamp is this call's (nothing cleared per call).
 */
export class MergeTable {
  entry = new Int32Array(256);
  hash = new Int32Array(256);
  stamp = new Int32Array(256);
  epoch = 0;
  /** This call's mask: the table's first mask + 1 entries (at most half full). */
  mask = 0;

  /** A new call that keeps at most m blocks. */
  begin(m: number): void {
    let size = 16;
    while (size < 2 * m) size *= 2;
    if (size > this.entry.length) {
      this.entry = new Int32Array(size);
      this.hash = new Int32Array(size);
      this.stamp = new Int32Array(size);
      this.epoch = 0;
    }
    if (++this.epoch > 0x3fffffff) {
      this.stamp.fill(0);
      this.epoch = 1;
    }
    this.mask = size - 1;
  }
}

/** A block's hash, h (its terminator's and successors') folded with its statements'. */
export function hashStmts(h: number, stmts: readonly Stmt[]): number {
  for (let j = 0; j < stmts.length; j++) h = Math.imul(h ^ stmts[j]!.code, 0x01000193) ^ Math.imul(stmts[j]!.k, 0x5bd1e995);
  return h | 0;
}
