/**
 * Packet metadata for Linux socket-filter semantics, and what the kernel
 * does for the ancillary loads (SKF_AD_*) and the negative offsets
 * (SKF_NET_OFF, SKF_LL_OFF).
 *
 * Running a program WITHOUT a PacketMeta gives libpcap's pcap_offline_filter()
 * semantics: an absolute load at k >= 2^31 is simply out of the packet, so
 * the filter returns 0 (libpcap only knows VLAN_TAG / VLAN_TAG_PRESENT as aux
 * data, and returns 0 for them too when it has none, as offline).
 *
 * Running it WITH a PacketMeta gives the Linux kernel's semantics for those
 * loads (net/core/filter.c, as of Linux 6.15+):
 *
 * | load (any size, BPF_ABS)  | value                                              |
 * | ------------------------- | -------------------------------------------------- |
 * | SKF_AD_PROTOCOL           | `protocol` (skb->protocol in host order, ETH_P_*)  |
 * | SKF_AD_PKTTYPE            | `pktType & 7` (PACKET_HOST=0, BROADCAST, MULTICAST, OTHERHOST, OUTGOING) |
 * | SKF_AD_IFINDEX            | `ifindex`; without a device (`ifindex` undefined) the filter stops and returns A, as the kernel does when skb->dev is NULL |
 * | SKF_AD_HATYPE             | `hatype` (dev->type, ARPHRD_*); no device: returns A, as above |
 * | SKF_AD_MARK               | `mark` (u32)                                       |
 * | SKF_AD_QUEUE              | `queue & 0xffff` (queue_mapping)                   |
 * | SKF_AD_RXHASH             | `rxhash` (u32)                                     |
 * | SKF_AD_CPU                | `cpu`                                              |
 * | SKF_AD_VLAN_TAG           | `vlanTci & 0xffff`                                 |
 * | SKF_AD_VLAN_TAG_PRESENT   | 1 if `vlanPresent`, else 0                         |
 * | SKF_AD_VLAN_TPID          | `vlanTpid & 0xffff` (host order)                   |
 * | SKF_AD_PAY_OFFSET         | `payloadOffset` (the kernel's flow dissector result; 0 when it cannot dissect) |
 * | SKF_AD_RANDOM             | `random()` (a u32), default Math.random             |
 * | SKF_AD_ALU_XOR_X          | A ^ X                                              |
 * | SKF_AD_NLATTR             | A = offset of the netlink attribute of type X found from offset A (nla_find over the packet bytes, little-endian nlattr headers), 0 if none |
 * | SKF_AD_NLATTR_NEST        | the same inside the nested attribute at offset A   |
 *
 * Unset numeric fields read as 0. An absolute or indirect load at a negative
 * offset (k, or X + k, as a signed 32-bit number) is resolved like the kernel's
 * bpf_skb_load_helper_*: at or above SKF_NET_OFF it reads `networkOffset +
 * (offset - SKF_NET_OFF)`; at or above SKF_LL_OFF it reads `linkOffset +
 * (offset - SKF_LL_OFF)`; below, or when the needed header offset is not set,
 * or when the bytes are outside the captured data, the filter returns 0.
 * (The kernel may also read headroom before skb->data; a buffer has none.)
 * An indirect load's offset X + k wraps at 32 bits as in the kernel, where
 * libpcap treats an overflowing sum as out of bounds. One ALU difference goes
 * with it: a shift by X >= 32 shifts by X & 31 in the kernel (classic
 * programs run as eBPF ALU32, whose shift counts are masked), where libpcap
 * gives 0.
 */
import { SKF_AD, SKF_LL_OFF, SKF_NET_OFF } from './insn.js';

export interface PacketMeta {
  /** skb->protocol in host byte order (ETH_P_IP = 0x0800, ETH_P_IPV6 = 0x86dd, ...). */
  protocol?: number;
  /** skb->pkt_type: 0 host, 1 broadcast, 2 multicast, 3 other host, 4 outgoing. */
  pktType?: number;
  /** Interface index of skb->dev; undefined means no device (see above). */
  ifindex?: number;
  /** dev->type, ARPHRD_* (1 Ethernet, 772 loopback); undefined means no device. */
  hatype?: number;
  mark?: number;
  /** skb->queue_mapping. */
  queue?: number;
  /** skb->hash. */
  rxhash?: number;
  /** The CPU the filter runs on. */
  cpu?: number;
  /** The VLAN TCI the NIC stripped (skb->vlan_tci). */
  vlanTci?: number;
  /** Whether a stripped VLAN tag is present. */
  vlanPresent?: boolean;
  /** skb->vlan_proto in host order (0x8100, 0x88a8). */
  vlanTpid?: number;
  /** SKF_AD_PAY_OFFSET: the payload offset the kernel's flow dissector finds. */
  payloadOffset?: number;
  /** Source of SKF_AD_RANDOM values (u32). */
  random?: () => number;
  /** Offset of the network header within the packet data (for SKF_NET_OFF loads). */
  networkOffset?: number;
  /** Offset of the link-layer (MAC) header within the packet data (for SKF_LL_OFF loads); default 0. */
  linkOffset?: number;
}

/** A helper result meaning "the filter returns 0". */
export const LOAD_FAIL = -1;
/** A helper result meaning "the filter returns A" (ifindex/hatype without a device). */
export const LOAD_EXIT_A = -2;

