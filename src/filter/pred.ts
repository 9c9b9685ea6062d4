/**
 * Predicates: what code generation builds before there is a graph. A
 * predicate is a boolean combination of tests; `lower` turns it into CFG
 * blocks by continuation passing — `lower(p, T, F)` returns the entry of code
 * that goes to T when p holds and to F otherwise — so short-circuit `and`,
 * `or` and `not` cost no instructions and shared continuations make a DAG.
 *
 * Leaves carry the exact statements libpcap's generator would emit for the
 * same test, so that out-of-bounds loads (which make classic BPF return 0)
 * happen on the same paths.
 */
import type { CbpfInsn } from '../cbpf/insn.js';
import type { Block, Stmt } from './cfg.js';

export type Pred =
  | { k: 'const'; v: boolean }
  | { k: 'and' | 'or'; a: Pred; b: Pred }
  | { k: 'not'; a: Pred }
  /**
   * Run `stmts`, then branch (the terminator's code and k): a block made before there is a
   * graph (no id yet, -1; its branch's targets not set), which its first lowering numbers and
   * points at its targets (one object for the test and its block, instead of a test that lowering
   * copies into a new block). Any later lowering makes a new block with a copy of the statement
   * array (copyStmts; statements are never changed in place, so they may be shared).
   */
  | TestBlock
  /** Run `stmts` before whatever `a` does first. */
  | { k: 'pre'; stmts: Stmt[]; a: Pred }
  /** Run `prologue` (a sub-graph that continues into its argument) before `a`. */
  | { k: 'prologue'; build: (g: GraphBuilder, cont: Block) => Block; a: Pred }
  /**
   * A test that needs its own small graph (jumps inside a test, loops). With `insns` (see
   * orderedGraph): the build makes its blocks in the order linearize()'s walk finishes them, and
   * they take that many instructions, so lowering may lay them out as it makes them.
   */
  | { k: 'graph'; build: (g: GraphBuilder, t: Block, f: Block) => Block; insns?: number };

/** A test: a block of code generation's that lowering has not placed yet while its id is -1. */
export type TestBlock = Block & { k: 'test'; term: Branch };
type Branch = Extract<Block['term'], { kind: 'branch' }>;

/** Where a test's branch points before it is lowered (never part of a graph). */
const UNSET: Block = { k: 'block', id: -1, stmts: [], term: { kind: 'ret', code: 0x06, k: 0 }, walk: 0, tail: 0 };

/**
 * V8 stores a field that has only ever held numbers, some of them not small integers (a uint32 k
 * of 2^31 or more: masks, 0xffffffff), as a boxed double: every statement, terminator, test and
 * instruction object of that shape then allocates a box for its k, and each read unboxes it. One
 * object of each shape made here with a non-number in the field keeps it tagged instead (small
 * integers stored in place; only a large k is boxed). Kept alive so that the shapes stay.
 */
const TAGGED_SHAPES: unknown[] = [];
function keepTagged(...objs: unknown[]): void {
  TAGGED_SHAPES.push(...objs);
}
keepTagged(
  { code: 0, k: '' }, // Stmt
  { code: 0, jt: 0, jf: 0, k: '' }, // CbpfInsn (linearize's output)
  { kind: 'ret', code: 0, k: '' },
  { kind: 'branch', code: 0, k: '', jt: null, jf: null },
);

/**
 * A statement list for a second place in the graph: a new array (blocks' statement arrays are
 * replaced, never changed in place; the statements themselves may be shared).
 */
export function copyStmts(stmts: readonly Stmt[]): Stmt[] {
  return stmts.slice();
}

export const TRUE: Pred = { k: 'const', v: true };
export const FALSE: Pred = { k: 'const', v: false };

/**
 * `a and b`, folding literal constants as libpcap's generator does
 * (`x and false` is false, `x and true` is x): the folded-away side's loads
 * are not emitted, exactly as in libpcap's programs.
 */
