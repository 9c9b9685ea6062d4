/**
 * Packets that drive the paths of a classic program: a generational
 * concolic search. Each run records, for every conditional branch, which
 * packet field (and which ALU operations since its load) the compared value
 * came from; for each branch we then look for a value of that field that
 * takes the other direction, write it into a copy of the packet (growing the
 * packet when a load ran past its end) and queue the copy. Private to
 * test/filter until test/support/equivalence.ts grows its own synthesiser.
 */
import type { CbpfProgram } from '../../../src/cbpf/insn.js';

type Sym = { off: number; size: number; ops: [number, number][] } | undefined;

interface Decision {
  sym: NonNullable<Sym>;
  op: number;
  src: number;
  taken: boolean;
}

interface Trace {
  decisions: Decision[];
  /** A load that ran past the end: offset + size needed. */
  needLen?: number;
}

function trace(prog: CbpfProgram, pkt: Uint8Array): Trace {
  let A = 0, X = 0;
  let sA: Sym, sX: Sym;
  const M = new Uint32Array(16);
  const sM: Sym[] = new Array(16).fill(undefined);
  const out: Trace = { decisions: [] };
  const ld = (k: number, size: number): number | undefined => {
    if (k < 0 || k + size > pkt.length) {
      if (k >= 0 && k + size <= 65535) out.needLen = k + size;
      return undefined;
    }
    let v = 0;
    for (let i = 0; i < size; i++) v = v * 256 + pkt[k + i]!;
    return v >>> 0;
  };
  let pc = 0;
  for (let steps = 0; steps < 200000 && pc < prog.length; steps++) {
    const ins = prog[pc++]!;
    const k = ins.k >>> 0;
    const code = ins.code;
    const cls = code & 7;
    if (cls === 0 || cls === 1) {
      const mode = code & 0xe0;
      const size = (code & 0x18) === 0 ? 4 : (code & 0x18) === 8 ? 2 : 1;
      let v: number | undefined;
      let s: Sym;
      if (mode === 0x00) v = k;
      else if (mode === 0x80) v = pkt.length;
      else if (mode === 0x60) {
        v = M[k & 15]!;
        s = sM[k & 15];
      } else if (mode === 0x20) {
        if ((k | 0) < 0) v = 0;
        else {
          v = ld(k, size);
          s = { off: k, size, ops: [] };
        }
      } else if (mode === 0x40) {
        const off = (X + k) >>> 0;
        v = ld(off, size);
        s = { off, size, ops: [] };
      } else if (mode === 0xa0) {
        const b = ld(k, 1);
        v = b === undefined ? undefined : (b & 0xf) << 2;
      }
      if (v === undefined) return out;
      if (cls === 0) [A, sA] = [v >>> 0, s];
      else [X, sX] = [v >>> 0, s];
    } else if (cls === 2) {
      M[k & 15] = A;
      sM[k & 15] = sA;
    } else if (cls === 3) {
      M[k & 15] = X;
      sM[k & 15] = sX;
    } else if (cls === 4) {
      const op = code & 0xf0;
      const src = code & 8 ? X : k;
      A = alu(op, A, src) ?? 0;
      if (alu(op, A, src) === undefined && (op === 0x30 || op === 0x90) && src === 0) return out;
      sA = sA ? { ...sA, ops: [...sA.ops, [op, src]] } : undefined;
    } else if (cls === 5) {
      const op = code & 0xf0;
      if (op === 0) {
        pc = (pc + k) >>> 0;
        continue;
      }
      const src = code & 8 ? X : k;
      const taken = cond(op, A, src);
      if (sA) out.decisions.push({ sym: sA, op, src, taken });
      pc += taken ? ins.jt : ins.jf;
    } else if (cls === 6) {
      return out;
    } else if (code & 0x80) {
      [A, sA] = [X, sX];
    } else {
      [X, sX] = [A, sA];
    }
  }
  return out;
}

function alu(op: number, a: number, s: number): number | undefined {
  switch (op) {
    case 0x00: return (a + s) >>> 0;
    case 0x10: return (a - s) >>> 0;
    case 0x20: return Math.imul(a, s) >>> 0;
    case 0x30: return s === 0 ? undefined : Math.floor(a / s) >>> 0;
    case 0x90: return s === 0 ? undefined : a % s;
    case 0x40: return (a | s) >>> 0;
    case 0x50: return (a & s) >>> 0;
    case 0xa0: return (a ^ s) >>> 0;
    case 0x60: return s >= 32 ? 0 : (a << s) >>> 0;
    case 0x70: return s >= 32 ? 0 : a >>> s;
    case 0x80: return -a >>> 0;
    default: return a;
  }
}

