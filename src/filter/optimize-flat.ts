/**
 * The flat route: the optimiser's first round (optimize.ts) for the graphs that end on the fast
 * path, on arrays by block instead of a working copy of the blocks and its graphs. It does what
 * that round does, in the same order and with the same results: the first threading pass
 * (optimize-pre.ts), reject sinking, the fast path's walk (optimize-fast.ts) and merging
 * identical blocks; the blocks of the result are made once, at the end.
 *
 * It takes graphs of the kinds that round ends on the fast path for: acyclic, small unique ids,
 * no jump, no test against X, statements only of the kinds the fast path takes and no Linux
 * ancillary load, returns only of constants. It gives up (undefined, nothing changed, the caller
 * runs the rounds) wherever that round would go on: a jump or a test with the same block on both
 * sides to clean up, a graph the fast path does not take, merging that leaves a test with the
 * same block on both sides.
 *
 * A block's slot is the order in which the depth-first walk found it; tables by slot are typed
 * arrays reused between calls; what holds objects is made per call.
 */
import type { CbpfInsn, CbpfProgram } from '../cbpf/insn.js';
import type { Block, Cfg, Stmt, Terminator } from './cfg.js';
import * as cfgModule from './cfg.js';
import * as linearizeModule from './linearize.js';
import * as fast from './optimize-fast.js';
import type { CodeK, FlatGraph } from './optimize-fast.js';
import * as pre from './optimize-pre.js';
import * as slots from './optimize-slots.js';
import type { Fact } from './optimize-pre.js';

// Module-level copies: cheaper than cross-module bindings in hot loops (tsx compiles those to getters).
const { decide, intersect } = pre;
const { sameStmts } = cfgModule;
const { linearize } = linearizeModule;
const { IdSlots, MAX_SLOTS, MergeTable, hashStmts, linkEdge } = slots;
const { BRANCH, RET, byteBits, fastWalk } = fast;

/** A sunk block's terminator (never handed out: the result gets its own). */
const SUNK: CodeK = { code: 0x06, k: 0 };

/** Tables by slot, at a fixed length (see MAX_SLOTS: constants compile to faster code). */
const cap = MAX_SLOTS;
const kind = new Uint8Array(cap);
const jt = new Int32Array(cap);
const jf = new Int32Array(cap);
const order = new Int32Array(cap);
const at = new Int32Array(cap);
/**
 * The absolute load a block tests with `jeq #k` (optimize-pre.ts testedLoad) as its index in
 * `loads` (a small integer: threading's facts name loads by it, mayDecide folds it into bits),
 * or -1.
 */
const key = new Int32Array(cap);
/** The loads blocks test (code * 2^32 + offset) by index, this call; whether one is tested twice. */
const loads = new Float64Array(cap);
let nLoads = 0;
let loadTwice = false;
/**
 * Threading's precheck (mayDecide): by slot, a bit for each load and for each test (`testBit`)
 * of a block reached from it, itself included (bits folded to 32: a bit set may be another's).
 */
const reachLoads = new Int32Array(cap);
const reachTests = new Int32Array(cap);
/**
 * Reject sinking's precheck, made by find on the graph as generated: by slot, whether the block
 * can accept; whether some block would be sunk (one that cannot accept and is not a bare return).
 */
const canAccept = new Uint8Array(cap);
let sinkable = false;
/**
 * Threading's precheck, made by find on the graph as generated (reachLoads, reachTests): may an
 * earlier test decide some test? The fact a `jeq` leaves on its true side decides every later
 * test of its load; on its false side, only the same test (optimize-pre.ts decide).
 */
let mayDecide = false;
/**
 * By slot, the packet bytes read by the block and what it reaches (byteBits, as the fast path's
 * symbols fold them; all bits where an X-relative load reads): the fast
 * path's walk makes facts on a value only for the edges from which its bytes are read again.
 */
