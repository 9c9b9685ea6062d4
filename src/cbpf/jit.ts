/**
 * The JIT: a validated classic program compiled to a JavaScript function
 * (through `new Function`) that returns exactly what the interpreter returns
 * on every packet, with or without a PacketMeta.
 *
 * Code shape. A and X live in int32 locals (the 32-bit pattern of the
 * unsigned registers), the scratch words in locals m0..m15, and every
 * constant (offsets, bounds, immediates) is folded into the code. Programs
 * that only jump forward (all the kernel accepts, and all tcpdump makes
 * except `protochain`) become straight-line code in nested labelled blocks:
 * a jump to instruction t is `break Lt` out of a block that ends just before
 * t, and a jump to a `ret` is the return itself. Programs with backward
 * jumps use a `for (;;) switch (pc)` loop with the interpreter's guard on
 * the number of backward jumps (max(64, captured length)).
 *
 * The generated code reads only the packet bytes, the wire length and the
 * PacketMeta; it cannot loop forever and has no access to anything else.
 */
import { UsageError } from '../errors.js';
import { validate } from './validate.js';
import {
  BPF_A, BPF_ABS, BPF_ADD, BPF_ALU, BPF_AND, BPF_B, BPF_DIV, BPF_H, BPF_IMM, BPF_IND, BPF_JA, BPF_JEQ,
  BPF_JGE, BPF_JGT, BPF_JMP, BPF_JSET, BPF_K, BPF_LD, BPF_LDX, BPF_LEN, BPF_LSH, BPF_MEM, BPF_MISC,
  BPF_MOD, BPF_MSH, BPF_MUL, BPF_NEG, BPF_OR, BPF_RET, BPF_RSH, BPF_ST, BPF_STX, BPF_SUB, BPF_TAX,
  BPF_TXA, BPF_W, BPF_X, BPF_XOR, type CbpfInsn, type CbpfProgram,
} from './insn.js';
import type { ValidationMode } from './errors.js';
import { LOAD_EXIT_A, LOAD_FAIL, loadExtension, loadNegative, type PacketMeta } from './meta.js';
import { MAX_BACKWARD_JUMPS } from './interpret.js';

/** A compiled filter: the verdict for one packet (0 = drop), an unsigned 32-bit number. */
export type CompiledFilter = (packet: Uint8Array, wireLength?: number, meta?: PacketMeta) => number;

export interface JitOptions {
  /** The rules the program must pass first (default 'libpcap'). */
  mode?: ValidationMode;
  /** Reuse the function compiled earlier for an identical program (default true). */
  cache?: boolean;
}

/** Above this many labelled blocks, use the loop form (deep nesting costs V8's parser stack). */
const MAX_LABELS = 1500;
const CACHE_SIZE = 512;
const cache = new Map<string, CompiledFilter>();

/** Helpers the generated code calls on its slow paths. */
const helpers = {
  loadExtension,
  loadNegative,
  /** An indirect load that missed the captured bytes, under kernel semantics (X + k wraps, signed). */
  loadIndirect(p: Uint8Array, meta: PacketMeta, x: number, k: number, size: number): number {
    const off = (x + k) | 0;
    if (off < 0) return loadNegative(p, meta, off, size);
    if (off + size > p.length) return LOAD_FAIL;
    if (size === 1) return p[off]!;
    if (size === 2) return (p[off]! << 8) | p[off + 1]!;
    return ((p[off]! << 24) | (p[off + 1]! << 16) | (p[off + 2]! << 8) | p[off + 3]!) >>> 0;
  },
};

function cacheKey(prog: CbpfProgram, mode: ValidationMode): string {
  let s = mode;
  for (const i of prog) s += `,${i.code} ${i.jt} ${i.jf} ${i.k >>> 0}`;
  return s;
}

/**
 * Compile a classic program to a JavaScript function. Throws
 * CbpfValidationError when the program fails the chosen validator.
 */
