/**
 * Encapsulations that move the headers later tests look at: 802.1Q/802.1ad
 * VLAN tags (constant shifts, or run-time shifts with the Linux VLAN
 * ancillary data), MPLS label stacks, PPPoE sessions, and the UDP tunnels
 * Geneve and VXLAN (after which tests apply to the inner frame, at offsets
 * computed at run time into scratch slots).
 */
import * as insnModule from '../../cbpf/insn.js';
import type { Stmt } from '../cfg.js';
import * as linktypesModule from '../linktypes.js';
import * as predModule from '../pred.js';
import type { Pred } from '../pred.js';
import * as constantsModule from './constants.js';
import * as contextModule from './context.js';
import type { AbsOffset, Gen } from './context.js';
import * as linktypeModule from './linktype.js';
import * as protoModule from './proto.js';
// Module-level copies of the imports: V8 folds a module's own constants into optimised code,
// not imported (live) bindings (see src/filter/README.md, "Compile speed").
const {
  BPF_ABS, BPF_ADD, BPF_ALU, BPF_AND, BPF_B, BPF_H, BPF_IMM, BPF_IND, BPF_JEQ, BPF_JMP, BPF_K, BPF_LD, BPF_MUL,
  BPF_W, BPF_X, SKF_AD, SKF_AD_OFF,
} = insnModule;
const { DLT } = linktypesModule;
const { TRUE, and, copyStmts, not, or, orderedGraph, pre, test } = predModule;
const { ETHERTYPE, GENEVE_PORT, IPPROTO, PPP, VXLAN_PORT } = constantsModule;
const { ADD_X, LDX_MEM, LD_MEM, STX_MEM, ST_MEM, TAX, TXA, copyOffset, st } = contextModule;
const { genLinktype, isEthernetLike, isWlan } = linktypeModule;
const { genPort, genPort6 } = protoModule;

/**
 * Statements that never vary, made once and shared: statements are never changed in place (see
 * pred.ts), and the tunnels' offset code is mostly these (a dozen fewer objects per `geneve`).
 */
const ADD_2 = st(BPF_ALU | BPF_ADD | BPF_K, 2);
const ADD_8 = st(BPF_ALU | BPF_ADD | BPF_K, 8);
const ADD_12 = st(BPF_ALU | BPF_ADD | BPF_K, 12);
const LD_40 = st(BPF_LD | BPF_IMM, 40);
/** Geneve's option length (the low 6 bits of its first byte, in 4-byte words) and protocol type. */
const GENEVE_OPTLEN = st(BPF_LD | BPF_IND | BPF_B, 0);
const GENEVE_OPTLEN_MASK = st(BPF_ALU | BPF_AND | BPF_K, 0x3f);
const TIMES_4 = st(BPF_ALU | BPF_MUL | BPF_K, 4);
const GENEVE_PROTO = st(BPF_LD | BPF_IND | BPF_H, 2);

function vlanTpid(g: Gen): Pred {
  let b = or(genLinktype(g, ETHERTYPE.VLAN), genLinktype(g, ETHERTYPE.QINQ_AD));
  b = or(b, genLinktype(g, ETHERTYPE.QINQ_OLD));
  return b;
}

function vlanVid(g: Gen, vid: number): Pred {
  if (vid > 0x0fff) g.error(`VLAN tag ${vid} greater than maximum ${0x0fff}`);
  return g.mcmp('linkpl', 0, BPF_H, vid, 0x0fff);
}

function vlanNoExt(g: Gen, vid: number | undefined): Pred {
  let b0 = vlanTpid(g);
  if (vid !== undefined) b0 = and(b0, vlanVid(g, vid));
  g.offLinkpl.constant += 4;
  g.offLinktype.constant += 4;
  return b0;
}

function vloffsetAdd(g: Gen, off: AbsOffset, v: number, out: Stmt[]): void {
  off.isVariable = true;
  if (off.reg === -1) off.reg = g.allocReg();
  out.push(LD_MEM[off.reg]!, st(BPF_ALU | BPF_ADD | BPF_K, v), ST_MEM[off.reg]!);
}

