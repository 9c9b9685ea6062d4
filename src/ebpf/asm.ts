/**
 * The assembler: text in the llvm-objdump syntax, the bpf_conformance / uBPF
 * syntax, or both mixed line by line, to instruction slots.
 *
 * - `#`, `;` and `//` start comments.
 * - `NAME:` defines a label at the next instruction; jumps, calls and
 *   `func(NAME)` refer to labels. Offsets can also be written `+N` / `-N`.
 * - llvm-objdump's own output is accepted as it is: the address and byte
 *   columns, `file format` and `Disassembly of section` lines are skipped
 *   (a slot objdump shows as `<unknown>` is taken from its bytes),
 *   `0000000000000000 <prog>:` defines the label `prog`, and `<LBB0_2>`
 *   annotations after jump offsets are ignored.
 * - `.insn CODE, DST, SRC, OFF, IMM` emits one raw slot (what the
 *   disassembler prints for slots that are not valid instructions).
 * - Names of maps, kfuncs and kernel symbols (`map_fd(events)`,
 *   `call kfunc(bpf_foo)`, `ksym(jiffies)`) become `references`, resolved at
 *   load time, as in a ProgramSpec.
 *
 * Errors are AsmError with the 1-based line and column.
 */
import { Cursor, tokenize, type LineContext } from './asm-lexer.js';
import { parseLlvm, looksLikeLlvm } from './asm-llvm.js';
import { type Stmt, I16, I32, parseInteger, s16, s32 } from './asm-operands.js';
import { parseUbpf } from './asm-ubpf.js';
import { AsmError } from './errors.js';
import { helperId } from './helper-ids.js';
import { type Instruction, decode, insn } from './insn.js';
import { Class, JmpOp, PseudoCall } from './opcodes.js';
import type { Reference } from './spec.js';

export type AsmSyntax = 'auto' | 'llvm' | 'ubpf';

export interface AsmOptions {
  /** Which syntax each line is in; 'auto' (the default) decides line by line. */
  syntax?: AsmSyntax;
  /** A file name for error messages. */
  file?: string;
  /** The line number of the first line of `text` (default 1), for text cut out of a larger file. */
  firstLine?: number;
}

export interface Assembled {
  instructions: Instruction[];
  /** Names to be resolved at load (map_fd(NAME), kfunc(NAME), ...). */
  references: Reference[];
  /** Label → slot index. */
  labels: Map<string, number>;
  /** Slot index → 1-based source line. */
  lines: number[];
}

const OBJDUMP_PREFIX = /^\s*[0-9]+:\s+(?:(?:[0-9a-f]{2} ){7}[0-9a-f]{2}(?: (?:[0-9a-f]{2} ){7}[0-9a-f]{2})?\s*)?/;
const OBJDUMP_SYMBOL = /^\s*[0-9a-fA-F]{8,16} <([^>]+)>:\s*$/;
const OBJDUMP_NOISE = /^(\S+:\s+file format\s|Disassembly of section\s)/;

interface Pending {
  stmt: Stmt;
  slot: number;
  ctx: LineContext;
}

