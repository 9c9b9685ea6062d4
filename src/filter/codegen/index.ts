/**
 * Code generation: AST → predicate → CFG. Primitives are generated in the
 * order of the text (as libpcap generates while parsing), because some of
 * them (vlan, mpls, pppoes, geneve, vxlan, lane) change where the headers of
 * everything after them are. The entry prologue computes variable header
 * offsets (radiotap/AVS/Prism/PPI prefixes, the 802.11 header length, the
 * pflog header length) into the scratch slots the tests read.
 */
import * as insnModule from '../../cbpf/insn.js';
import type { FilterAst, Node } from '../ast.js';
import type { Block, Cfg, Stmt } from '../cfg.js';
import * as linktypesModule from '../linktypes.js';
import type { SizedCfg } from '../linearize.js';
import * as predModule from '../pred.js';
import { GraphBuilder, type Pred } from '../pred.js';
import * as arithModule from './arith.js';
import * as contextModule from './context.js';
import { Gen, type GenOptions } from './context.js';
import * as encapModule from './encap.js';
import * as idsModule from './ids.js';
import * as linktypeModule from './linktype.js';
import * as protoModule from './proto.js';
import * as specialModule from './special.js';
// Module-level copies of the imports: V8 folds a module's own constants into optimised code,
// not imported (live) bindings (see src/filter/README.md, "Compile speed").
const {
  BPF_ABS, BPF_ADD, BPF_ALU, BPF_AND, BPF_B, BPF_IMM, BPF_IND, BPF_JEQ, BPF_JMP, BPF_JSET, BPF_K, BPF_LD,
  BPF_LDX, BPF_LSH, BPF_OR, BPF_W, BPF_X,
} = insnModule;
const { DLT } = linktypesModule;
const { and, constValue, copyStmts, not, or, pre, test, testInsnsMade } = predModule;
const { genLength, genRelation } = arithModule;
const { LD_MEM, ST_MEM, TAX, TXA, st } = contextModule;
const { genGeneve, genMpls, genPppoed, genPppoes, genVlan, genVxlan } = encapModule;
const { genId } = idsModule;
const { isWlan } = linktypeModule;
const { genProtoAbbrev } = protoModule;
const {
  genAtmField, genAtmType, genBroadcast, genByteop, genIfindex, genInbound, genLlc, genMtp2, genMtp3, genMulticast,
  genPf, genWlanDir, genWlanSubtype, genWlanType,
} = specialModule;

export type { GenOptions } from './context.js';

function genNode(g: Gen, n: Node): Pred {
  g.pos = n.pos;
  switch (n.type) {
    case 'and':
    case 'or': {
      const a = genNode(g, n.left);
      const b = genNode(g, n.right);
      return n.type === 'and' ? and(a, b) : or(a, b);
    }
    case 'not':
      return not(genNode(g, n.expr));
    case 'id':
      return genId(g, n.qual, n.id);
    case 'abbrev':
      if (n.proto === 'link' || n.proto === 'radio') g.error(`'${n.proto}' cannot be used as an abbreviation`);
      return genProtoAbbrev(g, n.proto);
    case 'relation':
      return genRelation(g, n.op, n.left, n.right);
    case 'broadcast':
      return genBroadcast(g, n.proto);
    case 'multicast':
      return genMulticast(g, n.proto);
    case 'less':
    case 'greater':
      return genLength(n.type, n.value);
    case 'byte':
      return genByteop(g, n.op, n.index, n.value);
    case 'inbound':
    case 'outbound':
      return genInbound(g, n.type === 'outbound');
    case 'ifindex':
      return genIfindex(g, n.value);
    case 'vlan':
      return genVlan(g, n.value);
    case 'mpls':
      return genMpls(g, n.value);
    case 'pppoed':
      return genPppoed(g);
    case 'pppoes':
      return genPppoes(g, n.value);
    case 'geneve':
      return genGeneve(g, n.value);
    case 'vxlan':
      return genVxlan(g, n.value);
    case 'pf':
      return genPf(g, n.field, n.value);
    case 'wlan':
      if (n.proto !== 'default' && n.proto !== 'link') g.error(`'${n.proto}' is not a valid qualifier for '${n.field}'`);
      if (n.field === 'type') return genWlanType(g, n.a, n.b);
      if (n.field === 'subtype') return genWlanSubtype(g, n.a);
      return genWlanDir(g, n.a);
    case 'llc':
      return genLlc(g, n.kind);
    case 'atm':
      return genAtmType(g, n.name);
    case 'atmfield':
      return genAtmField(g, n.field, n.tests);
    case 'mtp2':
      return genMtp2(g, n.name);
    case 'mtp3':
      return genMtp3(g, n.field, n.tests);
  }
}

