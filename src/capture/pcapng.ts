/**
 * The pcapng format (draft-ietf-opsawg-pcapng): a sequence of blocks, each
 * `type, total length, body, total length`, in sections that each start with
 * a Section Header Block giving the section's byte order.
 *
 * Read: SHB (any number of sections, each in its own byte order), IDB (any
 * number of interfaces with different link types, if_tsresol in powers of 10
 * or 2, if_tsoffset, if_name, if_description, if_filter, if_os, if_fcslen),
 * EPB, SPB and the obsolete PB. Every other block (NRB, ISB, DSB, custom,
 * journal, unknown) is skipped.
 *
 * The checks and their wording are libpcap's (sf-pcapng.c). Like libpcap, the
 * trailer of the very first SHB is not compared with its header (libpcap
 * reads that block before it knows the file is pcapng), so a damaged first
 * SHB shows up at the next block.
 */
import { PcapFormatError } from './errors.js';
import type { CaptureInterface, TimestampResolution } from './interface.js';
import { MICROSECONDS } from './interface.js';
import { adjustSnaplen, maxSnaplenForLinkType } from './linktype.js';
import type { Packet } from './packet.js';
import type { PacketBatch } from './batch.js';
import { BATCH_CAPACITY } from './batch.js';
import type { RecordDecoder } from './record.js';
import { TimestampConverter } from './timestamp.js';

export const BT_SHB = 0x0a0d0d0a;
export const BT_IDB = 0x00000001;
export const BT_PB = 0x00000002;
export const BT_SPB = 0x00000003;
export const BT_NRB = 0x00000004;
export const BT_ISB = 0x00000005;
export const BT_EPB = 0x00000006;
export const BT_DSB = 0x0000000a;
export const BYTE_ORDER_MAGIC = 0x1a2b3c4d;

export const OPT_ENDOFOPT = 0;
export const OPT_COMMENT = 1;
export const IF_NAME = 2;
export const IF_DESCRIPTION = 3;
export const IF_TSRESOL = 9;
export const IF_FILTER = 11;
export const IF_OS = 12;
export const IF_FCSLEN = 13;
export const IF_TSOFFSET = 14;
export const SHB_HARDWARE = 2;
export const SHB_OS = 3;
export const SHB_USERAPPL = 4;

const SHB_INSANE_MAX = 1024 * 1024;
const INITIAL_MAX_BLOCKSIZE = 16 * 1024 * 1024;
const maxBlockForSnaplen = (snaplen: number): number => 8 + 20 + snaplen + 131072 + 4;

const utf8 = new TextDecoder('utf-8', { fatal: false });

export interface PcapngSection {
  index: number;
  byteOrder: 'le' | 'be';
  versionMajor: number;
  versionMinor: number;
  hardware?: string;
  os?: string;
  userAppl?: string;
}

interface LiveInterface {
  iface: CaptureInterface;
  conv: TimestampConverter;
}

/** Decodes a pcapng file, from its first byte (the first SHB) on. */
export class PcapngDecoder implements RecordDecoder {
  packet: Packet | null = null;
  readonly interfaces: CaptureInterface[] = [];
  readonly sections: PcapngSection[] = [];
  private le = true;
  private current: LiveInterface[] = [];
  private maxBlock = INITIAL_MAX_BLOCKSIZE;

  constructor(private readonly path: string | undefined) {}

  private fail(reason: string, offset: number): never {
    throw new PcapFormatError(reason, offset, this.path);
  }

