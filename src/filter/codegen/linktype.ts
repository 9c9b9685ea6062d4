/**
 * "Is this packet of network protocol P?" for every link type: Ethernet
 * type/length fields with 802.2 and SNAP, LLC-based links (FDDI, Token
 * Ring, 802.11, ATM, IP over FC), Linux cooked headers, BSD loopback AF
 * values, PPP protocol numbers, ARCnet types, and the links that carry only
 * IP. `ll` is an Ethernet type when > 1500, else an LLC SAP (libpcap's
 * convention).
 */
import * as insnModule from '../../cbpf/insn.js';
import * as linktypesModule from '../linktypes.js';
import * as predModule from '../pred.js';
import type { Pred } from '../pred.js';
import * as constantsModule from './constants.js';
import * as contextModule from './context.js';
import { Gen } from './context.js';
// Module-level copies of the imports: V8 folds a module's own constants into optimised code,
// not imported (live) bindings (see src/filter/README.md, "Compile speed").
const { BPF_B, BPF_H, BPF_JEQ, BPF_JMP, BPF_W, BPF_X } = insnModule;
const { DLT, dltName } = linktypesModule;
const { FALSE, TRUE, and, not, or, test } = predModule;
const { AF, ARCTYPE, ETHERTYPE, IEEE80211, ISO, LLCSAP, PPP, SLL } = constantsModule;
const { LDX_MEM, LD_MEM, OFFSET_NOT_SET } = contextModule;

const ETHERMTU = 1500;
const EN10MB = DLT.EN10MB;
const ETHERTYPE_ATALK = ETHERTYPE.ATALK;
const ETHERTYPE_AARP = ETHERTYPE.AARP;

export function isWlan(lt: number): boolean {
  return lt === DLT.IEEE802_11 || lt === DLT.PRISM_HEADER || lt === DLT.IEEE802_11_RADIO_AVS ||
    lt === DLT.IEEE802_11_RADIO || lt === DLT.PPI;
}

export function isEthernetLike(lt: number): boolean {
  return lt === DLT.EN10MB || lt === DLT.NETANALYZER || lt === DLT.NETANALYZER_TRANSPARENT ||
    lt === DLT.DSA_TAG_BRCM || lt === DLT.DSA_TAG_DSA;
}

export function snap(g: Gen, orgcode: number, ptype: number): Pred {
  return g.bcmp('llc', 0, [
    LLCSAP.SNAP, LLCSAP.SNAP, 0x03, (orgcode >> 16) & 255, (orgcode >> 8) & 255, orgcode & 255,
    (ptype >> 8) & 255, ptype & 255,
  ]);
}

/** An 802.3 length field rather than an Ethernet type. */
const is8023 = (g: Gen): Pred => not(g.cmpGt('linktype', 0, BPF_H, ETHERMTU));

function etherLinktype(g: Gen, ll: number): Pred {
  switch (ll) {
    case LLCSAP.ISONS:
    case LLCSAP.IP:
    case LLCSAP.NETBEUI:
      return and(is8023(g), g.cmp('llc', 0, BPF_H, (ll << 8) | ll));
    case LLCSAP.IPX: {
      let b1 = or(g.cmp('llc', 0, BPF_B, LLCSAP.IPX), g.cmp('llc', 0, BPF_H, 0xffff));
      b1 = or(snap(g, 0, ETHERTYPE.IPX), b1);
      b1 = and(is8023(g), b1);
      return or(g.cmp('linktype', 0, BPF_H, ETHERTYPE.IPX), b1);
    }
    case ETHERTYPE.ATALK:
    case ETHERTYPE.AARP: {
      const b0 = is8023(g);
      const b1 = ll === ETHERTYPE.ATALK ? snap(g, 0x080007, ETHERTYPE.ATALK) : snap(g, 0, ETHERTYPE.AARP);
      return or(g.cmp('linktype', 0, BPF_H, ll), and(b0, b1));
    }
    default:
      if (ll <= ETHERMTU) return and(is8023(g), g.cmp('linktype', 2, BPF_B, ll));
      return g.cmp('linktype', 0, BPF_H, ll);
  }
}