/** With Linux ancillary data the outer tag may have been stripped into metadata. */
function vlanExt(g: Gen, vid: number | undefined): Pred {
  const tagPresent = test([st(BPF_LD | BPF_B | BPF_ABS, SKF_AD_OFF + SKF_AD.VLAN_TAG_PRESENT)], BPF_JMP | BPF_JEQ | BPF_K, 1);
  // Generate the packet-data tests first (at the current offsets), then shift the offsets.
  const tpid = vlanTpid(g);
  let vidLoad: Stmt[] | undefined;
  if (vid !== undefined) {
    if (vid > 0x0fff) g.error(`VLAN tag ${vid} greater than maximum ${0x0fff}`);
    vidLoad = g.loadA('linkpl', 0, BPF_H);
  }
  const shift: Stmt[] = [];
  g.isVlanVloffset = true;
  vloffsetAdd(g, g.offLinkpl, 4, shift);
  vloffsetAdd(g, g.offLinktype, 4, shift);
  let b0 = or(tagPresent, pre(shift, tpid));
  if (vid !== undefined) {
    const load = vidLoad!;
    const vidTest: Pred = {
      k: 'graph',
      build: (gb, t, f) => {
        const cmp = gb.branch([st(BPF_ALU | BPF_AND | BPF_K, 0x0fff)], BPF_JMP | BPF_JEQ | BPF_K, vid, t, f);
        const fromMeta = gb.jump([st(BPF_LD | BPF_H | BPF_ABS, SKF_AD_OFF + SKF_AD.VLAN_TAG)], cmp);
        const fromPkt = gb.jump(copyStmts(load), cmp);
        return gb.branch([st(BPF_LD | BPF_B | BPF_ABS, SKF_AD_OFF + SKF_AD.VLAN_TAG_PRESENT)], BPF_JMP | BPF_JEQ | BPF_K, 1, fromMeta, fromPkt);
      },
    };
    b0 = and(b0, vidTest);
  }
  return b0;
}

export function genVlan(g: Gen, vid: number | undefined): Pred {
  if (g.labelStackDepth > 0) g.error("'vlan' cannot be used within MPLS");
  let b0: Pred;
  const lt = g.linktype;
  if (isEthernetLike(lt)) {
    const plainEthernet = lt === DLT.EN10MB || lt === DLT.NETANALYZER || lt === DLT.NETANALYZER_TRANSPARENT;
    if (plainEthernet && g.opts.linuxExt && g.vlanStackDepth === 0 && !g.offLinkhdr.isVariable &&
      g.offLinkhdr.constant === g.offOutermostlinkhdr.constant && !g.isEncap) {
      b0 = vlanExt(g, vid);
    } else {
      b0 = vlanNoExt(g, vid);
    }
  } else if (isWlan(lt) && lt !== DLT.PPI) {
    b0 = vlanNoExt(g, vid);
  } else {
    g.notSupported('vlan');
  }
  g.vlanStackDepth++;
  return b0;
}

export function genMpls(g: Gen, label: number | undefined): Pred {
  let b0: Pred;
  if (g.labelStackDepth > 0) {
    // Bottom-of-stack bit clear in the previous label (libpcap: a JSET taken the other way).
    b0 = not(g.jset('prevmplshdr', 2, BPF_B, 0x01));
  } else {
    switch (g.linktype) {
      case DLT.C_HDLC:
      case DLT.EN10MB:
      case DLT.NETANALYZER:
      case DLT.NETANALYZER_TRANSPARENT:
      case DLT.DSA_TAG_BRCM:
      case DLT.DSA_TAG_DSA:
        b0 = genLinktype(g, ETHERTYPE.MPLS);
        break;
      case DLT.PPP:
        b0 = genLinktype(g, PPP.MPLS_UCAST);
        break;
      default:
        g.notSupported('mpls');
    }
  }
  if (label !== undefined) {
    if (label > 0xfffff) g.error(`MPLS label ${label} greater than maximum ${0xfffff}`);
    b0 = and(b0, g.mcmp('linkpl', 0, BPF_W, (label << 12) >>> 0, 0xfffff000));
  }
  g.offNlNosnap += 4;
  g.offNl += 4;
  g.labelStackDepth++;
  return b0;
}

