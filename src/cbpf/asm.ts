/**
 * A parser for the Linux kernel's bpf_asm syntax (tools/bpf/bpf_exp.l and
 * bpf_exp.y), e.g.
 *
 *         ldh [12]
 *         jne #0x800, drop
 *         ldb [23]
 *         jeq #6, keep, drop
 *   keep: ret #-1
 *   drop: ret #0
 *
 * As in bpf_asm: keywords and extensions are case-insensitive; labels are
 * identifiers of at least two characters; numbers are decimal (optionally
 * signed), 0x hex, 0b binary or 0-prefixed octal; comments are `;` to the end
 * of the line, `/* ... *\/`, and lines starting with `#`. Extensions (`#proto`,
 * `#type`, `#ifidx`, `#nla`, `#nlan`, `#mark`, `#queue`, `#hatype`, `#rxhash`,
 * `#cpu`, `#vlan_tci`, `#vlan_avail`/`#vlan_pr`, `#vlan_tpid`, `#poff`,
 * `#rand`; the `#` is optional) are ancillary loads. `jne/jneq`, `jlt` and
 * `jle` take one label and are encoded as jeq/jge/jgt with the label on the
 * false branch.
 */
import { CbpfParseError } from './errors.js';
import {
  BPF_A, BPF_ABS, BPF_ADD, BPF_ALU, BPF_AND, BPF_B, BPF_DIV, BPF_H, BPF_IMM, BPF_IND, BPF_JA, BPF_JEQ,
  BPF_JGE, BPF_JGT, BPF_JMP, BPF_JSET, BPF_K, BPF_LD, BPF_LDX, BPF_LEN, BPF_LSH, BPF_MAXINSNS, BPF_MEM,
  BPF_MISC, BPF_MOD, BPF_MSH, BPF_MUL, BPF_NEG, BPF_OR, BPF_RET, BPF_RSH, BPF_ST, BPF_STX, BPF_SUB,
  BPF_TAX, BPF_TXA, BPF_W, BPF_X, BPF_XOR, SKF_AD, SKF_AD_OFF, type CbpfInsn,
} from './insn.js';

const KEYWORDS = new Set([
  'ldb', 'ldh', 'ld', 'ldi', 'ldx', 'ldxi', 'ldxb', 'st', 'stx', 'jmp', 'ja', 'jeq', 'jneq', 'jne', 'jlt',
  'jle', 'jgt', 'jge', 'jset', 'add', 'sub', 'mul', 'div', 'mod', 'neg', 'and', 'xor', 'or', 'lsh', 'rsh',
  'ret', 'tax', 'txa',
]);

const EXTENSIONS: Record<string, number> = {
  proto: SKF_AD.PROTOCOL, type: SKF_AD.PKTTYPE, poff: SKF_AD.PAY_OFFSET, ifidx: SKF_AD.IFINDEX,
  nla: SKF_AD.NLATTR, nlan: SKF_AD.NLATTR_NEST, mark: SKF_AD.MARK, queue: SKF_AD.QUEUE,
  hatype: SKF_AD.HATYPE, rxhash: SKF_AD.RXHASH, cpu: SKF_AD.CPU, vlan_tci: SKF_AD.VLAN_TAG,
  vlan_pr: SKF_AD.VLAN_TAG_PRESENT, vlan_avail: SKF_AD.VLAN_TAG_PRESENT, vlan_tpid: SKF_AD.VLAN_TPID,
  rand: SKF_AD.RANDOM,
};

type TokKind = 'keyword' | 'ext' | 'len' | 'label' | 'num' | 'punct';
interface Tok {
  kind: TokKind;
  text: string;
  /** keyword/ext/punct: lower-cased text; num: value. */
  key: string;
  value: number;
  line: number;
  col: number;
}

const ALU_OPS: Record<string, number> = {
  add: BPF_ADD, sub: BPF_SUB, mul: BPF_MUL, div: BPF_DIV, mod: BPF_MOD, and: BPF_AND, or: BPF_OR,
  xor: BPF_XOR, lsh: BPF_LSH, rsh: BPF_RSH,
};
const COND_JUMPS: Record<string, number> = { jeq: BPF_JEQ, jgt: BPF_JGT, jge: BPF_JGE, jset: BPF_JSET };
/** One-label jumps: the encoded op, the label goes to jf. */
const NEG_JUMPS: Record<string, number> = { jneq: BPF_JEQ, jne: BPF_JEQ, jlt: BPF_JGE, jle: BPF_JGT };

