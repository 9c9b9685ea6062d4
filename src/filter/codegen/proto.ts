/**
 * Protocol tests: `ip proto N`, `ip6 proto N` (also through one fragment
 * header), the bare protocol names (`tcp`, `udp`, `isis`, `l1`, ...), ports
 * and port ranges over IPv4 (first fragments only) and IPv6, and
 * `protochain`, whose header walk is a loop.
 */
import * as insnModule from '../../cbpf/insn.js';
import type { Block } from '../cfg.js';
import type { DirQual, ProtoQual } from '../ast.js';
import * as linktypesModule from '../linktypes.js';
import * as predModule from '../pred.js';
import type { Pred } from '../pred.js';
import * as constantsModule from './constants.js';
import * as contextModule from './context.js';
import type { Gen } from './context.js';
import * as linktypeModule from './linktype.js';
// Module-level copies of the imports: V8 folds a module's own constants into optimised code,
// not imported (live) bindings (see src/filter/README.md, "Compile speed").
const {
  BPF_ADD, BPF_ALU, BPF_B, BPF_H, BPF_IMM, BPF_IND, BPF_JEQ, BPF_JMP, BPF_K, BPF_LD, BPF_LDX, BPF_MSH, BPF_MUL,
  BPF_ABS,
} = insnModule;
const { DLT } = linktypesModule;
const { and, not, or } = predModule;
const { ETHERTYPE, IPPROTO, ISIS_PDU, ISO, LLCSAP } = constantsModule;
const { LD_MEM, ST_MEM, TAX, TXA, st } = contextModule;
const { genLinktype } = linktypeModule;

export type PortProto = number | 'any';

function ipfrag(g: Gen): Pred {
  return not(g.jset('linkpl', 6, BPF_H, 0x1fff));
}

/**
 * The port test at each offset `dir` asks for (0: source, 2: destination): the 16-bit field at
 * `rel` + offset in [v1, v2] (a single port when equal). Plain arguments, not a closure per test.
 */
function dirPorts(g: Gen, dir: DirQual, rel: 'tran_ipv4' | 'tran_ipv6', v1: number, v2: number, what: string): Pred {
  switch (dir) {
    case 'src': return rangeAtom(g, rel, 0, v1, v2);
    case 'dst': return rangeAtom(g, rel, 2, v1, v2);
    case 'src and dst': return and(rangeAtom(g, rel, 0, v1, v2), rangeAtom(g, rel, 2, v1, v2));
    case 'default':
    case 'src or dst':
      return or(rangeAtom(g, rel, 0, v1, v2), rangeAtom(g, rel, 2, v1, v2));
    default:
      g.error(`'${dir}' is not a valid qualifier for '${what}'`);
  }
}

/** "IP protocol is `proto`" (any: TCP, UDP or SCTP) at the given offset of the network header. */
function protoIn(g: Gen, off: number, proto: PortProto): Pred {
  if (proto !== 'any') return g.cmp('linkpl', off, BPF_B, proto);
  let p = g.cmp('linkpl', off, BPF_B, IPPROTO.TCP);
  p = or(p, g.cmp('linkpl', off, BPF_B, IPPROTO.UDP));
  return or(p, g.cmp('linkpl', off, BPF_B, IPPROTO.SCTP));
}

/** IPv4, one of the protocols, first fragment, then the port test (once for all protocols). */
function ports4(g: Gen, proto: PortProto, dir: DirQual, v1: number, v2: number, what: string): Pred {
  const b0 = genLinktype(g, ETHERTYPE.IP);
  const b1 = and(protoIn(g, 9, proto), ipfrag(g));
  return and(b0, and(b1, dirPorts(g, dir, 'tran_ipv4', v1, v2, what)));
}

function ports6(g: Gen, proto: PortProto, dir: DirQual, v1: number, v2: number, what: string): Pred {
  const b0 = genLinktype(g, ETHERTYPE.IPV6);
  return and(b0, and(protoIn(g, 6, proto), dirPorts(g, dir, 'tran_ipv6', v1, v2, what)));
}