const AD_OFF = 0xfffff000; // SKF_AD_OFF as u32

function readBE(p: Uint8Array, off: number, size: number): number {
  if (size === 1) return p[off]!;
  if (size === 2) return (p[off]! << 8) | p[off + 1]!;
  return ((p[off]! << 24) | (p[off + 1]! << 16) | (p[off + 2]! << 8) | p[off + 3]!) >>> 0;
}

/**
 * A load at a negative offset (signed 32-bit `off`), kernel-style. Returns the
 * u32 value or LOAD_FAIL.
 */
export function loadNegative(p: Uint8Array, meta: PacketMeta, off: number, size: number): number {
  let o: number;
  if (off >= SKF_NET_OFF) {
    if (meta.networkOffset === undefined) return LOAD_FAIL;
    o = off - SKF_NET_OFF + meta.networkOffset;
  } else if (off >= SKF_LL_OFF) {
    const ll = meta.linkOffset ?? 0;
    o = off - SKF_LL_OFF + ll;
  } else {
    return LOAD_FAIL;
  }
  if (o < 0 || o + size > p.length) return LOAD_FAIL;
  return readBE(p, o, size);
}

/**
 * An absolute load with k >= 2^31 under kernel semantics: an ancillary field
 * or a negative-offset load. Returns the u32 value, LOAD_FAIL or LOAD_EXIT_A.
 */
export function loadExtension(p: Uint8Array, meta: PacketMeta, k: number, size: number, A: number, X: number): number {
  const u = k >>> 0;
  if (u >= AD_OFF) {
    switch (u - AD_OFF) {
      case SKF_AD.PROTOCOL: return (meta.protocol ?? 0) & 0xffff;
      case SKF_AD.PKTTYPE: return (meta.pktType ?? 0) & 7;
      case SKF_AD.IFINDEX: return meta.ifindex === undefined ? LOAD_EXIT_A : meta.ifindex >>> 0;
      case SKF_AD.HATYPE: return meta.hatype === undefined ? LOAD_EXIT_A : meta.hatype & 0xffff;
      case SKF_AD.MARK: return (meta.mark ?? 0) >>> 0;
      case SKF_AD.QUEUE: return (meta.queue ?? 0) & 0xffff;
      case SKF_AD.RXHASH: return (meta.rxhash ?? 0) >>> 0;
      case SKF_AD.CPU: return (meta.cpu ?? 0) >>> 0;
      case SKF_AD.VLAN_TAG: return (meta.vlanTci ?? 0) & 0xffff;
      case SKF_AD.VLAN_TAG_PRESENT: return meta.vlanPresent ? 1 : 0;
      case SKF_AD.VLAN_TPID: return (meta.vlanTpid ?? 0) & 0xffff;
      case SKF_AD.PAY_OFFSET: return (meta.payloadOffset ?? 0) >>> 0;
      case SKF_AD.RANDOM: return (meta.random ? meta.random() : Math.floor(Math.random() * 0x100000000)) >>> 0;
      case SKF_AD.ALU_XOR_X: return (A ^ X) >>> 0;
      case SKF_AD.NLATTR: return nlattrFind(p, A >>> 0, X >>> 0);
      case SKF_AD.NLATTR_NEST: return nlattrFindNested(p, A >>> 0, X >>> 0);
    }
    // Not an ancillary field: the kernel treats it as an SKF_NET_OFF-relative load.
  }
  return loadNegative(p, meta, k | 0, size);
}

const NLA_HDRLEN = 4;
const NLA_TYPE_MASK = 0x3fff;

function nlaLen(p: Uint8Array, at: number): number {
  return p[at]! | (p[at + 1]! << 8);
}
function nlaType(p: Uint8Array, at: number): number {
  return (p[at + 2]! | (p[at + 3]! << 8)) & NLA_TYPE_MASK;
}

/** nla_find(): the first attribute of `type` in [head, head + len), or -1. */
function nlaFind(p: Uint8Array, head: number, len: number, type: number): number {
  let pos = head;
  let rem = len;
  while (rem >= NLA_HDRLEN) {
    const l = nlaLen(p, pos);
    if (l < NLA_HDRLEN || l > rem) break;
    if (nlaType(p, pos) === type) return pos;
    const aligned = (l + 3) & ~3;
    pos += aligned;
    rem -= aligned;
  }
  return -1;
}

/** bpf_skb_get_nlattr(): offset of attribute X searched from offset A, or 0. */
export function nlattrFind(p: Uint8Array, a: number, x: number): number {
  const len = p.length;
  if (len < NLA_HDRLEN || a > len - NLA_HDRLEN) return 0;
  const at = nlaFind(p, a, len - a, x);
  return at < 0 ? 0 : at;
}

/** bpf_skb_get_nlattr_nest(): offset of attribute X inside the attribute at offset A, or 0. */
export function nlattrFindNested(p: Uint8Array, a: number, x: number): number {
  const len = p.length;
  if (len < NLA_HDRLEN || a > len - NLA_HDRLEN) return 0;
  const outer = nlaLen(p, a);
  if (outer > len - a) return 0;
  // nla_find_nested(): search the payload of the attribute at A.
  const at = nlaFind(p, a + NLA_HDRLEN, outer - NLA_HDRLEN, x);
  return at < 0 ? 0 : at;
}