function tokenize(text: string, lines: string[]): Tok[] {
  const toks: Tok[] = [];
  const fail = (msg: string, line: number, col: number): never => {
    throw new CbpfParseError(msg, line, col, lines[line - 1] ?? '', 'bpf_asm');
  };
  let line = 1;
  let lineStart = 0;
  let i = 0;
  while (i < text.length) {
    const c = text[i]!;
    const col = i - lineStart + 1;
    if (c === '\n') {
      line++;
      i++;
      lineStart = i;
      continue;
    }
    if (c === ' ' || c === '\t' || c === '\r') {
      i++;
      continue;
    }
    if (c === ';' || (c === '#' && i === lineStart)) {
      while (i < text.length && text[i] !== '\n') i++;
      continue;
    }
    if (text.startsWith('/*', i)) {
      const end = text.indexOf('*/', i + 2);
      if (end < 0) fail('unterminated /* comment', line, col);
      for (let j = i; j < end; j++) {
        if (text[j] === '\n') {
          line++;
          lineStart = j + 1;
        }
      }
      i = end + 2;
      continue;
    }
    const rest = text.slice(i);
    let m: RegExpExecArray | null;
    const prev = toks[toks.length - 1];
    const signOk = !(prev && prev.kind === 'punct' && prev.key === 'x');
    const numRe = signOk ? /^(0[xX][0-9a-fA-F]+|0[bB][01]+|0[0-7]+|0|[-+]?[1-9][0-9]*)/ : /^(0[xX][0-9a-fA-F]+|0[bB][01]+|0[0-7]+|0|[1-9][0-9]*)/;
    if ((m = numRe.exec(rest))) {
      const lit = m[1]!;
      let value: number;
      if (/^0[xX]/.test(lit)) value = parseInt(lit.slice(2), 16);
      else if (/^0[bB]/.test(lit)) value = parseInt(lit.slice(2), 2);
      else if (lit.length > 1 && lit[0] === '0') value = parseInt(lit.slice(1), 8);
      else value = Number(lit);
      if (value > 0xffffffff || value < -0x80000000) fail(`number ${lit} does not fit in 32 bits`, line, col);
      if (/^[0-9a-zA-Z_]/.test(rest.slice(lit.length))) fail(`malformed number '${rest.slice(0, lit.length + 1)}'`, line, col);
      toks.push({ kind: 'num', text: lit, key: lit, value: value >>> 0, line, col });
      i += lit.length;
      continue;
    }
    if ((m = /^#?[A-Za-z_][A-Za-z0-9_]*/.exec(rest))) {
      const word = m[0];
      const hash = word.startsWith('#');
      const bare = hash ? word.slice(1) : word;
      const lower = bare.toLowerCase();
      if (lower === 'len') {
        toks.push({ kind: 'len', text: word, key: 'len', value: 0, line, col });
        i += word.length;
        continue;
      }
      if (lower in EXTENSIONS) {
        toks.push({ kind: 'ext', text: word, key: lower, value: EXTENSIONS[lower]!, line, col });
        i += word.length;
        continue;
      }
      if (hash) {
        // '#' followed by something else: emit the '#' alone.
        toks.push({ kind: 'punct', text: '#', key: '#', value: 0, line, col });
        i++;
        continue;
      }
      if (KEYWORDS.has(lower)) {
        toks.push({ kind: 'keyword', text: word, key: lower, value: 0, line, col });
      } else if (word.length === 1) {
        if (lower === 'x' || lower === 'a' || lower === 'm') toks.push({ kind: 'punct', text: word, key: lower, value: 0, line, col });
        else fail(`unexpected '${word}' (labels need at least two characters)`, line, col);
      } else {
        toks.push({ kind: 'label', text: word, key: word, value: 0, line, col });
      }
      i += word.length;
      continue;
    }
    if (':,#%[]()+*&'.includes(c)) {
      toks.push({ kind: 'punct', text: c, key: c, value: 0, line, col });
      i++;
      continue;
    }
    fail(`unknown character '${c}'`, line, col);
  }
  return toks;
}

/** Parse a program in bpf_asm syntax. */
export function parseBpfAsm(text: string): CbpfInsn[] {
  const lines = text.split('\n');
  const toks = tokenize(text, lines);
  let pos = 0;
  const last = toks[toks.length - 1];
  const fail = (msg: string, t: Tok | undefined): never => {
    const line = t ? t.line : last ? last.line : 1;
    const col = t ? t.col : last ? last.col + last.text.length : 1;
    throw new CbpfParseError(msg, line, col, lines[line - 1] ?? '', 'bpf_asm');
  };
  const describe = (t: Tok | undefined): string => (t ? `'${t.text}'` : 'the end of the text');
  const peek = (): Tok | undefined => toks[pos];
  const next = (what: string): Tok => {
    const t = toks[pos];
    if (!t) return fail(`expected ${what}, found the end of the text`, undefined);
    pos++;
    return t;
  };
  const punct = (p: string): Tok => {
    const t = next(`'${p}'`);
    if (t.kind !== 'punct' || t.key !== p) fail(`expected '${p}', found ${describe(t)}`, t);
    return t;
  };
  const isPunct = (p: string): boolean => {
    const t = peek();
    return t !== undefined && t.kind === 'punct' && t.key === p;
  };
  const number = (): number => {
    const t = next('a number');
    if (t.kind !== 'num') fail(`expected a number, found ${describe(t)}`, t);
    return t.value;
  };
  const labelRef = (): Tok => {
    const t = next('a label');
    if (t.kind !== 'label') fail(`expected a label, found ${describe(t)}`, t);
    return t;
  };
  /** `x` or `%x` */
  const isX = (): boolean => {
    if (isPunct('%')) {
      pos++;
      punct('x');
      return true;
    }
    if (isPunct('x')) {
      pos++;
      return true;
    }
    return false;
  };
  /** `#k`, `x` or `%x` as an ALU/jump source. */
  const source = (op: string): { x: boolean; k: number } => {
    if (isX()) return { x: true, k: 0 };
    const t = peek();
    if (t && t.kind === 'punct' && t.key === '#') {
      pos++;
      return { x: false, k: number() };
    }
    return fail(`expected '#k' or 'x' after ${op}, found ${describe(t)}`, t);
  };

  const insns: CbpfInsn[] = [];
  const labels = new Map<string, number>();
  const fixups: { index: number; field: 'jt' | 'jf' | 'k'; tok: Tok }[] = [];

  while (pos < toks.length) {
    let t = toks[pos]!;
    if (t.kind === 'label' && toks[pos + 1]?.key === ':') {
      if (labels.has(t.text)) fail(`label '${t.text}' is defined twice`, t);
      labels.set(t.text, insns.length);
      pos += 2;
      if (pos >= toks.length) fail(`label '${t.text}' is not followed by an instruction`, undefined);
      t = toks[pos]!;
    }
    if (t.kind === 'label') fail(`expected an instruction, found ${describe(t)} (a label needs ':' after it)`, t);
    if (t.kind !== 'keyword') fail(`expected an instruction, found ${describe(t)}`, t);
    pos++;
    if (insns.length >= BPF_MAXINSNS) fail(`only ${BPF_MAXINSNS} instructions are allowed`, t);
    const op = t.key;
    const index = insns.length;
    const push = (code: number, k = 0): void => {
      insns.push({ code, jt: 0, jf: 0, k: k >>> 0 });
    };
    switch (op) {
      case 'ldb':
      case 'ldh':
      case 'ld': {
        const size = op === 'ldb' ? BPF_B : op === 'ldh' ? BPF_H : BPF_W;
        const nt = peek();
        if (nt?.kind === 'ext') {
          pos++;
          push(BPF_LD | size | BPF_ABS, SKF_AD_OFF + nt.value);
        } else if (op === 'ld' && nt?.kind === 'len') {
          pos++;
          push(BPF_LD | BPF_W | BPF_LEN);
        } else if (op === 'ld' && nt?.kind === 'punct' && nt.key === '#') {
          pos++;
          push(BPF_LD | BPF_IMM, number());
        } else if (op === 'ld' && nt?.kind === 'punct' && nt.key === 'm') {
          pos++;
          punct('[');
          const k = number();
          punct(']');
          push(BPF_LD | BPF_MEM, k);
        } else if (nt?.kind === 'punct' && nt.key === '[') {
          pos++;
          if (isX()) {
            punct('+');
            const k = number();
            punct(']');
            push(BPF_LD | size | BPF_IND, k);
          } else {
            const k = number();
            punct(']');
            push(BPF_LD | size | BPF_ABS, k);
          }
        } else {
          fail(`bad operand for ${op}: ${describe(nt)}`, nt);
        }
        break;
      }
      case 'ldi':
      case 'ldxi': {
        if (isPunct('#')) pos++;
        push((op === 'ldi' ? BPF_LD : BPF_LDX) | BPF_IMM, number());
        break;
      }
      case 'ldx':
      case 'ldxb': {
        const nt = peek();
        if (op === 'ldx' && nt?.kind === 'punct' && nt.key === '#') {
          pos++;
          push(BPF_LDX | BPF_IMM, number());
        } else if (op === 'ldx' && nt?.kind === 'len') {
          pos++;
          push(BPF_LDX | BPF_W | BPF_LEN);
        } else if (op === 'ldx' && nt?.kind === 'punct' && nt.key === 'm') {
          pos++;
          punct('[');
          const k = number();
          punct(']');
          push(BPF_LDX | BPF_MEM, k);
        } else if (nt?.kind === 'num') {
          const four = next('4');
          punct('*');
          punct('(');
          punct('[');
          const k = number();
          punct(']');
          punct('&');
          const maskTok = peek();
          const mask = number();
          punct(')');
          if (four.value !== 4) fail('only 4*([k]&0xf) is supported', four);
          if (mask !== 0xf) fail('only 4*([k]&0xf) is supported', maskTok);
          push(BPF_LDX | BPF_MSH | BPF_B, k);
        } else {
          fail(`bad operand for ${op}: ${describe(nt)}`, nt);
        }
        break;
      }
      case 'st':
      case 'stx': {
        punct('m');
        punct('[');
        const k = number();
        punct(']');
        push(op === 'st' ? BPF_ST : BPF_STX, k);
        break;
      }
      case 'jmp':
      case 'ja':
        fixups.push({ index, field: 'k', tok: labelRef() });
        push(BPF_JMP | BPF_JA);
        break;
      case 'neg':
        push(BPF_ALU | BPF_NEG);
        break;
      case 'tax':
        push(BPF_MISC | BPF_TAX);
        break;
      case 'txa':
        push(BPF_MISC | BPF_TXA);
        break;
      case 'ret': {
        const nt = peek();
        if (nt?.kind === 'punct' && nt.key === '#') {
          pos++;
          push(BPF_RET | BPF_K, number());
        } else {
          if (nt?.kind === 'punct' && nt.key === '%') pos++;
          const r = next("'a', 'x' or '#k'");
          if (r.kind === 'punct' && r.key === 'a') push(BPF_RET | BPF_A);
          else if (r.kind === 'punct' && r.key === 'x') push(BPF_RET | BPF_X);
          else fail(`bad operand for ret: ${describe(r)}`, r);
        }
        break;
      }
      default: {
        if (op in ALU_OPS) {
          const s = source(op);
          push(BPF_ALU | ALU_OPS[op]! | (s.x ? BPF_X : BPF_K), s.k);
        } else if (op in COND_JUMPS) {
          const s = source(op);
          punct(',');
          fixups.push({ index, field: 'jt', tok: labelRef() });
          if (isPunct(',')) {
            pos++;
            fixups.push({ index, field: 'jf', tok: labelRef() });
          }
          push(BPF_JMP | COND_JUMPS[op]! | (s.x ? BPF_X : BPF_K), s.k);
        } else if (op in NEG_JUMPS) {
          const s = source(op);
          punct(',');
          fixups.push({ index, field: 'jf', tok: labelRef() });
          push(BPF_JMP | NEG_JUMPS[op]! | (s.x ? BPF_X : BPF_K), s.k);
        } else {
          fail(`unknown instruction '${t.text}'`, t);
        }
      }
    }
  }
  if (insns.length === 0) fail('no instructions found', undefined);
  for (const f of fixups) {
    const target = labels.get(f.tok.text);
    if (target === undefined) fail(`no such label '${f.tok.text}'`, f.tok);
    const insn = insns[f.index] as { jt: number; jf: number; k: number };
    const off = target! - f.index - 1;
    if (f.field === 'k') {
      insn.k = off >>> 0;
    } else {
      if (off < 0 || off > 255) fail(`instruction ${f.index} jumps to instruction ${target}, which is out of range (1 to 256 ahead)`, f.tok);
      insn[f.field] = off;
    }
  }
  return insns;
}

