/**
 * Parsers back from the dump formats: `tcpdump -ddd` (also the one-line,
 * comma-separated form bpf_asm and iptables' xt_bpf use), `tcpdump -dd` (a C
 * initialiser, optionally inside `struct sock_filter f[] = { ... };`) and
 * `tcpdump -d` (either libpcap style). The bpf_asm syntax is in asm.ts;
 * parseProgram() detects the format.
 *
 * Every error is a CbpfParseError with the 1-based line and column.
 */
import { CbpfParseError } from './errors.js';
import {
  BPF_A, BPF_ABS, BPF_ADD, BPF_ALU, BPF_AND, BPF_B, BPF_DIV, BPF_H, BPF_IMM, BPF_IND, BPF_JA, BPF_JEQ,
  BPF_JGE, BPF_JGT, BPF_JMP, BPF_JSET, BPF_K, BPF_LD, BPF_LDX, BPF_LEN, BPF_LSH, BPF_MEM, BPF_MISC,
  BPF_MOD, BPF_MSH, BPF_MUL, BPF_NEG, BPF_OR, BPF_RET, BPF_RSH, BPF_ST, BPF_STX, BPF_SUB, BPF_TAX,
  BPF_TXA, BPF_W, BPF_X, BPF_XOR, SKF_AD_OFF, type CbpfInsn,
} from './insn.js';
import { ANCILLARY_NAMES } from './opcodes.js';
import { parseBpfAsm } from './asm.js';

export type ProgramFormat = 'd' | 'dd' | 'ddd' | 'bpf_asm';

/** Position helpers over a whole text. */
class Source {
  readonly lines: string[];
  constructor(readonly text: string, readonly format: string) {
    this.lines = text.split('\n');
  }
  error(message: string, line: number, column: number): CbpfParseError {
    return new CbpfParseError(message, line, column, this.lines[line - 1] ?? '', this.format);
  }
  /** 1-based line and column of an absolute offset. */
  position(offset: number): { line: number; column: number } {
    let line = 1;
    let start = 0;
    for (let i = 0; i < offset && i < this.text.length; i++) {
      if (this.text.charCodeAt(i) === 10) {
        line++;
        start = i + 1;
      }
    }
    return { line, column: offset - start + 1 };
  }
  errorAt(message: string, offset: number): CbpfParseError {
    const { line, column } = this.position(offset);
    return this.error(message, line, column);
  }
}

function checkRange(src: Source, value: number, max: number, what: string, offset: number): number {
  if (!Number.isSafeInteger(value) || value < 0 || value > max) {
    throw src.errorAt(`${what} ${value} is out of range (0 to ${max})`, offset);
  }
  return value;
}

/**
 * Parse `tcpdump -ddd` output: the instruction count, then `code jt jf k` per
 * instruction (decimal). Records may be separated by newlines or commas.
 */
export function parseDDD(text: string): CbpfInsn[] {
  const src = new Source(text, '-ddd');
  // Split into records at newlines and commas, remembering offsets.
  const records: { text: string; offset: number }[] = [];
  let start = 0;
  for (let i = 0; i <= text.length; i++) {
    const c = i < text.length ? text[i] : '\n';
    if (c === '\n' || c === ',') {
      const raw = text.slice(start, i);
      const lead = raw.length - raw.trimStart().length;
      if (raw.trim().length > 0) records.push({ text: raw.trim(), offset: start + lead });
      start = i + 1;
    }
  }
  if (records.length === 0) throw src.errorAt('empty program text (expected the instruction count)', 0);
  const first = records[0]!;
  if (!/^\d+$/.test(first.text)) throw src.errorAt(`expected the instruction count, found '${first.text}'`, first.offset);
  const count = Number(first.text);
  const insns: CbpfInsn[] = [];
  for (let r = 1; r < records.length; r++) {
    const rec = records[r]!;
    const fields: { value: string; offset: number }[] = [];
    const re = /\S+/g;
    let m: RegExpExecArray | null;
    while ((m = re.exec(rec.text)) !== null) fields.push({ value: m[0], offset: rec.offset + m.index });
    if (fields.length !== 4) {
      throw src.errorAt(`expected 4 numbers (code jt jf k), found ${fields.length}`, rec.offset);
    }
    const nums = fields.map((f) => {
      if (!/^\d+$/.test(f.value)) throw src.errorAt(`'${f.value}' is not a decimal number`, f.offset);
      return Number(f.value);
    });
    insns.push({
      code: checkRange(src, nums[0]!, 0xffff, 'code', fields[0]!.offset),
      jt: checkRange(src, nums[1]!, 0xff, 'jt', fields[1]!.offset),
      jf: checkRange(src, nums[2]!, 0xff, 'jf', fields[2]!.offset),
      k: checkRange(src, nums[3]!, 0xffffffff, 'k', fields[3]!.offset),
    });
  }
  if (insns.length !== count) {
    const where = records.length > 1 ? records[records.length - 1]!.offset : first.offset;
    throw src.errorAt(`the count says ${count} instructions but there ${insns.length === 1 ? 'is' : 'are'} ${insns.length}`, where);
  }
  return insns;
}