export function jit(prog: CbpfProgram, options: JitOptions = {}): CompiledFilter {
  const mode = options.mode ?? 'libpcap';
  const useCache = options.cache !== false;
  const key = useCache ? cacheKey(prog, mode) : '';
  if (useCache) {
    const hit = cache.get(key);
    if (hit) {
      cache.delete(key);
      cache.set(key, hit);
      return hit;
    }
  }
  validate(prog, mode);
  const source = jitSource(prog);
  const factory = new Function('H', source) as (h: typeof helpers) => CompiledFilter;
  const fn = factory(helpers);
  if (useCache) {
    cache.set(key, fn);
    if (cache.size > CACHE_SIZE) cache.delete(cache.keys().next().value!);
  }
  return fn;
}

/** Forget every cached compiled filter. */
export function clearJitCache(): void {
  cache.clear();
  batchCache.clear();
}

/**
 * Many packets stored in one buffer (e.g. a capture file read into memory):
 * packet i is `buffer[offsets[i] .. offsets[i] + caplens[i])`.
 */
export interface PacketBatch {
  buffer: Uint8Array;
  offsets: ArrayLike<number>;
  caplens: ArrayLike<number>;
  /** Wire lengths (`ld #pktlen`); default: the captured lengths. */
  wireLengths?: ArrayLike<number>;
  /** How many packets (default offsets.length). */
  count?: number;
}

/**
 * A compiled batch filter: runs the program on every packet of the batch
 * (libpcap semantics, no PacketMeta), writes each verdict to `verdicts` when
 * given, and returns how many packets it kept (verdict != 0).
 */
export type BatchFilter = (batch: PacketBatch, verdicts?: Uint32Array) => number;

const batchCache = new Map<string, BatchFilter>();

type RawBatch = (
  buf: Uint8Array, off: ArrayLike<number>, cap: ArrayLike<number>, wl: ArrayLike<number> | undefined, count: number, out: Uint32Array | undefined,
) => number;

/** A Uint32Array seen as an Int32Array (same memory); other arrays as they are. */
function asInt32(a: ArrayLike<number>): ArrayLike<number> {
  return a instanceof Uint32Array ? new Int32Array(a.buffer, a.byteOffset, a.length) : a;
}

/**
 * Compile a program for filtering many packets held in one buffer in a
 * single call: the loop over the packets is part of the generated code, so
 * there is no call per packet and the packet bytes are read straight from
 * the shared buffer. Same verdicts as jit() without metadata.
 */
export function jitBatch(prog: CbpfProgram, options: JitOptions = {}): BatchFilter {
  const mode = options.mode ?? 'libpcap';
  const useCache = options.cache !== false;
  const key = useCache ? cacheKey(prog, mode) : '';
  const hit = useCache ? batchCache.get(key) : undefined;
  if (hit) return hit;
  validate(prog, mode);
  // Two loops: one that stores every verdict, one that only counts.
  const withVerdicts = (new Function('H', jitBatchSource(prog, true)) as (h: typeof helpers) => RawBatch)(helpers);
  const countOnly = (new Function('H', jitBatchSource(prog, false)) as (h: typeof helpers) => RawBatch)(helpers);
  const fn: BatchFilter = (batch, verdicts) => {
    const { buffer, offsets, caplens, wireLengths } = batch;
    const count = batch.count ?? offsets.length;
    if (!Number.isInteger(count) || count < 0 || count > offsets.length || count > caplens.length ||
      (wireLengths !== undefined && count > wireLengths.length) || (verdicts !== undefined && count > verdicts.length)) {
      throw new UsageError(`packet batch: count ${count} does not fit the offsets, lengths or verdicts arrays`);
    }
    const size = buffer.length;
    // The generated loop checks that each packet lies in the buffer; plain
    // arrays must also hold whole numbers.
    if (!ArrayBuffer.isView(offsets) || !ArrayBuffer.isView(caplens)) {
      for (let i = 0; i < count; i++) {
        if (!Number.isInteger(offsets[i]) || !Number.isInteger(caplens[i])) {
          throw new UsageError(`packet batch: packet ${i} (offset ${offsets[i]}, length ${caplens[i]}) is not inside the ${size}-byte buffer`);
        }
      }
    }
    // Offsets and lengths below 2^31 read as int32 are the same numbers, and
    // int32 elements keep the generated arithmetic in small integers.
    const small = size < 0x80000000;
    const off = small ? asInt32(offsets) : offsets;
    const cap = small ? asInt32(caplens) : caplens;
    const wl = wireLengths === undefined ? undefined : asInt32(wireLengths);
    const kept = verdicts === undefined
      ? countOnly(buffer, off, cap, wl, count, undefined)
      : withVerdicts(buffer, off, cap, wl, count, verdicts);
    if (kept < 0) {
      const i = -kept - 1;
      throw new UsageError(`packet batch: packet ${i} (offset ${offsets[i]}, length ${caplens[i]}) is not inside the ${size}-byte buffer`);
    }
    return kept;
  };
  if (useCache) {
    batchCache.set(key, fn);
    if (batchCache.size > CACHE_SIZE) batchCache.delete(batchCache.keys().next().value!);
  }
  return fn;
}

