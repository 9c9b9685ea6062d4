/**
 * The interpreter: runs pre-decoded programs (see decode.ts) over the VM's
 * linear memory.
 *
 * Registers are pairs of 32-bit halves (L[r] low, H[r] high, Int32Array), so
 * the hot path never allocates: no BigInt except in 64-bit division of large
 * values. Every load and store is checked against the region table; each
 * memory instruction caches the bounds of the region it last hit (cacheLo /
 * cacheHi), so the table is searched only on a miss. Caches are dropped when
 * the table's epoch moves (a region shrank or went away).
 *
 * One call of `execute` runs from an entry point until that entry frame
 * exits; bpf-to-bpf calls and tail calls stay inside it, while helper
 * callbacks (bpf_loop, for_each_map_elem) re-enter it one frame deeper.
 */
import { MAX_CALL_DEPTH, STACK_SIZE } from '../ebpf/opcodes.js';
import { mul64, sar64, sdiv32, sdiv64, shl64, shr64, swap, udiv64, u64 } from './arith.js';
import { VmBudgetError, VmCallError, VmMemoryError, type InsnSite } from './errors.js';
import type { VmMemory } from './memory.js';

/** Largest number of instructions counted between two syncs of the step counter. */
const STEP_CHUNK = 0x3fff_ffff;

/** A decoded program the interpreter can run. */
export interface Executable {
  readonly name: string;
  readonly code: Int32Array;
  /** Per-instruction cached bounds [lo, hi) of the memory the instruction last accessed. */
  readonly cacheLo: Int32Array;
  readonly cacheHi: Int32Array;
  /** The region table epoch the caches were filled in. */
  cacheEpoch: number;
  /** The instruction at `pc` as text, for error messages. */
  describe?(pc: number): string;
}

/** What a helper call sees of the registers. */
export interface Frame {
  readonly L: Int32Array;
  readonly H: Int32Array;
  prog: Executable;
  pc: number;
}

/** The per-run state the interpreter needs (implemented by Run in run.ts). */
export interface Machine {
  readonly mem: VmMemory;
  /** Instructions executed so far in this run, and the limit. */
  steps: number;
  budget: number;
  /** Frames in use (the entry frame is 1). */
  depth: number;
  /** Top of the stack (r10 of the first frame). */
  readonly stackTop: number;
  /** Call helper `id` with r1..r5 of the frame; sets r0. May set `tail`. */
  callHelper(id: number, frame: Frame): void;
  /** Set by bpf_tail_call: the program to continue in. */
  tail: Executable | undefined;
  /** The maps this run may touch (regions owned by others fault). */
  readonly grants: ReadonlySet<object>;
  /** LD_ABS / LD_IND: the value at packet offset, or -1 when out of bounds (the program then returns 0). */
  loadPacket(offset: number, size: number, frame: Frame): number;
}

/** Thrown to end the whole run early with r0 = 0 (a failed LD_ABS/LD_IND, as in the kernel). */
export class ProgramAbort {
  constructor(readonly reason: string) {}
}

export function site(prog: Executable, pc: number): InsnSite {
  const s: InsnSite = { program: prog.name, pc, code: prog.code[pc * 4]! & 0xff };
  const text = prog.describe?.(pc);
  if (text) s.text = text;
  return s;
}

/**
 * Slow path of a memory access: the cached bounds missed. Checks the access
 * against the region table, fills the cache, and returns the address, or
 * throws VmMemoryError.
 */
function miss(m: Machine, prog: Executable, pc: number, lo: number, hi: number, off: number, size: number, write: boolean): number {
  const table = m.mem.regions;
  if (prog.cacheEpoch !== table.epoch) {
    prog.cacheLo.fill(0);
    prog.cacheHi.fill(0);
    prog.cacheEpoch = table.epoch;
  }
  const full = BigInt.asUintN(64, u64(lo, hi) + BigInt(off));
  const address = full < 0x1_0000_0000n ? Number(full) : -1;
  if (address >= 0 && table.bounds(address, size, write, m.grants)) {
    prog.cacheLo[pc] = table.lo;
    prog.cacheHi[pc] = table.hi;
    return address;
  }
  const why = address >= 0 ? table.why : 'outside the VM memory';
  throw new VmMemoryError(site(prog, pc), write ? 'write' : 'read', full, size, address >= 0 ? table.whyRegion : undefined, why);
}

