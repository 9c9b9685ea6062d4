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

const isIdentStart = (c: string, next: string | undefined): boolean =>
  /[A-Za-z_.$]/.test(c) || (c === '%' && /[A-Za-z]/.test(next ?? ''));
const isIdentChar = (c: string): boolean => /[A-Za-z0-9_.$]/.test(c);

/** Where a comment starts in the line (`#`, `;` or `//`), or the line length. */
export function commentStart(line: string): number {
  let best = line.length;
  for (const m of ['#', ';', '//']) {
    const i = line.indexOf(m);
    if (i >= 0 && i < best) best = i;
  }
  return best;
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
  const fail = (msg: string, at: number): never => {
    throw new AsmError(msg, ctx.line, at + 1, ctx.text, ctx.file);
  };
  while (i < end) {
    const c = s[i]!;
    if (c === ' ' || c === '\t' || c === '\r') {
      i++;
      continue;
    }
    // Signed comparison / arithmetic operators: s>, s>=, s<, s<=, s>>=, s/=, s%=.
    if (c === 's' && (i === 0 || !isIdentChar(s[i - 1]!)) && /[<>/%]/.test(s[i + 1] ?? '')) {
      const op = OPERATORS.find((o) => o.startsWith('s') && s.startsWith(o, i));
      if (op) {
        out.push({ kind: 'op', text: op, col: i + 1 });
        i += op.length;
        continue;
      }
    }
    if (/[0-9]/.test(c)) {
      const m = /^(0[xX][0-9A-Fa-f]+|0[bB][01]+|[0-9]+)/.exec(s.slice(i, end))!;
      const after = s[i + m[0].length];
      if (after !== undefined && i + m[0].length < end && isIdentChar(after)) {
        fail(`malformed number '${/^[0-9A-Za-z_]+/.exec(s.slice(i))![0]}'`, i);
      }
      out.push({ kind: 'number', text: m[0], col: i + 1 });
      i += m[0].length;
      continue;
    }
    if (isIdentStart(c, s[i + 1])) {
      let j = i + 1;
      while (j < end && isIdentChar(s[j]!)) j++;
      out.push({ kind: 'ident', text: s.slice(i, j), col: i + 1 });
      i = j;
      continue;
    }
    const op = OPERATORS.find((o) => !o.startsWith('s') && s.startsWith(o, i));
    if (op) {
      out.push({ kind: 'op', text: op, col: i + 1 });
      i += op.length;
      continue;
    }
    if (SINGLE.includes(c)) {
      out.push({ kind: 'op', text: c, col: i + 1 });
      i++;
      continue;
    }
    fail(`unexpected character '${c}'`, i);
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
