/**
 * Qualified identifiers: `[proto] [dir] [type] id`. Checks that the
 * qualifiers fit the identifier (and says what does not, in libpcap's
 * words), resolves names, and dispatches to the host, net, port, proto,
 * protochain and gateway generators.
 */
import type { DirQual, IdValue, ProtoQual, Qual } from '../ast.js';
import * as linktypesModule from '../linktypes.js';
import * as addrModule from '../names/addr.js';
import * as predModule from '../pred.js';
import type { Pred } from '../pred.js';
import * as constantsModule from './constants.js';
import type { Gen } from './context.js';
import * as hostsModule from './hosts.js';
import * as linktypeModule from './linktype.js';
import * as protoModule from './proto.js';
import type { PortProto } from './proto.js';
import * as insnModule from '../../cbpf/insn.js';
// Module-level copies of the imports: V8 folds a module's own constants into optimised code,
// not imported (live) bindings (see src/filter/README.md, "Compile speed").
const { DLT } = linktypesModule;
const { atoan, atodn, atoin, etherAton, parseIpv6 } = addrModule;
const { and, not, or } = predModule;
const { IPPROTO, ISO } = constantsModule;
const { ahostop, dnhostop, genHost, genHost6, host6List, hostList, linkHostop } = hostsModule;
const { isEthernetLike, isWlan } = linktypeModule;
const { genPort, genPort6, genPortrange, genPortrange6, genProto, genProtochain } = protoModule;
const { BPF_B } = insnModule;

/** The 802.11 address-field qualifiers (string compares: cheaper than a Set lookup per test). */
const isWlanDir = (d: DirQual): boolean => d === 'addr1' || d === 'addr2' || d === 'addr3' || d === 'addr4' || d === 'ra' || d === 'ta';

/** `default`, `ip`, `arp` or `rarp` (the IPv4 address qualifiers), without an array per test. */
const isV4Proto = (p: ProtoQual): boolean => p === 'default' || p === 'ip' || p === 'arp' || p === 'rarp';

function idText(id: IdValue): string {
  switch (id.kind) {
    case 'name': return id.name;
    case 'num': return String(id.value);
    case 'ipv4': return id.text;
    case 'ipv4mask': return `${id.text} mask ${id.mask}`;
    case 'ipv4len': return `${id.text}/${id.len}`;
    case 'ipv6': return id.len === undefined ? id.text : `${id.text}/${id.len}`;
    case 'mac': return id.text;
    case 'arcnet': return id.text;
  }
}

/** How the qualifier error messages describe an address: `'ipv4'` → `IPv4 address`. */
function addrDescription(id: IdValue, addr: Qual['addr']): string {
  const v6 = id.kind === 'ipv6';
  const fam = v6 ? 'IPv6' : 'IPv4';
  if (id.kind === 'name') return addr === 'net' ? 'net <IPv4 network name>' : 'host <Internet hostname>';
  if (addr === 'net') {
    const full = (id.kind === 'ipv4' && id.text.split('.').length === 4) || id.kind === 'num';
    const isPrefix = id.kind === 'ipv4len' || id.kind === 'ipv4mask' || (v6) || !full;
    return `net <${fam} ${isPrefix ? 'prefix' : 'address'}>`;
  }
  return `host <${fam} address>`;
}

function qualifiedFor(id: IdValue): string {
  switch (id.kind) {
    case 'ipv4': return 'IPv4 address';
    case 'ipv4len': return 'IPv4 address and prefix length';
    case 'ipv4mask': return 'IPv4 address and netmask';
    case 'ipv6': return id.len === undefined ? 'IPv6 address' : 'IPv6 address and prefix length';
    default: return '';
  }
}

function checkMax(g: Gen, v: number, max: number, what: string): void {
  if (v > max) g.error(`${what} ${v} greater than maximum ${max}`);
}