function atomic(m: Machine, prog: Executable, pc: number, L: Int32Array, H: Int32Array, d: number, s: number, off: number, imm: number, wide: boolean): void {
  const size = wide ? 8 : 4;
  let a = L[d]! + off;
  if (H[d] !== 0 || a < prog.cacheLo[pc]! || a + size > prog.cacheHi[pc]!) a = miss(m, prog, pc, L[d]!, H[d]!, off, size, true);
  const dv = m.mem.dv;
  const oldL = dv.getInt32(a, true);
  const oldH = wide ? dv.getInt32(a + 4, true) : 0;
  let nl = oldL;
  let nh = oldH;
  const sl = L[s]!;
  const sh = wide ? H[s]! : 0;
  switch (imm & ~1) {
    case 0x00: {
      const lo = (oldL >>> 0) + (sl >>> 0);
      nl = lo | 0;
      nh = (oldH + sh + (lo > 0xffffffff ? 1 : 0)) | 0;
      break;
    }
    case 0x40:
      nl = oldL | sl;
      nh = oldH | sh;
      break;
    case 0x50:
      nl = oldL & sl;
      nh = oldH & sh;
      break;
    case 0xa0:
      nl = oldL ^ sl;
      nh = oldH ^ sh;
      break;
    case 0xe0:
      nl = sl;
      nh = sh;
      break;
    case 0xf0: {
      // cmpxchg: compare with r0 (its low half for the 32-bit form); r0 = old value.
      if (oldL === L[0] && (!wide || oldH === H[0])) {
        nl = sl;
        nh = sh;
      }
      L[0] = oldL;
      H[0] = oldH;
      break;
    }
  }
  dv.setInt32(a, nl, true);
  if (wide) dv.setInt32(a + 4, nh, true);
  if ((imm & 1) !== 0 && imm !== 0xf1) {
    L[s] = oldL;
    H[s] = oldH;
  }
}

/**
 * Run `entry` from instruction `pc` with the given registers (r1..r5 and r10
 * set by the caller) until its frame exits. r0 is left in L[0]/H[0].
 */
