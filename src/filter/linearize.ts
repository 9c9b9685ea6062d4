/**
 * CFG → classic program, and classic program → CFG.
 *
 * Linearisation lays blocks out as libpcap does (icode_to_fcode: depth-first,
 * the false edge's subgraph visited first, reverse postorder, so that a
 * branch's true side comes right after it), turns `jump`s into
 * `ja` (dropped when the target comes next), and fixes up conditional
 * branches whose offset would not fit the 8-bit jt/jf fields by routing
 * them through an inserted `ja` right after the branch.
 */
import type { CbpfInsn, CbpfProgram } from '../cbpf/insn.js';
import * as insn from '../cbpf/insn.js';
import type { Block, Cfg, Stmt } from './cfg.js';

// Module-level copies: cheaper than cross-module bindings in hot loops (tsx compiles those to getters).
const { BPF_JA, BPF_JMP, BPF_RET, bpfClass, bpfOp } = insn;

/**
 * Blocks in layout order, and where each is in it. Block ids are unique
 * within a graph, so the position is kept in an array indexed by id; a graph
 * whose ids repeat (hand-made) is laid out with a Map instead.
 */
interface Laid {
  order: Block[];
  /** Position in `order` by block id, or by block when ids repeat. */
  at: number[] | Map<Block, number>;
}

function posOf(l: Laid, b: Block): number {
  return Array.isArray(l.at) ? l.at[b.id]! : l.at.get(b)!;
}

/**
 * Depth-first from the entry, false edge before true edge, reverse
 * postorder: the true edge's subgraph comes right after its branch, as in
 * libpcap's layout (so that the same graph gives libpcap's program, byte for
 * byte: `bpfkit filter -d` then prints what `tcpdump -d` prints).
 */
function lay(cfg: Cfg, byId: boolean): Laid | undefined {
  const seenById: Block[] = [];
  const seenSet = byId ? undefined : new Set<Block>();
  const post: Block[] = [];
  const stack: Block[] = [cfg.entry];
  const next: number[] = [0];
  if (seenSet) seenSet.add(cfg.entry);
  else seenById[cfg.entry.id] = cfg.entry;
  while (stack.length) {
    const top = stack.length - 1;
    const b = stack[top]!;
    const t = b.term;
    const i = next[top]!;
    let s: Block | undefined;
    if (t.kind === 'branch') s = i === 0 ? t.jf : i === 1 ? t.jt : undefined;
    else if (t.kind === 'jump') s = i === 0 ? t.target : undefined;
    if (s === undefined) {
      post.push(b);
      stack.pop();
      next.pop();
      continue;
    }
    next[top] = i + 1;
    if (seenSet) {
      if (seenSet.has(s)) continue;
      seenSet.add(s);
    } else {
      const known = seenById[s.id];
      if (known === s) continue;
      if (known !== undefined) return undefined; // two blocks share an id
      seenById[s.id] = s;
    }
    stack.push(s);
    next.push(0);
  }
  post.reverse();
  if (seenSet) {
    const at = new Map<Block, number>();
    for (let i = 0; i < post.length; i++) at.set(post[i]!, i);
    return { order: post, at };
  }
  const at: number[] = [];
  for (let i = 0; i < post.length; i++) at[post[i]!.id] = i;
  return { order: post, at };
}

function laid(cfg: Cfg): Laid {
  return lay(cfg, true) ?? lay(cfg, false)!;
}

/** Blocks reachable from the entry, in layout order. */
export function layout(cfg: Cfg): Block[] {
  return laid(cfg).order;
}

const FAR_JT = 1;
const FAR_JF = 2;

export function linearize(cfg: Cfg): CbpfProgram {
  let prog: CbpfProgram | undefined;
  try {
    prog = linearizeFast(cfg);
  } catch (e) {
    // The stack ran out anyway (a deep caller): the general path does not recurse.
    if (!(e instanceof RangeError)) throw e;
  }
  return prog ?? linearizeGeneral(cfg);
}

/**
 * Deeper than this, the general (iterative) layout takes over: the walk recurses (two frames a
 * level), and a big expression's first compile runs it in the interpreter, whose frames are large.
 */
const MAX_DEPTH = 1000;

/**
 * The fast path: one depth-first walk (false edge before true edge) that emits each block as it
 * finishes. The layout is the walk's reverse postorder, so a block finishes after everything laid
 * out behind it: its instructions go onto `out` back to front, and every branch target already
 * has its distance from the program's end (`tailById`), which is all an offset needs. The
 * arrays are made per call (young: no write barriers into long-lived scratch).
 */
