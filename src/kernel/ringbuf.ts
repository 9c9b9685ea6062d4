/**
 * Ring buffer reader (BPF_MAP_TYPE_RINGBUF): the consumer side of the
 * kernel's single-producer-position, multi-producer ring, read straight from
 * mmap'ed memory.
 *
 * Layout (kernel/bpf/ringbuf.c): page 0 holds consumer_pos (we write it);
 * page 1 producer_pos (the kernel writes it); then the data pages, mapped
 * twice in a row so a record never wraps. Each record starts with an 8-byte
 * header: a u32 length with BUSY (bit 31: being written) and DISCARD (bit 30:
 * dropped by the program) flags, and a u32 page offset; records are 8-byte
 * aligned. The consumer reads records in order up to the first BUSY one,
 * skips discarded ones, and publishes consumer_pos after each record so the
 * kernel can reuse the space.
 */
import { MapType } from '../ebpf/types.js';
import { UsageError } from '../errors.js';
import { kernelError } from './errors.js';
import type { KernelMap } from './map.js';
import { Epoll, PollLoop, RecordQueue, type PollOptions } from './poll-loop.js';
import * as sys from './sys.js';

const BUSY = 0x80000000;
const DISCARD = 0x40000000;
const HDR = 8;
const PAGE = 4096;
/**
 * On x86-64 (total store order) plain loads and stores of the positions and
 * headers have the acquire/release ordering the protocol needs, and V8 keeps
 * typed-array accesses in program order; they cost a few ns against ~100 ns
 * for Atomics on an external buffer. Elsewhere, Atomics.
 */
const PLAIN_LOADS = process.arch === 'x64';

export interface RingBufOptions extends PollOptions {
  /** Queue this many records for an async iterator before pausing (default 4096). */
  highWater?: number;
}

/** Reads records from a ring buffer map. */
export class RingBufReader implements AsyncIterable<Uint8Array> {
  readonly size: number;
  #consumerAddr = 0;
  #producerAddr = 0;
  #producerLen: number;
  #cons32: Uint32Array;
  #cons64: BigUint64Array;
  #prod32: Uint32Array;
  #data: Uint8Array;
  #data32: Int32Array;
  #epoll: Epoll;
  #loop: PollLoop;
  #queue: RecordQueue<Uint8Array> | undefined;
  #listener: ((rec: Uint8Array) => void) | undefined;
  #closed = false;
  /** Records skipped because the program discarded them. */
  discarded = 0;
  /** Records delivered. */
  delivered = 0;
  readonly #options: RingBufOptions;

