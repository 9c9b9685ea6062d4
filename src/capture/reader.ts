/**
 * Reading captures.
 *
 * - `CaptureReader.open(source)` streams a capture from a path, `-` (standard
 *   input), a Node Readable or any AsyncIterable of byte chunks. It reads big
 *   chunks (256 KiB by default) and decodes packets in place: a packet's data
 *   is a view into the chunk it came in, never a copy (only a record cut by
 *   a chunk boundary is copied). At most one chunk plus one record is held,
 *   so a file of any size streams in constant memory as long as the caller
 *   does not keep the packets.
 *   - `reader.forEach(fn)` is the fast path: fn runs synchronously for each
 *     packet of a chunk and may return false to stop.
 *   - `for await (const p of reader)` is the convenient one.
 * - `readCaptureSync(bytes)` decodes a capture held in memory.
 *
 * Damage: the packets before it are delivered, then a PcapFormatError with
 * the byte offset is thrown. A file that ends inside its last record is not
 * an error: reading stops cleanly after the last whole packet and a
 * 'truncated' warning is recorded (as tcpdump reports and stops).
 */
import { closeSync, createReadStream, fstatSync, openSync, readSync } from 'node:fs';
import type { Readable } from 'node:stream';
import { PacketBatch } from './batch.js';
import type { CaptureInfo } from './decoder.js';
import { CaptureDecoder } from './decoder.js';
import type { CaptureWarning } from './errors.js';
import { CaptureOpenError, PcapFormatError } from './errors.js';
import type { CaptureInterface } from './interface.js';
import type { Packet } from './packet.js';
import type { PcapngSection } from './pcapng.js';

export type CaptureSource = string | Readable | AsyncIterable<Uint8Array> | Uint8Array;

export interface ReadOptions {
  /** Name used in error messages (defaults to the path, or '-' for stdin). */
  name?: string;
  /** Bytes per read from a file (default 256 KiB). */
  chunkSize?: number;
  /**
   * Read a file into one buffer, over and over, instead of a fresh buffer per
   * chunk. Faster (no allocation, no page faults), but a packet's data is then
   * only valid until the callback (or loop iteration) that got it returns:
   * copy what you keep. Only for file sources.
   */
  reuseBuffer?: boolean;
  /**
   * Read a file into this buffer, over and over (as reuseBuffer does; its
   * length is the chunk size): e.g. a WebAssembly memory's, for a filter
   * that reads the packets there (bpfkit read). Only for file sources.
   */
  buffer?: Uint8Array;
  /** Called for each warning as it happens. */
  onWarning?: (warning: CaptureWarning) => void;
  /** Called after each chunk with the number of bytes decoded so far. */
  onProgress?: (bytes: number) => void;
}

const EMPTY = new Uint8Array(0);
/**
 * 256 KiB. A fresh `bpfkit read` spends most of its loop in code V8 has not
 * optimised yet, so fewer, bigger batches pay: on the bench machine (2 vCPU
 * EPYC, 512 KiB L2 per core) a cold read + filter of the 116 MiB bench
 * capture took about half the user time with 256 KiB reads as with 64 KiB
 * ones, and no more system time (into one reused buffer); 16 KiB reads were
 * slower still. Past 256 KiB it no longer improved.
 */
export const DEFAULT_CHUNK_SIZE = 256 * 1024;

function openErrorText(err: unknown): string {
  const code = (err as NodeJS.ErrnoException).code;
  if (code === 'ENOENT') return 'No such file or directory';
  if (code === 'EACCES' || code === 'EPERM') return 'Permission denied';
  if (code === 'EISDIR') return 'Is a directory';
  return String((err as Error).message);
}

/** Where chunks come from: `next()` gives the next chunk, or null at the end (synchronously for files). */
interface ChunkSource {
  next(): Uint8Array | null | Promise<Uint8Array | null>;
  close(): void | Promise<void>;
  /** Size in bytes, when known (a regular file). */
  readonly size: number | undefined;
  /**
   * Sources that read into one reused buffer: the buffer's size, and
   * `refill(from, to)`, which moves the unread end `buf[from..to)` of the last
   * chunk to the front and reads more after it, so a record cut by the chunk
   * boundary is completed in place (null when nothing more could be read).
   */
  readonly capacity?: number;
  refill?(from: number, to: number): Uint8Array | null;
}

