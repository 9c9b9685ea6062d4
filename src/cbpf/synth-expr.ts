/**
 * Symbolic values for the packet synthesiser (synth.ts): what a classic
 * program computes, as expressions over the packet's bytes, its captured and
 * wire lengths and (Linux semantics) the socket's metadata fields, and the
 * tracer that runs a program concretely on one packet while recording every
 * decision it takes as a condition over those expressions.
 *
 * The tracer mirrors interpret.ts instruction for instruction (a test checks
 * that both give the same verdict on every packet): the verdict it returns is
 * the interpreter's.
 */
import type { CbpfProgram } from './insn.js';
import { SKF_LL_OFF, SKF_NET_OFF } from './insn.js';
import { backwardJumpLimit } from './interpret.js';
import { nlattrFind, nlattrFindNested } from './meta.js';

/** Expression tags. */
export const E_CONST = 0;
export const E_BYTES = 1;
export const E_CAP = 2;
export const E_WIRE = 3;
export const E_META = 4;
export const E_ALU = 5;
export const E_NEG = 6;

export type Expr =
  | { t: typeof E_CONST; v: number }
  /** Big-endian bytes [off, off + size) of the packet. */
  | { t: typeof E_BYTES; off: number; size: number }
  /** The captured length. */
  | { t: typeof E_CAP }
  /** The length on the wire (`ld #pktlen`). */
  | { t: typeof E_WIRE }
  /** A socket metadata field (META_* index). */
  | { t: typeof E_META; f: number }
  /** A 32-bit ALU operation: op is BPF_ADD..BPF_XOR, or LSH_MOD / RSH_MOD. */
  | { t: typeof E_ALU; op: number; a: Expr; b: Expr }
  | { t: typeof E_NEG; a: Expr };

/** Shifts whose count is taken modulo 32 (the kernel's, for shifts by X). */
export const LSH_MOD = 0x61;
export const RSH_MOD = 0x71;

/** Metadata fields the synthesiser chooses in Linux mode, and their widths in bits. */
export const META_PROTOCOL = 0;
export const META_PKTTYPE = 1;
export const META_IFINDEX = 2;
export const META_HATYPE = 3;
export const META_MARK = 4;
export const META_QUEUE = 5;
export const META_RXHASH = 6;
export const META_CPU = 7;
export const META_VLAN_TCI = 8;
export const META_VLAN_PRESENT = 9;
export const META_VLAN_TPID = 10;
export const META_PAY_OFFSET = 11;
/** 1 when the packet has a device (ifindex and hatype defined), 0 when not. */
export const META_DEVICE = 12;
export const META_COUNT = 13;
export const META_WIDTH = [16, 3, 32, 16, 32, 16, 32, 32, 16, 1, 16, 32, 1] as const;
/** What SKF_AD_RANDOM returns while synthesising (a fixed value keeps verdicts reproducible). */
export const SYNTH_RANDOM = 0x2545f491;

/** A packet under construction: bytes (captured length = data.length), wire length, metadata fields. */
export interface Env {
  data: Uint8Array;
  wire: number;
  meta: number[];
}

/** A condition `a op b` with op one of BPF_JEQ, BPF_JGT, BPF_JGE, BPF_JSET. */
export interface Cond {
  op: number;
  a: Expr;
  b: Expr;
}

export const D_BRANCH = 0;
export const D_LOAD = 1;
export const D_DIV = 2;
export const D_PIN = 3;
export const D_DEVICE = 4;

/** One decision a run took: its condition, which way it went, and where. */
export interface Decision {
  c: Cond;
  taken: boolean;
  prog: number;
  pc: number;
  /** D_BRANCH (a conditional jump), D_LOAD (a load fit in the packet: CAP >= end), D_DIV (divisor == 0), D_PIN (an indirect offset's base kept its value), D_DEVICE. */
  kind: number;
}

const C = (v: number): Expr => ({ t: E_CONST, v: v >>> 0 });
export const CAP: Expr = { t: E_CAP };
export const WIRE: Expr = { t: E_WIRE };

export function aluOp(op: number, a: number, b: number): number {
  switch (op) {
    case 0x00: return (a + b) >>> 0;
    case 0x10: return (a - b) >>> 0;
    case 0x20: return Math.imul(a, b) >>> 0;
    case 0x30: return b === 0 ? 0 : Math.floor(a / b) >>> 0;
    case 0x90: return b === 0 ? 0 : a % b;
    case 0x40: return (a | b) >>> 0;
    case 0x50: return (a & b) >>> 0;
    case 0xa0: return (a ^ b) >>> 0;
    case 0x60: return b < 32 ? (a << b) >>> 0 : 0;
    case 0x70: return b < 32 ? a >>> b : 0;
    case LSH_MOD: return (a << b) >>> 0;
    case RSH_MOD: return a >>> b;
    default: return a;
  }
}