function sllLinktype(g: Gen, ll: number): Pred {
  switch (ll) {
    case LLCSAP.ISONS:
    case LLCSAP.IP:
    case LLCSAP.NETBEUI:
      return and(g.cmp('linktype', 0, BPF_H, SLL.P_802_2), g.cmp('llc', 0, BPF_H, (ll << 8) | ll));
    case LLCSAP.IPX: {
      let b1 = or(g.cmp('llc', 0, BPF_B, LLCSAP.IPX), snap(g, 0, ETHERTYPE.IPX));
      b1 = and(g.cmp('linktype', 0, BPF_H, SLL.P_802_2), b1);
      b1 = or(g.cmp('linktype', 0, BPF_H, SLL.P_802_3), b1);
      return or(g.cmp('linktype', 0, BPF_H, ETHERTYPE.IPX), b1);
    }
    case ETHERTYPE.ATALK:
    case ETHERTYPE.AARP: {
      const b0 = g.cmp('linktype', 0, BPF_H, SLL.P_802_2);
      const b1 = ll === ETHERTYPE.ATALK ? snap(g, 0x080007, ETHERTYPE.ATALK) : snap(g, 0, ETHERTYPE.AARP);
      return or(g.cmp('linktype', 0, BPF_H, ll), and(b0, b1));
    }
    default:
      if (ll <= ETHERMTU) {
        return and(g.cmp('linktype', 0, BPF_H, SLL.P_802_2), g.cmp('linkhdr', g.offLinkpl.constant, BPF_B, ll));
      }
      return g.cmp('linktype', 0, BPF_H, ll);
  }
}

export function llcLinktype(g: Gen, ll: number): Pred {
  switch (ll) {
    case LLCSAP.IP:
    case LLCSAP.ISONS:
    case LLCSAP.NETBEUI:
      return g.cmp('llc', 0, BPF_H, (ll << 8) | ll);
    case LLCSAP.IPX:
      return g.cmp('llc', 0, BPF_B, LLCSAP.IPX);
    case ETHERTYPE.ATALK:
      return snap(g, 0x080007, ETHERTYPE.ATALK);
    default:
      if (ll <= ETHERMTU) return g.cmp('llc', 0, BPF_B, ll);
      return g.cmp('llc', 6, BPF_H, ll);
  }
}

/** 802.11 data frame: type bits of frame control = data. */
export function wlanDataFrame(g: Gen): Pred {
  return g.mcmp('linkhdr', 0, BPF_B, IEEE80211.TYPE_DATA, IEEE80211.FC0_TYPE_MASK);
}

const swap32 = (x: number): number => (((x & 0xff) << 24) | ((x & 0xff00) << 8) | ((x >>> 8) & 0xff00) | (x >>> 24)) >>> 0;

/**
 * BSD loopback / ENC headers hold an AF_ value: in the capturing host's byte
 * order for NULL and ENC (a little-endian host here), in network order for
 * LOOP. A savefile may come from any host, so offline filters accept both
 * orders, and for IPv6 every BSD's AF_INET6 value.
 */
function loopbackLinktype(g: Gen, ll: number): Pred {
  const hostOrder = g.linktype === DLT.NULL || g.linktype === DLT.ENC;
  const offline = g.opts.offline;
  let afs: number[];
  if (ll === ETHERTYPE.IP) afs = [AF.INET];
  else if (ll === ETHERTYPE.IPV6) afs = offline ? [AF.INET6_DARWIN, AF.INET6_BSD, AF.INET6_FREEBSD] : [AF.INET6_LINUX];
  else return FALSE;
  let values: number[];
  if (!hostOrder) values = afs;
  else if (!offline) values = afs.map(swap32);
  else if (offline === 'unswapped') values = [...afs, ...afs.map(swap32)];
  else values = [...afs.map(swap32), ...afs];
  let p: Pred | undefined;
  for (const v of values) {
    const t = g.cmp('linkhdr', 0, BPF_W, v);
    p = p ? or(p, t) : t;
  }
  return p!;
}

function ethertypeToPpp(ll: number): number {
  switch (ll) {
    case ETHERTYPE.IP: return PPP.IP;
    case ETHERTYPE.IPV6: return PPP.IPV6;
    case ETHERTYPE.DN: return PPP.DECNET;
    case ETHERTYPE.ATALK: return PPP.APPLE;
    case ETHERTYPE.NS: return PPP.NS;
    case LLCSAP.ISONS: return PPP.OSI;
    case LLCSAP.STP: return PPP.BRPDU;
    case LLCSAP.IPX: return PPP.IPX;
    default: return ll;
  }
}

