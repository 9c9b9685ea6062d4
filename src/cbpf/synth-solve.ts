/**
 * The packet synthesiser's solver: given the decisions a run took (a path
 * prefix that must be kept) and one decision to turn the other way, find a
 * packet that does both, or prove that none exists.
 *
 * - Exact where the condition is over at most 16 bits of packet or metadata
 *   (one or two bytes, a small metadata field): every value of those bits is
 *   tried against the target and the prefix conditions that read them. If no
 *   value satisfies the target together with the prefix conditions that read
 *   only those bits, the flip is infeasible (that subset alone is
 *   unsatisfiable).
 * - Otherwise (32-bit words, lengths, two-sided comparisons): the target's
 *   expression is inverted through its ALU chain (add, sub, xor, and, or,
 *   shifts, mul, div, mod, neg) to the values of one leaf that give the
 *   wanted outcome, boundary values first; then a guided random search
 *   around them; a candidate that breaks an earlier decision is repaired
 *   once by solving that decision with the target's bits frozen.
 */
import {
  CAP, E_ALU, E_BYTES, E_CAP, E_CONST, E_META, E_NEG, E_WIRE, LSH_MOD, META_WIDTH, MAX_SYNTH_LENGTH, RSH_MOD,
  aluOp, condHolds, evalExpr, type Cond, type Decision, type Env, type Expr,
} from './synth-expr.js';

/** A variable the solver can set: a packet byte (index >= 0), or one of these. */
const V_CAP = -1;
const V_WIRE = -2;
const vMeta = (f: number): number => -10 - f;

/** Leaves of an expression: the expressions that read variables (bytes, lengths, metadata). */
function leaves(e: Expr, out: Expr[]): void {
  switch (e.t) {
    case E_BYTES: case E_CAP: case E_WIRE: case E_META:
      out.push(e);
      return;
    case E_ALU:
      leaves(e.a, out);
      leaves(e.b, out);
      return;
    case E_NEG:
      leaves(e.a, out);
      return;
    default:
  }
}

function leafVars(e: Expr, out: Set<number>): void {
  if (e.t === E_BYTES) for (let i = 0; i < e.size; i++) out.add(e.off + i);
  else if (e.t === E_CAP) out.add(V_CAP);
  else if (e.t === E_WIRE) out.add(V_WIRE);
  else if (e.t === E_META) out.add(vMeta(e.f));
}

function condVars(c: Cond): Set<number> {
  const ls: Expr[] = [];
  leaves(c.a, ls);
  leaves(c.b, ls);
  const s = new Set<number>();
  for (const l of ls) leafVars(l, s);
  return s;
}

/** Width in bits of a leaf's value. */
function leafWidth(l: Expr): number {
  if (l.t === E_BYTES) return l.size * 8;
  if (l.t === E_META) return META_WIDTH[l.f]!;
  return 32;
}

function cloneEnv(env: Env): Env {
  return { data: env.data.slice(), wire: env.wire, meta: env.meta.slice() };
}

/** Set a leaf to v (masked to its width) in a copy of env; a byte write past the end grows the packet. */
export function setLeaf(env: Env, l: Expr, v: number): Env {
  const out = cloneEnv(env);
  v >>>= 0;
  if (l.t === E_BYTES) {
    const end = l.off + l.size;
    if (end > MAX_SYNTH_LENGTH) return out;
    if (end > out.data.length) {
      const d = new Uint8Array(end);
      d.set(out.data);
      out.data = d;
      if (out.wire < end) out.wire = end;
    }
    for (let i = l.size - 1; i >= 0; i--) {
      out.data[l.off + i] = v & 0xff;
      v = Math.floor(v / 256);
    }
  } else if (l.t === E_CAP) {
    const len = Math.min(v, MAX_SYNTH_LENGTH);
    if (len < out.data.length) out.data = out.data.slice(0, len);
    else if (len > out.data.length) {
      const d = new Uint8Array(len);
      d.set(out.data);
      out.data = d;
    }
    if (out.wire < len) out.wire = len;
  } else if (l.t === E_WIRE) {
    out.wire = v;
    if (v < out.data.length) out.data = out.data.slice(0, v);
  } else if (l.t === E_META) {
    const w = META_WIDTH[l.f]!;
    out.meta[l.f] = w >= 32 ? v : v & ((1 << w) - 1);
  }
  return out;
}