const reachBytes = new Int32Array(cap);
/** Walks: 0 unseen, 1 on the path, 2 done; postorder. */
const state = new Uint8Array(cap);
const post = new Int32Array(cap);
/** Threading: whether A is read on entry (0 unknown, 1 no, 2 yes); the first and last edge in. */
const readA = new Uint8Array(cap);
const inHead = new Int32Array(cap);
const inTail = new Int32Array(cap);
/** The blocks still reached after threading, in order. */
const reached = new Int32Array(cap);
/** Reject sinking: whether the block at a position can accept; whether a slot was sunk. */
const accepts = new Uint8Array(cap);
const sunk = new Uint8Array(cap);
/** Merging: a slot's representative (-1: itself) and a kept slot's dense id. */
const rep = new Int32Array(cap);
const denseId = new Int32Array(cap);
/** Threading's edges (two per branch): source slot, side (0 jt, 1 jf), next edge into the same block. */
const eFrom = new Int32Array(2 * cap);
const eSide = new Uint8Array(2 * cap);
const eNext = new Int32Array(2 * cap);
/** Merging's hash table. */
const merging = new MergeTable();
/** The slots merging kept (successors first) and, for emitting the program, each kept slot's tail. */
const kept = new Int32Array(cap);
const tail = new Int32Array(cap);

/**
 * Blocks found so far by id, this call (the block at the slot is checked against the one found:
 * another block with the same id is not taken).
 */
const ids = new IdSlots();

/** What the reused lists hold between calls. */
const NO_STMTS: Stmt[] = [];
const NO_BLOCK: Block = { id: -1, stmts: NO_STMTS, term: { kind: 'ret', code: 0x06, k: 0 } };

/** By slot (reused between calls, the first n this call's): the blocks, their statements and terminators' code and k. */
const blocks: Block[] = [];
const stmtsOf: Stmt[][] = [];
const terms: CodeK[] = [];
let n = 0;

/**
 * The optimiser's first round for a graph that ends on the fast path (see above): the optimised
 * graph (new blocks), or undefined when the graph is not one this takes.
 */
export function flatRoute(cfg: Cfg): Cfg | undefined {
  return flat(cfg, false) as Cfg | undefined;
}

/**
 * flatRoute, then linearize() of its graph, without the graph: the program straight from the
 * tables (the same instructions, in linearize()'s layout), or undefined where flatRoute would
 * give undefined. compile() wants only the program; making the result's blocks and walking them
 * again costs as much as the rest of the route's last step.
 */
export function flatProgram(cfg: Cfg): CbpfProgram | undefined {
  return flat(cfg, true) as CbpfProgram | undefined;
}

/** flatRoute (`program` false) or flatProgram (true). */
function flat(cfg: Cfg, program: boolean): Cfg | CbpfProgram | undefined {
  if (cfg.cyclic) return undefined;
  n = 0;
  nLoads = 0;
  loadTwice = sinkable = mayDecide = false;
  ids.clear();
  try {
    const newStmts: (Stmt[] | undefined)[] = [];
    const e = route(cfg.entry, newStmts);
    if (e < 0) return undefined;
    if (!program) return { entry: buildBlocks(newStmts, e) };
    // (A layout linearize()'s fast path would not take: its general path, from the blocks.)
    return emitProgram(newStmts, e) ?? linearize({ entry: buildBlocks(newStmts, e) });
  } catch (e) {
    // The stack ran out in the walk (a deep caller): the rounds' walks do not recurse.
    if (e instanceof RangeError) return undefined;
    throw e;
  } finally {
    release();
  }
}

/** Empty the reused tables for the next call (nothing of this graph kept). */
function release(): void {
  for (let s = 0; s < n; s++) {
    blocks[s] = NO_BLOCK;
    stmtsOf[s] = NO_STMTS;
    terms[s] = SUNK;
  }
}

