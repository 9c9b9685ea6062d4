/**
 * Rewriting one block: given what holds on entry (the value in each register
 * and slot, what cannot fail any more), what the block must leave behind (the
 * values of the locations its successors read, the operands of its test or
 * the returned A) and the effects it must keep (loads that may still fail),
 * find the shortest statement list that does exactly that.
 *
 * Candidates:
 * - the original list, pruned: statements that write the value already
 *   there, and statements whose result nobody reads and whose effects are
 *   covered, go; operands known to be constants become immediates;
 * - lists generated from scratch by instruction selection over the value
 *   numbers, for each order of computing the slots, X and A, and for each
 *   equivalent form of the test (`(x & m) == 0` as `jset #m` with the
 *   targets swapped, `x + c == k` as `x == k - c`, X-operands known to be
 *   constants as immediates), for code of at most MAX_SEARCH statements;
 *   longer code window by window (see windowed).
 *
 * Every candidate is checked by running it symbolically from the entry
 * state: the required values must come out, the test must be the same test
 * (or its negation, with the targets swapped), and its effects must fail on
 * exactly the same packets (each side's effects implied by the other's).
 * The shortest checked candidate wins; the original always qualifies.
 */
import * as insn from '../cbpf/insn.js';
import type { Stmt } from './cfg.js';
import * as factsMod from './optimize-facts.js';
import type { Cond, Facts, Safety } from './optimize-facts.js';
import * as analysis from './optimize-analysis.js';
import * as values from './optimize-values.js';
import type { Effect, State, ValueTable } from './optimize-values.js';

// Module-level copies: cheaper than cross-module bindings in hot loops (tsx compiles those to getters).
const { BPF_ABS, BPF_ALU, BPF_B, BPF_H, BPF_IMM, BPF_IND, BPF_JEQ, BPF_JMP, BPF_JSET, BPF_K, BPF_LD, BPF_LDX, BPF_LEN, BPF_MEM, BPF_MISC, BPF_MSH, BPF_NEG, BPF_ST, BPF_STX, BPF_TAX, BPF_TXA, BPF_W, BPF_X, bpfClass, bpfMode } = insn;
const { canonical, mayFail, record } = factsMod;
const { runBlock, stmtDef, stmtUse } = analysis;
const { E_ANC, E_DEV, E_IND, E_LOAD, LOC_A, LOC_X, NLOC, OP_LSH_X, OP_RSH_X, V_ALU, V_CONST, V_IND, V_LOAD, V_MSH, V_NEG, step } = values;

/** What a block must do. */
export interface BlockSpec {
  entry: State;
  safety: Safety;
  facts: Facts;
  /** Locations (bit mask) whose exit values successors read, and the values they must hold. */
  liveOut: number;
  exit: State;
  /** The block's test on its exit values, if it ends in a branch. */
  cond?: Cond;
  /** The value of A a `ret a` returns. */
  retA?: number;
  /** The effects of the original statements, in order. */
  effects: Effect[];
}

/** A rewritten block: statements, and the branch to use (possibly inverted: swap jt and jf). */
export interface BlockCode {
  stmts: Stmt[];
  branch?: { code: number; k: number; swap: boolean };
}

const st = (code: number, k = 0): Stmt => ({ code, k: k >>> 0 });

/** Locations a statement list reads before writing them. */
export function readsBeforeWrite(stmts: readonly Stmt[]): number {
  let use = 0, def = 0;
  for (const s of stmts) {
    use |= stmtUse(s) & ~def;
    def |= stmtDef(s);
  }
  return use;
}

export function writes(stmts: readonly Stmt[]): number {
  let def = 0;
  for (const s of stmts) def |= stmtDef(s);
  return def;
}

/** Safety after all of `effects` happened (from `s`). */
function after(t: ValueTable, s: Safety, effects: readonly Effect[]): Safety {
  const x = s.clone();
  for (const e of effects) record(t, x, e);
  return x;
}

/** Do two effect lists fail on exactly the same packets (given what holds on entry)? */
export function sameFailures(t: ValueTable, s: Safety, facts: Facts, a: readonly Effect[], b: readonly Effect[]): boolean {
  const sa = after(t, s, a);
  const sb = after(t, s, b);
  for (const e of a) if (mayFail(t, sb, e, facts)) return false;
  for (const e of b) if (mayFail(t, sa, e, facts)) return false;
  return true;
}

