/**
 * Code generation state: where each header starts for the link type being
 * compiled (and after encapsulations such as vlan/mpls/pppoes/geneve shift
 * it), scratch-slot allocation, and the load/compare helpers every
 * primitive uses. Offsets follow libpcap's model: an absolute offset is a
 * constant plus, optionally, a variable part kept in a scratch slot that the
 * entry prologue (or an encapsulation test) computes.
 */
import * as insnModule from '../../cbpf/insn.js';
import type { Stmt } from '../cfg.js';
import { FilterSemanticError } from '../errors.js';
import * as linktypesModule from '../linktypes.js';
import type { Resolver } from '../names/resolver.js';
import * as predModule from '../pred.js';
import type { Pred } from '../pred.js';
// Module-level copies of the imports: V8 folds a module's own constants into optimised code,
// not imported (live) bindings (see src/filter/README.md, "Compile speed").
const {
  BPF_ABS, BPF_ALU, BPF_AND, BPF_B, BPF_H, BPF_IMM, BPF_IND, BPF_JEQ, BPF_JGE, BPF_JGT, BPF_JMP, BPF_K, BPF_LD,
  BPF_LDX, BPF_LSH, BPF_MEM, BPF_MEMWORDS, BPF_MISC, BPF_MSH, BPF_ST, BPF_STX, BPF_TAX, BPF_TXA, BPF_W, BPF_ADD, BPF_X,
} = insnModule;
const { DLT, DLT_MATCHING_MAX, DLT_MATCHING_MIN, dltName } = linktypesModule;
const { not, test } = predModule;

export const OFFSET_NOT_SET = 0xffffffff;

export interface AbsOffset {
  isVariable: boolean;
  constant: number;
  /** Scratch slot holding the variable part, or -1 if none allocated yet. */
  reg: number;
}

export type OffRel =
  | 'packet' | 'linkhdr' | 'prevlinkhdr' | 'llc' | 'prevmplshdr' | 'linktype' | 'linkpl'
  | 'linkpl_nosnap' | 'tran_ipv4' | 'tran_ipv6';

export interface GenOptions {
  linkType: number;
  snaplen: number;
  /** Netmask for `ip broadcast`, or undefined when unknown. */
  netmask: number | undefined;
  /** Linux ancillary loads for vlan, inbound/outbound, ifindex (a live Linux capture). */
  linuxExt: boolean;
  /** Compiling for a savefile (libpcap's offline filter); 'swapped' when its byte order is not the host's. */
  offline: false | 'unswapped' | 'swapped';
  resolver: Resolver;
  expression: string;
  /** Fold constant arithmetic (what libpcap's optimiser would do), only when optimising. */
  fold?: boolean;
  /**
   * Lay the program out while lowering, where the graph is a tree of tests (GraphBuilder
   * startProgram): for a compile that linearises the graph as generated (no optimiser).
   */
  program?: boolean;
}

/** A statement (k as a uint32). */
export const st = (code: number, k = 0): Stmt => ({ code, k: k >>> 0 });

/**
 * `ld [k]` (BPF_ABS, k below ABS_SHARED) as a one-statement array shared by every test that makes
 * that load, in this compile and later ones: most tests load at a constant offset, and the same
 * few offsets each time (the Ethernet type at 12, ...), so this saves an array and a statement
 * per test. Blocks may share statement arrays (they are never changed in place), so a load's
 * array must not be pushed onto: loadA and loadAbsRel take the statement that follows (`then`).
 */
const ABS_SHARED = 256;
/** By (size >> 3) * ABS_SHARED + k (BPF_W, BPF_H, BPF_B are 0x00, 0x08, 0x10). */
const absLoads: (Stmt[] | undefined)[] = new Array<Stmt[] | undefined>(3 * ABS_SHARED);

/** The load `ld<size> [k]`, shared where k is small (see absLoads): never push onto it. */
function absLoad(size: number, k: number): Stmt[] {
  if (k < 0 || k >= ABS_SHARED) return [st(BPF_LD | BPF_ABS | size, k)];
  const i = (size >> 3) * ABS_SHARED + k;
  return (absLoads[i] ??= [st(BPF_LD | BPF_ABS | size, k)]);
}

