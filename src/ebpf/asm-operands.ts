/**
 * Pieces shared by the two assembly syntaxes: what a parsed statement is,
 * registers, integers with their ranges, jump targets and pseudo operands
 * (map references, function addresses).
 */
import type { Cursor, Token } from './asm-lexer.js';
import { describe } from './asm-lexer.js';
import { type Instruction, insn, lddw } from './insn.js';
import { FRAME_POINTER, PseudoLd } from './opcodes.js';

/** A label to be resolved once every label is known. */
export interface Fixup {
  /** jump: off (or imm for gotol) = target - (slot + 1); call: local call imm; func: LDDW of a function address. */
  kind: 'jump' | 'jump32' | 'call' | 'func';
  label: string;
  tok: Token;
}

/** A name to be resolved at load time (see ProgramSpec.references). */
export type SymbolRef =
  | { kind: 'map'; map: string }
  | { kind: 'mapValue'; map: string; offset: number }
  | { kind: 'kfunc'; name: string }
  | { kind: 'ksym'; name: string };

export interface Stmt {
  slots: Instruction[];
  fixup?: Fixup;
  ref?: SymbolRef;
}

export interface Reg {
  n: number;
  /** Written as a 32-bit subregister (wN). */
  w: boolean;
  tok: Token;
}

const REG_RE = /^%?([rw])(\d+)$/;

export function looksLikeRegister(t: Token): boolean {
  return t.kind === 'ident' && REG_RE.test(t.text);
}

/**
 * Parse a register. `percent`: the uBPF syntax, where `%r1` (or `r1`) is
 * accepted; otherwise `r1` / `w1`.
 */
export function parseReg(c: Cursor, percent: boolean, what = 'a register'): Reg {
  const t = c.peek();
  const m = t.kind === 'ident' ? REG_RE.exec(t.text) : null;
  if (!m || (t.text.startsWith('%') && !percent) || (percent && m[1] === 'w')) {
    if (t.kind === 'ident' && /^%/.test(t.text)) throw c.error(`invalid register ${t.text}`);
    throw c.error(`expected ${what}, found ${describe(t)}`);
  }
  const n = Number(m[2]);
  if (n > FRAME_POINTER || m[2]!.length > 2 || (m[2]!.length === 2 && m[2]![0] === '0')) {
    throw c.error(`invalid register ${t.text} (registers are r0..r10)`);
  }
  c.next();
  return { n, w: m[1] === 'w', tok: t };
}

export interface IntOptions {
  min: bigint;
  max: bigint;
  /** A separate range for hexadecimal literals (for the uBPF syntax, where 0xffffffff is a valid imm32 but 4294967295 is not). */
  hexMax?: bigint;
  what: string;
}

export function isIntStart(c: Cursor): boolean {
  const t = c.peek();
  if (t.kind === 'number') return true;
  return (t.text === '-' || t.text === '+') && c.peek(1).kind === 'number';
}

/** An integer literal with an optional sign, range-checked. */
export function parseInteger(c: Cursor, o: IntOptions): bigint {
  const first = c.peek();
  let neg = false;
  if (c.accept('-')) neg = true;
  else c.accept('+');
  const t = c.peek();
  if (t.kind !== 'number') throw c.error(`expected ${o.what}, found ${describe(t)}`);
  c.next();
  const isHex = /^0[xX]/.test(t.text);
  let v = BigInt(t.text);
  if (neg) v = -v;
  const max = isHex && o.hexMax !== undefined ? o.hexMax : o.max;
  if (v < o.min || v > max) {
    throw c.error(`${o.what} ${neg ? '-' : ''}${t.text} is out of range (${o.min}..${max})`, first);
  }
  return v;
}

export const I32 = (what = 'immediate'): IntOptions => ({ min: -(1n << 31n), max: (1n << 32n) - 1n, what });
/** The uBPF syntax: decimal must fit int32, hexadecimal may be up to 0xffffffff. */
export const I32_STRICT = (what = 'immediate'): IntOptions => ({
  min: -(1n << 31n),
  max: (1n << 31n) - 1n,
  hexMax: (1n << 32n) - 1n,
  what,
});
export const I16 = (what = 'offset'): IntOptions => ({ min: -(1n << 15n), max: (1n << 15n) - 1n, hexMax: (1n << 16n) - 1n, what });
export const I64 = (what = '64-bit immediate'): IntOptions => ({ min: -(1n << 63n), max: (1n << 64n) - 1n, what });

/** Wrap an integer to a signed 32-bit number (imm field). */
export const s32 = (v: bigint): number => Number(BigInt.asIntN(32, v));
/** Wrap an integer to a signed 16-bit number (off field). */
export const s16 = (v: bigint): number => Number(BigInt.asIntN(16, v));

/** A label name usable as a jump target (not a register, not a number). */
export function isLabelToken(t: Token): boolean {
  return t.kind === 'ident' && !REG_RE.test(t.text) && !t.text.startsWith('%');
}