function portProto(g: Gen, proto: ProtoQual, what: string): PortProto {
  switch (proto) {
    case 'default': return 'any';
    case 'tcp': return IPPROTO.TCP;
    case 'udp': return IPPROTO.UDP;
    case 'sctp': return IPPROTO.SCTP;
    default: g.error(`'${proto}' is not a valid qualifier for '${what}'`);
  }
}

/** A service name for a port qualifier: its number and which protocol it binds. */
function lookupPort(g: Gen, name: string, proto: PortProto): { port: number; proto: PortProto } | undefined {
  const svc = g.opts.resolver.service(name);
  if (!svc) return undefined;
  if (proto === 'any') {
    const n = (svc.tcp ? 1 : 0) + (svc.udp ? 1 : 0) + (svc.sctp ? 1 : 0);
    if (n === 1) return { port: svc.port, proto: svc.tcp ? IPPROTO.TCP : svc.udp ? IPPROTO.UDP : IPPROTO.SCTP };
    return { port: svc.port, proto: 'any' };
  }
  const has = proto === IPPROTO.TCP ? svc.tcp : proto === IPPROTO.UDP ? svc.udp : svc.sctp;
  if (!has) return undefined;
  return { port: svc.port, proto };
}

/** Only decimal digits (at least one)? */
function isDecimal(text: string): boolean {
  if (text.length === 0) return false;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c < 48 || c > 57) return false;
  }
  return true;
}

function portNumber(g: Gen, text: string, proto: PortProto): { port: number; proto: PortProto } | undefined {
  if (isDecimal(text)) return { port: Number(text), proto };
  return lookupPort(g, text, proto);
}

function genPortId(g: Gen, q: Qual, id: IdValue): Pred {
  if (id.kind !== 'num' && id.kind !== 'name') g.error(`'${q.addr}' qualifier applied to ${qualifiedFor(id)}`);
  const proto = portProto(g, q.proto, q.addr);
  if (q.addr === 'port') {
    let port: number;
    let real: PortProto = proto;
    if (id.kind === 'num') port = id.value;
    else if (id.kind === 'name') {
      const r = lookupPort(g, id.name, proto);
      if (!r) g.error(`unknown port '${id.name}'`);
      port = r.port;
      real = r.proto;
    } else g.error(`'port' qualifier applied to ${qualifiedFor(id)}`);
    checkMax(g, port, 65535, 'port number');
    return or(genPort6(g, port, real, q.dir), genPort(g, port, real, q.dir));
  }
  // portrange
  let p1: number, p2: number;
  let real: PortProto = proto;
  if (id.kind === 'num') p1 = p2 = id.value;
  else if (id.kind === 'name') {
    const dash = id.name.indexOf('-');
    const a = dash < 0 ? id.name : id.name.slice(0, dash);
    const b = dash < 0 ? id.name : id.name.slice(dash + 1);
    const ra = portNumber(g, a, proto);
    const rb = portNumber(g, b, proto);
    if (!ra || !rb || a === '' || b === '') g.error(`unknown port in range '${id.name}'`);
    p1 = ra.port;
    p2 = rb.port;
    if (proto === 'any' && ra.proto !== 'any' && ra.proto === rb.proto) real = ra.proto;
  } else g.error(`'portrange' qualifier applied to ${qualifiedFor(id)}`);
  checkMax(g, p1, 65535, 'port number');
  checkMax(g, p2, 65535, 'port number');
  return or(genPortrange6(g, p1, p2, real, q.dir), genPortrange(g, p1, p2, real, q.dir));
}

function lookupProtoName(g: Gen, name: string, proto: ProtoQual, what: string): number {
  let v: number | undefined;
  switch (proto) {
    case 'default':
    case 'ip':
    case 'ip6':
      v = g.opts.resolver.protocol(name);
      break;
    case 'link':
      v = g.opts.resolver.etherProto(name) ?? g.opts.resolver.llc(name);
      break;
    case 'iso':
      v = name === 'esis' ? ISO.ESIS : name === 'isis' ? ISO.ISIS : name === 'clnp' ? ISO.CLNP : undefined;
      break;
    default:
      break;
  }
  if (v === undefined) {
    const q = proto === 'default' ? what : `${proto} ${what}`;
    g.error(`unknown '${q}' value '${name}'`);
  }
  return v;
}