export function genPppoed(g: Gen): Pred {
  return genLinktype(g, ETHERTYPE.PPPOED);
}

export function genPppoes(g: Gen, sess: number | undefined): Pred {
  let b0 = genLinktype(g, ETHERTYPE.PPPOES);
  if (sess !== undefined) {
    if (sess > 0xffff) g.error(`PPPoE session number ${sess} greater than maximum ${0xffff}`);
    // The session ID is the PPPoE header's second halfword (one 2-byte load, as libpcap's current gencode).
    b0 = and(b0, g.cmp('linkpl', 2, BPF_H, sess));
  }
  // The PPP header starts 6 bytes into the PPPoE payload.
  g.prevlinktype = g.linktype;
  g.offPrevlinkhdr = copyOffset(g.offLinkhdr);
  g.linktype = DLT.PPP;
  g.offLinkhdr = { isVariable: g.offLinkpl.isVariable, constant: g.offLinkpl.constant + g.offNl + 6, reg: g.offLinkpl.reg };
  g.isEncap = false;
  g.offLinktype = copyOffset(g.offLinkhdr);
  g.offLinkpl = { ...g.offLinkpl, constant: g.offLinkhdr.constant + 2 };
  g.offNl = 0;
  g.offNlNosnap = 0;
  return b0;
}

// ---- UDP tunnels ------------------------------------------------------------------------------

function tunnelCheck4(g: Gen, port: number, rest: Pred[]): Pred {
  let b0 = genPort(g, port, IPPROTO.UDP, 'dst');
  for (const r of rest) b0 = and(b0, r);
  // Leave the IPv4 header length in A for the offset computation that follows.
  const s = g.loadxIpHdrLen(TXA);
  return and(b0, test(s, BPF_JMP | BPF_JEQ | BPF_X, 0));
}

function tunnelCheck6(g: Gen, port: number, rest: Pred[]): Pred {
  let b0 = genPort6(g, port, IPPROTO.UDP, 'dst');
  for (const r of rest) b0 = and(b0, r);
  // X = the IPv6 header length (40, + the variable part of the payload offset): the array made at
  // its final length.
  const vp = g.varpart(g.offLinkpl);
  const s = vp ? [vp, LD_40, ADD_X, TAX] : [LD_40, TAX];
  return and(b0, test(s, BPF_JMP | BPF_JEQ | BPF_X, 0));
}

function enterTunnel(g: Gen): void {
  g.prevlinktype = g.linktype;
  g.offPrevlinkhdr = copyOffset(g.offLinkhdr);
  g.linktype = DLT.EN10MB;
  g.isEncap = true;
  g.offNl = 0;
  g.offNlNosnap = 0;
}

/** Geneve's version bits and, when given, its VNI (a plain function: no closure per call). */
function geneveChecks(g: Gen, rel: 'tran_ipv4' | 'tran_ipv6', vni: number | undefined): Pred[] {
  const r = [g.mcmp(rel, 8, BPF_B, 0, 0xc0)];
  if (vni !== undefined) {
    if (vni > 0xffffff) g.error(`Geneve VNI ${vni} greater than maximum ${0xffffff}`);
    r.push(g.mcmp(rel, 12, BPF_W, (vni << 8) >>> 0, 0xffffff00));
  }
  return r;
}

/**
 * Geneve's offset code for a header at `base` and the three slots: the statements of the join
 * (`stx` the payload offset), of the Ethernet-payload branch and of the test, shared by every
 * compile that needs the same (statements are never changed in place: see pred.ts). Keyed by
 * the base (one per link type and encapsulation before it) and the slots (0-15): a small domain.
 */
