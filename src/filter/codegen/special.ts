/**
 * Primitives outside the host/port/proto family: broadcast and multicast,
 * packet length, `byte`, direction and interface (with Linux ancillary
 * loads on live captures), pflog fields, 802.11 frame type/subtype/direction,
 * LLC frame kinds, ATM (SunATM pseudo-header fields and circuit shorthands),
 * and MTP2/MTP3 (SS7) fields.
 */
import * as insnModule from '../../cbpf/insn.js';
import type { ProtoQual, RelOp, ValueTest } from '../ast.js';
import * as linktypesModule from '../linktypes.js';
import * as predModule from '../pred.js';
import type { Pred } from '../pred.js';
import * as constantsModule from './constants.js';
import * as contextModule from './context.js';
import type { Gen } from './context.js';
import * as linktypeModule from './linktype.js';
import * as hostsModule from './hosts.js';
// Module-level copies of the imports: V8 folds a module's own constants into optimised code,
// not imported (live) bindings (see src/filter/README.md, "Compile speed").
const {
  BPF_ABS, BPF_ALU, BPF_AND, BPF_B, BPF_H, BPF_JEQ, BPF_JGE, BPF_JGT, BPF_JMP, BPF_JSET, BPF_K, BPF_LD, BPF_LEN,
  BPF_OR, BPF_W, SKF_AD, SKF_AD_OFF,
} = insnModule;
const { DLT } = linktypesModule;
const { and, not, or, orAll, test } = predModule;
const { ETHERTYPE, IEEE80211 } = constantsModule;
const { OFFSET_NOT_SET, copyOffset, st } = contextModule;
const { genLinktype, isWlan, llcLinktype, prevlinkhdrCheck, wlanDataFrame } = linktypeModule;
const { ahostop, ehostop, fhostop, ipfchostop, thostop, wlanhostop } = hostsModule;

/** A name's entry in a table of our own (never a property inherited from Object.prototype). */
function own<V>(table: Record<string, V>, name: string): V | undefined {
  return Object.hasOwn(table, name) ? table[name] : undefined;
}

const BCAST = new Uint8Array([0xff, 0xff, 0xff, 0xff, 0xff, 0xff]);

export function relJump(op: RelOp): { jtype: number; reverse: boolean } {
  switch (op) {
    case '>': return { jtype: BPF_JGT, reverse: false };
    case '>=': return { jtype: BPF_JGE, reverse: false };
    case '=': return { jtype: BPF_JEQ, reverse: false };
    case '<=': return { jtype: BPF_JGT, reverse: true };
    case '<': return { jtype: BPF_JGE, reverse: true };
    case '!=': return { jtype: BPF_JEQ, reverse: true };
  }
}

export function genBroadcast(g: Gen, proto: ProtoQual): Pred {
  if (proto === 'default' || proto === 'link') {
    switch (g.linktype) {
      case DLT.ARCNET:
      case DLT.ARCNET_LINUX:
        return ahostop(g, 0, 'dst');
      case DLT.BACNET_MS_TP:
        return ahostop(g, 0xff, 'dst');
      case DLT.EN10MB:
      case DLT.NETANALYZER:
      case DLT.NETANALYZER_TRANSPARENT:
      case DLT.DSA_TAG_BRCM:
      case DLT.DSA_TAG_DSA: {
        const b1 = prevlinkhdrCheck(g);
        const b0 = ehostop(g, BCAST, 'dst');
        return b1 ? and(b1, b0) : b0;
      }
      case DLT.FDDI: return fhostop(g, BCAST, 'dst');
      case DLT.IEEE802: return thostop(g, BCAST, 'dst');
      case DLT.IP_OVER_FC: return ipfchostop(g, BCAST, 'dst');
      default:
        if (isWlan(g.linktype)) return wlanhostop(g, BCAST, 'dst');
        g.notSupported('broadcast');
    }
  }
  if (proto === 'ip') {
    if (g.opts.netmask === undefined) g.error("netmask not known, so 'ip broadcast' not supported");
    const hostmask = ~g.opts.netmask >>> 0;
    const b0 = genLinktype(g, ETHERTYPE.IP);
    const b2 = or(g.mcmp('linkpl', 16, BPF_W, 0, hostmask), g.mcmp('linkpl', 16, BPF_W, hostmask, hostmask));
    return and(b0, b2);
  }
  g.error(`'${proto}' is not a valid qualifier for 'broadcast'`);
}

