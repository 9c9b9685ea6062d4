/**
 * The WebAssembly back end: a validated classic program compiled to a
 * WebAssembly module that filters packets held in a WebAssembly memory
 * (libpcap semantics, no PacketMeta). Same verdicts as interpret() and jit().
 *
 * Why: over a large capture held in memory the filter's speed is bound by
 * reading the packets, and V8 reads a wasm memory (one bounds check folded
 * into the address, no typed-array bookkeeping per access) about twice as
 * fast as it reads a Uint8Array. The packets are put into a WasmPackets
 * store once (one copy of the buffer, or read straight into it); every
 * compiled program then filters the store in one call.
 *
 * Code shape. One function loops over the store's offset / length arrays
 * with the program inlined in the loop body: A, X and M[] in i32 locals
 * (zeroed per packet), every constant folded in; forward jumps are `br` out
 * of nested blocks (one per jump target), a `ret` sets the verdict and
 * breaks out to the end of the packet; captured-length checks that every
 * path has already made are skipped. The loop stores each verdict when asked
 * and counts the kept packets.
 * Programs the block form does not suit (backward jumps: protochain, or more
 * than MAX_BLOCKS jump targets) run through jitBatch() on the same store.
 */
import { UsageError } from '../errors.js';
import {
  BPF_ABS, BPF_ADD, BPF_ALU, BPF_AND, BPF_B, BPF_DIV, BPF_H, BPF_IMM, BPF_IND, BPF_JA, BPF_JEQ, BPF_JGE, BPF_JGT,
  BPF_JMP, BPF_JSET, BPF_LD, BPF_LDX, BPF_LEN, BPF_LSH, BPF_MEM, BPF_MISC, BPF_MOD, BPF_MSH, BPF_MUL, BPF_NEG, BPF_OR,
  BPF_RET, BPF_RSH, BPF_ST, BPF_STX, BPF_SUB, BPF_TAX, BPF_TXA, BPF_W, BPF_X, BPF_XOR, BPF_A, BPF_K,
  type CbpfProgram,
} from './insn.js';
import { jitBatch, knownLengths, type BatchFilter, type JitOptions, type PacketBatch } from './jit.js';
import { validate } from './validate.js';

/** The part of the WebAssembly API used here (the project's TypeScript lib has no WebAssembly types). */
interface WasmMemory {
  readonly buffer: ArrayBuffer;
  grow(pages: number): number;
}
interface WasmApi {
  Memory: new (d: { initial: number }) => WasmMemory;
  Module: new (bytes: Uint8Array) => object;
  Instance: new (m: object, imports: Record<string, Record<string, unknown>>) => { exports: Record<string, unknown> };
}
/**
 * The WebAssembly API, looked up when used: a V8 start-up snapshot is built
 * without WebAssembly (bpfkit's CLI snapshot holds this module), so a
 * reference taken when the module loads would stay undefined in every run.
 */
function wasmApi(): WasmApi {
  const api = (globalThis as unknown as { WebAssembly?: WasmApi }).WebAssembly;
  if (api === undefined) throw new UsageError('this JavaScript engine has no WebAssembly');
  return api;
}

/** Above this many jump targets (nested blocks), use jitBatch() instead. */
const MAX_BLOCKS = 1500;
const PAGE = 65536;
/** How many packets ahead the packet loop touches (default). */
const PREFETCH = 32;
const MAX_PREFETCH = 64;

/**
 * Packets copied (once) into a WebAssembly memory: the bytes, then the
 * offsets, captured lengths and wire lengths as little-endian u32 arrays,
 * then room for one verdict per packet.
 */
export class WasmPackets {
  readonly memory: WasmMemory;
  readonly count: number;
  /** Bytes of packet data at the start of the memory. */
  readonly dataSize: number;
  /** Byte addresses of the four u32 arrays in the memory. */
  readonly offsetsAt: number;
  readonly caplensAt: number;
  readonly wireLengthsAt: number;
  readonly verdictsAt: number;
  /** The same packets as a PacketBatch over the memory (for jitBatch() and the fallback). */
  readonly batch: { buffer: Uint8Array; offsets: Uint32Array; caplens: Uint32Array; wireLengths: Uint32Array };