/** Does env follow every prefix decision and the target's wanted direction? Index of the first broken one, or -1. */
function firstBroken(prefix: readonly Decision[], target: Cond, want: boolean, env: Env): number {
  for (let i = 0; i < prefix.length; i++) {
    const d = prefix[i]!;
    if (condHolds(d.c, env) !== d.taken) return i;
  }
  return condHolds(target, env) === want ? -1 : prefix.length;
}

const varCache = new WeakMap<Cond, Set<number>>();
function cachedVars(c: Cond): Set<number> {
  let v = varCache.get(c);
  if (!v) varCache.set(c, (v = condVars(c)));
  return v;
}

/** Which prefix decisions read each variable (so a candidate is checked only where it changed something). */
class PrefixIndex {
  private readonly byVar = new Map<number, number[]>();
  constructor(readonly prefix: readonly Decision[], readonly target: Cond, readonly want: boolean, readonly base: Env) {
    prefix.forEach((d, i) => {
      for (const v of cachedVars(d.c)) {
        let l = this.byVar.get(v);
        if (!l) this.byVar.set(v, (l = []));
        l.push(i);
      }
    });
  }

  /** Like firstBroken, for an env that differs from the base env only in some variables. */
  broken(env: Env): number {
    const a = this.base, changed: number[] = [];
    const n = Math.max(a.data.length, env.data.length);
    for (let i = 0; i < n; i++) if (a.data[i] !== env.data[i]) changed.push(i);
    if (a.data.length !== env.data.length) changed.push(V_CAP);
    if (a.wire !== env.wire) changed.push(V_WIRE);
    for (let f = 0; f < a.meta.length; f++) if (a.meta[f] !== env.meta[f]) changed.push(vMeta(f));
    let first = -1;
    for (const v of changed) {
      const l = this.byVar.get(v);
      if (!l) continue;
      for (const i of l) {
        if (first !== -1 && i >= first) break;
        const d = this.prefix[i]!;
        if (condHolds(d.c, env) !== d.taken) {
          first = i;
          break;
        }
      }
    }
    if (first !== -1) return first;
    return condHolds(this.target, env) === this.want ? -1 : this.prefix.length;
  }
}

/** Values of `side` (compared by op with the other side's value o) that give outcome `want`, boundary values first. */
function sideTargets(op: number, leftSide: boolean, o: number, want: boolean, cur: number): number[] {
  const M = 0xffffffff;
  const lowbit = (x: number): number => (x & -x) >>> 0;
  if (op === 0x10) return want ? [o] : [o + 1, o - 1, o ^ 1, 0, M, o ^ 0x80000000, cur + 1];
  if (op === 0x40) {
    if (want) return o === 0 ? [] : [o, lowbit(o), cur | lowbit(o), (cur | o) >>> 0];
    return [(cur & ~o) >>> 0, 0, (~o) >>> 0];
  }
  // JGT (a > b) / JGE (a >= b).
  const gt = op === 0x20;
  if (leftSide) {
    // side > o (gt) or side >= o.
    if (want) return gt ? (o === M ? [] : [o + 1, o + 2, M, o * 2 + 1]) : [o, o + 1, M];
    return gt ? [o, o - 1, 0, Math.floor(o / 2)] : o === 0 ? [] : [o - 1, 0, Math.floor(o / 2)];
  }
  // o > side (gt) or o >= side.
  if (want) return gt ? (o === 0 ? [] : [o - 1, 0, Math.floor(o / 2)]) : [o, o - 1, 0];
  return gt ? [o, o + 1, M] : o === M ? [] : [o + 1, o + 2, M];
}