const SIZE: Record<number, number> = { [BPF_W]: 4, [BPF_H]: 2, [BPF_B]: 1 };

/** How the generated code reaches the packet, returns, and whether it has metadata. */
interface Shape {
  /** The expression for the byte at offset `off` (an expression string). */
  byte(off: string): string;
  /** A big-endian 16-bit (size 2) or 32-bit (size 4, as int32) load, if the shape has a faster way than bytes. */
  wide?(off: string, size: 2 | 4): string;
  /** A statement that ends the filter with verdict `v` (a u32 expression). */
  ret(v: string): string;
  /** Whether the code runs with a PacketMeta (Linux semantics) or without (libpcap's). */
  meta: boolean;
}

/** One packet, libpcap semantics (no PacketMeta). */
const SINGLE: Shape = {
  byte: (off) => `p[${off}]`,
  ret: (v) => `return ${v};`,
  meta: false,
};

/** One packet with a PacketMeta: Linux socket-filter semantics. */
const SINGLE_LINUX: Shape = { ...SINGLE, meta: true };

const BATCH: Shape = {
  byte: (off) => `buf[b + ${off}]`,
  wide: (off, size) => (size === 2 ? `dv.getUint16(b + ${off})` : `dv.getInt32(b + ${off})`),
  ret: (v) => `{ v = ${v}; break PKT; }`,
  meta: false,
};

function loadExpr(shape: Shape, off: string, size: number, plus: (d: number) => string): string {
  if (size === 1) return shape.byte(off);
  if (shape.wide) return shape.wide(off, size as 2 | 4);
  if (size === 2) return `(${shape.byte(off)} << 8) | ${shape.byte(plus(1))}`;
  return `(${shape.byte(off)} << 24) | (${shape.byte(plus(1))} << 16) | (${shape.byte(plus(2))} << 8) | ${shape.byte(plus(3))}`;
}

function isPowerOfTwo(k: number): boolean {
  return k !== 0 && (k & (k - 1)) === 0 && k <= 0x80000000;
}