interface Token {
  kind: 'num' | 'punct' | 'word';
  text: string;
  value: number;
  offset: number;
}

/** C-like tokens for -dd: numbers (decimal, 0x hex, 0 octal, with u/l suffixes), words, punctuation; comments skipped. */
function cTokens(src: Source): Token[] {
  const text = src.text;
  const out: Token[] = [];
  let i = 0;
  while (i < text.length) {
    const c = text[i]!;
    if (/\s/.test(c)) {
      i++;
    } else if (text.startsWith('/*', i)) {
      const end = text.indexOf('*/', i + 2);
      if (end < 0) throw src.errorAt('unterminated /* comment', i);
      i = end + 2;
    } else if (text.startsWith('//', i) || (c === '#' && (i === 0 || text[i - 1] === '\n'))) {
      while (i < text.length && text[i] !== '\n') i++;
    } else if (/[0-9]/.test(c)) {
      const m = /^(0[xX][0-9a-fA-F]+|[0-9]+)[uUlL]*/.exec(text.slice(i))!;
      const lit = m[1]!;
      let value: number;
      if (/^0[xX]/.test(lit)) value = parseInt(lit.slice(2), 16);
      else if (lit.length > 1 && lit[0] === '0') {
        if (!/^[0-7]+$/.test(lit)) throw src.errorAt(`'${lit}' is not a valid octal number`, i);
        value = parseInt(lit, 8);
      } else value = Number(lit);
      out.push({ kind: 'num', text: m[0], value, offset: i });
      i += m[0].length;
    } else if (/[A-Za-z_]/.test(c)) {
      const m = /^[A-Za-z_][A-Za-z0-9_]*/.exec(text.slice(i))!;
      out.push({ kind: 'word', text: m[0], value: 0, offset: i });
      i += m[0].length;
    } else {
      out.push({ kind: 'punct', text: c, value: 0, offset: i });
      i++;
    }
  }
  return out;
}

/**
 * Parse `tcpdump -dd` output: `{ code, jt, jf, k },` per instruction. The
 * body may be wrapped in a C declaration (`struct sock_filter f[] = { ... };`);
 * comments are allowed.
 */