function contains(e: Expr, l: Expr): boolean {
  if (e === l) return true;
  if (e.t === E_ALU) return contains(e.a, l) || contains(e.b, l);
  if (e.t === E_NEG) return contains(e.a, l);
  return false;
}

function modInverse(a: number): number {
  // Newton's iteration for the inverse of an odd number modulo 2^32.
  let x = a;
  for (let i = 0; i < 5; i++) x = Math.imul(x, 2 - Math.imul(a, x)) >>> 0;
  return x >>> 0;
}

/** Values of leaf l (inside e) that make e evaluate to t, given the rest of env. */
function invert(e: Expr, l: Expr, t: number, env: Env, out: number[]): void {
  t >>>= 0;
  if (e === l) {
    out.push(t);
    return;
  }
  if (e.t === E_NEG) {
    invert(e.a, l, -t, env, out);
    return;
  }
  if (e.t !== E_ALU) return;
  const inA = contains(e.a, l);
  const x = inA ? e.a : e.b;
  const other = evalExpr(inA ? e.b : e.a, env);
  const cur = evalExpr(x, env);
  const ts: number[] = [];
  switch (e.op) {
    case 0x00: ts.push(t - other); break;
    case 0x10: ts.push(inA ? t + other : other - t); break;
    case 0xa0: ts.push(t ^ other); break;
    case 0x50:
      if ((t & ~other) === 0) ts.push((t | (cur & ~other)) >>> 0, t);
      break;
    case 0x40:
      if ((t & other) >>> 0 === other >>> 0 || !inA) ts.push(((t & ~other) | (cur & other)) >>> 0, (t & ~other) >>> 0);
      break;
    case 0x20:
      if (other & 1) ts.push(Math.imul(t, modInverse(other)));
      else if (other !== 0) {
        const tz = 31 - Math.clz32(other & -other);
        if ((t & ((1 << tz) - 1)) === 0) ts.push(Math.imul(t >>> tz, modInverse((other >>> tz) | 0)));
      } else if (t === 0) ts.push(cur);
      break;
    case 0x60: case LSH_MOD:
      if (inA) {
        const s = e.op === LSH_MOD ? other & 31 : other;
        if (s >= 32) break;
        if (s === 0) ts.push(t);
        else if ((t & ((1 << s) - 1)) === 0) ts.push(((t >>> s) | (cur & ~(0xffffffff >>> s))) >>> 0, t >>> s);
      } else for (let s = 0; s < 32; s++) if (aluOp(e.op, other, s) === t) ts.push(s);
      break;
    case 0x70: case RSH_MOD:
      if (inA) {
        const s = e.op === RSH_MOD ? other & 31 : other;
        if (s >= 32) break;
        if (s === 0) ts.push(t);
        else if (t <= 0xffffffff >>> s) ts.push(((t << s) | (cur & ((1 << s) - 1))) >>> 0, (t << s) >>> 0);
      } else for (let s = 0; s < 32; s++) if (aluOp(e.op, other, s) === t) ts.push(s);
      break;
    case 0x30:
      if (inA && other !== 0) {
        const lo = t * other;
        if (lo + other - 1 <= 0xffffffff) ts.push(lo + (cur % other), lo, lo + other - 1);
      } else if (!inA && t !== 0) ts.push(Math.floor(other / t));
      break;
    case 0x90:
      if (inA && other !== 0 && t < other) ts.push(cur - (cur % other) + t, t);
      else if (!inA && t < other) ts.push(other - t);
      break;
    default:
  }
  for (const v of ts) invert(x, l, v, env, out);
}