function checkProtoValue(g: Gen, v: number, proto: ProtoQual): void {
  switch (proto) {
    case 'default':
    case 'ip':
    case 'ip6':
      return checkMax(g, v, 255, 'protocol number');
    case 'iso':
      return checkMax(g, v, 255, 'ISO protocol');
    case 'isis':
      return checkMax(g, v, 31, 'IS-IS PDU type');
    case 'link':
      switch (g.linktype) {
        case DLT.PPP: case DLT.PPP_PPPD: case DLT.PPP_SERIAL: case DLT.PPP_ETHER: case DLT.PPP_BSDOS:
          return checkMax(g, v, 65535, 'PPP protocol');
        case DLT.C_HDLC:
          return checkMax(g, v, 65535, 'HDLC protocol');
        default:
          if (isEthernetLike(g.linktype) || g.linktype === DLT.LINUX_SLL || g.linktype === DLT.LINUX_SLL2 ||
            isWlan(g.linktype) || g.linktype === DLT.FDDI || g.linktype === DLT.IEEE802 || g.linktype === DLT.ATM_RFC1483 ||
            g.linktype === DLT.ATM_CLIP || g.linktype === DLT.IP_OVER_FC || g.linktype === DLT.SUNATM) {
            if (v <= 1500) return checkMax(g, v, 255, 'LLC DSAP');
          }
          return checkMax(g, v, 65535, 'EtherType');
      }
    default:
      return;
  }
}

function genProtoId(g: Gen, q: Qual, id: IdValue): Pred {
  const what = q.addr as 'proto' | 'protochain';
  if (q.dir !== 'default') g.error(`direction applied to '${what}'`);
  if (id.kind !== 'num' && id.kind !== 'name') g.error(`'${what}' qualifier applied to ${qualifiedFor(id)}`);
  const valid = what === 'proto' ? ['default', 'link', 'ip', 'ip6', 'iso', 'isis'] : ['default', 'ip', 'ip6'];
  let v: number;
  if (id.kind === 'name') v = lookupProtoName(g, id.name, q.proto, what);
  else v = id.value;
  if (!valid.includes(q.proto)) g.error(`'${q.proto}' is not a valid qualifier for '${what}'`);
  checkProtoValue(g, v, q.proto);
  return what === 'proto' ? genProto(g, v, q.proto) : genProtochain(g, v, q.proto);
}

function genGateway(g: Gen, q: Qual, id: IdValue): Pred {
  if (id.kind !== 'name') {
    if (id.kind === 'mac') g.error('Ethernet address used in non-ether expression');
    g.error(`'gateway' is not a valid qualifier for '${idText(id)}'`);
  }
  if (!isV4Proto(q.proto)) g.error(`'${q.proto}' is not a valid qualifier for 'gateway'`);
  if (g.labelStackDepth > 0) g.error("'gateway' cannot be used within MPLS");
  if (g.isEncap) g.error("'gateway' cannot be used within VXLAN or Geneve");
  const lt = g.linktype;
  if (!(isEthernetLike(lt) || lt === DLT.FDDI || lt === DLT.IEEE802 || isWlan(lt) || lt === DLT.IP_OVER_FC)) {
    g.notSupported('gateway');
  }
  const mac = g.opts.resolver.ether(id.name);
  if (!mac) g.error(`unknown Ethernet-like host '${id.name}'`);
  const addrs = g.opts.resolver.host(id.name);
  if (!addrs || addrs.v4.length === 0) g.error(`unknown host '${id.name}'`);
  // The MAC matches, and the packet is IPv4/ARP/RARP without any of the host's addresses.
  const b0 = linkHostop(g, mac, 'default')!;
  const protos: ('ip' | 'arp' | 'rarp')[] = q.proto === 'default' ? ['ip', 'arp', 'rarp'] : [q.proto as 'ip' | 'arp' | 'rarp'];
  let b1: Pred | undefined;
  for (const p of protos) {
    const h = hostList(g, addrs.v4, p, 'default');
    const t = and(h.ll, not(h.addrs));
    b1 = b1 ? or(b1, t) : t;
  }
  return and(b0, b1!);
}

