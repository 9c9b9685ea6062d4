/**
 * Tokens of one line of eBPF assembly (both the llvm-objdump syntax and the
 * bpf_conformance / uBPF syntax), each with its 1-based column, and a cursor
 * over them that raises AsmError at the right place.
 */
import { AsmError } from './errors.js';

export type TokenKind = 'ident' | 'number' | 'op' | 'end';

export interface Token {
  kind: TokenKind;
  text: string;
  /** 1-based column of the first character. */
  col: number;
}

/** Multi-character operators, longest first. `s>`-style signed operators are lexed as one token. */
const OPERATORS = [
  's>>=',
  's>=',
  's<=',
  's/=',
  's%=',
  '<<=',
  '>>=',
  's>',
  's<',
  '==',
  '!=',
  '>=',
  '<=',
  '+=',
  '-=',
  '*=',
  '/=',
  '|=',
  '&=',
  '%=',
  '^=',
];
const SINGLE = '=<>+-*/|&%^()[],:!{}';

const SIGNED_OPS = OPERATORS.filter((o) => o.startsWith('s'));
const PLAIN_OPS = OPERATORS.filter((o) => !o.startsWith('s'));

const isDigit = (c: number): boolean => c >= 48 && c <= 57;
const isLetter = (c: number): boolean => (c >= 65 && c <= 90) || (c >= 97 && c <= 122);
/** Identifier characters: letters, digits, `_`, `.`, `$`. */
const isIdentChar = (c: number): boolean => isLetter(c) || isDigit(c) || c === 95 || c === 46 || c === 36;
/** An identifier starts with a letter, `_`, `.` or `$`, or is `%` followed by a letter (`%r1`). */
const isIdentStart = (c: number, next: number): boolean => isLetter(c) || c === 95 || c === 46 || c === 36 || (c === 37 && isLetter(next));
const NUMBER = /0[xX][0-9A-Fa-f]+|0[bB][01]+|[0-9]+/y;

/** Where a comment starts in the line (`#`, `;` or `//`), or the line length. */
export function commentStart(line: string): number {
  for (let i = 0; i < line.length; i++) {
    const c = line.charCodeAt(i);
    if (c === 35 || c === 59 || (c === 47 && line.charCodeAt(i + 1) === 47)) return i;
  }
  return line.length;
}

export interface LineContext {
  line: number;
  text: string;
  file?: string;
}

export function tokenize(ctx: LineContext, start = 0): Token[] {
  const s = ctx.text;
  const end = commentStart(s);
  const out: Token[] = [];
  let i = start;
  while (i < end) {
    const c = s.charCodeAt(i);
    if (c === 32 || c === 9 || c === 13) {
      i++;
      continue;
    }
    // Signed comparison / arithmetic operators: s>, s>=, s<, s<=, s>>=, s/=, s%=.
    if (c === 115 && (i === 0 || !isIdentChar(s.charCodeAt(i - 1))) && '<>/%'.includes(s[i + 1] ?? ' ')) {
      const op = SIGNED_OPS.find((o) => s.startsWith(o, i));
      if (op) {
        out.push({ kind: 'op', text: op, col: i + 1 });
        i += op.length;
        continue;
      }
    }
    if (isDigit(c)) {
      NUMBER.lastIndex = i;
      const text = NUMBER.exec(s)![0];
      const j = i + text.length;
      if (j < end && isIdentChar(s.charCodeAt(j))) {
        let k = j;
        while (k < end && isIdentChar(s.charCodeAt(k))) k++;
        throw new AsmError(`malformed number '${s.slice(i, k)}'`, ctx.line, i + 1, ctx.text, ctx.file);
      }
      out.push({ kind: 'number', text, col: i + 1 });
      i = j;
      continue;
    }
    if (isIdentStart(c, s.charCodeAt(i + 1))) {
      let j = i + 1;
      while (j < end && isIdentChar(s.charCodeAt(j))) j++;
      out.push({ kind: 'ident', text: s.slice(i, j), col: i + 1 });
      i = j;
      continue;
    }
    const op = PLAIN_OPS.find((o) => s.startsWith(o, i));
    if (op) {
      out.push({ kind: 'op', text: op, col: i + 1 });
      i += op.length;
      continue;
    }
    const ch = s[i]!;
    if (SINGLE.includes(ch)) {
      out.push({ kind: 'op', text: ch, col: i + 1 });
      i++;
      continue;
    }
    throw new AsmError(`unexpected character '${ch}'`, ctx.line, i + 1, ctx.text, ctx.file);
  }
  out.push({ kind: 'end', text: '', col: end + 1 });
  return out;
}

/** A cursor over one line's tokens. */
export class Cursor {
  pos = 0;
  constructor(
    readonly tokens: Token[],
    readonly ctx: LineContext,
  ) {}

  peek(k = 0): Token {
    return this.tokens[Math.min(this.pos + k, this.tokens.length - 1)]!;
  }
  next(): Token {
    const t = this.peek();
    if (this.pos < this.tokens.length - 1) this.pos++;
    return t;
  }
  atEnd(): boolean {
    return this.peek().kind === 'end';
  }
  is(text: string, k = 0): boolean {
    const t = this.peek(k);
    return t.kind !== 'end' && t.text === text;
  }
  accept(text: string): boolean {
    if (this.is(text)) {
      this.pos++;
      return true;
    }
    return false;
  }
  error(msg: string, tok: Token = this.peek()): AsmError {
    return new AsmError(msg, this.ctx.line, tok.col, this.ctx.text, this.ctx.file);
  }
  expect(text: string, what = `'${text}'`): Token {
    const t = this.peek();
    if (t.kind === 'end' || t.text !== text) throw this.error(`expected ${what}, found ${describe(t)}`);
    return this.next();
  }
  expectEnd(): void {
    const t = this.peek();
    if (t.kind !== 'end') throw this.error(`unexpected ${describe(t)} after the instruction`);
  }
}

export function describe(t: Token): string {
  return t.kind === 'end' ? 'end of line' : `'${t.text}'`;
}
