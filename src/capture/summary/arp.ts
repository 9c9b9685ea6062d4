/**
 * ARP and RARP, as tcpdump -n prints them:
 *   ARP, Request who-has 192.0.2.1 tell 192.0.2.2, length 28
 *   ARP, Reply 192.0.2.1 is-at 00:11:22:33:44:55, length 28
 */
import { etherTypeName, hex2, ipv4, mac, u16 } from './bytes.js';

const OPS: Record<number, string> = {
  1: 'Request',
  2: 'Reply',
  3: 'Reverse Request',
  4: 'Reverse Reply',
  8: 'Inverse Request',
  9: 'Inverse Reply',
  10: 'NACK Reply',
};

const HARDWARE: Record<number, string> = {
  1: 'Ethernet',
  6: 'TokenRing',
  7: 'ArcNet',
  15: 'FrameRelay',
  19: 'ATM',
  24: 'IEEE1394',
  32: 'InfiniBand',
};

function linkAddr(d: Uint8Array, o: number, n: number): string {
  if (n === 6) return mac(d, o);
  if (n === 0) return '<zero length>';
  let s = hex2(d[o]!);
  for (let i = 1; i < n; i++) s += ':' + hex2(d[o + i]!);
  return s;
}

export function arpSummary(d: Uint8Array, off: number, end: number, len: number): string {
  if (end - off < 8) return '[|arp]';
  const hrd = u16(d, off);
  const pro = u16(d, off + 2);
  const hln = d[off + 4]!;
  const pln = d[off + 5]!;
  const op = u16(d, off + 6);
  const sha = off + 8;
  const spa = sha + hln;
  const tha = spa + pln;
  const tpa = tha + hln;
  if (end < tpa + pln) return '[|arp]';
  let s = 'ARP, ';
  const isIp = (pro === 0x0800 || pro === 0x1000) && pln === 4;
  if (!isIp || hln === 0) {
    const proName = etherTypeName(pro) ?? `Unknown Protocol (0x${pro.toString(16).padStart(4, '0')})`;
    return s + `${HARDWARE[hrd] ?? `Unknown Hardware (${hrd})`} (len ${hln}), ${proName} (len ${pln}), length ${len}`;
  }
  const ip = (o: number): string => ipv4(d, o);
  s += `${OPS[op] ?? `Unknown (${op})`} `;
  switch (op) {
    case 1: {
      s += `who-has ${ip(tpa)}`;
      let nonzero = false;
      for (let i = 0; i < hln; i++) if (d[tha + i] !== 0) nonzero = true;
      if (nonzero) s += ` (${linkAddr(d, tha, hln)})`;
      s += ` tell ${ip(spa)}`;
      break;
    }
    case 2:
      s += `${ip(spa)} is-at ${linkAddr(d, sha, hln)}`;
      break;
    case 3:
    case 8:
      s += `who-is ${linkAddr(d, tha, hln)} tell ${linkAddr(d, sha, hln)}`;
      break;
    case 4:
      s += `${linkAddr(d, tha, hln)} at ${ip(tpa)}`;
      break;
    case 9:
      s += `${linkAddr(d, sha, hln)} at ${ip(spa)}`;
      break;
    default:
      // tcpdump follows this with a hex dump and no length.
      return s;
  }
  return s + `, length ${len}`;
}