export interface SolveContext {
  rnd: () => number;
  /** Counts how often each kind of answer was given (for coverage reports). */
  stats: { exact: number; inverted: number; searched: number; infeasible: number; failed: number };
}

export type SolveResult = Env | 'infeasible' | undefined;

/** Candidates for leaf l that make target go `want`. */
function leafCandidates(target: Cond, want: boolean, l: Expr, env: Env, rnd: () => number): number[] {
  const out: number[] = [];
  const inA = contains(target.a, l);
  const side = inA ? target.a : target.b;
  const o = evalExpr(inA ? target.b : target.a, env);
  const cur = evalExpr(side, env);
  for (const t of sideTargets(target.op, inA, o, want, cur)) invert(side, l, t, env, out);
  // A little guided randomness around what we have.
  const curLeaf = evalExpr(l, env);
  const w = leafWidth(l);
  const mask = w >= 32 ? 0xffffffff : (1 << w) - 1;
  const extra = out.length ? out.slice(0, 4) : [curLeaf];
  for (let i = 0; i < 6; i++) {
    const base = extra[i % extra.length]!;
    const bit = Math.floor(rnd() * w);
    out.push(((base ^ (1 << bit)) >>> 0) & mask);
  }
  for (let i = 0; i < 4; i++) out.push(Math.floor(rnd() * (mask + 1)) >>> 0);
  const seen = new Set<number>();
  return out.map((v) => (v >>> 0) & mask).filter((v) => (seen.has(v) ? false : (seen.add(v), true)));
}

/** Bits of packet bytes that conditions of the form `(bytes & m) == c` or `!(bytes & m)` pin down. */
type Fixed = Map<number, { mask: number; value: number }>;

/** Add what one condition fixes; false if it contradicts what is already fixed. */
function addFixed(fixed: Fixed, c: Cond, taken: boolean): boolean {
  if (c.b.t !== E_CONST) return true;
  let leaf = c.a;
  let mask = 0xffffffff;
  if (leaf.t === E_ALU && leaf.op === 0x50 && leaf.b.t === E_CONST) {
    mask = leaf.b.v;
    leaf = leaf.a;
  }
  if (leaf.t !== E_BYTES) return true;
  let value: number;
  if (c.op === 0x10 && taken) value = c.b.v;
  else if (c.op === 0x40 && !taken) {
    mask = (mask & c.b.v) >>> 0;
    value = 0;
  } else return true;
  const width = leaf.size * 8;
  if (width < 32) mask &= (1 << width) - 1;
  if ((value & ~mask) !== 0) return false;
  for (let i = 0; i < leaf.size; i++) {
    const shift = 8 * (leaf.size - 1 - i);
    const m = (mask >>> shift) & 0xff;
    if (!m) continue;
    const v = (value >>> shift) & 0xff;
    const at = leaf.off + i;
    const f = fixed.get(at);
    if (f && ((f.value ^ v) & f.mask & m) !== 0) return false;
    fixed.set(at, f ? { mask: f.mask | m, value: (f.value & ~m) | v } : { mask: m, value: v });
  }
  return true;
}

/** Small groups of variables (at most 16 free bits) to enumerate exactly. */
function smallGroup(target: Cond, prefix: readonly Decision[], fixed: Fixed): { bits: number; vars: Set<number> } | undefined {
  const vars = condVars(target);
  if (vars.has(V_CAP) || vars.has(V_WIRE) || vars.size === 0) return undefined;
  const bitsOf = (vs: Set<number>): number => {
    let b = 0;
    for (const v of vs) {
      if (v >= 0) {
        let m = fixed.get(v)?.mask ?? 0;
        let free = 8;
        while (m) {
          free -= m & 1;
          m >>>= 1;
        }
        b += free;
      } else b += META_WIDTH[-10 - v]!;
    }
    return b;
  };
  if (bitsOf(vars) > 16) return undefined;
  // Grow by prefix conditions that overlap, while it stays small.
  for (const d of prefix) {
    const dv = condVars(d.c);
    let overlap = false;
    for (const v of dv) if (vars.has(v)) overlap = true;
    if (!overlap) continue;
    const u = new Set([...vars, ...dv]);
    if (!u.has(V_CAP) && !u.has(V_WIRE) && bitsOf(u) <= 16) for (const v of dv) vars.add(v);
  }
  return { bits: bitsOf(vars), vars };
}