function genLinkName(g: Gen, q: Qual, name: string): Pred {
  const lt = g.linktype;
  if (!(isEthernetLike(lt) || lt === DLT.FDDI || lt === DLT.IEEE802 || isWlan(lt) || lt === DLT.IP_OVER_FC)) {
    g.notSupported('link host NAME');
  }
  const mac = g.opts.resolver.ether(name);
  if (!mac) g.error(`unknown Ethernet-like host '${name}'`);
  return linkHostop(g, mac, q.dir)!;
}

function genHostName(g: Gen, q: Qual, name: string): Pred {
  if (q.proto === 'link') return genLinkName(g, q, name);
  if (q.proto === 'decnet') g.error("'decnet' is not a valid qualifier for 'host'");
  if (!isV4Proto(q.proto) && q.proto !== 'ip6') {
    g.error(`'${q.proto}' is not a valid qualifier for 'host <Internet hostname>'`);
  }
  if (isWlanDir(q.dir)) g.error(`'${q.dir}' is valid for 802.11 syntax only`);
  const addrs = g.opts.resolver.host(name);
  if (!addrs || (addrs.v4.length === 0 && addrs.v6.length === 0)) g.error(`unknown host '${name}'`);
  let tproto: ProtoQual = q.proto;
  let tproto6: ProtoQual = q.proto;
  if (g.offLinktype.constant === 0xffffffff && q.proto === 'default') {
    tproto = 'ip';
    tproto6 = 'ip6';
  }
  let b: Pred | undefined;
  const push = (p: Pred): void => {
    b = b ? or(b, p) : p;
  };
  if (tproto !== 'ip6' && addrs.v4.length > 0) {
    // As genHost: the default protocol is IPv4, ARP and RARP (only IPv4 inside MPLS).
    const protos = tproto !== 'default' ? [tproto as 'ip' | 'arp' | 'rarp'] : g.labelStackDepth > 0 ? ['ip' as const] : (['ip', 'arp', 'rarp'] as const);
    for (const p of protos) {
      const h = hostList(g, addrs.v4, p, q.dir);
      push(and(h.ll, h.addrs));
    }
  }
  if (tproto6 !== 'ip' && tproto6 !== 'arp' && tproto6 !== 'rarp' && addrs.v6.length > 0) push(host6List(g, addrs.v6, q.dir));
  if (!b) g.error(`unknown host '${name}'${q.proto === 'default' ? '' : ' for specified address family'}`);
  return b;
}

function v4Valid(g: Gen, q: Qual, id: IdValue): void {
  if (!isV4Proto(q.proto)) {
    g.error(`'${q.proto}' is not a valid qualifier for '${addrDescription(id, q.addr)}'`);
  }
}

/** A partial address (atoin's `bits` of it) moved to the top of the 32 bits: `10.1` is 10.1.0.0. */
const leftAligned = (a: { value: number; bits: number }): number => (a.bits === 32 ? a.value : (a.value << (32 - a.bits)) >>> 0);

