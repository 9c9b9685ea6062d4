/**
 * Packets in batches, for callers that look at most packets only through a
 * classic BPF filter (bpfkit read): instead of a Packet object and a view per
 * packet, a batch lists where each packet of one chunk lies — the shape
 * bpfkit/cbpf's jitBatch() filters in a single call. The Packet of an entry
 * is made only when asked for (`packet(i)`), e.g. for the packets a filter
 * kept.
 *
 * All packets of a batch come from one interface. A batch (and its buffer)
 * is only valid during the callback that receives it.
 */
import type { CaptureInterface } from './interface.js';
import type { Packet } from './packet.js';
import type { RecordDecoder } from './record.js';

export const BATCH_CAPACITY = 4096;

export class PacketBatch {
  /** The bytes the packets are in. */
  buffer: Uint8Array = new Uint8Array(0);
  view: DataView = new DataView(new ArrayBuffer(0));
  /** Packet i is buffer[offsets[i] .. offsets[i] + caplens[i]). */
  readonly offsets: Uint32Array;
  readonly caplens: Uint32Array;
  readonly wireLengths: Uint32Array;
  /** Where packet i's record starts in `buffer` (to decode the whole Packet on demand). */
  readonly records = new Uint32Array(BATCH_CAPACITY);
  count = 0;
  /** The interface all packets of this batch come from. */
  iface: CaptureInterface | undefined;
  /** File offset of buffer[0]. */
  base = 0;
  /** @internal the decoder that can decode an entry's record again. */
  decoder: RecordDecoder | undefined;

  /**
   * A batch with its own arrays, or with the given ones (each of at least
   * BATCH_CAPACITY entries): e.g. views into a WebAssembly memory that a
   * filter reads them from (bpfkit/cbpf's jitWasmBatch).
   */
  constructor(arrays?: { offsets: Uint32Array; caplens: Uint32Array; wireLengths: Uint32Array }) {
    for (const a of arrays !== undefined ? [arrays.offsets, arrays.caplens, arrays.wireLengths] : []) {
      if (a.length < BATCH_CAPACITY) throw new RangeError(`a packet batch's arrays need ${BATCH_CAPACITY} entries, not ${a.length}`);
    }
    this.offsets = arrays?.offsets ?? new Uint32Array(BATCH_CAPACITY);
    this.caplens = arrays?.caplens ?? new Uint32Array(BATCH_CAPACITY);
    this.wireLengths = arrays?.wireLengths ?? new Uint32Array(BATCH_CAPACITY);
  }

  /** @internal start a batch over `buffer`. */
  reset(buffer: Uint8Array, view: DataView, base: number, decoder: RecordDecoder): void {
    this.buffer = buffer;
    this.view = view;
    this.base = base;
    this.decoder = decoder;
    this.count = 0;
    this.iface = undefined;
  }

  /** The whole Packet (timestamps and all) of entry i. */
  packet(i: number): Packet {
    if (!(i >= 0 && i < this.count)) throw new RangeError(`batch entry ${i} of ${this.count}`);
    const d = this.decoder!;
    const at = this.records[i]!;
    d.decode(this.buffer, this.view, at, this.buffer.length, this.base + at);
    return d.packet!;
  }
}
