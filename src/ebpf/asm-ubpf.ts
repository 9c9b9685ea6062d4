/**
 * One statement of the uBPF / bpf_conformance syntax (the `-- asm` sections
 * of ../shared/conformance/bpf_conformance), registers written `%r1` (or `r1`):
 *
 *   mov %r0, 1   add32 %r0, %r1   neg %r0   sdiv32 %r0, 3   movsx832 %r0, %r1
 *   be16 %r0   le32 %r0   swap64 %r0 (bswap64)   lddw %r0, 0x1122334455667788
 *   ldxw %r0, [%r1+4]   ldxsb %r0, [%r1]   stw [%r10-4], 7   stxdw [%r10-8], %r1
 *   ldabsb 12   ldindh %r1, 4
 *   lock add [%r10-8], %r1   lock fetch xor32 [%r1], %r2   lock xchg [%r1], %r2   lock cmpxchg [%r1], %r2
 *   ja +1   ja32 LABEL   jeq %r1, 5, +3   jslt32 %r1, %r2, LABEL
 *   call 5   call local LABEL   call %r2   exit
 *
 * Mnemonics without a width are 64-bit (`mov`); `mov64` is accepted too.
 * Pseudo LDDW operands (`lddw %r1, map_value(NAME, 8)`) are in asm-operands.ts.
 */
import { Cursor, describe, type Token } from './asm-lexer.js';
import { parseCall } from './asm-call.js';
import {
  type Stmt,
  I16,
  I32_STRICT,
  I64,
  isPseudoOperand,
  lddwSlots,
  looksLikeRegister,
  one,
  parseInteger,
  parsePseudoLddw,
  parseReg,
  parseTarget,
  s16,
  s32,
} from './asm-operands.js';
import { AluOp, Atomic, Class, JmpOp, Mode, PseudoLd, Size, Source } from './opcodes.js';

const ALU: Record<string, { op: number; off?: number }> = {
  add: { op: AluOp.ADD },
  sub: { op: AluOp.SUB },
  mul: { op: AluOp.MUL },
  div: { op: AluOp.DIV },
  sdiv: { op: AluOp.DIV, off: 1 },
  or: { op: AluOp.OR },
  and: { op: AluOp.AND },
  lsh: { op: AluOp.LSH },
  rsh: { op: AluOp.RSH },
  mod: { op: AluOp.MOD },
  smod: { op: AluOp.MOD, off: 1 },
  xor: { op: AluOp.XOR },
  mov: { op: AluOp.MOV },
  arsh: { op: AluOp.ARSH },
};

const JUMPS: Record<string, number> = {
  jeq: JmpOp.JEQ,
  jgt: JmpOp.JGT,
  jge: JmpOp.JGE,
  jset: JmpOp.JSET,
  jne: JmpOp.JNE,
  jsgt: JmpOp.JSGT,
  jsge: JmpOp.JSGE,
  jlt: JmpOp.JLT,
  jle: JmpOp.JLE,
  jslt: JmpOp.JSLT,
  jsle: JmpOp.JSLE,
};

const SIZES: Record<string, number> = { b: Size.B, h: Size.H, w: Size.W, dw: Size.DW };

const ATOMIC: Record<string, number> = { add: Atomic.ADD, or: Atomic.OR, and: Atomic.AND, xor: Atomic.XOR };

/** Split the operands (the tokens after the mnemonic) at top-level commas. */
function operands(c: Cursor): Cursor[] {
  const groups: Token[][] = [[]];
  let depth = 0;
  while (!c.atEnd()) {
    const t = c.next();
    if (t.kind === 'op' && (t.text === '[' || t.text === '(')) depth++;
    if (t.kind === 'op' && (t.text === ']' || t.text === ')')) depth--;
    if (t.kind === 'op' && t.text === ',' && depth <= 0) groups.push([]);
    else groups[groups.length - 1]!.push(t);
  }
  const endCol = c.peek().col;
  if (groups.length === 1 && groups[0]!.length === 0) return [];
  return groups.map((g, i) => {
    const next = i + 1 < groups.length ? (groups[i + 1]![0]?.col ?? endCol) - 1 : endCol;
    return new Cursor([...g, { kind: 'end', text: '', col: g.length ? next : next }], c.ctx);
  });
}

