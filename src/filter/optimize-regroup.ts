/**
 * Regrouping a chain of tests on loads that can no longer fail, so that each value is loaded
 * once: what libpcap's or/and pull-up gets for `host a or host b`, without changing a verdict.
 *
 * A chain is a run of blocks b1 → b2 → … → bn, each a test against a constant of a packet load
 * (its only statement; at a constant offset, or at X + k, X being the same all along) or of what
 * A holds, that all send one side of their
 * test to the same block E and the other to the next block (the last one to F), each block after
 * the first reached from its predecessor only. `host a or host b` on Ethernet makes one for IPv4:
 * `[26] == a`, `[30] == a`, `[26] == b`, `[30] == b`, each true side to the accepting return.
 * Such a chain goes to E exactly when some test comes out on its E side: when no load in it can
 * fail (the captured length covers each, known from the loads before), the order of the tests
 * does not matter, and the tests of one value can run together, after one load of it. libpcap's
 * pull-up also moves a test before a load that could still fail (a packet cut inside the IPv4
 * header then passes `[26] == b` where the program as written rejects it at `[30]`); here a
 * chain is regrouped only from the first block at which every load of the rest of it is known to
 * fit: `[26] == a`, `[30] == a` stay first, then the tests of what A holds (`[30] == b`), then one
 * load of `[26]` and its tests. Where E returns 0 (`not host a and not host b`, `host a and host
 * b`'s second operand), a load that fails ends the program as E does, so the chain is regrouped
 * from its first block: libpcap's order, exactly. A must not be read at E or F (the last value
 * loaded changes).
 *
 * The groups: by the value each block tests (value numbers: the same load anywhere is the same
 * value), the one A holds on entry to the chain's rest first (no load), the others in the order
 * their first test comes, each test keeping its order within its group. The chain's blocks are
 * reused in the new order (the first keeps its place: the edges into the chain still reach it),
 * with new statement lists. Only where this makes fewer loads.
 */
import type { Block, Stmt } from './cfg.js';
import * as analysis from './optimize-analysis.js';
import type { Analysis, BlockMap } from './optimize-analysis.js';
import * as facts from './optimize-facts.js';
import * as values from './optimize-values.js';

const { BIT_A, successors } = analysis;
const { mayFail } = facts;
const { LOC_A, LOC_X } = values;

/** A packet load into A at a constant offset or at X + k (ld, ldh, ldb [k] or [x + k]). */
function isLoad(st: Stmt): boolean {
  const c = st.code;
  return (c === 0x20 || c === 0x28 || c === 0x30 || c === 0x40 || c === 0x48 || c === 0x50) && st.k >>> 0 < 0x80000000;
}

/**
 * Can b be a link of a chain: a test against a constant of what A holds, or of a packet load,
 * its only statement (a load leaves X as it is: every load at X + k in a chain has one base)?
 * A reload of what X holds before it (`ldxb 4*([14]&0xf)` before each TCP port load, which the
 * rewrite that follows in the round would drop) does not count.
 */
function linkable(a: Analysis, b: Block): boolean {
  const t = b.term;
  if (t.kind !== 'branch' || t.jt === t.jf || (t.code & 0x08) !== 0) return false;
  if (a.g.inLoop.has(b)) return false;
  const info = a.info.get(b);
  if (info === undefined || !info.ok || info.cond === undefined || info.effects.length !== b.stmts.length) return false;
  const s = b.stmts;
  if (s.length === 0) return true;
  if (!isLoad(s[s.length - 1]!)) return false;
  if (s.length === 1) return true;
  // (X held that value on every way in: the reload cannot fail.)
  return s.length === 2 && s[0]!.code === 0xb1 && info.inState[LOC_X] === info.outState[LOC_X];
}

/** The packet load of a link (its last statement), or undefined for a test of what A holds. */
function loadOf(b: Block): Stmt | undefined {
  const s = b.stmts;
  return s.length ? s[s.length - 1] : undefined;
}

/** The block after b in a chain whose common exit is `exit`: b's other side, when it links on. */
function nextLink(a: Analysis, b: Block, exit: Block): Block | undefined {
  const t = b.term;
  if (t.kind !== 'branch') return undefined;
  const n = t.jt === exit ? t.jf : t.jt;
  if (!linkable(a, n)) return undefined;
  const nt = n.term;
  if (nt.kind !== 'branch' || (nt.jt !== exit && nt.jf !== exit)) return undefined;
  const preds = a.g.preds.get(n);
  return preds !== undefined && preds.length === 1 && preds[0] === b ? n : undefined;
}

/**
 * Regroup every chain where that makes fewer loads (see above); true when some chain changed
 * (the analysis and `liveIn` are then stale). `liveIn`: live-in sets of the analysed graph.
 */
