/**
 * Link layers: Ethernet (with 802.1Q / 802.1ad / QinQ tags), Linux cooked
 * v1 and v2, BSD loopback (NULL, LOOP) and raw IP (RAW, IPV4, IPV6).
 *
 * Like tcpdump without -e, the link header itself is not printed, except
 * VLAN tags (`vlan 100, p 0, ` before the payload, as tcpdump -e words
 * them) and EtherTypes or address families that are not decoded.
 */
import { linkTypeInfo } from '../linktype.js';
import { arpSummary } from './arp.js';
import { etherTypeName, u16 } from './bytes.js';
import type { Frame } from './frame.js';
import { ip4Summary, ip6Summary } from './ip.js';


const isVlanType = (t: number): boolean => t === 0x8100 || t === 0x88a8 || t === 0x9100 || t === 0x9200;

/** Dispatch on an EtherType (VLAN tags included) for the bytes at `off`. */
export function etherTypeSummary(f: Frame, type: number, off: number, end: number, len: number): string {
  const d = f.d;
  let prefix = '';
  for (let tags = 0; isVlanType(type); tags++) {
    if (end - off < 4 || tags > 8) return prefix + '[|vlan]';
    const tci = u16(d, off);
    prefix += `vlan ${tci & 0xfff}, p ${tci >> 13}${tci & 0x1000 ? ', DEI' : ''}, `;
    type = u16(d, off + 2);
    off += 4;
    len -= 4;
    if (type < 0x600) return prefix + llcSummary(d, off, end, type);
  }
  switch (type) {
    case 0x0800:
      return prefix + ip4Summary(f, off, end, len);
    case 0x86dd:
      return prefix + ip6Summary(f, off, end, len);
    case 0x0806:
    case 0x8035:
      return prefix + arpSummary(d, off, end, len);
    case 0x88e5:
      return prefix + macsecSummary(f, off, end, len);
    default:
      return prefix + `ethertype ${etherTypeName(type) ?? 'Unknown'} (0x${type.toString(16).padStart(4, '0')}), length ${len}`;
  }
}

/**
 * MACsec (802.1AE): a SecTAG, then (when neither encrypted nor changed) the
 * protected frame's EtherType and payload, then a 16-byte ICV. As tcpdump
 * without -e, only the protected payload is shown.
 */
function macsecSummary(f: Frame, off: number, end: number, len: number): string {
  const d = f.d;
  if (end - off < 6) return 'MACsec [|macsec]';
  const tci = d[off]!;
  const shortLength = d[off + 1]! & 0x3f;
  const tag = 6 + (tci & 0x20 ? 8 : 0);
  if (tci & 0x80) return `MACsec, version 1 (invalid), length ${len}`;
  if (tci & 0x0c) return `MACsec, encrypted, length ${len}`;
  if (end - off < tag + 2) return 'MACsec [|macsec]';
  const type = u16(d, off + tag);
  // The protected data: the short length when given, else what precedes the 16-byte ICV.
  const data = shortLength !== 0 ? shortLength : len - tag - 16;
  const p = off + tag + 2;
  return etherTypeSummary(f, type, p, Math.min(end, p + Math.max(0, data - 2)), Math.max(0, data - 2));
}

/** An 802.3 frame whose type field is a length: an LLC header follows. */
function llcSummary(d: Uint8Array, off: number, end: number, length: number): string {
  if (end - off < 3) return `802.3, length ${length} [|llc]`;
  const dsap = d[off]!;
  const ssap = d[off + 1]!;
  const hex = (b: number): string => `0x${b.toString(16).padStart(2, '0')}`;
  if (dsap === 0xaa && ssap === 0xaa && end - off >= 8) {
    const type = u16(d, off + 6);
    return `802.3 LLC SNAP, ethertype ${etherTypeName(type) ?? 'Unknown'} (0x${type.toString(16).padStart(4, '0')}), length ${length}`;
  }
  const name = dsap === 0x42 ? 'STP' : dsap === 0xe0 ? 'IPX' : dsap === 0xf0 ? 'NetBEUI' : dsap === 0xfe ? 'OSI' : undefined;
  return `802.3 LLC, dsap ${name ?? hex(dsap)}, ssap ${hex(ssap)}, length ${length}`;
}