export function execute(m: Machine, entry: Executable, pc: number, L: Int32Array, H: Int32Array): void {
  let prog = entry;
  let code = prog.code;
  let cLo = prog.cacheLo;
  let cHi = prog.cacheHi;
  const mem = m.mem;
  const table = mem.regions;
  if (prog.cacheEpoch !== table.epoch) {
    cLo.fill(0);
    cHi.fill(0);
    prog.cacheEpoch = table.epoch;
  }
  let dv = mem.dv;
  let u8 = mem.u8;
  // Instructions are counted in `n` since the last sync with m.steps, against a
  // `limit` kept below 2^30 so that the check in the hot loop stays a small-integer compare.
  const budget = m.budget;
  let n = 0;
  let limit = Math.min(budget - m.steps, STEP_CHUNK);
  const baseDepth = m.depth;
  // Saved state of callers: return pc, r6..r9 (lo, hi), r10 per frame.
  const saved = new Int32Array(MAX_CALL_DEPTH * 10);
  const savedProg: Executable[] = [];
  let depth = 0;
  const frame: Frame = { L, H, prog, pc: 0 };

  for (;;) {
    if (++n > limit) {
      m.steps += n - 1;
      n = 1;
      if (m.steps >= budget) throw new VmBudgetError(site(prog, pc), budget);
      limit = Math.min(budget - m.steps, STEP_CHUNK);
    }
    const p = pc++;
    const i = p << 2;
    const w = code[i]!;
    const d = (w >>> 16) & 15;
    const s = (w >>> 20) & 15;
    switch (w & 0xffff) {
      // ---- ALU, 32-bit: every result clears the upper half ----
      case 0x04:
        L[d] = (L[d]! + code[i + 2]!) | 0;
        H[d] = 0;
        break;
      case 0x0c:
        L[d] = (L[d]! + L[s]!) | 0;
        H[d] = 0;
        break;
      case 0x14:
        L[d] = (L[d]! - code[i + 2]!) | 0;
        H[d] = 0;
        break;
      case 0x1c:
        L[d] = (L[d]! - L[s]!) | 0;
        H[d] = 0;
        break;
      case 0x24:
        L[d] = Math.imul(L[d]!, code[i + 2]!);
        H[d] = 0;
        break;
      case 0x2c:
        L[d] = Math.imul(L[d]!, L[s]!);
        H[d] = 0;
        break;
      case 0x34: {
        const b = code[i + 2]! >>> 0;
        L[d] = b === 0 ? 0 : (L[d]! >>> 0) / b;
        H[d] = 0;
        break;
      }
      case 0x3c: {
        const b = L[s]! >>> 0;
        L[d] = b === 0 ? 0 : (L[d]! >>> 0) / b;
        H[d] = 0;
        break;
      }
      case 0x44:
        L[d] = L[d]! | code[i + 2]!;
        H[d] = 0;
        break;
      case 0x4c:
        L[d] = L[d]! | L[s]!;
        H[d] = 0;
        break;
      case 0x54:
        L[d] = L[d]! & code[i + 2]!;
        H[d] = 0;
        break;
      case 0x5c:
        L[d] = L[d]! & L[s]!;
        H[d] = 0;
        break;
      case 0x64:
        L[d] = L[d]! << (code[i + 2]! & 31);
        H[d] = 0;
        break;
      case 0x6c:
        L[d] = L[d]! << (L[s]! & 31);
        H[d] = 0;
        break;
      case 0x74:
        L[d] = L[d]! >>> (code[i + 2]! & 31);
        H[d] = 0;
        break;
      case 0x7c:
        L[d] = L[d]! >>> (L[s]! & 31);
        H[d] = 0;
        break;
      case 0x84:
        L[d] = -L[d]!;
        H[d] = 0;
        break;
      case 0x94: {
        const b = code[i + 2]! >>> 0;
        if (b !== 0) L[d] = (L[d]! >>> 0) % b;
        H[d] = 0;
        break;
      }
      case 0x9c: {
        const b = L[s]! >>> 0;
        if (b !== 0) L[d] = (L[d]! >>> 0) % b;
        H[d] = 0;
        break;
      }
      case 0xa4:
        L[d] = L[d]! ^ code[i + 2]!;
        H[d] = 0;
        break;
      case 0xac:
        L[d] = L[d]! ^ L[s]!;
        H[d] = 0;
        break;
      case 0xb4:
        L[d] = code[i + 2]!;
        H[d] = 0;
        break;
      case 0xbc:
        L[d] = L[s]!;
        H[d] = 0;
        break;
      case 0xc4:
        L[d] = L[d]! >> (code[i + 2]! & 31);
        H[d] = 0;
        break;
      case 0xcc:
        L[d] = L[d]! >> (L[s]! & 31);
        H[d] = 0;
        break;
      case 0xd4: {
        // to little-endian: a truncation on this little-endian machine model
        const width = code[i + 2]!;
        if (width === 16) {
          L[d] = L[d]! & 0xffff;
          H[d] = 0;
        } else if (width === 32) H[d] = 0;
        break;
      }
      case 0xdc:
      case 0xd7:
        swap(L, H, d, code[i + 2]!);
        break;
      case 0x134:
        L[d] = sdiv32(L[d]!, code[i + 2]!, false);
        H[d] = 0;
        break;
      case 0x13c:
        L[d] = sdiv32(L[d]!, L[s]!, false);
        H[d] = 0;
        break;
      case 0x194:
        L[d] = sdiv32(L[d]!, code[i + 2]!, true);
        H[d] = 0;
        break;
      case 0x19c:
        L[d] = sdiv32(L[d]!, L[s]!, true);
        H[d] = 0;
        break;
      case 0x1bc: {
        const sh = code[i + 3]!;
        L[d] = (L[s]! << sh) >> sh;
        H[d] = 0;
        break;
      }

      // ---- ALU, 64-bit: immediates are sign-extended ----
      // 64-bit add and subtract in 32-bit halves; the carry is an unsigned compare of the low halves.
      case 0x07: {
        const k = code[i + 2]!;
        const a = L[d]!;
        const lo = (a + k) | 0;
        H[d] = (H[d]! + (k >> 31) + (lo >>> 0 < a >>> 0 ? 1 : 0)) | 0;
        L[d] = lo;
        break;
      }
      case 0x0f: {
        const a = L[d]!;
        const lo = (a + L[s]!) | 0;
        H[d] = (H[d]! + H[s]! + (lo >>> 0 < a >>> 0 ? 1 : 0)) | 0;
        L[d] = lo;
        break;
      }
      case 0x17: {
        const k = code[i + 2]!;
        const a = L[d]!;
        H[d] = (H[d]! - (k >> 31) - (a >>> 0 < k >>> 0 ? 1 : 0)) | 0;
        L[d] = (a - k) | 0;
        break;
      }
      case 0x1f: {
        const a = L[d]!;
        const b = L[s]!;
        H[d] = (H[d]! - H[s]! - (a >>> 0 < b >>> 0 ? 1 : 0)) | 0;
        L[d] = (a - b) | 0;
        break;
      }
      case 0x27: {
        const k = code[i + 2]!;
        mul64(L, H, d, k, k >> 31);
        break;
      }
      case 0x2f:
        mul64(L, H, d, L[s]!, H[s]!);
        break;
      case 0x37: {
        const k = code[i + 2]!;
        udiv64(L, H, d, k, k >> 31, false);
        break;
      }
      case 0x3f:
        udiv64(L, H, d, L[s]!, H[s]!, false);
        break;
      case 0x97: {
        const k = code[i + 2]!;
        udiv64(L, H, d, k, k >> 31, true);
        break;
      }
      case 0x9f:
        udiv64(L, H, d, L[s]!, H[s]!, true);
        break;
      case 0x137: {
        const k = code[i + 2]!;
        sdiv64(L, H, d, k, k >> 31, false);
        break;
      }
      case 0x13f:
        sdiv64(L, H, d, L[s]!, H[s]!, false);
        break;
      case 0x197: {
        const k = code[i + 2]!;
        sdiv64(L, H, d, k, k >> 31, true);
        break;
      }
      case 0x19f:
        sdiv64(L, H, d, L[s]!, H[s]!, true);
        break;
      case 0x47: {
        const k = code[i + 2]!;
        L[d] = L[d]! | k;
        H[d] = H[d]! | (k >> 31);
        break;
      }
      case 0x4f:
        L[d] = L[d]! | L[s]!;
        H[d] = H[d]! | H[s]!;
        break;
      case 0x57: {
        const k = code[i + 2]!;
        L[d] = L[d]! & k;
        H[d] = H[d]! & (k >> 31);
        break;
      }
      case 0x5f:
        L[d] = L[d]! & L[s]!;
        H[d] = H[d]! & H[s]!;
        break;
      case 0x67:
        shl64(L, H, d, code[i + 2]! & 63);
        break;
      case 0x6f:
        shl64(L, H, d, L[s]! & 63);
        break;
      case 0x77:
        shr64(L, H, d, code[i + 2]! & 63);
        break;
      case 0x7f:
        shr64(L, H, d, L[s]! & 63);
        break;
      case 0xc7:
        sar64(L, H, d, code[i + 2]! & 63);
        break;
      case 0xcf:
        sar64(L, H, d, L[s]! & 63);
        break;
      case 0x87: {
        const lo = L[d]!;
        L[d] = -lo;
        H[d] = ~H[d]! + (lo === 0 ? 1 : 0);
        break;
      }
      case 0xa7: {
        const k = code[i + 2]!;
        L[d] = L[d]! ^ k;
        H[d] = H[d]! ^ (k >> 31);
        break;
      }
      case 0xaf:
        L[d] = L[d]! ^ L[s]!;
        H[d] = H[d]! ^ H[s]!;
        break;
      case 0xb7: {
        const k = code[i + 2]!;
        L[d] = k;
        H[d] = k >> 31;
        break;
      }
      case 0xbf:
        L[d] = L[s]!;
        H[d] = H[s]!;
        break;
      case 0x1bf: {
        const sh = code[i + 3]!;
        const lo = sh === 0 ? L[s]! : (L[s]! << sh) >> sh;
        L[d] = lo;
        H[d] = lo >> 31;
        break;
      }

      // ---- jumps, 64-bit compares ----
      case 0x05:
        pc = code[i + 3]!;
        break;
      case 0x15: {
        const k = code[i + 2]!;
        if (L[d] === k && H[d] === k >> 31) pc = code[i + 3]!;
        break;
      }
      case 0x1d:
        if (L[d] === L[s] && H[d] === H[s]) pc = code[i + 3]!;
        break;
      case 0x55: {
        const k = code[i + 2]!;
        if (L[d] !== k || H[d] !== k >> 31) pc = code[i + 3]!;
        break;
      }
      case 0x5d:
        if (L[d] !== L[s] || H[d] !== H[s]) pc = code[i + 3]!;
        break;
      case 0x45: {
        const k = code[i + 2]!;
        if ((L[d]! & k) !== 0 || (H[d]! & (k >> 31)) !== 0) pc = code[i + 3]!;
        break;
      }
      case 0x4d:
        if ((L[d]! & L[s]!) !== 0 || (H[d]! & H[s]!) !== 0) pc = code[i + 3]!;
        break;
      case 0x25: {
        const k = code[i + 2]!;
        const ah = H[d]! >>> 0;
        const bh = (k >> 31) >>> 0;
        if (ah > bh || (ah === bh && L[d]! >>> 0 > k >>> 0)) pc = code[i + 3]!;
        break;
      }
      case 0x2d: {
        const ah = H[d]! >>> 0;
        const bh = H[s]! >>> 0;
        if (ah > bh || (ah === bh && L[d]! >>> 0 > L[s]! >>> 0)) pc = code[i + 3]!;
        break;
      }
      case 0x35: {
        const k = code[i + 2]!;
        const ah = H[d]! >>> 0;
        const bh = (k >> 31) >>> 0;
        if (ah > bh || (ah === bh && L[d]! >>> 0 >= k >>> 0)) pc = code[i + 3]!;
        break;
      }
      case 0x3d: {
        const ah = H[d]! >>> 0;
        const bh = H[s]! >>> 0;
        if (ah > bh || (ah === bh && L[d]! >>> 0 >= L[s]! >>> 0)) pc = code[i + 3]!;
        break;
      }
      case 0xa5: {
        const k = code[i + 2]!;
        const ah = H[d]! >>> 0;
        const bh = (k >> 31) >>> 0;
        if (ah < bh || (ah === bh && L[d]! >>> 0 < k >>> 0)) pc = code[i + 3]!;
        break;
      }
      case 0xad: {
        const ah = H[d]! >>> 0;
        const bh = H[s]! >>> 0;
        if (ah < bh || (ah === bh && L[d]! >>> 0 < L[s]! >>> 0)) pc = code[i + 3]!;
        break;
      }
      case 0xb5: {
        const k = code[i + 2]!;
        const ah = H[d]! >>> 0;
        const bh = (k >> 31) >>> 0;
        if (ah < bh || (ah === bh && L[d]! >>> 0 <= k >>> 0)) pc = code[i + 3]!;
        break;
      }
      case 0xbd: {
        const ah = H[d]! >>> 0;
        const bh = H[s]! >>> 0;
        if (ah < bh || (ah === bh && L[d]! >>> 0 <= L[s]! >>> 0)) pc = code[i + 3]!;
        break;
      }
      case 0x65: {
        const k = code[i + 2]!;
        const ah = H[d]!;
        const bh = k >> 31;
        if (ah > bh || (ah === bh && L[d]! >>> 0 > k >>> 0)) pc = code[i + 3]!;
        break;
      }
      case 0x6d: {
        const ah = H[d]!;
        const bh = H[s]!;
        if (ah > bh || (ah === bh && L[d]! >>> 0 > L[s]! >>> 0)) pc = code[i + 3]!;
        break;
      }
      case 0x75: {
        const k = code[i + 2]!;
        const ah = H[d]!;
        const bh = k >> 31;
        if (ah > bh || (ah === bh && L[d]! >>> 0 >= k >>> 0)) pc = code[i + 3]!;
        break;
      }
      case 0x7d: {
        const ah = H[d]!;
        const bh = H[s]!;
        if (ah > bh || (ah === bh && L[d]! >>> 0 >= L[s]! >>> 0)) pc = code[i + 3]!;
        break;
      }
      case 0xc5: {
        const k = code[i + 2]!;
        const ah = H[d]!;
        const bh = k >> 31;
        if (ah < bh || (ah === bh && L[d]! >>> 0 < k >>> 0)) pc = code[i + 3]!;
        break;
      }
      case 0xcd: {
        const ah = H[d]!;
        const bh = H[s]!;
        if (ah < bh || (ah === bh && L[d]! >>> 0 < L[s]! >>> 0)) pc = code[i + 3]!;
        break;
      }
      case 0xd5: {
        const k = code[i + 2]!;
        const ah = H[d]!;
        const bh = k >> 31;
        if (ah < bh || (ah === bh && L[d]! >>> 0 <= k >>> 0)) pc = code[i + 3]!;
        break;
      }
      case 0xdd: {
        const ah = H[d]!;
        const bh = H[s]!;
        if (ah < bh || (ah === bh && L[d]! >>> 0 <= L[s]! >>> 0)) pc = code[i + 3]!;
        break;
      }

      // ---- jumps, 32-bit compares ----
      case 0x16:
        if (L[d] === code[i + 2]) pc = code[i + 3]!;
        break;
      case 0x1e:
        if (L[d] === L[s]) pc = code[i + 3]!;
        break;
      case 0x56:
        if (L[d] !== code[i + 2]) pc = code[i + 3]!;
        break;
      case 0x5e:
        if (L[d] !== L[s]) pc = code[i + 3]!;
        break;
      case 0x46:
        if ((L[d]! & code[i + 2]!) !== 0) pc = code[i + 3]!;
        break;
      case 0x4e:
        if ((L[d]! & L[s]!) !== 0) pc = code[i + 3]!;
        break;
      case 0x26:
        if (L[d]! >>> 0 > code[i + 2]! >>> 0) pc = code[i + 3]!;
        break;
      case 0x2e:
        if (L[d]! >>> 0 > L[s]! >>> 0) pc = code[i + 3]!;
        break;
      case 0x36:
        if (L[d]! >>> 0 >= code[i + 2]! >>> 0) pc = code[i + 3]!;
        break;
      case 0x3e:
        if (L[d]! >>> 0 >= L[s]! >>> 0) pc = code[i + 3]!;
        break;
      case 0xa6:
        if (L[d]! >>> 0 < code[i + 2]! >>> 0) pc = code[i + 3]!;
        break;
      case 0xae:
        if (L[d]! >>> 0 < L[s]! >>> 0) pc = code[i + 3]!;
        break;
      case 0xb6:
        if (L[d]! >>> 0 <= code[i + 2]! >>> 0) pc = code[i + 3]!;
        break;
      case 0xbe:
        if (L[d]! >>> 0 <= L[s]! >>> 0) pc = code[i + 3]!;
        break;
      case 0x66:
        if (L[d]! > code[i + 2]!) pc = code[i + 3]!;
        break;
      case 0x6e:
        if (L[d]! > L[s]!) pc = code[i + 3]!;
        break;
      case 0x76:
        if (L[d]! >= code[i + 2]!) pc = code[i + 3]!;
        break;
      case 0x7e:
        if (L[d]! >= L[s]!) pc = code[i + 3]!;
        break;
      case 0xc6:
        if (L[d]! < code[i + 2]!) pc = code[i + 3]!;
        break;
      case 0xce:
        if (L[d]! < L[s]!) pc = code[i + 3]!;
        break;
      case 0xd6:
        if (L[d]! <= code[i + 2]!) pc = code[i + 3]!;
        break;
      case 0xde:
        if (L[d]! <= L[s]!) pc = code[i + 3]!;
        break;

      // ---- calls and exit ----
      case 0x85:
      case 0x8d: {
        const id = (w & 0xffff) === 0x85 ? code[i + 2]! : L[d]!;
        m.steps += n;
        n = 0;
        frame.prog = prog;
        frame.pc = p;
        m.depth = baseDepth + depth;
        m.callHelper(id, frame);
        limit = Math.min(budget - m.steps, STEP_CHUNK);
        dv = mem.dv;
        u8 = mem.u8;
        const next = m.tail;
        if (next !== undefined) {
          m.tail = undefined;
          prog = next;
          code = prog.code;
          cLo = prog.cacheLo;
          cHi = prog.cacheHi;
          pc = 0;
        }
        if (prog.cacheEpoch !== table.epoch) {
          cLo.fill(0);
          cHi.fill(0);
          prog.cacheEpoch = table.epoch;
        }
        break;
      }
      case 0x285:
        m.steps += n;
        throw new VmCallError(site(prog, p), `kfunc call (BTF id ${code[i + 2]!}) reached: kernel functions are not available in the VM`);
      case 0x185: {
        if (baseDepth + depth + 1 >= MAX_CALL_DEPTH) {
          m.steps += n;
          throw new VmCallError(site(prog, p), `call depth exceeds ${MAX_CALL_DEPTH} frames`);
        }
        const f = depth * 10;
        saved[f] = pc;
        saved[f + 1] = L[6]!;
        saved[f + 2] = H[6]!;
        saved[f + 3] = L[7]!;
        saved[f + 4] = H[7]!;
        saved[f + 5] = L[8]!;
        saved[f + 6] = H[8]!;
        saved[f + 7] = L[9]!;
        saved[f + 8] = H[9]!;
        saved[f + 9] = L[10]!;
        savedProg[depth] = prog;
        depth++;
        L[10] = L[10]! - STACK_SIZE;
        pc = code[i + 3]!;
        break;
      }
      case 0x95: {
        if (depth === 0) {
          m.steps += n;
          return;
        }
        depth--;
        const f = depth * 10;
        pc = saved[f]!;
        L[6] = saved[f + 1]!;
        H[6] = saved[f + 2]!;
        L[7] = saved[f + 3]!;
        H[7] = saved[f + 4]!;
        L[8] = saved[f + 5]!;
        H[8] = saved[f + 6]!;
        L[9] = saved[f + 7]!;
        H[9] = saved[f + 8]!;
        L[10] = saved[f + 9]!;
        H[10] = 0;
        const back = savedProg[depth]!;
        if (back !== prog) {
          prog = back;
          code = prog.code;
          cLo = prog.cacheLo;
          cHi = prog.cacheHi;
          if (prog.cacheEpoch !== table.epoch) {
            cLo.fill(0);
            cHi.fill(0);
            prog.cacheEpoch = table.epoch;
          }
        }
        break;
      }

      // ---- LDDW (pseudo sources resolved at load) ----
      case 0x18:
        L[d] = code[i + 2]!;
        H[d] = code[i + 3]!;
        pc++;
        break;

      // ---- loads ----
      case 0x61: {
        let a = L[s]! + code[i + 1]!;
        if (H[s] !== 0 || a < cLo[p]! || a + 4 > cHi[p]!) a = miss(m, prog, p, L[s]!, H[s]!, code[i + 1]!, 4, false);
        L[d] = dv.getInt32(a, true);
        H[d] = 0;
        break;
      }
      case 0x69: {
        let a = L[s]! + code[i + 1]!;
        if (H[s] !== 0 || a < cLo[p]! || a + 2 > cHi[p]!) a = miss(m, prog, p, L[s]!, H[s]!, code[i + 1]!, 2, false);
        L[d] = dv.getUint16(a, true);
        H[d] = 0;
        break;
      }
      case 0x71: {
        let a = L[s]! + code[i + 1]!;
        if (H[s] !== 0 || a < cLo[p]! || a + 1 > cHi[p]!) a = miss(m, prog, p, L[s]!, H[s]!, code[i + 1]!, 1, false);
        L[d] = u8[a]!;
        H[d] = 0;
        break;
      }
      case 0x79: {
        let a = L[s]! + code[i + 1]!;
        if (H[s] !== 0 || a < cLo[p]! || a + 8 > cHi[p]!) a = miss(m, prog, p, L[s]!, H[s]!, code[i + 1]!, 8, false);
        L[d] = dv.getInt32(a, true);
        H[d] = dv.getInt32(a + 4, true);
        break;
      }
      case 0x81: {
        let a = L[s]! + code[i + 1]!;
        if (H[s] !== 0 || a < cLo[p]! || a + 4 > cHi[p]!) a = miss(m, prog, p, L[s]!, H[s]!, code[i + 1]!, 4, false);
        const v = dv.getInt32(a, true);
        L[d] = v;
        H[d] = v >> 31;
        break;
      }
      case 0x89: {
        let a = L[s]! + code[i + 1]!;
        if (H[s] !== 0 || a < cLo[p]! || a + 2 > cHi[p]!) a = miss(m, prog, p, L[s]!, H[s]!, code[i + 1]!, 2, false);
        const v = dv.getInt16(a, true);
        L[d] = v;
        H[d] = v >> 31;
        break;
      }
      case 0x91: {
        let a = L[s]! + code[i + 1]!;
        if (H[s] !== 0 || a < cLo[p]! || a + 1 > cHi[p]!) a = miss(m, prog, p, L[s]!, H[s]!, code[i + 1]!, 1, false);
        const v = dv.getInt8(a);
        L[d] = v;
        H[d] = v >> 31;
        break;
      }

      // ---- stores ----
      case 0x62: {
        let a = L[d]! + code[i + 1]!;
        if (H[d] !== 0 || a < cLo[p]! || a + 4 > cHi[p]!) a = miss(m, prog, p, L[d]!, H[d]!, code[i + 1]!, 4, true);
        dv.setInt32(a, code[i + 2]!, true);
        break;
      }
      case 0x6a: {
        let a = L[d]! + code[i + 1]!;
        if (H[d] !== 0 || a < cLo[p]! || a + 2 > cHi[p]!) a = miss(m, prog, p, L[d]!, H[d]!, code[i + 1]!, 2, true);
        dv.setInt16(a, code[i + 2]!, true);
        break;
      }
      case 0x72: {
        let a = L[d]! + code[i + 1]!;
        if (H[d] !== 0 || a < cLo[p]! || a + 1 > cHi[p]!) a = miss(m, prog, p, L[d]!, H[d]!, code[i + 1]!, 1, true);
        u8[a] = code[i + 2]!;
        break;
      }
      case 0x7a: {
        let a = L[d]! + code[i + 1]!;
        if (H[d] !== 0 || a < cLo[p]! || a + 8 > cHi[p]!) a = miss(m, prog, p, L[d]!, H[d]!, code[i + 1]!, 8, true);
        const k = code[i + 2]!;
        dv.setInt32(a, k, true);
        dv.setInt32(a + 4, k >> 31, true);
        break;
      }
      case 0x63: {
        let a = L[d]! + code[i + 1]!;
        if (H[d] !== 0 || a < cLo[p]! || a + 4 > cHi[p]!) a = miss(m, prog, p, L[d]!, H[d]!, code[i + 1]!, 4, true);
        dv.setInt32(a, L[s]!, true);
        break;
      }
      case 0x6b: {
        let a = L[d]! + code[i + 1]!;
        if (H[d] !== 0 || a < cLo[p]! || a + 2 > cHi[p]!) a = miss(m, prog, p, L[d]!, H[d]!, code[i + 1]!, 2, true);
        dv.setInt16(a, L[s]!, true);
        break;
      }
      case 0x73: {
        let a = L[d]! + code[i + 1]!;
        if (H[d] !== 0 || a < cLo[p]! || a + 1 > cHi[p]!) a = miss(m, prog, p, L[d]!, H[d]!, code[i + 1]!, 1, true);
        u8[a] = L[s]!;
        break;
      }
      case 0x7b: {
        let a = L[d]! + code[i + 1]!;
        if (H[d] !== 0 || a < cLo[p]! || a + 8 > cHi[p]!) a = miss(m, prog, p, L[d]!, H[d]!, code[i + 1]!, 8, true);
        dv.setInt32(a, L[s]!, true);
        dv.setInt32(a + 4, H[s]!, true);
        break;
      }
      case 0xc3:
        atomic(m, prog, p, L, H, d, s, code[i + 1]!, code[i + 2]!, false);
        break;
      case 0xdb:
        atomic(m, prog, p, L, H, d, s, code[i + 1]!, code[i + 2]!, true);
        break;

      // ---- legacy packet loads (network byte order); out of bounds ends the program with r0 = 0 ----
      case 0x20:
      case 0x28:
      case 0x30:
      case 0x40:
      case 0x48:
      case 0x50: {
        const op = w & 0xff;
        const size = (op & 0x18) === 0 ? 4 : (op & 0x18) === 0x08 ? 2 : 1;
        const offset = op >= 0x40 ? (L[s]! + code[i + 2]!) | 0 : code[i + 2]!;
        frame.prog = prog;
        frame.pc = p;
        const v = m.loadPacket(offset, size, frame);
        if (v < 0) {
          m.steps += n;
          throw new ProgramAbort(`packet load of ${size} bytes at offset ${offset} is out of bounds`);
        }
        L[0] = v;
        H[0] = 0;
        break;
      }

      default:
        m.steps += n;
        throw new VmCallError(site(prog, p), `unknown opcode 0x${(w & 0xff).toString(16)}`);
    }
  }
}
