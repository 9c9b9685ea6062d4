/**
 * The classic pcap format (pcap-savefile(5)): a 24-byte file header, then a
 * 16-byte record header and the captured bytes for each packet. Either byte
 * order; microsecond (0xa1b2c3d4) or nanosecond (0xa1b23c4d) timestamps;
 * Alexey Kuznetzov's variant (0xa1b2cd34, 24-byte record headers) is read too.
 *
 * The header checks are libpcap's (sf-pcap.c), with its wording:
 * - versions other than 2.0-2.4 (and DG/UX's 543.0) are refused,
 * - bits 16-25 of the link-type field are reserved and must be zero,
 * - a record longer than the link type's maximum (262144 for most) is an error,
 * - a record longer than the header's snaplen is cut to the snaplen (as libpcap does),
 * - versions before 2.3 (and 543.0) store caplen and len the other way round.
 */
import { PcapFormatError } from './errors.js';
import type { CaptureInterface } from './interface.js';
import { MICROSECONDS, NANOSECONDS } from './interface.js';
import { adjustSnaplen, maxSnaplenForLinkType } from './linktype.js';
import type { Packet } from './packet.js';
import type { PacketBatch } from './batch.js';
import { BATCH_CAPACITY } from './batch.js';
import type { RecordDecoder, WarningSink } from './record.js';

export const PCAP_MAGIC_US = 0xa1b2c3d4;
export const PCAP_MAGIC_NS = 0xa1b23c4d;
export const PCAP_MAGIC_KUZNETZOV = 0xa1b2cd34;
export const PCAP_HEADER_SIZE = 24;
export const PCAP_RECORD_HEADER_SIZE = 16;

const LT_LINKTYPE_MASK = 0x0000ffff;
const LT_RESERVED1_MASK = 0x03ff0000;
const LT_FCS_LENGTH_PRESENT = 0x04000000;

/** True when the first four bytes (read little-endian) are a pcap magic number in either byte order. */
export function pcapMagicByteOrder(magicLe: number): 'le' | 'be' | undefined {
  const m = magicLe >>> 0;
  if (m === PCAP_MAGIC_US || m === PCAP_MAGIC_NS || m === PCAP_MAGIC_KUZNETZOV) return 'le';
  const swapped = ((m & 0xff) << 24 | (m & 0xff00) << 8 | (m >>> 8) & 0xff00 | m >>> 24) >>> 0;
  if (swapped === PCAP_MAGIC_US || swapped === PCAP_MAGIC_NS || swapped === PCAP_MAGIC_KUZNETZOV) return 'be';
  return undefined;
}

export interface PcapHeader {
  byteOrder: 'le' | 'be';
  precision: 'us' | 'ns';
  /** Kuznetzov's modified format (24-byte record headers). */
  modified: boolean;
  versionMajor: number;
  versionMinor: number;
  thiszone: number;
  sigfigs: number;
  /** The snaplen field as stored. */
  snaplen: number;
  /** LINKTYPE_ value (low 16 bits of the field). */
  linkType: number;
  /** FCS length in bytes when bit 26 says it is present, else undefined. */
  fcsLength: number | undefined;
}