export function genPort(g: Gen, port: number, proto: PortProto, dir: DirQual): Pred {
  return ports4(g, proto, dir, port, port, 'port');
}

export function genPort6(g: Gen, port: number, proto: PortProto, dir: DirQual): Pred {
  return ports6(g, proto, dir, port, port, 'port');
}

/** The 16-bit field in [min(v1, v2), max(v1, v2)]: one test when they are equal (a port). */
function rangeAtom(g: Gen, rel: 'tran_ipv4' | 'tran_ipv6', off: number, v1: number, v2: number): Pred {
  const lo = Math.min(v1, v2), hi = Math.max(v1, v2);
  if (lo === hi) return g.cmp(rel, off, BPF_H, lo);
  if (lo === 0) return g.cmpLe(rel, off, BPF_H, hi);
  if (hi === 65535) return g.cmpGe(rel, off, BPF_H, lo);
  return and(g.cmpGe(rel, off, BPF_H, lo), g.cmpLe(rel, off, BPF_H, hi));
}

export function genPortrange(g: Gen, p1: number, p2: number, proto: PortProto, dir: DirQual): Pred {
  return ports4(g, proto, dir, p1, p2, 'portrange');
}

export function genPortrange6(g: Gen, p1: number, p2: number, proto: PortProto, dir: DirQual): Pred {
  return ports6(g, proto, dir, p1, p2, 'portrange');
}

/** `<proto> proto v` */
export function genProto(g: Gen, v: number, proto: ProtoQual): Pred {
  switch (proto) {
    case 'default':
      return or(genProto(g, v, 'ip'), genProto(g, v, 'ip6'));
    case 'link':
      return genLinktype(g, v);
    case 'ip':
      return and(genLinktype(g, ETHERTYPE.IP), g.cmp('linkpl', 9, BPF_B, v));
    case 'ip6': {
      const b0 = genLinktype(g, ETHERTYPE.IPV6);
      let b1 = and(g.cmp('linkpl', 6, BPF_B, IPPROTO.FRAGMENT), g.cmp('linkpl', 40, BPF_B, v));
      b1 = or(g.cmp('linkpl', 6, BPF_B, v), b1);
      return and(b0, b1);
    }
    case 'iso':
      switch (g.linktype) {
        case DLT.FRELAY:
          return g.cmp('linkhdr', 2, BPF_H, 0x0300 | v);
        case DLT.C_HDLC:
          return and(genLinktype(g, (LLCSAP.ISONS << 8) | LLCSAP.ISONS), g.cmp('linkpl_nosnap', 1, BPF_B, v));
        default:
          return and(genLinktype(g, LLCSAP.ISONS), g.cmp('linkpl_nosnap', 0, BPF_B, v));
      }
    case 'isis':
      // The PDU type is the low 5 bits of byte 4 of the IS-IS header (one more byte in on C-HDLC).
      return and(genProto(g, ISO.ISIS, 'iso'), g.mcmp('linkpl_nosnap', g.linktype === DLT.C_HDLC ? 5 : 4, BPF_B, v, 0x1f));
    default:
      g.error(`'${proto}' is not a valid qualifier for 'proto'`);
  }
}