/** Run a candidate: its exit state and effects, or undefined if it uses something unmodelled. */
function simulate(t: ValueTable, entry: State, stmts: readonly Stmt[]): { state: State; effects: Effect[] } | undefined {
  const s = entry.slice();
  const effects: Effect[] = [];
  for (const x of stmts) if (!step(t, s, x, effects)) return undefined;
  return { state: s, effects };
}

function sameCond(t: ValueTable, a: Cond, b: Cond): boolean | undefined {
  const ca = canonical(t, a);
  const cb = canonical(t, b);
  if (ca.c.op !== cb.c.op || ca.c.a !== cb.c.a || ca.c.b !== cb.c.b) return undefined;
  return ca.neg === cb.neg;
}

/**
 * Does `stmts` followed by `branch` do what spec asks? Returns whether the
 * targets must be swapped, or undefined when it does not.
 */
export function check(
  t: ValueTable, spec: BlockSpec, stmts: readonly Stmt[], branch?: { code: number; k: number },
  run?: { state: State; effects: Effect[] },
): { swap: boolean } | undefined {
  const r = run ?? simulate(t, spec.entry, stmts);
  if (!r) return undefined;
  for (let l = 0; l < NLOC; l++) if ((spec.liveOut >> l) & 1 && r.state[l] !== spec.exit[l]) return undefined;
  if (spec.retA !== undefined && r.state[LOC_A] !== spec.retA) return undefined;
  let swap = false;
  if (spec.cond) {
    if (!branch) return undefined;
    const c: Cond = {
      op: branch.code & 0xf0,
      a: r.state[LOC_A]!,
      b: branch.code & BPF_X ? r.state[LOC_X]! : t.konst(branch.k),
    };
    const same = sameCond(t, spec.cond, c);
    if (same === undefined) return undefined;
    swap = !same;
  }
  // Ifindex/hatype loads may return A: keep those blocks' effects in their original order (the caller does).
  if (!sameFailures(t, spec.safety, spec.facts, spec.effects, r.effects)) return undefined;
  return { swap };
}

/** The original statements with what is provably useless removed (and constant operands made immediate). */
export function prune(t: ValueTable, spec: BlockSpec, original: readonly Stmt[], branch?: { code: number; k: number }): Stmt[] {
  let stmts = original.slice();
  for (let round = 0; round < 4; round++) {
    let dropped = false;
    // Forward: drop statements that leave every location as it was and cannot fail here;
    // make operands that are known constants immediate.
    const s = spec.entry.slice();
    const safety = spec.safety.clone();
    const kept: Stmt[] = [];
    for (const x of stmts) {
      // A statement writes A, X or (a store) slot k only; immediate() reads a location the
      // statement does not write, so the state after it serves.
      const slot = (x.code & 7) === 2 || (x.code & 7) === 3 ? x.k >>> 0 : -1;
      const pa = s[LOC_A], px = s[LOC_X], pk = slot >= 0 && slot < 16 ? s[slot] : undefined;
      const effects: Effect[] = [];
      if (!step(t, s, x, effects)) return original.slice();
      const same = s[LOC_A] === pa && s[LOC_X] === px && (pk === undefined || s[slot] === pk);
      const fails = effects.some((e) => mayFail(t, safety, e, spec.facts));
      for (const e of effects) record(t, safety, e);
      if (same && !fails) continue;
      kept.push(immediate(t, x, s) ?? x);
    }
    stmts = kept;
    // Backward: drop dead statements whose effects the rest of the block (or the entry) covers.
    let live = spec.liveOut;
    if (branch) live |= (1 << LOC_A) | (branch.code & BPF_X ? 1 << LOC_X : 0);
    if (spec.retA !== undefined) live |= 1 << LOC_A;
    const keep = new Array<boolean>(stmts.length).fill(true);
    for (let i = stmts.length - 1; i >= 0; i--) {
      const def = stmtDef(stmts[i]!);
      if ((def & live) === 0 && def !== 0) {
        keep[i] = false;
        // Without effects of its own, it changes nothing the rest computes or may fail on (what
        // it writes is not read before being written again): the failures stay the original's.
        if (effectFree(stmts[i]!)) {
          dropped = true;
          continue;
        }
        const rest = stmts.filter((_, j) => keep[j]);
        const r1 = simulate(t, spec.entry, rest);
        if (r1 && sameFailures(t, spec.safety, spec.facts, spec.effects, r1.effects)) {
          dropped = true;
          continue;
        }
        keep[i] = true;
      }
      live = (live & ~def) | stmtUse(stmts[i]!);
    }
    stmts = stmts.filter((_, i) => keep[i]);
    // Another round finds more only after a dead statement went: the forward pass drops
    // statements that change nothing (the states and what is known to fit stay as they were,
    // so a second pass sees the same), and this backward pass saw its result.
    if (!dropped) break;
  }
  return stmts;
}