/**
 * Likewise the transport-header load after an IPv4 header at a constant offset `at` (below
 * ABS_SHARED): `ldxb 4*([at]&0xf); ld<size> [x + at + offset]` (offset below TRAN_SHARED), the
 * port tests' statements. Rows by `at` (few: one per link-layer header length in use), each by
 * (size >> 3) * TRAN_SHARED + offset.
 */
const TRAN_SHARED = 64;
const tranLoads: ((Stmt[] | undefined)[] | undefined)[] = [];

/** The transport-header load (see tranLoads), shared where `at` and `offset` are small: never push onto it. */
function tranLoad(at: number, offset: number, size: number): Stmt[] {
  if (at < 0 || at >= ABS_SHARED || offset < 0 || offset >= TRAN_SHARED) {
    return [st(BPF_LDX | BPF_MSH | BPF_B, at), st(BPF_LD | BPF_IND | size, at + offset)];
  }
  const row = (tranLoads[at] ??= new Array<Stmt[] | undefined>(3 * TRAN_SHARED));
  return (row[(size >> 3) * TRAN_SHARED + offset] ??= [st(BPF_LDX | BPF_MSH | BPF_B, at), st(BPF_LD | BPF_IND | size, at + offset)]);
}

/** Statements without operands, made once and shared like absLoad's arrays: `tax`, `txa`, `add x`. */
export const TAX = st(BPF_MISC | BPF_TAX);
export const TXA = st(BPF_MISC | BPF_TXA);
export const ADD_X = st(BPF_ALU | BPF_ADD | BPF_X);

/**
 * The scratch-slot statements, one per slot for the process (indexed by slot), shared like
 * absLoad's: arithmetic values and variable header offsets go through them.
 */
const slotStmts = (code: number): readonly Stmt[] => Array.from({ length: BPF_MEMWORDS }, (_, r) => st(code, r));
/** `ld M[r]` */
export const LD_MEM = slotStmts(BPF_LD | BPF_MEM);
/** `ldx M[r]` */
export const LDX_MEM = slotStmts(BPF_LDX | BPF_MEM);
/** `st M[r]` */
export const ST_MEM = slotStmts(BPF_ST);
/** `stx M[r]` */
export const STX_MEM = slotStmts(BPF_STX);

/** Field offsets some link types fix (SunATM's VPI/VCI/protocol/payload, MTP2's LI/SIO/OPC/DPC/SLS). */
interface FixedOffsets {
  readonly vpi: number;
  readonly vci: number;
  readonly proto: number;
  readonly payload: number;
  readonly li: number;
  readonly liHsl: number;
  readonly sio: number;
  readonly opc: number;
  readonly dpc: number;
  readonly sls: number;
}
const N_ = OFFSET_NOT_SET;
const fixedOffsets = (vpi: number, vci: number, proto: number, payload: number, li: number, liHsl: number, sio: number, opc: number, dpc: number, sls: number): FixedOffsets =>
  Object.freeze({ vpi, vci, proto, payload, li, liHsl, sio, opc, dpc, sls });
const NO_FIXED_OFFSETS = fixedOffsets(N_, N_, N_, N_, N_, N_, N_, N_, N_, N_);
const SUNATM_OFFSETS = fixedOffsets(1, 2, 0, 4, N_, N_, N_, N_, N_, N_);
const MTP2_OFFSETS = fixedOffsets(N_, N_, N_, N_, 2, 4, 3, 4, 4, 7);
const MTP2_WITH_PHDR_OFFSETS = fixedOffsets(N_, N_, N_, N_, 6, 8, 7, 8, 8, 11);
const ERF_OFFSETS = fixedOffsets(N_, N_, N_, N_, 22, 24, 23, 24, 24, 27);

/** The start of the packet: absolute offset 0 (never variable, so never given a slot). */
const PACKET_START: AbsOffset = Object.freeze({ isVariable: false, constant: 0, reg: -1 });

/** A copy of an offset (a literal, not a spread: V8 clones a spread's source through a generic path). */
export const copyOffset = (o: AbsOffset): AbsOffset => ({ isVariable: o.isVariable, constant: o.constant, reg: o.reg });