type Fn = (env: Env) => number;
const compiled = new WeakMap<Expr, Fn>();

/** An expression as a closure (enumeration evaluates the same conditions thousands of times). */
function compile(e: Expr): Fn {
  let f = compiled.get(e);
  if (f) return f;
  switch (e.t) {
    case E_CONST: { const v = e.v; f = () => v; break; }
    case E_BYTES: {
      const off = e.off;
      if (e.size === 1) f = (env) => env.data[off] ?? 0;
      else if (e.size === 2) f = (env) => ((env.data[off] ?? 0) << 8) | (env.data[off + 1] ?? 0);
      else f = (env) => evalExpr(e, env);
      break;
    }
    case E_ALU: {
      const a = compile(e.a), b = compile(e.b), op = e.op;
      if (e.b.t === E_CONST) {
        const k = e.b.v;
        if (op === 0x50) f = (env) => (a(env) & k) >>> 0;
        else if (op === 0x00) f = (env) => (a(env) + k) >>> 0;
        else if (op === 0x60 && k < 32) f = (env) => (a(env) << k) >>> 0;
        else f = (env) => aluOp(op, a(env), k);
      } else f = (env) => aluOp(op, a(env), b(env));
      break;
    }
    default:
      f = (env) => evalExpr(e, env);
  }
  compiled.set(e, f);
  return f;
}

function compileCond(c: Cond, taken: boolean): (env: Env) => boolean {
  const a = compile(c.a), b = compile(c.b);
  switch (c.op) {
    case 0x10: return taken ? (env) => a(env) === b(env) : (env) => a(env) !== b(env);
    case 0x20: return taken ? (env) => a(env) > b(env) : (env) => a(env) <= b(env);
    case 0x30: return taken ? (env) => a(env) >= b(env) : (env) => a(env) < b(env);
    default: return taken ? (env) => (a(env) & b(env)) !== 0 : (env) => (a(env) & b(env)) === 0;
  }
}

/**
 * Enumerate every value of a small group (backtracking over its variables,
 * each condition checked as soon as the variables it reads are set): the
 * first assignment that keeps the whole prefix, or a proof that none can.
 */