/** The filter body (statements that end by returning the verdict through `shape.ret`). */
function filterBody(prog: CbpfProgram, shape: Shape): { body: string; slots: number[]; usesLen: boolean } {
  const n = prog.length;
  const hasBackward = prog.some((i) => i.code === (BPF_JMP | BPF_JA) && (i.k >>> 0) >= 0x80000000);
  const usesLen = prog.some((i) => i.code === (BPF_LD | BPF_W | BPF_LEN) || i.code === (BPF_LDX | BPF_W | BPF_LEN));
  const slots = new Set<number>();
  for (const i of prog) {
    if (i.code === (BPF_LD | BPF_MEM) || i.code === (BPF_LDX | BPF_MEM) || i.code === BPF_ST || i.code === BPF_STX) slots.add(i.k >>> 0);
  }

  const labels = new Set<number>();
  const gotoStructured = (from: number, t: number): string => {
    if (t === from + 1) return '';
    const target = prog[t]!;
    if (target.code === (BPF_RET | BPF_K)) return shape.ret(String(target.k >>> 0));
    if (target.code === (BPF_RET | BPF_A)) return shape.ret('A >>> 0');
    labels.add(t);
    return `break L${t};`;
  };
  const gotoLoop = (from: number, t: number): string => {
    if (t === from + 1) return '';
    const target = prog[t]!;
    if (target.code === (BPF_RET | BPF_K)) return shape.ret(String(target.k >>> 0));
    return `pc = ${t}; continue;`;
  };

  let structured = !hasBackward;
  let body = '';
  if (structured) {
    const parts: string[] = [];
    const known = knownLengths(prog);
    const fused = fusedCompares(prog);
    for (let i = 0; i < n; i++) parts.push(emit(prog[i]!, i, gotoStructured, shape, known[i]!, fused));
    if (labels.size > MAX_LABELS) {
      structured = false;
    } else {
      const sorted = [...labels].sort((a, b) => b - a);
      body = sorted.map((t) => `L${t}: {`).join(' ') + '\n';
      for (let i = 0; i < n; i++) {
        if (labels.has(i)) body += `} // L${i}\n`;
        body += parts[i] + '\n';
      }
      body += shape.ret('0') + '\n';
    }
  }
  if (!structured) {
    body = `let pc = 0, bj = 0; const bjMax = n > ${MAX_BACKWARD_JUMPS} ? n : ${MAX_BACKWARD_JUMPS};\nfor (;;) {\nswitch (pc) {\n`;
    for (let i = 0; i < n; i++) {
      const insn = prog[i]!;
      let code: string;
      if (insn.code === (BPF_JMP | BPF_JA) && (insn.k >>> 0) >= 0x80000000) {
        const t = (i + 1 + (insn.k | 0)) | 0;
        code = (insn.k >>> 0) === 0xffffffff || t < 0
          ? shape.ret('0')
          : `if (bj++ >= bjMax) ${shape.ret('0')} pc = ${t}; continue;`;
      } else {
        code = emit(insn, i, gotoLoop, shape);
      }
      body += `case ${i}: ${code}\n`;
    }
    body += `default: ${shape.ret('0')}\n}\n}\n`;
  }
  return { body, slots: [...slots].sort((a, b) => a - b), usesLen };
}

function declarations(slots: number[]): string {
  let decl = 'let A = 0, X = 0, r = 0, o = 0;';
  for (const s of slots) decl += ` let m${s} = 0;`;
  return decl;
}

const PRELUDE = [
  '"use strict";',
  'const loadExtension = H.loadExtension, loadNegative = H.loadNegative, loadIndirect = H.loadIndirect;',
].join('\n');

/** Whether a PacketMeta can change what the program does (else one function serves both). */
function metaMatters(prog: CbpfProgram): boolean {
  return prog.some((i) => {
    const mode = i.code & 0xe0;
    const cls = i.code & 0x07;
    if (cls === BPF_LD && mode === BPF_IND) return true; // X + k wraps in the kernel
    if ((cls === BPF_LD && mode === BPF_ABS) || i.code === (BPF_LDX | BPF_MSH | BPF_B)) return (i.k >>> 0) >= 0x80000000;
    return i.code === (BPF_ALU | BPF_LSH | BPF_X) || i.code === (BPF_ALU | BPF_RSH | BPF_X);
  });
}

function singleFunction(prog: CbpfProgram, shape: Shape, name: string, params = 'p, w, meta'): string {
  const { body, slots, usesLen } = filterBody(prog, shape);
  return [
    `function ${name}(${params}) {`,
    usesLen ? 'const wl = w === undefined ? p.length : w;' : '',
    declarations(slots),
    'const n = p.length;',
    body,
    '}',
  ].join('\n');
}

