/**
 * One statement of the llvm-objdump / llvm-mc BPF syntax:
 *
 *   r0 = r1          w0 += 5        r1 s>>= r2     r0 = -r0       r1 = be16 r1
 *   r1 = (s8)r2      r1 = 0x1122 ll  ld_pseudo r1, 1, 3
 *   r0 = *(u32 *)(r1 + 4)   *(u64 *)(r10 - 8) = r1   *(u8 *)(r1 + 0) = 7
 *   r0 = *(s16 *)(r1 + 2)   r0 = *(u8 *)skb[12]       r0 = *(u16 *)skb[r1]
 *   lock *(u64 *)(r1 + 0) += r2        r2 = atomic_fetch_add((u64 *)(r1 + 0), r2)
 *   r2 = xchg_64(r1 + 0, r2)           r0 = cmpxchg_64(r1 + 0, r0, r2)
 *   if r1 > r2 goto +3   if w1 s< -5 goto LABEL   goto -1   gotol +70000
 *   call 1   call LABEL   callx r2   exit
 *
 * plus bpfkit's extensions where llvm's text loses information:
 * `call local -1` (a bpf-to-bpf call by offset), `call kfunc(ID|NAME)`,
 * `r0 = *(u16 *)skb[r1 + 12]`, `ld_pseudo r1, 2, 3, 8` (both halves of the
 * immediate), and pseudo operands `r1 = map_value(NAME, 8) ll` (see
 * asm-operands.ts).
 */
import type { Cursor, Token } from './asm-lexer.js';
import { describe } from './asm-lexer.js';
import {
  type Reg,
  type Stmt,
  I16,
  I32,
  I64,
  isIntStart,
  isLabelToken,
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
  skipAngleAnnotation,
} from './asm-operands.js';
import { parseCall } from './asm-call.js';
import { AluOp, Atomic, Class, JmpOp, Mode, PseudoLd, Size, Source } from './opcodes.js';

const COMPOUND: Record<string, number> = {
  '+=': AluOp.ADD,
  '-=': AluOp.SUB,
  '*=': AluOp.MUL,
  '/=': AluOp.DIV,
  '|=': AluOp.OR,
  '&=': AluOp.AND,
  '<<=': AluOp.LSH,
  '>>=': AluOp.RSH,
  '%=': AluOp.MOD,
  '^=': AluOp.XOR,
  's>>=': AluOp.ARSH,
  's/=': AluOp.DIV,
  's%=': AluOp.MOD,
};

const CONDITIONS: Record<string, number> = {
  '==': JmpOp.JEQ,
  '!=': JmpOp.JNE,
  '>': JmpOp.JGT,
  '>=': JmpOp.JGE,
  '<': JmpOp.JLT,
  '<=': JmpOp.JLE,
  's>': JmpOp.JSGT,
  's>=': JmpOp.JSGE,
  's<': JmpOp.JSLT,
  's<=': JmpOp.JSLE,
  '&': JmpOp.JSET,
};

const SIZES: Record<string, number> = { 8: Size.B, 16: Size.H, 32: Size.W, 64: Size.DW };

const ATOMIC_FETCH: Record<string, number> = {
  atomic_fetch_add: Atomic.ADD | Atomic.FETCH,
  atomic_fetch_or: Atomic.OR | Atomic.FETCH,
  atomic_fetch_and: Atomic.AND | Atomic.FETCH,
  atomic_fetch_xor: Atomic.XOR | Atomic.FETCH,
};

const LOCK_OPS: Record<string, number> = { '+=': Atomic.ADD, '|=': Atomic.OR, '&=': Atomic.AND, '^=': Atomic.XOR };

/** True when the line (already tokenized) is in the llvm syntax rather than the uBPF one. */
export function looksLikeLlvm(c: Cursor): boolean {
  const first = c.peek();
  if (first.kind === 'op' && first.text === '*') return true;
  if (first.kind !== 'ident') return false;
  if (['if', 'goto', 'gotol', 'callx', 'ld_pseudo', 'may_goto'].includes(first.text)) return true;
  if (first.text === 'lock' && c.is('*', 1)) return true;
  const second = c.peek(1);
  return second.kind === 'op' && (second.text === '=' || second.text in COMPOUND);
}