export class Gen {
  readonly opts: GenOptions;
  linktype: number;
  prevlinktype: number;
  outermostlinktype: number;
  offLinkhdr: AbsOffset = { isVariable: false, constant: 0, reg: -1 };
  /** Copies of offLinkhdr as initLinktype leaves it. */
  offPrevlinkhdr!: AbsOffset;
  offOutermostlinkhdr!: AbsOffset;
  offLinkpl: AbsOffset = { isVariable: false, constant: 0, reg: -1 };
  offLinktype: AbsOffset = { isVariable: false, constant: 0, reg: -1 };
  offNl = 0;
  offNlNosnap = 0;
  isAtm = false;
  isEncap = false;
  isVlanVloffset = false;
  /** SunATM and MTP2/ERF field offsets: fixed per link type, shared (not built per compile). */
  private fixed: FixedOffsets = NO_FIXED_OFFSETS;
  labelStackDepth = 0;
  vlanStackDepth = 0;
  /** Bit n set: scratch slot n is in use. */
  private regused = 0;
  private curreg = 0;
  /** Column of the primitive being generated, for error messages. */
  pos = 0;
  /** Set when the program contains a loop (protochain). */
  cyclic = false;

  constructor(opts: GenOptions) {
    this.opts = opts;
    this.linktype = this.prevlinktype = this.outermostlinktype = opts.linkType;
    this.initLinktype();
  }

  get offVpi(): number { return this.fixed.vpi; }
  get offVci(): number { return this.fixed.vci; }
  get offProto(): number { return this.fixed.proto; }
  get offPayload(): number { return this.fixed.payload; }
  get offLi(): number { return this.fixed.li; }
  get offLiHsl(): number { return this.fixed.liHsl; }
  get offSio(): number { return this.fixed.sio; }
  get offOpc(): number { return this.fixed.opc; }
  get offDpc(): number { return this.fixed.dpc; }
  get offSls(): number { return this.fixed.sls; }

  error(message: string): never {
    throw new FilterSemanticError(message, this.opts.expression, this.pos);
  }

  get dltLabel(): string {
    return `DLT_${dltName(this.linktype)}`;
  }

  notSupported(what: string): never {
    this.error(`'${what}' not supported on ${this.dltLabel}`);
  }