function macMulticast(g: Gen, offset: number): Pred {
  return g.jset('linkhdr', offset, BPF_B, 1);
}

export function genMulticast(g: Gen, proto: ProtoQual): Pred {
  if (proto === 'default' || proto === 'link') {
    switch (g.linktype) {
      case DLT.ARCNET:
      case DLT.ARCNET_LINUX:
        return ahostop(g, 0, 'dst');
      case DLT.EN10MB:
      case DLT.NETANALYZER:
      case DLT.NETANALYZER_TRANSPARENT:
      case DLT.DSA_TAG_BRCM:
      case DLT.DSA_TAG_DSA: {
        const b1 = prevlinkhdrCheck(g);
        const b0 = macMulticast(g, 0);
        return b1 ? and(b1, b0) : b0;
      }
      case DLT.FDDI: return macMulticast(g, 1);
      case DLT.IEEE802: return macMulticast(g, 2);
      case DLT.IP_OVER_FC: return macMulticast(g, 2);
      default:
        if (isWlan(g.linktype)) {
          const fc1 = (bit: number): Pred => g.jset('linkhdr', 1, BPF_B, bit);
          const fc0 = (bit: number): Pred => g.jset('linkhdr', 0, BPF_B, bit);
          let b0 = and(fc1(0x01), macMulticast(g, 16));
          let b1 = and(not(fc1(0x01)), macMulticast(g, 4));
          b0 = or(b1, b0);
          b0 = and(fc0(0x08), b0);
          b1 = and(not(fc0(0x08)), macMulticast(g, 4));
          b0 = or(b1, b0);
          return and(not(fc0(0x04)), b0);
        }
        g.notSupported('multicast');
    }
  }
  if (proto === 'ip') return and(genLinktype(g, ETHERTYPE.IP), g.cmpGe('linkpl', 16, BPF_B, 224));
  if (proto === 'ip6') return and(genLinktype(g, ETHERTYPE.IPV6), g.cmp('linkpl', 24, BPF_B, 255));
  g.error(`'${proto}' is not a valid qualifier for 'multicast'`);
}

export function genLen(jtype: number, n: number, reverse: boolean): Pred {
  const p = test([st(BPF_LD | BPF_LEN | BPF_W)], BPF_JMP | jtype | BPF_K, n);
  return reverse ? not(p) : p;
}

export function genByteop(g: Gen, op: '&' | '|' | '<' | '>' | '=', idx: number, val: number): Pred {
  if (val > 255) g.error(`byte argument ${val} greater than maximum 255`);
  switch (op) {
    case '=': return g.cmp('linkhdr', idx, BPF_B, val);
    case '<': return g.cmpLt('linkhdr', idx, BPF_B, val);
    case '>': return g.cmpGt('linkhdr', idx, BPF_B, val);
    case '|':
    case '&': {
      const s = g.loadA('linkhdr', idx, BPF_B, st(BPF_ALU | (op === '|' ? BPF_OR : BPF_AND) | BPF_K, val));
      return not(test(s, BPF_JMP | BPF_JEQ | BPF_K, 0));
    }
  }
}