  constructor(
    readonly map: KernelMap,
    options: RingBufOptions = {},
  ) {
    if (map.spec.type !== MapType.RINGBUF) throw new UsageError(`map "${map.name}" is not a ring buffer`);
    this.#options = options;
    this.size = map.spec.maxEntries;
    this.#producerLen = PAGE + 2 * this.size;
    const cons = sys.mmap(PAGE, sys.PROT_READ | sys.PROT_WRITE, sys.MAP_SHARED, map.fd, 0);
    if (cons < 0) throw kernelError('ringbuf mmap', -cons, `map "${map.name}"`);
    this.#consumerAddr = cons;
    try {
      const prod = sys.mmap(this.#producerLen, sys.PROT_READ, sys.MAP_SHARED, map.fd, PAGE);
      if (prod < 0) throw kernelError('ringbuf mmap', -prod, `map "${map.name}"`);
      this.#producerAddr = prod;
      const consBuf = sys.viewAt(cons, PAGE);
      this.#cons32 = new Uint32Array(consBuf, 0, 2);
      this.#cons64 = new BigUint64Array(consBuf, 0, 1);
      const prodBuf = sys.viewAt(prod, this.#producerLen);
      this.#prod32 = new Uint32Array(prodBuf, 0, 2);
      this.#data = new Uint8Array(prodBuf, PAGE, 2 * this.size);
      this.#data32 = new Int32Array(prodBuf, PAGE, (2 * this.size) / 4);
      this.#epoll = new Epoll([map.fd], `ringbuf ${map.name}`);
    } catch (err) {
      this.unmap();
      throw err;
    }
    this.#loop = new PollLoop(() => this.step(), this.#epoll, options);
  }

  private unmap(): void {
    if (this.#producerAddr) sys.munmap(this.#producerAddr, this.#producerLen);
    if (this.#consumerAddr) sys.munmap(this.#consumerAddr, PAGE);
    this.#producerAddr = 0;
    this.#consumerAddr = 0;
  }

  private static load64(a: Uint32Array): number {
    if (PLAIN_LOADS) {
      for (;;) {
        const hi = a[1]!;
        const lo = a[0]!;
        if (a[1] === hi) return hi * 0x1_0000_0000 + lo;
      }
    }
    for (;;) {
      const hi = Atomics.load(a, 1);
      const lo = Atomics.load(a, 0);
      if (Atomics.load(a, 1) === hi) return hi * 0x1_0000_0000 + lo;
    }
  }

  /** Store consumer_pos as one 64-bit write: the kernel must never see half of it. */
  private publish(cons: number): void {
    if (PLAIN_LOADS) this.#cons64[0] = BigInt(cons);
    else Atomics.store(this.#cons64, 0, BigInt(cons));
  }

  /** Bytes produced and not yet consumed. */
  get pending(): number {
    if (this.#closed) return 0;
    return RingBufReader.load64(this.#prod32) - RingBufReader.load64(this.#cons32);
  }

  /**
   * Consume what is in the ring now, calling `onRecord(data, offset, length)`
   * for each record: its bytes are `data[offset .. offset + length)`, a view
   * of the ring itself, valid only during the call (copy what you keep). No
   * allocation per record: the zero-copy path, like libbpf's callback.
   * Never blocks. Returns the number of records delivered.
   */
  drain(onRecord: (data: Uint8Array, offset: number, length: number) => void, max = Infinity): number {
    if (this.#closed) throw new UsageError('ring buffer reader is closed');
    let cons = RingBufReader.load64(this.#cons32);
    let prod = RingBufReader.load64(this.#prod32);
    const data = this.#data;
    const hdr = this.#data32;
    const size = this.size;
    let n = 0;
    let unpublished = 0;
    // The offset in the data area, kept beside the 64-bit position: no float modulo per record.
    let off = cons % size;
    while (n < max) {
      if (cons >= prod) {
        prod = RingBufReader.load64(this.#prod32);
        if (cons >= prod) break;
      }
      const len = (PLAIN_LOADS ? hdr[off >> 2]! : Atomics.load(hdr, off >> 2)) >>> 0;
      if (len & BUSY) break;
      const length = len & ~(BUSY | DISCARD);
      const step = (length + HDR + 7) & ~7;
      if (len & DISCARD) {
        this.discarded++;
      } else {
        onRecord(data, off + HDR, length);
        n++;
      }
      cons += step;
      off += step;
      if (off >= size) off -= size;
      // Give the space back to the kernel regularly, not only at the end.
      if (++unpublished === 256) {
        this.publish(cons);
        unpublished = 0;
      }
    }
    if (unpublished) this.publish(cons);
    this.delivered += n;
    return n;
  }

  /** Copies of every record in the ring now. */
  read(max = Infinity): Uint8Array[] {
    const out: Uint8Array[] = [];
    this.drain((d, o, l) => out.push(d.slice(o, o + l)), max);
    return out;
  }

  private step(): number {
    if (this.#closed) return 0;
    const listener = this.#listener;
    if (listener) return this.drain((d, o, l) => listener(d.slice(o, o + l)));
    const q = this.#queue;
    if (!q) return 0;
    return this.drain((d, o, l) => q.push(d.slice(o, o + l)));
  }

  /** Deliver records (copies) to `onRecord` as they come, on the event loop. */
  start(onRecord: (rec: Uint8Array) => void): void {
    this.#listener = onRecord;
    this.#loop.start();
  }

  stop(): void {
    this.#loop.stop();
    this.#listener = undefined;
  }

  /** Records as they come (copies); the iteration ends when the reader is closed. */
  [Symbol.asyncIterator](): AsyncIterator<Uint8Array> {
    if (!this.#queue) {
      this.#queue = new RecordQueue<Uint8Array>(
        () => this.#loop.start(),
        () => this.#loop.stop(),
        this.#options.highWater,
      );
    }
    return this.#queue[Symbol.asyncIterator]();
  }

  close(): void {
    if (this.#closed) return;
    this.#loop.stop();
    this.#closed = true;
    this.#queue?.end();
    this.#epoll.close();
    this.unmap();
  }
}