/**
 * A jump target: `+N` / `-N` (a relative slot offset), or a label. llvm-objdump
 * prints `+9 <LBB0_2>`: the `<...>` annotation after an offset is accepted and
 * ignored.
 */
export function parseTarget(
  c: Cursor,
  kind: Fixup['kind'],
  range: IntOptions,
): { value: number; fixup?: Fixup } {
  const t = c.peek();
  if (isLabelToken(t)) {
    c.next();
    return { value: 0, fixup: { kind, label: t.text, tok: t } };
  }
  if (t.kind === 'number' && kind !== 'call') {
    // A bare number as a jump target is ambiguous (absolute or relative): demand a sign.
    throw c.error(`a jump offset needs a sign (+${t.text} or -${t.text}) or a label`);
  }
  if (!isIntStart(c)) throw c.error(`expected a jump offset or a label, found ${describe(t)}`);
  const v = parseInteger(c, range);
  skipAngleAnnotation(c);
  return { value: Number(BigInt.asIntN(32, v)) };
}

/** Skip an objdump `<symbol>` or `<symbol+0x10>` annotation. */
export function skipAngleAnnotation(c: Cursor): void {
  if (!c.is('<')) return;
  c.next();
  while (!c.atEnd() && !c.is('>')) c.next();
  c.expect('>', "'>' closing the <label> annotation");
}

const PSEUDO_FUNCS: Record<string, number> = {
  map_fd: PseudoLd.MAP_FD,
  map: PseudoLd.MAP_FD,
  map_value: PseudoLd.MAP_VALUE,
  btf_id: PseudoLd.BTF_ID,
  ksym: PseudoLd.BTF_ID,
  func: PseudoLd.FUNC,
  map_idx: PseudoLd.MAP_IDX,
  map_idx_value: PseudoLd.MAP_IDX_VALUE,
};

/** True when the cursor is at a pseudo operand such as `map_fd(3)` or `map_value(.data, 8)`. */
export function isPseudoOperand(c: Cursor): boolean {
  const t = c.peek();
  return t.kind === 'ident' && t.text in PSEUDO_FUNCS && c.is('(', 1);
}

/**
 * The operand of an LDDW with a pseudo source, in functional form:
 *
 *   map_fd(3)  map_fd(NAME)       src 1: a map by fd, or by name (resolved at load)
 *   map_value(3, 8)  map_value(NAME, 8)   src 2: the address of byte 8 of the map's value
 *   btf_id(123[, FD])  ksym(NAME)         src 3: a kernel symbol by BTF id (and BTF object fd)
 *   func(+5)  func(LABEL)                 src 4: the address of a function in this program
 *   map_idx(0)  map_idx_value(0, 8)       src 5, 6: a map by its index in fd_array
 */
export function parsePseudoLddw(c: Cursor, dst: number): Stmt {
  const nameTok = c.next();
  const src = PSEUDO_FUNCS[nameTok.text]!;
  c.expect('(');
  let stmt: Stmt;
  const arg = c.peek();
  const symbolic = arg.kind === 'ident' && !looksLikeRegister(arg);
  if (src === PseudoLd.FUNC) {
    const { value, fixup } = parseTarget(c, 'func', I32('function offset'));
    stmt = { slots: lddwSlots(dst, BigInt(value >>> 0), src), ...(fixup ? { fixup } : {}) };
  } else if (symbolic) {
    c.next();
    if (src === PseudoLd.MAP_FD) {
      stmt = { slots: lddwSlots(dst, 0n, src), ref: { kind: 'map', map: arg.text } };
    } else if (src === PseudoLd.MAP_VALUE) {
      let offset = 0;
      if (c.accept(',')) offset = Number(parseInteger(c, { min: 0n, max: (1n << 32n) - 1n, what: 'map value offset' }));
      stmt = { slots: lddwSlots(dst, BigInt(offset) << 32n, src), ref: { kind: 'mapValue', map: arg.text, offset } };
    } else if (src === PseudoLd.BTF_ID) {
      stmt = { slots: lddwSlots(dst, 0n, src), ref: { kind: 'ksym', name: arg.text } };
    } else {
      throw c.error(`${nameTok.text}() takes a number (an index into fd_array), not a name`, arg);
    }
  } else {
    const lo = parseInteger(c, I32(`${nameTok.text} value`));
    let hi = 0n;
    if (c.accept(',')) hi = parseInteger(c, I32(`${nameTok.text} second value`));
    stmt = { slots: lddwSlots(dst, (BigInt.asUintN(32, hi) << 32n) | BigInt.asUintN(32, lo), src) };
  }
  c.expect(')', "')'");
  return stmt;
}

export function lddwSlots(dst: number, value: bigint, src: number): Instruction[] {
  return [...lddw(dst, value, src)];
}

export const one = (code: number, dst = 0, src = 0, off = 0, imm = 0): Stmt => ({ slots: [insn(code, dst, src, off, imm)] });