export function genInbound(g: Gen, outbound: boolean): Pred {
  const name = outbound ? 'outbound' : 'inbound';
  switch (g.linktype) {
    case DLT.SLIP:
      return g.cmp('linkhdr', 0, BPF_B, outbound ? 1 : 0);
    case DLT.IPNET:
      return g.cmp('linkhdr', 2, BPF_H, outbound ? 1 : 2);
    case DLT.LINUX_SLL: {
      const b0 = g.cmp('linkhdr', 0, BPF_H, 4);
      return outbound ? b0 : not(b0);
    }
    case DLT.LINUX_SLL2: {
      const b0 = g.cmp('linkhdr', 10, BPF_B, 4);
      return outbound ? b0 : not(b0);
    }
    case DLT.PFLOG:
      return g.cmp('linkhdr', 60, BPF_B, outbound ? 2 : 1);
    case DLT.DSA_TAG_DSA:
      // Marvell DSA tag: mode bits; TO_CPU (0) means received, FROM_CPU (1) sent.
      return outbound ? g.mcmp('linkhdr', 12, BPF_B, 0x40, 0xc0) : g.mcmp('linkhdr', 12, BPF_B, 0, 0x40);
    case DLT.DSA_TAG_BRCM:
      // Broadcom tag: opcode 0 is towards the CPU (received), 1 from it (sent).
      return g.mcmp('linkhdr', 12, BPF_B, outbound ? 0x20 : 0, 0xe0);
    case DLT.PPP_PPPD:
      return g.cmp('linkhdr', 0, BPF_B, outbound ? 1 : 0);
    case DLT.JUNIPER_MFR: case DLT.JUNIPER_MLFR: case DLT.JUNIPER_MLPPP: case DLT.JUNIPER_ATM1:
    case DLT.JUNIPER_ATM2: case DLT.JUNIPER_PPPOE: case DLT.JUNIPER_PPPOE_ATM: case DLT.JUNIPER_GGSN:
    case DLT.JUNIPER_ES: case DLT.JUNIPER_MONITOR: case DLT.JUNIPER_SERVICES: case DLT.JUNIPER_ETHER:
    case DLT.JUNIPER_PPP: case DLT.JUNIPER_FRELAY: case DLT.JUNIPER_CHDLC: case DLT.JUNIPER_VP:
    case DLT.JUNIPER_ST: case DLT.JUNIPER_ISM: case DLT.JUNIPER_VS: case DLT.JUNIPER_SRX_E2E:
    case DLT.JUNIPER_FIBRECHANNEL: case DLT.JUNIPER_ATM_CEMIC:
      return g.mcmp('linkhdr', 3, BPF_B, outbound ? 0 : 1, 0x01);
    default: {
      if (!g.opts.linuxExt) g.error(`not a live capture, '${name}' not supported on ${g.dltLabel}`);
      const b0 = test([st(BPF_LD | BPF_H | BPF_ABS, SKF_AD_OFF + SKF_AD.PKTTYPE)], BPF_JMP | BPF_JEQ | BPF_K, 4);
      return outbound ? b0 : not(b0);
    }
  }
}

export function genIfindex(g: Gen, ifindex: number): Pred {
  if (g.linktype === DLT.LINUX_SLL2) return g.cmp('linkhdr', 4, BPF_W, ifindex);
  if (!g.opts.linuxExt) g.error('not a live capture');
  return test([st(BPF_LD | BPF_W | BPF_ABS, SKF_AD_OFF + SKF_AD.IFINDEX)], BPF_JMP | BPF_JEQ | BPF_K, ifindex);
}

// ---- pflog ----------------------------------------------------------------------------------

const PF_REASONS = [
  'match', 'bad-offset', 'fragment', 'short', 'normalize', 'memory', 'bad-timestamp', 'congestion',
  'ip-option', 'proto-cksum', 'state-mismatch', 'state-insert', 'state-limit', 'src-limit', 'synproxy',
];
const PF_ACTIONS: Record<string, number> = {
  pass: 0, accept: 0, drop: 1, block: 1, scrub: 2, noscrub: 3, nat: 4, nonat: 5, binat: 6, nobinat: 7,
  rdr: 8, nordr: 9, 'synproxy-drop': 10, defer: 11, match: 12, divert: 13, rt: 14, afrt: 15,
};