/**
 * The body of the factory function for a program (assumed valid in libpcap's
 * sense): `new Function('H', source)(helpers)` returns the filter. Without a
 * PacketMeta it runs code with libpcap's semantics; with one, a second
 * function with the kernel's (only when the program has loads or shifts
 * whose meaning differs), so the common path carries no metadata checks.
 */
export function jitSource(prog: CbpfProgram): string {
  const plain = singleFunction(prog, SINGLE, 'cbpfFilter');
  if (!metaMatters(prog)) return [PRELUDE, `return ${plain};`].join('\n');
  return [
    PRELUDE,
    plain,
    singleFunction(prog, SINGLE_LINUX, 'cbpfLinuxFilter'),
    'return function cbpfDispatch(p, w, meta) {',
    '  return meta === undefined ? cbpfFilter(p, w) : cbpfLinuxFilter(p, w, meta);',
    '};',
  ].join('\n');
}

export interface StandaloneOptions {
  /** The function's name (default `cbpfFilter`); must be a JavaScript identifier. */
  name?: string;
  /** Print an ES module (`export function ...`) instead of a plain function declaration. */
  module?: boolean;
  /** Lines put in the leading comment (e.g. the program in tcpdump -d form). */
  comment?: readonly string[];
}

/**
 * A self-contained JavaScript artifact for a program (assumed valid in
 * libpcap's sense): one function declaration that needs nothing else,
 *
 *   cbpfFilter(packet: Uint8Array, wireLength = packet.length): number
 *
 * with pcap_offline_filter()'s semantics: `packet` holds the captured
 * bytes, `wireLength` the length on the wire (what `ld len` reads), and the
 * result is the unsigned 32-bit verdict (0 drops the packet, otherwise the
 * number of bytes to keep). Loads past the captured bytes and Linux
 * ancillary/negative-offset loads make it return 0, as in libpcap.
 */
export function jitStandaloneSource(prog: CbpfProgram, options: StandaloneOptions = {}): string {
  const name = options.name ?? 'cbpfFilter';
  let ok = /^[A-Za-z_$][\w$]*$/.test(name);
  if (ok) {
    try {
      new Function(`"use strict"; function ${name}() {}`); // rejects reserved words
    } catch {
      ok = false;
    }
  }
  if (!ok) throw new UsageError(`'${name}' is not a JavaScript function name`);
  const head = [
    '/*',
    ` * Classic BPF filter compiled to JavaScript by bpfkit (${prog.length} instructions).`,
    ` *   ${name}(packet: Uint8Array, wireLength = packet.length) -> number`,
    ' * libpcap semantics (pcap_offline_filter): packet is the captured bytes, wireLength',
    ' * the length on the wire; returns 0 to drop the packet, otherwise the number of bytes',
    ' * to keep (unsigned 32-bit). A load past the captured bytes, or a Linux ancillary',
    ' * load, returns 0. Self-contained: no imports, no globals.',
  ];
  for (const line of options.comment ?? []) head.push(` *   ${line.replace(/\*\//g, '* /')}`);
  head.push(' */');
  const fn = singleFunction(prog, SINGLE, name, 'p, w');
  return [...head, (options.module ? 'export ' : '') + fn.replace('{', '{\n"use strict";'), ''].join('\n');
}

/**
 * The factory body of the batch form: a function that filters `count`
 * packets stored in one buffer (see jitBatch()).
 */
export function jitBatchSource(prog: CbpfProgram, withVerdicts = true): string {
  const { body, slots, usesLen } = filterBody(prog, BATCH);
  return [
    PRELUDE,
    // Returns the number of packets kept, or -(i + 1) when packet i lies outside the buffer.
    'return function cbpfBatch(buf, off, cap, wlen, count, out) {',
    'const size = buf.length, dv = new DataView(buf.buffer, buf.byteOffset, size);',
    'let accepted = 0;',
    'for (let i = 0; i < count; i++) {',
    'const b = off[i], n = cap[i];',
    'if (!(b >= 0 && n >= 0 && b + n <= size)) return -(i + 1);',
    usesLen ? 'const wl = wlen === undefined ? n : wlen[i];' : '',
    declarations(slots),
    'let v = 0;',
    'PKT: {',
    body,
    '}',
    withVerdicts ? 'out[i] = v;' : '',
    'accepted += v !== 0 ? 1 : 0;',
    '}',
    'return accepted;',
    '};',
  ].join('\n');
}