function count(c: Cursor, mnemonic: Token, ops: Cursor[], n: number, what: string): void {
  if (ops.length !== n) {
    throw c.error(
      `invalid number of operands for ${mnemonic.text}: expected ${n} (${what}), found ${ops.length}`,
      mnemonic,
    );
  }
}

function done<T>(c: Cursor, v: T): T {
  c.expectEnd();
  return v;
}

/** `[%r1]`, `[%r1+4]`, `[%r10-8]`, `[%r1+0x10]`. */
function memory(c: Cursor): { base: number; off: number } {
  if (!c.is('[')) throw c.error(`expected a memory operand such as [%r1+4], found ${describe(c.peek())}`);
  c.next();
  const base = parseReg(c, true, 'a base register');
  let off = 0;
  if (c.is('+') || c.is('-')) off = s16(parseInteger(c, I16('offset')));
  c.expect(']', "']'");
  return done(c, { base: base.n, off });
}

function reg(c: Cursor): number {
  return done(c, parseReg(c, true).n);
}

function imm(c: Cursor, what = 'immediate'): number {
  return done(c, s32(parseInteger(c, I32_STRICT(what))));
}

export function parseUbpf(c: Cursor): Stmt {
  const m = c.next();
  if (m.kind !== 'ident') throw c.error(`expected a mnemonic, found ${describe(m)}`, m);
  const name = m.text.toLowerCase();

  if (name === 'call') return parseCall(c);
  if (name === 'lock') return parseLock(c, m);
  const ops = operands(c);
  const need = (n: number, what: string): void => count(c, m, ops, n, what);

  if (name === 'exit') {
    need(0, 'none');
    return one(Class.JMP | JmpOp.EXIT);
  }
  if (name === 'callx') {
    need(1, 'register');
    return one(Class.JMP | JmpOp.CALL | Source.X, reg(ops[0]!));
  }
  if (name === 'ja' || name === 'ja32' || name === 'gotol') {
    need(1, 'target');
    const wide = name !== 'ja';
    const { value, fixup } = parseTarget(ops[0]!, wide ? 'jump32' : 'jump', wide ? I32_STRICT('jump offset') : I16('jump offset'));
    ops[0]!.expectEnd();
    const s = wide ? one(Class.JMP32 | JmpOp.JA, 0, 0, 0, value) : one(Class.JMP | JmpOp.JA, 0, 0, value);
    return fixup ? { ...s, fixup } : s;
  }
  if (name === 'lddw') {
    need(2, 'register, 64-bit immediate');
    const dst = reg(ops[0]!);
    const o = ops[1]!;
    if (isPseudoOperand(o)) return done(o, parsePseudoLddw(o, dst));
    return { slots: lddwSlots(dst, done(o, parseInteger(o, I64())), PseudoLd.NONE) };
  }
  let mm: RegExpExecArray | null;
  if ((mm = /^(ldx|ldxs)(b|h|w|dw)$/.exec(name))) {
    need(2, 'register, memory');
    const sx = mm[1] === 'ldxs';
    if (sx && mm[2] === 'dw') throw c.error('there is no sign-extending 64-bit load (ldxsdw): use ldxdw', m);
    const dst = reg(ops[0]!);
    const { base, off } = memory(ops[1]!);
    return one(Class.LDX | (sx ? Mode.MEMSX : Mode.MEM) | SIZES[mm[2]!]!, dst, base, off);
  }
  if ((mm = /^(st|stx)(b|h|w|dw)$/.exec(name))) {
    need(2, mm[1] === 'st' ? 'memory, immediate' : 'memory, register');
    const { base, off } = memory(ops[0]!);
    if (mm[1] === 'st') return one(Class.ST | Mode.MEM | SIZES[mm[2]!]!, base, 0, off, imm(ops[1]!));
    return one(Class.STX | Mode.MEM | SIZES[mm[2]!]!, base, reg(ops[1]!), off);
  }
  if ((mm = /^(ldabs|ldind)(b|h|w)$/.exec(name))) {
    if (mm[1] === 'ldabs') {
      need(1, 'packet offset');
      return one(Class.LD | Mode.ABS | SIZES[mm[2]!]!, 0, 0, 0, imm(ops[0]!, 'packet offset'));
    }
    need(2, 'register, offset');
    return one(Class.LD | Mode.IND | SIZES[mm[2]!]!, 0, reg(ops[0]!), 0, imm(ops[1]!, 'packet offset'));
  }
  if ((mm = /^(le|be|swap|bswap)(16|32|64)$/.exec(name))) {
    need(1, 'register');
    const code =
      mm[1] === 'le' ? Class.ALU | AluOp.END | Source.K : mm[1] === 'be' ? Class.ALU | AluOp.END | Source.X : Class.ALU64 | AluOp.END;
    return one(code, reg(ops[0]!), 0, 0, Number(mm[2]));
  }
  if ((mm = /^movsx(8|16|32)(32|64)$/.exec(name))) {
    need(2, 'register, register');
    if (mm[1] === '32' && mm[2] === '32') throw c.error('movsx3232 is not an instruction (use mov32)', m);
    const cls = mm[2] === '32' ? Class.ALU : Class.ALU64;
    return one(cls | AluOp.MOV | Source.X, reg(ops[0]!), reg(ops[1]!), Number(mm[1]));
  }
  if ((mm = /^neg(32|64)?$/.exec(name))) {
    need(1, 'register');
    return one((mm[1] === '32' ? Class.ALU : Class.ALU64) | AluOp.NEG, reg(ops[0]!));
  }
  if ((mm = /^([a-z]+?)(32|64)?$/.exec(name)) && mm[1]! in ALU) {
    need(2, 'register, register or immediate');
    const { op, off = 0 } = ALU[mm[1]!]!;
    const cls = mm[2] === '32' ? Class.ALU : Class.ALU64;
    const dst = reg(ops[0]!);
    const o = ops[1]!;
    if (looksLikeRegister(o.peek()) || o.peek().text.startsWith('%')) return one(cls | op | Source.X, dst, reg(o), off);
    return one(cls | op | Source.K, dst, 0, off, imm(o));
  }
  if ((mm = /^([a-z]+?)(32)?$/.exec(name)) && mm[1]! in JUMPS) {
    need(3, 'register, register or immediate, target');
    const cls = mm[2] === '32' ? Class.JMP32 : Class.JMP;
    const op = JUMPS[mm[1]!]!;
    const dst = reg(ops[0]!);
    const o = ops[1]!;
    const { value, fixup } = parseTarget(ops[2]!, 'jump', I16('jump offset'));
    ops[2]!.expectEnd();
    const s =
      looksLikeRegister(o.peek()) || o.peek().text.startsWith('%')
        ? one(cls | op | Source.X, dst, reg(o), value)
        : one(cls | op | Source.K, dst, 0, value, imm(o));
    return fixup ? { ...s, fixup } : s;
  }
  throw c.error(`unknown mnemonic '${m.text}'`, m);
}