/** A file read with synchronous reads: no promise per chunk. */
class FileSource implements ChunkSource {
  private fd: number | undefined;
  readonly size: number | undefined;
  private readonly shared: Uint8Array | undefined;

  constructor(
    readonly path: string,
    private readonly chunkSize: number,
    reuse: boolean,
    buffer?: Uint8Array,
  ) {
    try {
      this.fd = openSync(path, 'r');
      const st = fstatSync(this.fd);
      if (st.isDirectory()) throw Object.assign(new Error('directory'), { code: 'EISDIR' });
      this.size = st.isFile() ? st.size : undefined;
    } catch (err) {
      if (this.fd !== undefined) closeSync(this.fd);
      this.fd = undefined;
      throw new CaptureOpenError(path, openErrorText(err));
    }
    this.shared = buffer ?? (reuse ? alignedBuffer(chunkSize) : undefined);
  }

  get capacity(): number {
    return this.shared?.length ?? 0;
  }

  next(): Uint8Array | null {
    if (this.fd === undefined) return null;
    const buf = this.shared ?? new Uint8Array(this.chunkSize);
    const n = this.fill(buf, 0);
    if (n === 0) return null;
    return n === buf.length ? buf : buf.subarray(0, n);
  }

  refill(from: number, to: number): Uint8Array | null {
    const buf = this.shared;
    if (this.fd === undefined || buf === undefined) return null;
    const kept = to - from;
    buf.copyWithin(0, from, to);
    const n = this.fill(buf, kept);
    if (n === kept) return null;
    return n === buf.length ? buf : buf.subarray(0, n);
  }

  /** Read into buf from `at` until it is full or the file ends (a pipe or FIFO may return less than asked); the bytes now in buf. */
  private fill(buf: Uint8Array, at: number): number {
    let n = at;
    while (n < buf.length) {
      const got = readSync(this.fd!, buf, n, buf.length - n, null);
      if (got === 0) break;
      n += got;
    }
    return n;
  }

  close(): void {
    if (this.fd !== undefined) closeSync(this.fd);
    this.fd = undefined;
  }
}

/**
 * A buffer for reads that starts on a page boundary: a WebAssembly memory's.
 * A Uint8Array's bytes come from malloc, 16-byte aligned, and reading a file
 * into an address that is 16 but not 32-byte aligned costs several times
 * the system time (the bench capture: 85 ms instead of 25 ms of read() on
 * the bench machine's AMD EPYC; the kernel's copy to user space is slow on
 * such destinations).
 */
function alignedBuffer(size: number): Uint8Array {
  const wasm = (globalThis as { WebAssembly?: { Memory: new (d: { initial: number }) => { buffer: ArrayBuffer } } }).WebAssembly;
  if (wasm !== undefined) {
    try {
      return new Uint8Array(new wasm.Memory({ initial: Math.max(1, Math.ceil(size / 65536)) }).buffer, 0, size);
    } catch {
      // No room for a WebAssembly memory: an ordinary buffer does, only slower.
    }
  }
  return new Uint8Array(size);
}

/** Chunks from a stream or any async iterable. */
class StreamSource implements ChunkSource {
  readonly size = undefined;
  private readonly it: AsyncIterator<Uint8Array>;
  constructor(private readonly source: AsyncIterable<Uint8Array>) {
    this.it = source[Symbol.asyncIterator]();
  }
  private closing = false;

  async next(): Promise<Uint8Array | null> {
    for (;;) {
      let step: IteratorResult<Uint8Array>;
      try {
        step = await this.it.next();
      } catch (err) {
        if (this.closing) return null; // closed while waiting: that is the end
        throw err;
      }
      const { value, done } = step;
      if (done) return null;
      const chunk: Uint8Array = value instanceof Uint8Array ? value : new Uint8Array(value as ArrayBuffer);
      if (chunk.length === 0) continue;
      // Node Buffers slice slowly (species lookup); decode over a plain view.
      return new Uint8Array(chunk.buffer, chunk.byteOffset, chunk.byteLength);
    }
  }
  async close(): Promise<void> {
    // A stream waiting for data (a pipe) must stop waiting: destroying it ends the pending read.
    this.closing = true;
    const stream = this.source as { destroy?: () => void; destroyed?: boolean };
    if (typeof stream.destroy === 'function' && stream.destroyed !== true) stream.destroy();
    await this.it.return?.();
  }
}