/**
 * For a forward-only program: the captured length every path to each
 * instruction has already checked (an absolute load at k of size s that did
 * not end the filter proves caplen >= k + s). A load needing no more than that
 * skips its own check.
 */
export function knownLengths(prog: CbpfProgram): number[] {
  const n = prog.length;
  const known = new Array<number>(n).fill(Infinity);
  known[0] = 0;
  for (let i = 0; i < n; i++) {
    const insn = prog[i]!;
    const k = insn.k >>> 0;
    let after = known[i]!;
    if (after === Infinity) after = 0; // unreachable: no knowledge needed
    const cls = insn.code & 0x07;
    if (cls === BPF_LD && (insn.code & 0xe0) === BPF_ABS && k < 0x80000000) after = Math.max(after, k + SIZE[insn.code & 0x18]!);
    else if (insn.code === (BPF_LDX | BPF_MSH | BPF_B) && k < 0x80000000) after = Math.max(after, k + 1);
    const flow = (t: number): void => {
      if (t < n) known[t] = Math.min(known[t]!, after);
    };
    if (cls === BPF_RET) continue;
    if (insn.code === (BPF_JMP | BPF_JA)) flow(i + 1 + k);
    else if (cls === BPF_JMP) {
      flow(i + 1 + insn.jt);
      flow(i + 1 + insn.jf);
    } else flow(i + 1);
  }
  return known.map((v) => (v === Infinity ? 0 : v));
}

/**
 * Whether A may be read, at each instruction, before it is written (a
 * backward pass; forward-only programs). An ancillary load reads A too (the
 * kernel's ALU_XOR_X, NLATTR, and the no-device exit return or use it).
 */
function liveA(prog: CbpfProgram): boolean[] {
  const n = prog.length;
  const live = new Array<boolean>(n + 1).fill(false);
  const at = (t: number): boolean => (t < n ? live[t]! : false);
  for (let i = n - 1; i >= 0; i--) {
    const { code } = prog[i]!;
    const k = prog[i]!.k >>> 0;
    const cls = code & 0x07;
    const mode = code & 0xe0;
    if (cls === BPF_RET) live[i] = code === (BPF_RET | BPF_A);
    else if (code === (BPF_JMP | BPF_JA)) live[i] = at(i + 1 + k);
    else if (cls === BPF_JMP || cls === BPF_ALU || code === BPF_ST || code === (BPF_MISC | BPF_TAX)) live[i] = true;
    else if (cls === BPF_LD) live[i] = mode === BPF_ABS && k >= 0x80000000;
    else if (code === (BPF_MISC | BPF_TXA)) live[i] = false;
    else live[i] = at(i + 1); // LDX, STX, MSH: A passes through
  }
  return live;
}

/** A load whose only use is the `jeq #k` right after it: compare its bytes instead. */
interface FusedLoad {
  k: number;
  size: 2 | 4;
}

/**
 * `ldh/ld [k]; jeq #K` where the jeq is reached only from the load and A is
 * dead on both branches: the pair becomes a comparison of the packet bytes
 * with K's bytes (no shifts, and a mismatch in the first byte decides).
 * Returns the fused loads by index.
 */