export function parseDD(text: string): CbpfInsn[] {
  const src = new Source(text, '-dd');
  const toks = cTokens(src);
  let pos = 0;
  const peek = (d = 0): Token | undefined => toks[pos + d];
  const end = toks.length > 0 ? toks[toks.length - 1]!.offset + toks[toks.length - 1]!.text.length : 0;
  const expect = (what: string): Token => {
    const t = toks[pos];
    if (!t) throw src.errorAt(`expected ${what}, found the end of the text`, end);
    return t;
  };
  // An optional wrapper: anything up to an opening brace that is followed by another opening brace.
  let wrapped = false;
  if (!(peek()?.text === '{' && peek(1)?.kind === 'num')) {
    const open = toks.findIndex((t, i) => t.text === '{' && toks[i + 1]?.text === '{');
    if (open < 0) {
      const t = peek();
      if (!t) throw src.errorAt('empty program text (expected { code, jt, jf, k } entries)', 0);
      throw src.errorAt(`expected '{' to start an instruction, found '${t.text}'`, t.offset);
    }
    pos = open + 1;
    wrapped = true;
  }
  const insns: CbpfInsn[] = [];
  for (;;) {
    const t = peek();
    if (!t) break;
    if (wrapped && t.text === '}') {
      pos++;
      if (peek()?.text === ';') pos++;
      const extra = peek();
      if (extra) throw src.errorAt(`unexpected '${extra.text}' after the end of the array`, extra.offset);
      return insns;
    }
    if (t.text !== '{') throw src.errorAt(`expected '{' to start an instruction, found '${t.text}'`, t.offset);
    pos++;
    const fields: number[] = [];
    const names = ['code', 'jt', 'jf', 'k'];
    const maxes = [0xffff, 0xff, 0xff, 0xffffffff];
    for (let f = 0; f < 4; f++) {
      const nt = expect(names[f]!);
      if (nt.kind !== 'num') throw src.errorAt(`expected ${names[f]} (a number), found '${nt.text}'`, nt.offset);
      fields.push(checkRange(src, nt.value, maxes[f]!, names[f]!, nt.offset));
      pos++;
      const sep = expect(f < 3 ? "','" : "'}'");
      if (f < 3) {
        if (sep.text !== ',') throw src.errorAt(`expected ',' after ${names[f]}, found '${sep.text}'`, sep.offset);
        pos++;
      } else {
        if (sep.text === ',' && toks[pos + 1]?.text === '}') pos++;
        const close = expect("'}'");
        if (close.text !== '}') throw src.errorAt(`expected '}' after k, found '${close.text}'`, close.offset);
        pos++;
      }
    }
    insns.push({ code: fields[0]!, jt: fields[1]!, jf: fields[2]!, k: fields[3]! });
    if (peek()?.text === ',') pos++;
  }
  if (wrapped) throw src.errorAt("expected '}' to close the array", end);
  if (insns.length === 0) throw src.errorAt('no instructions found', 0);
  return insns;
}

const LOADS: Record<string, number> = { ld: BPF_W, ldh: BPF_H, ldb: BPF_B };
const ALU: Record<string, number> = {
  add: BPF_ADD, sub: BPF_SUB, mul: BPF_MUL, div: BPF_DIV, mod: BPF_MOD, and: BPF_AND, or: BPF_OR,
  xor: BPF_XOR, lsh: BPF_LSH, rsh: BPF_RSH,
};
const JUMPS: Record<string, number> = { jeq: BPF_JEQ, jgt: BPF_JGT, jge: BPF_JGE, jset: BPF_JSET };
const ANC_BY_NAME = new Map([...ANCILLARY_NAMES].map(([off, name]) => [name, off]));

/** A number as bpf_image prints it: decimal (maybe negative) or 0x hex; returned as u32. */
function parseImageNumber(s: string): number | undefined {
  if (/^0x[0-9a-fA-F]+$/.test(s)) {
    const v = parseInt(s.slice(2), 16);
    return v <= 0xffffffff ? v : undefined;
  }
  if (/^-?\d+$/.test(s)) {
    const v = Number(s);
    if (v < -0x80000000 || v > 0xffffffff) return undefined;
    return v >>> 0;
  }
  return undefined;
}

/**
 * Parse `tcpdump -d` output (libpcap 1.10 or 1.11 style, also with the
 * `; 0x....` opcode notes of libpcap's filtertest). Jump targets are
 * absolute instruction numbers; they become relative offsets. Instructions
 * whose text does not show k (`ret a`, `tax`, `ld #pktlen`, ...) get k = 0.
 */
