/**
 * Address matches: IPv4/IPv6 host and net (with ARP/RARP for the default
 * protocol), link-layer addresses on each MAC layout (Ethernet, FDDI, Token
 * Ring, 802.11 with its address fields by frame type and DS bits, IP over
 * Fibre Channel, ARCnet), and DECnet's padded long/short headers.
 */
import * as insnModule from '../../cbpf/insn.js';
import type { DirQual, ProtoQual } from '../ast.js';
import * as linktypesModule from '../linktypes.js';
import * as predModule from '../pred.js';
import type { Pred } from '../pred.js';
import * as constantsModule from './constants.js';
import type { Gen } from './context.js';
import * as linktypeModule from './linktype.js';
// Module-level copies of the imports: V8 folds a module's own constants into optimised code,
// not imported (live) bindings (see src/filter/README.md, "Compile speed").
const { BPF_B, BPF_H, BPF_W } = insnModule;
const { DLT } = linktypesModule;
const { TRUE, and, not, or, orAll } = predModule;
const { ETHERTYPE, IEEE80211 } = constantsModule;
const { genLinktype, prevlinkhdrCheck } = linktypeModule;

type Dir = DirQual;

/** Is `dir` one a host or net test takes (not an 802.11 address field)? */
const isHostDir = (dir: Dir): boolean =>
  dir === 'default' || dir === 'src' || dir === 'dst' || dir === 'src or dst' || dir === 'src and dst';

function bothDirs(dir: Dir, one: (d: 'src' | 'dst') => Pred): Pred | undefined {
  if (dir === 'src and dst') return and(one('src'), one('dst'));
  if (dir === 'default' || dir === 'src or dst') return or(one('src'), one('dst'));
  return undefined;
}

/** The protocol test once, then the address in the source and/or destination field. */
export function hostop(g: Gen, addr: number, mask: number, dir: Dir, ll: number, srcOff: number, dstOff: number): Pred {
  if (!isHostDir(dir)) g.error(`'${dir}' is valid for 802.11 syntax only`);
  const b0 = genLinktype(g, ll);
  // A zero mask matches every address: no load (as libpcap's `net 0/0`).
  if (mask === 0) return b0;
  return and(b0, hostAddr(g, addr, mask, dir, srcOff, dstOff));
}

/** Just the address comparison of hostop (no link-layer protocol test). */
export function hostAddr(g: Gen, addr: number, mask: number, dir: Dir, srcOff: number, dstOff: number): Pred {
  if (dir === 'src and dst') return and(g.mcmp('linkpl', srcOff, BPF_W, addr, mask), g.mcmp('linkpl', dstOff, BPF_W, addr, mask));
  if (dir === 'default' || dir === 'src or dst') return or(g.mcmp('linkpl', srcOff, BPF_W, addr, mask), g.mcmp('linkpl', dstOff, BPF_W, addr, mask));
  return g.mcmp('linkpl', dir === 'src' ? srcOff : dstOff, BPF_W, addr, mask);
}

export function hostop6(g: Gen, addr: Uint8Array, mask: Uint8Array, dir: Dir, ll: number, srcOff: number, dstOff: number): Pred {
  if (!isHostDir(dir)) g.error(`'${dir}' is valid for 802.11 syntax only`);
  const b0 = genLinktype(g, ll);
  return and(b0, hostAddr6(g, addr, mask, dir, srcOff, dstOff));
}

/** Just the address comparison of hostop6: up to four masked words per direction. */
function hostAddr6(g: Gen, addr: Uint8Array, mask: Uint8Array, dir: Dir, srcOff: number, dstOff: number): Pred {
  const w = (b: Uint8Array, i: number): number => ((b[i * 4]! << 24) | (b[i * 4 + 1]! << 16) | (b[i * 4 + 2]! << 8) | b[i * 4 + 3]!) >>> 0;
  const one = (offset: number): Pred => {
    let b1: Pred = TRUE;
    for (let i = 3; i >= 0; i--) {
      if (w(mask, i) !== 0) b1 = and(g.mcmp('linkpl', offset + i * 4, BPF_W, w(addr, i), w(mask, i)), b1);
    }
    return b1;
  };
  return bothDirs(dir, (d) => one(d === 'src' ? srcOff : dstOff)) ?? one(dir === 'src' ? srcOff : dstOff);
}

