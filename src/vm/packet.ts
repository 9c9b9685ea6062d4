/**
 * Packet data of a socket-filter, tc or XDP run, in VM memory, laid out as
 * BPF_PROG_TEST_RUN lays it out in the kernel:
 *
 * - skb: NET_SKB_PAD (64) bytes of headroom, the frame, and room for
 *   struct skb_shared_info (320) after it; a socket filter's skb->data is the
 *   network header (the Ethernet header is pulled), tc's is the MAC header;
 * - xdp: one 4 KiB frame, data at XDP_PACKET_HEADROOM (256), data_meta = data,
 *   and the last 320 bytes kept for skb_shared_info.
 *
 * The program may touch [data_meta, data_end) (one 'packet' region, moved
 * when a helper adjusts the bounds). The context fields data / data_end /
 * data_meta are rewritten whenever the bounds move.
 */
import type { VmMemory } from './memory.js';
import type { Region } from './regions.js';

export const ETH_HLEN = 14;
export const NET_SKB_PAD = 64;
export const XDP_PACKET_HEADROOM = 256;
export const XDP_FRAME_SIZE = 4096;
/** SKB_DATA_ALIGN(sizeof(struct skb_shared_info)) on x86-64. */
export const SKB_SHARED_INFO = 320;
/** sizeof(struct xdp_frame): XDP keeps it at the start of the headroom. */
export const XDP_FRAME_HEADER = 40;
/** Largest frame of a test run without fragments. */
export const SKB_MAX_DATA = 4096 - NET_SKB_PAD - SKB_SHARED_INFO;
export const XDP_MAX_DATA = XDP_FRAME_SIZE - XDP_PACKET_HEADROOM - SKB_SHARED_INFO;
/** Offsets of the legacy packet loads (LD_ABS/LD_IND) relative to the network and MAC headers. */
const SKF_NET_OFF = -0x100000;
const SKF_LL_OFF = -0x200000;

export interface PacketLayout {
  kind: 'skb' | 'xdp';
  /** Start and end of the whole buffer (data_hard_start .. end of the allocation). */
  block: number;
  blockEnd: number;
  /** Last byte + 1 the data may grow to (xdp: data_hard_end). */
  limit: number;
  meta: number;
  data: number;
  end: number;
  /** MAC and network header addresses (skb). */
  mac: number;
  net: number;
}

export class Packet implements PacketLayout {
  kind: 'skb' | 'xdp';
  block: number;
  blockEnd: number;
  limit: number;
  meta: number;
  data: number;
  end: number;
  mac: number;
  net: number;
  readonly region: Region;
  /** Context to keep in step: its address and the offsets of its data, data_end, data_meta fields (-1: none). */
  ctx = 0;
  ctxFields: [number, number, number] = [-1, -1, -1];

  constructor(
    private readonly mem: VmMemory,
    layout: PacketLayout,
  ) {
    this.kind = layout.kind;
    this.block = layout.block;
    this.blockEnd = layout.blockEnd;
    this.limit = layout.limit;
    this.meta = layout.meta;
    this.data = layout.data;
    this.end = layout.end;
    this.mac = layout.mac;
    this.net = layout.net;
    this.region = mem.regions.add({
      start: this.meta,
      end: Math.max(this.end, this.meta + 1),
      kind: 'packet',
      name: 'packet',
      writable: true,
    });
  }

  get length(): number {
    return this.end - this.data;
  }

  /** Move the bounds (after xdp_adjust_head/tail/meta) and keep the region and the context in step. */
  setBounds(meta: number, data: number, end: number): void {
    this.meta = meta;
    this.data = data;
    this.end = end;
    this.mem.regions.resize(this.region, meta, Math.max(end, meta + 1));
    this.syncContext();
  }

  syncContext(): void {
    const dv = this.mem.dv;
    const [d, e, m] = this.ctxFields;
    if (d >= 0) dv.setUint32(this.ctx + d, this.data, true);
    if (e >= 0) dv.setUint32(this.ctx + e, this.end, true);
    if (m >= 0) dv.setUint32(this.ctx + m, this.meta, true);
  }

  /**
   * A legacy packet load: `size` bytes at `offset` from skb->data (or from the
   * network / MAC header with SKF_NET_OFF / SKF_LL_OFF), big-endian; -1 when
   * out of bounds.
   */
  loadAbs(offset: number, size: number): number {
    let at: number;
    if (offset >= 0) {
      if (offset + size > this.length) return -1;
      at = this.data + offset;
    } else if (offset >= SKF_NET_OFF) {
      at = this.net + offset - SKF_NET_OFF;
    } else if (offset >= SKF_LL_OFF) {
      at = this.mac + offset - SKF_LL_OFF;
    } else {
      return -1;
    }
    if (at < this.block || at + size > this.end) return -1;
    const dv = this.mem.dv;
    return size === 4 ? dv.getUint32(at, false) : size === 2 ? dv.getUint16(at, false) : dv.getUint8(at);
  }

  /** Bytes [offset, offset + len) from data, or undefined when out of bounds. */
  slice(offset: number, len: number): Uint8Array | undefined {
    if (offset < 0 || len < 0 || offset + len > this.length) return undefined;
    return this.mem.u8.subarray(this.data + offset, this.data + offset + len);
  }

  dispose(): void {
    this.mem.regions.remove(this.region);
  }
}