/** `(u32 *)` or `(s16 *)`: returns size and signedness. Cursor at '('. */
function parseSizeCast(c: Cursor, allowSigned: boolean): { size: number; signed: boolean; tok: Token } {
  c.expect('(');
  const t = c.next();
  const m = /^([us])(8|16|32|64)$/.exec(t.text);
  if (!m || (m[1] === 's' && (!allowSigned || m[2] === '64'))) {
    throw c.error(`expected a size such as u8, u16, u32 or u64, found ${describe(t)}`, t);
  }
  c.expect('*');
  c.expect(')');
  return { size: SIZES[m[2]!]!, signed: m[1] === 's', tok: t };
}

/** `(r1 + 8)` / `(r1 - 8)` / `(r1)`; cursor at '(' (or after it when `open` is false). */
function parseAddress(c: Cursor, open = true): { base: number; off: number } {
  if (open) c.expect('(');
  const base = parseReg(c, false, 'a base register');
  if (base.w) throw c.error('a base register must be a 64-bit register rN', base.tok);
  let off = 0;
  if (c.is('+') || c.is('-')) off = s16(parseInteger(c, I16('offset')));
  if (open) c.expect(')', "')'");
  return { base: base.n, off };
}

/** `*(u32 *)(r1 + 4)`, cursor at '*'. */
function parseMemRef(c: Cursor, allowSigned: boolean): { size: number; signed: boolean; base: number; off: number; sizeTok: Token } {
  c.expect('*');
  const { size, signed, tok } = parseSizeCast(c, allowSigned);
  const { base, off } = parseAddress(c);
  return { size, signed, base, off, sizeTok: tok };
}

function immOrReg(c: Cursor): { reg?: Reg; imm: number } {
  if (looksLikeRegister(c.peek())) return { reg: parseReg(c, false), imm: 0 };
  return { imm: s32(parseInteger(c, I32())) };
}

function sameWidth(c: Cursor, a: Reg, b: Reg | undefined): void {
  if (b && a.w !== b.w) throw c.error(`cannot mix ${a.tok.text} and ${b.tok.text}: use both rN or both wN`, b.tok);
}

export function parseLlvm(c: Cursor): Stmt {
  const first = c.peek();
  if (first.kind === 'ident') {
    switch (first.text) {
      case 'exit':
        c.next();
        return one(Class.JMP | JmpOp.EXIT);
      case 'goto': {
        c.next();
        const { value, fixup } = parseTarget(c, 'jump', I16('jump offset'));
        return { slots: one(Class.JMP | JmpOp.JA, 0, 0, value).slots, ...(fixup ? { fixup } : {}) };
      }
      case 'gotol': {
        c.next();
        const { value, fixup } = parseTarget(c, 'jump32', I32('jump offset'));
        return { slots: one(Class.JMP32 | JmpOp.JA, 0, 0, 0, value).slots, ...(fixup ? { fixup } : {}) };
      }
      case 'call':
        c.next();
        return parseCall(c);
      case 'callx': {
        c.next();
        const r = parseReg(c, false);
        return one(Class.JMP | JmpOp.CALL | Source.X, r.n);
      }
      case 'if':
        c.next();
        return parseIf(c);
      case 'ld_pseudo':
        c.next();
        return parseLdPseudo(c);
      case 'lock':
        c.next();
        return parseLock(c);
      case 'may_goto':
        throw c.error('may_goto is a kernel extension outside RFC 9669 and is not supported');
    }
  }
  if (c.is('*')) {
    // Store: *(u32 *)(r1 + 4) = r2 | imm
    const m = parseMemRef(c, false);
    c.expect('=');
    const v = immOrReg(c);
    if (v.reg) return one(Class.STX | Mode.MEM | m.size, m.base, v.reg.n, m.off);
    return one(Class.ST | Mode.MEM | m.size, m.base, 0, m.off, v.imm);
  }
  const dst = parseReg(c, false, 'a register or a statement');
  const opTok = c.peek();
  if (opTok.kind === 'op' && opTok.text in COMPOUND) {
    c.next();
    const cls = dst.w ? Class.ALU : Class.ALU64;
    const op = COMPOUND[opTok.text]!;
    const signedDiv = opTok.text === 's/=' || opTok.text === 's%=';
    const v = immOrReg(c);
    sameWidth(c, dst, v.reg);
    const off = signedDiv ? 1 : 0;
    if (v.reg) return one(cls | op | Source.X, dst.n, v.reg.n, off);
    return one(cls | op | Source.K, dst.n, 0, off, v.imm);
  }
  c.expect('=', "'=' or an operator such as '+='");
  return parseAssign(c, dst);
}