/** The 802.11 MAC header length (24, +2 for QoS data, rounded up for Atheros padding) into linkpl's slot. */
function wlanHeaderLen(g: Gen, gb: GraphBuilder, before: Stmt[], cont: Block, xReady = false): Block {
  const reg = g.offLinkpl.reg;
  const s: Stmt[] = before.length || xReady ? copyStmts(before) : [st(BPF_LDX | BPF_IMM, g.offOutermostlinkhdr.constant)];
  s.push(TXA, st(BPF_ALU | BPF_ADD | BPF_K, 24), ST_MEM[reg]!, st(BPF_LD | BPF_IND | BPF_B, 0));
  let afterQos: Block = cont;
  // libpcap decides the radiotap data-pad round-up on the link type in force at the end of the
  // expression, not the outermost one: after `vxlan`/`geneve` (link type now Ethernet) it is
  // left out. Same here, so that the programs agree on padded frames.
  if (g.linktype === DLT.IEEE802_11_RADIO) {
    const roundup = gb.jump([
      LD_MEM[reg]!, st(BPF_ALU | BPF_ADD | BPF_K, 3), st(BPF_ALU | BPF_AND | BPF_K, ~3 >>> 0), ST_MEM[reg]!,
    ], cont);
    const notsft = gb.branch([st(BPF_LD | BPF_ABS | BPF_B, 8)], BPF_JMP | BPF_JSET | BPF_K, 0x20, roundup, cont);
    const tsft = gb.branch([st(BPF_LD | BPF_ABS | BPF_B, 16)], BPF_JMP | BPF_JSET | BPF_K, 0x20, roundup, cont);
    const tsftPresent = gb.branch([], BPF_JMP | BPF_JSET | BPF_K, 0x01000000, tsft, notsft);
    const extPresent = gb.branch([], BPF_JMP | BPF_JSET | BPF_K, 0x80, cont, tsftPresent);
    afterQos = gb.branch([st(BPF_LD | BPF_ABS | BPF_W, 4)], BPF_JMP | BPF_JSET | BPF_K, 0x02000000, extPresent, cont);
  }
  const qos = gb.jump([LD_MEM[reg]!, st(BPF_ALU | BPF_ADD | BPF_K, 2), ST_MEM[reg]!], afterQos);
  const qosTest = gb.branch([], BPF_JMP | BPF_JSET | BPF_K, 0x80, qos, afterQos);
  const isData2 = gb.branch([], BPF_JMP | BPF_JSET | BPF_K, 0x04, cont, qosTest);
  return gb.branch(s, BPF_JMP | BPF_JSET | BPF_K, 0x08, isData2, cont);
}