function openSource(source: Exclude<CaptureSource, Uint8Array>, options: ReadOptions): ChunkSource {
  const chunkSize = options.chunkSize ?? DEFAULT_CHUNK_SIZE;
  if (typeof source === 'string') {
    if (source === '-') return new StreamSource(process.stdin);
    return new FileSource(source, options.buffer?.length ?? chunkSize, options.reuseBuffer === true, options.buffer);
  }
  return new StreamSource(source as AsyncIterable<Uint8Array>);
}

/** Hand one decoded packet over as a batch of one (its record starts at `record` in `buf`). */
function single(
  batch: PacketBatch,
  p: Packet,
  buf: Uint8Array,
  base: number,
  decoder: PacketBatch['decoder'],
  onBatch: (b: PacketBatch) => boolean | void,
  record = 0,
  view?: DataView,
): boolean | void {
  batch.reset(buf, view ?? new DataView(buf.buffer, buf.byteOffset, buf.byteLength), base, decoder!);
  batch.iface = p.iface;
  batch.records[0] = record;
  batch.offsets[0] = p.data.byteOffset - buf.byteOffset;
  batch.caplens[0] = p.data.length;
  batch.wireLengths[0] = p.wireLength;
  batch.count = 1;
  return onBatch(batch);
}

/**
 * Pulls chunks from a source and runs a decoder over them, carrying records
 * cut by chunk boundaries into a buffer of their own.
 */
class ChunkPump {
  private chunk: Uint8Array = EMPTY;
  private view: DataView = new DataView(new ArrayBuffer(0));
  private pos = 0;
  /** File offset of chunk[0]. */
  private base = 0;
  private carry: Uint8Array | null = null;
  private carryLen = 0;
  private carryOffset = 0;
  private need = 0;
  /** A record cut at chunk[keepFrom..] is completed by the source's refill() (-1: none). */
  private keepFrom = -1;
  private eof = false;
  private done = false;

  constructor(
    private readonly source: ChunkSource,
    private readonly decoder: CaptureDecoder,
  ) {}

  get finished(): boolean {
    return this.done;
  }

  /** Bytes taken from the source so far. */
  get bytes(): number {
    return this.base + this.chunk.length;
  }

  /**
   * Decode what is buffered (fetching one more chunk when nothing is), calling
   * onPacket for each packet. Returns false when onPacket asked to stop or the
   * input is done. With `untilReady`, stops as soon as the decoder is ready.
   */
  async step(onPacket: (p: Packet) => boolean | void, untilReady = false, carryOnly = false): Promise<boolean> {
    if (this.done) return false;
    if (!carryOnly && this.pos >= this.chunk.length) {
      const next = this.keepFrom >= 0 ? this.source.refill!(this.keepFrom, this.chunk.length) : this.source.next();
      const chunk = next instanceof Promise ? await next : next;
      if (!this.take(chunk)) return false;
    }
    const dec = this.decoder;
    if (this.carry !== null) {
      // Complete the record that the previous chunk cut.
      for (;;) {
        const take = Math.min(this.need - this.carryLen, this.chunk.length - this.pos);
        this.carry.set(this.chunk.subarray(this.pos, this.pos + take), this.carryLen);
        this.carryLen += take;
        this.pos += take;
        if (this.carryLen < this.need) return true; // still short: the next chunk continues it
        const carry = this.carry;
        const r = dec.decode(carry, new DataView(carry.buffer, carry.byteOffset, carry.byteLength), 0, this.carryLen, this.carryOffset);
        if (r < 0) {
          this.need = -r;
          const bigger = new Uint8Array(this.need);
          bigger.set(carry.subarray(0, this.carryLen));
          this.carry = bigger;
          continue;
        }
        this.pos -= this.carryLen - r;
        this.carry = null;
        this.carryLen = 0;
        const p = dec.packet;
        if (p !== null && onPacket(p) === false) {
          this.done = true;
          return false;
        }
        if (untilReady && dec.ready) return true;
        break;
      }
    }
    if (carryOnly) return true;
    const buf = this.chunk;
    const view = this.view;
    const end = buf.length;
    let pos = this.pos;
    const base = this.base;
    // Until the decoder knows the format, go through it; then call the format's decoder directly.
    while (pos < end && (dec.inner === undefined || untilReady)) {
      const r = dec.decode(buf, view, pos, end, base + pos);
      if (r < 0) return this.cut(pos, -r);
      pos += r;
      this.pos = pos;
      const p = dec.packet;
      if (p !== null && onPacket(p) === false) {
        this.done = true;
        return false;
      }
      if (untilReady && dec.ready) return true;
    }
    const inner = dec.inner!;
    while (pos < end) {
      const r = inner.decode(buf, view, pos, end, base + pos);
      if (r < 0) return this.cut(pos, -r);
      pos += r;
      const p = inner.packet;
      if (p !== null && onPacket(p) === false) {
        this.pos = pos;
        this.done = true;
        return false;
      }
    }
    this.pos = pos;
    return true;
  }

