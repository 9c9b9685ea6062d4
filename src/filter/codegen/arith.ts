/**
 * Arithmetic expressions and relations (`ip[2:2] > 576`, `len - 14 < 100`,
 * `tcp[tcpflags] & tcp-syn != 0`). Each value lives in a scratch slot, as in
 * libpcap; an indexed load also contributes the protocol test under which
 * its header is where the load assumes (`tcp[0]` only for first IPv4
 * fragments carrying TCP).
 */
import * as insnModule from '../../cbpf/insn.js';
import type { Arith, ArithOp, ProtoQual, RelOp } from '../ast.js';
import type { Stmt } from '../cfg.js';
import * as linktypesModule from '../linktypes.js';
import * as predModule from '../pred.js';
import type { Pred } from '../pred.js';
import * as contextModule from './context.js';
import type { Gen } from './context.js';
import * as protoModule from './proto.js';
import * as specialModule from './special.js';
// Module-level copies of the imports: V8 folds a module's own constants into optimised code,
// not imported (live) bindings (see src/filter/README.md, "Compile speed").
const {
  BPF_ABS, BPF_ADD, BPF_ALU, BPF_AND, BPF_B, BPF_DIV, BPF_H, BPF_IMM, BPF_IND, BPF_JMP, BPF_K, BPF_LD, BPF_LEN,
  BPF_LSH, BPF_MOD, BPF_MUL, BPF_NEG, BPF_OR, BPF_RSH, BPF_SUB, BPF_W, BPF_X, BPF_XOR,
} = insnModule;
const { DLT } = linktypesModule;
const { and, not, test } = predModule;
const { ADD_X, LDX_MEM, LD_MEM, ST_MEM, TAX, st } = contextModule;
const { genProtoAbbrev } = protoModule;
const { relJump } = specialModule;

interface Value {
  s: Stmt[];
  reg: number;
  b: Pred | undefined;
  /** The constant, when the value is a plain number (for the division/shift checks). */
  constant?: number;
  /**
   * With folding on: statements that leave the value in A without scratch
   * slots (a load at a constant index, then ALU operations with constants).
   * They load the same bytes as `s`, so the verdict on short packets is the same.
   */
  simple?: Stmt[];
}

const ALU_OP: Record<ArithOp, number> = {
  '+': BPF_ADD, '-': BPF_SUB, '*': BPF_MUL, '/': BPF_DIV, '%': BPF_MOD, '&': BPF_AND, '|': BPF_OR,
  '^': BPF_XOR, '<<': BPF_LSH, '>>': BPF_RSH,
};

/** IP protocol numbers of the transport-layer qualifiers an index operation may use. */
const TRANSPORT_PROTO = { sctp: 132, tcp: 6, udp: 17, icmp: 1, igmp: 2, igrp: 9, pim: 103, vrrp: 112, carp: 112 };

/** Push `more` onto `s` (no spread: it iterates); returns `s`. */
function pushAll(s: Stmt[], more: Stmt[]): Stmt[] {
  for (let i = 0; i < more.length; i++) s.push(more[i]!);
  return s;
}

function andOpt(a: Pred | undefined, b: Pred | undefined): Pred | undefined {
  if (a && b) return and(a, b);
  return a ?? b;
}

function loadi(g: Gen, v: number): Value {
  const reg = g.allocReg();
  return { s: [st(BPF_LD | BPF_IMM, v), ST_MEM[reg]!], reg, b: undefined, constant: v };
}

function ipfrag(g: Gen): Pred {
  return not(g.jset('linkpl', 6, BPF_H, 0x1fff));
}