function alu(op: number, a: Expr, b: Expr): Expr {
  if (a.t === E_CONST && b.t === E_CONST) return C(aluOp(op, a.v, b.v));
  if (b.t === E_CONST) {
    // Results that do not depend on the other operand.
    if ((op === 0x50 || op === 0x20) && b.v === 0) return C(0);
    if ((op === 0x60 || op === 0x70) && b.v >= 32) return C(0);
    if (op === 0x40 && b.v === 0xffffffff) return C(0xffffffff);
  }
  return { t: E_ALU, op, a, b };
}

const keys = new WeakMap<Expr, string>();

/** A structural key: equal keys, equal expressions. */
export function exprKey(e: Expr): string {
  let k = keys.get(e);
  if (k !== undefined) return k;
  switch (e.t) {
    case E_CONST: k = `#${e.v}`; break;
    case E_BYTES: k = `b${e.off}:${e.size}`; break;
    case E_CAP: k = 'cap'; break;
    case E_WIRE: k = 'len'; break;
    case E_META: k = `m${e.f}`; break;
    case E_ALU: k = `(${e.op} ${exprKey(e.a)} ${exprKey(e.b)})`; break;
    case E_NEG: k = `(neg ${exprKey(e.a)})`; break;
  }
  keys.set(e, k);
  return k;
}

export function evalExpr(e: Expr, env: Env): number {
  switch (e.t) {
    case E_CONST:
      return e.v;
    case E_BYTES: {
      const d = env.data;
      let v = 0;
      for (let i = 0; i < e.size; i++) v = v * 256 + (d[e.off + i] ?? 0);
      return v >>> 0;
    }
    case E_CAP:
      return env.data.length;
    case E_WIRE:
      return env.wire >>> 0;
    case E_META:
      return env.meta[e.f]! >>> 0;
    case E_ALU:
      return aluOp(e.op, evalExpr(e.a, env), evalExpr(e.b, env));
    case E_NEG:
      return (0 - evalExpr(e.a, env)) >>> 0;
  }
}

export function condHolds(c: Cond, env: Env): boolean {
  const a = evalExpr(c.a, env);
  const b = evalExpr(c.b, env);
  switch (c.op) {
    case 0x10: return a === b;
    case 0x20: return a > b;
    case 0x30: return a >= b;
    default: return (a & b) !== 0;
  }
}

/** The tracer's output for one run of several programs on the same packet. */
export interface Trace {
  decisions: Decision[];
  verdicts: number[];
}

/** Loads that end past this many bytes are never flipped to success (the packet would be absurd). */
export const MAX_SYNTH_LENGTH = 65535 + 64;

/**
 * Run `prog` on `env` as interpret() would (libpcap semantics, or Linux
 * socket-filter semantics with the metadata of `env`), appending the
 * decisions taken to `out`. Decisions that `facts` (what earlier decisions
 * of the same trace imply) already settle are not recorded: they cannot go
 * the other way. Returns the verdict.
 */