/** Parse the 24-byte file header at `pos` (the caller checked the magic and that 24 bytes are there). */
export function parsePcapHeader(view: DataView, pos: number, path?: string): PcapHeader {
  const magicLe = view.getUint32(pos, true);
  const byteOrder = pcapMagicByteOrder(magicLe);
  if (byteOrder === undefined) throw new PcapFormatError('unknown file format', pos, path);
  const le = byteOrder === 'le';
  const magic = view.getUint32(pos, le);
  const versionMajor = view.getUint16(pos + 4, le);
  const versionMinor = view.getUint16(pos + 6, le);
  const thiszone = view.getInt32(pos + 8, le);
  const sigfigs = view.getUint32(pos + 12, le);
  const snaplen = view.getUint32(pos + 16, le);
  const linkField = view.getUint32(pos + 20, le);
  if (!((versionMajor === 2 && versionMinor <= 4) || (versionMajor === 543 && versionMinor === 0))) {
    throw new PcapFormatError(`unsupported pcap savefile version ${versionMajor}.${versionMinor}`, pos + 4, path);
  }
  const reserved = (linkField & LT_RESERVED1_MASK) >>> 0;
  if (reserved !== 0) {
    throw new PcapFormatError(
      `savefile linktype reserved field not zero (0x${reserved.toString(16).padStart(8, '0')})`,
      pos + 20,
      path,
    );
  }
  const fcsLength = linkField & LT_FCS_LENGTH_PRESENT ? ((linkField >>> 28) & 0xf) * 2 : undefined;
  return {
    byteOrder,
    precision: magic === PCAP_MAGIC_NS ? 'ns' : 'us',
    modified: magic === PCAP_MAGIC_KUZNETZOV,
    versionMajor,
    versionMinor,
    thiszone,
    sigfigs,
    snaplen,
    linkType: linkField & LT_LINKTYPE_MASK,
    fcsLength,
  };
}

const enum LengthOrder {
  Normal,
  Swapped,
  MaybeSwapped,
}

/** Decodes the records that follow a pcap file header. */
export class PcapDecoder implements RecordDecoder {
  packet: Packet | null = null;
  readonly interfaces: readonly CaptureInterface[];
  readonly header: PcapHeader;
  private readonly le: boolean;
  private readonly ns: boolean;
  private readonly recordHeaderSize: number;
  private readonly lengths: LengthOrder;
  private readonly snapshot: number;
  private readonly maxCaplen: number;
  private readonly linkType: number;
  private readonly iface: CaptureInterface;
  private clampWarned = false;

  constructor(
    header: PcapHeader,
    private readonly path: string | undefined,
    private readonly warn: WarningSink,
  ) {
    this.header = header;
    this.le = header.byteOrder === 'le';
    this.ns = header.precision === 'ns';
    this.recordHeaderSize = header.modified ? 24 : 16;
    this.lengths =
      header.versionMajor === 543 || (header.versionMajor === 2 && header.versionMinor < 3)
        ? LengthOrder.Swapped
        : header.versionMajor === 2 && header.versionMinor === 3
          ? LengthOrder.MaybeSwapped
          : LengthOrder.Normal;
    this.linkType = header.linkType;
    this.snapshot = adjustSnaplen(header.linkType, header.snaplen);
    // Kuznetzov's format on Ethernet may hold 14 more bytes than the snaplen says (libpcap allows it).
    if (header.modified && header.linkType === 1) this.snapshot += 14;
    this.maxCaplen = maxSnaplenForLinkType(header.linkType);
    const iface: CaptureInterface = {
      id: 0,
      section: 0,
      linkType: header.linkType,
      snaplen: header.snaplen,
      effectiveSnaplen: this.snapshot,
      tsresol: this.ns ? NANOSECONDS : MICROSECONDS,
      tsoffset: 0,
      ...(header.fcsLength !== undefined ? { fcsLength: header.fcsLength } : {}),
    };
    this.iface = iface;
    this.interfaces = [iface];
  }