/** A statement that can never end the program (no packet load, no division by X). */
function effectFree(x: Stmt): boolean {
  const code = x.code;
  switch (code & 7) {
    case 0x00: // LD: imm, mem, len
    case 0x01: // LDX: imm, mem, len
      return (code & 0xe0) === 0x00 || (code & 0xe0) === 0x60 || (code & 0xe0) === 0x80;
    case 0x02:
    case 0x03:
    case 0x07:
      return true;
    case 0x04: { // ALU: division and modulo by X may be by 0
      const op = code & 0xf0;
      return !((code & BPF_X) !== 0 && (op === 0x30 || op === 0x90));
    }
    default:
      return false;
  }
}

/** x with a constant operand made immediate (same length), or undefined. */
function immediate(t: ValueTable, x: Stmt, s: State): Stmt | undefined {
  const cls = bpfClass(x.code);
  if ((cls === BPF_LD || cls === BPF_LDX) && bpfMode(x.code) === BPF_MEM && x.k < 16) {
    const c = t.constOf(s[x.k]!);
    if (c !== undefined) return st(cls | BPF_IMM, c);
  }
  if (cls === BPF_ALU && x.code & BPF_X) {
    const c = t.constOf(s[LOC_X]!);
    const op = x.code & 0xf0;
    if (c !== undefined && !((op === 0x60 || op === 0x70) && c >= 32) && !((op === 0x30 || op === 0x90) && c === 0)) {
      return st(BPF_ALU | op | BPF_K, c);
    }
  }
  if (cls === BPF_LD && bpfMode(x.code) === BPF_IND) {
    const c = t.constOf(s[LOC_X]!);
    const size = (x.code & 0x18) === BPF_W ? 4 : (x.code & 0x18) === BPF_H ? 2 : 1;
    if (c !== undefined && c + x.k + size < 0x80000000) return st(BPF_LD | (x.code & 0x18) | BPF_ABS, c + x.k);
  }
  if (cls === BPF_MISC) {
    const src = x.code === (BPF_MISC | BPF_TAX) ? LOC_A : LOC_X;
    const c = t.constOf(s[src]!);
    if (c !== undefined) return st(x.code === (BPF_MISC | BPF_TAX) ? BPF_LDX | BPF_IMM : BPF_LD | BPF_IMM, c);
  }
  return undefined;
}

/** Instruction selection into A, X and slots, on a simulated state. */
class Emitter {
  out: Stmt[] = [];
  /** The effects of `out`, in order (what simulating it from the entry gives). */
  effects: Effect[] = [];
  s: State;
  constructor(private t: ValueTable, entry: State, public fuel = 40) {
    this.s = entry.slice();
  }
  private emit(x: Stmt): boolean {
    if (--this.fuel < 0) return false;
    this.out.push(x);
    return step(this.t, this.s, x, this.effects);
  }
  private slotHolding(v: number): number {
    for (let i = 0; i < 16; i++) if (this.s[i] === v) return i;
    return -1;
  }