export function and(a: Pred, b: Pred): Pred {
  if (a.k === 'const') return a.v ? b : a;
  if (b.k === 'const') return b.v ? a : b;
  return { k: 'and', a, b };
}
/** `a or b`, folding literal constants (`x or true` is true, `x or false` is x). */
export function or(a: Pred, b: Pred): Pred {
  if (a.k === 'const') return a.v ? a : b;
  if (b.k === 'const') return b.v ? b : a;
  return { k: 'or', a, b };
}
export function not(a: Pred): Pred {
  if (a.k === 'const') return { k: 'const', v: !a.v };
  return { k: 'not', a };
}
/**
 * Instructions of the tests made so far (statements plus the branch) and of `pre` statements,
 * wrapping at 32 bits: the difference over a code generation is the size of its program where
 * each is lowered once (GraphBuilder startProgram's hint).
 */
let testInsns = 0;
export const testInsnsMade = (): number => testInsns;

export function test(stmts: Stmt[], code: number, kv: number): Pred {
  testInsns = (testInsns + stmts.length + 1) | 0;
  return { k: 'test', id: -1, stmts, term: { kind: 'branch', code, k: kv >>> 0, jt: UNSET, jf: UNSET }, walk: 0, tail: 0 };
}
/**
 * A 'graph' test whose build makes its blocks in the order linearize()'s walk finishes them (each
 * after its targets, the false side's before the true side's) and whose blocks take `insns`
 * instructions, counting no `ja` for a jump to the block made right before it: lowering lays it
 * out as it makes it (GraphBuilder startProgram; a test compares the programs with the walk's).
 */
export function orderedGraph(build: (g: GraphBuilder, t: Block, f: Block) => Block, insns: number): Pred {
  testInsns = (testInsns + insns) | 0;
  return { k: 'graph', build, insns };
}

export function pre(stmts: Stmt[], a: Pred): Pred {
  if (stmts.length === 0) return a;
  testInsns = (testInsns + stmts.length) | 0;
  return { k: 'pre', stmts, a };
}

/** And a list left to right (empty list: true). */
export function andAll(ps: Pred[]): Pred {
  return ps.length ? ps.reduce((x, y) => and(x, y)) : TRUE;
}
/** Or a list left to right (empty list: false). */
export function orAll(ps: Pred[]): Pred {
  return ps.length ? ps.reduce((x, y) => or(x, y)) : FALSE;
}

/** Is p the constant `v` after trivial folding (used to spot always-false expressions)? */
export function constValue(p: Pred): boolean | undefined {
  switch (p.k) {
    case 'const':
      return p.v;
    case 'not': {
      const v = constValue(p.a);
      return v === undefined ? undefined : !v;
    }
    case 'and': {
      const a = constValue(p.a);
      if (a === false) return false;
      if (a === true) return constValue(p.b);
      // Only an effect-free left side lets a constant right side decide (rare: the right side
      // is walked only then).
      return !hasEffects(p.a) && constValue(p.b) === false ? false : undefined;
    }
    case 'or': {
      const a = constValue(p.a);
      if (a === true) return true;
      if (a === false) return constValue(p.b);
      return !hasEffects(p.a) && constValue(p.b) === true ? true : undefined;
    }
    case 'pre':
      return constValue(p.a);
    case 'prologue':
      return constValue(p.a);
    default:
      return undefined;
  }
}

/** Could evaluating p end the program (an out-of-bounds load) or write state later tests read? */
function hasEffects(p: Pred): boolean {
  return p.k !== 'const' && !(p.k === 'not' && !hasEffects(p.a));
}

export class GraphBuilder {
  private nextId = 0;
  cyclic = false;
  /** Statements plus one per block, over every block made: a bound on the program's length. */
  size = 0;
  /**
   * The program laid out while lowering (startProgram), filled from its end; undefined when not
   * asked for, or once what is lowered is no longer a tree of tests or outgrows the array (see
   * program()).
   */
  private out: CbpfInsn[] | undefined = undefined;
  /** Instructions placed at the end of `out` so far. */
  private n = 0;
  /** The block laid out last (in front of the others): a jump to it needs no `ja`. */
  private last: Block | undefined = undefined;
  /** Whether a jump block falls through into the exit laid out second (see program()). */
  private jumpToExit = false;

