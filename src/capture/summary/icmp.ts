/**
 * ICMP and ICMPv6, as tcpdump -n prints them:
 *   ICMP echo request, id 1, seq 1, length 64
 *   ICMP 192.0.2.1 udp port 33434 unreachable, length 36
 *   ICMP6, neighbor solicitation, who has fe80::1, length 32
 */
import { ipv4, ipv6, u16, u32 } from './bytes.js';

const UNREACH: Record<number, (dst: string) => string> = {
  0: (a) => `net ${a} unreachable`,
  1: (a) => `host ${a} unreachable`,
  5: (a) => `${a} unreachable - source route failed`,
  6: (a) => `net ${a} unreachable - unknown`,
  7: (a) => `host ${a} unreachable - unknown`,
  8: (a) => `${a} unreachable - source host isolated`,
  9: (a) => `net ${a} unreachable - admin prohibited`,
  10: (a) => `host ${a} unreachable - admin prohibited`,
  11: (a) => `net ${a} unreachable - tos prohibited`,
  12: (a) => `host ${a} unreachable - tos prohibited`,
  13: (a) => `${a} unreachable - admin prohibited filter`,
  14: (a) => `${a} unreachable - host precedence violation`,
  15: (a) => `${a} unreachable - precedence cutoff`,
};

/** ICMP message at d[off..end) of `len` bytes on the wire. */
export function icmpSummary(d: Uint8Array, off: number, end: number, len: number): string {
  if (end - off < 1) return 'ICMP [|icmp]';
  const type = d[off]!;
  const code = end - off >= 2 ? d[off + 1]! : 0;
  const trunc = (what: string): string => `ICMP ${what} [|icmp]`;
  let text: string;
  switch (type) {
    case 0:
    case 8: {
      const name = type === 0 ? 'echo reply' : 'echo request';
      if (end - off < 8) return trunc(name);
      text = `${name}, id ${u16(d, off + 4)}, seq ${u16(d, off + 6)}`;
      break;
    }
    case 3: {
      // The datagram that could not be delivered follows the 8-byte header.
      const ip = off + 8;
      if (end - ip < 20) return trunc('unreachable');
      const dst = ipv4(d, ip + 16);
      if (code === 2) text = `${dst} protocol ${d[ip + 9]} unreachable`;
      else if (code === 3) {
        const hl = (d[ip]! & 0xf) * 4;
        const proto = d[ip + 9]!;
        if (end - (ip + hl) < 4) return trunc(`${dst} unreachable`);
        const port = u16(d, ip + hl + 2);
        text =
          proto === 17
            ? `${dst} udp port ${port} unreachable`
            : proto === 6
              ? `${dst} tcp port ${port} unreachable`
              : `${dst} protocol ${proto} port ${port} unreachable`;
      } else if (code === 4) {
        const mtu = end - off >= 8 ? u16(d, off + 6) : 0;
        text = mtu ? `${dst} unreachable - need to frag (mtu ${mtu})` : `${dst} unreachable - need to frag`;
      } else text = UNREACH[code]?.(dst) ?? `${dst} unreachable - #${code}`;
      break;
    }
    case 4:
      text = 'source quench';
      break;
    case 5: {
      if (end - off < 28) return trunc('redirect');
      const kind = ['net', 'host', 'tos-net', 'tos-host'][code] ?? `#${code}`;
      text = `redirect ${ipv4(d, off + 24)} to ${kind} ${ipv4(d, off + 4)}`;
      break;
    }
    case 9:
      text = 'router advertisement';
      break;
    case 10:
      text = 'router solicitation';
      break;
    case 11:
      text = code === 0 ? 'time exceeded in-transit' : code === 1 ? 'ip reassembly time exceeded' : `time exceeded-#${code}`;
      break;
    case 12:
      if (end - off < 5) return trunc('parameter problem');
      text = code === 0 ? `parameter problem - octet ${d[off + 4]}` : `parameter problem - code ${code}`;
      break;
    case 13:
    case 14: {
      if (end - off < 8) return trunc('time stamp');
      text = `time stamp ${type === 13 ? 'query' : 'reply'} id ${u16(d, off + 4)} seq ${u16(d, off + 6)}`;
      break;
    }
    case 15:
      text = 'information request';
      break;
    case 16:
      text = 'information reply';
      break;
    case 17:
      text = 'address mask request';
      break;
    case 18:
      if (end - off < 12) return trunc('address mask');
      text = `address mask is 0x${u32(d, off + 8).toString(16).padStart(8, '0')}`;
      break;
    default:
      text = `type-#${type}`;
  }
  return `ICMP ${text}, length ${len}`;
}

const ICMP6_TYPES: Record<number, string> = {
  1: 'destination unreachable',
  2: 'packet too big',
  3: 'time exceeded in-transit',
  4: 'parameter problem',
  128: 'echo request',
  129: 'echo reply',
  130: 'multicast listener query',
  131: 'multicast listener report',
  132: 'multicast listener done',
  133: 'router solicitation',
  134: 'router advertisement',
  135: 'neighbor solicitation',
  136: 'neighbor advertisement',
  137: 'redirect',
  138: 'router renumbering',
  139: 'who-are-you request',
  140: 'who-are-you reply',
  141: 'inverse neighbor solicitation',
  142: 'inverse neighbor advertisement',
  143: 'multicast listener report v2',
  144: 'home agent discovery request',
  145: 'home agent discovery reply',
  146: 'mobile prefix solicitation',
  147: 'mobile prefix advertisement',
  148: 'certification path solicitation',
  149: 'certification path advertisement',
  151: 'multicast router advertisement',
  152: 'multicast router solicitation',
  153: 'multicast router termination',
  155: 'RPL',
};

const UNREACH6 = ['unreachable route', 'unreachable prohibited', 'beyond scope', 'unreachable address', 'unreachable port'];

/** ICMPv6 message at d[off..end) of `len` bytes on the wire. */
export function icmp6Summary(d: Uint8Array, off: number, end: number, len: number): string {
  if (len === 0) return 'ICMP6, length 0 (invalid)';
  if (end - off < 1) return 'ICMP6 [|icmp6]';
  const type = d[off]!;
  const code = end - off >= 2 ? d[off + 1]! : 0;
  let s = `ICMP6, ${ICMP6_TYPES[type] ?? `unknown icmp6 type (${type})`}`;
  const trunc = (): string => `${s} [|icmp6]`;
  switch (type) {
    case 1: {
      if (end - off < 8 + 40) return trunc();
      const what = UNREACH6[code] ?? `unknown unreach code (${code})`;
      s += `, ${what} ${ipv6(d, off + 8 + 24)}`;
      break;
    }
    case 2:
      if (end - off < 8) return trunc();
      s += `, mtu ${u32(d, off + 4)}`;
      break;
    case 128:
    case 129:
      if (end - off < 8) return trunc();
      s += `, id ${u16(d, off + 4)}, seq ${u16(d, off + 6)}`;
      break;
    case 135:
      if (end - off < 24) return trunc();
      s += `, who has ${ipv6(d, off + 8)}`;
      break;
    case 136:
      if (end - off < 24) return trunc();
      s += `, tgt is ${ipv6(d, off + 8)}`;
      break;
    case 137:
      if (end - off < 40) return trunc();
      s += `, ${ipv6(d, off + 24)} to ${ipv6(d, off + 8)}`;
      break;
    case 143:
      if (end - off < 8) return trunc();
      s += `, ${u16(d, off + 6)} group record(s)`;
      break;
  }
  return `${s}, length ${len}`;
}