  /** Make A hold v without touching the locations in `keep`. */
  toA(v: number, keep: number): boolean {
    const s = this.s;
    if (s[LOC_A] === v) return true;
    if (keep & (1 << LOC_A)) return false;
    if (s[LOC_X] === v) return this.emit(st(BPF_MISC | BPF_TXA));
    const slot = this.slotHolding(v);
    if (slot >= 0) return this.emit(st(BPF_LD | BPF_MEM, slot));
    const t = this.t;
    const vi = t.info[v]!;
    switch (vi.kind) {
      case V_CONST:
        return this.emit(st(BPF_LD | BPF_IMM, vi.k));
      case V_LOAD:
        return this.emit(st(vi.code, vi.k));
      case V_MSH:
        return this.toX(v, keep) && this.emit(st(BPF_MISC | BPF_TXA));
      case V_IND: {
        if (!this.toX(vi.a, keep)) return false;
        return this.emit(st(BPF_LD | (vi.code & 0x18) | BPF_IND, vi.k));
      }
      case V_NEG:
        return this.toA(vi.a, keep) && this.emit(st(BPF_ALU | BPF_NEG));
      case V_ALU: {
        const op = vi.code === OP_LSH_X ? 0x60 : vi.code === OP_RSH_X ? 0x70 : vi.code;
        const cb = t.constOf(vi.b);
        if (cb !== undefined && vi.code !== OP_LSH_X && vi.code !== OP_RSH_X) {
          return this.toA(vi.a, keep) && this.emit(st(BPF_ALU | op | BPF_K, cb));
        }
        // A = a, X = b. Try b first (into X), then a; for commutative ops also the other way round.
        const mark = this.out.length, saved = this.s.slice(), fuel = this.fuel, eff = this.effects.length;
        if (this.toX(vi.b, keep) && this.toA(vi.a, keep | (1 << LOC_X))) return this.emit(st(BPF_ALU | op | BPF_X));
        this.out.length = mark;
        this.effects.length = eff;
        this.s = saved;
        this.fuel = fuel;
        if (op === 0x00 || op === 0x20 || op === 0x40 || op === 0x50 || op === 0xa0) {
          if (this.toX(vi.a, keep) && this.toA(vi.b, keep | (1 << LOC_X))) return this.emit(st(BPF_ALU | op | BPF_X));
        }
        return false;
      }
      default:
        return false;
    }
  }

  /** Make X hold v without touching `keep`. */
  toX(v: number, keep: number): boolean {
    const s = this.s;
    if (s[LOC_X] === v) return true;
    if (keep & (1 << LOC_X)) return false;
    if (s[LOC_A] === v) return this.emit(st(BPF_MISC | BPF_TAX));
    const slot = this.slotHolding(v);
    if (slot >= 0) return this.emit(st(BPF_LDX | BPF_MEM, slot));
    const vi = this.t.info[v]!;
    if (vi.kind === V_CONST) return this.emit(st(BPF_LDX | BPF_IMM, vi.k));
    if (vi.kind === V_MSH) return this.emit(st(BPF_LDX | BPF_MSH | BPF_B, vi.k));
    if (vi.kind === V_LOAD && vi.code === (BPF_LD | BPF_LEN)) return this.emit(st(BPF_LDX | BPF_LEN));
    return this.toA(v, keep) && this.emit(st(BPF_MISC | BPF_TAX));
  }

  toSlot(i: number, v: number, keep: number): boolean {
    if (this.s[i] === v) return true;
    if (this.s[LOC_A] === v) return this.emit(st(BPF_ST, i));
    if (this.s[LOC_X] === v) return this.emit(st(BPF_STX, i));
    const mark = this.out.length, saved = this.s.slice(), fuel = this.fuel, eff = this.effects.length;
    if (this.toA(v, keep)) return this.emit(st(BPF_ST, i));
    this.out.length = mark;
    this.effects.length = eff;
    this.s = saved;
    this.fuel = fuel;
    return this.toX(v, keep) && this.emit(st(BPF_STX, i));
  }

  /** Perform an effect whose value nobody needs (a bounds check), clobbering A or X. */
  effect(e: Effect, keep: number): boolean {
    if (e.kind === E_LOAD) {
      const size = e.end - e.k;
      const code = size === 4 ? BPF_W : size === 2 ? BPF_H : size === 1 ? BPF_B : -1;
      if (code < 0) return false;
      if (!(keep & (1 << LOC_A))) return this.emit(st(BPF_LD | code | BPF_ABS, e.k));
      if (size === 1 && !(keep & (1 << LOC_X))) return this.emit(st(BPF_LDX | BPF_MSH | BPF_B, e.k));
      return false;
    }
    if (e.kind === E_IND) {
      const size = e.end - e.k;
      const code = size === 4 ? BPF_W : size === 2 ? BPF_H : size === 1 ? BPF_B : -1;
      if (code < 0 || keep & (1 << LOC_A)) return false;
      return this.toX(e.v, keep) && this.emit(st(BPF_LD | code | BPF_IND, e.k));
    }
    if (e.kind === E_ANC && !(keep & (1 << LOC_A))) {
      const code = e.end === 4 ? BPF_W : e.end === 2 ? BPF_H : BPF_B;
      return this.emit(st(BPF_LD | code | BPF_ABS, e.k));
    }
    return false;
  }
}