/** The slot of b (found now if new), or -1 when the graph is not one the route takes. */
function slotOf(b: Block): number {
  const id = b.id;
  if (id >>> 0 !== id || id >= 0x10000) return -1;
  const seen = ids.get(id);
  if (seen >= 0) return blocks[seen] === b ? seen : -1;
  if (n === cap) return -1; // (more blocks than the tables hold: the rounds)
  const s = n++;
  ids.set(id, s);
  const stmts = b.stmts;
  const t = b.term;
  if (s < blocks.length) {
    blocks[s] = b;
    stmtsOf[s] = stmts;
    terms[s] = t.kind === 'jump' ? SUNK : t;
  } else {
    blocks.push(b);
    stmtsOf.push(stmts);
    terms.push(t.kind === 'jump' ? SUNK : t);
  }
  state[s] = sunk[s] = 0;
  if (t.kind === 'jump') return -1;
  // (Only statements the fast path takes, no Linux ancillary load.)
  let bytes = 0;
  for (let j = 0; j < stmts.length; j++) {
    const st = stmts[j]!;
    const c = st.code;
    const k = st.k >>> 0;
    if (c === 0x20 || c === 0x28 || c === 0x30) {
      if (k >= 0x80000000) return -1;
      bytes |= byteBits(0, k, c === 0x20 ? 4 : c === 0x28 ? 2 : 1);
    } else if (c === 0xb1) bytes |= byteBits(0, k, 1);
    else if (c === 0x40 || c === 0x48 || c === 0x50) bytes = -1;
    else if (c !== 0x54) return -1;
  }
  reachBytes[s] = bytes;
  key[s] = -1;
  if (t.kind === 'ret') {
    if (t.code !== 0x06) return -1;
    kind[s] = RET;
    return s;
  }
  if ((t.code & 0x08) !== 0) return -1;
  kind[s] = BRANCH;
  // (optimize-pre.ts testedLoad: `ld[hb] [k]; jeq #c` and nothing else, with two sides.)
  if (t.code === 0x15 && stmts.length === 1 && t.jt !== t.jf) {
    const st = stmts[0]!;
    const code = st.code;
    if (code === 0x20 || code === 0x28 || code === 0x30) key[s] = loadIndex(code * 0x100000000 + (st.k >>> 0));
  }
  return s;
}

/** The index of a tested load in `loads` (added if new). */
function loadIndex(load: number): number {
  for (let i = 0; i < nLoads; i++) {
    if (loads[i] === load) {
      loadTwice = true;
      return i;
    }
  }
  loads[nLoads] = load;
  return nLoads++;
}

/** Postorder of the walks below so far; false once a walk has failed (back edge, too deep, a block not taken). */
let np = 0;
let walkOk = true;

/** Deeper than this, the walks give up (they recurse; the rounds' walks do not). */
const MAX_DEPTH = 1000;

/** Depth-first from slot s, finding the graph's blocks (successors from the blocks): postorder into `post`. */
function find(s: number, depth: number): void {
  state[s] = 1;
  if (kind[s] === BRANCH) {
    if (depth > MAX_DEPTH) {
      walkOk = false;
      return;
    }
    const t = blocks[s]!.term as Extract<Terminator, { kind: 'branch' }>;
    const a = successor(t.jt, depth);
    if (a < 0) return;
    jt[s] = a;
    const b = t.jf === t.jt ? a : successor(t.jf, depth);
    if (b < 0) return;
    jf[s] = b;
    canAccept[s] = canAccept[a]! | canAccept[b]!;
    if (canAccept[s] === 0) sinkable = true;
    // Threading's precheck: may this test decide a later one? (Successors are done: their bits are set.)
    let loadsOn = reachLoads[a]! | reachLoads[b]!;
    let testsOn = reachTests[a]! | reachTests[b]!;
    const ks = key[s]!;
    if (ks >= 0) {
      const lb = 1 << (ks & 31);
      const tb = testBit(ks, terms[s]!.k);
      if ((reachLoads[a]! & lb) !== 0 || (reachTests[b]! & tb) !== 0) mayDecide = true;
      loadsOn |= lb;
      testsOn |= tb;
    }
    reachLoads[s] = loadsOn;
    reachTests[s] = testsOn;
    reachBytes[s] |= reachBytes[a]! | reachBytes[b]!;
  } else {
    const accepts = terms[s]!.k >>> 0 !== 0;
    canAccept[s] = accepts ? 1 : 0;
    if (!accepts && stmtsOf[s]!.length !== 0) sinkable = true;
    reachLoads[s] = reachTests[s] = 0;
  }
  state[s] = 2;
  post[np++] = s;
}

/** A test's bit for mayDecide: its load's index and its constant, hashed. */
function testBit(load: number, k: number): number {
  return 1 << ((Math.imul(load + 1, 0x9e3779b1) ^ Math.imul(k, 0x85ebca6b)) >>> 27);
}

/** find's step to a successor: its slot, found and walked if new; -1 once the walk has failed. */
function successor(b: Block, depth: number): number {
  const a = slotOf(b);
  if (a < 0) {
    walkOk = false;
    return -1;
  }
  const sa = state[a];
  if (sa === 0) find(a, depth + 1);
  else if (sa === 1) walkOk = false;
  return walkOk ? a : -1;
}