function fusedCompares(prog: CbpfProgram): Map<number, FusedLoad> {
  const fused = new Map<number, FusedLoad>();
  const n = prog.length;
  if (prog.some((i) => i.code === (BPF_JMP | BPF_JA) && (i.k >>> 0) >= 0x80000000)) return fused;
  const targets = new Set<number>();
  prog.forEach((insn, i) => {
    if (insn.code === (BPF_JMP | BPF_JA)) targets.add(i + 1 + (insn.k >>> 0));
    else if ((insn.code & 0x07) === BPF_JMP) {
      targets.add(i + 1 + insn.jt);
      targets.add(i + 1 + insn.jf);
    }
  });
  const live = liveA(prog);
  for (let i = 0; i + 1 < n; i++) {
    const load = prog[i]!;
    const jeq = prog[i + 1]!;
    if (load.code !== (BPF_LD | BPF_W | BPF_ABS) && load.code !== (BPF_LD | BPF_H | BPF_ABS)) continue;
    if ((load.k >>> 0) >= 0x80000000 || jeq.code !== (BPF_JMP | BPF_JEQ | BPF_K) || targets.has(i + 1)) continue;
    const t = i + 2 + jeq.jt;
    const f = i + 2 + jeq.jf;
    if ((t < n && live[t]) || (f < n && live[f])) continue;
    fused.set(i, { k: load.k >>> 0, size: load.code === (BPF_LD | BPF_W | BPF_ABS) ? 4 : 2 });
  }
  return fused;
}

/** The condition "the bytes at k equal K" for a fused load. */
function bytesEqual(shape: Shape, f: FusedLoad, K: number): string {
  if (f.size === 2 && K > 0xffff) return 'false';
  const bytes = f.size === 4 ? [K >>> 24, (K >>> 16) & 0xff, (K >>> 8) & 0xff, K & 0xff] : [K >>> 8, K & 0xff];
  return bytes.map((b, d) => `${shape.byte(String(f.k + d))} === ${b}`).join(' && ');
}

