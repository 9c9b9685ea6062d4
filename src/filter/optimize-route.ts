/**
 * The local route: the optimiser's first round (optimize.ts) for the graphs that end on the local
 * path (optimize-local.ts) — the UDP tunnels' variable offsets, `geneve`/`vxlan` — on arrays by
 * block instead of a working copy of the blocks and its graphs, as the flat route
 * (optimize-flat.ts) does for the fast path. It does what that round does, in the same order and
 * with the same results: folding tests of A against X after `tax`/`txa` and the first threading
 * pass (optimize-pre.ts), reject sinking, the clean-up (optimize-merge.ts), the fast path's walk
 * or the local path, merging identical blocks; the blocks of the result are made once, at the
 * end.
 *
 * It takes acyclic graphs with small unique ids whose statements are all of the kinds the local
 * path takes, that return only constants, and whose tests against X are all folded. It gives up
 * (undefined, nothing changed, the caller runs the rounds) wherever that round would go on: the
 * fast and the local path both decline, or what merging leaves needs another clean-up.
 *
 * A block's slot is the order in which the depth-first walk found it; tables by slot are typed
 * arrays reused between calls; what holds objects is made per call.
 */
import type { CbpfInsn, CbpfProgram } from '../cbpf/insn.js';
import * as insnModule from '../cbpf/insn.js';
import type { Block, Cfg, Stmt, Terminator } from './cfg.js';
import * as cfgModule from './cfg.js';
import * as linearizeModule from './linearize.js';
import * as fast from './optimize-fast.js';
import type { CodeK, FlatGraph } from './optimize-fast.js';
import * as local from './optimize-local.js';
import type { LocalView } from './optimize-local.js';
import * as pre from './optimize-pre.js';
import * as slots from './optimize-slots.js';
import type { Fact } from './optimize-pre.js';

// Module-level copies: cheaper than cross-module bindings in hot loops (tsx compiles those to getters).
const { decide, intersect } = pre;
const { sameStmts } = cfgModule;
const { linearize } = linearizeModule;
const { BPF_JA, BPF_JMP } = insnModule;
const { IdSlots, MAX_SLOTS, MergeTable, hashStmts, linkEdge } = slots;
const { fastWalk, stmtsTaken } = fast;
const { localCore, localResult, localStmts } = local;

/** Block kinds: the fast path's (FlatGraph), which the local path's view (LocalView) shares. */
const { BRANCH, JUMP, RET } = fast;

/** Tables by slot, at a fixed length (see MAX_SLOTS: constants compile to faster code). */
const cap = MAX_SLOTS;
const kind = new Uint8Array(cap);
const code = new Int32Array(cap);
const kk = new Float64Array(cap);
const jt = new Int32Array(cap);
const jf = new Int32Array(cap);
const order = new Int32Array(cap);
const at = new Int32Array(cap);
/** Walks: 0 unseen, 1 on the path, 2 done; the walk's stack (slots, next successor); postorder. */
const state = new Uint8Array(cap);
const stk = new Int32Array(cap);
const nxt = new Uint8Array(cap);
const post = new Int32Array(cap);
/** Threading: whether A is read on entry (0 unknown, 1 no, 2 yes); the first and last edge in; the tested load. */
const readA = new Uint8Array(cap);
const inHead = new Int32Array(cap);
const inTail = new Int32Array(cap);
const key = new Float64Array(cap);
const keysSeen = new Float64Array(cap);
/** The blocks still reached after threading, in order. */
const reached = new Int32Array(cap);
/** Reject sinking: whether the block at a position can accept. */
const accepts = new Uint8Array(cap);
/** Clean-up: predecessors by slot (-1: the block goes). */
const preds = new Int32Array(cap);
/** Merging: a position's representative (slot, -1: itself) and a kept position's dense id. */
const rep = new Int32Array(cap);
const denseId = new Int32Array(cap);
/** Threading's edges (two per branch): source slot, side (0 jt, 1 jf, 2 a jump's), next edge into the same block. */
const eFrom = new Int32Array(2 * cap);
const eSide = new Uint8Array(2 * cap);
const eNext = new Int32Array(2 * cap);
/** Emitting the program (emitProgram): instructions from a slot's start to the program's end. */
const tail = new Int32Array(cap);
/** Merging's hash table. */
const merging = new MergeTable();