  private constructor(memory: WasmMemory, dataSize: number, count: number) {
    this.memory = memory;
    this.count = count;
    this.dataSize = dataSize;
    this.offsetsAt = align(dataSize);
    this.caplensAt = this.offsetsAt + 4 * count;
    this.wireLengthsAt = this.caplensAt + 4 * count;
    this.verdictsAt = this.wireLengthsAt + 4 * count;
    const buf = memory.buffer;
    this.batch = {
      buffer: new Uint8Array(buf, 0, dataSize),
      offsets: new Uint32Array(buf, this.offsetsAt, count),
      caplens: new Uint32Array(buf, this.caplensAt, count),
      wireLengths: new Uint32Array(buf, this.wireLengthsAt, count),
    };
  }

  /** A store with room for `dataSize` bytes of packets and `count` packets (fill `batch` yourself). */
  static allocate(dataSize: number, count: number): WasmPackets {
    if (!Number.isInteger(dataSize) || dataSize < 0 || !Number.isInteger(count) || count < 0) {
      throw new UsageError(`wasm packets: bad size ${dataSize} or count ${count}`);
    }
    const total = align(dataSize) + 16 * count + 4 * (MAX_PREFETCH + 1); // + the loop's read-ahead and its scratch word
    if (total > 0xffff0000) throw new UsageError(`wasm packets: ${total} bytes do not fit a 4 GiB WebAssembly memory`);
    const memory = new (wasmApi().Memory)({ initial: Math.max(1, Math.ceil(total / PAGE)) });
    return new WasmPackets(memory, dataSize, count);
  }

  /**
   * Packets written straight into the store's memory, without a copy: `fill`
   * gets the `dataSize`-byte data region (e.g. to read a capture file into
   * it) and returns where the packets are in it. Checks that each packet
   * lies in the region.
   */
  static fill(dataSize: number, fill: (data: Uint8Array) => Omit<PacketBatch, 'buffer'>): WasmPackets {
    const data = WasmPackets.allocate(dataSize, 0);
    const where = fill(new Uint8Array(data.memory.buffer, 0, dataSize));
    const count = where.count ?? where.offsets.length;
    const total = align(dataSize) + 16 * count + 4 * (MAX_PREFETCH + 1);
    if (total > 0xffff0000) throw new UsageError(`wasm packets: ${total} bytes do not fit a 4 GiB WebAssembly memory`);
    const have = data.memory.buffer.byteLength / PAGE;
    const need = Math.max(1, Math.ceil(total / PAGE));
    if (need > have) data.memory.grow(need - have);
    const store = new WasmPackets(data.memory, dataSize, count);
    store.setArrays(where, count);
    return store;
  }

  private setArrays(where: Omit<PacketBatch, 'buffer'>, count: number): void {
    const size = this.dataSize;
    if (count > where.offsets.length || count > where.caplens.length || (where.wireLengths !== undefined && count > where.wireLengths.length)) {
      throw new UsageError(`packet batch: count ${count} does not fit the offsets or lengths arrays`);
    }
    const b = this.batch;
    const off = b.offsets, cap = b.caplens, wl = b.wireLengths;
    for (let i = 0; i < count; i++) {
      const o = where.offsets[i]!, n = where.caplens[i]!;
      if (!Number.isInteger(o) || !Number.isInteger(n) || o < 0 || n < 0 || o + n > size) {
        throw new UsageError(`packet batch: packet ${i} (offset ${o}, length ${n}) is not inside the ${size}-byte buffer`);
      }
      off[i] = o;
      cap[i] = n;
      wl[i] = where.wireLengths === undefined ? n : where.wireLengths[i]!;
    }
  }

  /**
   * Copy a batch into a new store: its whole buffer in one piece (offsets
   * keep their meaning) and its arrays. Checks that each packet lies in the buffer.
   */
  static from(batch: PacketBatch): WasmPackets {
    const count = batch.count ?? batch.offsets.length;
    if (count > batch.offsets.length || count > batch.caplens.length || (batch.wireLengths !== undefined && count > batch.wireLengths.length)) {
      throw new UsageError(`packet batch: count ${count} does not fit the offsets or lengths arrays`);
    }
    const store = WasmPackets.allocate(batch.buffer.length, count);
    store.batch.buffer.set(batch.buffer);
    store.setArrays(batch, count);
    return store;
  }

  /** The verdicts written by the last filter run with `verdicts: true` (a view, valid until the next run). */
  verdicts(): Uint32Array {
    return new Uint32Array(this.memory.buffer, this.verdictsAt, this.count);
  }
}