export function genPf(g: Gen, field: 'ifname' | 'ruleset' | 'rnr' | 'srnr' | 'reason' | 'action', value: string | number): Pred {
  if (g.linktype !== DLT.PFLOG) g.error(`'${field}' supported only on PFLOG linktype`);
  const bytes = (s: string): number[] => Array.from(new TextEncoder().encode(s));
  switch (field) {
    case 'ifname': {
      const s = String(value);
      if (s.length >= 16) g.error(`ifname interface names can only be 15 characters`);
      return g.bcmp('linkhdr', 4, bytes(s));
    }
    case 'ruleset': {
      const s = String(value);
      if (s.length >= 16) g.error(`ruleset names can only be 15 characters`);
      return g.bcmp('linkhdr', 20, bytes(s));
    }
    case 'rnr': return g.cmp('linkhdr', 36, BPF_W, Number(value));
    case 'srnr': return g.cmp('linkhdr', 40, BPF_W, Number(value));
    case 'reason': {
      let r: number;
      if (typeof value === 'number') r = value;
      else {
        r = PF_REASONS.indexOf(value.toLowerCase());
        if (r < 0) g.error(`unknown PF reason "${value}"`);
      }
      return g.cmp('linkhdr', 3, BPF_B, r);
    }
    case 'action': {
      const a = own(PF_ACTIONS, String(value).toLowerCase());
      if (a === undefined) g.error(`unknown PF action "${value}"`);
      return g.cmp('linkhdr', 2, BPF_B, a);
    }
  }
}

// ---- 802.11 ---------------------------------------------------------------------------------

const WLAN_TYPES: Record<string, number> = { mgt: 0x00, management: 0x00, ctl: 0x04, control: 0x04, data: 0x08 };
const WLAN_SUBTYPES: Record<number, Record<string, number>> = {
  0x00: {
    'assoc-req': 0x00, assocreq: 0x00, 'assoc-resp': 0x10, assocresp: 0x10, 'reassoc-req': 0x20, reassocreq: 0x20,
    'reassoc-resp': 0x30, reassocresp: 0x30, 'probe-req': 0x40, probereq: 0x40, 'probe-resp': 0x50, proberesp: 0x50,
    beacon: 0x80, atim: 0x90, disassoc: 0xa0, disassociation: 0xa0, auth: 0xb0, authentication: 0xb0,
    deauth: 0xc0, deauthentication: 0xc0,
  },
  0x04: {
    bar: 0x80, ba: 0x90, 'ps-poll': 0xa0, pspoll: 0xa0, rts: 0xb0, cts: 0xc0, ack: 0xd0, 'cf-end': 0xe0, cfend: 0xe0,
    'cf-end-ack': 0xf0, cfendack: 0xf0,
  },
  0x08: {
    data: 0x00, 'data-cf-ack': 0x10, datacfack: 0x10, 'data-cf-poll': 0x20, datacfpoll: 0x20,
    'data-cf-ack-poll': 0x30, datacfackpoll: 0x30, null: 0x40, 'cf-ack': 0x50, cfack: 0x50, 'cf-poll': 0x60,
    cfpoll: 0x60, 'cf-ack-poll': 0x70, cfackpoll: 0x70, 'qos-data': 0x80, qosdata: 0x80,
    'qos-data-cf-ack': 0x90, qosdatacfack: 0x90, 'qos-data-cf-poll': 0xa0, qosdatacfpoll: 0xa0,
    'qos-data-cf-ack-poll': 0xb0, qosdatacfackpoll: 0xb0, 'qos': 0xc0, 'qos-cf-poll': 0xe0, qoscfpoll: 0xe0,
    'qos-cf-ack-poll': 0xf0, qoscfackpoll: 0xf0,
  },
};
const WLAN_DIRS: Record<string, number> = { nods: 0, tods: 1, fromds: 2, dstods: 3 };

function wlanLinktypes(g: Gen, what: string): void {
  const lt = g.linktype;
  if (!isWlan(lt)) {
    g.notSupported(what);
  }
}

