/**
 * One line per packet, in the spirit of `tcpdump -n`: the time of day, then
 * what the packet is, e.g.
 *
 *   01:28:19.320328 IP 127.0.0.1.41878 > 127.0.0.1.80: Flags [P.], seq 1:74, ack 1, win 64, options [nop,nop,TS val 4121874842 ecr 1367871895], length 73: HTTP: GET / HTTP/1.1
 *
 * A Summarizer keeps tcpdump's TCP conversation table (for relative sequence
 * numbers), so use one per capture. Malformed packets never throw: what
 * cannot be read is shown as `[|proto]`, and unknown link types as
 * `unknown link type N`.
 */
import { MAXIMUM_SNAPLEN } from '../linktype.js';
import type { Packet } from '../packet.js';
import type { Frame, TcpState } from './frame.js';
import { linkSummary } from './link.js';

export interface SummaryOptions {
  /** 'local' (tcpdump's default), 'utc', or 'none' (no timestamp). */
  time?: 'local' | 'utc' | 'none';
  /** Print nanoseconds (9 digits) instead of microseconds (6), like tcpdump --nano. */
  nano?: boolean;
  /** Relative TCP sequence numbers (default true; tcpdump -S turns them off). */
  relativeSeq?: boolean;
  /** Override the packet's link type (bpfkit read -y). */
  linkType?: number;
}

const pad2 = (n: number): string => (n < 10 ? '0' : '') + n;

export class Summarizer {
  private readonly state: TcpState = { seqs: new Map() };
  private readonly time: 'local' | 'utc' | 'none';
  private readonly nano: boolean;
  private readonly relative: boolean;
  private readonly linkType: number | undefined;
  private lastSecond = NaN;
  private lastClock = '';

  constructor(options: SummaryOptions = {}) {
    this.time = options.time ?? 'local';
    this.nano = options.nano ?? false;
    this.relative = options.relativeSeq ?? true;
    this.linkType = options.linkType;
  }

  /** `HH:MM:SS.ffffff` for the packet's timestamp. */
  timestamp(seconds: number, nanos: number): string {
    if (seconds !== this.lastSecond) {
      const date = new Date(seconds * 1000);
      const utc = this.time === 'utc';
      const h = utc ? date.getUTCHours() : date.getHours();
      const m = utc ? date.getUTCMinutes() : date.getMinutes();
      const s = utc ? date.getUTCSeconds() : date.getSeconds();
      this.lastClock = Number.isNaN(h) ? '??:??:??' : `${pad2(h)}:${pad2(m)}:${pad2(s)}`;
      this.lastSecond = seconds;
    }
    const frac = this.nano ? String(nanos).padStart(9, '0') : String(Math.floor(nanos / 1000)).padStart(6, '0');
    return `${this.lastClock}.${frac}`;
  }

  /** The summary without the timestamp. */
  describe(packet: Packet): string {
    const frame: Frame = { d: packet.data, state: this.state, depth: 0 };
    const text = linkSummary(frame, this.linkType ?? packet.linkType, packet.wireLength);
    if (!this.relative) this.state.seqs.clear();
    return text;
  }

  /** The whole line (without a newline). */
  line(packet: Packet): string {
    const invalid = invalidHeader(packet.data.length, packet.wireLength);
    if (invalid !== undefined) return invalid;
    const text = this.describe(packet);
    return this.time === 'none' ? text : `${this.timestamp(packet.seconds, packet.nanos)} ${text}`;
  }
}

/**
 * tcpdump's line for a record whose lengths make no sense (printed instead of
 * the timestamp and summary): `[Invalid header: caplen==0, len==0]`.
 */
function invalidHeader(caplen: number, len: number): string | undefined {
  const why: string[] = [];
  if (caplen === 0) why.push('caplen==0');
  if (len === 0) why.push('len==0');
  else if (len < caplen) why.push(`len(${len}) < caplen(${caplen})`);
  if (caplen > MAXIMUM_SNAPLEN) why.push(`caplen(${caplen}) > ${MAXIMUM_SNAPLEN}`);
  return why.length === 0 ? undefined : `[Invalid header: ${why.join(', ')}]`;
}

/** A one-off summary line (no TCP conversation state carried between calls). */
export function summarize(packet: Packet, options: SummaryOptions = {}): string {
  return new Summarizer(options).line(packet);
}
