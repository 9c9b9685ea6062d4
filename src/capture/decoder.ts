/**
 * Format detection and the decoder for a whole capture: it reads the file
 * header (pcap) or the first Section Header Block (pcapng), then hands every
 * record to the format's decoder. It also words the end-of-input cases the
 * way libpcap does: an empty or cut header is an error, a cut last record is
 * a warning.
 */
import type { PacketBatch } from './batch.js';
import type { CaptureWarning } from './errors.js';
import { PcapFormatError } from './errors.js';
import type { CaptureInterface } from './interface.js';
import type { Packet } from './packet.js';
import type { PcapHeader } from './pcap.js';
import { PCAP_HEADER_SIZE, PcapDecoder, parsePcapHeader, pcapMagicByteOrder } from './pcap.js';
import type { PcapngSection } from './pcapng.js';
import { BT_SHB, PcapngDecoder } from './pcapng.js';
import type { RecordDecoder } from './record.js';

export type CaptureFormat = 'pcap' | 'pcapng';

/** What the start of a capture says; known once the reader is open. */
export interface CaptureInfo {
  format: CaptureFormat;
  /** pcap: the file's byte order; pcapng: the first section's. */
  byteOrder: 'le' | 'be';
  /** pcap: the magic's timestamp precision; pcapng: 'ns' when any interface is finer than µs, else 'us'. */
  precision: 'us' | 'ns';
  versionMajor: number;
  versionMinor: number;
  /** pcap: the header's link type; pcapng: the first interface's. */
  linkType: number;
  /** pcap: the header's snaplen; pcapng: the first interface's. */
  snaplen: number;
  /** pcap only: the whole file header. */
  pcapHeader?: PcapHeader;
}

export interface DecoderOptions {
  /** Name for error messages. */
  path?: string;
  /** Called for each warning as it happens (they are also collected in `warnings`). */
  onWarning?: (warning: CaptureWarning) => void;
}

export class CaptureDecoder implements RecordDecoder {
  packet: Packet | null = null;
  inner: PcapDecoder | PcapngDecoder | undefined;
  format: CaptureFormat | undefined;
  readonly warnings: CaptureWarning[] = [];
  private readonly path: string | undefined;
  private readonly onWarning: ((w: CaptureWarning) => void) | undefined;

  constructor(options: DecoderOptions = {}) {
    this.path = options.path;
    this.onWarning = options.onWarning;
  }

  get interfaces(): readonly CaptureInterface[] {
    return this.inner?.interfaces ?? [];
  }

  /** pcapng sections seen so far (empty for pcap). */
  get sections(): readonly PcapngSection[] {
    return this.inner instanceof PcapngDecoder ? this.inner.sections : [];
  }

  /** True once the header is read and, for pcapng, the first interface is known. */
  get ready(): boolean {
    return this.inner !== undefined && this.inner.interfaces.length > 0;
  }

  get info(): CaptureInfo | undefined {
    const inner = this.inner;
    if (inner === undefined || inner.interfaces.length === 0) return undefined;
    if (inner instanceof PcapDecoder) {
      const h = inner.header;
      return {
        format: 'pcap',
        byteOrder: h.byteOrder,
        precision: h.precision,
        versionMajor: h.versionMajor,
        versionMinor: h.versionMinor,
        linkType: h.linkType,
        snaplen: h.snaplen,
        pcapHeader: h,
      };
    }
    const first = inner.interfaces[0]!;
    const s = inner.sections[0]!;
    const fine = inner.interfaces.some((i) => (i.tsresol.base === 10 ? i.tsresol.exponent > 6 : i.tsresol.exponent > 19));
    return {
      format: 'pcapng',
      byteOrder: s.byteOrder,
      precision: fine ? 'ns' : 'us',
      versionMajor: s.versionMajor,
      versionMinor: s.versionMinor,
      linkType: first.linkType,
      snaplen: first.snaplen,
    };
  }

  readonly warn = (w: CaptureWarning): void => {
    this.warnings.push(w);
    this.onWarning?.(w);
  };

  decode(buf: Uint8Array, view: DataView, pos: number, end: number, fileOffset: number): number {
    const inner = this.inner;
    if (inner !== undefined) {
      const r = inner.decode(buf, view, pos, end, fileOffset);
      this.packet = inner.packet;
      return r;
    }
    this.packet = null;
    if (end - pos < 4) return -4;
    const magic = view.getUint32(pos, true);
    if (pcapMagicByteOrder(magic) !== undefined) {
      if (end - pos < PCAP_HEADER_SIZE) return -PCAP_HEADER_SIZE;
      const header = parsePcapHeader(view, pos, this.path);
      this.inner = new PcapDecoder(header, this.path, this.warn);
      this.format = 'pcap';
      return PCAP_HEADER_SIZE;
    }
    if (magic === BT_SHB) {
      const ng = new PcapngDecoder(this.path);
      const r = ng.decode(buf, view, pos, end, fileOffset);
      if (r > 0) {
        this.inner = ng;
        this.format = 'pcapng';
      }
      return r;
    }
    throw new PcapFormatError('unknown file format', fileOffset, this.path);
  }

  scan(buf: Uint8Array, view: DataView, pos: number, end: number, batch: PacketBatch): number {
    return this.inner === undefined ? pos : this.inner.scan(buf, view, pos, end, batch);
  }

  /**
   * The input ended. `have` bytes of an incomplete record starting at
   * `fileOffset` were left (0 when the input ended between records), and the
   * decoder wanted `need` bytes. Throws for a cut or missing header; warns for
   * a cut record.
   */
  finish(fileOffset: number, have: number, need: number): void {
    const inner = this.inner;
    if (inner === undefined) {
      if (have === 0 && fileOffset === 0) {
        throw new PcapFormatError('truncated dump file; tried to read 4 file header bytes, only got 0', 0, this.path);
      }
      const what = need === PCAP_HEADER_SIZE ? `${need} file header bytes` : `${need} bytes of the Section Header Block`;
      throw new PcapFormatError(`truncated dump file; tried to read ${what}, only got ${have}`, fileOffset, this.path);
    }
    if (inner instanceof PcapngDecoder && inner.interfaces.length === 0) {
      throw new PcapFormatError('the capture file has no Interface Description Blocks', fileOffset, this.path);
    }
    if (have === 0) return;
    let message: string;
    if (inner instanceof PcapDecoder) {
      const hdr = inner.header.modified ? 24 : 16;
      message =
        have < hdr || need <= hdr
          ? `truncated dump file; tried to read ${hdr} header bytes, only got ${have}`
          : `truncated dump file; tried to read ${need - hdr} captured bytes, only got ${have - hdr}`;
    } else {
      message = `truncated pcapng dump file; tried to read ${need} bytes, only got ${have}`;
    }
    this.warn({ kind: 'truncated', offset: fileOffset, message: `${message} (at byte offset ${fileOffset})` });
  }
}