export function ethernetSummary(f: Frame, wire: number): string {
  const d = f.d;
  const end = d.length;
  if (end < 14) return '[|ether]';
  const type = u16(d, 12);
  if (type < 0x600) return llcSummary(d, 14, end, type);
  return etherTypeSummary(f, type, 14, end, wire - 14);
}

/** LINUX_SLL: 16-byte header, protocol at 14. */
export function sllSummary(f: Frame, wire: number): string {
  const d = f.d;
  if (d.length < 16) return '[|sll]';
  return sllPayload(f, u16(d, 14), 16, wire - 16);
}

/** LINUX_SLL2: 20-byte header, protocol at 0. */
export function sll2Summary(f: Frame, wire: number): string {
  const d = f.d;
  if (d.length < 20) return '[|sll2]';
  return sllPayload(f, u16(d, 0), 20, wire - 20);
}

function sllPayload(f: Frame, proto: number, off: number, len: number): string {
  const d = f.d;
  if (proto >= 0x600) return etherTypeSummary(f, proto, off, d.length, len);
  switch (proto) {
    case 0x0004:
      return llcSummary(d, off, d.length, len);
    case 0x0001:
      return `802.3 (Novell), length ${len}`;
    case 0x000c:
    case 0x000d:
      return `CAN, length ${len}`;
    default:
      return `protocol 0x${proto.toString(16).padStart(4, '0')}, length ${len}`;
  }
}

/** NULL (host byte order family) and LOOP (network byte order). */
export function loopbackSummary(f: Frame, wire: number, networkOrder: boolean): string {
  const d = f.d;
  if (d.length < 4) return '[|null]';
  let family = networkOrder
    ? ((d[0]! << 24) | (d[1]! << 16) | (d[2]! << 8) | d[3]!) >>> 0
    : ((d[3]! << 24) | (d[2]! << 16) | (d[1]! << 8) | d[0]!) >>> 0;
  // NULL is in the byte order of the machine that captured; a big-endian one leaves the low bytes zero.
  if (!networkOrder && (family & 0xffff0000) !== 0) {
    family = ((family & 0xff) << 24 | (family & 0xff00) << 8 | (family >>> 8) & 0xff00 | family >>> 24) >>> 0;
  }
  switch (family) {
    case 2:
      return ip4Summary(f, 4, d.length, wire - 4);
    case 24:
    case 28:
    case 30:
      return ip6Summary(f, 4, d.length, wire - 4);
    case 7:
      return `OSI, length ${wire - 4}`;
    case 16:
      return `Appletalk, length ${wire - 4}`;
    case 23:
      return `IPX, length ${wire - 4}`;
    default:
      return `AF Unknown (${family}), length ${wire}`;
  }
}

/** Raw IP: the version nibble says which. */
export function rawIpSummary(f: Frame, wire: number): string {
  const d = f.d;
  if (d.length < 1) return '[|ip]';
  const v = d[0]! >> 4;
  if (v === 4) return ip4Summary(f, 0, d.length, wire);
  if (v === 6) return ip6Summary(f, 0, d.length, wire);
  return `IP${v} (invalid), length ${wire}`;
}

/** The summary after the timestamp, for any link type. */
export function linkSummary(f: Frame, linkType: number, wire: number): string {
  switch (linkType) {
    case 1:
      return ethernetSummary(f, wire);
    case 113:
      return sllSummary(f, wire);
    case 276:
      return sll2Summary(f, wire);
    case 0:
      return loopbackSummary(f, wire, false);
    case 108:
      return loopbackSummary(f, wire, true);
    case 101:
    case 228:
    case 229:
    case 12:
    case 14:
      return rawIpSummary(f, wire);
    default: {
      // Not decoded here: say so, with libpcap's name when the type has one.
      const info = linkTypeInfo(linkType);
      return info === undefined
        ? `unknown link type ${linkType}, length ${wire}`
        : `unknown link type ${linkType} (${info.name}), length ${wire}`;
    }
  }
}