  decode(buf: Uint8Array, view: DataView, pos: number, end: number, fileOffset: number): number {
    const hdrSize = this.recordHeaderSize;
    if (end - pos < hdrSize) return -hdrSize;
    const le = this.le;
    let seconds = view.getUint32(pos, le);
    let frac = view.getUint32(pos + 4, le);
    let caplen = view.getUint32(pos + 8, le);
    let wireLength = view.getUint32(pos + 12, le);
    if (this.lengths !== LengthOrder.Normal && (this.lengths === LengthOrder.Swapped || caplen > wireLength)) {
      const t = caplen;
      caplen = wireLength;
      wireLength = t;
    }
    if (caplen > this.maxCaplen) {
      throw new PcapFormatError(
        caplen > this.snapshot
          ? `invalid packet capture length ${caplen}, bigger than snaplen of ${this.snapshot}`
          : `invalid packet capture length ${caplen}, bigger than maximum of ${this.maxCaplen}`,
        fileOffset,
        this.path,
      );
    }
    const total = hdrSize + caplen;
    if (end - pos < total) return -total;
    let keep = caplen;
    if (caplen > this.snapshot) {
      keep = this.snapshot;
      if (!this.clampWarned) {
        this.clampWarned = true;
        this.warn({
          kind: 'clamped',
          offset: fileOffset,
          message: `packet capture length ${caplen} is bigger than the snaplen of ${this.snapshot}; packets are cut to ${this.snapshot} bytes, as libpcap does`,
        });
      }
    }
    if (this.ns) {
      if (frac >= 1_000_000_000) {
        seconds += Math.floor(frac / 1_000_000_000);
        frac %= 1_000_000_000;
      }
    } else {
      if (frac >= 1_000_000) {
        seconds += Math.floor(frac / 1_000_000);
        frac %= 1_000_000;
      }
      frac *= 1000;
    }
    const start = pos + hdrSize;
    this.packet = {
      data: buf.subarray(start, start + keep),
      wireLength,
      seconds,
      nanos: frac,
      linkType: this.linkType,
      interfaceId: 0,
      iface: this.iface,
    };
    return total;
  }

  scan(_buf: Uint8Array, view: DataView, pos: number, end: number, batch: PacketBatch): number {
    // Old versions (swapped lengths) and Kuznetzov's headers take the record-by-record path.
    if (this.lengths !== LengthOrder.Normal || this.recordHeaderSize !== 16) return pos;
    if (batch.count === 0) batch.iface = this.iface;
    else if (batch.iface !== this.iface) return pos;
    const le = this.le;
    const snap = this.snapshot;
    const { records, offsets, caplens, wireLengths } = batch;
    let n = batch.count;
    while (n < BATCH_CAPACITY && end - pos >= 16) {
      const caplen = view.getUint32(pos + 8, le);
      // Cut to the snaplen, damaged or incomplete: decode() handles it.
      if (caplen > snap || end - pos - 16 < caplen) break;
      records[n] = pos;
      offsets[n] = pos + 16;
      caplens[n] = caplen;
      wireLengths[n] = view.getUint32(pos + 12, le);
      n++;
      pos += 16 + caplen;
    }
    batch.count = n;
    return pos;
  }
}

export interface PcapWriteOptions {
  linkType: number;
  /** Default 262144. */
  snaplen?: number;
  /** 'us' (magic 0xa1b2c3d4, the default) or 'ns' (0xa1b23c4d). */
  precision?: 'us' | 'ns';
  /** Default 'le'. */
  byteOrder?: 'le' | 'be';
  /** FCS length in bytes (even, 0..30) to record in the link-type field. */
  fcsLength?: number;
}

/** The 24-byte pcap file header. */
export function encodePcapHeader(options: PcapWriteOptions): Uint8Array {
  const out = new Uint8Array(PCAP_HEADER_SIZE);
  const view = new DataView(out.buffer);
  const le = (options.byteOrder ?? 'le') === 'le';
  view.setUint32(0, options.precision === 'ns' ? PCAP_MAGIC_NS : PCAP_MAGIC_US, le);
  view.setUint16(4, 2, le);
  view.setUint16(6, 4, le);
  view.setInt32(8, 0, le);
  view.setUint32(12, 0, le);
  view.setUint32(16, options.snaplen ?? 262144, le);
  let field = options.linkType & LT_LINKTYPE_MASK;
  if (options.fcsLength !== undefined) field |= LT_FCS_LENGTH_PRESENT | (((options.fcsLength / 2) & 0xf) << 28);
  view.setUint32(20, field >>> 0, le);
  return out;
}