  block(stmts: Stmt[], term: Block['term']): Block {
    this.size += stmts.length + 1;
    // k: as a test's block has (see TestBlock); walk/tail: linearize()'s scratch, made here so
    // that every block has them (one shape).
    return { k: 'block', id: this.nextId++, stmts, term, walk: 0, tail: 0 };
  }
  // (Blocks made by a sub-graph's build, while lowering lays the program out, are laid out as they
  // are made: see orderedGraph and startProgram. A return there ends that.)
  ret(k: number): Block {
    this.out = undefined;
    return this.block([], { kind: 'ret', code: 0x06, k: k >>> 0 });
  }
  branch(stmts: Stmt[], code: number, k: number, jt: Block, jf: Block): Block {
    const b = this.block(stmts, { kind: 'branch', code, k: k >>> 0, jt, jf });
    if (this.out !== undefined) this.emit(this.out, b, code, k >>> 0, jt, jf);
    return b;
  }
  jump(stmts: Stmt[], target: Block): Block {
    const b = this.block(stmts, { kind: 'jump', target });
    if (this.out !== undefined) this.emitJump(this.out, b, target);
    return b;
  }
  get count(): number {
    return this.nextId;
  }

  /**
   * Lay the program out while lowering from the exits t and f (made first): see program(). A tree
   * of tests lowered by continuation (and, or, not, pre, tests) makes every block after its
   * targets, and every block reaches both exits; so the depth-first walk that lays a graph out
   * (linearize.ts: false edge first, reverse postorder) would finish the blocks in the order
   * they are made, after the two exits — the one at the end of the entry's chain of false edges
   * first — and a subtree lowered into a continuation finishes, whole, before any block of what
   * is lowered after it (which all reach its entry). Each block's instructions can then go onto
   * the program, back to front, as the block is made: its targets' distances from the program's
   * end (`tail`) are known. Until the entry is known, f is taken to be the last instruction.
   */
  startProgram(t: Block, f: Block, expected: number): void {
    const ft = f.term;
    const tt = t.term;
    if (ft.kind !== 'ret' || tt.kind !== 'ret' || expected < 2) return;
    // At the expected length, filled from its end: a program that turns out longer (a test
    // lowered twice) is laid out by linearize() instead, a shorter one is cut (program()).
    const out = new Array<CbpfInsn>(expected);
    out[expected - 1] = { code: ft.code, jt: 0, jf: 0, k: ft.k >>> 0 };
    out[expected - 2] = { code: tt.code, jt: 0, jf: 0, k: tt.k >>> 0 };
    this.out = out;
    this.n = 2;
    this.last = t;
    f.tail = 1;
    t.tail = 2;
  }

  /**
   * A branch block's instructions into the program, in front of what is there (see
   * startProgram); `k` as a uint32.
   */
  private emit(out: CbpfInsn[], b: Block, code: number, k: number, t: Block, f: Block): void {
    const n = this.n;
    const jt = n - t.tail!;
    const jf = n - f.tail!;
    // Too far for the 8-bit offsets: linearize() routes it through a `ja`.
    if (jt > 255 || jf > 255 || n + 1 > out.length) {
      this.out = undefined;
      return;
    }
    out[out.length - 1 - n] = { code, jt, jf, k };
    this.lay(out, b, n + 1, b.stmts);
  }

  /**
   * A jump block's statements into the program, where its target was laid out last (no `ja`:
   * orderedGraph's builds are made so); any other jump leaves the graph to linearize().
   */
  private emitJump(out: CbpfInsn[], b: Block, to: Block): void {
    if (this.last !== to) {
      this.out = undefined;
      return;
    }
    if (to.tail === 2) this.jumpToExit = true;
    this.lay(out, b, this.n, b.stmts);
  }