/** After `DST =`. */
function parseAssign(c: Cursor, dst: Reg): Stmt {
  const cls = dst.w ? Class.ALU : Class.ALU64;
  const t = c.peek();
  // Loads: *(u32 *)(r1 + 4), *(s8 *)(...), *(u8 *)skb[...]
  if (t.text === '*' && t.kind === 'op') {
    c.next();
    const { size, signed, tok } = parseSizeCast(c, true);
    if (c.is('skb')) {
      c.next();
      if (signed) throw c.error('packet loads are unsigned', tok);
      if (size === Size.DW) throw c.error('packet loads are 8, 16 or 32 bits wide', tok);
      if (dst.n !== 0 || dst.w) throw c.error('a packet load writes r0', dst.tok);
      c.expect('[');
      if (looksLikeRegister(c.peek())) {
        const r = parseReg(c, false);
        let imm = 0;
        if (c.is('+') || c.is('-')) imm = s32(parseInteger(c, I32('offset')));
        c.expect(']');
        return one(Class.LD | Mode.IND | size, 0, r.n, 0, imm);
      }
      const imm = s32(parseInteger(c, I32('packet offset')));
      c.expect(']');
      return one(Class.LD | Mode.ABS | size, 0, 0, 0, imm);
    }
    const { base, off } = parseAddress(c);
    if (signed && dst.w) throw c.error('a sign-extending load writes a 64-bit register rN', dst.tok);
    return one(Class.LDX | (signed ? Mode.MEMSX : Mode.MEM) | size, dst.n, base, off);
  }
  if (t.kind === 'ident' && t.text in ATOMIC_FETCH) {
    c.next();
    c.expect('(');
    const { size } = parseSizeCast(c, false);
    const { base, off } = parseAddress(c);
    c.expect(',');
    const src = parseReg(c, false);
    c.expect(')');
    if (src.n !== dst.n || src.w !== dst.w) throw c.error(`${t.text} must write back to its source register ${src.tok.text}`, dst.tok);
    return atomic(c, size, base, off, src, ATOMIC_FETCH[t.text]!);
  }
  if (t.kind === 'ident' && /^(xchg_64|xchg32_32|cmpxchg_64|cmpxchg32_32)$/.test(t.text)) {
    c.next();
    const size = t.text.endsWith('_64') ? Size.DW : Size.W;
    c.expect('(');
    const { base, off } = parseAddress(c, false);
    c.expect(',');
    if (t.text.startsWith('cmpxchg')) {
      const r0 = parseReg(c, false);
      if (r0.n !== 0 || dst.n !== 0) throw c.error(`${t.text} compares with and writes r0`, r0.n !== 0 ? r0.tok : dst.tok);
      c.expect(',');
      const src = parseReg(c, false);
      c.expect(')');
      return atomic(c, size, base, off, src, Atomic.CMPXCHG);
    }
    const src = parseReg(c, false);
    c.expect(')');
    if (src.n !== dst.n) throw c.error(`${t.text} must write back to its source register ${src.tok.text}`, dst.tok);
    return atomic(c, size, base, off, src, Atomic.XCHG);
  }
  // Negation: r0 = -r0
  if (t.text === '-' && looksLikeRegister(c.peek(1))) {
    c.next();
    const r = parseReg(c, false);
    if (r.n !== dst.n || r.w !== dst.w) throw c.error('negation must be in place (r0 = -r0)', r.tok);
    return one(cls | AluOp.NEG, dst.n);
  }
  // Byte swaps: r0 = be16 r0 / le32 / bswap64
  if (t.kind === 'ident' && /^(be|le|bswap)(16|32|64)$/.test(t.text)) {
    c.next();
    const m = /^(be|le|bswap)(16|32|64)$/.exec(t.text)!;
    const r = parseReg(c, false);
    if (r.n !== dst.n) throw c.error('a byte swap must be in place (r0 = be16 r0)', r.tok);
    const code = m[1] === 'bswap' ? Class.ALU64 | AluOp.END : Class.ALU | AluOp.END | (m[1] === 'be' ? Source.X : Source.K);
    return one(code, dst.n, 0, 0, Number(m[2]));
  }
  // Sign-extending moves: r1 = (s8)r2
  if (t.text === '(' && /^s(8|16|32)$/.test(c.peek(1).text) && c.is(')', 2)) {
    c.next();
    const bits = Number(c.next().text.slice(1));
    c.next();
    const r = parseReg(c, false);
    sameWidth(c, dst, r);
    return one(cls | AluOp.MOV | Source.X, dst.n, r.n, bits);
  }
  if (isPseudoOperand(c)) {
    if (dst.w) throw c.error('lddw loads a 64-bit register rN', dst.tok);
    const s = parsePseudoLddw(c, dst.n);
    c.expect('ll', "'ll' (a 64-bit load)");
    return s;
  }
  if (looksLikeRegister(t)) {
    const r = parseReg(c, false);
    sameWidth(c, dst, r);
    return one(cls | AluOp.MOV | Source.X, dst.n, r.n);
  }
  if (isIntStart(c)) {
    // Either `r1 = imm` (mov) or `r1 = imm ll` (lddw): look ahead for `ll`.
    const save = c.pos;
    if (!c.accept('-')) c.accept('+');
    c.next();
    const wide = c.is('ll');
    c.pos = save;
    if (wide) {
      if (dst.w) throw c.error('lddw loads a 64-bit register rN', dst.tok);
      const v = parseInteger(c, I64());
      c.next();
      return { slots: lddwSlots(dst.n, v, PseudoLd.NONE) };
    }
    const v = parseInteger(c, I32());
    return one(cls | AluOp.MOV | Source.K, dst.n, 0, 0, s32(v));
  }
  throw c.error(`expected a value, a register or a load, found ${describe(t)}`);
}