  private initLinktype(): void {
    const lt = this.linktype;
    const N = OFFSET_NOT_SET;
    switch (lt) {
      case DLT.ARCNET: this.setOffsets(2, 6, 0, 0); break;
      case DLT.ARCNET_LINUX: this.setOffsets(4, 8, 0, 0); break;
      case DLT.EN10MB: this.setOffsets(12, 14, 0, 3); break;
      case DLT.SLIP: this.setOffsets(N, 16, 0, 0); break;
      case DLT.SLIP_BSDOS: this.setOffsets(N, 24, 0, 0); break;
      case DLT.NULL:
      case DLT.LOOP: this.setOffsets(0, 4, 0, 0); break;
      case DLT.ENC: this.setOffsets(0, 12, 0, 0); break;
      case DLT.PPP:
      case DLT.PPP_PPPD:
      case DLT.C_HDLC:
      case DLT.PPP_SERIAL: this.setOffsets(2, 4, 0, 0); break;
      case DLT.PPP_ETHER: this.setOffsets(6, 8, 0, 0); break;
      case DLT.PPP_BSDOS: this.setOffsets(5, 24, 0, 0); break;
      case DLT.FDDI: this.setOffsets(13, 13, 8, 3); break;
      case DLT.IEEE802: this.setOffsets(14, 14, 8, 3); break;
      case DLT.PRISM_HEADER:
      case DLT.IEEE802_11_RADIO_AVS:
      case DLT.IEEE802_11_RADIO:
        this.offLinkhdr.isVariable = true;
        this.setOffsets(24, 0, 8, 3);
        this.offLinkpl.isVariable = true;
        break;
      case DLT.IEEE802_11:
        this.setOffsets(24, 0, 8, 3);
        this.offLinkpl.isVariable = true;
        break;
      case DLT.PPI:
        this.setOffsets(24, 0, 8, 3);
        this.offLinkpl.isVariable = true;
        this.offLinkhdr.isVariable = true;
        break;
      case DLT.ATM_RFC1483:
      case DLT.ATM_CLIP: this.setOffsets(0, 0, 8, 3); break;
      case DLT.SUNATM:
        this.isAtm = true;
        this.fixed = SUNATM_OFFSETS;
        this.setOffsets(4, 4, 8, 3);
        break;
      case DLT.RAW:
      case DLT.IPV4:
      case DLT.IPV6: this.setOffsets(N, 0, 0, 0); break;
      case DLT.LINUX_SLL: this.setOffsets(14, 16, 0, 0); break;
      case DLT.LINUX_SLL2: this.setOffsets(0, 20, 0, 0); break;
      case DLT.LTALK: this.setOffsets(N, 0, 0, 0); break;
      case DLT.IP_OVER_FC: this.setOffsets(16, 16, 8, 3); break;
      case DLT.FRELAY: this.setOffsets(N, 0, 0, 0); break;
      case DLT.MFR: this.setOffsets(N, 0, 4, 0); break;
      case DLT.APPLE_IP_OVER_IEEE1394: this.setOffsets(16, 18, 0, 0); break;
      case DLT.SYMANTEC_FIREWALL: this.setOffsets(6, 44, 0, 0); break;
      case DLT.PFLOG:
        this.setOffsets(1, 0, 0, 0);
        this.offLinkpl.isVariable = true;
        break;
      case DLT.JUNIPER_MFR:
      case DLT.JUNIPER_MLFR:
      case DLT.JUNIPER_MLPPP:
      case DLT.JUNIPER_PPP:
      case DLT.JUNIPER_CHDLC:
      case DLT.JUNIPER_FRELAY: this.setOffsets(4, 4, 0, N); break;
      case DLT.JUNIPER_ATM1: this.setOffsets(4, 4, 0, 10); break;
      case DLT.JUNIPER_ATM2: this.setOffsets(8, 8, 0, 10); break;
      case DLT.JUNIPER_PPPOE:
      case DLT.JUNIPER_ETHER: this.setOffsets(16, 14, 18, 21); break;
      case DLT.JUNIPER_PPPOE_ATM: this.setOffsets(4, 6, 0, N); break;
      case DLT.JUNIPER_GGSN: this.setOffsets(6, 12, 0, N); break;
      case DLT.JUNIPER_ES: this.setOffsets(6, N, N, N); break;
      case DLT.JUNIPER_MONITOR: this.setOffsets(12, 12, 0, N); break;
      case DLT.BACNET_MS_TP: this.setOffsets(N, N, N, N); break;
      case DLT.JUNIPER_SERVICES: this.setOffsets(12, N, N, N); break;
      case DLT.JUNIPER_VP:
      case DLT.JUNIPER_ST: this.setOffsets(18, N, N, N); break;
      case DLT.JUNIPER_ISM:
      case DLT.JUNIPER_VS:
      case DLT.JUNIPER_SRX_E2E:
      case DLT.JUNIPER_FIBRECHANNEL:
      case DLT.JUNIPER_ATM_CEMIC: this.setOffsets(8, N, N, N); break;
      case DLT.MTP2:
        this.fixed = MTP2_OFFSETS;
        this.setOffsets(N, N, N, N);
        break;
      case DLT.MTP2_WITH_PHDR:
        this.fixed = MTP2_WITH_PHDR_OFFSETS;
        this.setOffsets(N, N, N, N);
        break;
      case DLT.ERF:
        this.fixed = ERF_OFFSETS;
        this.setOffsets(N, N, N, N);
        break;
      case DLT.PFSYNC: this.setOffsets(N, 4, 0, 0); break;
      case DLT.AX25_KISS: this.setOffsets(N, N, N, N); break;
      case DLT.IPNET: this.setOffsets(1, 24, 0, N); break;
      case DLT.NETANALYZER:
        this.offLinkhdr.constant = 4;
        this.setOffsets(16, 18, 0, 3);
        break;
      case DLT.NETANALYZER_TRANSPARENT:
        this.offLinkhdr.constant = 12;
        this.setOffsets(24, 26, 0, 3);
        break;
      case DLT.DSA_TAG_BRCM:
        this.setOffsets(16, 18, 0, 3);
        break;
      case DLT.DSA_TAG_DSA:
        this.setOffsets(16, 18, 0, 3);
        break;
      default:
        if (lt >= DLT_MATCHING_MIN && lt <= DLT_MATCHING_MAX || dltName(lt) !== String(lt)) {
          this.setOffsets(N, N, N, N);
        } else {
          throw new FilterSemanticError(`unknown data link type ${lt}`);
        }
    }
    this.offOutermostlinkhdr = copyOffset(this.offLinkhdr);
    this.offPrevlinkhdr = copyOffset(this.offLinkhdr);
  }