export function genWlanType(g: Gen, typeText: string, subtypeText: string | undefined): Pred {
  wlanLinktypes(g, 'type/subtype');
  const type = wlanValue(g, typeText, WLAN_TYPES, 'type', 0x0c, 2);
  if (subtypeText === undefined) return g.mcmp('linkhdr', 0, BPF_B, type, IEEE80211.FC0_TYPE_MASK);
  const sub = wlanValue(g, subtypeText, WLAN_SUBTYPES[type] ?? {}, 'subtype', 0xf0, 4);
  return g.mcmp('linkhdr', 0, BPF_B, type | sub, IEEE80211.FC0_TYPE_MASK | IEEE80211.FC0_SUBTYPE_MASK);
}

export function genWlanSubtype(g: Gen, text: string): Pred {
  wlanLinktypes(g, 'type/subtype');
  for (const type of [0x00, 0x04, 0x08]) {
    const v = own(WLAN_SUBTYPES[type]!, text.toLowerCase());
    if (v !== undefined) return g.mcmp('linkhdr', 0, BPF_B, type | v, IEEE80211.FC0_TYPE_MASK | IEEE80211.FC0_SUBTYPE_MASK);
  }
  g.error(`unknown 802.11 subtype name '${text}'`);
}

function wlanValue(g: Gen, text: string, table: Record<string, number>, what: string, mask: number, shift: number): number {
  if (/^(0[xX][0-9a-fA-F]+|[0-9]+)$/.test(text)) {
    const v = Number(text.startsWith('0') && !/^0[xX]/.test(text) && text.length > 1 ? parseInt(text, 8) : text);
    void shift;
    if ((v & ~mask) !== 0) g.error(`invalid 802.11 ${what} value`);
    return v;
  }
  const v = own(table, text.toLowerCase());
  if (v === undefined) g.error(`unknown 802.11 ${what} name '${text}'`);
  return v;
}

export function genWlanDir(g: Gen, text: string): Pred {
  wlanLinktypes(g, 'dir');
  let v: number;
  if (/^(0[xX][0-9a-fA-F]+|[0-9]+)$/.test(text)) {
    v = Number(text);
    if (v > 3) g.error('invalid 802.11 direction');
  } else {
    const d = own(WLAN_DIRS, text.toLowerCase());
    if (d === undefined) g.error(`unknown 802.11 direction '${text}'`);
    v = d;
  }
  return g.mcmp('linkhdr', 1, BPF_B, v, IEEE80211.FC1_DIR_MASK);
}

// ---- LLC ------------------------------------------------------------------------------------

function llcBase(g: Gen): Pred {
  switch (g.linktype) {
    case DLT.EN10MB:
    case DLT.DSA_TAG_BRCM:
    case DLT.DSA_TAG_DSA:
      return and(not(g.cmpGt('linktype', 0, BPF_H, 1500)), not(g.cmp('llc', 0, BPF_H, 0xffff)));
    case DLT.SUNATM:
      return atmField(g, 'proto', 0x02, '=');
    case DLT.IEEE802:
    case DLT.FDDI:
    case DLT.ATM_RFC1483:
      return { k: 'const', v: true };
    default:
      if (isWlan(g.linktype)) return wlanDataFrame(g);
      g.notSupported('llc');
  }
}

const LLC_S: Record<string, number> = { rr: 0x01, rnr: 0x05, rej: 0x09 };
const LLC_U: Record<string, number> = {
  ui: 0x03, ua: 0x63, disc: 0x43, dm: 0x0f, sabme: 0x6f, test: 0xe3, xid: 0xaf, frmr: 0x87,
};

export function genLlc(g: Gen, kind: string | undefined): Pred {
  const b0 = llcBase(g);
  if (kind === undefined) return b0;
  const k = kind.toLowerCase();
  if (k === 'i') return and(b0, not(test(g.loadA('llc', 2, BPF_B), BPF_JMP | BPF_JSET | BPF_K, 0x01)));
  if (k === 's') return and(b0, g.mcmp('llc', 2, BPF_B, 0x01, 0x03));
  if (k === 'u') return and(b0, g.mcmp('llc', 2, BPF_B, 0x03, 0x03));
  const s = own(LLC_S, k);
  if (s !== undefined) return and(b0, g.mcmp('llc', 2, BPF_B, s, 0x0f));
  const u = own(LLC_U, k);
  if (u !== undefined) return and(b0, g.mcmp('llc', 2, BPF_B, u, 0xef));
  g.error(`unknown LLC type name '${kind}'`);
}

