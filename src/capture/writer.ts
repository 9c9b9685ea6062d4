/**
 * Writing captures: pcap (either byte order, µs or ns timestamps) and pcapng
 * (one section; an Interface Description Block per interface, so packets of
 * different link types and interfaces stay apart; nanosecond timestamps by
 * default).
 *
 * Writers encode into a 1 MiB buffer and hand full buffers to a sink; every
 * record written before `flush()`/`close()` (or before an error stops the
 * caller, if it then closes the writer) ends up whole in the output, so a
 * file written so far is always a valid capture.
 */
import { closeSync, openSync, writeSync } from 'node:fs';
import type { Writable } from 'node:stream';
import { CaptureWriteError } from './errors.js';
import type { CaptureInterface, TimestampResolution } from './interface.js';
import { NANOSECONDS } from './interface.js';
import { MAXIMUM_SNAPLEN } from './linktype.js';
import type { Packet } from './packet.js';
import type { PcapWriteOptions } from './pcap.js';
import { encodePcapHeader } from './pcap.js';
import {
  BT_EPB,
  BT_IDB,
  BT_SHB,
  BYTE_ORDER_MAGIC,
  IF_DESCRIPTION,
  IF_FCSLEN,
  IF_FILTER,
  IF_NAME,
  IF_OS,
  IF_TSOFFSET,
  IF_TSRESOL,
  SHB_USERAPPL,
} from './pcapng.js';
import { encodeTimestamp } from './timestamp.js';

/** Where a writer's bytes go. `write` must not keep the chunk past the call unless it owns it (writers never reuse a chunk they handed over). */
export interface ByteSink {
  write(chunk: Uint8Array): void;
  close(): Promise<void>;
}

/** A sink that collects everything in memory. */
export class MemorySink implements ByteSink {
  private readonly chunks: Uint8Array[] = [];
  write(chunk: Uint8Array): void {
    this.chunks.push(chunk);
  }
  async close(): Promise<void> {}
  bytes(): Uint8Array {
    return concat(this.chunks);
  }
}

/** A sink writing to a file with synchronous writes (so a flush is on disk when it returns). */
export class FileSink implements ByteSink {
  private fd: number | undefined;
  constructor(readonly path: string) {
    try {
      this.fd = openSync(path, 'w');
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      throw new CaptureWriteError(
        `${path}: ${code === 'ENOENT' ? 'No such file or directory' : code === 'EACCES' ? 'Permission denied' : code === 'EISDIR' ? 'Is a directory' : (err as Error).message}`,
      );
    }
  }
  write(chunk: Uint8Array): void {
    if (this.fd === undefined) throw new CaptureWriteError(`${this.path}: already closed`);
    let off = 0;
    while (off < chunk.length) off += writeSync(this.fd, chunk, off, chunk.length - off);
  }
  async close(): Promise<void> {
    if (this.fd !== undefined) closeSync(this.fd);
    this.fd = undefined;
  }
}

/** A sink over a Node Writable (e.g. process.stdout). */
export class StreamSink implements ByteSink {
  constructor(
    private readonly stream: Writable,
    private readonly end = false,
  ) {}
  write(chunk: Uint8Array): void {
    this.stream.write(chunk);
  }
  async close(): Promise<void> {
    const s = this.stream;
    if (this.end) {
      await new Promise<void>((resolve, reject) => {
        s.once('error', reject);
        s.end(() => resolve());
      });
    } else if (s.writableNeedDrain) {
      await new Promise<void>((resolve) => s.once('drain', () => resolve()));
    }
  }
}

function concat(chunks: readonly Uint8Array[]): Uint8Array {
  let n = 0;
  for (const c of chunks) n += c.length;
  const out = new Uint8Array(n);
  let off = 0;
  for (const c of chunks) {
    out.set(c, off);
    off += c.length;
  }
  return out;
}

const BUFFER_SIZE = 1 << 20;

/** Buffered little/big-endian encoder shared by both writers. */
abstract class BufferedWriter {
  protected buf: Uint8Array;
  protected view: DataView;
  protected len = 0;
  protected closed = false;
  /** Packets written so far. */
  count = 0;