  decode(buf: Uint8Array, view: DataView, pos: number, end: number, fileOffset: number): number {
    const avail = end - pos;
    if (avail < 8) return -8;
    let le = this.le;
    const type = view.getUint32(pos, le);
    let total: number;
    if (type === BT_SHB) {
      if (avail < 12) return -12;
      const bom = view.getUint32(pos + 8, true);
      if (bom === BYTE_ORDER_MAGIC) le = true;
      else if (bom === 0x4d3c2b1a) le = false;
      else this.fail('the file has a section with a bad byte order magic field', fileOffset + 8);
      total = view.getUint32(pos + 4, le);
      if (total < 28 || total > SHB_INSANE_MAX) {
        this.fail(`Section Header Block in pcapng dump file has invalid length ${total}`, fileOffset + 4);
      }
    } else {
      total = view.getUint32(pos + 4, le);
    }
    if (total < 12) this.fail(`block in pcapng dump file has a length of ${total} < 12`, fileOffset + 4);
    if (total % 4 !== 0) {
      this.fail(`block in pcapng dump file has a length of ${total} that is not a multiple of 4`, fileOffset + 4);
    }
    if (total > this.maxBlock) this.fail(`pcapng block size ${total} > maximum ${this.maxBlock}`, fileOffset + 4);
    if (avail < total) return -total;
    const firstShb = type === BT_SHB && this.sections.length === 0;
    if (!firstShb) {
      const trailer = view.getUint32(pos + total - 4, le);
      if (trailer !== total) {
        this.fail(`block total length in header ${total} and trailer ${trailer} don't match`, fileOffset);
      }
    }
    this.packet = null;
    const body = total - 12;
    switch (type) {
      case BT_EPB:
      case BT_PB: {
        if (body < 20) this.fail(`block of type ${type} in pcapng dump file is too short`, fileOffset);
        const id = type === BT_EPB ? view.getUint32(pos + 8, le) : view.getUint16(pos + 8, le);
        const hi = view.getUint32(pos + 12, le);
        const lo = view.getUint32(pos + 16, le);
        const caplen = view.getUint32(pos + 20, le);
        const wireLength = view.getUint32(pos + 24, le);
        this.emit(buf, id, hi, lo, caplen, wireLength, pos + 28, body - 20, type, fileOffset);
        break;
      }
      case BT_SPB: {
        if (body < 4) this.fail(`block of type ${type} in pcapng dump file is too short`, fileOffset);
        const wireLength = view.getUint32(pos + 8, le);
        const first = this.current[0];
        const caplen = first && wireLength > first.iface.effectiveSnaplen ? first.iface.effectiveSnaplen : wireLength;
        this.emit(buf, 0, -1, 0, caplen, wireLength, pos + 12, body - 4, type, fileOffset);
        break;
      }
      case BT_IDB:
        this.addInterface(view, pos, total, le, fileOffset);
        break;
      case BT_SHB:
        this.startSection(buf, view, pos, total, le, fileOffset);
        break;
      default:
        // NRB, ISB, DSB, custom and unknown blocks carry nothing we need.
        break;
    }
    return total;
  }

  scan(_buf: Uint8Array, view: DataView, pos: number, end: number, batch: PacketBatch): number {
    const le = this.le;
    const { records, offsets, caplens, wireLengths } = batch;
    let n = batch.count;
    while (n < BATCH_CAPACITY && end - pos >= 32) {
      // Only whole, sound EPBs of one interface; anything else goes through decode().
      if (view.getUint32(pos, le) !== BT_EPB) break;
      const total = view.getUint32(pos + 4, le);
      if (total < 32 || total % 4 !== 0 || total > end - pos || total > this.maxBlock) break;
      if (view.getUint32(pos + total - 4, le) !== total) break;
      const live = this.current[view.getUint32(pos + 8, le)];
      if (live === undefined) break;
      if (n === 0) batch.iface = live.iface;
      else if (batch.iface !== live.iface) break;
      const caplen = view.getUint32(pos + 20, le);
      if (caplen > live.iface.effectiveSnaplen || caplen > total - 32) break;
      records[n] = pos;
      offsets[n] = pos + 28;
      caplens[n] = caplen;
      wireLengths[n] = view.getUint32(pos + 24, le);
      n++;
      pos += total;
    }
    batch.count = n;
    return pos;
  }

  private emit(
    buf: Uint8Array,
    id: number,
    hi: number,
    lo: number,
    caplen: number,
    wireLength: number,
    dataStart: number,
    room: number,
    type: number,
    fileOffset: number,
  ): void {
    const live = this.current[id];
    if (live === undefined) {
      this.fail(
        this.interfaces.length === 0
          ? 'the capture file has a packet block before any Interface Description Blocks'
          : `a packet arrived on interface ${id}, but there's no Interface Description Block for that interface`,
        fileOffset,
      );
    }
    const iface = live.iface;
    if (caplen > iface.effectiveSnaplen) {
      this.fail(`invalid packet capture length ${caplen}, bigger than snaplen of ${iface.effectiveSnaplen}`, fileOffset);
    }
    if (caplen > room) this.fail(`block of type ${type} in pcapng dump file is too short`, fileOffset);
    let seconds = 0;
    let nanos = 0;
    if (hi >= 0) {
      live.conv.convert(hi, lo);
      seconds = live.conv.seconds + iface.tsoffset;
      nanos = live.conv.nanos;
    }
    this.packet = {
      data: buf.subarray(dataStart, dataStart + caplen),
      wireLength,
      seconds,
      nanos,
      linkType: iface.linkType,
      interfaceId: id,
      iface,
    };
  }

  private startSection(buf: Uint8Array, view: DataView, pos: number, total: number, le: boolean, fileOffset: number): void {
    const versionMajor = view.getUint16(pos + 12, le);
    const versionMinor = view.getUint16(pos + 14, le);
    if (!(versionMajor === 1 && (versionMinor === 0 || versionMinor === 2))) {
      this.fail(`unsupported pcapng savefile version ${versionMajor}.${versionMinor}`, fileOffset + 12);
    }
    const section: PcapngSection = {
      index: this.sections.length,
      byteOrder: le ? 'le' : 'be',
      versionMajor,
      versionMinor,
    };
    // Options are informative only; a damaged option list does not stop reading.
    forEachOption(view, pos + 24, pos + total - 4, le, (code, start, len) => {
      const text = (): string => utf8.decode(buf.subarray(start, start + len)).replace(/\0+$/, '');
      if (code === SHB_HARDWARE) section.hardware = text();
      else if (code === SHB_OS) section.os = text();
      else if (code === SHB_USERAPPL) section.userAppl = text();
    });
    this.sections.push(section);
    this.le = le;
    this.current = [];
  }