/** Assemble text into slots, with labels, references and line numbers. */
export function assembleText(text: string, opts: AsmOptions = {}): Assembled {
  const syntax = opts.syntax ?? 'auto';
  const first = opts.firstLine ?? 1;
  const labels = new Map<string, number>();
  const labelTokens = new Map<string, { line: number; col: number }>();
  const instructions: Instruction[] = [];
  const lines: number[] = [];
  const pending: Pending[] = [];

  const rawLines = text.split('\n');
  for (let li = 0; li < rawLines.length; li++) {
    let src = rawLines[li]!;
    if (src.endsWith('\r')) src = src.slice(0, -1);
    const ctx: LineContext = { line: first + li, text: src, ...(opts.file ? { file: opts.file } : {}) };
    // llvm-objdump listing lines: only worth a look when the line has a colon.
    const colon = src.includes(':');
    if (colon && OBJDUMP_NOISE.test(src)) continue;
    const sym = colon ? OBJDUMP_SYMBOL.exec(src) : null;
    if (sym) {
      defineLabel(sym[1]!, src.indexOf('<') + 2, ctx);
      continue;
    }
    let start = 0;
    const pre = colon && /^\s*[0-9]+:/.test(src) ? OBJDUMP_PREFIX.exec(src) : null;
    if (pre) {
      start = pre[0].length;
      // objdump could not decode the slot: take its bytes (little-endian) as they are.
      const bytes = /^\s*[0-9]+:\s+((?:[0-9a-f]{2} ?){8,16})/.exec(src)?.[1]?.trim();
      if (bytes && src.slice(start).trim() === '<unknown>') {
        const b = Uint8Array.from(bytes.split(' '), (x) => parseInt(x, 16));
        push({ slots: decode(b.subarray(0, b.length - (b.length % 8))) }, ctx);
        continue;
      }
    }
    const tokens = tokenize(ctx, start);
    const c = new Cursor(tokens, ctx);
    // Labels: NAME: (several may precede one instruction).
    while (c.peek().kind === 'ident' && c.is(':', 1)) {
      const t = c.next();
      c.next();
      defineLabel(t.text, t.col, ctx);
    }
    if (c.atEnd()) continue;
    const head = c.peek();
    if (head.kind === 'ident' && head.text.startsWith('.')) {
      const stmt = directive(c);
      if (stmt) push(stmt, ctx);
      continue;
    }
    const llvm = syntax === 'llvm' || (syntax === 'auto' && looksLikeLlvm(c));
    const stmt = llvm ? parseLlvm(c) : parseUbpf(c);
    c.expectEnd();
    push(stmt, ctx);
  }

  const references: Reference[] = [];
  for (const p of pending) resolve(p, references);
  return { instructions, references, labels, lines };

  function defineLabel(name: string, col: number, ctx: LineContext): void {
    if (/^%?[rw]\d+$/.test(name)) throw new AsmError(`'${name}' is a register, not a label name`, ctx.line, col, ctx.text, opts.file);
    const prev = labelTokens.get(name);
    if (prev) throw new AsmError(`label '${name}' is already defined on line ${prev.line}`, ctx.line, col, ctx.text, opts.file);
    labels.set(name, instructions.length);
    labelTokens.set(name, { line: ctx.line, col });
  }

  function push(stmt: Stmt, ctx: LineContext): void {
    const slot = instructions.length;
    for (const s of stmt.slots) {
      instructions.push(s);
      lines.push(ctx.line);
    }
    if (stmt.fixup || stmt.ref) pending.push({ stmt, slot, ctx });
  }

  function resolve(p: Pending, refs: Reference[]): void {
    const { stmt, slot, ctx } = p;
    const ins = instructions[slot]!;
    if (stmt.ref) {
      const r = stmt.ref;
      refs.push(
        r.kind === 'map'
          ? { kind: 'map', index: slot, map: r.map }
          : r.kind === 'mapValue'
            ? { kind: 'mapValue', index: slot, map: r.map, offset: r.offset }
            : r.kind === 'kfunc'
              ? { kind: 'kfunc', index: slot, name: r.name }
              : { kind: 'ksym', index: slot, name: r.name },
      );
    }
    const f = stmt.fixup;
    if (!f) return;
    const fail = (msg: string): never => {
      throw new AsmError(msg, ctx.line, f.tok.col, ctx.text, opts.file);
    };
    let target = labels.get(f.label);
    if (target === undefined && f.label === 'exit' && f.kind !== 'call') target = firstExit();
    if (target === undefined) {
      if (f.kind === 'call') {
        const id = helperId(f.label);
        if (id !== undefined) {
          instructions[slot] = { ...ins, src: PseudoCall.HELPER, imm: id };
          return;
        }
      }
      fail(`unknown label '${f.label}'`);
    }
    const delta = target! - (slot + 1);
    if (f.kind === 'jump') {
      if (delta < -32768 || delta > 32767) fail(`the jump to '${f.label}' is ${delta} slots away, too far for a 16-bit offset (use gotol)`);
      instructions[slot] = { ...ins, off: delta };
    } else {
      instructions[slot] = { ...ins, imm: delta | 0 };
    }
  }

  /**
   * The conformance files jump to `exit` without defining such a label: the
   * official assembler takes it to mean the first exit instruction of the program.
   */
  function firstExit(): number | undefined {
    const i = instructions.findIndex((ins) => ins.code === (Class.JMP | JmpOp.EXIT));
    return i < 0 ? undefined : i;
  }
}

/** `.insn CODE, DST, SRC, OFF, IMM`; `.text` and `.globl` are accepted and ignored. */
function directive(c: Cursor): Stmt | undefined {
  const d = c.next();
  switch (d.text) {
    case '.text':
    case '.globl':
    case '.global':
    case '.p2align':
      while (!c.atEnd()) c.next();
      return undefined;
    case '.insn': {
      const code = Number(parseInteger(c, { min: 0n, max: 255n, what: 'opcode' }));
      c.expect(',');
      const dst = Number(parseInteger(c, { min: 0n, max: 15n, what: 'dst field' }));
      c.expect(',');
      const src = Number(parseInteger(c, { min: 0n, max: 15n, what: 'src field' }));
      c.expect(',');
      const off = s16(parseInteger(c, I16()));
      c.expect(',');
      const imm = s32(parseInteger(c, I32()));
      c.expectEnd();
      return { slots: [insn(code, dst, src, off, imm)] };
    }
    default:
      throw c.error(`unknown directive '${d.text}'`, d);
  }
}

/** Assemble text into instruction slots (see assembleText for labels and references). */
export function assemble(text: string, opts: AsmOptions = {}): Instruction[] {
  return assembleText(text, opts).instructions;
}
