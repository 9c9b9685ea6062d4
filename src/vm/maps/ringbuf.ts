/**
 * BPF_MAP_TYPE_RINGBUF: a multi-producer, single-consumer byte ring in VM
 * memory, laid out as the kernel's: each record is an 8-byte header
 * (u32 len with BUSY and DISCARD bits, u32 page offset) and the data, the
 * whole rounded up to 8 bytes. Positions only grow; a reservation fails when
 * it would put the producer more than size - 1 bytes ahead of the consumer or
 * of the oldest uncommitted record. Reserved records are regions a program
 * may write until it submits or discards them. The data area is followed by
 * a spill area of the same size, so a record that wraps stays contiguous for
 * the program; committing copies the spilled part to the ring's start.
 */
import { errnoError } from '../errors.js';
import { Errno } from '../../ebpf/engine.js';
import type { MapSpec } from '../../ebpf/spec.js';
import type { Region } from '../regions.js';
import { VmMap, type MapHost } from './map.js';

export const RINGBUF_BUSY_BIT = 0x8000_0000;
export const RINGBUF_DISCARD_BIT = 0x4000_0000;
const HDR = 8;
/** Query flags of bpf_ringbuf_query. */
export const RingbufQuery = { AVAIL_DATA: 0, RING_SIZE: 1, CONS_POS: 2, PROD_POS: 3 } as const;

export class RingBufMap extends VmMap {
  readonly ringSize: number;
  private readonly mask: number;
  private readonly base: number;
  consumerPos = 0;
  producerPos = 0;
  private pendingPos = 0;
  /** Reserved records by data address. */
  private readonly reserved = new Map<number, { pos: number; size: number; region: Region }>();

  constructor(host: MapHost, spec: MapSpec, id: number) {
    super(host, spec, id);
    this.ringSize = spec.maxEntries;
    this.mask = spec.maxEntries - 1;
    try {
      this.base = host.mem.alloc(2 * spec.maxEntries);
    } catch (e) {
      throw errnoError('map create', Errno.ENOMEM, `ring buffer '${spec.name}': ${(e as Error).message}`);
    }
  }

  progLookup(): number {
    return 0;
  }

  /** bpf_ringbuf_reserve: the address of `size` writable bytes, or 0 when there is no room. */
  reserve(size: number): number {
    if (size > 0x3fff_ffff) return 0;
    const len = Math.ceil((size + HDR) / 8) * 8;
    if (len > this.ringSize) return 0;
    const dv = this.host.mem.dv;
    let pend = this.pendingPos;
    while (pend < this.producerPos) {
      const hdrLen = dv.getUint32(this.base + (pend & this.mask), true);
      if (hdrLen & RINGBUF_BUSY_BIT) break;
      pend += Math.ceil(((hdrLen & ~RINGBUF_DISCARD_BIT) + HDR) / 8) * 8;
    }
    this.pendingPos = pend;
    const newProd = this.producerPos + len;
    if (newProd - this.consumerPos > this.mask || newProd - pend > this.mask) return 0;
    const hdr = this.base + (this.producerPos & this.mask);
    dv.setUint32(hdr, (size | RINGBUF_BUSY_BIT) >>> 0, true);
    // The kernel's page offset from the ring structure: three pages of positions precede the data.
    dv.setUint32(hdr + 4, 3 + ((this.producerPos & this.mask) >>> 12), true);
    const data = hdr + HDR;
    this.host.mem.u8.fill(0, data, data + size);
    const region = this.host.mem.regions.add({
      start: data,
      end: data + Math.max(size, 1),
      kind: 'ringbuf',
      name: `record of ring buffer '${this.name}'`,
      writable: true,
    });
    this.reserved.set(data, { pos: this.producerPos, size, region });
    this.producerPos = newProd;
    return data;
  }

  /** bpf_ringbuf_submit / bpf_ringbuf_discard; false when `address` is not a reserved record. */
  commit(address: number, discard: boolean): boolean {
    const r = this.reserved.get(address);
    if (!r) return false;
    this.reserved.delete(address);
    this.host.mem.regions.remove(r.region);
    const start = r.pos & this.mask;
    const end = start + HDR + r.size;
    if (end > this.ringSize) {
      // The record ran into the spill area: move that part to the ring's start.
      const u8 = this.host.mem.u8;
      u8.copyWithin(this.base, this.base + this.ringSize, this.base + end);
    }
    const len = (r.size | (discard ? RINGBUF_DISCARD_BIT : 0)) >>> 0;
    this.host.mem.dv.setUint32(this.base + start, len, true);
    return true;
  }

  /** Whether `address` is the data of a record reserved and not yet committed. */
  isReserved(address: number): boolean {
    return this.reserved.has(address);
  }

  /** Discard every record still reserved (a program that exited without releasing them). */
  discardAll(): void {
    for (const a of [...this.reserved.keys()]) this.commit(a, true);
  }

  /** bpf_ringbuf_output: 0, or EAGAIN when there is no room. */
  output(data: Uint8Array): number {
    const a = this.reserve(data.length);
    if (a === 0) return Errno.EAGAIN;
    this.host.mem.u8.set(data, a);
    this.commit(a, false);
    return 0;
  }

  query(flags: number): number {
    switch (flags) {
      case RingbufQuery.AVAIL_DATA:
        return this.producerPos - this.consumerPos;
      case RingbufQuery.RING_SIZE:
        return this.ringSize;
      case RingbufQuery.CONS_POS:
        return this.consumerPos;
      case RingbufQuery.PROD_POS:
        return this.producerPos;
      default:
        return 0;
    }
  }

  /**
   * Consume the committed records in order, as a user-space reader of the
   * kernel's ring does: stops at the first record still reserved; discarded
   * records are skipped.
   */
  read(max = Infinity): Uint8Array[] {
    const out: Uint8Array[] = [];
    const dv = this.host.mem.dv;
    const u8 = this.host.mem.u8;
    while (this.consumerPos < this.producerPos && out.length < max) {
      const at = this.consumerPos & this.mask;
      const len = dv.getUint32(this.base + at, true);
      if (len & RINGBUF_BUSY_BIT) break;
      const size = len & ~(RINGBUF_BUSY_BIT | RINGBUF_DISCARD_BIT);
      if (!(len & RINGBUF_DISCARD_BIT)) {
        const rec = new Uint8Array(size);
        const from = at + HDR;
        for (let i = 0; i < size; i++) rec[i] = u8[this.base + ((from + i) & this.mask)]!;
        out.push(rec);
      }
      this.consumerPos += Math.ceil((size + HDR) / 8) * 8;
    }
    return out;
  }

  protected userGet(): Uint8Array | number {
    return Errno.ENOTSUPP;
  }

  protected put(): number {
    return Errno.ENOTSUPP;
  }

  protected remove(): number {
    return Errno.ENOTSUPP;
  }

  protected next(): Uint8Array | number {
    return Errno.ENOTSUPP;
  }

  protected override release(): void {
    for (const r of this.reserved.values()) this.host.mem.regions.remove(r.region);
    this.reserved.clear();
    this.host.mem.release(this.base);
  }
}