/** `lock [fetch] OP[32] [mem], reg`, `lock xchg[32] ...`, `lock cmpxchg[32] ...`. */
function parseLock(c: Cursor, lock: Token): Stmt {
  const fetch = c.is('fetch');
  if (fetch) c.next();
  const opTok = c.peek();
  const m = opTok.kind === 'ident' ? /^(add|or|and|xor|xchg|cmpxchg)(32|64)?$/.exec(opTok.text) : null;
  if (m) c.next();
  const ops = m ? operands(c) : [];
  if (!m || ops.length !== 2) {
    const found = m ? `${ops.length} operands` : opTok.kind === 'end' ? 'nothing' : `'${opTok.text}'`;
    throw c.error(
      `invalid number of operands for lock: expected [fetch] add|or|and|xor|xchg|cmpxchg[32] [memory], register; found ${found}`,
      m ? opTok : lock,
    );
  }
  if (fetch && (m[1] === 'xchg' || m[1] === 'cmpxchg')) throw c.error(`${m[1]} always fetches: drop 'fetch'`, opTok);
  const size = m[2] === '32' ? Size.W : Size.DW;
  const { base, off } = memory(ops[0]!);
  const src = reg(ops[1]!);
  const op = m[1] === 'xchg' ? Atomic.XCHG : m[1] === 'cmpxchg' ? Atomic.CMPXCHG : ATOMIC[m[1]!]! | (fetch ? Atomic.FETCH : 0);
  return one(Class.STX | Mode.ATOMIC | size, base, src, off, op);
}