/** The bare protocol names. */
export function genProtoAbbrev(g: Gen, proto: ProtoQual): Pred {
  const isis = (...types: number[]): Pred => {
    let b: Pred | undefined;
    for (const t of types) {
      const p = genProto(g, t, 'isis');
      b = b ? or(b, p) : p;
    }
    return b!;
  };
  switch (proto) {
    case 'sctp': return or(genProto(g, IPPROTO.SCTP, 'ip'), genProto(g, IPPROTO.SCTP, 'ip6'));
    case 'tcp': return or(genProto(g, IPPROTO.TCP, 'ip'), genProto(g, IPPROTO.TCP, 'ip6'));
    case 'udp': return or(genProto(g, IPPROTO.UDP, 'ip'), genProto(g, IPPROTO.UDP, 'ip6'));
    case 'icmp': return genProto(g, IPPROTO.ICMP, 'ip');
    case 'igmp': return genProto(g, IPPROTO.IGMP, 'ip');
    case 'igrp': return genProto(g, IPPROTO.IGRP, 'ip');
    case 'pim': return or(genProto(g, IPPROTO.PIM, 'ip'), genProto(g, IPPROTO.PIM, 'ip6'));
    case 'vrrp': return genProto(g, IPPROTO.VRRP, 'ip');
    case 'carp': return genProto(g, IPPROTO.CARP, 'ip');
    case 'ip': return genLinktype(g, ETHERTYPE.IP);
    case 'arp': return genLinktype(g, ETHERTYPE.ARP);
    case 'rarp': return genLinktype(g, ETHERTYPE.REVARP);
    case 'link': g.error("'link' is not a valid protocol type");
    // falls through (never)
    case 'atalk': return genLinktype(g, ETHERTYPE.ATALK);
    case 'aarp': return genLinktype(g, ETHERTYPE.AARP);
    case 'decnet': return genLinktype(g, ETHERTYPE.DN);
    case 'sca': return genLinktype(g, ETHERTYPE.SCA);
    case 'lat': return genLinktype(g, ETHERTYPE.LAT);
    case 'mopdl': return genLinktype(g, ETHERTYPE.MOPDL);
    case 'moprc': return genLinktype(g, ETHERTYPE.MOPRC);
    case 'ip6': return genLinktype(g, ETHERTYPE.IPV6);
    case 'icmp6': return genProto(g, IPPROTO.ICMPV6, 'ip6');
    case 'ah': return or(genProto(g, IPPROTO.AH, 'ip'), genProto(g, IPPROTO.AH, 'ip6'));
    case 'esp': return or(genProto(g, IPPROTO.ESP, 'ip'), genProto(g, IPPROTO.ESP, 'ip6'));
    case 'iso': return genLinktype(g, LLCSAP.ISONS);
    case 'esis': return genProto(g, ISO.ESIS, 'iso');
    case 'isis': return genProto(g, ISO.ISIS, 'iso');
    case 'l1': return isis(ISIS_PDU.L1_LAN_IIH, ISIS_PDU.PTP_IIH, ISIS_PDU.L1_LSP, ISIS_PDU.L1_CSNP, ISIS_PDU.L1_PSNP);
    case 'l2': return isis(ISIS_PDU.L2_LAN_IIH, ISIS_PDU.PTP_IIH, ISIS_PDU.L2_LSP, ISIS_PDU.L2_CSNP, ISIS_PDU.L2_PSNP);
    case 'iih': return isis(ISIS_PDU.L1_LAN_IIH, ISIS_PDU.L2_LAN_IIH, ISIS_PDU.PTP_IIH);
    case 'lsp': return isis(ISIS_PDU.L1_LSP, ISIS_PDU.L2_LSP);
    case 'snp': return isis(ISIS_PDU.L1_CSNP, ISIS_PDU.L2_CSNP, ISIS_PDU.L1_PSNP, ISIS_PDU.L2_PSNP);
    case 'csnp': return isis(ISIS_PDU.L1_CSNP, ISIS_PDU.L2_CSNP);
    case 'psnp': return isis(ISIS_PDU.L1_PSNP, ISIS_PDU.L2_PSNP);
    case 'clnp': return genProto(g, ISO.CLNP, 'iso');
    case 'stp': return genLinktype(g, LLCSAP.STP);
    case 'ipx': return genLinktype(g, LLCSAP.IPX);
    case 'netbeui': return genLinktype(g, LLCSAP.NETBEUI);
    case 'radio': g.error("'radio' is not a valid protocol type");
    // falls through (never)
    case 'default':
      throw new Error('genProtoAbbrev(default)');
  }
}