export function regroup(a: Analysis, liveIn: BlockMap<number>): boolean {
  let changed = false;
  const seen = new Set<Block>();
  // What a regrouped chain reaches: what A holds there, and what is known to fit at its exit,
  // are no longer what the analysis says. Chains there wait for the next round's analysis.
  const stale = new Set<Block>();
  for (const head of a.g.order) {
    if (seen.has(head) || stale.has(head) || !linkable(a, head)) continue;
    const ht = head.term;
    if (ht.kind !== 'branch') continue;
    // The common exit: the side of the head the next link also reaches.
    let exit: Block | undefined;
    if (nextLink(a, head, ht.jt) !== undefined) exit = ht.jt;
    else if (nextLink(a, head, ht.jf) !== undefined) exit = ht.jf;
    if (exit === undefined) continue;
    const chain: Block[] = [head];
    for (let n = nextLink(a, head, exit); n !== undefined && !seen.has(n) && n !== exit; n = nextLink(a, n, exit)) chain.push(n);
    for (const b of chain) seen.add(b);
    if (chain.length < 2) continue;
    const last = chain[chain.length - 1]!.term;
    if (last.kind !== 'branch') continue;
    const fall = last.jt === exit ? last.jf : last.jt;
    // (A is not read where the chain leaves: the value last loaded may change.)
    if (((liveIn.get(exit) ?? -1) & BIT_A) !== 0 || ((liveIn.get(fall) ?? -1) & BIT_A) !== 0) continue;
    if (regroupChain(a, chain, exit, fall)) {
      changed = true;
      markReached(exit, stale);
      markReached(fall, stale);
    }
  }
  return changed;
}

/** Add b and every block it reaches to `into`. */
function markReached(b: Block, into: Set<Block>): void {
  const todo = [b];
  for (let x = todo.pop(); x !== undefined; x = todo.pop()) {
    if (into.has(x)) continue;
    into.add(x);
    for (const s of successors(x)) todo.push(s);
  }
}

/**
 * Regroup the chain from its first block at which no load of the rest can fail (from its first
 * where the exit rejects); true when it changed.
 */
function regroupChain(a: Analysis, chain: Block[], exit: Block, fall: Block): boolean {
  const n = chain.length;
  // The first block at which no load from there on can fail any more. Where the exit returns 0, a
  // failing load ends the program as the exit would (no verdict depends on which test or load
  // comes first), so from the first.
  const et = exit.term;
  const rejects = et.kind === 'ret' && et.code === 0x06 && et.k >>> 0 === 0 && exit.stmts.length === 0;
  let from = 0;
  for (; from < n - 1 && !rejects; from++) {
    const safety = a.info.get(chain[from]!)!.inSafety;
    let j = from;
    for (; j < n; j++) {
      const effects = a.info.get(chain[j]!)!.effects;
      if (effects.length && mayFail(a.t, safety, effects[effects.length - 1]!)) break;
    }
    if (j === n) break;
  }
  if (n - from < 2) return false;
  const entryA = a.info.get(chain[from]!)!.inState[LOC_A];
  // Groups by tested value, in the order their first test comes (A's value first).
  const order: number[] = [];
  const members = new Map<number, Block[]>();
  const loadFor = new Map<number, Stmt>();
  let loads = 0;
  for (let i = from; i < n; i++) {
    const b = chain[i]!;
    const v = a.info.get(b)!.cond!.a;
    let m = members.get(v);
    if (m === undefined) {
      members.set(v, (m = []));
      if (v === entryA) order.unshift(v);
      else order.push(v);
    }
    m.push(b);
    const ld = loadOf(b);
    if (ld !== undefined) {
      loads++;
      loadFor.set(v, ld);
    }
  }
  let after = 0;
  for (const v of order) {
    if (v === entryA) continue;
    // (A value no block of the rest loads, other than A's: leave the chain as it is.)
    if (!loadFor.has(v)) return false;
    after++;
  }
  if (after >= loads) return false;
  // The tests in their new order, each with the side that goes to the exit.
  const tests: { code: number; k: number; toExit: boolean; load: Stmt | undefined }[] = [];
  for (const v of order) {
    const m = members.get(v)!;
    for (let j = 0; j < m.length; j++) {
      const t = m[j]!.term;
      if (t.kind !== 'branch') return false;
      tests.push({ code: t.code, k: t.k, toExit: t.jt === exit, load: j === 0 && v !== entryA ? loadFor.get(v) : undefined });
    }
  }
  // The chain's blocks from `from` on, reused in the new order.
  const blocks = chain.slice(from);
  for (let i = 0; i < blocks.length; i++) {
    const b = blocks[i]!;
    const t = tests[i]!;
    const next = i + 1 < blocks.length ? blocks[i + 1]! : fall;
    b.stmts = t.load !== undefined ? [t.load] : [];
    b.term = t.toExit ? { kind: 'branch', code: t.code, k: t.k, jt: exit, jf: next } : { kind: 'branch', code: t.code, k: t.k, jt: next, jf: exit };
  }
  return true;
}