function align(n: number): number {
  return (n + 7) & ~7;
}

/**
 * A compiled wasm filter: runs the program on every packet of the store,
 * returns how many it kept; with `verdicts` true, each verdict is also
 * written to `store.verdicts()`.
 */
export type WasmFilter = (store: WasmPackets, verdicts?: boolean) => number;

// --- the binary encoding ---------------------------------------------------

const I32 = 0x7f;
const I64 = 0x7e;
const op = {
  block: 0x02, loop: 0x03, if: 0x04, end: 0x0b, br: 0x0c, brIf: 0x0d, return: 0x0f, call: 0x10, drop: 0x1a,
  localGet: 0x20, localSet: 0x21, localTee: 0x22,
  i32Load: 0x28, i32Load8u: 0x2d, i32Store: 0x36,
  i32Const: 0x41, i64Const: 0x42,
  i32Eqz: 0x45, i32Eq: 0x46, i32Ne: 0x47, i32LtU: 0x49, i32GtU: 0x4b, i32LeU: 0x4d, i32GeU: 0x4f,
  i64GtS: 0x55,
  i32Add: 0x6a, i32Sub: 0x6b, i32Mul: 0x6c, i32DivU: 0x6e, i32RemU: 0x70, i32And: 0x71, i32Or: 0x72, i32Xor: 0x73,
  i32Shl: 0x74, i32ShrU: 0x76, i32Rotl: 0x77, i32Rotr: 0x78,
  i64Add: 0x7c, i64Sub: 0x7d,
  i32WrapI64: 0xa7, i64ExtendI32U: 0xad,
  select: 0x1b,
} as const;
const VOID = 0x40;

function uleb(v: number, out: number[]): void {
  do {
    let b = v % 128;
    v = Math.floor(v / 128);
    if (v > 0) b |= 0x80;
    out.push(b);
  } while (v > 0);
}

function sleb(v: number, out: number[]): void {
  // v is a safe integer (i32 or small i64 constants).
  for (;;) {
    const b = ((v % 128) + 128) % 128;
    v = Math.floor(v / 128);
    if ((v === 0 && (b & 0x40) === 0) || (v === -1 && (b & 0x40) !== 0)) {
      out.push(b);
      return;
    }
    out.push(b | 0x80);
  }
}

function section(id: number, body: number[], out: number[]): void {
  out.push(id);
  uleb(body.length, out);
  for (const b of body) out.push(b);
}

/** Where the filter's values live: locals of the packet loop (see loopCode). */
interface Layout {
  B: number; N: number; WL: number; A: number; X: number; T: number; ADDR: number; O: number; M: number;
  /** The verdict. */
  V: number;
}

const SIZE: Record<number, number> = { [BPF_W]: 4, [BPF_H]: 2, [BPF_B]: 1 };

/**
 * The filter's code, inlined in the packet loop inside a block: every `ret`
 * sets the verdict local and breaks out of that block. Undefined when the
 * program needs the loop form (backward jumps).
 */