  constructor(protected readonly sink: ByteSink) {
    this.buf = new Uint8Array(BUFFER_SIZE);
    this.view = new DataView(this.buf.buffer);
  }

  /** Make room for n more bytes, handing the filled buffer to the sink if needed. */
  protected reserve(n: number): void {
    if (this.closed) throw new CaptureWriteError('the capture writer is closed');
    if (this.len + n <= this.buf.length) return;
    this.handOver();
    if (n > this.buf.length) {
      this.buf = new Uint8Array(n);
      this.view = new DataView(this.buf.buffer);
    }
  }

  private handOver(): void {
    if (this.len === 0) return;
    const full = this.buf.subarray(0, this.len);
    this.buf = new Uint8Array(BUFFER_SIZE);
    this.view = new DataView(this.buf.buffer);
    this.len = 0;
    this.sink.write(full);
  }

  /** Pass everything written so far to the sink. */
  flush(): void {
    this.handOver();
  }

  /** Flush and close the sink. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.handOver();
    this.closed = true;
    await this.sink.close();
  }

  abstract write(packet: Packet): void;
}

export class PcapWriter extends BufferedWriter {
  private readonly le: boolean;
  private readonly ns: boolean;
  readonly linkType: number;
  readonly snaplen: number;

  constructor(sink: ByteSink, options: PcapWriteOptions) {
    super(sink);
    this.le = (options.byteOrder ?? 'le') === 'le';
    this.ns = options.precision === 'ns';
    this.linkType = options.linkType;
    this.snaplen = options.snaplen ?? MAXIMUM_SNAPLEN;
    const header = encodePcapHeader(options);
    this.reserve(header.length);
    this.buf.set(header, this.len);
    this.len += header.length;
  }

  write(packet: Packet): void {
    if (packet.linkType !== this.linkType) {
      throw new CaptureWriteError(
        `a packet of link type ${packet.linkType} cannot go into a pcap file of link type ${this.linkType} (write pcapng to keep several link types)`,
      );
    }
    const seconds = packet.seconds;
    if (!(seconds >= 0 && seconds <= 0xffffffff)) {
      throw new CaptureWriteError(`timestamp ${seconds} s does not fit a pcap file (0 to 2^32-1 s); write pcapng instead`);
    }
    const data = packet.data;
    const caplen = data.length;
    this.reserve(16 + caplen);
    const v = this.view;
    const p = this.len;
    const le = this.le;
    v.setUint32(p, seconds, le);
    v.setUint32(p + 4, this.ns ? packet.nanos : Math.floor(packet.nanos / 1000), le);
    v.setUint32(p + 8, caplen, le);
    v.setUint32(p + 12, packet.wireLength >>> 0, le);
    this.buf.set(data, p + 16);
    this.len = p + 16 + caplen;
    this.count++;
  }
}

/** An interface for a pcapng writer. */
export interface PcapngInterfaceOptions {
  linkType: number;
  /** Default 0 (no limit), as pcapng allows. */
  snaplen?: number;
  name?: string;
  description?: string;
  filter?: string;
  os?: string;
  fcsLength?: number;
  /** Units for this interface's timestamps; default the writer's (nanoseconds). */
  tsresol?: TimestampResolution;
  /** Seconds added to timestamps (if_tsoffset); default 0. */
  tsoffset?: number;
}

export interface PcapngWriteOptions {
  /** Default 'le'. */
  byteOrder?: 'le' | 'be';
  /** Default nanoseconds, so every timestamp a reader gives survives a round trip. */
  tsresol?: TimestampResolution;
  /** shb_userappl; default 'bpfkit'. */
  userAppl?: string;
}

const textEncoder = new TextEncoder();

export class PcapngWriter extends BufferedWriter {
  private readonly le: boolean;
  private readonly defaultResol: TimestampResolution;
  private readonly ifaces: { linkType: number; tsresol: TimestampResolution; tsoffset: number }[] = [];
  private readonly byIface = new Map<CaptureInterface, number>();
  private readonly byLinkType = new Map<number, number>();