/** Depth-first from slot s over the tables' successors: postorder into `post`. */
function rewalk(s: number): void {
  state[s] = 1;
  if (kind[s] === BRANCH) {
    const a = jt[s]!, b = jf[s]!;
    if (state[a] === 0) rewalk(a);
    if (b !== a && state[b] === 0) rewalk(b);
  }
  state[s] = 2;
  post[np++] = s;
}

/**
 * Depth-first from `e` (true side first), as buildGraph: the reverse postorder into `order`,
 * positions into `at`; how many, or -1 (a back edge, too deep, a block the route does not
 * take). `first`: the graph's blocks are being found, else the successors are the tables' (an
 * acyclic graph no deeper than when found).
 */
function walk(e: number, first: boolean): number {
  np = 0;
  walkOk = true;
  if (first) find(e, 0);
  else rewalk(e);
  if (!walkOk) return -1;
  for (let i = 0; i < np; i++) {
    const s = post[np - 1 - i]!;
    order[i] = s;
    at[s] = i;
  }
  return np;
}

/** Is A read on entry to the block (before a statement writes it)? Memoised in readA. */
function readsA(s: number): boolean {
  const m = readA[s]!;
  if (m !== 0) return m === 2;
  let live = kind[s] === BRANCH;
  const stmts = stmtsOf[s]!;
  for (let j = 0; j < stmts.length; j++) {
    const c = stmts[j]!.code;
    if (c === 0x54) {
      live = true;
      break;
    }
    if (c !== 0xb1) {
      live = false;
      break;
    }
  }
  readA[s] = live ? 2 : 1;
  return live;
}

/**
 * optimize-pre.ts prethread on the tables (order: all n slots): true when an edge moved; the
 * blocks still reached then go to `reached` (how many: the result's count, else 0).
 */
function thread(): number {
  // Only a test that an earlier one may decide can move an edge (a load tested twice, at least):
  // without one, there is nothing to walk for.
  if (!loadTwice || !mayDecide) return 0;
  for (let s = 0; s < n; s++) {
    inHead[s] = inTail[s] = -1;
    readA[s] = 0;
  }
  const facts: (Fact | undefined)[] = [];
  let ne = 0;
  let nr = 0;
  let moved = false;
  for (let i = 0; i < n; i++) {
    const s = order[i]!;
    if (i > 0 && inHead[s]! < 0) continue; // no way in any more
    const k = key[s]!;
    if (k >= 0) {
      const t = terms[s]!;
      const op = t.code & 0xf0;
      const c = t.k >>> 0;
      // Edges the facts decide go on to the side taken (A is only read there if never).
      let e = inHead[s]!;
      inHead[s] = inTail[s] = -1;
      while (e >= 0) {
        const next = eNext[e]!;
        const d = decide(facts[e], k, op, c);
        const to = d === undefined ? -1 : d ? jt[s]! : jf[s]!;
        if (to >= 0 && !readsA(to)) {
          if (eSide[e] === 0) jt[eFrom[e]!] = to;
          else jf[eFrom[e]!] = to;
          linkEdge(e, to, inHead, inTail, eNext);
          moved = true;
        } else linkEdge(e, s, inHead, inTail, eNext);
        e = next;
      }
      if (inHead[s]! < 0 && i > 0) continue;
    }
    reached[nr++] = s;
    // (A return passes nothing on: no facts to intersect.)
    if (kind[s] === RET) continue;
    let f: Fact | undefined;
    if (i > 0) {
      let e = inHead[s]!;
      f = facts[e];
      for (e = eNext[e]!; e >= 0; e = eNext[e]!) f = intersect(f, facts[e]);
    }
    let ft = f, ff = f;
    if (k >= 0) {
      // A fact is made only where a test it may decide is reached (find's bits, made on the
      // graph as generated: an edge threading moves goes further down, where no more is
      // reached): the true side's decides every test of the load, the false side's only the
      // same test (optimize-pre.ts decide). One never made decides nothing downstream.
      const t = terms[s]!;
      const op = t.code & 0xf0;
      const c = t.k >>> 0;
      if ((reachLoads[jt[s]!]! & (1 << (k & 31))) !== 0) ft = { key: k, op, k: c, truth: true, next: f };
      if ((reachTests[jf[s]!]! & testBit(k, t.k)) !== 0) ff = { key: k, op, k: c, truth: false, next: f };
    }
    eFrom[ne] = s;
    eSide[ne] = 0;
    facts.push(ft);
    linkEdge(ne++, jt[s]!, inHead, inTail, eNext);
    eFrom[ne] = s;
    eSide[ne] = 1;
    facts.push(ff);
    linkEdge(ne++, jf[s]!, inHead, inTail, eNext);
  }
  return moved ? nr : 0;
}