function filterCode(prog: CbpfProgram, lay: Layout): number[] | undefined {
  const n = prog.length;
  const isRet = (t: number): boolean => (prog[t]!.code & 0x07) === BPF_RET;
  const targets = new Set<number>();
  for (let i = 0; i < n; i++) {
    const insn = prog[i]!;
    const add = (t: number): void => {
      if (t !== i + 1 && !isRet(t)) targets.add(t);
    };
    if (insn.code === (BPF_JMP | BPF_JA)) {
      if ((insn.k >>> 0) >= 0x80000000) return undefined;
      add(i + 1 + (insn.k >>> 0));
    } else if ((insn.code & 0x07) === BPF_JMP) {
      add(i + 1 + insn.jt);
      add(i + 1 + insn.jf);
    }
  }
  if (targets.size > MAX_BLOCKS) return undefined;
  const known = knownLengths(prog);
  const sorted = [...targets].sort((a, b) => a - b);
  const c: number[] = [];
  let cur = 0; // the instruction being emitted
  let ifDepth = 0; // `if` blocks open around the code being emitted
  /** End the filter with the verdict on the stack: out of the label blocks and ifs to the end of the packet's block. */
  const ret = (): void => {
    c.push(op.localSet, lay.V, op.br);
    let d = ifDepth;
    for (const l of sorted) if (l > cur) d++;
    uleb(d, c);
  };
  for (let j = 0; j < sorted.length; j++) c.push(op.block, VOID);

  const cnst = (v: number): void => {
    c.push(op.i32Const);
    sleb(v | 0, c);
  };
  const get = (l: number): void => {
    c.push(op.localGet, l);
  };
  const set = (l: number): void => {
    c.push(op.localSet, l);
  };
  const retConst = (v: number): void => {
    cnst(v);
    ret();
  };
  /** The br depth from instruction i to the end of the block before instruction t: blocks open are the targets in (i, ∞). */
  const depth = (i: number, t: number): number => {
    let d = 0;
    for (const l of sorted) if (l > i && l < t) d++;
    return d;
  };
  /** Unconditional transfer from instruction i to t (nothing when t is next). */
  const goTo = (i: number, t: number): void => {
    if (t === i + 1) return;
    const target = prog[t]!;
    if (target.code === (BPF_RET | BPF_K)) return retConst(target.k);
    if ((target.code & 0x07) === BPF_RET) {
      if (target.code === (BPF_RET | BPF_A)) get(lay.A);
      else cnst(0); // a RET with an unknown source (not valid; the interpreter returns 0)
      ret();
      return;
    }
    c.push(op.br);
    uleb(depth(i, t), c);
  };
  /** With a condition on the stack: go to t when it is non-zero. */
  const goIf = (i: number, t: number): void => {
    if (isRet(t)) {
      c.push(op.if, VOID);
      ifDepth++;
      goTo(i, t);
      ifDepth--;
      c.push(op.end);
      return;
    }
    c.push(op.brIf);
    uleb(depth(i, t), c);
  };
  /** `if (n < need) return 0`, unless every path has checked it. */
  const check = (need: number, knownLen: number): void => {
    if (need <= knownLen) return;
    get(lay.N);
    cnst(need);
    c.push(op.i32LtU, op.if, VOID);
    ifDepth++;
    retConst(0);
    ifDepth--;
    c.push(op.end);
  };
  const mem = (code: number, alignLog: number, off: number): void => {
    c.push(code, alignLog);
    uleb(off, c);
  };
  /** Push the big-endian value of `size` bytes at (local base) + off. */
  const load = (base: number, size: number, off: number): void => {
    get(base);
    if (size === 1) return mem(op.i32Load8u, 0, off);
    if (size === 2) {
      mem(op.i32Load8u, 0, off);
      cnst(8);
      c.push(op.i32Shl);
      get(base);
      mem(op.i32Load8u, 0, off + 1);
      c.push(op.i32Or);
      return;
    }
    mem(op.i32Load, 0, off);
    // byte swap: (rotl(v, 8) & 0x00ff00ff) | (rotr(v, 8) & 0xff00ff00)
    c.push(op.localTee, lay.T);
    cnst(8);
    c.push(op.i32Rotl);
    cnst(0x00ff00ff);
    c.push(op.i32And);
    get(lay.T);
    cnst(8);
    c.push(op.i32Rotr);
    cnst(0xff00ff00);
    c.push(op.i32And, op.i32Or);
  };

  for (let i = 0; i < n; i++) {
    cur = i;
    if (targets.has(i)) c.push(op.end);
    const insn = prog[i]!;
    const { code } = insn;
    const k = insn.k >>> 0;
    const cls = code & 0x07;
    const bop = code & 0xf0;
    const isX = (code & 0x08) === BPF_X;
    switch (code) {
      case BPF_RET | BPF_K: retConst(k); continue;
      case BPF_RET | BPF_A: get(lay.A); ret(); continue;
      case BPF_LD | BPF_W | BPF_ABS:
      case BPF_LD | BPF_H | BPF_ABS:
      case BPF_LD | BPF_B | BPF_ABS: {
        if (k >= 0x80000000) { retConst(0); continue; } // ancillary / negative offsets: libpcap fails the load
        const size = SIZE[code & 0x18]!;
        check(k + size, known[i]!);
        load(lay.B, size, k);
        set(lay.A);
        continue;
      }
      case BPF_LD | BPF_W | BPF_IND:
      case BPF_LD | BPF_H | BPF_IND:
      case BPF_LD | BPF_B | BPF_IND: {
        const size = SIZE[code & 0x18]!;
        // o = X + k without wrapping (i64); fail when o > n - size.
        get(lay.X);
        c.push(op.i64ExtendI32U, op.i64Const);
        sleb(k, c);
        c.push(op.i64Add, op.localTee, lay.O);
        get(lay.N);
        c.push(op.i64ExtendI32U, op.i64Const);
        sleb(size, c);
        c.push(op.i64Sub, op.i64GtS, op.if, VOID);
        ifDepth++;
        retConst(0);
        ifDepth--;
        c.push(op.end);
        get(lay.B);
        get(lay.O);
        c.push(op.i32WrapI64, op.i32Add);
        set(lay.ADDR);
        load(lay.ADDR, size, 0);
        set(lay.A);
        continue;
      }
      case BPF_LDX | BPF_MSH | BPF_B:
        if (k >= 0x80000000) { retConst(0); continue; }
        check(k + 1, known[i]!);
        load(lay.B, 1, k);
        cnst(15);
        c.push(op.i32And);
        cnst(2);
        c.push(op.i32Shl);
        set(lay.X);
        continue;
      case BPF_LD | BPF_W | BPF_LEN: get(lay.WL); set(lay.A); continue;
      case BPF_LDX | BPF_W | BPF_LEN: get(lay.WL); set(lay.X); continue;
      case BPF_LD | BPF_IMM: cnst(k); set(lay.A); continue;
      case BPF_LDX | BPF_IMM: cnst(k); set(lay.X); continue;
      case BPF_LD | BPF_MEM: get(lay.M + k); set(lay.A); continue;
      case BPF_LDX | BPF_MEM: get(lay.M + k); set(lay.X); continue;
      case BPF_ST: get(lay.A); set(lay.M + k); continue;
      case BPF_STX: get(lay.X); set(lay.M + k); continue;
      case BPF_JMP | BPF_JA: goTo(i, i + 1 + k); continue;
      case BPF_ALU | BPF_NEG: cnst(0); get(lay.A); c.push(op.i32Sub); set(lay.A); continue;
      case BPF_MISC | BPF_TAX: get(lay.A); set(lay.X); continue;
      case BPF_MISC | BPF_TXA: get(lay.X); set(lay.A); continue;
    }
    const src = (): void => (isX ? get(lay.X) : cnst(k));
    if (cls === BPF_JMP) {
      const t = i + 1 + insn.jt;
      const f = i + 1 + insn.jf;
      if (t === f) {
        goTo(i, t);
        continue;
      }
      get(lay.A);
      switch (bop) {
        case BPF_JEQ: src(); c.push(op.i32Eq); break;
        case BPF_JGT: src(); c.push(op.i32GtU); break;
        case BPF_JGE: src(); c.push(op.i32GeU); break;
        case BPF_JSET: src(); c.push(op.i32And); break;
        default: c.push(op.drop); retConst(0); continue;
      }
      if (t === i + 1) {
        c.push(op.i32Eqz);
        goIf(i, f);
      } else {
        goIf(i, t);
        goTo(i, f);
      }
      continue;
    }
    if (cls === BPF_ALU) {
      const zeroX = (): void => {
        get(lay.X);
        c.push(op.i32Eqz, op.if, VOID);
        ifDepth++;
        retConst(0);
        ifDepth--;
        c.push(op.end);
      };
      const binary = (o: number): void => {
        get(lay.A);
        src();
        c.push(o);
        set(lay.A);
      };
      switch (bop) {
        case BPF_ADD: binary(op.i32Add); continue;
        case BPF_SUB: binary(op.i32Sub); continue;
        case BPF_MUL: binary(op.i32Mul); continue;
        case BPF_AND: binary(op.i32And); continue;
        case BPF_OR: binary(op.i32Or); continue;
        case BPF_XOR: binary(op.i32Xor); continue;
        case BPF_DIV:
        case BPF_MOD:
          if (isX) zeroX();
          else if (k === 0) { retConst(0); continue; }
          binary(bop === BPF_DIV ? op.i32DivU : op.i32RemU);
          continue;
        case BPF_LSH:
        case BPF_RSH: {
          const sh = bop === BPF_LSH ? op.i32Shl : op.i32ShrU;
          if (!isX) {
            if (k < 32) binary(sh);
            else { cnst(0); set(lay.A); }
            continue;
          }
          // libpcap: a shift by 32 or more gives 0 (wasm would shift by X & 31).
          get(lay.A);
          get(lay.X);
          c.push(sh);
          cnst(0);
          get(lay.X);
          cnst(32);
          c.push(op.i32LtU, op.select);
          set(lay.A);
          continue;
        }
      }
    }
    retConst(0); // not a valid opcode: the interpreter returns 0
  }
  cur = n;
  cnst(0);
  c.push(op.localSet, lay.V);
  return c;
}

