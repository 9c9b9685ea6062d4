/**
 * The VM's linear memory: the buffer of one WebAssembly.Memory, holding the
 * stack frames, contexts, packet data, map values and globals (DESIGN.md §3).
 * A pointer in a register is a byte offset into this buffer, so a later
 * WebAssembly JIT can import the same memory and use the same pointers.
 *
 * Layout: the first 64 KiB are never allocated (null and small integers fault;
 * map handles are addresses in that window, see MAP_HANDLE_BASE). Above it a
 * simple first-fit allocator hands out 16-byte aligned blocks, each followed
 * by an unmapped guard gap, growing the memory as needed. Addresses stay below 2^31 so that they are small integers
 * for the JavaScript engine.
 */
import { RegionTable } from './regions.js';
import { VmUsageError } from './errors.js';

const PAGE = 65536;
/** Nothing is ever allocated below this address. */
export const NULL_GUARD = 0x10000;
/** Map handles (what LDDW of a map puts in a register) are MAP_HANDLE_BASE + 16 * map id. */
export const MAP_HANDLE_BASE = 0x1000;
export const MAP_HANDLE_STRIDE = 16;
export const MAX_MAP_HANDLES = (NULL_GUARD - MAP_HANDLE_BASE) / MAP_HANDLE_STRIDE;
/** Largest memory the VM will grow to (addresses must stay below 2^31). */
export const MAX_MEMORY = 0x8000_0000 - PAGE;

const ALIGN = 16;
/**
 * Unmapped bytes after every block, so that a program running past the end of
 * one object (a packet, a map's values) faults instead of reaching the next.
 */
export const GUARD_GAP = 4096;

/** The part of WebAssembly.Memory the VM uses (typed here: the project's TypeScript lib has no WebAssembly types). */
export interface WasmMemory {
  readonly buffer: ArrayBuffer;
  grow(pages: number): number;
}
type WasmMemoryConstructor = new (descriptor: { initial: number; maximum?: number }) => WasmMemory;
/** WebAssembly.Memory, looked up when used (a V8 start-up snapshot is built without WebAssembly). */
const wasmMemoryCtor = (): WasmMemoryConstructor => (globalThis as unknown as { WebAssembly: { Memory: WasmMemoryConstructor } }).WebAssembly.Memory;

export interface MemoryOptions {
  /** Initial size in bytes (rounded up to 64 KiB pages); default 1 MiB. */
  initial?: number;
  /** Maximum size in bytes; default 1 GiB, at most 2 GiB - 64 KiB. */
  maximum?: number;
}

export class VmMemory {
  readonly memory: WasmMemory;
  readonly regions = new RegionTable();
  /** Views of the current buffer; refreshed when the memory grows. */
  u8!: Uint8Array;
  dv!: DataView;
  private readonly maxPages: number;
  /** Free blocks [start, size], sorted by start, coalesced. */
  private readonly free: Array<[number, number]> = [];
  private readonly sizes = new Map<number, number>();
  private top = NULL_GUARD;

  constructor(options: MemoryOptions = {}) {
    const max = options.maximum ?? 1 << 30;
    if (!(max >= PAGE * 2 && max <= MAX_MEMORY)) {
      throw new VmUsageError(`memory maximum must be between 128 KiB and ${MAX_MEMORY} bytes`);
    }
    this.maxPages = Math.floor(max / PAGE);
    const initial = Math.min(this.maxPages, Math.max(2, Math.ceil((options.initial ?? 1 << 20) / PAGE)));
    this.memory = new (wasmMemoryCtor())({ initial, maximum: this.maxPages });
    this.refresh();
  }

  get size(): number {
    return this.memory.buffer.byteLength;
  }

  /** Re-take the views after the buffer changed (it does when the memory grows). */
  refresh(): void {
    const buf = this.memory.buffer;
    if (this.u8?.buffer !== buf) {
      this.u8 = new Uint8Array(buf);
      this.dv = new DataView(buf);
    }
  }

  /** Allocate `size` zeroed bytes, 16-byte aligned, followed by a guard gap. Throws VmUsageError (ENOMEM-like) when the memory is full. */
  alloc(size: number): number {
    const want = Math.max(ALIGN, Math.ceil(size / ALIGN) * ALIGN) + GUARD_GAP;
    for (let i = 0; i < this.free.length; i++) {
      const [start, len] = this.free[i]!;
      if (len >= want) {
        if (len === want) this.free.splice(i, 1);
        else this.free[i] = [start + want, len - want];
        this.sizes.set(start, want);
        this.u8.fill(0, start, start + want);
        return start;
      }
    }
    const start = this.top;
    const end = start + want;
    if (end > this.size) {
      const pages = Math.ceil((end - this.size) / PAGE);
      if (this.size / PAGE + pages > this.maxPages) {
        throw new VmUsageError(`VM memory exhausted: ${want} more bytes needed, maximum is ${this.maxPages * PAGE}`);
      }
      // Grow by at least a quarter, so that many small allocations do not grow page by page.
      const extra = Math.min(this.maxPages - this.size / PAGE, Math.max(pages, Math.ceil(this.size / PAGE / 4)));
      this.memory.grow(extra);
      this.refresh();
    }
    this.top = end;
    this.sizes.set(start, want);
    this.u8.fill(0, start, end);
    return start;
  }

  /** Return a block from `alloc`. */
  release(start: number): void {
    const len = this.sizes.get(start);
    if (len === undefined) throw new RangeError(`release of 0x${start.toString(16)}, which is not an allocated block`);
    this.sizes.delete(start);
    let lo = 0;
    let hi = this.free.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (this.free[mid]![0] < start) lo = mid + 1;
      else hi = mid;
    }
    this.free.splice(lo, 0, [start, len]);
    // Coalesce with the neighbours.
    const next = this.free[lo + 1];
    if (next && start + len === next[0]) {
      this.free[lo]![1] += next[1];
      this.free.splice(lo + 1, 1);
    }
    const prev = this.free[lo - 1];
    if (prev && prev[0] + prev[1] === start) {
      prev[1] += this.free[lo]![1];
      this.free.splice(lo, 1);
    }
    // Give the tail back to the bump pointer.
    const last = this.free[this.free.length - 1];
    if (last && last[0] + last[1] === this.top) {
      this.top = last[0];
      this.free.pop();
    }
  }

  /** A copy of `length` bytes at `address` (unchecked: for the VM's own structures). */
  read(address: number, length: number): Uint8Array {
    return this.u8.slice(address, address + length);
  }

  /** Write bytes at `address` (unchecked: for the VM's own structures). */
  write(address: number, bytes: Uint8Array): void {
    this.u8.set(bytes, address);
  }
}