/** Checks needed on the outer link header for an encapsulated link header (LANE, Geneve). */
export function prevlinkhdrCheck(g: Gen): Pred | undefined {
  if (g.isEncap) return geneveLlCheck(g);
  if (g.prevlinktype === DLT.SUNATM) return not(g.cmp('prevlinkhdr', 4, BPF_H, 0xff00));
  return undefined;
}

/** Inside Geneve/VXLAN: an inner Ethernet header exists iff linkhdr and linkpl offsets differ. */
export function geneveLlCheck(g: Gen): Pred {
  return not(test([LD_MEM[g.offLinkhdr.reg]!, LDX_MEM[g.offLinkpl.reg]!], BPF_JMP | BPF_JEQ | BPF_X, 0));
}

function mplsLinktype(g: Gen, ll: number): Pred {
  switch (ll) {
    case ETHERTYPE.IP:
      return and(g.jset('linkpl', -2, BPF_B, 0x01), g.mcmp('linkpl', 0, BPF_B, 0x40, 0xf0));
    case ETHERTYPE.IPV6:
      return and(g.jset('linkpl', -2, BPF_B, 0x01), g.mcmp('linkpl', 0, BPF_B, 0x60, 0xf0));
    default:
      g.error("unsupported protocol over mpls");
  }
}

/**
 * "Is this packet of network protocol `ll`?" on the link type in force. Ethernet's Ethernet-type
 * test comes first in a function small enough for V8 to inline into its callers (most tests
 * start with one); everything else is otherLinktype.
 */
export function genLinktype(g: Gen, ll: number): Pred {
  if (g.linktype === EN10MB && g.labelStackDepth === 0 && ll > ETHERMTU && ll !== ETHERTYPE_ATALK && ll !== ETHERTYPE_AARP) {
    // As otherLinktype's Ethernet case does for these types (etherLinktype's last case).
    const b0 = g.isEncap ? undefined : prevlinkhdrCheck(g);
    const b1 = g.cmp('linktype', 0, BPF_H, ll);
    return b0 ? and(b0, b1) : b1;
  }
  return otherLinktype(g, ll);
}