/** The packet loop: run(offAt, capAt, wlAt, count, outAt, store, dataSize) -> kept, or -(i + 1) when packet i is outside the data. */
function loopCode(prog: CbpfProgram, prefetch: number, touches: readonly number[]): number[] | undefined {
  const P_OFF = 0, P_CAP = 1, P_WL = 2, P_COUNT = 3, P_OUT = 4, P_STORE = 5, P_SIZE = 6;
  const I = 7, ACC = 8, V = 9, P4 = 10, B = 11, N = 12, PF = 13, Q = 14, J = 15, E = 16, T = 17;
  // The filter's locals follow: WL, A, X, FT, ADDR (i32), O (i64), then the scratch slots it uses.
  const lay: Layout = { B, N, V, WL: 18, A: 19, X: 20, T: 21, ADDR: 22, O: 23, M: 24 };
  const f = filterCode(prog, lay);
  if (!f) return undefined;
  let slots = 0;
  for (const insn of prog) {
    if (insn.code === (BPF_LD | BPF_MEM) || insn.code === (BPF_LDX | BPF_MEM) || insn.code === BPF_ST || insn.code === BPF_STX) {
      slots = Math.max(slots, (insn.k >>> 0) + 1);
    }
  }
  const c: number[] = slots > 0 ? [3, 16, I32, 1, I64, slots, I32] : [2, 16, I32, 1, I64];
  const g = (l: number): void => { c.push(op.localGet, l); };
  const s = (l: number): void => { c.push(op.localSet, l); };
  const k = (v: number): void => { c.push(op.i32Const); sleb(v, c); };
  const ld = (arr: number): void => { g(P4); g(arr); c.push(op.i32Add, op.i32Load, 2, 0); };
  c.push(op.block, VOID, op.loop, VOID);
  g(I); g(P_COUNT); c.push(op.i32GeU, op.brIf, 1);
  g(I); k(2); c.push(op.i32Shl); s(P4);
  if (prefetch > 0 && touches.length > 0) {
    // Every `prefetch` packets, first touch the header lines of the next
    // `prefetch` packets (the bytes of touchOffsets(), clamped to the end of
    // the data) in a tight loop: their cache misses are then in flight together instead of one
    // after the other behind each packet's branches.
    g(I); k(prefetch - 1); c.push(op.i32And, op.i32Eqz, op.if, VOID);
    g(I); s(J);
    g(I); k(prefetch); c.push(op.i32Add, op.localTee, E); g(P_COUNT); g(E); g(P_COUNT); c.push(op.i32LtU, op.select); s(E);
    c.push(op.block, VOID, op.loop, VOID);
    g(J); g(E); c.push(op.i32GeU, op.brIf, 1);
    g(J); k(2); c.push(op.i32Shl); g(P_OFF); c.push(op.i32Add, op.i32Load, 2, 0, op.localSet, Q);
    for (const d of touches) {
      // select(T, size, T < size): the byte at `size` is still in the memory (the arrays follow).
      g(Q); k(d); c.push(op.i32Add, op.localTee, T);
      g(P_SIZE);
      g(T); g(P_SIZE); c.push(op.i32LtU, op.select, op.i32Load8u, 0, 0);
      g(PF); c.push(op.i32Add); s(PF);
    }
    g(J); k(1); c.push(op.i32Add); s(J);
    c.push(op.br, 0, op.end, op.end);
    c.push(op.end);
  }
  ld(P_OFF); s(B);
  ld(P_CAP); s(N);
  // n > size || b > size - n: outside the packet data
  g(N); g(P_SIZE); c.push(op.i32GtU);
  g(B); g(P_SIZE); g(N); c.push(op.i32Sub, op.i32GtU, op.i32Or, op.if, VOID);
  k(-1); g(I); c.push(op.i32Sub, op.return, op.end);
  ld(P_WL); s(lay.WL);
  // A, X and M[] start at 0 for every packet.
  k(0); c.push(op.localTee, lay.A, op.localSet, lay.X);
  for (let m = 0; m < slots; m++) { k(0); s(lay.M + m); }
  c.push(op.block, VOID);
  for (const b of f) c.push(b);
  c.push(op.end);
  g(P_STORE); c.push(op.if, VOID);
  g(P4); g(P_OUT); c.push(op.i32Add); g(V); c.push(op.i32Store, 2, 0, op.end);
  g(ACC); g(V); k(0); c.push(op.i32Ne, op.i32Add); s(ACC);
  g(I); k(1); c.push(op.i32Add); s(I);
  c.push(op.br, 0, op.end, op.end);
  // Keep the prefetch loads: their sum goes to a scratch word after the verdicts.
  g(P_OUT); g(P_COUNT); k(2); c.push(op.i32Shl, op.i32Add); g(PF); c.push(op.i32Store, 2, 0);
  g(ACC);
  c.push(op.end);
  return c;
}