  /**
   * `stmts` into the program in front of its last `at` instructions, as the start of b, which is
   * then the block laid out last; where they would not fit (more than expected), no program.
   */
  private lay(out: CbpfInsn[], b: Block, at: number, stmts: readonly Stmt[]): void {
    if (at + stmts.length > out.length) {
      this.out = undefined;
      return;
    }
    // (Code generation's statements hold k as a uint32 already (st()): stored as it is, a k of
    // 2^31 or more reuses its heap number instead of making one per instruction.)
    const top = out.length - 1;
    let n = at;
    for (let j = stmts.length - 1; j >= 0; j--) {
      const x = stmts[j]!;
      out[top - n++] = { code: x.code, jt: 0, jf: 0, k: x.k };
    }
    this.n = n;
    b.tail = n;
    this.last = b;
  }

  /**
   * The program laid out while lowering into `entry` from startProgram's exits t and f, or
   * undefined where lowering made more than a tree of tests (linearize() lays such graphs out).
   * It is the program linearize() gives for the graph (a test compares the two on every accept case).
   */
  program(entry: Block, t: Block, f: Block): CbpfInsn[] | undefined {
    const out = this.out;
    const n = this.n;
    if (out === undefined || entry.id !== this.nextId - 1 || entry.tail !== n) return undefined;
    this.out = undefined;
    const top = out.length - 1;
    let end = entry;
    for (let x = end.term; x.kind === 'branch'; x = end.term) end = x.jf;
    if (end === t) {
      // t finishes first, not f: the two exits trade places, and the branches to them their offsets
      // (a block that fell through into t would now fall into f: linearize() lays that out).
      if (this.jumpToExit) return undefined;
      const last = out[top]!;
      out[top] = out[top - 1]!;
      out[top - 1] = last;
      for (let m = 2; m < n; m++) {
        const ins = out[top - m]!;
        if ((ins.code & 0x07) !== 0x05) continue;
        const at = m - ins.jt;
        if (at <= 2) ins.jt = m - (3 - at);
        const af = m - ins.jf;
        if (af <= 2) ins.jf = m - (3 - af);
      }
    } else if (end !== f) return undefined;
    // (A test made but not lowered leaves room at the front.)
    return n === out.length ? out : out.slice(out.length - n);
  }

  /**
   * The entry of code that goes to t when p holds and to f otherwise. A loop down the left
   * operands (`and`, `or` and `not` continue into their left side with new targets, after
   * lowering the right side, which the left side's code reaches): one call per right operand
   * instead of one per node.
   */
  lower(p: Pred, t: Block, f: Block): Block {
    for (;;) {
      // The commonest kinds first (a string switch compares case by case).
      switch (p.k) {
        case 'test': {
          const br = p.term;
          // (branch() lays the copy out.)
          if (p.id !== -1) return this.branch(copyStmts(p.stmts), br.code, br.k, t, f);
          p.id = this.nextId++;
          this.size += p.stmts.length + 1;
          br.jt = t;
          br.jf = f;
          if (this.out !== undefined) this.emit(this.out, p, br.code, br.k, t, f);
          return p;
        }
        case 'and':
          t = this.lower(p.b, t, f);
          p = p.a;
          continue;
        case 'or':
          f = this.lower(p.b, t, f);
          p = p.a;
          continue;
        case 'not': {
          const x = t;
          t = f;
          f = x;
          p = p.a;
          continue;
        }
        case 'const':
          // One of the exits may end up unreachable.
          this.out = undefined;
          return p.v ? t : f;
        case 'pre': {
          const before = this.nextId;
          const h = this.lower(p.a, t, f);
          // New arrays: a `pre` may be lowered more than once (no flag on it, unlike a test; rare).
          if (h.id < before) {
            this.out = undefined;
            return this.jump(copyStmts(p.stmts), h);
          }
          h.stmts = p.stmts.concat(h.stmts);
          this.size += p.stmts.length;
          // h was laid out last: its new first statements go right before it.
          if (this.out !== undefined) this.lay(this.out, h, this.n, p.stmts);
          return h;
        }
        case 'prologue': {
          this.out = undefined;
          const h = this.lower(p.a, t, f);
          return p.build(this, h);
        }
        case 'graph':
          if (p.insns === undefined) this.out = undefined;
          return p.build(this, t, f);
      }
    }
  }
}