function atomic(c: Cursor, size: number, base: number, off: number, src: Reg, op: number): Stmt {
  if ((size === Size.W) !== src.w && (op & Atomic.FETCH) !== 0) {
    throw c.error(size === Size.W ? 'a 32-bit atomic uses a wN register' : 'a 64-bit atomic uses an rN register', src.tok);
  }
  return one(Class.STX | Mode.ATOMIC | size, base, src.n, off, op);
}

/** After `lock`: `*(u64 *)(r1 + 0) += r2`. */
function parseLock(c: Cursor): Stmt {
  const m = parseMemRef(c, false);
  if (m.size !== Size.W && m.size !== Size.DW) throw c.error('atomic operations are 32 or 64 bits wide', m.sizeTok);
  const opTok = c.next();
  const op = LOCK_OPS[opTok.text];
  if (op === undefined) throw c.error(`expected an atomic operator (+=, |=, &=, ^=), found ${describe(opTok)}`, opTok);
  const src = parseReg(c, false);
  return one(Class.STX | Mode.ATOMIC | m.size, m.base, src.n, m.off, op);
}

/** After `if`: `r1 OP (r2 | imm) goto TARGET`. */
function parseIf(c: Cursor): Stmt {
  const a = parseReg(c, false);
  const opTok = c.next();
  const op = CONDITIONS[opTok.text];
  if (op === undefined) throw c.error(`expected a comparison (==, !=, >, s<, &, ...), found ${describe(opTok)}`, opTok);
  const v = immOrReg(c);
  sameWidth(c, a, v.reg);
  c.expect('goto');
  const { value, fixup } = parseTarget(c, 'jump', I16('jump offset'));
  const cls = a.w ? Class.JMP32 : Class.JMP;
  const s = v.reg ? one(cls | op | Source.X, a.n, v.reg.n, value) : one(cls | op | Source.K, a.n, 0, value, v.imm);
  return fixup ? { ...s, fixup } : s;
}

/** After `ld_pseudo`: `r1, SRC, IMM[, IMM2]` (llvm prints only the low half of the immediate). */
function parseLdPseudo(c: Cursor): Stmt {
  const dst = parseReg(c, false);
  if (dst.w) throw c.error('lddw loads a 64-bit register rN', dst.tok);
  c.expect(',');
  const src = Number(parseInteger(c, { min: 0n, max: 15n, what: 'pseudo source' }));
  c.expect(',');
  if (src === PseudoLd.FUNC && isLabelToken(c.peek())) {
    const t = c.next();
    return { slots: lddwSlots(dst.n, 0n, src), fixup: { kind: 'func', label: t.text, tok: t } };
  }
  const lo = parseInteger(c, I32());
  let hi = 0n;
  if (c.accept(',')) hi = parseInteger(c, I32());
  skipAngleAnnotation(c);
  return { slots: lddwSlots(dst.n, (BigInt.asUintN(32, hi) << 32n) | BigInt.asUintN(32, lo), src) };
}