function genIpv4(g: Gen, q: Qual, id: IdValue): Pred {
  // An address the lexer did not read is parsed once, here (checked first, as before the qualifiers).
  const unread = id.kind === 'ipv4' && id.value < 0;
  const a4 = unread ? atoin(id.text) : undefined;
  if (unread && !a4) g.error(`invalid IPv4 address '${id.text}'`);
  if ((id.kind === 'ipv4len' || id.kind === 'ipv4mask') && q.addr !== 'net') g.error(`'host' is not a valid qualifier for '${idText(id)}'`);
  if (q.proto === 'link') {
    if (id.kind === 'ipv4' || id.kind === 'num') g.error(`illegal link-layer address '${idText(id)}'`);
    g.error(`'link' is not a valid qualifier for '${addrDescription(id, q.addr)}'`);
  }
  if (isWlanDir(q.dir)) g.error(`'${q.dir}' is valid for 802.11 syntax only`);
  let v: number, mask: number;
  if (id.kind === 'num') {
    v = id.value;
    mask = 0xffffffff;
    if (q.addr === 'net') {
      while (v && (v & 0xff000000) === 0) {
        v = (v << 8) >>> 0;
        mask = (mask << 8) >>> 0;
      }
    }
  } else if (id.kind === 'ipv4') {
    if (a4 === undefined) {
      v = id.value;
      mask = 0xffffffff;
    } else {
      v = leftAligned(a4);
      mask = a4.bits === 32 ? 0xffffffff : (0xffffffff << (32 - a4.bits)) >>> 0;
    }
  } else if (id.kind === 'ipv4len' || id.kind === 'ipv4mask') {
    if (id.value >= 0) v = id.value;
    else {
      const a = atoin(id.text);
      if (!a) g.error(`invalid IPv4 address '${id.text}'`);
      v = leftAligned(a);
    }
    if (id.kind === 'ipv4mask') {
      const m = atoin(id.mask);
      if (!m) g.error(`invalid IPv4 address '${id.mask}'`);
      mask = leftAligned(m);
      if ((v & ~mask) >>> 0) g.error(`non-network bits set in "${id.text} mask ${id.mask}"`);
    } else {
      checkMax(g, id.len, 32, 'netmask length');
      mask = id.len === 0 ? 0 : (0xffffffff << (32 - id.len)) >>> 0;
      if ((v & ~mask) >>> 0) g.error(`non-network bits set in "${id.text}/${id.len}"`);
    }
    if (q.addr !== 'net') g.error(`'host' is not a valid qualifier for '${idText(id)}'`);
  } else throw new Error('genIpv4');
  v4Valid(g, q, id);
  return genHost(g, v >>> 0, mask >>> 0, q.proto, q.dir);
}

function genIpv6(g: Gen, q: Qual, id: Extract<IdValue, { kind: 'ipv6' }>): Pred {
  if (q.addr !== 'net' && id.len !== undefined && id.len !== 128) g.error(`'host' is not a valid qualifier for '${idText(id)}'`);
  if (isWlanDir(q.dir)) g.error(`'${q.dir}' is valid for 802.11 syntax only`);
  const addr = parseIpv6(id.text);
  if (!addr) g.error(`invalid IPv6 address ${id.text}`);
  const len = id.len ?? 128;
  if (len > 128) g.error('mask length must be <= 128');
  const mask = new Uint8Array(16);
  for (let i = 0; i < 16; i++) mask[i] = len >= (i + 1) * 8 ? 0xff : len > i * 8 ? (0xff << (8 - (len - i * 8))) & 0xff : 0;
  for (let i = 0; i < 16; i++) if (addr[i]! & ~mask[i]!) g.error(`non-network bits set in "${id.text}/${len}"`);
  if (q.addr !== 'net' && len !== 128) g.error(`'host' is not a valid qualifier for '${idText(id)}'`);
  if (q.proto !== 'default' && q.proto !== 'ip6') g.error(`'${q.proto}' is not a valid qualifier for '${addrDescription(id, q.addr)}'`);
  return genHost6(g, addr, mask, q.dir);
}