  constructor(sink: ByteSink, options: PcapngWriteOptions = {}) {
    super(sink);
    this.le = (options.byteOrder ?? 'le') === 'le';
    this.defaultResol = options.tsresol ?? NANOSECONDS;
    this.block(BT_SHB, [[SHB_USERAPPL, textEncoder.encode(options.userAppl ?? 'bpfkit')]], 16, (v, p) => {
      v.setUint32(p, BYTE_ORDER_MAGIC, this.le);
      v.setUint16(p + 4, 1, this.le);
      v.setUint16(p + 6, 0, this.le);
      v.setInt32(p + 8, -1, this.le);
      v.setInt32(p + 12, -1, this.le);
    });
  }

  /** Write an Interface Description Block; returns the interface's ID. */
  addInterface(options: PcapngInterfaceOptions): number {
    const tsresol = options.tsresol ?? this.defaultResol;
    const opts: [number, Uint8Array][] = [];
    if (options.name !== undefined) opts.push([IF_NAME, textEncoder.encode(options.name)]);
    if (options.description !== undefined) opts.push([IF_DESCRIPTION, textEncoder.encode(options.description)]);
    if (!(tsresol.base === 10 && tsresol.exponent === 6)) {
      opts.push([IF_TSRESOL, Uint8Array.of(tsresol.base === 2 ? 0x80 | tsresol.exponent : tsresol.exponent)]);
    }
    if (options.filter !== undefined) {
      const f = textEncoder.encode(options.filter);
      const v = new Uint8Array(f.length + 1);
      v.set(f, 1);
      opts.push([IF_FILTER, v]);
    }
    if (options.os !== undefined) opts.push([IF_OS, textEncoder.encode(options.os)]);
    if (options.fcsLength !== undefined) opts.push([IF_FCSLEN, Uint8Array.of(options.fcsLength)]);
    const tsoffset = options.tsoffset ?? 0;
    if (tsoffset !== 0) {
      const v = new Uint8Array(8);
      new DataView(v.buffer).setBigInt64(0, BigInt(tsoffset), this.le);
      opts.push([IF_TSOFFSET, v]);
    }
    this.block(BT_IDB, opts, 8, (v, p) => {
      v.setUint16(p, options.linkType, this.le);
      v.setUint16(p + 2, 0, this.le);
      v.setUint32(p + 4, options.snaplen ?? 0, this.le);
    });
    this.ifaces.push({ linkType: options.linkType, tsresol, tsoffset });
    return this.ifaces.length - 1;
  }

  /**
   * Describe an interface read from a capture (with its name, snaplen, ...),
   * optionally under another link type; packets from it then go to that IDB.
   */
  addCaptureInterface(iface: CaptureInterface, linkType = iface.linkType): number {
    const existing = this.byIface.get(iface);
    if (existing !== undefined) return existing;
    const exact = iface.tsresol.base === 10 && iface.tsresol.exponent <= 9;
    const id = this.addInterface({
      linkType,
      snaplen: iface.snaplen,
      ...(exact ? { tsresol: iface.tsresol } : {}),
      ...(iface.name !== undefined ? { name: iface.name } : {}),
      ...(iface.description !== undefined ? { description: iface.description } : {}),
      ...(iface.filter !== undefined ? { filter: iface.filter } : {}),
      ...(iface.os !== undefined ? { os: iface.os } : {}),
      ...(iface.fcsLength !== undefined ? { fcsLength: iface.fcsLength } : {}),
    });
    this.byIface.set(iface, id);
    return id;
  }