  private addInterface(view: DataView, pos: number, total: number, le: boolean, fileOffset: number): void {
    if (this.sections.length === 0) this.fail('the capture file does not start with a Section Header Block', fileOffset);
    if (total - 12 < 8) this.fail(`block of type ${BT_IDB} in pcapng dump file is too short`, fileOffset);
    const linkType = view.getUint16(pos + 8, le);
    const snaplen = view.getUint32(pos + 12, le);
    let tsresol: TimestampResolution = MICROSECONDS;
    let tsoffset = 0;
    let sawResol = false;
    let sawOffset = false;
    const extra: { name?: string; description?: string; filter?: string; os?: string; fcsLength?: number } = {};
    const bytes = new Uint8Array(view.buffer, view.byteOffset, view.byteLength);
    const text = (start: number, len: number): string =>
      utf8.decode(bytes.subarray(start, start + len)).replace(/\0+$/, '');
    const bad = forEachOption(view, pos + 16, pos + total - 4, le, (code, start, len) => {
      switch (code) {
        case OPT_ENDOFOPT:
          if (len !== 0) {
            this.fail(`Interface Description Block has opt_endofopt option with length ${len} != 0`, fileOffset);
          }
          return false;
        case IF_TSRESOL: {
          if (len !== 1) this.fail(`Interface Description Block has if_tsresol option with length ${len} != 1`, fileOffset);
          if (sawResol) this.fail('Interface Description Block has more than one if_tsresol option', fileOffset);
          sawResol = true;
          const v = view.getUint8(start);
          if (v & 0x80) {
            const shift = v & 0x7f;
            if (shift > 63) {
              this.fail(`Interface Description Block if_tsresol option resolution 2^-${shift} is too high`, fileOffset);
            }
            tsresol = { base: 2, exponent: shift };
          } else {
            if (v > 19) this.fail(`Interface Description Block if_tsresol option resolution 10^-${v} is too high`, fileOffset);
            tsresol = { base: 10, exponent: v };
          }
          break;
        }
        case IF_TSOFFSET:
          if (len !== 8) this.fail(`Interface Description Block has if_tsoffset option with length ${len} != 8`, fileOffset);
          if (sawOffset) this.fail('Interface Description Block has more than one if_tsoffset option', fileOffset);
          sawOffset = true;
          tsoffset = Number(view.getBigInt64(start, le));
          break;
        case IF_NAME:
          extra.name = text(start, len);
          break;
        case IF_DESCRIPTION:
          extra.description = text(start, len);
          break;
        case IF_FILTER:
          if (len > 1 && view.getUint8(start) === 0) extra.filter = text(start + 1, len - 1);
          break;
        case IF_OS:
          extra.os = text(start, len);
          break;
        case IF_FCSLEN:
          if (len === 1) extra.fcsLength = view.getUint8(start);
          break;
      }
      return true;
    });
    if (bad) this.fail(`block of type ${BT_IDB} in pcapng dump file is too short`, fileOffset);
    const iface: CaptureInterface = {
      id: this.current.length,
      section: this.sections.length - 1,
      linkType,
      snaplen,
      effectiveSnaplen: adjustSnaplen(linkType, snaplen),
      tsresol,
      tsoffset,
      ...extra,
    };
    const max = maxBlockForSnaplen(maxSnaplenForLinkType(linkType));
    if (max > this.maxBlock) this.maxBlock = max;
    this.current.push({ iface, conv: new TimestampConverter(tsresol) });
    this.interfaces.push(iface);
  }
}

/**
 * Walk the options in view[start..end): calls fn(code, valueStart, length) for
 * each until fn returns false or opt_endofopt. Returns true when an option runs
 * past `end` (the block is too short for it).
 */
export function forEachOption(
  view: DataView,
  start: number,
  end: number,
  le: boolean,
  fn: (code: number, valueStart: number, length: number) => boolean | void,
): boolean {
  let p = start;
  while (p < end) {
    if (end - p < 4) return true;
    const code = view.getUint16(p, le);
    const len = view.getUint16(p + 2, le);
    const padded = (len + 3) & ~3;
    if (end - p - 4 < padded) return true;
    if (fn(code, p + 4, len) === false) return false;
    if (code === OPT_ENDOFOPT) return false;
    p += 4 + padded;
  }
  return false;
}