/** Wrap the root in the offset prologue and the PPI per-packet DLT check, as libpcap's finish_parse does. */
function finish(g: Gen, root: Pred): Pred {
  const lt = g.outermostlinktype;
  const needsSlot = g.offLinkpl.reg !== -1 && g.offLinkhdr.isVariable && g.offLinkhdr.reg === -1;
  // Only 802.11 link types, PFLOG and Linux VLAN offsets get a prologue (and the slot below may
  // be out of registers): the root as it is for the others, without constValue's walk.
  if (!needsSlot && !g.isVlanVloffset && lt !== DLT.PFLOG && !isWlan(lt)) return root;
  // An expression that is false whatever the packet (`arp` on PFLOG) needs no header-length
  // prologue: the prologue can only compute or reject, so the program rejects every packet anyway.
  if (constValue(root) === false) return root;
  if (needsSlot) g.offLinkhdr.reg = g.allocReg();
  let prefix: Stmt[] | undefined;
  let prismGraph = false;
  const hdrReg = g.offLinkhdr.reg;
  switch (lt) {
    case DLT.PRISM_HEADER:
      if (hdrReg !== -1) prismGraph = true;
      break;
    case DLT.IEEE802_11_RADIO_AVS:
      if (hdrReg !== -1) prefix = [st(BPF_LD | BPF_W | BPF_ABS, 4), ST_MEM[hdrReg]!, TAX];
      break;
    case DLT.IEEE802_11_RADIO:
    case DLT.PPI:
      if (hdrReg !== -1) {
        prefix = [
          st(BPF_LD | BPF_B | BPF_ABS, 3), st(BPF_ALU | BPF_LSH | BPF_K, 8), TAX,
          st(BPF_LD | BPF_B | BPF_ABS, 2), st(BPF_ALU | BPF_OR | BPF_X), ST_MEM[hdrReg]!, TAX,
        ];
      }
      break;
    case DLT.PFLOG:
      if (g.offLinkpl.reg !== -1) {
        prefix = [
          st(BPF_LD | BPF_B | BPF_ABS, 0), st(BPF_ALU | BPF_ADD | BPF_K, 3), st(BPF_ALU | BPF_AND | BPF_K, 0xfffffffc),
          ST_MEM[g.offLinkpl.reg]!, TAX,
        ];
      }
      break;
    default:
      break;
  }
  const wlan = isWlan(lt);
  const needWlanLen = wlan && g.offLinkpl.reg !== -1;
  let body = root;
  if (prismGraph || needWlanLen) {
    const pre0 = prefix ?? [];
    body = {
      k: 'prologue',
      a: root,
      build: (gb, cont) => {
        const after = (c: Block): Block => (needWlanLen ? wlanHeaderLen(g, gb, [], c, true) : c);
        if (prismGraph) {
          const tail = gb.jump([ST_MEM[hdrReg]!, TAX], after(cont));
          const avs = gb.jump([st(BPF_LD | BPF_W | BPF_ABS, 4)], tail);
          const prism = gb.jump([st(BPF_LD | BPF_W | BPF_IMM, 144)], tail);
          return gb.branch([st(BPF_LD | BPF_W | BPF_ABS, 0), st(BPF_ALU | BPF_AND | BPF_K, 0xfffff000)], BPF_JMP | BPF_JEQ | BPF_K, 0x80211000, avs, prism);
        }
        return wlanHeaderLen(g, gb, pre0, cont);
      },
    };
  } else if (prefix) {
    body = pre(prefix, root);
  } else if (g.isVlanVloffset) {
    if (g.offLinkpl.reg === -1) g.offLinkpl.reg = g.allocReg();
    if (g.offLinktype.reg === -1) g.offLinktype.reg = g.allocReg();
    body = pre([st(BPF_LD | BPF_W | BPF_IMM, 0), ST_MEM[g.offLinkpl.reg]!, ST_MEM[g.offLinktype.reg]!], root);
  }
  if (lt === DLT.PPI) body = and(test([st(BPF_LD | BPF_W | BPF_ABS, 4)], BPF_JMP | BPF_JEQ | BPF_K, 0x69000000), body);
  return body;
}

/** Generate the CFG for a parsed expression. */
export function generate(ast: FilterAst, opts: GenOptions): Cfg {
  const gb = new GraphBuilder();
  const accept = gb.ret(opts.snaplen);
  const reject = gb.ret(0);
  if (!ast.expr) return { entry: accept };
  const g = new Gen(opts);
  const made = testInsnsMade();
  const root = finish(g, genNode(g, ast.expr));
  // (Each test and `pre` lowered once: the program's length.)
  if (opts.program === true) gb.startProgram(accept, reject, ((testInsnsMade() - made) | 0) + 2);
  const entry = gb.lower(root, accept, reject);
  // The size bound lets linearisation fill a program array made at its length; a tree of tests
  // comes with its program, laid out while lowering.
  const program = opts.program === true ? gb.program(entry, accept, reject) : undefined;
  // (One shape for every graph made here.)
  const cfg: SizedCfg = { entry, cyclic: g.cyclic, size: gb.size, program };
  return cfg;
}

export { BPF_X };