/** A form of a test: A's value, the operand's value, the jump code and k, and whether the targets swap. */
interface TestForm {
  a: number;
  b: number;
  code: number;
  k: number;
  swap: boolean;
}

function addForm(t: ValueTable, forms: TestForm[], a: number, b: number, op: number, swap: boolean): void {
  const kb = t.constOf(b);
  if (kb !== undefined) forms.push({ a, b, code: BPF_JMP | op | BPF_K, k: kb, swap });
  else forms.push({ a, b, code: BPF_JMP | op | BPF_X, k: 0, swap });
}

/** Equivalent forms of a test. */
function testForms(t: ValueTable, c: Cond): TestForm[] {
  const forms: TestForm[] = [];
  addForm(t, forms, c.a, c.b, c.op, false);
  const cc = canonical(t, c);
  if (cc.c.a !== c.a || cc.c.b !== c.b || cc.c.op !== c.op) addForm(t, forms, cc.c.a, cc.c.b, cc.c.op, cc.neg);
  // `jset #m` on x as `(x & m) == 0` the other way round (when x & m is what A holds anyway).
  const kb = t.constOf(c.b);
  if (c.op === 0x40 && kb !== undefined) {
    const m = t.alu(0x50, c.a, c.b);
    if (m !== undefined) addForm(t, forms, m, t.konst(0), BPF_JEQ & 0xf0, true);
  }
  void BPF_JSET;
  return forms;
}

/**
 * The best code for a block, or undefined to keep it as it is. `original`
 * are its statements; `branch` its current branch code and k.
 */