class Walk {
  /** Indexed by block id (sized for the entry's id, which is often the largest). */
  readonly seenById: Block[];
  /** Instructions from a finished block's start to the program's end; -1 while on the walk's path. */
  readonly tailById: number[];
  /** The program, last instruction first. */
  readonly out: CbpfInsn[] = [];
  /** The block finished last: the one laid out right after the next to finish. */
  last: Block | undefined = undefined;
  unusual = false;

  constructor(ids: number) {
    this.seenById = new Array<Block>(ids);
    this.tailById = new Array<number>(ids);
  }

  visit(b: Block, depth: number): void {
    const t = b.term;
    const out = this.out;
    if (t.kind === 'branch') {
      this.edge(t.jf, depth);
      this.edge(t.jt, depth);
      const base = out.length;
      const jt = base - this.tailById[t.jt.id]!;
      const jf = base - this.tailById[t.jf.id]!;
      // A target still on the path (a loop), or too far for the 8-bit offsets: general path.
      if (jt > base || jf > base || jt > 255 || jf > 255) this.unusual = true;
      else out.push({ code: t.code, jt, jf, k: t.k >>> 0 });
    } else if (t.kind === 'jump') {
      const to = t.target;
      this.edge(to, depth);
      // No `ja` when the target comes next (it finished right before this block).
      if (this.last !== to) {
        const tail = this.tailById[to.id]!;
        if (tail < 0) this.unusual = true; // a back edge: its offset is not known yet
        else out.push({ code: BPF_JMP | BPF_JA, jt: 0, jf: 0, k: (out.length - tail) >>> 0 });
      }
    } else {
      out.push({ code: t.code, jt: 0, jf: 0, k: t.k >>> 0 });
    }
    const stmts = b.stmts;
    for (let j = stmts.length - 1; j >= 0; j--) {
      const s = stmts[j]!;
      out.push({ code: s.code, jt: 0, jf: 0, k: s.k >>> 0 });
    }
    this.tailById[b.id] = out.length;
    this.last = b;
  }

  edge(s: Block, depth: number): void {
    const known = this.seenById[s.id];
    if (known === s) return;
    if (known !== undefined || depth > MAX_DEPTH) {
      this.unusual = true;
      return;
    }
    this.seenById[s.id] = s;
    this.tailById[s.id] = -1;
    this.visit(s, depth + 1);
  }
}

/**
 * A graph from code generation: `size` bounds the program's length (every block's statements
 * plus one instruction per block, reachable or not), and the block ids are unique (GraphBuilder
 * numbers them). Whoever changes such a graph's blocks should drop `size`.
 */
export interface SizedCfg extends Cfg {
  size?: number;
  /**
   * The graph's program, laid out by code generation while lowering (pred.ts GraphBuilder
   * startProgram): linearize() hands it out, once, instead of walking the graph (an unoptimised
   * compile() takes it without calling linearize()).
   */
  program?: CbpfInsn[];
}

/**
 * The walk for code generation's graphs (SizedCfg): the same layout and program as Walk, but the
 * per-block state is on the blocks themselves (GraphBuilder gives each a `walk` and a `tail`
 * field: no per-id table made per call), and the program array is made at the size bound and
 * filled from its end.
 */
class SizedWalk {
  readonly out: CbpfInsn[];
  /** The size bound (the array's length). */
  readonly cap: number;
  /** This walk's number: a block's `tail` is this walk's where its `walk` is this. */
  readonly id: number;
  /** Instructions emitted so far. */
  n = 0;
  /** The block finished last: the one laid out right after the next to finish. */
  last: Block | undefined = undefined;
  unusual = false;

  constructor(cap: number, id: number) {
    this.out = new Array<CbpfInsn>(cap);
    this.cap = cap;
    this.id = id;
  }
}

/** Numbers SizedWalks (a block's `walk` field starts at 0: no walk has that number). */
let walks = 0;