export function traceProgram(
  prog: CbpfProgram,
  index: number,
  env: Env,
  linux: boolean,
  out: Decision[],
  facts: TraceFacts = newFacts(),
): number {
  const n = prog.length;
  const data = env.data;
  const buflen = data.length;
  let A = 0, X = 0;
  let sA: Expr = C(0), sX: Expr = C(0);
  const M = new Array<number>(16).fill(0);
  const sM: Expr[] = new Array<Expr>(16).fill(C(0));
  let backward = 0;
  let pc = 0;
  const known = facts.known;
  const done = (verdict: number): number => verdict >>> 0;
  const decide = (kind: number, c: Cond, taken: boolean, at: number): void => {
    // A decision the earlier ones already imply cannot go the other way: it is not recorded.
    if (kind !== D_LOAD) {
      const ka = exprKey(c.a);
      if (c.b.t === E_CONST && known.has(ka)) return;
      const kc = `${c.op} ${ka} ${exprKey(c.b)}`;
      if (known.has(kc)) return;
      known.set(kc, taken ? 1 : 0);
      if (c.op === 0x10 && taken && c.b.t === E_CONST) known.set(ka, c.b.v);
    }
    out.push({ c, taken, prog: index, pc: at, kind });
  };
  // A packet load at a concrete offset: records whether it fit; returns its expression or undefined (the program returns 0).
  const packetLoad = (off: number, size: number, at: number): Expr | undefined => {
    const end = off + size;
    // Loads within what earlier loads showed to fit (or beyond one that did not) decide nothing new.
    if (end <= buflen) {
      if (end > facts.extent) {
        decide(D_LOAD, { op: 0x30, a: CAP, b: C(end) }, true, at);
        facts.extent = end;
      }
      return { t: E_BYTES, off, size };
    }
    if (end <= MAX_SYNTH_LENGTH && end < facts.failed) {
      decide(D_LOAD, { op: 0x30, a: CAP, b: C(end) }, false, at);
      facts.failed = end;
    }
    return undefined;
  };
  const readBytes = (off: number, size: number): number => {
    let v = 0;
    for (let i = 0; i < size; i++) v = v * 256 + data[off + i]!;
    return v >>> 0;
  };
  // Linux: a load at a negative offset (SKF_LL_OFF reads the packet from its start; SKF_NET_OFF needs a network offset we never set).
  const negativeLoad = (off: number, size: number, at: number): Expr | undefined => {
    if (off >= SKF_NET_OFF || off < SKF_LL_OFF) return undefined;
    return packetLoad(off - SKF_LL_OFF, size, at);
  };
  const device = (at: number): boolean => {
    const present = env.meta[META_DEVICE] === 1;
    decide(D_DEVICE, { op: 0x10, a: { t: E_META, f: META_DEVICE }, b: C(1) }, present, at);
    return present;
  };
  const metaLeaf = (f: number): Expr => ({ t: E_META, f });
  for (;;) {
    if (pc >= n) return done(0);
    const ins = prog[pc]!;
    const code = ins.code;
    const k = ins.k >>> 0;
    const at = pc;
    switch (code) {
      case 0x06:
        return done(k);
      case 0x16:
        return done(A);
      case 0x20: case 0x28: case 0x30: {
        const size = (code & 0x18) === 0 ? 4 : (code & 0x18) === 8 ? 2 : 1;
        let e: Expr | undefined;
        if (k >= 0x80000000 && linux) {
          if (k >= 0xfffff000) {
            const f = k - 0xfffff000;
            switch (f) {
              case 0: e = metaLeaf(META_PROTOCOL); break;
              case 4: e = metaLeaf(META_PKTTYPE); break;
              case 8: if (!device(at)) return done(A); e = metaLeaf(META_IFINDEX); break;
              case 28: if (!device(at)) return done(A); e = metaLeaf(META_HATYPE); break;
              case 20: e = metaLeaf(META_MARK); break;
              case 24: e = metaLeaf(META_QUEUE); break;
              case 32: e = metaLeaf(META_RXHASH); break;
              case 36: e = metaLeaf(META_CPU); break;
              case 44: e = metaLeaf(META_VLAN_TCI); break;
              case 48: e = metaLeaf(META_VLAN_PRESENT); break;
              case 60: e = metaLeaf(META_VLAN_TPID); break;
              case 52: e = metaLeaf(META_PAY_OFFSET); break;
              case 56: e = C(SYNTH_RANDOM); break;
              case 40: e = alu(0xa0, sA, sX); break;
              case 12: e = C(nlattrFind(data, A, X)); break;
              case 16: e = C(nlattrFindNested(data, A, X)); break;
              default: e = negativeLoad(k | 0, size, at);
            }
          } else e = negativeLoad(k | 0, size, at);
        } else if (k + size > buflen && k >= 0x80000000) {
          return done(0);
        } else e = packetLoad(k, size, at);
        if (!e) return done(0);
        sA = e;
        A = evalExpr(e, env);
        break;
      }
      case 0x40: case 0x48: case 0x50: {
        const size = (code & 0x18) === 0 ? 4 : (code & 0x18) === 8 ? 2 : 1;
        const off = X + k;
        if (sX.t !== E_CONST) decide(D_PIN, { op: 0x10, a: sX, b: C(X) }, true, at);
        let e: Expr | undefined;
        if (off + size <= buflen) e = packetLoad(off, size, at);
        else if (linux) {
          const s = off | 0;
          if (s < 0) e = negativeLoad(s, size, at);
          else if (s + size <= buflen) e = C(readBytes(s, size));
          else e = packetLoad(off, size, at);
        } else e = packetLoad(off, size, at);
        if (!e) return done(0);
        sA = e;
        A = evalExpr(e, env);
        break;
      }
      case 0xb1: {
        let b: Expr | undefined;
        if (k >= 0x80000000 && linux) b = negativeLoad(k | 0, 1, at);
        else if (k >= 0x80000000) return done(0);
        else b = packetLoad(k, 1, at);
        if (!b) return done(0);
        sX = alu(0x60, alu(0x50, b, C(0xf)), C(2));
        X = evalExpr(sX, env);
        break;
      }
      case 0x80: sA = WIRE; A = env.wire >>> 0; break;
      case 0x81: sX = WIRE; X = env.wire >>> 0; break;
      case 0x00: sA = C(k); A = k; break;
      case 0x01: sX = C(k); X = k; break;
      case 0x60: if (k >= 16) return done(0); A = M[k]!; sA = sM[k]!; break;
      case 0x61: if (k >= 16) return done(0); X = M[k]!; sX = sM[k]!; break;
      case 0x02: if (k >= 16) return done(0); M[k] = A; sM[k] = sA; break;
      case 0x03: if (k >= 16) return done(0); M[k] = X; sM[k] = sX; break;
      case 0x05: {
        if (((pc + 1 + k) >>> 0) >= n) return done(0);
        if (k >= 0x80000000) {
          if (k === 0xffffffff || backward++ >= backwardJumpLimit(buflen)) return done(0);
          pc += k | 0;
        } else pc += k;
        break;
      }
      case 0x15: case 0x25: case 0x35: case 0x45:
      case 0x1d: case 0x2d: case 0x3d: case 0x4d: {
        const op = code & 0xf0;
        const sB = code & 8 ? sX : C(k);
        const B = code & 8 ? X : k;
        const taken = op === 0x10 ? A === B : op === 0x20 ? A > B : op === 0x30 ? A >= B : (A & B) !== 0;
        if (sA.t !== E_CONST || sB.t !== E_CONST) decide(D_BRANCH, { op, a: sA, b: sB }, taken, at);
        pc += taken ? ins.jt : ins.jf;
        break;
      }
      case 0x3c: case 0x9c:
        if (sX.t !== E_CONST) decide(D_DIV, { op: 0x10, a: sX, b: C(0) }, X === 0, at);
        if (X === 0) return done(0);
        sA = alu(code & 0xf0, sA, sX);
        A = aluOp(code & 0xf0, A, X);
        break;
      case 0x0c: case 0x1c: case 0x2c: case 0x5c: case 0x4c: case 0xac:
        sA = alu(code & 0xf0, sA, sX);
        A = aluOp(code & 0xf0, A, X);
        break;
      case 0x6c: case 0x7c: {
        const op = linux ? (code === 0x6c ? LSH_MOD : RSH_MOD) : code & 0xf0;
        sA = alu(op, sA, sX);
        A = aluOp(op, A, X);
        break;
      }
      case 0x34: case 0x94:
        if (k === 0) return done(0);
        sA = alu(code & 0xf0, sA, C(k));
        A = aluOp(code & 0xf0, A, k);
        break;
      case 0x04: case 0x14: case 0x24: case 0x54: case 0x44: case 0xa4: case 0x64: case 0x74:
        sA = alu(code & 0xf0, sA, C(k));
        A = aluOp(code & 0xf0, A, k);
        break;
      case 0x84:
        sA = sA.t === E_CONST ? C(-sA.v) : { t: E_NEG, a: sA };
        A = (0 - A) >>> 0;
        break;
      case 0x07: X = A; sX = sA; break;
      case 0x87: A = X; sA = sX; break;
      default:
        return done(0);
    }
    pc++;
  }
}

/** What the decisions of a trace so far imply (shared by the programs of one trace). */
export interface TraceFacts {
  /** Loads ending at or before this fit. */
  extent: number;
  /** Loads ending at or after this do not fit. */
  failed: number;
  /** Conditions decided (key → outcome) and expressions known equal to a constant. */
  known: Map<string, number>;
}

export function newFacts(): TraceFacts {
  return { extent: 0, failed: Infinity, known: new Map() };
}

/** Run every program on `env`, one after the other, into one trace. */
export function traceAll(programs: readonly CbpfProgram[], env: Env, linux: boolean): Trace {
  const decisions: Decision[] = [];
  const verdicts: number[] = [];
  const facts = newFacts();
  for (let i = 0; i < programs.length; i++) verdicts.push(traceProgram(programs[i]!, i, env, linux, decisions, facts));
  return { decisions, verdicts };
}