  private setOffsets(linktype: number, linkpl: number, nl: number, nlNosnap: number): void {
    this.offLinktype.constant = linktype;
    this.offLinkpl.constant = linkpl;
    this.offNl = nl;
    this.offNlNosnap = nlNosnap;
  }

  // ---- scratch slots --------------------------------------------------------------------------

  allocReg(): number {
    for (let n = BPF_MEMWORDS; n > 0; n--) {
      if (this.regused & (1 << this.curreg)) this.curreg = (this.curreg + 1) % BPF_MEMWORDS;
      else {
        this.regused |= 1 << this.curreg;
        return this.curreg;
      }
    }
    this.error('too many registers needed to evaluate expression');
  }

  freeReg(n: number): void {
    this.regused &= ~(1 << n);
  }

  // ---- loads --------------------------------------------------------------------------------

  /** The statement that loads the variable part of `off` into X, or undefined when it has none. */
  varpart(off: AbsOffset): Stmt | undefined {
    if (!off.isVariable) return undefined;
    if (off.reg === -1) off.reg = this.allocReg();
    return LDX_MEM[off.reg]!;
  }

  /**
   * The load, then `then` when given (a mask for ncmp): the array is made at its final length
   * (pushing onto a one-element literal would reallocate it), or is the shared one of a load at a
   * constant offset (absLoad: never push onto the result).
   */
  loadAbsRel(off: AbsOffset, offset: number, size: number, then?: Stmt): Stmt[] {
    if (!off.isVariable) {
      const ld = absLoad(size, off.constant + offset);
      return then ? [ld[0]!, then] : ld;
    }
    if (off.reg === -1) off.reg = this.allocReg();
    const x = LDX_MEM[off.reg]!;
    const ld = st(BPF_LD | BPF_IND | size, off.constant + offset);
    return then ? [x, ld, then] : [x, ld];
  }

  /**
   * The load of `size` bytes at `offset` past `rel`'s start, then `then` when given (the array
   * may be shared, see absLoad: never push onto it). One switch picks the header's offset and the
   * constant to add, and one call makes the load: a small function (V8 compiles one copy of
   * loadAbsRel here, not one per case).
   */
  loadA(rel: OffRel, offset: number, size: number, then?: Stmt): Stmt[] {
    let off: AbsOffset;
    let base: number;
    // The commonest offsets first (a string switch compares case by case).
    switch (rel) {
      case 'linktype': off = this.offLinktype; base = 0; break;
      case 'linkpl': off = this.offLinkpl; base = this.offNl; break;
      case 'tran_ipv4': return this.loadTranIpv4(offset, size, then);
      case 'tran_ipv6': off = this.offLinkpl; base = this.offNl + 40; break;
      case 'linkhdr': off = this.offLinkhdr; base = 0; break;
      case 'packet': off = PACKET_START; base = 0; break;
      case 'prevlinkhdr': off = this.offPrevlinkhdr; base = 0; break;
      case 'llc': off = this.offLinkpl; base = 0; break;
      case 'prevmplshdr': off = this.offLinkpl; base = this.offNl - 4; break;
      case 'linkpl_nosnap': off = this.offLinkpl; base = this.offNlNosnap; break;
    }
    return this.loadAbsRel(off, base + offset, size, then);
  }

  /** A load in the transport header after an IPv4 header (X = its length). */
  private loadTranIpv4(offset: number, size: number, then: Stmt | undefined): Stmt[] {
    const at = this.offLinkpl.constant + this.offNl;
    if (!this.offLinkpl.isVariable) {
      const s = tranLoad(at, offset, size);
      return then ? [s[0]!, s[1]!, then] : s;
    }
    const s = this.loadxIpHdrLen(st(BPF_LD | BPF_IND | size, at + offset));
    if (then) s.push(then);
    return s;
  }

