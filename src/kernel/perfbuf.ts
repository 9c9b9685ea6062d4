/**
 * Perf event buffer reader (BPF_MAP_TYPE_PERF_EVENT_ARRAY): one perf ring per
 * online CPU, each a PERF_COUNT_SW_BPF_OUTPUT event whose fd is stored in the
 * map at the CPU's index, so bpf_perf_event_output(ctx, map,
 * BPF_F_CURRENT_CPU, ...) lands in the ring of the CPU the program runs on.
 *
 * A ring is mmap'ed as one control page (struct perf_event_mmap_page:
 * data_head written by the kernel, data_tail by us) and 2^n data pages.
 * Records are `struct perf_event_header` + body: PERF_RECORD_SAMPLE carries
 * a u32 size and the raw bytes; PERF_RECORD_LOST the number of samples the
 * kernel dropped because the ring was full. Records may wrap around the end
 * of the data area; those are copied out in two parts.
 */
import { MapType } from '../ebpf/types.js';
import { UsageError } from '../errors.js';
import { onlineCpus } from './cpus.js';
import { kernelError } from './errors.js';
import type { Fd } from './fd.js';
import type { KernelMap } from './map.js';
import { PerfEventMmapPage, PerfIoctl, PerfRecord, PerfSample, PerfSwConfig, PerfType, perfEventOpen, perfIoctl } from './perf-event.js';
import { Epoll, PollLoop, RecordQueue, type PollOptions } from './poll-loop.js';
import * as sys from './sys.js';

const PAGE = 4096;
const HEAD = PerfEventMmapPage.off('data_head');
const TAIL = PerfEventMmapPage.off('data_tail');

export interface PerfSampleRecord {
  cpu: number;
  data: Uint8Array;
}
export interface PerfLostRecord {
  cpu: number;
  lost: number;
}
export type PerfBufRecord = PerfSampleRecord | PerfLostRecord;

export interface PerfBufOptions extends PollOptions {
  /** Data pages per CPU ring, a power of two (default 64: 256 KiB). */
  pages?: number;
  /** Wake epoll after this many bytes instead of every sample (default: every sample). */
  watermark?: number;
  /** CPUs to open rings on (default: every online CPU). */
  cpus?: number[];
  /** Queue this many records for an async iterator before pausing (default 4096). */
  highWater?: number;
}

interface Ring {
  cpu: number;
  fd: Fd;
  addr: number;
  len: number;
  ctl: Uint32Array;
  data: Uint8Array;
  size: number;
}

/** Reads samples (and lost counts) from a perf event array, one ring per CPU. */
export class PerfBufReader implements AsyncIterable<PerfBufRecord> {
  readonly #rings: Ring[] = [];
  #epoll: Epoll | undefined;
  #loop: PollLoop;
  #queue: RecordQueue<PerfBufRecord> | undefined;
  #listener: ((rec: PerfBufRecord) => void) | undefined;
  #closed = false;
  #scratch = new Uint8Array(256);
  /** Samples the kernel reported lost (ring full), over all CPUs. */
  lost = 0;
  delivered = 0;
  readonly #options: PerfBufOptions;