export function genId(g: Gen, q: Qual, id: IdValue): Pred {
  if (q.addr === 'undef') g.error("can't parse filter expression: syntax error");
  const hostLike = q.addr === 'host' || q.addr === 'default';
  if (id.kind === 'mac' && !(hostLike && (q.proto === 'link' || q.proto === 'default'))) {
    g.error('Ethernet address used in non-ether expression');
  }
  if (id.kind === 'arcnet' && !hostLike) g.error(`'${q.addr}' is not a valid qualifier for '$XX'`);
  if (q.proto === 'decnet') {
    const early = q.addr === 'gateway' ? id.kind !== 'ipv6' : (q.addr === 'proto' || q.addr === 'protochain') && (id.kind === 'num' || id.kind === 'name');
    if (early) g.error(`'decnet' is not a valid qualifier for '${q.addr}'`);
  }
  if (isWlanDir(q.dir) && (q.addr === 'port' || q.addr === 'portrange')) {
    g.error(`'${q.dir}' is not a valid qualifier for '${q.addr}'`);
  }
  switch (q.addr) {
    case 'port':
    case 'portrange':
      return genPortId(g, q, id);
    case 'proto':
    case 'protochain':
      return genProtoId(g, q, id);
    case 'gateway':
      return genGateway(g, q, id);
    default:
      break;
  }
  // host, net or unspecified
  switch (id.kind) {
    case 'mac': {
      if (q.proto !== 'link' && q.proto !== 'default') g.error('Ethernet address used in non-ether expression');
      if (q.addr === 'net') g.error('Ethernet address used in non-ether expression');
      const mac = etherAton(id.text);
      if (!mac) g.error('invalid Ethernet address');
      const p = linkHostop(g, mac, q.dir);
      if (!p) {
        if (isWlanDir(q.dir)) g.error(`'${q.dir}' is valid for 802.11 syntax only`);
        g.notSupported('link host XX:XX:XX:XX:XX:XX');
      }
      return p;
    }
    case 'arcnet': {
      if (q.proto !== 'link' && q.proto !== 'default') g.error("'link' is the only valid proto qualifier for 'host $XX'");
      if (isWlanDir(q.dir)) g.error(`'${q.dir}' is valid for 802.11 syntax only`);
      if (g.linktype !== DLT.ARCNET && g.linktype !== DLT.ARCNET_LINUX && g.linktype !== DLT.BACNET_MS_TP) g.notSupported('link host $XX');
      const a = atoan(id.text);
      if (a === undefined) g.error(`invalid ARCnet address '${id.text}'`);
      return ahostop(g, a, q.dir);
    }
    case 'name': {
      if (q.addr === 'net') {
        if (!isV4Proto(q.proto)) {
          if (q.proto === 'decnet') g.error("'decnet' is not a valid qualifier for 'net'");
          g.error(`'${q.proto}' is not a valid qualifier for 'net <IPv4 network name>'`);
        }
        if (isWlanDir(q.dir)) g.error(`'${q.dir}' is valid for 802.11 syntax only`);
        let addr = g.opts.resolver.network(id.name);
        if (addr === undefined || addr === 0) g.error(`unknown network '${id.name}'`);
        let mask = 0xffffffff;
        while (addr && (addr & 0xff000000) === 0) {
          addr = (addr << 8) >>> 0;
          mask = (mask << 8) >>> 0;
        }
        return genHost(g, addr, mask, q.proto, q.dir);
      }
      return genHostName(g, q, id.name);
    }
    case 'num':
    case 'ipv4':
    case 'ipv4len':
    case 'ipv4mask': {
      if (q.proto === 'decnet') {
        if (q.addr === 'net') g.error("'decnet' is not a valid qualifier for 'net'");
        if (id.kind !== 'ipv4' && id.kind !== 'num') g.error("'decnet' is not a valid qualifier for 'host'");
        if (isWlanDir(q.dir)) g.error(`'${q.dir}' is valid for 802.11 syntax only`);
        const text = id.kind === 'num' ? String(id.value) : id.text;
        const a = atodn(text);
        if (a === undefined) g.error(`invalid DECnet address '${text}'`);
        return dnhostop(g, a, q.dir);
      }
      return genIpv4(g, q, id);
    }
    case 'ipv6':
      return genIpv6(g, q, id);
  }
}

export { BPF_B };