  /**
   * Like step(), in batches: runs of ordinary packet records are listed in
   * `batch` (no Packet objects); other records are decoded one by one and
   * handed over as batches of one.
   */
  async stepBatch(batch: PacketBatch, onBatch: (b: PacketBatch) => boolean | void): Promise<boolean> {
    if (this.done) return false;
    if (this.pos >= this.chunk.length) {
      const next = this.keepFrom >= 0 ? this.source.refill!(this.keepFrom, this.chunk.length) : this.source.next();
      const chunk = next instanceof Promise ? await next : next;
      if (!this.take(chunk)) return false;
    }
    const dec = this.decoder;
    if (this.carry !== null) {
      let stop = false;
      const offset = this.carryOffset;
      const ok = await this.step(
        (p) => {
          // The record was completed in a buffer of its own, which starts at its first byte.
          const own = new Uint8Array(p.data.buffer, 0, p.data.buffer.byteLength);
          stop = single(batch, p, own, offset, dec.inner, onBatch) === false;
          return !stop;
        },
        false,
        true,
      );
      if (!ok || stop) return false;
      if (this.carry !== null) return true; // still incomplete
    }
    const buf = this.chunk;
    const view = this.view;
    const end = buf.length;
    const base = this.base;
    let pos = this.pos;
    while (pos < end) {
      const inner = dec.inner;
      if (inner !== undefined) {
        batch.reset(buf, view, base, inner);
        const next = inner.scan(buf, view, pos, end, batch);
        if (batch.count > 0) {
          pos = next;
          this.pos = pos;
          if (onBatch(batch) === false) {
            this.done = true;
            return false;
          }
          continue;
        }
      }
      const r = dec.decode(buf, view, pos, end, base + pos);
      if (r < 0) return this.cut(pos, -r);
      const start = pos;
      pos += r;
      this.pos = pos;
      const p = dec.packet;
      if (p !== null && single(batch, p, buf, base, dec.inner!, onBatch, start, view) === false) {
        this.done = true;
        return false;
      }
    }
    this.pos = pos;
    return true;
  }

  /** The record at `pos` runs past the chunk: keep its bytes for the next one. */
  private cut(pos: number, need: number): boolean {
    const have = this.chunk.length - pos;
    const capacity = this.source.capacity ?? 0;
    if (need <= capacity && this.source.refill !== undefined) {
      // Completed in place: the source moves these bytes to the front of its buffer and reads after them.
      this.keepFrom = pos;
      this.need = need;
      this.pos = this.chunk.length;
      return true;
    }
    this.carry = new Uint8Array(need);
    this.carry.set(this.chunk.subarray(pos));
    this.carryLen = have;
    this.carryOffset = this.base + pos;
    this.need = need;
    this.pos = this.chunk.length;
    return true;
  }

  /** Start on a new chunk; false (after finishing the decoder) at the end of input. */
  private take(chunk: Uint8Array | null): boolean {
    if (this.done) return false; // closed by the caller meanwhile
    if (chunk === null) {
      this.eof = true;
      return this.end();
    }
    this.base += this.keepFrom >= 0 ? this.keepFrom : this.chunk.length;
    this.keepFrom = -1;
    // A reused buffer keeps its view (decoders never read past the end they are given).
    const view = this.view;
    if (view.buffer !== chunk.buffer || view.byteOffset !== chunk.byteOffset || view.byteLength < chunk.byteLength) {
      this.view = new DataView(chunk.buffer, chunk.byteOffset, chunk.byteLength);
    }
    this.chunk = chunk;
    this.pos = 0;
    return true;
  }