function visitSized(w: SizedWalk, b: Block, depth: number): void {
  const t = b.term;
  const id = w.id;
  const top = w.cap - 1;
  const stmts = b.stmts;
  if (t.kind === 'branch') {
    const tb = t.jt;
    const fb = t.jf;
    if (fb.walk !== id) {
      fb.walk = id;
      fb.tail = -1;
      if (depth > MAX_DEPTH) w.unusual = true;
      else visitSized(w, fb, depth + 1);
    }
    if (tb.walk !== id) {
      tb.walk = id;
      tb.tail = -1;
      if (depth > MAX_DEPTH) w.unusual = true;
      else visitSized(w, tb, depth + 1);
    }
    const n = w.n;
    // A wrong bound (a graph changed after code generation) would overrun the array: general path.
    if (n + stmts.length + 1 > w.cap) {
      w.unusual = true;
      return;
    }
    const jt = n - tb.tail!;
    const jf = n - fb.tail!;
    // A target still on the path (a loop), or too far for the 8-bit offsets: general path.
    if (jt > n || jf > n || jt > 255 || jf > 255) w.unusual = true;
    else {
      w.out[top - n] = { code: t.code, jt, jf, k: t.k >>> 0 };
      w.n = n + 1;
    }
  } else if (t.kind === 'jump') {
    const to = t.target;
    if (to.walk !== id) {
      to.walk = id;
      to.tail = -1;
      if (depth > MAX_DEPTH) w.unusual = true;
      else visitSized(w, to, depth + 1);
    }
    if (w.n + stmts.length + 1 > w.cap) {
      w.unusual = true;
      return;
    }
    // No `ja` when the target comes next (it finished right before this block).
    if (w.last !== to) {
      const at = to.tail!;
      const n = w.n;
      if (at < 0) w.unusual = true; // a back edge: its offset is not known yet
      else {
        w.out[top - n] = { code: BPF_JMP | BPF_JA, jt: 0, jf: 0, k: (n - at) >>> 0 };
        w.n = n + 1;
      }
    }
  } else {
    const n = w.n;
    if (n + stmts.length + 1 > w.cap) {
      w.unusual = true;
      return;
    }
    w.out[top - n] = { code: t.code, jt: 0, jf: 0, k: t.k >>> 0 };
    w.n = n + 1;
  }
  const out = w.out;
  let n = w.n;
  for (let j = stmts.length - 1; j >= 0; j--) {
    const s = stmts[j]!;
    out[top - n] = { code: s.code, jt: 0, jf: 0, k: s.k >>> 0 };
    n++;
  }
  w.n = n;
  b.tail = n;
  w.last = b;
}

function linearizeSized(entry: Block, size: number): CbpfProgram | undefined {
  // Blocks not made by GraphBuilder (no walk field): the general walk.
  if (entry.walk === undefined) return undefined;
  walks = walks === 0x3fffffff ? 1 : walks + 1;
  const w = new SizedWalk(size, walks);
  entry.walk = w.id;
  entry.tail = -1;
  visitSized(w, entry, 0);
  if (w.unusual || w.n > w.cap) return undefined;
  // Unreachable blocks (folded-away tests) leave room at the front.
  return w.n === w.cap ? w.out : w.out.slice(w.cap - w.n);
}

/**
 * The common case (see Walk): graphs whose block ids are unique (code generation's and the
 * optimiser's), not too deep, without loops, whose branches all reach their targets within 255
 * instructions. Returns undefined for anything else (the general path handles it); the program is
 * the one the general path gives.
 */
function linearizeFast(cfg: Cfg): CbpfProgram | undefined {
  const entry = cfg.entry;
  const size = (cfg as SizedCfg).size;
  if (size !== undefined) {
    const program = (cfg as SizedCfg).program;
    if (program === undefined) return linearizeSized(entry, size);
    (cfg as SizedCfg).program = undefined;
    return program;
  }
  const w = new Walk(entry.id + 1);
  w.seenById[entry.id] = entry;
  w.tailById[entry.id] = -1;
  w.visit(entry, 0);
  return w.unusual ? undefined : w.out.reverse();
}

function linearizeGeneral(cfg: Cfg): CbpfProgram {
  const l = laid(cfg);
  const blocks = l.order;
  const n = blocks.length;
  // Per block: where it starts, and (only once a branch needs one) which targets go through an
  // inserted `ja`. Plain arrays: typed arrays this small cost more to allocate than they save.
  const start: number[] = new Array<number>(n);
  let far: number[] | undefined;
  for (;;) {
    let pc = 0;
    for (let i = 0; i < n; i++) {
      start[i] = pc;
      const b = blocks[i]!;
      const t = b.term;
      pc += b.stmts.length;
      if (t.kind === 'jump') pc += posOf(l, t.target) === i + 1 ? 0 : 1;
      else if (t.kind === 'branch') pc += far ? 1 + (far[i]! & FAR_JT ? 1 : 0) + (far[i]! & FAR_JF ? 1 : 0) : 1;
      else pc += 1;
    }
    let changed = false;
    for (let i = 0; i < n; i++) {
      const b = blocks[i]!;
      const t = b.term;
      if (t.kind !== 'branch') continue;
      const next = start[i]! + b.stmts.length + 1;
      const f = far ? far[i]! : 0;
      if (!(f & FAR_JT) && start[posOf(l, t.jt)]! - next > 255) {
        far ??= new Array<number>(n).fill(0);
        far[i] = far[i]! | FAR_JT;
        changed = true;
      }
      if (!(f & FAR_JF) && start[posOf(l, t.jf)]! - next > 255) {
        far ??= new Array<number>(n).fill(0);
        far[i] = far[i]! | FAR_JF;
        changed = true;
      }
    }
    if (!changed) return emit(l, far, start, pc);
  }
}