function enumerate(prefix: readonly Decision[], target: Cond, want: boolean, env: Env): SolveResult | null {
  const fixed: Fixed = new Map();
  for (const d of prefix) addFixed(fixed, d.c, d.taken);
  if (!addFixed(fixed, target, want)) return 'infeasible';
  const g = smallGroup(target, prefix, fixed);
  if (!g) return null;
  // The packet must already hold every byte of the group.
  let maxByte = -1;
  for (const v of g.vars) if (v > maxByte) maxByte = v;
  let work = env;
  if (maxByte >= env.data.length) work = setLeaf(env, { t: E_BYTES, off: maxByte, size: 1 }, 0);
  work = cloneEnv(work);
  const order = [...g.vars].sort((a, b) => a - b);
  const depthOf = new Map(order.map((v, i) => [v, i]));
  // Conditions by the depth at which all the group variables they read are set.
  interface Check { fn: (env: Env) => boolean; within: boolean }
  const levels: Check[][] = order.map(() => []);
  const place = (c: Cond, taken: boolean): boolean => {
    const vs = condVars(c);
    let depth = -1;
    let inside = true;
    for (const v of vs) {
      const d = depthOf.get(v);
      if (d === undefined) inside = false;
      else if (d > depth) depth = d;
    }
    if (depth < 0) return false;
    levels[depth]!.push({ fn: compileCond(c, taken), within: inside });
    return true;
  };
  place(target, want);
  for (const d of prefix) place(d.c, d.taken);
  // The values each variable may take (fixed bits already applied).
  const domains = order.map((v) => {
    const n = v >= 0 ? 256 : 1 << META_WIDTH[-10 - v]!;
    const f = v >= 0 ? fixed.get(v) : undefined;
    const out: number[] = [];
    for (let x = 0; x < n; x++) if (!f || (x & f.mask) === f.value) out.push(x);
    return out;
  });
  const set = (i: number, x: number): void => {
    const v = order[i]!;
    if (v >= 0) work.data[v] = x;
    else work.meta[-10 - v] = x;
  };
  let relaxedSat = false;
  let found: Env | undefined;
  // Two passes per level: the conditions over the group alone decide the proof, the others the answer.
  const search = (i: number, allOk: boolean): void => {
    const dom = domains[i]!;
    const checks = levels[i]!;
    for (let j = 0; j < dom.length && !found; j++) {
      set(i, dom[j]!);
      let ok = true, all = allOk;
      for (const c of checks) {
        if (c.fn(work)) continue;
        if (c.within) { ok = false; break; }
        all = false;
      }
      if (!ok) continue;
      if (i + 1 < order.length) search(i + 1, all);
      else {
        relaxedSat = true;
        // Growing the packet may have turned a failed load of the prefix into a good one: check everything.
        if (all && firstBroken(prefix, target, want, work) === -1) found = cloneEnv(work);
      }
    }
  };
  search(0, true);
  if (found) return found;
  return relaxedSat ? undefined : 'infeasible';
}

/**
 * Find an env that keeps every prefix decision and takes `target` the other
 * way (`want`), starting from env (which follows the prefix).
 */
export function solveFlip(prefix: readonly Decision[], target: Cond, want: boolean, env: Env, ctx: SolveContext): SolveResult {
  const ls: Expr[] = [];
  leaves(target.a, ls);
  leaves(target.b, ls);
  if (ls.length === 0) return 'infeasible';
  const index = new PrefixIndex(prefix, target, want, env);
  const tried: Env[] = [];
  for (const l of ls) {
    for (const v of leafCandidates(target, want, l, env, ctx.rnd)) {
      const cand = setLeaf(env, l, v);
      const broken = index.broken(cand);
      if (broken === -1) {
        ctx.stats.inverted++;
        return cand;
      }
      if (tried.length < 3 && broken < prefix.length) tried.push(cand);
    }
  }
  const ex = enumerate(prefix, target, want, env);
  if (ex === 'infeasible') {
    ctx.stats.infeasible++;
    return ex;
  }
  if (ex) {
    ctx.stats.exact++;
    return ex;
  }
  // Repair: fix the first broken decision of a near miss without touching the target's variables.
  const frozen = condVars(target);
  for (const cand of tried) {
    const j = index.broken(cand);
    const d = prefix[j]!;
    const dl: Expr[] = [];
    leaves(d.c.a, dl);
    leaves(d.c.b, dl);
    for (const l of dl) {
      const lv = new Set<number>();
      leafVars(l, lv);
      let clash = false;
      for (const v of lv) if (frozen.has(v)) clash = true;
      if (clash) continue;
      for (const v of leafCandidates(d.c, d.taken, l, cand, ctx.rnd)) {
        const fixed = setLeaf(cand, l, v);
        if (index.broken(fixed) === -1) {
          ctx.stats.searched++;
          return fixed;
        }
      }
    }
  }
  // Length targets that need a longer packet with a byte pattern: try growing then solving again once.
  if (ls.some((l) => l.t === E_CAP)) {
    const cap = setLeaf(env, CAP, env.data.length + 64);
    if (index.broken(cap) === -1) return cap;
  }
  ctx.stats.failed++;
  return undefined;
}