const geneveCode = new Map<number, readonly [Stmt[], Stmt[], Stmt[]]>();
function geneveOffsetCode(base: number, ltReg: number, hdrReg: number, plReg: number): readonly [Stmt[], Stmt[], Stmt[]] {
  const key = ((base * 16 + ltReg) * 16 + hdrReg) * 16 + plReg;
  let code = geneveCode.get(key);
  if (code === undefined) {
    code = [
      [STX_MEM[plReg]!],
      [TXA, ADD_12, ST_MEM[ltReg]!, ADD_2, TAX],
      [
        st(BPF_ALU | BPF_ADD | BPF_K, base), TAX, ADD_2, ST_MEM[ltReg]!, GENEVE_OPTLEN, GENEVE_OPTLEN_MASK, TIMES_4, ADD_8,
        ADD_X, ST_MEM[hdrReg]!, GENEVE_PROTO, LDX_MEM[hdrReg]!,
      ],
    ];
    geneveCode.set(key, code);
  }
  return code;
}

export function genGeneve(g: Gen, vni: number | undefined): Pred {
  if (g.labelStackDepth > 0) g.error("'geneve' cannot be used within MPLS");
  const b4 = tunnelCheck4(g, GENEVE_PORT, geneveChecks(g, 'tran_ipv4', vni));
  const b6 = tunnelCheck6(g, GENEVE_PORT, geneveChecks(g, 'tran_ipv6', vni));
  const base = g.offLinkpl.constant + g.offNl + 8;
  const ltReg = g.allocReg();
  const hdrReg = g.allocReg();
  const plReg = g.allocReg();
  // The walk finishes `common` (the false side) first, then `teb`, then the test: the order made.
  // Instructions: 1 + 5 (neither jump needs its `ja`: each target is laid out right after) + 13.
  const code = geneveOffsetCode(base, ltReg, hdrReg, plReg);
  const offsets = orderedGraph((gb, t) => {
    const common = gb.jump(code[0], t);
    const teb = gb.jump(code[1], common);
    return gb.branch(code[2], BPF_JMP | BPF_JEQ | BPF_K, ETHERTYPE.TEB, teb, common);
  }, 19);
  enterTunnel(g);
  g.offLinktype = { isVariable: true, constant: 0, reg: ltReg };
  g.offLinkhdr = { isVariable: true, constant: 0, reg: hdrReg };
  g.offLinkpl = { isVariable: true, constant: 0, reg: plReg };
  return and(or(b4, b6), offsets);
}

/** VXLAN's flags (the I bit alone) and, when given, its VNI. */
function vxlanChecks(g: Gen, rel: 'tran_ipv4' | 'tran_ipv6', vni: number | undefined): Pred[] {
  const r = [g.cmp(rel, 8, BPF_B, 0x08)];
  if (vni !== undefined) {
    if (vni > 0xffffff) g.error(`VXLAN VNI ${vni} greater than maximum ${0xffffff}`);
    r.push(g.mcmp(rel, 12, BPF_W, (vni << 8) >>> 0, 0xffffff00));
  }
  return r;
}

export function genVxlan(g: Gen, vni: number | undefined): Pred {
  if (g.labelStackDepth > 0) g.error("'vxlan' cannot be used within MPLS");
  const b4 = tunnelCheck4(g, VXLAN_PORT, vxlanChecks(g, 'tran_ipv4', vni));
  const b6 = tunnelCheck6(g, VXLAN_PORT, vxlanChecks(g, 'tran_ipv6', vni));
  const base = g.offLinkpl.constant + g.offNl + 8;
  const hdrReg = g.allocReg();
  const ltReg = g.allocReg();
  const plReg = g.allocReg();
  const offsets = pre([
    st(BPF_ALU | BPF_ADD | BPF_K, base), ADD_8, ST_MEM[hdrReg]!, ADD_12, ST_MEM[ltReg]!, ADD_2, TAX,
    STX_MEM[plReg]!,
  ], TRUE);
  enterTunnel(g);
  g.offLinkhdr = { isVariable: true, constant: 0, reg: hdrReg };
  g.offLinktype = { isVariable: true, constant: 0, reg: ltReg };
  g.offLinkpl = { isVariable: true, constant: 0, reg: plReg };
  return and(or(b4, b6), offsets);
}

export { BPF_IND };
