/**
 * IPv4 and IPv6 (with extension headers), as tcpdump -n prints them:
 *   IP 192.0.2.1.1234 > 192.0.2.2.80: Flags [S], ...
 *   IP6 fe80::1 > ff02::16: HBH ICMP6, multicast listener report v2, ...
 *   IP 192.0.2.1 > 192.0.2.2: ip-proto-17          (a later fragment)
 *   IP truncated-ip - 20 bytes missing! ...         (IP length beyond the frame)
 */
import { ipv4, ipv6, u16, u32 } from './bytes.js';
import type { Frame, IpContext } from './frame.js';
import { icmp6Summary, icmpSummary } from './icmp.js';
import { tcpSummary, udpSummary } from './transport.js';

const MAX_DEPTH = 8;

const PROTO_NAMES: Record<number, string> = {
  2: 'IGMP',
  8: 'EGP',
  9: 'IGRP',
  33: 'DCCP',
  46: 'RSVP',
  47: 'GRE',
  88: 'EIGRP',
  89: 'OSPF',
  103: 'PIM',
  112: 'VRRP',
  115: 'L2TP',
  132: 'SCTP',
};

function rawKey(d: Uint8Array, o: number, n: number): string {
  let s = '';
  for (let i = 0; i < n; i++) s += String.fromCharCode(d[o + i]!);
  return s;
}

/** TCP and UDP print the addresses with their ports; everything else gets "src > dst: " first. */
const ownsAddresses = (nh: number): boolean => nh === 6 || nh === 17;

/** The payload of an IP packet (protocol `nh`), without the "src > dst: " that non-TCP/UDP payloads get. */
function payload(f: Frame, ip: IpContext, nh: number, off: number, end: number, len: number): string {
  const d = f.d;
  switch (nh) {
    case 6:
      return tcpSummary(f, ip, off, end, len);
    case 17:
      return udpSummary(f, ip, off, end, len);
    case 1:
      return icmpSummary(d, off, end, len);
    case 58:
      return icmp6Summary(d, off, end, len);
    case 4:
      return ip4Summary(f, off, end, len);
    case 41:
      return ip6Summary(f, off, end, len);
    case 50:
      if (end - off < 8) return 'ESP [|esp]';
      return `ESP(spi=0x${u32(d, off).toString(16).padStart(8, '0')},seq=0x${u32(d, off + 4).toString(16)}), length ${len}`;
    case 51: {
      if (end - off < 12) return 'AH [|ah]';
      const ahLen = (d[off + 1]! + 2) * 4;
      const text = `AH(spi=0x${u32(d, off + 4).toString(16).padStart(8, '0')},seq=0x${u32(d, off + 8).toString(16)}): `;
      if (ahLen > len || f.depth++ > MAX_DEPTH) return text + '[|ah]';
      return text + payload(f, { ...ip, direct: false }, d[off]!, off + ahLen, end, len - ahLen);
    }
    default: {
      const name = PROTO_NAMES[nh];
      return name !== undefined ? `${name}, length ${len}` : ` ip-proto-${nh} ${len}`;
    }
  }
}

function demux(f: Frame, ip: IpContext, nh: number, off: number, end: number, len: number): string {
  const text = payload(f, ip, nh, off, end, len);
  return ownsAddresses(nh) ? text : `${ip.src} > ${ip.dst}: ${text}`;
}

/** An IPv4 packet at d[off..end), `len` bytes left on the wire. */
export function ip4Summary(f: Frame, off: number, end: number, len: number): string {
  const d = f.d;
  if (f.depth++ > MAX_DEPTH) return 'IP [|ip]';
  if (end - off < 1) return '[|ip]';
  const v = d[off]! >> 4;
  if (v !== 4) return v === 6 ? 'IP6, wrong link-layer encapsulation (invalid)' : `IP${v} (invalid)`;
  let s = 'IP ';
  if (end - off < 20) return s + '[|ip]';
  if (len < 20) return s + `truncated-ip ${len}`;
  const hlen = (d[off]! & 0xf) * 4;
  if (hlen < 20) return s + `bad-hlen ${hlen}`;
  const ipLen = u16(d, off + 2);
  if (len < ipLen) s += `truncated-ip - ${ipLen - len} bytes missing! `;
  if (ipLen < hlen) return s + `bad-len ${ipLen}`;
  const pend = Math.min(end, off + ipLen);
  if (pend - off < hlen) return s + '[|ip]';
  const frag = u16(d, off + 6) & 0x1fff;
  const nh = d[off + 9]!;
  const ip: IpContext = {
    src: ipv4(d, off + 12),
    dst: ipv4(d, off + 16),
    srcKey: rawKey(d, off + 12, 4),
    dstKey: rawKey(d, off + 16, 4),
    v6: false,
    direct: true,
  };
  if (frag !== 0) return s + `${ip.src} > ${ip.dst}: ip-proto-${nh}`;
  return s + demux(f, ip, nh, off + hlen, pend, ipLen - hlen);
}