// ---- ATM ------------------------------------------------------------------------------------

type AtmField = 'vpi' | 'vci' | 'proto' | 'msgtype' | 'callref';

function atmField(g: Gen, field: AtmField, value: number, op: RelOp): Pred {
  const { jtype, reverse } = relJump(op);
  const wrap = (p: Pred): Pred => (op === '!=' ? not(p) : p);
  switch (field) {
    case 'vpi':
      if (!g.isAtm) g.error("'vpi' supported only on SUNATM");
      if (value > 255) g.error(`VPI ${value} greater than maximum 255`);
      return wrap(g.ncmp('linkhdr', g.offVpi, BPF_B, 0xffffffff, jtype, reverse, value));
    case 'vci':
      if (!g.isAtm) g.error("'vci' supported only on SUNATM");
      if (value > 65535) g.error(`VCI ${value} greater than maximum 65535`);
      return wrap(g.ncmp('linkhdr', g.offVci, BPF_H, 0xffffffff, jtype, reverse, value));
    case 'proto':
      return wrap(g.ncmp('linkhdr', g.offProto, BPF_B, 0x0f, jtype, reverse, value));
    case 'msgtype':
      return wrap(g.ncmp('linkhdr', g.offPayload + 5, BPF_B, 0xffffffff, jtype, reverse, value));
    case 'callref':
      return wrap(g.ncmp('linkhdr', g.offProto, BPF_B, 0xffffffff, jtype, reverse, value));
  }
}

export function genAtmField(g: Gen, field: 'vpi' | 'vci', tests: ValueTest[]): Pred {
  if (!g.isAtm) g.error(`'${field}' supported only on SUNATM`);
  return orAll(tests.map((t) => atmField(g, field, t.value, t.op)));
}

function vpiVci(g: Gen, vci: number): Pred {
  return and(atmField(g, 'vpi', 0, '='), atmField(g, 'vci', vci, '='));
}

const MSG = { SETUP: 0x05, CALL_PROCEED: 0x02, CONNECT: 0x07, CONNECT_ACK: 0x0f, RELEASE: 0x4d, RELEASE_DONE: 0x5a };

export function genAtmType(g: Gen, name: string): Pred {
  if (!g.isAtm) g.error(`'${name}' supported only on SUNATM`);
  const msgs = (...types: number[]): Pred => orAll(types.map((t) => atmField(g, 'msgtype', t, '=')));
  switch (name) {
    case 'metac': return vpiVci(g, 1);
    case 'bcc': return vpiVci(g, 2);
    case 'oamf4sc': return vpiVci(g, 3);
    case 'oamf4ec': return vpiVci(g, 4);
    case 'sc': return vpiVci(g, 5);
    case 'ilmic': return vpiVci(g, 16);
    case 'lane': {
      const b1 = atmField(g, 'proto', 0x01, '=');
      g.prevlinktype = g.linktype;
      g.offPrevlinkhdr = copyOffset(g.offLinkhdr);
      g.linktype = DLT.EN10MB;
      g.offLinkhdr = { isVariable: false, constant: g.offPayload + 2, reg: -1 };
      g.isEncap = false;
      g.offLinktype.constant = g.offLinkhdr.constant + 12;
      g.offLinkpl.constant = g.offLinkhdr.constant + 14;
      g.offNl = 0;
      g.offNlNosnap = 3;
      return b1;
    }
    case 'llc': {
      const b0 = atmField(g, 'proto', 0x02, '=');
      g.linktype = g.prevlinktype;
      return b0;
    }
    case 'oam':
    case 'oamf4': {
      const b1 = or(atmField(g, 'vci', 3, '='), atmField(g, 'vci', 4, '='));
      return and(atmField(g, 'vpi', 0, '='), b1);
    }
    case 'connectmsg':
      return and(vpiVci(g, 5), msgs(MSG.SETUP, MSG.CALL_PROCEED, MSG.CONNECT, MSG.CONNECT_ACK, MSG.RELEASE, MSG.RELEASE_DONE));
    case 'metaconnect':
      return and(vpiVci(g, 1), msgs(MSG.SETUP, MSG.CALL_PROCEED, MSG.CONNECT, MSG.RELEASE, MSG.RELEASE_DONE));
    default:
      throw new Error(`atm ${name}`);
  }
}