/** The instructions, `length` of them, with the layout and trampolines decided. */
function emit(l: Laid, far: number[] | undefined, start: number[], length: number): CbpfProgram {
  const blocks = l.order;
  const out: CbpfInsn[] = new Array<CbpfInsn>(length);
  let o = 0;
  const n = blocks.length;
  for (let i = 0; i < n; i++) {
    const b = blocks[i]!;
    const stmts = b.stmts;
    for (let j = 0; j < stmts.length; j++) {
      const s = stmts[j]!;
      out[o++] = { code: s.code, jt: 0, jf: 0, k: s.k >>> 0 };
    }
    const t = b.term;
    if (t.kind === 'ret') {
      out[o++] = { code: t.code, jt: 0, jf: 0, k: t.k >>> 0 };
    } else if (t.kind === 'jump') {
      const to = posOf(l, t.target);
      if (to !== i + 1) {
        out[o] = { code: BPF_JMP | BPF_JA, jt: 0, jf: 0, k: (start[to]! - o - 1) >>> 0 };
        o++;
      }
    } else {
      const here = o;
      const f = far ? far[i]! : 0;
      const jtAt = start[posOf(l, t.jt)]!;
      const jfAt = start[posOf(l, t.jf)]!;
      let slot = here + 1;
      const jtPc = f & FAR_JT ? slot++ : jtAt;
      const jfPc = f & FAR_JF ? slot++ : jfAt;
      out[o++] = { code: t.code, jt: jtPc - here - 1, jf: jfPc - here - 1, k: t.k >>> 0 };
      if (f & FAR_JT) {
        out[o] = { code: BPF_JMP | BPF_JA, jt: 0, jf: 0, k: jtAt - o - 1 };
        o++;
      }
      if (f & FAR_JF) {
        out[o] = { code: BPF_JMP | BPF_JA, jt: 0, jf: 0, k: jfAt - o - 1 };
        o++;
      }
    }
  }
  return out;
}

/** Split a classic program into basic blocks (for optimising or drawing any program). */
export function fromProgram(prog: CbpfProgram): Cfg {
  const n = prog.length;
  const leader = new Set<number>([0]);
  for (let i = 0; i < n; i++) {
    const ins = prog[i]!;
    const cls = bpfClass(ins.code);
    if (cls === BPF_JMP) {
      if (bpfOp(ins.code) === BPF_JA) leader.add((i + 1 + ins.k) >>> 0);
      else {
        leader.add(i + 1 + ins.jt);
        leader.add(i + 1 + ins.jf);
      }
      leader.add(i + 1);
    } else if (cls === BPF_RET) {
      leader.add(i + 1);
    }
  }
  const blocks = new Map<number, Block>();
  let id = 0;
  const starts = [...leader].filter((x) => x < n).sort((a, b) => a - b);
  for (const s of starts) blocks.set(s, { id: id++, stmts: [], term: { kind: 'ret', code: BPF_RET, k: 0 } });
  let cyclic = false;
  // A jump past the end (an invalid program) returns 0.
  const at = (pc: number): Block => {
    const b = blocks.get(pc);
    if (b) return b;
    const dead: Block = { id: id++, stmts: [], term: { kind: 'ret', code: BPF_RET, k: 0 } };
    blocks.set(pc, dead);
    return dead;
  };
  for (let si = 0; si < starts.length; si++) {
    const s = starts[si]!;
    const end = si + 1 < starts.length ? starts[si + 1]! : n;
    const b = blocks.get(s)!;
    const stmts: Stmt[] = [];
    let term: Block['term'] | undefined;
    for (let i = s; i < end; i++) {
      const ins = prog[i]!;
      const cls = bpfClass(ins.code);
      if (cls === BPF_RET) {
        term = { kind: 'ret', code: ins.code, k: ins.k };
        break;
      }
      if (cls === BPF_JMP) {
        if (bpfOp(ins.code) === BPF_JA) {
          const target = (i + 1 + ins.k) >>> 0;
          if (target <= i) cyclic = true;
          term = { kind: 'jump', target: at(target) };
        } else {
          term = { kind: 'branch', code: ins.code, k: ins.k, jt: at(i + 1 + ins.jt), jf: at(i + 1 + ins.jf) };
        }
        break;
      }
      stmts.push({ code: ins.code, k: ins.k });
    }
    b.stmts = stmts;
    b.term = term ?? { kind: 'jump', target: at(end) };
  }
  return cyclic ? { entry: blocks.get(0) ?? at(0), cyclic } : { entry: blocks.get(0) ?? at(0) };
}