  private end(): boolean {
    this.done = true;
    const keeping = this.keepFrom >= 0;
    const have = this.carry !== null ? this.carryLen : keeping ? this.chunk.length - this.keepFrom : 0;
    const offset = this.carry !== null ? this.carryOffset : this.base + (keeping ? this.keepFrom : this.chunk.length);
    this.keepFrom = -1;
    this.carry = null;
    this.decoder.finish(offset, have, this.need);
    return false;
  }

  async close(): Promise<void> {
    this.done = true;
    await this.source.close();
  }
}

export class CaptureReader implements AsyncIterable<Packet> {
  private constructor(
    private readonly decoder: CaptureDecoder,
    private readonly pump: ChunkPump,
    /** The size of the file, when the source is a regular file. */
    readonly size: number | undefined,
    private readonly onProgress: ((bytes: number) => void) | undefined,
  ) {}

  /** Open a capture and read its header (and, for pcapng, up to its first interface). */
  static async open(source: Exclude<CaptureSource, Uint8Array>, options: ReadOptions = {}): Promise<CaptureReader> {
    const name = options.name ?? (typeof source === 'string' ? source : undefined);
    const decoder = new CaptureDecoder({
      ...(name !== undefined ? { path: name } : {}),
      ...(options.onWarning ? { onWarning: options.onWarning } : {}),
    });
    const chunks = openSource(source, options);
    const pump = new ChunkPump(chunks, decoder);
    const reader = new CaptureReader(decoder, pump, chunks.size, options.onProgress);
    try {
      while (!decoder.ready) {
        if (!(await pump.step(() => true, true))) break;
      }
    } catch (err) {
      await pump.close();
      throw err;
    }
    if (!decoder.ready) {
      await pump.close();
      // finish() has thrown for every way of getting here; this is a safety net.
      throw new PcapFormatError('the capture has no header', 0, name);
    }
    return reader;
  }

  get info(): CaptureInfo {
    return this.decoder.info!;
  }

  get format(): 'pcap' | 'pcapng' {
    return this.decoder.format!;
  }

  /** Interfaces seen so far (pcapng files may describe more as reading goes on). */
  get interfaces(): readonly CaptureInterface[] {
    return this.decoder.interfaces;
  }

  get sections(): readonly PcapngSection[] {
    return this.decoder.sections;
  }

  get warnings(): readonly CaptureWarning[] {
    return this.decoder.warnings;
  }

  /** Bytes read from the source so far. */
  get bytesRead(): number {
    return this.pump.bytes;
  }

  /**
   * Call fn for every remaining packet, synchronously within each chunk. fn
   * may return false to stop early. Resolves when the input is done (or fn
   * stopped it); rejects with a PcapFormatError after the packets before the
   * damage were delivered.
   */
  async forEach(fn: (packet: Packet) => boolean | void): Promise<void> {
    try {
      let chunks = 0;
      while (await this.pump.step(fn)) {
        if (this.onProgress !== undefined) {
          this.onProgress(this.pump.bytes);
          // File reads are synchronous: let timers (a progress bar) run now and then.
          if (++chunks % 16 === 0) await new Promise((resolve) => setImmediate(resolve));
        }
      }
    } finally {
      await this.pump.close();
    }
  }

  /**
   * Like forEach(), in batches of packets listed by position (see PacketBatch):
   * the shape bpfkit/cbpf's jitBatch() filters in one call. A batch is valid
   * during the call only; `batch.packet(i)` gives a full Packet. `batch` may
   * be one made with the caller's arrays (see PacketBatch).
   */
  async forEachBatch(fn: (batch: PacketBatch) => boolean | void, batch: PacketBatch = new PacketBatch()): Promise<void> {
    try {
      let chunks = 0;
      while (await this.pump.stepBatch(batch, fn)) {
        if (this.onProgress !== undefined) {
          this.onProgress(this.pump.bytes);
          if (++chunks % 16 === 0) await new Promise((resolve) => setImmediate(resolve));
        }
      }
    } finally {
      await this.pump.close();
    }
  }

