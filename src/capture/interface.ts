/**
 * What a capture says about where its packets came from: for pcap, the file
 * header (one interface); for pcapng, one Interface Description Block per
 * interface, numbered from 0 within each section.
 */

/** Timestamp units of an interface: 10^-exponent or 2^-exponent seconds (pcapng if_tsresol). */
export interface TimestampResolution {
  base: 10 | 2;
  exponent: number;
}

export const MICROSECONDS: TimestampResolution = Object.freeze({ base: 10, exponent: 6 });
export const NANOSECONDS: TimestampResolution = Object.freeze({ base: 10, exponent: 9 });

export interface CaptureInterface {
  /** Index within its section (pcapng interface ID; 0 for pcap). */
  readonly id: number;
  /** Index of the pcapng section (0 for pcap and for the first section). */
  readonly section: number;
  /** LINKTYPE_ value. */
  readonly linkType: number;
  /** The snapshot length the file states (0 means "no limit" in pcapng). */
  readonly snaplen: number;
  /** The snapshot length libpcap would use: 0 or above the maximum becomes the maximum (262144). */
  readonly effectiveSnaplen: number;
  /** Units of the timestamps stored in the file for this interface. */
  readonly tsresol: TimestampResolution;
  /** Seconds added to every timestamp (pcapng if_tsoffset). */
  readonly tsoffset: number;
  /** FCS length in bytes, when the file says (pcap header bits 28-31 with bit 26; pcapng if_fcslen). */
  readonly fcsLength?: number;
  /** pcapng if_name / if_description / if_filter / if_os. */
  readonly name?: string;
  readonly description?: string;
  readonly filter?: string;
  readonly os?: string;
}
