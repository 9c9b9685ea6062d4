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
  tail64: BigUint64Array;
  data: Uint8Array;
  view: DataView;
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
      tail64: new BigUint64Array(sys.viewAt(addr, PAGE), TAIL, 1),
      data: new Uint8Array(sys.viewAt(addr + PAGE, pages * PAGE)),
      view: new DataView(sys.viewAt(addr + PAGE, pages * PAGE)),
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

  /**
   * Consume every ring now. Each sample goes to `onSample(cpu, data, offset,
   * length)`: its bytes are `data[offset .. offset + length)`, a view of the
   * ring (or of a scratch copy when the sample wraps around the ring's end),
   * valid only during the call. Raw samples are padded by the kernel so that
   * length + 4 is a multiple of 8. Lost reports go to `onLost(cpu, count)`
   * and are summed in `lost`. No allocation per record; never blocks.
   */
  drain(
    onSample: (cpu: number, data: Uint8Array, offset: number, length: number) => void,
    onLost?: (cpu: number, count: number) => void,
  ): number {
    if (this.#closed) throw new UsageError('perf buffer reader is closed');
    let n = 0;
    for (const ring of this.#rings) {
      const head = PerfBufReader.load64(ring.ctl, HEAD / 4);
      let tail = PerfBufReader.load64(ring.ctl, TAIL / 4);
      if (tail >= head) continue;
      const size = ring.size;
      const dv = ring.view;
      const wrap = (at: number) => (at >= size ? at - size : at);
      let off = tail % size;
      while (tail < head) {
        // Records are 8-byte aligned and the ring a multiple of 8: a header never wraps.
        const type = dv.getUint32(off, true);
        const recSize = dv.getUint16(off + 6, true);
        if (recSize < 8) break; // corrupt: stop reading this ring rather than loop
        if (type === PerfRecord.SAMPLE) {
          const rawSize = dv.getUint32(wrap(off + 8), true);
          const dataAt = wrap(off + 12);
          if (dataAt + rawSize <= size) {
            onSample(ring.cpu, ring.data, dataAt, rawSize);
          } else {
            if (this.#scratch.length < rawSize) this.#scratch = new Uint8Array(rawSize * 2);
            const first = size - dataAt;
            this.#scratch.set(ring.data.subarray(dataAt), 0);
            this.#scratch.set(ring.data.subarray(0, rawSize - first), first);
            onSample(ring.cpu, this.#scratch, 0, rawSize);
          }
          n++;
        } else if (type === PerfRecord.LOST) {
          const lo = dv.getUint32(wrap(off + 16), true);
          const hi = dv.getUint32(wrap(off + 20), true);
          const lost = hi * 0x1_0000_0000 + lo;
          this.lost += lost;
          onLost?.(ring.cpu, lost);
        }
        tail += recSize;
        off = wrap(off + recSize);
      }
      // data_tail as one 64-bit store: the kernel must never see half of it.
      Atomics.store(ring.tail64, 0, BigInt(tail));
    }
    this.delivered += n;
    return n;
  }

  /** Copies of everything in the rings now: samples and lost reports, per ring in order. */
  read(): PerfBufRecord[] {
    const out: PerfBufRecord[] = [];
    this.drain(
      (cpu, d, o, l) => out.push({ cpu, data: d.slice(o, o + l) }),
      (cpu, lost) => out.push({ cpu, lost }),
    );
    return out;
  }

  private step(): number {
    if (this.#closed) return 0;
    const push = this.#listener ?? ((r: PerfBufRecord) => this.#queue?.push(r));
    if (!this.#listener && !this.#queue) return 0;
    return this.drain(
      (cpu, d, o, l) => push({ cpu, data: d.slice(o, o + l) }),
      (cpu, lost) => push({ cpu, lost }),
    );
  }

  /** Deliver samples (copies) and lost reports to `onRecord` as they come, on the event loop. */
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