const V4_PROTOS = {
  ip: { ll: ETHERTYPE.IP, src: 12, dst: 16 },
  arp: { ll: ETHERTYPE.ARP, src: 14, dst: 24 },
  rarp: { ll: ETHERTYPE.REVARP, src: 14, dst: 24 },
} as const;

/**
 * The addresses of a host name (`host NAME`, `gateway NAME`): per protocol, the protocol test
 * once and then any of the addresses, as libpcap does (not the protocol test per address).
 * For `src or dst` each address is tested in the source field and then in the destination
 * field; when optimising, all the source tests come first and then all the destination tests,
 * the order libpcap's optimised program has: that program (its optimiser takes loads as never
 * failing) accepts a packet cut short between the two fields whose source is the second
 * address, which the per-address order rejects at its first destination load.
 */
export function hostList(g: Gen, addrs: readonly number[], proto: 'ip' | 'arp' | 'rarp', dir: Dir): { ll: Pred; addrs: Pred } {
  if (!isHostDir(dir)) g.error(`'${dir}' is valid for 802.11 syntax only`);
  const { ll, src, dst } = V4_PROTOS[proto];
  const b0 = genLinktype(g, ll);
  const all = (d: Dir): Pred => orAll(addrs.map((a) => hostAddr(g, a, 0xffffffff, d, src, dst)));
  const grouped = g.opts.fold === true && (dir === 'default' || dir === 'src or dst');
  return { ll: b0, addrs: grouped ? or(all('src'), all('dst')) : all(dir) };
}

/** IPv6 addresses of a host name: the protocol test once, then any address (each source, then destination). */
export function host6List(g: Gen, addrs: readonly Uint8Array[], dir: Dir): Pred {
  if (!isHostDir(dir)) g.error(`'${dir}' is valid for 802.11 syntax only`);
  const b0 = genLinktype(g, ETHERTYPE.IPV6);
  const full = new Uint8Array(16).fill(0xff);
  return and(b0, orAll(addrs.map((a) => hostAddr6(g, a, full, dir, 8, 24))));
}

/** IPv4 host/net for a protocol qualifier (default: ip, arp and rarp). */
export function genHost(g: Gen, addr: number, mask: number, proto: ProtoQual, dir: Dir): Pred {
  switch (proto) {
    case 'default': {
      const b0 = genHost(g, addr, mask, 'ip', dir);
      if (g.labelStackDepth > 0) return b0;
      const b1 = or(b0, genHost(g, addr, mask, 'arp', dir));
      return or(b1, genHost(g, addr, mask, 'rarp', dir));
    }
    case 'ip':
      return hostop(g, addr, mask, dir, ETHERTYPE.IP, 12, 16);
    case 'arp':
      return hostop(g, addr, mask, dir, ETHERTYPE.ARP, 14, 24);
    case 'rarp':
      return hostop(g, addr, mask, dir, ETHERTYPE.REVARP, 14, 24);
    default:
      throw new Error(`genHost: ${proto}`);
  }
}

export function genHost6(g: Gen, addr: Uint8Array, mask: Uint8Array, dir: Dir): Pred {
  return hostop6(g, addr, mask, dir, ETHERTYPE.IPV6, 8, 24);
}

// ---- link-layer addresses --------------------------------------------------------------------

function macop(g: Gen, mac: Uint8Array, dir: Dir, srcOff: number, dstOff: number, self: (d: Dir) => Pred): Pred {
  const both = bothDirs(dir, (d) => self(d));
  if (both) return both;
  if (dir === 'src') return g.bcmp('linkhdr', srcOff, mac);
  if (dir === 'dst') return g.bcmp('linkhdr', dstOff, mac);
  g.error(`'${dir}' is valid for 802.11 syntax only`);
}