export function parseD(text: string): CbpfInsn[] {
  const src = new Source(text, '-d');
  const insns: CbpfInsn[] = [];
  const pending: { index: number; line: number; col: number; jt?: number; jf?: number; ja?: number }[] = [];
  src.lines.forEach((rawLine, li) => {
    const lineNo = li + 1;
    const line = rawLine.replace(/\r$/, '');
    if (line.trim().length === 0) return;
    const m = /^(\s*)\((\d+)\)\s+(\S+)(.*)$/.exec(line);
    if (!m) throw src.error("expected '(NNN) op operand'", lineNo, line.length - line.trimStart().length + 1);
    const index = Number(m[2]);
    if (index !== insns.length) throw src.error(`instruction number ${index} out of sequence (expected ${insns.length})`, lineNo, m[1]!.length + 2);
    const op = m[3]!;
    const opCol = line.indexOf(op, m[1]!.length + m[2]!.length + 2) + 1;
    let rest = m[4]!;
    let restCol = opCol + op.length;
    // filtertest's "; 0x1234" opcode note
    let note: number | undefined;
    const noteMatch = /;\s*0x([0-9a-fA-F]{1,4})\s*$/.exec(rest);
    if (noteMatch) {
      note = parseInt(noteMatch[1]!, 16);
      rest = rest.slice(0, noteMatch.index);
    }
    const lead = rest.length - rest.trimStart().length;
    restCol += lead;
    rest = rest.trim();
    const err = (msg: string, col = restCol): CbpfParseError => src.error(msg, lineNo, col);
    const num = (s: string, col = restCol): number => {
      const v = parseImageNumber(s);
      if (v === undefined) throw err(`'${s}' is not a number`, col);
      return v;
    };
    let insn: CbpfInsn;
    let jumpInfo: { jt?: number; jf?: number; ja?: number } | undefined;
    let mm: RegExpExecArray | null;
    if (op === 'unimp') {
      if (!/^0x[0-9a-fA-F]+$/.test(rest)) throw err(`expected the opcode (0x..) after unimp, found '${rest}'`);
      insn = { code: checkRange(src, parseInt(rest.slice(2), 16), 0xffff, 'code', 0), jt: 0, jf: 0, k: 0 };
    } else if (op === 'ret') {
      if (rest === '' || rest === 'a') insn = { code: BPF_RET | BPF_A, jt: 0, jf: 0, k: 0 };
      else if ((mm = /^#(\S+)$/.exec(rest))) insn = { code: BPF_RET | BPF_K, jt: 0, jf: 0, k: num(mm[1]!, restCol + 1) };
      else throw err(`bad operand for ret: '${rest}'`);
    } else if (op in LOADS || op === 'ldx' || op === 'ldxb') {
      insn = parseLoadOperand(op, rest, num, err, restCol);
    } else if (op === 'st' || op === 'stx') {
      mm = /^M\[(\S+)\]$/.exec(rest);
      if (!mm) throw err(`expected M[n] after ${op}, found '${rest}'`);
      insn = { code: op === 'st' ? BPF_ST : BPF_STX, jt: 0, jf: 0, k: num(mm[1]!, restCol + 2) };
    } else if (op === 'ja') {
      const target = num(rest);
      insn = { code: BPF_JMP | BPF_JA, jt: 0, jf: 0, k: 0 };
      jumpInfo = { ja: target | 0 };
    } else if (op in JUMPS) {
      mm = /^(#\S+|x)\s+jt\s+(\d+)\s+jf\s+(\d+)$/.exec(rest);
      if (!mm) throw err(`expected '#k|x jt N jf N' after ${op}, found '${rest}'`);
      const isX = mm[1] === 'x';
      insn = { code: BPF_JMP | JUMPS[op]! | (isX ? BPF_X : BPF_K), jt: 0, jf: 0, k: isX ? 0 : num(mm[1]!.slice(1), restCol + 1) };
      jumpInfo = { jt: Number(mm[2]), jf: Number(mm[3]) };
    } else if (op in ALU) {
      if (rest === 'x') insn = { code: BPF_ALU | ALU[op]! | BPF_X, jt: 0, jf: 0, k: 0 };
      else if ((mm = /^#(\S+)$/.exec(rest))) insn = { code: BPF_ALU | ALU[op]! | BPF_K, jt: 0, jf: 0, k: num(mm[1]!, restCol + 1) };
      else throw err(`expected '#k' or 'x' after ${op}, found '${rest}'`);
    } else if (op === 'neg' || op === 'tax' || op === 'txa') {
      if (rest !== '') throw err(`${op} takes no operand, found '${rest}'`);
      insn = { code: op === 'neg' ? BPF_ALU | BPF_NEG : op === 'tax' ? BPF_MISC | BPF_TAX : BPF_MISC | BPF_TXA, jt: 0, jf: 0, k: 0 };
    } else {
      throw src.error(`unknown instruction '${op}'`, lineNo, opCol);
    }
    if (note !== undefined && note !== insn.code) {
      throw src.error(`the opcode note 0x${note.toString(16)} does not match the instruction (0x${insn.code.toString(16)})`, lineNo, line.lastIndexOf(';') + 1);
    }
    insns.push(insn);
    if (jumpInfo) pending.push({ index, line: lineNo, col: restCol, ...jumpInfo });
  });
  if (insns.length === 0) throw src.error('no instructions found', 1, 1);
  for (const p of pending) {
    const insn = insns[p.index] as { code: number; jt: number; jf: number; k: number };
    if (p.ja !== undefined) {
      insn.k = (p.ja - p.index - 1) >>> 0;
    } else {
      for (const [which, target] of [['jt', p.jt!], ['jf', p.jf!]] as const) {
        const off = target - p.index - 1;
        if (off < 0 || off > 255) {
          throw src.error(`${which} target ${target} is not 1 to 256 instructions ahead of instruction ${p.index}`, p.line, p.col);
        }
        insn[which] = off;
      }
    }
  }
  return insns;
}

function parseLoadOperand(
  op: string,
  rest: string,
  num: (s: string, col?: number) => number,
  err: (msg: string, col?: number) => CbpfParseError,
  col: number,
): CbpfInsn {
  let m: RegExpExecArray | null;
  if (op === 'ldxb' || (op === 'ldx' && rest.startsWith('4*'))) {
    m = /^4\*\(\[(\S+)\]&0xf\)$/.exec(rest);
    if (!m) throw err(`expected '4*([k]&0xf)' after ${op}, found '${rest}'`);
    return { code: BPF_LDX | BPF_MSH | BPF_B, jt: 0, jf: 0, k: num(m[1]!, col + 4) };
  }
  const ldx = op === 'ldx';
  const cls = ldx ? BPF_LDX : BPF_LD;
  if (rest === '#pktlen' || rest === '#len') return { code: cls | BPF_W | BPF_LEN, jt: 0, jf: 0, k: 0 };
  if ((m = /^#(\S+)$/.exec(rest))) return { code: cls | BPF_IMM, jt: 0, jf: 0, k: num(m[1]!, col + 1) };
  if ((m = /^M\[(\S+)\]$/.exec(rest))) return { code: cls | BPF_MEM, jt: 0, jf: 0, k: num(m[1]!, col + 2) };
  if (ldx) throw err(`bad operand for ldx: '${rest}'`);
  const size = LOADS[op]!;
  if ((m = /^\[x\s*\+\s*(\S+)\]$/.exec(rest))) return { code: BPF_LD | size | BPF_IND, jt: 0, jf: 0, k: num(m[1]!, col + rest.indexOf(m[1]!)) };
  if ((m = /^\[([a-z_]+)\]$/.exec(rest))) {
    const off = ANC_BY_NAME.get(m[1]!);
    if (off === undefined) throw err(`unknown ancillary field '${m[1]}'`, col + 1);
    return { code: BPF_LD | size | BPF_ABS, jt: 0, jf: 0, k: (SKF_AD_OFF + off) >>> 0 };
  }
  if ((m = /^\[(\S+)\]$/.exec(rest))) return { code: BPF_LD | size | BPF_ABS, jt: 0, jf: 0, k: num(m[1]!, col + 1) };
  throw err(`bad operand for ${op}: '${rest}'`);
}

/** Guess the format of a program text. */
export function detectFormat(text: string): ProgramFormat {
  const body = text.replace(/\/\*[\s\S]*?\*\//g, '').replace(/^\s*(\/\/|;).*$/gm, '').trim();
  if (/^\(\d+\)/.test(body)) return 'd';
  if (/^\d+\s*[\n,]/.test(body) || /^\d+$/.test(body)) {
    if (/^[\d\s,]+$/.test(body)) return 'ddd';
  }
  if (body.includes('{')) return 'dd';
  return 'bpf_asm';
}

/** Parse a program in any of the formats (detected when not given). */
export function parseProgram(text: string, format: ProgramFormat | 'auto' = 'auto'): CbpfInsn[] {
  const f = format === 'auto' ? detectFormat(text) : format;
  switch (f) {
    case 'd': return parseD(text);
    case 'dd': return parseDD(text);
    case 'ddd': return parseDDD(text);
    case 'bpf_asm': return parseBpfAsm(text);
  }
}