/** An IPv6 packet at d[off..end), `len` bytes left on the wire. */
export function ip6Summary(f: Frame, off: number, end: number, len: number): string {
  const d = f.d;
  if (f.depth++ > MAX_DEPTH) return 'IP6 [|ip6]';
  if (end - off < 1) return '[|ip6]';
  const v = d[off]! >> 4;
  if (v !== 6) return v === 4 ? 'IP, wrong link-layer encapsulation (invalid)' : `IP6 version error: ${v} != 6`;
  let s = 'IP6 ';
  if (end - off < 40) return s + '[|ip6]';
  if (len < 40) return s + `truncated-ip6 ${len}`;
  const plen = u16(d, off + 4);
  // A zero payload length means a jumbogram only when a hop-by-hop header follows.
  const total = plen === 0 && d[off + 6] === 0 ? len : plen + 40;
  if (len < total) s += `truncated-ip6 - ${total - len} bytes missing!`;
  const pend = Math.min(end, off + total);
  const ip: IpContext = {
    src: ipv6(d, off + 8),
    dst: ipv6(d, off + 24),
    srcKey: rawKey(d, off + 8, 16),
    dstKey: rawKey(d, off + 24, 16),
    v6: true,
    direct: true,
  };
  let nh = d[off + 6]!;
  let p = off + 40;
  let rem = total - 40;
  const ext = (): boolean => nh === 0 || nh === 60 || nh === 43 || nh === 44 || nh === 51;
  if (!ext()) return s + demux(f, ip, nh, p, pend, rem);
  s += `${ip.src} > ${ip.dst}: `;
  ip.direct = false;
  for (let hops = 0; hops < 16; hops++) {
    switch (nh) {
      case 0:
      case 60: {
        if (pend - p < 2) return s + (nh === 0 ? 'HBH  [|hbhopt]' : 'DSTOPT  [|dstopt]');
        const n = (d[p + 1]! + 1) * 8;
        s += nh === 0 ? 'HBH ' : 'DSTOPT ';
        if (pend - p < n) return s + (nh === 0 ? ' [|hbhopt]' : ' [|dstopt]');
        nh = d[p]!;
        p += n;
        rem -= n;
        break;
      }
      case 43: {
        if (pend - p < 4) return s + 'RT6  [|srcrt]';
        const n = (d[p + 1]! + 1) * 8;
        s += `RT6 (len=${d[p + 1]}, type=${d[p + 2]}, segleft=${d[p + 3]}) `;
        nh = d[p]!;
        p += n;
        rem -= n;
        break;
      }
      case 44: {
        if (pend - p < 8) return s + 'frag  [|frag]';
        const offset = u16(d, p + 2) & 0xfff8;
        s += `frag (${offset}|${rem - 8}) `;
        if (offset !== 0) return s.trimEnd();
        nh = d[p]!;
        p += 8;
        rem -= 8;
        break;
      }
      case 51: {
        if (pend - p < 12) return s + 'AH [|ah]';
        const n = (d[p + 1]! + 2) * 4;
        s += `AH(spi=0x${u32(d, p + 4).toString(16).padStart(8, '0')},seq=0x${u32(d, p + 8).toString(16)}): `;
        nh = d[p]!;
        p += n;
        rem -= n;
        break;
      }
      default: {
        if (rem < 0) return s + '[|ip6]';
        return s + payload(f, ip, nh, p, pend, rem);
      }
    }
  }
  return s + '[|ip6]';
}