/**
 * The packet offsets whose cache lines the loop touches ahead: the first and
 * last byte of the range the program's loads read (absolute loads exactly;
 * an indirect load at k as if X were 20, a typical IPv4 header length), and
 * every 64 bytes between (at most 4). Only speed depends on it.
 */
function touchOffsets(prog: CbpfProgram): number[] {
  let lo = Infinity, hi = -Infinity;
  for (const insn of prog) {
    const k = insn.k >>> 0;
    const mode = insn.code & 0xe0;
    const size = SIZE[insn.code & 0x18] ?? 1;
    let from: number, to: number;
    if ((insn.code & 0x07) === BPF_LD && mode === BPF_ABS && k < 0x80000000) [from, to] = [k, k + size];
    else if (insn.code === (BPF_LDX | BPF_MSH | BPF_B) && k < 0x80000000) [from, to] = [k, k + 1];
    else if ((insn.code & 0x07) === BPF_LD && mode === BPF_IND && k < 0x10000) [from, to] = [k + 20, k + 20 + size];
    else continue;
    lo = Math.min(lo, from);
    hi = Math.max(hi, to);
  }
  if (lo === Infinity) return [];
  const out = [lo];
  for (let o = lo + 64; o < hi - 1 && out.length < 3; o += 64) out.push(o);
  if (hi - 1 > lo) out.push(hi - 1);
  return out;
}