function emit(
  insn: CbpfInsn, i: number, go: (from: number, t: number) => string, shape: Shape, known = 0,
  fused?: ReadonlyMap<number, FusedLoad>,
): string {
  const { code } = insn;
  const k = insn.k >>> 0;
  const ks = k | 0; // the same bits as a signed literal
  const ret = shape.ret;
  switch (code) {
    case BPF_RET | BPF_K: return ret(String(k));
    case BPF_RET | BPF_A: return ret('A >>> 0');
    case BPF_LD | BPF_W | BPF_ABS:
    case BPF_LD | BPF_H | BPF_ABS:
    case BPF_LD | BPF_B | BPF_ABS: {
      const size = SIZE[code & 0x18]!;
      if (k >= 0x80000000) {
        if (!shape.meta) return ret('0');
        return `r = loadExtension(p, meta, ${k}, ${size}, A >>> 0, X >>> 0); ` +
          `if (r < 0) return r === ${LOAD_EXIT_A} ? A >>> 0 : 0; A = r | 0;`;
      }
      const check = k + size <= known ? '' : `if (n < ${k + size}) ${ret('0')} `;
      if (fused?.has(i)) return check; // compared byte by byte by the jeq that follows
      return `${check}A = ${loadExpr(shape, String(k), size, (d) => String(k + d))};`;
    }
    case BPF_LD | BPF_W | BPF_IND:
    case BPF_LD | BPF_H | BPF_IND:
    case BPF_LD | BPF_B | BPF_IND: {
      const size = SIZE[code & 0x18]!;
      const slow = shape.meta
        ? `{ r = loadIndirect(p, meta, X >>> 0, ${k}, ${size}); if (r < 0) return 0; A = r | 0; }`
        : ret('0');
      return `o = (X >>> 0) + ${k}; if (o > n - ${size}) ${slow} else A = ${loadExpr(shape, 'o', size, (d) => `o + ${d}`)};`;
    }
    case BPF_LDX | BPF_MSH | BPF_B: {
      if (k >= 0x80000000) {
        if (!shape.meta) return ret('0');
        return `r = loadNegative(p, meta, ${ks}, 1); if (r < 0) return 0; X = (r & 15) << 2;`;
      }
      const check = k + 1 <= known ? '' : `if (n <= ${k}) ${ret('0')} `;
      return `${check}X = (${shape.byte(String(k))} & 15) << 2;`;
    }
    case BPF_LD | BPF_W | BPF_LEN: return 'A = wl | 0;';
    case BPF_LDX | BPF_W | BPF_LEN: return 'X = wl | 0;';
    case BPF_LD | BPF_IMM: return `A = ${ks};`;
    case BPF_LDX | BPF_IMM: return `X = ${ks};`;
    case BPF_LD | BPF_MEM: return `A = m${k};`;
    case BPF_LDX | BPF_MEM: return `X = m${k};`;
    case BPF_ST: return `m${k} = A;`;
    case BPF_STX: return `m${k} = X;`;
    case BPF_JMP | BPF_JA: return go(i, i + 1 + k);
    case BPF_ALU | BPF_NEG: return 'A = -A | 0;';
    case BPF_MISC | BPF_TAX: return 'X = A;';
    case BPF_MISC | BPF_TXA: return 'A = X;';
  }
  const cls = code & 0x07;
  const op = code & 0xf0;
  const isX = (code & 0x08) === BPF_X;
  if (cls === BPF_JMP) {
    let cond: string;
    switch (op) {
      case BPF_JEQ: {
        const f = fused?.get(i - 1);
        cond = isX ? 'A === X' : f ? bytesEqual(shape, f, k) : `A === ${ks}`;
        break;
      }
      case BPF_JGT: cond = isX ? '(A >>> 0) > (X >>> 0)' : k === 0 ? 'A !== 0' : `(A >>> 0) > ${k}`; break;
      case BPF_JGE: cond = isX ? '(A >>> 0) >= (X >>> 0)' : k === 0 ? 'true' : `(A >>> 0) >= ${k}`; break;
      case BPF_JSET: cond = isX ? '(A & X) !== 0' : `(A & ${ks}) !== 0`; break;
      default: return ret('0');
    }
    const t = go(i, i + 1 + insn.jt);
    const f = go(i, i + 1 + insn.jf);
    if (t === f) return t;
    if (t === '') return `if (!(${cond})) { ${f} }`;
    if (f === '') return `if (${cond}) { ${t} }`;
    return `if (${cond}) { ${t} } else { ${f} }`;
  }
  if (cls === BPF_ALU) {
    const src = isX ? 'X' : String(ks);
    switch (op) {
      case BPF_ADD: return `A = (A + ${src}) | 0;`;
      case BPF_SUB: return `A = (A - ${src}) | 0;`;
      case BPF_MUL: return `A = Math.imul(A, ${src});`;
      case BPF_DIV:
        if (isX) return `if (X === 0) ${ret('0')} A = ((A >>> 0) / (X >>> 0)) | 0;`;
        if (k === 0) return ret('0');
        if (isPowerOfTwo(k)) return `A = (A >>> ${31 - Math.clz32(k)}) | 0;`;
        return `A = ((A >>> 0) / ${k}) | 0;`;
      case BPF_MOD:
        if (isX) return `if (X === 0) ${ret('0')} A = ((A >>> 0) % (X >>> 0)) | 0;`;
        if (k === 0) return ret('0');
        if (isPowerOfTwo(k)) return `A = A & ${(k - 1) | 0};`;
        return `A = ((A >>> 0) % ${k}) | 0;`;
      case BPF_AND: return `A = A & ${src};`;
      case BPF_OR: return `A = A | ${src};`;
      case BPF_XOR: return `A = A ^ ${src};`;
      case BPF_LSH:
        // The kernel shifts by X & 31, as JS does; libpcap gives 0 from 32 on.
        if (isX) return shape.meta ? 'A = A << X;' : 'A = (X >>> 0) < 32 ? A << X : 0;';
        return k < 32 ? `A = A << ${k};` : 'A = 0;';
      case BPF_RSH:
        if (isX) return shape.meta ? 'A = (A >>> X) | 0;' : 'A = (X >>> 0) < 32 ? (A >>> X) | 0 : 0;';
        return k < 32 ? `A = (A >>> ${k}) | 0;` : 'A = 0;';
    }
  }
  return ret('0');
}