  async *[Symbol.asyncIterator](): AsyncIterator<Packet> {
    const batch: Packet[] = [];
    const collect = (p: Packet): void => {
      batch.push(p);
    };
    try {
      for (;;) {
        let more: boolean;
        try {
          more = await this.pump.step(collect);
        } catch (err) {
          yield* batch;
          throw err;
        }
        this.onProgress?.(this.pump.bytes);
        for (let i = 0; i < batch.length; i++) yield batch[i]!;
        batch.length = 0;
        if (!more) return;
      }
    } finally {
      await this.pump.close();
    }
  }

  /** Stop reading and release the source. */
  async close(): Promise<void> {
    await this.pump.close();
  }
}

/** Read every packet of a capture source into memory (tests, small files). */
export async function readAllPackets(
  source: Exclude<CaptureSource, Uint8Array>,
  options: ReadOptions = {},
): Promise<{ packets: Packet[]; info: CaptureInfo; interfaces: readonly CaptureInterface[]; warnings: readonly CaptureWarning[] }> {
  const reader = await CaptureReader.open(source, options);
  const packets: Packet[] = [];
  await reader.forEach((p) => {
    packets.push(p);
  });
  return { packets, info: reader.info, interfaces: reader.interfaces, warnings: reader.warnings };
}

export interface ParsedCapture {
  info: CaptureInfo;
  interfaces: readonly CaptureInterface[];
  sections: readonly PcapngSection[];
  packets: Packet[];
  warnings: readonly CaptureWarning[];
  /**
   * When the capture is damaged: the error, after the packets before the
   * damage (which are in `packets`). Only with `{ throwOnError: false }`.
   */
  error?: PcapFormatError;
}

export interface SyncReadOptions {
  name?: string;
  onWarning?: (warning: CaptureWarning) => void;
  /** Default true: throw on damage. With false, the error is returned in `error` after the good packets. */
  throwOnError?: boolean;
  /** Called for each packet instead of collecting them (then `packets` stays empty); return false to stop. */
  onPacket?: (packet: Packet) => boolean | void;
}

/**
 * Decode a capture held in memory. Packet data are views into `bytes`.
 */
export function readCaptureSync(input: Uint8Array, options: SyncReadOptions = {}): ParsedCapture {
  // Node Buffers slice slowly (species lookup); decode over a plain view of the same bytes.
  const bytes = new Uint8Array(input.buffer, input.byteOffset, input.byteLength);
  const decoder = new CaptureDecoder({
    ...(options.name !== undefined ? { path: options.name } : {}),
    ...(options.onWarning ? { onWarning: options.onWarning } : {}),
  });
  const packets: Packet[] = [];
  const onPacket = options.onPacket;
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const end = bytes.length;
  let pos = 0;
  let error: PcapFormatError | undefined;
  try {
    let stopped = false;
    while (pos < end && decoder.inner === undefined) {
      const r = decoder.decode(bytes, view, pos, end, pos);
      if (r < 0) break;
      pos += r;
    }
    const inner = decoder.inner;
    if (inner !== undefined) {
      while (pos < end) {
        const r = inner.decode(bytes, view, pos, end, pos);
        if (r < 0) break;
        pos += r;
        const p = inner.packet;
        if (p !== null) {
          if (onPacket === undefined) packets.push(p);
          else if (onPacket(p) === false) {
            stopped = true;
            break;
          }
        }
      }
    }
    if (!stopped) {
      if (pos < end) {
        // Find out how much the cut record wanted, for the message.
        const r = decoder.decode(bytes, view, pos, end, pos);
        decoder.finish(pos, end - pos, r < 0 ? -r : end - pos + 1);
      } else decoder.finish(pos, 0, 0);
    }
  } catch (err) {
    if (!(err instanceof PcapFormatError) || options.throwOnError !== false || !decoder.ready) throw err;
    error = err;
  }
  return {
    info: decoder.info!,
    interfaces: decoder.interfaces,
    sections: decoder.sections,
    packets,
    warnings: decoder.warnings,
    ...(error !== undefined ? { error } : {}),
  };
}

/** A Readable over a file, for callers that want Node streams. */
export function fileStream(path: string, chunkSize = DEFAULT_CHUNK_SIZE): Readable {
  return createReadStream(path, { highWaterMark: chunkSize });
}