/** optimize.ts sinkRejects on the tables (order: all n slots): true when a block was sunk. */
function sinkRejects(): boolean {
  // (One backward pass: successors come later in the order; sinking a block changes nothing
  // its predecessors read.)
  let any = false;
  for (let i = n - 1; i >= 0; i--) {
    const s = order[i]!;
    const ks = kind[s];
    const a = ks === RET ? terms[s]!.k >>> 0 !== 0 : ks === BRANCH && (accepts[at[jt[s]!]!] === 1 || accepts[at[jf[s]!]!] === 1);
    accepts[i] = a ? 1 : 0;
    if (a || (ks === RET && stmtsOf[s]!.length === 0)) continue;
    kind[s] = RET;
    stmtsOf[s] = [];
    terms[s] = SUNK;
    sunk[s] = 1;
    any = true;
  }
  return any;
}

/** The slot's representative among merged blocks. */
function repOf(s: number): number {
  const r = rep[s]!;
  return r < 0 ? s : r;
}

/** How many slots merging kept (the first of `kept`), and their instructions (statements plus one each). */
let nKept = 0;
let keptInsns = 0;

/**
 * optimize-merge.ts intern on the tables (the first m of order; statements as the fast path
 * left them): a slot's representative into `rep`, the slots kept into `kept` (successors first,
 * as merging goes). The entry's representative, or -1 where merging leaves a test with the same
 * block on both sides.
 */
function mergeSlots(m: number, newStmts: (Stmt[] | undefined)[], entry: number): number {
  merging.begin(m);
  const { entry: table, hash: hashes, stamp: tableStamp, epoch, mask } = merging;
  let next = 0;
  let insns = 0;
  for (let i = m - 1; i >= 0; i--) {
    const s = order[i]!;
    rep[s] = -1;
    const t = terms[s]!;
    const br = kind[s] === BRANCH;
    let h: number;
    let a = -1, b = -1;
    if (br) {
      a = jt[s] = repOf(jt[s]!);
      b = jf[s] = repOf(jf[s]!);
      // (Merging made the two sides one: the rounds would clean that up.)
      if (a === b) return -1;
      h = Math.imul(t.code ^ 0x3b, 0x9e3779b1) ^ t.k ^ Math.imul(denseId[a]! + 1, 0x85ebca6b) ^ Math.imul(denseId[b]! + 7, 0xc2b2ae35);
    } else h = Math.imul(t.code + 11, 0x165667b1) ^ t.k;
    const stmts = newStmts[s] ?? stmtsOf[s]!;
    h = hashStmts(h, stmts);
    let slot = (h ^ (h >>> 15)) & mask;
    let hit = -1;
    for (; tableStamp[slot] === epoch; ) {
      const e = table[slot]!;
      if (hashes[slot] === h) {
        const c = e - 1;
        const u = terms[c]!;
        if (
          kind[c] === kind[s] && u.code === t.code && u.k >>> 0 === t.k >>> 0 &&
          (!br || (jt[c] === a && jf[c] === b)) &&
          sameStmts(newStmts[c] ?? stmtsOf[c]!, stmts)
        ) {
          hit = c;
          break;
        }
      }
      slot = (slot + 1) & mask;
    }
    if (hit >= 0) {
      rep[s] = hit;
      continue;
    }
    table[slot] = s + 1;
    hashes[slot] = h;
    tableStamp[slot] = epoch;
    kept[next] = s;
    denseId[s] = next++;
    insns += stmts.length + 1;
  }
  nKept = next;
  keptInsns = insns;
  return repOf(entry);
}

/** The result's blocks for the slots merging kept (successors first): the block of slot `entry`. */
function buildBlocks(newStmts: (Stmt[] | undefined)[], entry: number): Block {
  const out: Block[] = [];
  for (let i = 0; i < nKept; i++) {
    const s = kept[i]!;
    const t = terms[s]!;
    let term: Terminator;
    if (kind[s] === BRANCH) term = { kind: 'branch', code: t.code, k: t.k, jt: out[jt[s]!]!, jf: out[jf[s]!]! };
    else term = sunk[s] ? { kind: 'ret', code: 0x06, k: 0 } : { kind: 'ret', code: t.code, k: t.k };
    out[s] = { id: blocks[s]!.id, stmts: newStmts[s] ?? stmtsOf[s]!, term, ix: s };
  }
  return out[entry]!;
}