export function regenerate(
  t: ValueTable,
  spec: BlockSpec,
  original: readonly Stmt[],
  branch: { code: number; k: number } | undefined,
): BlockCode | undefined {
  // Nothing can be shorter than the original (which wins ties): keep it without searching.
  const least = minLength(t, spec);
  if (original.length <= least) return undefined;
  // Blocks with an ifindex/hatype load that may still fail keep their order: leave them.
  let dev = false, anc = false;
  for (const e of spec.effects) {
    if (e.kind === E_DEV) dev = true;
    else if (e.kind === E_ANC) anc = true;
  }
  if (dev) {
    const s = spec.safety.clone();
    for (const e of spec.effects) {
      if (e.kind === E_DEV && mayFail(t, s, e, spec.facts)) return undefined;
      record(t, s, e);
    }
  }
  const r: Best = { best: undefined, len: Infinity };
  // The original (the definition) and its pruned form. The original passes the check by
  // construction (the analysis ran it), unless it makes a value of its own on each run (a
  // random or negative-offset load, E_ANC): then it is checked too.
  if (anc) {
    consider(t, spec, r, original.slice(), branch);
    if (!r.best) return undefined;
  } else {
    const stmts = original.slice();
    r.best = branch ? { stmts, branch: { code: branch.code, k: branch.k >>> 0, swap: false } } : { stmts };
    r.len = stmts.length;
  }
  const pruned = prune(t, spec, original, branch);
  consider(t, spec, r, pruned, branch);
  // X-operand tests on constants as immediates.
  if (branch && branch.code & BPF_X && spec.cond) {
    const kb = t.constOf(spec.cond.b);
    if (kb !== undefined) {
      const br = { code: (branch.code & ~BPF_X) | BPF_K, k: kb };
      consider(t, spec, r, prune(t, { ...spec }, pruned, br), br);
    }
  }
  // `and #m; jeq #0` as `jset #m` the other way round (where the masked value is not needed
  // after): the search's commonest find, tried first; where it meets the bound, no search.
  if (branch && r.len > least && branch.code === 0x15 && branch.k >>> 0 === 0 && pruned.length > 0) {
    const last = pruned[pruned.length - 1]!;
    if (last.code === 0x54) consider(t, spec, r, pruned.slice(0, -1), { code: 0x45, k: last.k >>> 0 });
  }
  // The search below grows fast with the length (orders of goals, both operand orders of each
  // commutative operation): it is not tried past MAX_SEARCH statements; longer code is searched
  // window by window (see windowed). (Nor where the pruned code already meets the lower bound.)
  if (r.len <= least) return r.best;
  if (r.len > MAX_SEARCH) {
    windowed(t, spec, r);
    return r.best;
  }
  // Generated code, for each test form and order of goals.
  const forms = spec.cond ? testForms(t, spec.cond) : [undefined];
  const slotGoals: [number, number][] = [];
  for (let i = 0; i < 16; i++) if ((spec.liveOut >> i) & 1 && spec.entry[i] !== spec.exit[i]) slotGoals.push([i, spec.exit[i]!]);
  for (const f of forms) {
    let aGoal: number | undefined = spec.liveOut & (1 << LOC_A) ? spec.exit[LOC_A] : undefined;
    let xGoal: number | undefined = spec.liveOut & (1 << LOC_X) ? spec.exit[LOC_X] : undefined;
    if (f) {
      if (aGoal !== undefined && aGoal !== f.a) continue;
      aGoal = f.a;
      if (f.code & BPF_X) {
        if (xGoal !== undefined && xGoal !== f.b) continue;
        xGoal = f.b;
      }
    }
    if (spec.retA !== undefined) {
      if (aGoal !== undefined && aGoal !== spec.retA) continue;
      aGoal = spec.retA;
    }
    // Every goal not already met takes at least one statement: no shorter code from this form.
    const lower = slotGoals.length + (xGoal !== undefined && spec.entry[LOC_X] !== xGoal ? 1 : 0) +
      (aGoal !== undefined && spec.entry[LOC_A] !== aGoal ? 1 : 0);
    if (lower >= r.len) continue;
    const br = f ? { code: f.code, k: f.k } : undefined;
    // Orders that differ only in goals this form does not have are the same order.
    const present = (slotGoals.length ? 1 : 0) | (xGoal !== undefined ? 2 : 0) | (aGoal !== undefined ? 4 : 0);
    const seen = new Set<number>();
    for (const order of ORDERS) {
      let key = 0;
      for (const g of order) {
        const bit = g === 'slots' ? 1 : g === 'x' ? 2 : 4;
        if (present & bit) key = key * 8 + bit;
      }
      if (seen.has(key)) continue;
      seen.add(key);
      for (let pass = 0; pass < 2; pass++) {
        if (r.len <= lower) break;
        const em = emitGoals(t, spec, order, pass === 0, slotGoals, xGoal, aGoal, r.len - 1);
        if (em) consider(t, spec, r, em.out, br, { state: em.s, effects: em.effects });
      }
    }
  }
  return r.best;
}

/**
 * A lower bound on the length of any code that meets spec: each location that must end with a
 * value it does not hold on entry takes a statement of its own (a statement writes one location).
 * A's test operand counts when A on entry cannot be the operand of an equivalent test (the
 * canonical test's operand is not on the chain of constant and/add/xor under it).
 */
function minLength(t: ValueTable, spec: BlockSpec): number {
  const entry = spec.entry, exit = spec.exit, live = spec.liveOut;
  let n = 0;
  for (let i = 0; i < 16; i++) if ((live >> i) & 1 && entry[i] !== exit[i]) n++;
  // A value for A that no single statement makes takes two (an operand, then the operation),
  // unless the first is X's own final write (then `txa`).
  const xGoal = (live >> LOC_X) & 1 && entry[LOC_X] !== exit[LOC_X];
  if (xGoal) n++;
  if ((live >> LOC_A) & 1) {
    if (entry[LOC_A] !== exit[LOC_A]) n += xGoal || oneStatement(t, entry, exit[LOC_A]!) ? 1 : 2;
  } else if (spec.retA !== undefined) {
    if (entry[LOC_A] !== spec.retA) n += xGoal || oneStatement(t, entry, spec.retA) ? 1 : 2;
  } else if (spec.cond) {
    const target = canonical(t, spec.cond).c.a;
    let v = entry[LOC_A]!;
    let reach = v === target || v === spec.cond.a;
    for (let i = 0; !reach && i < 8; i++) {
      const vi = t.info[v]!;
      if (vi.kind !== V_ALU || vi.code !== 0x00 && vi.code !== 0x50 && vi.code !== 0xa0 || t.constOf(vi.b) === undefined) break;
      v = vi.a;
      reach = v === target;
    }
    if (!reach) n += xGoal || oneStatement(t, entry, target) ? 1 : 2;
  }
  return n;
}