/**
 * Blocks found so far by id, this call (the block at the slot is checked against the one found:
 * another block with the same id is not taken).
 */
const ids = new IdSlots();

const NO_STMTS: Stmt[] = [];
const NO_CODE: CodeK = { code: -1, k: 0 };
const NO_BLOCK: Block = { id: -1, stmts: NO_STMTS, term: { kind: 'ret', code: 0x06, k: 0 } };

/** By slot (reused between calls, the first n this call's): the blocks and their statements. */
const blocks: Block[] = [];
const stmtsOf: Stmt[][] = [];
let n = 0;
/** The local path's view (by position). */
const lv: LocalView = { n: 0, stmts: [], kind: new Uint8Array(cap), code: new Int32Array(cap), k: new Int32Array(cap), jt: new Int32Array(cap), jf: new Int32Array(cap) };

/**
 * Where the route gives up after the clean-up (neither the fast nor the local path takes the
 * graph), what the round has made so far, for the rounds to go on from: the working copy's
 * blocks in a topological order (entry first) and whether sinking or the clean-up changed
 * something (undefined: the rounds start afresh).
 */
export interface Handover {
  order: Block[] | undefined;
  entry: Block | undefined;
  changed: boolean;
}

/**
 * The optimiser's first round for a graph that ends on the local path (see above): the optimised
 * graph (new blocks), or undefined when the graph is not one this takes.
 */
export function localRoute(cfg: Cfg, handover: Handover): Cfg | undefined {
  return takeRoute(cfg, handover, false) as Cfg | undefined;
}

/**
 * localRoute, then linearize() of its graph, without the graph: the program straight from the
 * tables, in linearize()'s layout (see optimize-flat.ts flatProgram), or undefined where
 * localRoute would give undefined (handover as localRoute leaves it).
 */
export function localProgram(cfg: Cfg, handover: Handover): CbpfProgram | undefined {
  return takeRoute(cfg, handover, true) as CbpfProgram | undefined;
}