function load(g: Gen, proto: ProtoQual, inst: Value, size: number): Value {
  const sizeCode = size === 1 ? BPF_B : size === 2 ? BPF_H : size === 4 ? BPF_W : -1;
  if (sizeCode < 0) g.error('data size must be 1, 2, or 4');
  const regno = g.allocReg();
  g.freeReg(inst.reg);
  // The index's statements are its own (a Value is used once): the load's are pushed onto them.
  const out: Value = { s: inst.s, reg: regno, b: inst.b };
  const s = out.s;
  const ireg = inst.reg;
  /** X = the index plus the variable part of `off`'s offset (when it has one). */
  const viaVar = (vp: Stmt | undefined): void => {
    if (vp) {
      s.push(vp, LD_MEM[ireg]!, ADD_X, TAX);
    } else {
      s.push(LDX_MEM[ireg]!);
    }
  };
  switch (proto) {
    case 'radio': {
      const lt = g.linktype;
      if (lt !== DLT.IEEE802_11_RADIO_AVS && lt !== DLT.IEEE802_11_RADIO && lt !== DLT.PRISM_HEADER) {
        g.error("'radio' does not support the index operation");
      }
      s.push(LDX_MEM[ireg]!, st(BPF_LD | BPF_IND | sizeCode, 0));
      break;
    }
    case 'link':
    case 'default':
      viaVar(g.varpart(g.offLinkhdr));
      s.push(st(BPF_LD | BPF_IND | sizeCode, g.offLinkhdr.constant));
      break;
    case 'ip': case 'arp': case 'rarp': case 'atalk': case 'decnet': case 'sca': case 'lat': case 'moprc':
    case 'mopdl': case 'ip6': {
      viaVar(g.varpart(g.offLinkpl));
      s.push(st(BPF_LD | BPF_IND | sizeCode, g.offLinkpl.constant + g.offNl));
      out.b = andOpt(out.b, genProtoAbbrev(g, proto));
      break;
    }
    case 'sctp': case 'tcp': case 'udp': case 'icmp': case 'igmp': case 'igrp': case 'pim': case 'vrrp': case 'carp': {
      g.pushLoadxIpHdrLen(s);
      s.push(
        LD_MEM[ireg]!, ADD_X, TAX,
        st(BPF_LD | BPF_IND | sizeCode, g.offLinkpl.constant + g.offNl),
      );
      // The header is found through the IPv4 header length: IPv4, this protocol, first fragment.
      const num = TRANSPORT_PROTO[proto];
      let b = and(g.cmp('linkpl', 9, BPF_B, num), ipfrag(g));
      if (inst.b) b = and(inst.b, b);
      out.b = and(genProtoAbbrev(g, 'ip'), b);
      break;
    }
    case 'icmp6': {
      out.b = andOpt(out.b, genProtoAbbrev(g, 'ip6'));
      out.b = and(out.b!, g.cmp('linkpl', 6, BPF_B, 58));
      viaVar(g.varpart(g.offLinkpl));
      s.push(st(BPF_LD | BPF_IND | sizeCode, g.offLinkpl.constant + g.offNl + 40));
      break;
    }
    default:
      g.error(`'${proto}' does not support the index operation`);
  }
  s.push(ST_MEM[regno]!);
  return out;
}

/** A load at a constant index without scratch slots, or undefined for `radio` and unknown protocols. */
function simpleLoad(g: Gen, proto: ProtoQual, c: number, size: number): Stmt[] | undefined {
  const sizeCode = size === 1 ? BPF_B : size === 2 ? BPF_H : BPF_W;
  const at = (off: { isVariable: boolean; constant: number; reg: number }, k: number): Stmt[] => {
    const vp = g.varpart(off);
    return vp ? [vp, st(BPF_LD | BPF_IND | sizeCode, k)] : [st(BPF_LD | BPF_ABS | sizeCode, k)];
  };
  switch (proto) {
    case 'link':
    case 'default':
      return at(g.offLinkhdr, g.offLinkhdr.constant + c);
    case 'ip': case 'arp': case 'rarp': case 'atalk': case 'decnet': case 'sca': case 'lat': case 'moprc':
    case 'mopdl': case 'ip6':
      return at(g.offLinkpl, g.offLinkpl.constant + g.offNl + c);
    case 'icmp6':
      return at(g.offLinkpl, g.offLinkpl.constant + g.offNl + 40 + c);
    case 'sctp': case 'tcp': case 'udp': case 'icmp': case 'igmp': case 'igrp': case 'pim': case 'vrrp': case 'carp':
      return g.loadxIpHdrLen(st(BPF_LD | BPF_IND | sizeCode, g.offLinkpl.constant + g.offNl + c));
    default:
      return undefined;
  }
}