export function ehostop(g: Gen, mac: Uint8Array, dir: Dir): Pred {
  return macop(g, mac, dir, 6, 0, (d) => ehostop(g, mac, d));
}
export function fhostop(g: Gen, mac: Uint8Array, dir: Dir): Pred {
  return macop(g, mac, dir, 7, 1, (d) => fhostop(g, mac, d));
}
export function thostop(g: Gen, mac: Uint8Array, dir: Dir): Pred {
  return macop(g, mac, dir, 8, 2, (d) => thostop(g, mac, d));
}
export function ipfchostop(g: Gen, mac: Uint8Array, dir: Dir): Pred {
  return macop(g, mac, dir, 10, 2, (d) => ipfchostop(g, mac, d));
}
export function ahostop(g: Gen, a: number, dir: Dir): Pred {
  const both = bothDirs(dir, (d) => ahostop(g, a, d));
  if (both) return both;
  // ARCnet: source first, then destination. BACnet MS/TP: preamble (2), type, destination, source.
  const mstp = g.linktype === DLT.BACNET_MS_TP;
  if (dir === 'src') return g.bcmp('linkhdr', mstp ? 4 : 0, [a]);
  if (dir === 'dst') return g.bcmp('linkhdr', mstp ? 3 : 1, [a]);
  g.error(`'${dir}' is valid for 802.11 syntax only`);
}

export function wlanhostop(g: Gen, mac: Uint8Array, dir: Dir): Pred {
  const fc1 = (bit: number): Pred => g.jset('linkhdr', 1, BPF_B, bit);
  const fc0 = (bit: number): Pred => g.jset('linkhdr', 0, BPF_B, bit);
  switch (dir) {
    case 'src': {
      // Data frames: SA at 24 (To+From DS), 16 (From DS), 10 (no From DS); management: 10; control: none.
      let b0 = and(fc1(0x01), g.bcmp('linkhdr', 24, mac));
      let b1 = and(not(fc1(0x01)), g.bcmp('linkhdr', 16, mac));
      b0 = or(b1, b0);
      b0 = and(fc1(0x02), b0);
      b1 = and(not(fc1(0x02)), g.bcmp('linkhdr', 10, mac));
      b0 = or(b1, b0);
      b0 = and(fc0(0x08), b0);
      b1 = and(not(fc0(0x08)), g.bcmp('linkhdr', 10, mac));
      b0 = or(b1, b0);
      return and(not(fc0(0x04)), b0);
    }
    case 'dst': {
      let b0 = and(fc1(0x01), g.bcmp('linkhdr', 16, mac));
      let b1 = and(not(fc1(0x01)), g.bcmp('linkhdr', 4, mac));
      b0 = or(b1, b0);
      b0 = and(fc0(0x08), b0);
      b1 = and(not(fc0(0x08)), g.bcmp('linkhdr', 4, mac));
      b0 = or(b1, b0);
      return and(not(fc0(0x04)), b0);
    }
    case 'src and dst':
      return and(wlanhostop(g, mac, 'src'), wlanhostop(g, mac, 'dst'));
    case 'default':
    case 'src or dst':
      return or(wlanhostop(g, mac, 'src'), wlanhostop(g, mac, 'dst'));
    case 'addr1':
      return g.bcmp('linkhdr', 4, mac);
    case 'addr2': {
      const notCtsAck = or(
        not(g.mcmp('linkhdr', 0, BPF_B, IEEE80211.TYPE_CTL, IEEE80211.FC0_TYPE_MASK)),
        and(not(g.mcmp('linkhdr', 0, BPF_B, IEEE80211.SUBTYPE_CTS, IEEE80211.FC0_SUBTYPE_MASK)),
          not(g.mcmp('linkhdr', 0, BPF_B, IEEE80211.SUBTYPE_ACK, IEEE80211.FC0_SUBTYPE_MASK))),
      );
      return and(notCtsAck, g.bcmp('linkhdr', 10, mac));
    }
    case 'addr3':
      return and(not(g.mcmp('linkhdr', 0, BPF_B, IEEE80211.TYPE_CTL, IEEE80211.FC0_TYPE_MASK)), g.bcmp('linkhdr', 16, mac));
    case 'addr4':
      return and(g.mcmp('linkhdr', 1, BPF_B, IEEE80211.DIR_DSTODS, IEEE80211.FC1_DIR_MASK), g.bcmp('linkhdr', 24, mac));
    case 'ra':
      return and(fc0(0x08), g.bcmp('linkhdr', 4, mac));
    case 'ta': {
      let b2 = or(
        not(g.mcmp('linkhdr', 0, BPF_B, IEEE80211.TYPE_CTL, IEEE80211.FC0_TYPE_MASK)),
        and(not(g.mcmp('linkhdr', 0, BPF_B, IEEE80211.SUBTYPE_CTS, IEEE80211.FC0_SUBTYPE_MASK)),
          not(g.mcmp('linkhdr', 0, BPF_B, IEEE80211.SUBTYPE_ACK, IEEE80211.FC0_SUBTYPE_MASK))),
      );
      b2 = and(fc0(0x08), b2);
      return and(b2, g.bcmp('linkhdr', 10, mac));
    }
  }
}