function cond(op: number, a: number, s: number): boolean {
  if (op === 0x10) return a === s;
  if (op === 0x20) return a > s;
  if (op === 0x30) return a >= s;
  return (a & s) !== 0;
}

function candidates(d: Decision, rnd: () => number): number[] {
  const max = d.sym.size === 4 ? 0xffffffff : d.sym.size === 2 ? 0xffff : 0xff;
  const out = new Set<number>();
  // Unsigned: `x & 0xffffffff` is a negative int32 for x >= 2^31, which no comparison against
  // an unsigned k would ever take (so no 32-bit test against 128.0.0.0 and up was flipped).
  const add = (v: number): void => {
    out.add(((v >>> 0) & max) >>> 0);
  };
  const k = d.src;
  for (const v of [k, k + 1, k - 1, 0, max, k, k >>> 8, k >>> 16, k >>> 24]) add(v);
  // Undo a leading shift or the masking part of the ops for a better guess.
  for (const [op, s] of d.sym.ops) {
    if (op === 0x70 && s < 32) add(k << s);
    if (op === 0x60 && s < 32) add(k >>> s);
    if (op === 0x50) {
      add(k & s);
      add(s);
    }
    if (op === 0x00) add(k - s);
    if (op === 0x10) add(k + s);
  }
  if (max === 0xff) for (let v = 0; v < 256; v++) out.add(v);
  else for (let i = 0; i < 48; i++) out.add(Math.floor(rnd() * (max + 1)));
  return [...out];
}

function write(pkt: Uint8Array, off: number, size: number, v: number): void {
  for (let i = size - 1; i >= 0; i--) {
    pkt[off + i] = v & 0xff;
    v = Math.floor(v / 256);
  }
}

/** Up to `budget` packets (beyond the seeds) that reach new branch directions of `prog`. */
export function synthesize(prog: CbpfProgram, seeds: Uint8Array[], budget = 150, seed = 1): Uint8Array[] {
  let state = seed >>> 0 || 1;
  const rnd = (): number => {
    state ^= state << 13;
    state ^= state >>> 17;
    state ^= state << 5;
    return (state >>> 0) / 4294967296;
  };
  const queue: Uint8Array[] = [...seeds, new Uint8Array(0), new Uint8Array(64)];
  const out: Uint8Array[] = [];
  const seenDirs = new Set<string>();
  const seenPkts = new Set<string>();
  const key = (p: Uint8Array): string => Buffer.from(p).toString('base64');
  let explored = 0;
  while (queue.length && out.length < budget && explored < budget * 4) {
    const pkt = queue.shift()!;
    explored++;
    const t = trace(prog, pkt);
    let novel = false;
    t.decisions.forEach((d, i) => {
      const dirKey = `${i}:${d.sym.off}:${d.op}:${d.src}:${d.taken}`;
      if (!seenDirs.has(dirKey)) {
        seenDirs.add(dirKey);
        novel = true;
      }
    });
    if (novel || t.needLen !== undefined) out.push(pkt);
    if (t.needLen !== undefined && t.needLen <= 65535) {
      const bigger = new Uint8Array(t.needLen);
      bigger.set(pkt);
      if (!seenPkts.has(key(bigger))) {
        seenPkts.add(key(bigger));
        queue.push(bigger);
      }
    }
    // Flip decisions, deepest first (they are the ones new packets reached).
    for (let i = t.decisions.length - 1; i >= 0; i--) {
      const d = t.decisions[i]!;
      for (const c of candidates(d, rnd)) {
        let v: number | undefined = c;
        for (const [op, s] of d.sym.ops) v = v === undefined ? undefined : alu(op, v, s);
        if (v === undefined || cond(d.op, v, d.src) === d.taken) continue;
        const need = d.sym.off + d.sym.size;
        const np = new Uint8Array(Math.max(pkt.length, need));
        np.set(pkt);
        write(np, d.sym.off, d.sym.size, c);
        const kk = key(np);
        if (!seenPkts.has(kk)) {
          seenPkts.add(kk);
          queue.push(np);
        }
        break;
      }
    }
  }
  return out;
}