/** Instructions emitted so far by emitSlot (from the program's end). */
let filled = 0;

/**
 * The program linearize() gives for the blocks buildBlocks would make, from the tables: the same
 * depth-first walk from the entry (false side first), each block emitted back to front as it
 * finishes (see linearize.ts). Every kept slot is reached (merging maps a path to every slot
 * onto kept slots), so the program has exactly `keptInsns` instructions (no jumps: no `ja`).
 * Undefined where linearize()'s fast path would not take the graph: an offset over 255, a walk
 * too deep.
 */
function emitProgram(newStmts: (Stmt[] | undefined)[], entry: number): CbpfProgram | undefined {
  for (let i = 0; i < nKept; i++) state[kept[i]!] = 0;
  const out = new Array<CbpfInsn>(keptInsns);
  filled = 0;
  state[entry] = 1;
  return emitSlot(out, newStmts, entry, 0) && filled === keptInsns ? out : undefined;
}

/** Emit slot s and what it reaches that is not emitted yet into `out` (from its end); false: give up. */
function emitSlot(out: CbpfInsn[], newStmts: (Stmt[] | undefined)[], s: number, depth: number): boolean {
  const t = terms[s]!;
  let f: number;
  if (kind[s] === BRANCH) {
    const a = jt[s]!, b = jf[s]!;
    if (depth > MAX_DEPTH) return false;
    if (state[b] === 0) {
      state[b] = 1;
      if (!emitSlot(out, newStmts, b, depth + 1)) return false;
    }
    if (state[a] === 0) {
      state[a] = 1;
      if (!emitSlot(out, newStmts, a, depth + 1)) return false;
    }
    f = filled;
    const ot = f - tail[a]!;
    const of = f - tail[b]!;
    // (A target still on the path cannot be: the graph is acyclic.)
    if (ot > 255 || of > 255 || state[a] !== 2 || state[b] !== 2) return false;
    out[out.length - 1 - f] = { code: t.code, jt: ot, jf: of, k: t.k >>> 0 };
  } else {
    f = filled;
    out[out.length - 1 - f] = sunk[s] ? { code: 0x06, jt: 0, jf: 0, k: 0 } : { code: t.code, jt: 0, jf: 0, k: t.k >>> 0 };
  }
  f++;
  const stmts = newStmts[s] ?? stmtsOf[s]!;
  for (let j = stmts.length - 1; j >= 0; j--) {
    const st = stmts[j]!;
    out[out.length - 1 - f] = { code: st.code, jt: 0, jf: 0, k: st.k >>> 0 };
    f++;
  }
  filled = f;
  tail[s] = f;
  state[s] = 2;
  return true;
}

/**
 * The route up to merging (newStmts: the fast path's new statement arrays by slot): the slot of
 * the result's entry, or -1 where the graph is not one the route takes.
 */
function route(entry: Block, newStmts: (Stmt[] | undefined)[]): number {
  const e = slotOf(entry);
  if (e < 0) return -1;
  let m = walk(e, true);
  if (m < 0) return -1;
  // First threading (the first n of order is the graph as generated), then reject sinking on
  // the same order; the order after: a new walk where a block was sunk, else the blocks the
  // threading still reached (in the old order, still topological), else the old order.
  // (Where threading moved no edge, find knows whether anything would be sunk.)
  const nr = thread();
  if ((nr > 0 || sinkable) && sinkRejects()) {
    for (let s = 0; s < n; s++) state[s] = 0;
    m = walk(e, false);
    if (m < 0) return -1;
  } else if (nr > 0) {
    for (let i = 0; i < nr; i++) {
      const s = reached[i]!;
      order[i] = s;
      at[s] = i;
    }
    m = nr;
  }
  // Nothing for the clean-up to do: no test with the same block on both sides (no jumps).
  for (let i = 0; i < m; i++) {
    const s = order[i]!;
    if (jt[s] === jf[s] && kind[s] === BRANCH) return -1;
  }
  const fg: FlatGraph = { order, m, at, kind, jt, jf, stmts: stmtsOf, terms };
  if (!fastWalk(fg, newStmts, reachBytes)) return -1;
  return mergeSlots(m, newStmts, e);
}