/** `link host MAC` (or `gateway`'s MAC part) for the current link type, or undefined if it has no MACs. */
export function linkHostop(g: Gen, mac: Uint8Array, dir: Dir): Pred | undefined {
  const lt = g.linktype;
  const wlanOnly = dir.startsWith('addr') || dir === 'ra' || dir === 'ta';
  switch (lt) {
    case DLT.EN10MB:
    case DLT.NETANALYZER:
    case DLT.NETANALYZER_TRANSPARENT:
    case DLT.DSA_TAG_BRCM:
    case DLT.DSA_TAG_DSA: {
      if (wlanOnly) g.error(`'${dir}' is valid for 802.11 syntax only`);
      const tmp = prevlinkhdrCheck(g);
      const b = ehostop(g, mac, dir);
      return tmp ? and(tmp, b) : b;
    }
    case DLT.FDDI:
      if (wlanOnly) g.error(`'${dir}' is valid for 802.11 syntax only`);
      return fhostop(g, mac, dir);
    case DLT.IEEE802:
      if (wlanOnly) g.error(`'${dir}' is valid for 802.11 syntax only`);
      return thostop(g, mac, dir);
    case DLT.IEEE802_11:
    case DLT.PRISM_HEADER:
    case DLT.IEEE802_11_RADIO_AVS:
    case DLT.IEEE802_11_RADIO:
    case DLT.PPI:
      return wlanhostop(g, mac, dir);
    case DLT.IP_OVER_FC:
      if (wlanOnly) g.error(`'${dir}' is valid for 802.11 syntax only`);
      return ipfchostop(g, mac, dir);
    default:
      return undefined;
  }
}

/** DECnet data packets with 0 or 1 pad bytes, long and short headers: the protocol test once, then the address(es). */
export function dnhostop(g: Gen, addr: number, dir: Dir): Pred {
  if (!isHostDir(dir)) g.error(`'${dir}' is valid for 802.11 syntax only`);
  const b0 = genLinktype(g, ETHERTYPE.DN);
  return and(b0, bothDirs(dir, (d) => dnAddr(g, addr, d)) ?? dnAddr(g, addr, dir as 'src' | 'dst'));
}

function dnAddr(g: Gen, addr: number, dir: 'src' | 'dst'): Pred {
  const offSh = dir === 'dst' ? 1 : 3;
  const offLh = dir === 'dst' ? 7 : 15;
  const swapped = ((addr & 0xff) << 8) | ((addr >> 8) & 0xff);
  let tmp = g.mcmp('linkpl', 2, BPF_H, 0x8106, 0xff07);
  let b1 = and(tmp, g.cmp('linkpl', 2 + 1 + offLh, BPF_H, swapped));
  tmp = g.mcmp('linkpl', 2, BPF_B, 0x06, 0x07);
  let b2 = and(tmp, g.cmp('linkpl', 2 + offLh, BPF_H, swapped));
  b1 = or(b2, b1);
  if (dir === 'dst') {
    // The short header's destination directly follows its flags (and pad byte): libpcap's
    // current gencode tests flags and address with one masked 4-byte load at the flags, so a
    // packet that ends inside those 4 bytes is rejected even where the byte and 2-byte loads
    // would both fit (a 19-byte Ethernet frame). Same loads here, so the same verdicts.
    b2 = g.mcmp('linkpl', 2, BPF_W, (0x8102 * 0x10000 + swapped) >>> 0, 0xff07ffff);
    b1 = or(b2, b1);
    b2 = g.mcmp('linkpl', 2, BPF_W, (0x02000000 | (swapped << 8)) >>> 0, 0x07ffff00);
    return or(b2, b1);
  }
  tmp = g.mcmp('linkpl', 2, BPF_H, 0x8102, 0xff07);
  b2 = and(tmp, g.cmp('linkpl', 2 + 1 + offSh, BPF_H, swapped));
  b1 = or(b2, b1);
  tmp = g.mcmp('linkpl', 2, BPF_B, 0x02, 0x07);
  b2 = and(tmp, g.cmp('linkpl', 2 + offSh, BPF_H, swapped));
  return or(b2, b1);
}