  /**
   * Write a packet. Without `interfaceId`, the packet's own interface (its
   * `iface`, or else its link type) is looked up, and described with an IDB
   * the first time it is seen.
   */
  write(packet: Packet, interfaceId?: number): void {
    let id = interfaceId;
    if (id === undefined) {
      const iface = packet.iface;
      if (iface !== undefined) {
        id = this.byIface.get(iface) ?? this.addCaptureInterface(iface, packet.linkType);
      } else {
        id = this.byLinkType.get(packet.linkType);
        if (id === undefined) {
          id = this.addInterface({ linkType: packet.linkType });
          this.byLinkType.set(packet.linkType, id);
        }
      }
    }
    const desc = this.ifaces[id];
    if (desc === undefined) throw new CaptureWriteError(`no interface ${id} in this pcapng file`);
    if (desc.linkType !== packet.linkType) {
      throw new CaptureWriteError(`a packet of link type ${packet.linkType} cannot go to interface ${id} of link type ${desc.linkType}`);
    }
    const data = packet.data;
    const caplen = data.length;
    const padded = (caplen + 3) & ~3;
    const total = 32 + padded;
    this.reserve(total);
    const v = this.view;
    const p = this.len;
    const le = this.le;
    const seconds = packet.seconds - desc.tsoffset;
    if (!(seconds >= 0 && seconds < 2 ** 53)) {
      throw new CaptureWriteError(`timestamp ${packet.seconds} s cannot be written for interface ${id} (if_tsoffset ${desc.tsoffset})`);
    }
    const [hi, lo] = encodeTimestamp(seconds, packet.nanos, desc.tsresol);
    v.setUint32(p, BT_EPB, le);
    v.setUint32(p + 4, total, le);
    v.setUint32(p + 8, id, le);
    v.setUint32(p + 12, hi, le);
    v.setUint32(p + 16, lo, le);
    v.setUint32(p + 20, caplen, le);
    v.setUint32(p + 24, packet.wireLength >>> 0, le);
    this.buf.set(data, p + 28);
    this.buf.fill(0, p + 28 + caplen, p + 28 + padded);
    v.setUint32(p + 28 + padded, total, le);
    this.len = p + total;
    this.count++;
  }

  /** Encode a block: fixed part of `fixedSize` bytes filled by `fill`, then options. */
  private block(
    type: number,
    options: [number, Uint8Array][],
    fixedSize: number,
    fill: (v: DataView, p: number) => void,
  ): void {
    let optLen = 0;
    for (const [, value] of options) optLen += 4 + ((value.length + 3) & ~3);
    if (options.length > 0) optLen += 4;
    const total = 12 + fixedSize + optLen;
    this.reserve(total);
    const v = this.view;
    const le = this.le;
    let p = this.len;
    this.buf.fill(0, p, p + total);
    v.setUint32(p, type, le);
    v.setUint32(p + 4, total, le);
    fill(v, p + 8);
    p += 8 + fixedSize;
    for (const [code, value] of options) {
      v.setUint16(p, code, le);
      v.setUint16(p + 2, value.length, le);
      this.buf.set(value, p + 4);
      p += 4 + ((value.length + 3) & ~3);
    }
    if (options.length > 0) p += 4; // opt_endofopt (zeros)
    v.setUint32(p, total, le);
    this.len = p + 4;
  }
}

export type CaptureWriter = PcapWriter | PcapngWriter;

/** Encode packets as a pcap file in memory. */
export function encodePcap(packets: Iterable<Packet>, options: PcapWriteOptions): Uint8Array {
  const sink = new MemorySink();
  const w = new PcapWriter(sink, options);
  for (const p of packets) w.write(p);
  w.flush();
  return sink.bytes();
}

/** Encode packets as a pcapng file in memory (interfaces as in `PcapngWriter.write`). */
export function encodePcapng(packets: Iterable<Packet>, options: PcapngWriteOptions = {}): Uint8Array {
  const sink = new MemorySink();
  const w = new PcapngWriter(sink, options);
  for (const p of packets) w.write(p);
  w.flush();
  return sink.bytes();
}

/** The format a file name asks for: .pcapng/.ntar → pcapng, .pcap/.cap/.dmp → pcap, else undefined. */
export function formatForPath(path: string): 'pcap' | 'pcapng' | undefined {
  const lower = path.toLowerCase();
  if (lower.endsWith('.pcapng') || lower.endsWith('.ntar') || lower.endsWith('.pcapng.tmp')) return 'pcapng';
  if (lower.endsWith('.pcap') || lower.endsWith('.cap') || lower.endsWith('.dmp')) return 'pcap';
  return undefined;
}

/** Open a sink for a path, or standard output for '-'. */
export function openSink(path: string): ByteSink {
  if (path === '-') return new StreamSink(process.stdout);
  return new FileSink(path);
}