  constructor(
    readonly map: KernelMap,
    options: PerfBufOptions = {},
  ) {
    if (map.spec.type !== MapType.PERF_EVENT_ARRAY) throw new UsageError(`map "${map.name}" is not a perf event array`);
    this.#options = options;
    const pages = options.pages ?? 64;
    if (pages < 1 || (pages & (pages - 1)) !== 0) throw new UsageError(`perf buffer pages must be a power of two, got ${pages}`);
    const cpus = options.cpus ?? onlineCpus();
    try {
      for (const cpu of cpus) {
        if (cpu >= map.spec.maxEntries) {
          throw new UsageError(`map "${map.name}" has ${map.spec.maxEntries} entries, too few for CPU ${cpu}`);
        }
        this.#rings.push(this.openRing(cpu, pages, options.watermark));
      }
      this.#epoll = new Epoll(
        this.#rings.map((r) => r.fd.value),
        `perfbuf ${map.name}`,
      );
    } catch (err) {
      this.release();
      throw err;
    }
    this.#loop = new PollLoop(() => this.step(), this.#epoll, options);
  }

  private openRing(cpu: number, pages: number, watermark?: number): Ring {
    const fd = perfEventOpen(
      {
        type: PerfType.SOFTWARE,
        config: PerfSwConfig.BPF_OUTPUT,
        sample_type: PerfSample.RAW,
        sample_period: 1,
        wakeup_events: watermark ?? 1,
        flags: watermark ? 1n << 14n /* watermark */ : 0n,
      },
      { pid: -1, cpu, label: `perf buffer ${this.map.name} cpu ${cpu}` },
    );
    const len = (1 + pages) * PAGE;
    const addr = sys.mmap(len, sys.PROT_READ | sys.PROT_WRITE, sys.MAP_SHARED, fd.value, 0);
    if (addr < 0) {
      fd.close();
      throw kernelError('perf buffer mmap', -addr, `cpu ${cpu}`);
    }
    const ring: Ring = {
      cpu,
      fd,
      addr,
      len,
      ctl: new Uint32Array(sys.viewAt(addr, PAGE)),
      data: new Uint8Array(sys.viewAt(addr + PAGE, pages * PAGE)),
      size: pages * PAGE,
    };
    fd.onRelease = () => sys.munmap(addr, len);
    try {
      const key = new Uint8Array(4);
      new DataView(key.buffer).setUint32(0, cpu, true);
      this.map.updateFd(key, fd.value);
      perfIoctl(fd.value, PerfIoctl.ENABLE, 0, 'perf event enable');
    } catch (err) {
      fd.close();
      throw err;
    }
    return ring;
  }

  private static load64(a: Uint32Array, index: number): number {
    for (;;) {
      const hi = Atomics.load(a, index + 1);
      const lo = Atomics.load(a, index);
      if (Atomics.load(a, index + 1) === hi) return hi * 0x1_0000_0000 + lo;
    }
  }

  /** Copy `n` bytes at ring offset `pos` (which may wrap) into a contiguous view. */
  private bytesAt(ring: Ring, pos: number, n: number): Uint8Array {
    const off = pos % ring.size;
    if (off + n <= ring.size) return ring.data.subarray(off, off + n);
    if (this.#scratch.length < n) this.#scratch = new Uint8Array(n * 2);
    const first = ring.size - off;
    this.#scratch.set(ring.data.subarray(off), 0);
    this.#scratch.set(ring.data.subarray(0, n - first), first);
    return this.#scratch.subarray(0, n);
  }

  /**
   * Consume every ring now, calling `onRecord` for each sample and lost
   * report. Sample bytes are a view valid only during the call. Never blocks.
   */
  drain(onRecord: (rec: PerfBufRecord) => void): number {
    if (this.#closed) throw new UsageError('perf buffer reader is closed');
    let n = 0;
    for (const ring of this.#rings) {
      const head = PerfBufReader.load64(ring.ctl, HEAD / 4);
      let tail = PerfBufReader.load64(ring.ctl, TAIL / 4);
      while (tail < head) {
        const hdr = this.bytesAt(ring, tail, 8);
        const hv = new DataView(hdr.buffer, hdr.byteOffset, 8);
        const type = hv.getUint32(0, true);
        const size = hv.getUint16(6, true);
        if (size < 8) break; // corrupt: stop reading this ring rather than loop
        if (type === PerfRecord.SAMPLE) {
          const body = this.bytesAt(ring, tail + 8, size - 8);
          const bv = new DataView(body.buffer, body.byteOffset, body.byteLength);
          const rawSize = bv.getUint32(0, true);
          onRecord({ cpu: ring.cpu, data: body.subarray(4, 4 + rawSize) });
          n++;
        } else if (type === PerfRecord.LOST) {
          const body = this.bytesAt(ring, tail + 8, 16);
          const lost = Number(new DataView(body.buffer, body.byteOffset, 16).getBigUint64(8, true));
          this.lost += lost;
          onRecord({ cpu: ring.cpu, lost });
        }
        tail += size;
        Atomics.store(ring.ctl, TAIL / 4, tail % 0x1_0000_0000);
        Atomics.store(ring.ctl, TAIL / 4 + 1, Math.floor(tail / 0x1_0000_0000));
      }
    }
    this.delivered += n;
    return n;
  }

  /** Copies of everything in the rings now. */
  read(): PerfBufRecord[] {
    const out: PerfBufRecord[] = [];
    this.drain((r) => out.push('data' in r ? { cpu: r.cpu, data: r.data.slice() } : r));
    return out;
  }

  private step(): number {
    if (this.#closed) return 0;
    if (this.#listener) return this.drain(this.#listener);
    const q = this.#queue;
    if (!q) return 0;
    return this.drain((r) => q.push('data' in r ? { cpu: r.cpu, data: r.data.slice() } : r));
  }

  start(onRecord: (rec: PerfBufRecord) => void): void {
    this.#listener = onRecord;
    this.#loop.start();
  }

  stop(): void {
    this.#loop.stop();
    this.#listener = undefined;
  }

  [Symbol.asyncIterator](): AsyncIterator<PerfBufRecord> {
    if (!this.#queue) {
      this.#queue = new RecordQueue<PerfBufRecord>(
        () => this.#loop.start(),
        () => this.#loop.stop(),
        this.#options.highWater,
      );
    }
    return this.#queue[Symbol.asyncIterator]();
  }

  private release(): void {
    for (const ring of this.#rings) {
      if (!this.map.closed) {
        const key = new Uint8Array(4);
        new DataView(key.buffer).setUint32(0, ring.cpu, true);
        try {
          this.map.delete(key);
        } catch {
          // Already gone: nothing to undo.
        }
      }
      ring.fd.close();
    }
    this.#rings.length = 0;
    this.#epoll?.close();
  }

  close(): void {
    if (this.#closed) return;
    this.#loop?.stop();
    this.#closed = true;
    this.#queue?.end();
    this.release();
  }
}