/** The module's bytes for a forward-only program, or undefined. */
export function wasmModuleBytes(prog: CbpfProgram, prefetch = PREFETCH): Uint8Array | undefined {
  const loop = loopCode(prog, prefetch, touchOffsets(prog));
  if (!loop) return undefined;
  const out: number[] = [0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00];
  section(1, [1, 0x60, 7, I32, I32, I32, I32, I32, I32, I32, 1, I32], out);
  section(2, [1, 1, 0x65, 1, 0x6d, 0x02, 0x00, 0x01], out); // import "e" "m": memory, min 1 page
  section(3, [1, 0], out);
  section(7, [1, 3, 0x72, 0x75, 0x6e, 0x00, 0], out); // export "run" = function 0
  const body: number[] = [1];
  uleb(loop.length, body);
  for (const b of loop) body.push(b);
  section(10, body, out);
  return Uint8Array.from(out);
}

type RunFn = (offAt: number, capAt: number, wlAt: number, count: number, outAt: number, store: number, dataSize: number) => number;

/** A compiled program: its packet loop instantiated on a store's memory, or undefined for the jitBatch() fallback. */
interface Compiled {
  runOn: ((memory: WasmMemory) => RunFn) | undefined;
  batch: BatchFilter | undefined;
}

const moduleCache = new Map<string, Compiled>();
const CACHE_SIZE = 512;

export interface WasmJitOptions extends JitOptions {
  /** How many packets ahead the loop touches the next headers (0 or a power of two up to 64, default 32; 0 = none). */
  prefetch?: number;
}

