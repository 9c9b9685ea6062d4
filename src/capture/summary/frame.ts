/**
 * What the packet printers share while they walk down one packet: its bytes
 * and the printer's state (the TCP conversation table tcpdump uses to print
 * relative sequence numbers).
 *
 * Every printer takes (frame, off, end, len): the layer starts at `off`, its
 * captured bytes end at `end` (never past the packet's captured length, and
 * never past the end its enclosing header declares), and `len` is its length
 * on the wire. A printer reads only below `end` and returns text; it never
 * throws for a malformed packet.
 */

export interface TcpState {
  /** Initial sequence numbers per conversation, keyed by addresses and ports. */
  readonly seqs: Map<string, { seq: number; ack: number }>;
}

export interface Frame {
  readonly d: Uint8Array;
  readonly state: TcpState;
  /** Nesting depth (tunnels), to bound recursion on crafted packets. */
  depth: number;
}

/** Where an IP header put its transport header, for the transport printers. */
export interface IpContext {
  /** Printed addresses. */
  src: string;
  dst: string;
  /** Raw address bytes (for the TCP conversation key). */
  srcKey: string;
  dstKey: string;
  v6: boolean;
  /** True when the transport header follows the fixed IP header directly (tcpdump then prints addresses with the ports). */
  direct: boolean;
}