function evalArith(g: Gen, a: Arith): Value {
  switch (a.type) {
    case 'num':
      return loadi(g, a.value);
    case 'len': {
      const reg = g.allocReg();
      return { s: [st(BPF_LD | BPF_LEN | BPF_W), ST_MEM[reg]!], reg, b: undefined };
    }
    case 'neg': {
      const v = evalArith(g, a.arg);
      v.s.push(LD_MEM[v.reg]!, st(BPF_ALU | BPF_NEG), ST_MEM[v.reg]!);
      delete v.constant;
      if (v.simple) v.simple.push(st(BPF_ALU | BPF_NEG));
      return v;
    }
    case 'load': {
      const saved = g.pos;
      g.pos = a.pos;
      const idx = evalArith(g, a.index);
      const c = idx.constant;
      const v = load(g, a.proto, idx, a.size);
      if (g.opts.fold && c !== undefined) {
        const simple = simpleLoad(g, a.proto, c, a.size);
        if (simple) v.simple = simple;
      }
      g.pos = saved;
      return v;
    }
    case 'binop': {
      const a0 = evalArith(g, a.left);
      const a1 = evalArith(g, a.right);
      const code = ALU_OP[a.op];
      if (g.opts.fold) {
        const folded = foldConst(g, code, a0, a1);
        if (folded) return folded;
      }
      if (a1.constant !== undefined) {
        if (code === BPF_DIV && a1.constant === 0) g.error('division by zero');
        if (code === BPF_MOD && a1.constant === 0) g.error('modulus by zero');
        if ((code === BPF_LSH || code === BPF_RSH) && a1.constant > 31) g.error('shift by more than 31 bits');
      }
      // Each operand's statements are its own (a Value is used once): the left's take the rest.
      const s = pushAll(a0.s, a1.s);
      s.push(LDX_MEM[a1.reg]!, LD_MEM[a0.reg]!, st(BPF_ALU | BPF_X | code));
      g.freeReg(a0.reg);
      g.freeReg(a1.reg);
      const reg = g.allocReg();
      s.push(ST_MEM[reg]!);
      const out: Value = { s, reg, b: andOpt(a0.b, a1.b) };
      if (a0.simple && a1.constant !== undefined) {
        a0.simple.push(st(BPF_ALU | BPF_K | code, a1.constant));
        out.simple = a0.simple;
      }
      return out;
    }
  }
}

/** With the optimiser on: constant operands fold, and `x & 0` / `x * 0` is 0 without loading x. */
function foldConst(g: Gen, code: number, a0: Value, a1: Value): Value | undefined {
  let v: number | undefined;
  if (a0.constant !== undefined && a1.constant !== undefined) {
    const x = a0.constant, y = a1.constant;
    switch (code) {
      case BPF_ADD: v = (x + y) >>> 0; break;
      case BPF_SUB: v = (x - y) >>> 0; break;
      case BPF_MUL: v = Math.imul(x, y) >>> 0; break;
      case BPF_DIV: v = y === 0 ? undefined : Math.floor(x / y); break;
      case BPF_MOD: v = y === 0 ? undefined : x % y; break;
      case BPF_AND: v = (x & y) >>> 0; break;
      case BPF_OR: v = (x | y) >>> 0; break;
      case BPF_XOR: v = (x ^ y) >>> 0; break;
      case BPF_LSH: v = y > 31 ? undefined : (x << y) >>> 0; break;
      case BPF_RSH: v = y > 31 ? undefined : x >>> y; break;
    }
  } else if ((code === BPF_AND || code === BPF_MUL) && (a0.constant === 0 || a1.constant === 0)) {
    v = 0;
  }
  if (v === undefined) return undefined;
  g.freeReg(a0.reg);
  g.freeReg(a1.reg);
  const r = loadi(g, v);
  r.b = andOpt(a0.b, a1.b);
  return r;
}

export function genRelation(g: Gen, op: RelOp, left: Arith, right: Arith): Pred {
  const a0 = evalArith(g, left);
  const a1 = evalArith(g, right);
  const { jtype, reverse } = relJump(op);
  if (a0.simple && a1.constant !== undefined) {
    // `value op constant` straight from the loaded value; `x & m != 0` as one jset.
    g.freeReg(a0.reg);
    g.freeReg(a1.reg);
    const last = a0.simple[a0.simple.length - 1]!;
    let b: Pred;
    if ((op === '!=' || op === '=') && a1.constant === 0 && last.code === (BPF_ALU | BPF_AND | BPF_K)) {
      b = test(a0.simple.slice(0, -1), BPF_JMP | 0x40 | BPF_K, last.k);
      if (op === '=') b = not(b);
    } else {
      b = test(a0.simple, BPF_JMP | jtype | BPF_K, a1.constant);
      if (reverse) b = not(b);
    }
    const checks0 = andOpt(a0.b, a1.b);
    return checks0 ? and(checks0, b) : b;
  }
  const s = pushAll(a0.s, a1.s);
  s.push(LDX_MEM[a1.reg]!, LD_MEM[a0.reg]!);
  let b: Pred = test(s, BPF_JMP | jtype | BPF_X, 0);
  if (reverse) b = not(b);
  g.freeReg(a0.reg);
  g.freeReg(a1.reg);
  const checks = andOpt(a0.b, a1.b);
  return checks ? and(checks, b) : b;
}

/** `less n` is `len <= n`, `greater n` is `len >= n`. */
export function genLength(op: 'less' | 'greater', n: number): Pred {
  const p = test([st(BPF_LD | BPF_LEN | BPF_W)], BPF_JMP | (op === 'less' ? 0x20 : 0x30), n);
  return op === 'less' ? not(p) : p;
}
