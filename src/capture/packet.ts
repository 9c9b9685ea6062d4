import type { CaptureInterface } from './interface.js';

/**
 * A captured packet, as every reader yields it and every writer takes it.
 */
export interface Packet {
  /** The captured bytes (caplen = data.length). */
  data: Uint8Array;
  /** The length on the wire (may exceed data.length when the capture was truncated by snaplen). */
  wireLength: number;
  /** Seconds since the Unix epoch. */
  seconds: number;
  /** Nanoseconds within the second, 0..999,999,999 (microsecond files give multiples of 1000). */
  nanos: number;
  /** LINKTYPE_ value of the packet's interface (pcap: the file's; pcapng: its IDB's). */
  linkType: number;
  /** pcapng interface index within its section (0 for pcap files). */
  interfaceId: number;
  /**
   * The interface the packet came from, when it was read from a file (readers
   * always set it). Writers use it to keep pcapng interfaces apart across
   * sections; packets made by hand may leave it out.
   */
  iface?: CaptureInterface;
}