// ---- MTP2 / MTP3 ----------------------------------------------------------------------------

export function genMtp2(g: Gen, name: string): Pred {
  const lt = g.linktype;
  if (lt !== DLT.MTP2 && lt !== DLT.ERF && lt !== DLT.MTP2_WITH_PHDR) g.error(`'${name}' supported only on SS7`);
  switch (name) {
    case 'fisu': return g.ncmp('packet', g.offLi, BPF_B, 0x3f, BPF_JEQ, false, 0);
    case 'lssu': return and(g.ncmp('packet', g.offLi, BPF_B, 0x3f, BPF_JGT, false, 0), g.ncmp('packet', g.offLi, BPF_B, 0x3f, BPF_JGT, true, 2));
    case 'msu': return g.ncmp('packet', g.offLi, BPF_B, 0x3f, BPF_JGT, false, 2);
    case 'hfisu': return g.ncmp('packet', g.offLiHsl, BPF_H, 0xff80, BPF_JEQ, false, 0);
    case 'hlssu': return and(g.ncmp('packet', g.offLiHsl, BPF_H, 0xff80, BPF_JGT, false, 0), g.ncmp('packet', g.offLiHsl, BPF_H, 0xff80, BPF_JGT, true, 0x0100));
    case 'hmsu': return g.ncmp('packet', g.offLiHsl, BPF_H, 0xff80, BPF_JGT, false, 0x0100);
    default: throw new Error(`mtp2 ${name}`);
  }
}

export function genMtp3(g: Gen, field: 'sio' | 'opc' | 'dpc' | 'sls' | 'hsio' | 'hopc' | 'hdpc' | 'hsls', tests: ValueTest[]): Pred {
  const base = field.startsWith('h') ? field.slice(1) : field;
  const extra = field.startsWith('h') ? 3 : 0;
  const off = { sio: g.offSio, opc: g.offOpc, dpc: g.offDpc, sls: g.offSls }[base as 'sio']!;
  if (off === OFFSET_NOT_SET) g.error(`'${field}' supported only on SS7`);
  const one = (t: ValueTest): Pred => {
    const { jtype, reverse } = relJump(t.op);
    let v = t.value;
    let size = BPF_B;
    let mask = 0xffffffff;
    const max = { sio: 255, opc: 16383, dpc: 16383, sls: 15 }[base as 'sio']!;
    if (v > max) g.error(`${field} ${v} greater than maximum ${max}`);
    switch (base) {
      case 'sio': break;
      case 'opc':
        v = (((v & 0x3c00) >>> 10) + ((v & 0x03fc) << 6) + ((v & 0x3) << 22)) >>> 0;
        size = BPF_W;
        mask = 0x00c0ff0f;
        break;
      case 'dpc':
        // The 14-bit code sits in the routing label's first two bytes: libpcap's current gencode
        // loads just those (a 4-byte load would reject a label cut short after them).
        v = ((v & 0xff) << 8) + ((v & 0x3f00) >>> 8);
        size = BPF_H;
        mask = 0xff3f;
        break;
      case 'sls':
        v = v << 4;
        mask = 0xf0;
        break;
    }
    const p = g.ncmp('packet', off + extra, size, mask, jtype, reverse, v);
    return t.op === '!=' ? not(p) : p;
  };
  return orAll(tests.map(one));
}

export { BPF_ABS, llcLinktype };