/** Does the .a-chain (ALU and NEG operands, a few steps) of v pass through target? */
function chainHas(t: ValueTable, v: number, target: number): boolean {
  for (let i = 0; i < 8; i++) {
    if (v === target) return true;
    const vi = t.info[v]!;
    if (vi.kind !== V_ALU && vi.kind !== V_NEG) return false;
    v = vi.a;
  }
  return false;
}

/**
 * Could one statement from `entry` leave in A a value whose canonical test operand is `target`
 * (target itself, or an and/add/xor with constants above it)? False only when it cannot: every
 * such value above target is computed from a value on or above target, so A, X or a slot must
 * hold one (an ALU statement on A, txa, ld M[]), or target is loaded directly; an ALU statement
 * (which simplifies: reassociation, narrowing) is counted when an operand of target is on the
 * chain of A or X; an indirect load when X's chain has its base (or A holds an indirect load
 * an and narrows). Otherwise at least two statements (compute an operand, then the operation).
 */
function oneStatement(t: ValueTable, entry: State, target: number): boolean {
  const ti = t.info[target]!;
  const kind = ti.kind;
  if (kind !== V_ALU && kind !== V_NEG && kind !== V_MSH && kind !== V_IND) return true;
  for (let l = 0; l < NLOC; l++) if (chainHas(t, entry[l]!, target)) return true;
  const a = entry[LOC_A]!, x = entry[LOC_X]!;
  if (kind === V_MSH) return false;
  // An indirect load from X (offsets folded into the base), or an and narrowing one in A.
  if (kind === V_IND) return chainHas(t, x, ti.a) || t.info[a]!.kind === V_IND;
  // An ALU or NEG statement on A (or with X as operand) whose result simplifies to target.
  if (chainHas(t, a, ti.a) || chainHas(t, x, ti.a)) return true;
  if (kind === V_ALU && (chainHas(t, a, ti.b) || chainHas(t, x, ti.b))) return true;
  return false;
}

/** Longest pruned code the instruction selection search is tried on. */
const MAX_SEARCH = 10;

/**
 * Code longer than the search takes (arithmetic: `ip[2:2] - ((ip[0]&0xf)<<2) ...`), searched in
 * windows of at most MAX_SEARCH statements of the best code so far: each window must leave the
 * values that code has at the window's end in the locations read after it (in the block or by
 * its successors), from the state the windows before it (as rewritten) leave, with its own
 * effects; the last window also makes the block's test (or returns its A). The windows' code
 * together is then checked against the whole block's spec like any other candidate.
 */
function windowed(t: ValueTable, spec: BlockSpec, r: Best): void {
  const base = r.best!.stmts;
  // (The best code's own test: pruning may have made an X operand an immediate.)
  const b0 = r.best!.branch;
  const branch = b0 ? { code: b0.code, k: b0.k } : undefined;
  const n = base.length;
  // Locations read after each position (before statement i runs: live[i]).
  const live = new Array<number>(n + 1);
  let l = spec.liveOut;
  if (branch) l |= (1 << LOC_A) | ((branch.code & BPF_X) === BPF_X ? 1 << LOC_X : 0);
  if (spec.retA !== undefined) l |= 1 << LOC_A;
  live[n] = l;
  for (let i = n - 1; i >= 0; i--) {
    const st = base[i]!;
    l = (l & ~stmtDef(st)) | stmtUse(st);
    live[i] = l;
  }
  // The values and safety of the code so far at each window's start, as written.
  let origState = spec.entry, origSafety = spec.safety;
  let curState = spec.entry, curSafety = spec.safety;
  const out: Stmt[] = [];
  let br = branch;
  for (let at = 0; at < n; ) {
    const end = Math.min(n, at + MAX_SEARCH);
    const last = end === n;
    const win = base.slice(at, end);
    const orig = runBlock(t, win, origState, origSafety, spec.facts);
    if (!orig.ok) return;
    const wspec: BlockSpec = {
      entry: curState,
      safety: curSafety,
      facts: spec.facts,
      liveOut: last ? spec.liveOut : live[end]!,
      exit: orig.state,
      effects: orig.effects,
    };
    if (last && spec.cond) wspec.cond = spec.cond;
    if (last && spec.retA !== undefined) wspec.retA = spec.retA;
    // (Unchanged where the window's entry is the original's and nothing shorter is found.)
    const code = regenerate(t, wspec, win, last ? branch : undefined);
    const stmts = code ? code.stmts : win;
    if (last && code?.branch && branch) br = { code: code.branch.code, k: code.branch.k };
    for (const x of stmts) out.push(x);
    const cur = runBlock(t, stmts, curState, curSafety, spec.facts);
    if (!cur.ok) return;
    curState = cur.state;
    curSafety = cur.safety;
    origState = orig.state;
    origSafety = orig.safety;
    at = end;
  }
  consider(t, spec, r, out, br);
}