/**
 * `protochain v`: follow IPv6 extension headers and AH until `v`, no-next-
 * header, or something else. The walk is a loop (a backward `ja`), as in
 * libpcap; the program it gives runs in bpfkit's and libpcap's
 * interpreters.
 */
export function genProtochain(g: Gen, v: number, proto: ProtoQual): Pred {
  if (proto === 'default') return or(genProtochain(g, v, 'ip'), genProtochain(g, v, 'ip6'));
  if (proto !== 'ip' && proto !== 'ip6') g.error(`'${proto}' is not a valid qualifier for 'protochain'`);
  if (g.offLinkpl.isVariable) g.error("'protochain' not supported with variable length headers");
  const reg2 = g.allocReg();
  const base = g.offLinkpl.constant + g.offNl;
  const b0 = genLinktype(g, proto === 'ip' ? ETHERTYPE.IP : ETHERTYPE.IPV6);
  g.cyclic = true;
  const chain: Pred = {
    k: 'graph',
    build: (gb, t, f) => {
      // end: nop; jeq v → t / f
      const end = gb.branch([st(BPF_ALU | BPF_ADD | BPF_K, 0)], BPF_JMP | BPF_JEQ | BPF_K, v, t, f);
      // The loop head is patched in after the body blocks exist.
      const again = gb.branch([], BPF_JMP | BPF_JEQ | BPF_K, v, end, end);
      // AH: next header at X, length (in 4-byte units, minus 2) at X + 1.
      const ahBody = gb.jump([
        st(BPF_LD | BPF_IND | BPF_B, base), ST_MEM[reg2]!, TXA,
        st(BPF_ALU | BPF_ADD | BPF_K, 1), TAX, st(BPF_LD | BPF_IND | BPF_B, base),
        st(BPF_ALU | BPF_ADD | BPF_K, 2), st(BPF_ALU | BPF_MUL | BPF_K, 4), TAX,
        LD_MEM[reg2]!,
      ], again);
      const ahcheck = gb.branch([], BPF_JMP | BPF_JEQ | BPF_K, IPPROTO.AH, ahBody, end);
      let afterNone: Block;
      if (proto === 'ip6') {
        const v6advance = gb.jump([
          st(BPF_LD | BPF_IND | BPF_B, base), ST_MEM[reg2]!, st(BPF_LD | BPF_IND | BPF_B, base + 1),
          st(BPF_ALU | BPF_ADD | BPF_K, 1), st(BPF_ALU | BPF_MUL | BPF_K, 8), st(BPF_ALU | BPF_ADD | 0x08),
          TAX, LD_MEM[reg2]!,
        ], again);
        const frag = gb.branch([], BPF_JMP | BPF_JEQ | BPF_K, IPPROTO.FRAGMENT, v6advance, ahcheck);
        const routing = gb.branch([], BPF_JMP | BPF_JEQ | BPF_K, IPPROTO.ROUTING, v6advance, frag);
        const dstopts = gb.branch([], BPF_JMP | BPF_JEQ | BPF_K, IPPROTO.DSTOPTS, v6advance, routing);
        afterNone = gb.branch([], BPF_JMP | BPF_JEQ | BPF_K, IPPROTO.HOPOPTS, v6advance, dstopts);
      } else {
        afterNone = gb.jump([st(BPF_ALU | BPF_ADD | BPF_K, 0)], ahcheck);
      }
      const none = gb.branch([], BPF_JMP | BPF_JEQ | BPF_K, IPPROTO.NONE, end, afterNone);
      if (again.term.kind === 'branch') again.term.jf = none;
      gb.cyclic = true;
      const init = proto === 'ip'
        ? [st(BPF_LD | BPF_ABS | BPF_B, base + 9), st(BPF_LDX | BPF_MSH | BPF_B, base)]
        : [st(BPF_LD | BPF_ABS | BPF_B, base + 6), st(BPF_LDX | BPF_IMM, 40)];
      return gb.jump(init, again);
    },
  };
  g.freeReg(reg2);
  return and(b0, chain);
}