/** localRoute (`program` false) or localProgram (true). */
function takeRoute(cfg: Cfg, handover: Handover, program: boolean): Cfg | CbpfProgram | undefined {
  handover.order = handover.entry = undefined;
  if (cfg.cyclic) return undefined;
  n = 0;
  ids.clear();
  try {
    const m = route(cfg.entry, handover);
    if (m < 0) return undefined;
    if (!program) return { entry: blocksOut(m) };
    let prog: CbpfProgram | undefined;
    try {
      prog = emitProgram(m);
    } catch (e) {
      // (The stack ran out in the emitting walk, a deep caller: the blocks' general layout.)
      if (!(e instanceof RangeError)) throw e;
    }
    return prog ?? linearize({ entry: blocksOut(m) });
  } finally {
    // (The tables are reused: emptied for the next call, nothing of this graph kept.)
    for (let s = 0; s < n; s++) {
      blocks[s] = NO_BLOCK;
      stmtsOf[s] = NO_STMTS;
    }
    lv.stmts = [];
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
  if (s < blocks.length) {
    blocks[s] = b;
    stmtsOf[s] = stmts;
  } else {
    blocks.push(b);
    stmtsOf.push(stmts);
  }
  state[s] = 0;
  if (!localStmts(stmts)) return -1;
  // (No Linux ancillary load: the local path takes none.)
  for (let j = 0; j < stmts.length; j++) {
    const c = stmts[j]!.code;
    if ((c === 0x20 || c === 0x28 || c === 0x30) && stmts[j]!.k >>> 0 >= 0x80000000) return -1;
  }
  const t = b.term;
  if (t.kind === 'ret') {
    if (t.code !== 0x06) return -1;
    kind[s] = RET;
    code[s] = t.code;
    kk[s] = t.k;
  } else if (t.kind === 'jump') kind[s] = JUMP;
  else {
    kind[s] = BRANCH;
    code[s] = t.code;
    kk[s] = t.k;
    if (t.code & 0x08) {
      // A test against X: only those the first fold turns into jumps (see prefold).
      const m = stmts.length;
      const last = m === 0 ? -1 : stmts[m - 1]!.code;
      const op = t.code & 0xf0;
      if ((last !== 0x07 && last !== 0x87) || (op !== 0x10 && op !== 0x20 && op !== 0x30)) return -1;
    }
  }
  return s;
}

/**
 * Depth-first from slot e, as buildGraph (true side first): the reverse postorder into `order`,
 * positions into `at`; how many, or -1 (a back edge, a block the route does not take). `first`:
 * the graph's blocks are being found (successors from the blocks), else the tables' successors.
 */
function walk(e: number, first: boolean): number {
  let np = 0;
  let sp = 0;
  stk[0] = e;
  nxt[0] = 0;
  state[e] = 1;
  while (sp >= 0) {
    const s = stk[sp]!;
    const i = nxt[sp]!;
    const ks = kind[s]!;
    let to = -1;
    let more = false;
    if (ks === BRANCH && i < 2) {
      more = true;
      if (!first) to = i === 0 ? jt[s]! : jf[s] !== jt[s] ? jf[s]! : -1;
      else {
        const t = blocks[s]!.term as Extract<Terminator, { kind: 'branch' }>;
        if (i === 0) {
          to = slotOf(t.jt);
          if (to < 0) return -1;
          jt[s] = to;
        } else if (t.jf === t.jt) jf[s] = jt[s]!;
        else {
          to = slotOf(t.jf);
          if (to < 0) return -1;
          jf[s] = to;
        }
      }
    } else if (ks === JUMP && i === 0) {
      more = true;
      if (!first) to = jt[s]!;
      else {
        to = slotOf((blocks[s]!.term as Extract<Terminator, { kind: 'jump' }>).target);
        if (to < 0) return -1;
        jt[s] = to;
      }
    }
    if (!more) {
      state[s] = 2;
      post[np++] = s;
      sp--;
      continue;
    }
    nxt[sp] = i + 1;
    if (to < 0) continue;
    const st = state[to];
    if (st === 0) {
      state[to] = 1;
      sp++;
      stk[sp] = to;
      nxt[sp] = 0;
    } else if (st === 1) return -1;
  }
  for (let i = 0; i < np; i++) {
    const s = post[np - 1 - i]!;
    order[i] = s;
    at[s] = i;
  }
  return np;
}

/** optimize-pre.ts readsA on the tables: is A read on entry to s (memoised in readA; past 64 jumps, taken to be). */
function readsA(s: number, depth: number): boolean {
  const m = readA[s]!;
  if (m !== 0) return m === 2;
  let live = -1;
  const stmts = stmtsOf[s]!;
  for (let j = 0; j < stmts.length; j++) {
    const c = stmts[j]!.code;
    // st, tax and ALU read A; loads and txa write it; the rest neither.
    if (c === 0x02 || c === 0x07 || (c & 7) === 0x04) {
      live = 1;
      break;
    }
    if ((c & 7) === 0x00 || c === 0x87) {
      live = 0;
      break;
    }
  }
  if (live < 0) {
    const ks = kind[s];
    if (ks === BRANCH) live = 1;
    else if (ks === RET) live = 0;
    else if (depth >= 64) live = 1;
    else live = readsA(jt[s]!, depth + 1) ? 1 : 0;
  }
  readA[s] = live ? 2 : 1;
  return live === 1;
}

/**
 * optimize-pre.ts prethread on the tables (order: the first m positions): -1 when it did not
 * walk, else how many blocks it still reached (into `reached`), negated minus 2 when no edge
 * moved.
 */
function thread(m: number): number {
  // Only a load tested twice can be decided: without one, there is nothing to walk for.
  let nk = 0;
  let twice = false;
  for (let i = 0; i < m; i++) {
    const s = order[i]!;
    let k = -1;
    if (kind[s] === BRANCH && code[s] === 0x15 && jt[s] !== jf[s]) {
      const stmts = stmtsOf[s]!;
      if (stmts.length === 1) {
        const c = stmts[0]!.code;
        const off = stmts[0]!.k >>> 0;
        if ((c === 0x20 || c === 0x28 || c === 0x30) && off < 0x80000000) k = c * 0x100000000 + off;
      }
    }
    key[s] = k;
    if (k < 0 || twice) continue;
    for (let j = 0; j < nk; j++) {
      if (keysSeen[j] === k) {
        twice = true;
        break;
      }
    }
    keysSeen[nk++] = k;
  }
  if (!twice) return -1;
  for (let i = 0; i < m; i++) {
    const s = order[i]!;
    inHead[s] = inTail[s] = -1;
    readA[s] = 0;
  }
  const facts: (Fact | undefined)[] = [];
  let ne = 0;
  let nr = 0;
  let moved = false;
  for (let i = 0; i < m; i++) {
    const s = order[i]!;
    if (i > 0 && inHead[s]! < 0) continue; // no way in any more
    const k = key[s]!;
    if (k >= 0) {
      const op = code[s]! & 0xf0;
      const c = kk[s]! >>> 0;
      // Edges the facts decide go on to the side taken (A is only read there if never).
      let e = inHead[s]!;
      inHead[s] = inTail[s] = -1;
      while (e >= 0) {
        const next = eNext[e]!;
        const d = decide(facts[e], k, op, c);
        const to = d === undefined ? -1 : d ? jt[s]! : jf[s]!;
        if (to >= 0 && !readsA(to, 0)) {
          const side = eSide[e];
          if (side === 1) jf[eFrom[e]!] = to;
          else jt[eFrom[e]!] = to;
          linkEdge(e, to, inHead, inTail, eNext);
          moved = true;
        } else linkEdge(e, s, inHead, inTail, eNext);
        e = next;
      }
      if (inHead[s]! < 0 && i > 0) continue;
    }
    reached[nr++] = s;
    // (A return passes nothing on: no facts to intersect.)
    const ks = kind[s];
    if (ks === RET) continue;
    let f: Fact | undefined;
    if (i > 0) {
      let e = inHead[s]!;
      f = facts[e];
      for (e = eNext[e]!; e >= 0; e = eNext[e]!) f = intersect(f, facts[e]);
    }
    if (ks === JUMP) {
      eFrom[ne] = s;
      eSide[ne] = 2;
      facts.push(f);
      linkEdge(ne++, jt[s]!, inHead, inTail, eNext);
      continue;
    }
    let ft = f, ff = f;
    if (k >= 0) {
      const op = code[s]! & 0xf0;
      const c = kk[s]! >>> 0;
      ft = { key: k, op, k: c, truth: true, next: f };
      ff = { key: k, op, k: c, truth: false, next: f };
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
  return moved ? nr : -2 - nr;
}

/** optimize.ts sinkRejects on the tables (order: the first m positions): true when a block was sunk. */
function sinkRejects(m: number): boolean {
  let any = false;
  for (let i = m - 1; i >= 0; i--) {
    const s = order[i]!;
    const ks = kind[s];
    const a = ks === RET ? kk[s]! !== 0 : ks === BRANCH ? accepts[at[jt[s]!]!] === 1 || accepts[at[jf[s]!]!] === 1 : accepts[at[jt[s]!]!] === 1;
    accepts[i] = a ? 1 : 0;
  }
  for (let i = 0; i < m; i++) {
    if (accepts[i]) continue;
    const s = order[i]!;
    if (kind[s] === RET && stmtsOf[s]!.length === 0) continue;
    kind[s] = RET;
    code[s] = 0x06;
    kk[s] = 0;
    stmtsOf[s] = [];
    any = true;
  }
  return any;
}

/** Follow blocks that only jump. */
function resolve(s: number): number {
  for (let steps = 0; kind[s] === JUMP && stmtsOf[s]!.length === 0 && steps < 4096; steps++) s = jt[s]!;
  return s;
}

const CHANGED = 1, JUMPS = 2;

/** optimize-merge.ts retarget on the tables. */
function retarget(s: number): number {
  const ks = kind[s];
  if (ks === BRANCH) {
    const a = resolve(jt[s]!), b = resolve(jf[s]!);
    const r = a !== jt[s] || b !== jf[s] ? CHANGED : 0;
    jt[s] = a;
    jf[s] = b;
    if (a !== b) return r;
    kind[s] = JUMP;
    return CHANGED | JUMPS;
  }
  if (ks !== JUMP) return 0;
  const to = resolve(jt[s]!);
  if (to === jt[s]) return JUMPS;
  jt[s] = to;
  return CHANGED | JUMPS;
}

/** Entry slot, set by route and the clean-up. */
let entry = 0;

/**
 * optimize-merge.ts cleanupDense on the tables (order: the first m positions): how many blocks
 * are left (order and at updated), or -1 when nothing changed.
 */
function cleanup(m: number): number {
  const np = preds;
  for (let i = 0; i < m; i++) np[order[i]!] = 0;
  let changed = false;
  let jumps = false;
  let gone = 0;
  for (let i = 0; i < m; i++) {
    const s = order[i]!;
    if (kind[s] === JUMP && stmtsOf[s]!.length === 0) {
      np[s] = -1;
      gone++;
    }
    const r = retarget(s);
    if (r & CHANGED) changed = true;
    if (r & JUMPS) jumps = true;
  }
  const e = resolve(entry);
  if (e !== entry) {
    for (let s = entry; s !== e; s = jt[s]!) {
      if (np[s] !== -1) {
        np[s] = -1;
        gone++;
      }
    }
    entry = e;
    changed = true;
  }
  if (jumps) {
    for (let i = 0; i < m; i++) {
      const s = order[i]!;
      if (np[s] === -1) continue;
      const ks = kind[s];
      if (ks === BRANCH) {
        np[jt[s]!]!++;
        if (jf[s] !== jt[s]) np[jf[s]!]!++;
      } else if (ks === JUMP) np[jt[s]!]!++;
    }
    for (let i = 0; i < m; i++) {
      const s = order[i]!;
      if (np[s] === -1) continue;
      for (;;) {
        if (kind[s] !== JUMP) break;
        const to = jt[s]!;
        if (to === s || to === entry || np[to] !== 1) break;
        np[to] = -1;
        gone++;
        stmtsOf[s] = [...stmtsOf[s]!, ...stmtsOf[to]!];
        kind[s] = kind[to]!;
        code[s] = code[to]!;
        kk[s] = kk[to]!;
        jt[s] = jt[to]!;
        jf[s] = jf[to]!;
        changed = true;
      }
    }
  }
  if (!changed) return -1;
  if (!gone) return m;
  let w = 0;
  for (let i = 0; i < m; i++) {
    const s = order[i]!;
    if (np[s] === -1) continue;
    order[w] = s;
    at[s] = w++;
  }
  return w;
}

/** The fast path's walk on the tables (order: the first m positions): true when it took the graph. */
function fastOn(m: number): boolean {
  for (let i = 0; i < m; i++) if (!stmtsTaken(stmtsOf[order[i]!]!)) return false;
  const terms: CodeK[] = [];
  for (let s = 0; s < n; s++) terms.push(kind[s] === JUMP ? NO_CODE : { code: code[s]!, k: kk[s]! });
  const fg: FlatGraph = { order, m, at, kind, jt, jf, stmts: stmtsOf, terms };
  const newStmts: (Stmt[] | undefined)[] = [];
  if (!fastWalk(fg, newStmts)) return false;
  for (let s = 0; s < n; s++) if (newStmts[s] !== undefined) stmtsOf[s] = newStmts[s]!;
  return true;
}

/** The local path on the tables (order: the first m positions): true when it took the graph. */
function localOn(m: number): boolean {
  const v = lv;
  const stmts: Stmt[][] = [];
  for (let i = 0; i < m; i++) {
    const s = order[i]!;
    stmts.push(stmtsOf[s]!);
    const ks = kind[s]!;
    v.kind[i] = ks;
    v.code[i] = code[s]!;
    v.k[i] = kk[s]!;
    if (ks !== RET) v.jt[i] = at[jt[s]!]!;
    if (ks === BRANCH) v.jf[i] = at[jf[s]!]!;
  }
  v.n = m;
  v.stmts = stmts;
  if (!localCore(v)) return false;
  const { stmts: fin, jset } = localResult();
  for (let i = 0; i < m; i++) {
    const s = order[i]!;
    const f = fin[i];
    fin[i] = undefined;
    if (f !== undefined) stmtsOf[s] = f;
    const j = jset[i];
    if (j && kind[s] === BRANCH) {
      const st = stmtsOf[s]!;
      kk[s] = st[st.length - 1]!.k >>> 0;
      code[s] = 0x45;
      stmtsOf[s] = st.slice(0, -1);
      if (j === 1) {
        const a = jt[s]!;
        jt[s] = jf[s]!;
        jf[s] = a;
      }
    }
  }
  return true;
}

function repOf(s: number): number {
  const r = rep[s]!;
  return r < 0 ? s : r;
}

/** optimize-merge.ts intern on the tables (order: the first m positions): whether blocks merged. */
function intern(m: number): boolean {
  merging.begin(m);
  const { entry: table, hash: hashes, stamp: tableStamp, epoch, mask } = merging;
  let next = 0;
  let changed = false;
  for (let i = m - 1; i >= 0; i--) {
    const s = order[i]!;
    rep[s] = -1;
    const ks = kind[s]!;
    let h: number;
    if (ks === BRANCH) {
      const a = (jt[s] = repOf(jt[s]!));
      const b = (jf[s] = repOf(jf[s]!));
      h = Math.imul(code[s]! ^ 0x3b, 0x9e3779b1) ^ kk[s]! ^ Math.imul(denseId[a]! + 1, 0x85ebca6b) ^ Math.imul(denseId[b]! + 7, 0xc2b2ae35);
    } else if (ks === JUMP) {
      const a = (jt[s] = repOf(jt[s]!));
      h = Math.imul(denseId[a]! + 3, 0x27d4eb2f);
    } else h = Math.imul(code[s]! + 11, 0x165667b1) ^ kk[s]!;
    const stmts = stmtsOf[s]!;
    h = hashStmts(h, stmts);
    let slot = (h ^ (h >>> 15)) & mask;
    let hit = -1;
    for (; tableStamp[slot] === epoch; ) {
      const c = table[slot]! - 1;
      if (
        hashes[slot] === h && kind[c] === ks &&
        (ks === JUMP ? jt[c] === jt[s] : code[c] === code[s] && kk[c]! >>> 0 === kk[s]! >>> 0 && (ks === RET || (jt[c] === jt[s] && jf[c] === jf[s]))) &&
        sameStmts(stmtsOf[c]!, stmts)
      ) {
        hit = c;
        break;
      }
      slot = (slot + 1) & mask;
    }
    if (hit >= 0) {
      rep[s] = hit;
      changed = true;
      continue;
    }
    table[slot] = s + 1;
    hashes[slot] = h;
    tableStamp[slot] = epoch;
    denseId[s] = next++;
  }
  entry = repOf(entry);
  return changed;
}

/** The result's blocks (successors first; order: the first m positions, merged ones left out): the entry. */
function blocksOut(m: number): Block {
  const out: Block[] = [];
  for (let i = m - 1; i >= 0; i--) {
    const s = order[i]!;
    if (rep[s]! >= 0) continue;
    const ks = kind[s];
    let term: Terminator;
    if (ks === BRANCH) term = { kind: 'branch', code: code[s]!, k: kk[s]!, jt: out[jt[s]!]!, jf: out[jf[s]!]! };
    else if (ks === JUMP) term = { kind: 'jump', target: out[jt[s]!]! };
    else term = { kind: 'ret', code: code[s]!, k: kk[s]! };
    out[s] = { id: blocks[s]!.id, stmts: stmtsOf[s]!, term, ix: s };
  }
  return out[entry]!;
}

/** Deeper than this, emitProgram gives up (it recurses): linearize()'s general layout takes the blocks. */
const MAX_DEPTH = 1000;
/** emitProgram's count of instructions emitted so far (from the program's end), and the slot finished last. */
let filled = 0;
let lastOut = -1;

/**
 * The program linearize() gives for the blocks blocksOut(m) would make, from the tables: the same
 * depth-first walk from the entry (false side first), each block emitted back to front as it
 * finishes, a `ja` for a jump unless its target comes next (see linearize.ts). Made at the
 * length of every kept block's statements plus one (a jump whose target comes next needs none:
 * then shortened). Undefined where linearize()'s fast path would not take the graph: an offset
 * over 255, a back edge, a walk too deep.
 */
function emitProgram(m: number): CbpfProgram | undefined {
  let bound = 0;
  for (let i = 0; i < m; i++) {
    const s = order[i]!;
    if (rep[s]! >= 0) continue;
    state[s] = 0;
    bound += stmtsOf[s]!.length + 1;
  }
  const out = new Array<CbpfInsn>(bound);
  filled = 0;
  lastOut = -1;
  state[entry] = 1;
  if (!emitSlot(out, entry, 0)) return undefined;
  return filled === bound ? out : out.slice(bound - filled);
}

/** Emit slot s and what it reaches that is not emitted yet into `out` (from its end); false: give up. */
function emitSlot(out: CbpfInsn[], s: number, depth: number): boolean {
  if (depth > MAX_DEPTH) return false;
  const ks = kind[s];
  const top = out.length - 1;
  let f: number;
  if (ks === BRANCH) {
    const a = jt[s]!, b = jf[s]!;
    if (state[b] === 0) {
      state[b] = 1;
      if (!emitSlot(out, b, depth + 1)) return false;
    }
    if (state[a] === 0) {
      state[a] = 1;
      if (!emitSlot(out, a, depth + 1)) return false;
    }
    f = filled;
    const ot = f - tail[a]!;
    const of = f - tail[b]!;
    // (A target still on the path: a loop.)
    if (ot > 255 || of > 255 || state[a] !== 2 || state[b] !== 2) return false;
    out[top - f] = { code: code[s]!, jt: ot, jf: of, k: kk[s]! >>> 0 };
    f++;
  } else if (ks === JUMP) {
    const to = jt[s]!;
    if (state[to] === 0) {
      state[to] = 1;
      if (!emitSlot(out, to, depth + 1)) return false;
    }
    f = filled;
    // No `ja` when the target comes next (it finished right before this block).
    if (lastOut !== to) {
      if (state[to] !== 2) return false; // a back edge
      out[top - f] = { code: BPF_JMP | BPF_JA, jt: 0, jf: 0, k: (f - tail[to]!) >>> 0 };
      f++;
    }
  } else {
    f = filled;
    out[top - f] = { code: code[s]!, jt: 0, jf: 0, k: kk[s]! >>> 0 };
    f++;
  }
  const stmts = stmtsOf[s]!;
  for (let j = stmts.length - 1; j >= 0; j--) {
    const st = stmts[j]!;
    out[top - f] = { code: st.code, jt: 0, jf: 0, k: st.k >>> 0 };
    f++;
  }
  filled = f;
  tail[s] = f;
  state[s] = 2;
  lastOut = s;
  return true;
}

/** The working copy of the graph as the tables hold it (order: the first m positions; new blocks, `ix` the slot). */
function copyOut(m: number, handover: Handover): Block[] {
  const out: Block[] = [];
  const list: Block[] = new Array<Block>(m);
  for (let i = m - 1; i >= 0; i--) {
    const s = order[i]!;
    const ks = kind[s];
    let term: Terminator;
    if (ks === BRANCH) term = { kind: 'branch', code: code[s]!, k: kk[s]!, jt: out[jt[s]!]!, jf: out[jf[s]!]! };
    else if (ks === JUMP) term = { kind: 'jump', target: out[jt[s]!]! };
    else term = { kind: 'ret', code: code[s]!, k: kk[s]! };
    list[i] = out[s] = { id: blocks[s]!.id, stmts: stmtsOf[s]!, term, ix: s };
  }
  handover.entry = out[entry];
  return list;
}

/**
 * The route up to merging: how many positions of `order` the result's blocks are in (merged ones
 * left out, see blocksOut), or -1 where the graph is not one the route takes.
 */
function route(e0: Block, handover: Handover): number {
  const e = slotOf(e0);
  if (e < 0) return -1;
  entry = e;
  let m = walk(e, true);
  if (m < 0) return -1;
  // Only graphs the flat route declined for what this takes: a jump, a test against X, a
  // statement the fast path does not take.
  let other = false;
  for (let i = 0; i < m && !other; i++) {
    const s = order[i]!;
    other = kind[s] === JUMP || (kind[s] === BRANCH && (code[s]! & 0x08) !== 0) || !stmtsTaken(stmtsOf[s]!);
  }
  if (!other) return -1;
  // Tests of A against X right after tax/txa (optimize-pre.ts prefold).
  let pre = false;
  let changed = false;
  for (let i = 0; i < m; i++) {
    const s = order[i]!;
    if (kind[s] !== BRANCH || (code[s]! & 0x08) === 0) continue;
    const op = code[s]! & 0xf0;
    kind[s] = JUMP;
    if (op === 0x20) jt[s] = jf[s]!;
    pre = true;
  }
  // The first threading, then reject sinking, on the same order; the order after: a new walk
  // where a block was sunk, else the blocks the threading still reached, else (prefold alone) a
  // new walk, else the old order.
  const nr = thread(m);
  if (nr >= 0) pre = true;
  if (sinkRejects(m)) {
    changed = true;
    for (let s = 0; s < n; s++) state[s] = 0;
    m = walk(entry, false);
    if (m < 0) return -1;
  } else if (pre) {
    const r = nr >= 0 ? nr : nr < -1 ? -2 - nr : -1;
    if (r > 0) {
      for (let i = 0; i < r; i++) {
        const s = reached[i]!;
        order[i] = s;
        at[s] = i;
      }
      m = r;
    } else {
      for (let s = 0; s < n; s++) state[s] = 0;
      m = walk(entry, false);
      if (m < 0) return -1;
    }
  }
  const c = cleanup(m);
  const cleaned = c >= 0;
  if (cleaned) {
    m = c;
    changed = true;
  }
  if (!fastOn(m) && !localOn(m)) {
    handover.order = copyOut(m, handover);
    handover.changed = changed;
    return -1;
  }
  if (!intern(m)) {
    // (What the clean-up would pass now goes to the rounds.)
    if (cleaned) for (let i = 0; i < m; i++) if (kind[order[i]!] === JUMP && stmtsOf[order[i]!]!.length === 0) return -1;
  } else {
    for (let i = 0; i < m; i++) if (kind[order[i]!] === BRANCH && jt[order[i]!] === jf[order[i]!]) return -1;
  }
  return m;
}