function compileWasm(prog: CbpfProgram, options: WasmJitOptions): Compiled {
  const prefetch = options.prefetch ?? PREFETCH;
  if (!Number.isInteger(prefetch) || prefetch < 0 || prefetch > MAX_PREFETCH || (prefetch & (prefetch - 1)) !== 0) {
    throw new UsageError(`wasm JIT: prefetch ${prefetch} is not 0 or a power of two up to ${MAX_PREFETCH}`);
  }
  const mode = options.mode ?? 'libpcap';
  const useCache = options.cache !== false;
  let key = '';
  if (useCache) {
    key = `${mode}/${prefetch}`;
    for (const i of prog) key += `,${i.code} ${i.jt} ${i.jf} ${i.k >>> 0}`;
    const hit = moduleCache.get(key);
    if (hit) return hit;
  }
  validate(prog, mode);
  const bytes = wasmModuleBytes(prog, prefetch);
  let compiled: Compiled;
  if (!bytes) {
    compiled = { runOn: undefined, batch: jitBatch(prog, { mode, cache: useCache }) };
  } else {
    const module = new (wasmApi().Module)(bytes);
    const instances = new WeakMap<WasmMemory, RunFn>();
    const runOn = (memory: WasmMemory): RunFn => {
      let run = instances.get(memory);
      if (!run) {
        run = new (wasmApi().Instance)(module, { e: { m: memory } }).exports.run as RunFn;
        instances.set(memory, run);
      }
      return run;
    };
    compiled = { runOn, batch: undefined };
  }
  if (useCache) {
    moduleCache.set(key, compiled);
    if (moduleCache.size > CACHE_SIZE) moduleCache.delete(moduleCache.keys().next().value!);
  }
  return compiled;
}

function outside(store: WasmPackets, kept: number): UsageError {
  const i = -kept - 1;
  return new UsageError(`wasm packets: packet ${i} (offset ${store.batch.offsets[i]}, length ${store.batch.caplens[i]}) is not inside the packet data`);
}

/**
 * Compile a program for packets in a WasmPackets store. Throws
 * CbpfValidationError when the program fails the chosen validator (libpcap
 * rules by default). Programs with backward jumps run through jitBatch().
 */
export function jitWasm(prog: CbpfProgram, options: WasmJitOptions = {}): WasmFilter {
  const { runOn, batch } = compileWasm(prog, options);
  if (runOn === undefined) return (store, verdicts) => batch!(store.batch, verdicts ? store.verdicts() : undefined);
  return (store, verdicts) => {
    const kept = runOn(store.memory)(store.offsetsAt, store.caplensAt, store.wireLengthsAt, store.count, store.verdictsAt, verdicts ? 1 : 0, store.dataSize);
    if (kept < 0) throw outside(store, kept);
    return kept;
  };
}

/**
 * A batch filter (the shape of jitBatch()) that runs in WebAssembly the
 * batches laid out in `store`: packet bytes in its data region (the batch's
 * buffer a view from the region's start, e.g. a chunk of a capture file read
 * straight into it) and positions in its arrays (`store.batch`'s offsets,
 * caplens and wireLengths, the batch's count at most the store's). Other
 * batches, and programs the wasm form does not suit, go through jitBatch().
 * Verdicts, when asked for, land in the given array (no copy when it is
 * `store.verdicts()`).
 */
export function jitWasmBatch(prog: CbpfProgram, store: WasmPackets, options: WasmJitOptions = {}): BatchFilter {
  const { runOn, batch } = compileWasm(prog, options);
  if (runOn === undefined) return batch!;
  // The JavaScript form only for a batch that is not laid out in the store (e.g. a record longer
  // than a chunk, read into a buffer of its own): compiled when the first such batch comes.
  let fallback: BatchFilter | undefined;
  const other: BatchFilter = (b, verdicts) =>
    (fallback ??= jitBatch(prog, { mode: options.mode ?? 'libpcap', cache: options.cache !== false }))(b, verdicts);
  const run = runOn(store.memory);
  const { offsets, caplens, wireLengths } = store.batch;
  const own = store.verdicts();
  return (b, verdicts) => {
    const count = b.count ?? b.offsets.length;
    const buf = b.buffer;
    if (
      buf.buffer !== store.memory.buffer || buf.byteOffset !== 0 || buf.length > store.dataSize ||
      b.offsets !== offsets || b.caplens !== caplens || b.wireLengths !== wireLengths || count > store.count
    ) {
      return other(b, verdicts);
    }
    const kept = run(store.offsetsAt, store.caplensAt, store.wireLengthsAt, count, store.verdictsAt, verdicts ? 1 : 0, buf.length);
    if (kept < 0) throw outside(store, kept);
    if (verdicts !== undefined && (verdicts.buffer !== own.buffer || verdicts.byteOffset !== own.byteOffset)) verdicts.set(own.subarray(0, count));
    return kept;
  };
}

/** Forget every cached wasm filter. */
export function clearWasmCache(): void {
  moduleCache.clear();
}
