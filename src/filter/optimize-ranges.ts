/**
 * What the fast path (optimize-fast.ts) and the local path (optimize-local.ts) know of a value on
 * a way through the graph: a fact is one of a set of values (IN: `vals`), a range less some
 * values (RANGE: `lo..hi` without `vals`), or something else (OPAQUE: a jset outcome, or a union
 * of paths no such set describes exactly). Facts
 * form lists, one fact per value (`s`, the value's symbol), never changed once made, so edges
 * share their tails.
 */

/** Fact kinds. */
export const IN = 0, RANGE = 1, OPAQUE = 2;

export interface Fact {
  s: number;
  kind: number;
  lo: number;
  hi: number;
  vals: readonly number[];
  next: Fact | undefined;
}

export const NO_VALS: readonly number[] = [];
const FULL = 0xffffffff;

/** Nothing known of value `s` but that it is one. */
export function opaque(s: number): Fact {
  return { s, kind: OPAQUE, lo: 0, hi: 0, vals: NO_VALS, next: undefined };
}

/** How many values the fact allows in lo..hi. */
export function count(f: Fact, lo: number, hi: number): number {
  if (f.kind === IN) {
    let c = 0;
    for (const v of f.vals) if (v >= lo && v <= hi) c++;
    return c;
  }
  const a = Math.max(lo, f.lo), b = Math.min(hi, f.hi);
  if (a > b) return 0;
  let c = b - a + 1;
  for (const v of f.vals) if (v >= a && v <= b) c--;
  return c;
}

/** Can the test `op k` (jeq, jgt, jge) come out `truth` for some value the fact allows? */
export function possible(f: Fact, op: number, k: number, truth: boolean): boolean {
  if (op === 0x10) return truth ? count(f, k, k) > 0 : count(f, 0, k - 1) + count(f, k + 1, FULL) > 0;
  if (op === 0x20) return truth ? count(f, k + 1, FULL) > 0 : count(f, 0, k) > 0;
  return truth ? count(f, k, FULL) > 0 : k > 0 && count(f, 0, k - 1) > 0;
}

/*
 * Value lists are never changed once made: a list that would come out the same is shared, and a
 * new one is made at its length (push onto an empty or a copied array grows it to 17 entries,
 * memory the compile then has to walk through).
 */

/** `vals` with `v` added at the end (a new list). */
function plus(vals: readonly number[], v: number): readonly number[] {
  const n = vals.length;
  if (n === 0) return [v];
  if (n === 1) return [vals[0]!, v];
  if (n === 2) return [vals[0]!, vals[1]!, v];
  return vals.concat(v);
}

/** The values of `vals` within lo..hi (`vals` itself when all are). */
function within(vals: readonly number[], lo: number, hi: number): readonly number[] {
  let out = vals;
  for (let i = 0; i < vals.length; i++) {
    const v = vals[i]!;
    if (v >= lo && v <= hi) {
      if (out !== vals) out = plus(out, v);
    } else if (out === vals) out = vals.slice(0, i);
  }
  return out;
}

/** The fact after the test `op k` (jeq, jgt, jge) came out `truth`. */
export function apply(f: Fact, op: number, k: number, truth: boolean): Fact {
  if (f.kind === IN) {
    const fv = f.vals;
    let vals = fv;
    for (let i = 0; i < fv.length; i++) {
      const v = fv[i]!;
      if ((op === 0x10 ? v === k : op === 0x20 ? v > k : v >= k) === truth) {
        if (vals !== fv) vals = plus(vals, v);
      } else if (vals === fv) vals = fv.slice(0, i);
    }
    return { s: f.s, kind: IN, lo: 0, hi: 0, vals, next: undefined };
  }
  if (op === 0x10 && truth) return { s: f.s, kind: IN, lo: 0, hi: 0, vals: [k], next: undefined };
  let lo = f.lo, hi = f.hi;
  let vals = f.vals;
  if (op === 0x10) {
    if (k >= lo && k <= hi && !vals.includes(k)) vals = plus(vals, k);
  } else if (op === 0x20) {
    if (truth) lo = Math.max(lo, k + 1);
    else hi = Math.min(hi, k);
  } else if (truth) lo = Math.max(lo, k);
  else hi = Math.min(hi, k - 1);
  if ((lo !== f.lo || hi !== f.hi) && vals.length) vals = within(vals, lo, hi);
  return { s: f.s, kind: RANGE, lo, hi, vals, next: undefined };
}

/**
 * What two paths' facts on one value leave known on both: exact where a set of the forms above
 * is the union, else opaque; undefined when nothing is known but the value's own range
 * `lo0..hi0`.
 */
export function unite(f: Fact, g: Fact, lo0: number, hi0: number): Fact | undefined {
  if (f === g) return f;
  if (f.kind === OPAQUE || g.kind === OPAQUE) return opaque(f.s);
  let u: Fact;
  if (f.kind === IN && g.kind === IN) {
    let vals = f.vals;
    const gv = g.vals;
    for (let i = 0; i < gv.length; i++) if (!vals.includes(gv[i]!)) vals = plus(vals, gv[i]!);
    // (Nothing new: f itself, as callers copy what they keep.)
    return vals === f.vals ? f : { s: f.s, kind: IN, lo: 0, hi: 0, vals, next: undefined };
  }
  if (f.kind === RANGE && g.kind === RANGE) {
    if (f.lo === g.lo && f.hi === g.hi) u = { s: f.s, kind: RANGE, lo: f.lo, hi: f.hi, vals: f.vals.filter((v) => g.vals.includes(v)), next: undefined };
    else if (f.vals.length === 0 && g.vals.length === 0 && Math.max(f.lo, g.lo) <= Math.min(f.hi, g.hi) + 1) {
      u = { s: f.s, kind: RANGE, lo: Math.min(f.lo, g.lo), hi: Math.max(f.hi, g.hi), vals: NO_VALS, next: undefined };
    } else return opaque(f.s);
  } else {
    const inn = f.kind === IN ? f : g, r = f.kind === IN ? g : f;
    for (const v of inn.vals) if (v < r.lo || v > r.hi) return opaque(f.s);
    u = { s: f.s, kind: RANGE, lo: r.lo, hi: r.hi, vals: r.vals.filter((v) => !inn.vals.includes(v)), next: undefined };
  }
  return u.lo === lo0 && u.hi === hi0 && u.vals.length === 0 ? undefined : u;
}

/** The facts with `f` (on no value the list has a fact on, or in place of `old`). */
export function add(facts: Fact | undefined, f: Fact, old: Fact | undefined): Fact {
  if (old === undefined) {
    f.next = facts;
    return f;
  }
  let rest = old.next;
  for (let g = facts; g !== old && g !== undefined; g = g.next) rest = { s: g.s, kind: g.kind, lo: g.lo, hi: g.hi, vals: g.vals, next: rest };
  f.next = rest;
  return f;
}

/** An Int32Array twice as long with `a`'s contents. */
export function grow(a: Int32Array) {
  return i32Of(a, a.length * 2);
}

/** An Int32Array of length `m` that starts with `a`'s contents (growing a table's columns). */
export function i32Of(a: Int32Array, m: number) {
  const b = new Int32Array(m);
  b.set(a);
  return b;
}

/** A Uint8Array of length `m` that starts with `a`'s contents. */
export function u8Of(a: Uint8Array, m: number) {
  const b = new Uint8Array(m);
  b.set(a);
  return b;
}

/** A Float64Array of length `m` that starts with `a`'s contents. */
export function f64Of(a: Float64Array, m: number) {
  const b = new Float64Array(m);
  b.set(a);
  return b;
}
