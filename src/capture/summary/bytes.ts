/**
 * Helpers for the packet printers: big-endian reads (callers check bounds
 * first) and address formatting as tcpdump -n prints addresses.
 */

export const u16 = (d: Uint8Array, o: number): number => (d[o]! << 8) | d[o + 1]!;
export const u32 = (d: Uint8Array, o: number): number => ((d[o]! << 24) | (d[o + 1]! << 16) | (d[o + 2]! << 8) | d[o + 3]!) >>> 0;

export function ipv4(d: Uint8Array, o: number): string {
  return `${d[o]}.${d[o + 1]}.${d[o + 2]}.${d[o + 3]}`;
}

const HEX = Array.from({ length: 256 }, (_, i) => i.toString(16).padStart(2, '0'));

export function hex2(b: number): string {
  return HEX[b & 0xff]!;
}

export function mac(d: Uint8Array, o: number, n = 6): string {
  let s = HEX[d[o]!]!;
  for (let i = 1; i < n; i++) s += ':' + HEX[d[o + i]!]!;
  return s;
}

/** An IPv6 address as inet_ntop(3) writes it (glibc): the longest run of two or more zero groups becomes "::". */
export function ipv6(d: Uint8Array, o: number): string {
  const w: number[] = [];
  for (let i = 0; i < 8; i++) w.push(u16(d, o + 2 * i));
  let bestBase = -1;
  let bestLen = 0;
  let curBase = -1;
  let curLen = 0;
  for (let i = 0; i < 8; i++) {
    if (w[i] === 0) {
      if (curBase < 0) {
        curBase = i;
        curLen = 1;
      } else curLen++;
    } else if (curBase >= 0) {
      if (curLen > bestLen) {
        bestBase = curBase;
        bestLen = curLen;
      }
      curBase = -1;
    }
  }
  if (curBase >= 0 && curLen > bestLen) {
    bestBase = curBase;
    bestLen = curLen;
  }
  if (bestLen < 2) bestBase = -1;
  let s = '';
  for (let i = 0; i < 8; i++) {
    if (bestBase >= 0 && i >= bestBase && i < bestBase + bestLen) {
      if (i === bestBase) s += ':';
      continue;
    }
    if (i !== 0) s += ':';
    // An IPv4-compatible or IPv4-mapped address ends in dotted decimal.
    if (i === 6 && bestBase === 0 && (bestLen === 6 || (bestLen === 5 && w[5] === 0xffff))) {
      s += ipv4(d, o + 12);
      break;
    }
    s += w[i]!.toString(16);
  }
  if (bestBase >= 0 && bestBase + bestLen === 8) s += ':';
  return s;
}

/** Printable ASCII of d[o..end), other bytes as '.', at most `max` characters. */
export function printable(d: Uint8Array, o: number, end: number, max = 300): string {
  let s = '';
  for (let i = o; i < end && s.length < max; i++) {
    const c = d[i]!;
    s += c >= 0x20 && c < 0x7f ? String.fromCharCode(c) : '.';
  }
  return s;
}

const ETHERTYPES: Record<number, string> = {
  0x0800: 'IPv4',
  0x0806: 'ARP',
  0x0842: 'Wake-on-LAN',
  0x22f0: 'AVTP',
  0x22f3: 'TRILL',
  0x6558: 'Transparent Ethernet Bridging',
  0x8035: 'Reverse ARP',
  0x809b: 'Appletalk',
  0x80f3: 'Appletalk ARP',
  0x8100: '802.1Q',
  0x8137: 'IPX',
  0x86dd: 'IPv6',
  0x8808: 'MAC control',
  0x8809: 'Slow Protocols',
  0x8847: 'MPLS unicast',
  0x8848: 'MPLS multicast',
  0x8863: 'PPPoE D',
  0x8864: 'PPPoE S',
  0x887b: 'HomePlug',
  0x888e: 'EAPOL',
  0x8892: 'PROFINET',
  0x889a: 'HyperSCSI',
  0x88a2: 'AoE',
  0x88a4: 'EtherCAT',
  0x88a8: '802.1Q-QinQ',
  0x88b8: 'GOOSE',
  0x88cc: 'LLDP',
  0x88e5: 'MACsec',
  0x88e7: 'PBB',
  0x88f7: 'PTP',
  0x8902: 'CFM',
  0x8906: 'FCoE',
  0x8914: 'FIP',
  0x892f: 'HSR',
  0x9000: 'Loopback',
  0x9100: '802.1Q-9100',
  0x9200: '802.1Q-9200',
};

/** tcpdump's name for an EtherType, or undefined. */
export function etherTypeName(type: number): string | undefined {
  return ETHERTYPES[type];
}
