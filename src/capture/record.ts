/**
 * The contract between a file format (pcap.ts, pcapng.ts) and the drivers
 * that feed it bytes (reader.ts): a record decoder looks at the bytes from
 * `pos` to `end` of a buffer and either consumes one whole record, or says
 * how many bytes from `pos` it needs before it can.
 *
 * Decoders never copy packet bytes: a packet's data is a subarray view of the
 * buffer it was decoded from.
 */
import type { PacketBatch } from './batch.js';
import type { CaptureWarning } from './errors.js';
import type { CaptureInterface } from './interface.js';
import type { Packet } from './packet.js';

export interface RecordDecoder {
  /**
   * Decode the record starting at buf[pos]. `fileOffset` is that byte's offset
   * in the file (for error messages).
   *
   * Returns the number of bytes consumed (> 0); `packet` is then the packet the
   * record held, or null for a record that holds none (pcapng IDB, NRB, ...).
   * Returns -n when the record is incomplete and n bytes (counted from pos,
   * n > end - pos) are needed to go on; the decoder's state is then unchanged.
   *
   * Throws PcapFormatError for damage.
   */
  decode(buf: Uint8Array, view: DataView, pos: number, end: number, fileOffset: number): number;
  packet: Packet | null;
  /**
   * Batch mode: list in `batch` the packets of the complete, ordinary records
   * from `pos` on (all of one interface), stopping at the first record it does
   * not handle this way (cut short, damaged, cut to the snaplen, not a packet,
   * another interface) or when the batch is full. Returns where it stopped;
   * decode() then deals with the record there.
   */
  scan(buf: Uint8Array, view: DataView, pos: number, end: number, batch: PacketBatch): number;
  /** Interfaces seen so far, in order of appearance (across sections for pcapng). */
  readonly interfaces: readonly CaptureInterface[];
}

/** Where decoders report survivable oddities. */
export type WarningSink = (warning: CaptureWarning) => void;