/** The best candidate so far. */
interface Best {
  best: BlockCode | undefined;
  len: number;
}

function consider(
  t: ValueTable, spec: BlockSpec, r: Best, stmts: Stmt[], br?: { code: number; k: number },
  run?: { state: State; effects: Effect[] },
): void {
  const len = stmts.length;
  if (len >= r.len) return;
  const ok = check(t, spec, stmts, br, run);
  if (!ok) return;
  r.best = br ? { stmts, branch: { code: br.code, k: br.k >>> 0, swap: ok.swap } } : { stmts };
  r.len = len;
}

/** Perform the effects the code so far has not performed (bounds checks); false when it cannot. */
function doEffects(t: ValueTable, spec: BlockSpec, em: Emitter, keep: number): boolean {
  const sNow = after(t, spec.safety, em.effects);
  for (const e of spec.effects) {
    if (!mayFail(t, sNow, e, spec.facts)) continue;
    if (!em.effect(e, keep)) return false;
    record(t, sNow, e);
  }
  return true;
}

/**
 * Instruction selection for the goals in one order, with the effects first
 * or after; at most `fuel` statements. The statements, or undefined.
 */
function emitGoals(
  t: ValueTable, spec: BlockSpec, order: readonly ('slots' | 'x' | 'a')[], effectsFirst: boolean,
  slotGoals: readonly [number, number][], xGoal: number | undefined, aGoal: number | undefined, fuel: number,
): Emitter | undefined {
  const em = new Emitter(t, spec.entry, Math.min(40, fuel));
  let keep = 0;
  if (effectsFirst && !doEffects(t, spec, em, keep)) return undefined;
  for (const g of order) {
    if (g === 'slots') {
      for (const [i, v] of slotGoals) {
        if (!em.toSlot(i, v, keep)) return undefined;
        keep |= 1 << i;
      }
    } else if (g === 'x' && xGoal !== undefined) {
      if (!em.toX(xGoal, keep)) return undefined;
      keep |= 1 << LOC_X;
    } else if (g === 'a' && aGoal !== undefined) {
      // Compute A; if effects remain that it did not perform, do them first and compute A again.
      const mark = em.out.length, saved = em.s.slice(), fuelBefore = em.fuel, eff = em.effects.length;
      if (!em.toA(aGoal, keep)) return undefined;
      if (!effectsFirst) {
        if (anyMayFail(t, after(t, spec.safety, em.effects), spec)) {
          em.out.length = mark;
          em.effects.length = eff;
          em.s = saved;
          em.fuel = fuelBefore;
          if (!doEffects(t, spec, em, keep)) return undefined;
          if (!em.toA(aGoal, keep)) return undefined;
        }
      }
      keep |= 1 << LOC_A;
    }
  }
  if (!effectsFirst && aGoal === undefined && !doEffects(t, spec, em, keep)) return undefined;
  return em;
}

function anyMayFail(t: ValueTable, s: Safety, spec: BlockSpec): boolean {
  for (const e of spec.effects) if (mayFail(t, s, e, spec.facts)) return true;
  return false;
}

const ORDERS: ('slots' | 'x' | 'a')[][] = [
  ['slots', 'x', 'a'],
  ['slots', 'a', 'x'],
  ['x', 'slots', 'a'],
  ['a', 'slots', 'x'],
  ['x', 'a', 'slots'],
  ['a', 'x', 'slots'],
];

export { BPF_LEN, E_ANC, E_DEV, E_IND, V_ALU };