  /**
   * X = IPv4 header length (+ variable part of the link-layer payload offset), then `then` when
   * given. The common case, a constant offset, makes its array at its final length (pushing onto
   * a one-element literal would reallocate it).
   */
  loadxIpHdrLen(then?: Stmt): Stmt[] {
    const off = this.offLinkpl;
    if (!off.isVariable) {
      const msh = st(BPF_LDX | BPF_MSH | BPF_B, off.constant + this.offNl);
      return then ? [msh, then] : [msh];
    }
    const s: Stmt[] = [];
    this.pushLoadxIpHdrLen(s);
    if (then) s.push(then);
    return s;
  }
  /** loadxIpHdrLen's statements pushed onto `s`. */
  pushLoadxIpHdrLen(s: Stmt[]): void {
    const vp = this.varpart(this.offLinkpl);
    if (vp) {
      s.push(
        vp,
        st(BPF_LD | BPF_IND | BPF_B, this.offLinkpl.constant + this.offNl),
        st(BPF_ALU | BPF_AND | BPF_K, 0xf),
        st(BPF_ALU | BPF_LSH | BPF_K, 2),
        ADD_X,
        TAX,
      );
    } else {
      s.push(st(BPF_LDX | BPF_MSH | BPF_B, this.offLinkpl.constant + this.offNl));
    }
  }

  // ---- comparisons ------------------------------------------------------------------------------

  ncmp(rel: OffRel, offset: number, size: number, mask: number, jtype: number, reverse: boolean, v: number): Pred {
    const s = this.loadA(rel, offset, size, mask >>> 0 !== 0xffffffff ? st(BPF_ALU | BPF_AND | BPF_K, mask) : undefined);
    const p = test(s, BPF_JMP | jtype | BPF_K, v);
    return reverse && (jtype === BPF_JGT || jtype === BPF_JGE) ? not(p) : p;
  }
  cmp(rel: OffRel, offset: number, size: number, v: number): Pred {
    return this.ncmp(rel, offset, size, 0xffffffff, BPF_JEQ, false, v);
  }
  cmpGt(rel: OffRel, offset: number, size: number, v: number): Pred {
    return this.ncmp(rel, offset, size, 0xffffffff, BPF_JGT, false, v);
  }
  cmpGe(rel: OffRel, offset: number, size: number, v: number): Pred {
    return this.ncmp(rel, offset, size, 0xffffffff, BPF_JGE, false, v);
  }
  cmpLt(rel: OffRel, offset: number, size: number, v: number): Pred {
    return this.ncmp(rel, offset, size, 0xffffffff, BPF_JGE, true, v);
  }
  cmpLe(rel: OffRel, offset: number, size: number, v: number): Pred {
    return this.ncmp(rel, offset, size, 0xffffffff, BPF_JGT, true, v);
  }
  mcmp(rel: OffRel, offset: number, size: number, v: number, mask: number): Pred {
    return this.ncmp(rel, offset, size, mask, BPF_JEQ, false, v);
  }
  /** Compare `bytes` at offset: words from the end, then halfwords, then a byte (libpcap's order). */
  bcmp(rel: OffRel, offset: number, bytes: Uint8Array | number[]): Pred {
    const v = bytes;
    let size = v.length;
    let b: Pred | undefined;
    const add = (t: Pred): void => {
      b = b ? { k: 'and', a: b, b: t } : t;
    };
    while (size >= 4) {
      const p = size - 4;
      add(this.cmp(rel, offset + p, BPF_W, ((v[p]! << 24) | (v[p + 1]! << 16) | (v[p + 2]! << 8) | v[p + 3]!) >>> 0));
      size -= 4;
    }
    while (size >= 2) {
      const p = size - 2;
      add(this.cmp(rel, offset + p, BPF_H, (v[p]! << 8) | v[p + 1]!));
      size -= 2;
    }
    if (size > 0) add(this.cmp(rel, offset, BPF_B, v[0]!));
    return b!;
  }
  /** A JSET test on a loaded byte. */
  jset(rel: OffRel, offset: number, size: number, bits: number): Pred {
    return test(this.loadA(rel, offset, size), BPF_JMP | 0x40 | BPF_K, bits);
  }

  /** Is the link-layer payload at a known place (some DLTs have no network layer we can find)? */
  get hasLinkpl(): boolean {
    return this.offLinkpl.constant !== OFFSET_NOT_SET || this.offLinkpl.isVariable;
  }

  imm(v: number): Stmt {
    return st(BPF_LD | BPF_IMM, v);
  }
}

export { BPF_B, BPF_H, BPF_W, BPF_JEQ, BPF_JGT, BPF_JGE };