function otherLinktype(g: Gen, ll: number): Pred {
  if (g.labelStackDepth > 0) return mplsLinktype(g, ll);
  const lt = g.linktype;
  switch (lt) {
    case DLT.EN10MB:
    case DLT.NETANALYZER:
    case DLT.NETANALYZER_TRANSPARENT:
    case DLT.DSA_TAG_BRCM:
    case DLT.DSA_TAG_DSA: {
      const b0 = g.isEncap ? undefined : prevlinkhdrCheck(g);
      const b1 = etherLinktype(g, ll);
      return b0 ? and(b0, b1) : b1;
    }
    case DLT.C_HDLC:
      return g.cmp('linktype', 0, BPF_H, ll === LLCSAP.ISONS ? (ll << 8) | LLCSAP.ISONS : ll);
    case DLT.IEEE802_11:
    case DLT.PRISM_HEADER:
    case DLT.IEEE802_11_RADIO_AVS:
    case DLT.IEEE802_11_RADIO:
    case DLT.PPI:
      return and(wlanDataFrame(g), llcLinktype(g, ll));
    case DLT.FDDI:
    case DLT.IEEE802:
    case DLT.ATM_RFC1483:
    case DLT.ATM_CLIP:
    case DLT.IP_OVER_FC:
      return llcLinktype(g, ll);
    case DLT.SUNATM:
      return and(g.ncmp('linkhdr', g.offProto, BPF_B, 0x0f, BPF_JEQ, false, 0x02), llcLinktype(g, ll));
    case DLT.LINUX_SLL:
    case DLT.LINUX_SLL2:
      return sllLinktype(g, ll);
    case DLT.SLIP:
    case DLT.SLIP_BSDOS:
    case DLT.RAW:
      if (ll === ETHERTYPE.IP) return g.mcmp('linkhdr', 0, BPF_B, 0x40, 0xf0);
      if (ll === ETHERTYPE.IPV6) return g.mcmp('linkhdr', 0, BPF_B, 0x60, 0xf0);
      return FALSE;
    case DLT.IPV4:
      return ll === ETHERTYPE.IP ? TRUE : FALSE;
    case DLT.IPV6:
      return ll === ETHERTYPE.IPV6 ? TRUE : FALSE;
    case DLT.PPP:
    case DLT.PPP_PPPD:
    case DLT.PPP_SERIAL:
    case DLT.PPP_ETHER:
      return g.cmp('linktype', 0, BPF_H, ethertypeToPpp(ll));
    case DLT.PPP_BSDOS:
      if (ll === ETHERTYPE.IP) {
        return or(or(g.cmp('linktype', 0, BPF_H, PPP.IP), g.cmp('linktype', 0, BPF_H, PPP.VJC)), g.cmp('linktype', 0, BPF_H, PPP.VJNC));
      }
      return g.cmp('linktype', 0, BPF_H, ethertypeToPpp(ll));
    case DLT.NULL:
    case DLT.LOOP:
    case DLT.ENC:
      return loopbackLinktype(g, ll);
    case DLT.PFLOG:
      if (ll === ETHERTYPE.IP) return g.cmp('linkhdr', 1, BPF_B, AF.INET);
      if (ll === ETHERTYPE.IPV6) {
        if (!g.opts.offline) return g.cmp('linkhdr', 1, BPF_B, AF.INET6_LINUX);
        return or(or(g.cmp('linkhdr', 1, BPF_B, AF.INET6_DARWIN), g.cmp('linkhdr', 1, BPF_B, AF.INET6_BSD)), g.cmp('linkhdr', 1, BPF_B, AF.INET6_FREEBSD));
      }
      return FALSE;
    case DLT.ARCNET:
    case DLT.ARCNET_LINUX:
      switch (ll) {
        case ETHERTYPE.IPV6: return g.cmp('linktype', 0, BPF_B, ARCTYPE.INET6);
        case ETHERTYPE.IP: return g.cmp('linktype', 0, BPF_B, ARCTYPE.IP);
        case ETHERTYPE.ARP: return g.cmp('linktype', 0, BPF_B, ARCTYPE.ARP);
        case ETHERTYPE.REVARP: return g.cmp('linktype', 0, BPF_B, ARCTYPE.REVARP);
        case ETHERTYPE.ATALK: return g.cmp('linktype', 0, BPF_B, ARCTYPE.ATALK);
        default: return FALSE;
      }
    case DLT.LTALK:
      return ll === ETHERTYPE.ATALK ? TRUE : FALSE;
    case DLT.FRELAY:
      switch (ll) {
        case ETHERTYPE.IP: return g.cmp('linkhdr', 2, BPF_H, 0x03cc);
        case ETHERTYPE.IPV6: return g.cmp('linkhdr', 2, BPF_H, 0x038e);
        case LLCSAP.ISONS:
          return or(g.cmp('linkhdr', 2, BPF_H, 0x0300 | ISO.CLNP), or(g.cmp('linkhdr', 2, BPF_H, 0x0300 | ISO.ESIS), g.cmp('linkhdr', 2, BPF_H, 0x0300 | ISO.ISIS)));
        default: return FALSE;
      }
    case DLT.JUNIPER_MFR:
    case DLT.JUNIPER_MLFR:
    case DLT.JUNIPER_MLPPP:
    case DLT.JUNIPER_ATM1:
    case DLT.JUNIPER_ATM2:
    case DLT.JUNIPER_PPPOE:
    case DLT.JUNIPER_PPPOE_ATM:
    case DLT.JUNIPER_GGSN:
    case DLT.JUNIPER_ES:
    case DLT.JUNIPER_MONITOR:
    case DLT.JUNIPER_SERVICES:
    case DLT.JUNIPER_ETHER:
    case DLT.JUNIPER_PPP:
    case DLT.JUNIPER_FRELAY:
    case DLT.JUNIPER_CHDLC:
    case DLT.JUNIPER_VP:
    case DLT.JUNIPER_ST:
    case DLT.JUNIPER_ISM:
    case DLT.JUNIPER_VS:
    case DLT.JUNIPER_SRX_E2E:
    case DLT.JUNIPER_FIBRECHANNEL:
    case DLT.JUNIPER_ATM_CEMIC:
      return g.mcmp('linkhdr', 0, BPF_W, 0x4d474300, 0xffffff00);
    case DLT.IPNET:
      if (ll === ETHERTYPE.IP) return g.cmp('linktype', 0, BPF_B, 2);
      if (ll === ETHERTYPE.IPV6) return g.cmp('linktype', 0, BPF_B, 26);
      return FALSE;
    default:
      if (g.offLinktype.constant !== OFFSET_NOT_SET) return g.cmp('linktype', 0, BPF_H, ll);
      g.error(`link-layer type filtering not implemented for DLT_${dltName(lt)}`);
  }
}
