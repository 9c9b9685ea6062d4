/**
 * The bpf_conformance test file format (`.data`): `#` comments and sections
 * opened by a line containing `--`:
 *
 *   -- asm      uBPF-syntax assembly (our assembler also takes llvm syntax here)
 *   -- raw      64-bit instruction words (`0x5566778800000018`, low byte = opcode)
 *               or 8 hex bytes per line (`07 00 01 00 01 00 00 00`)
 *   -- mem      hex bytes, whitespace separated
 *   -- result   expected r0 (hex with 0x, or decimal)
 *   -- error    expected error text
 *   -- c, -- no register offset   ignored
 *
 * When a file has both `-- asm` and `-- raw`, the program is the raw words,
 * as the official runner does.
 */
import { assembleText } from './asm.js';
import { AsmError } from './errors.js';
import { type Instruction, decode } from './insn.js';

export interface DataFile {
  /** The assembly text and the line number of its first line. */
  asm?: { text: string; line: number };
  /** The slots of a `-- raw` section. */
  raw?: Instruction[];
  mem?: Uint8Array;
  /** Expected r0 as an unsigned 64-bit value. */
  result?: bigint;
  error?: string;
}

const IGNORED = new Set(['c', 'no register offset']);
const KNOWN = new Set(['asm', 'raw', 'mem', 'result', 'error', ...IGNORED]);

/** Parse a .data file. Throws AsmError (with line and column) for what it cannot read. */
export function parseDataFile(text: string, file?: string): DataFile {
  const lines = text.split('\n');
  const out: DataFile = {};
  let section: string | undefined;
  let body: { text: string; line: number }[] = [];
  const fail = (msg: string, line: number, col: number): never => {
    throw new AsmError(msg, line, col, lines[line - 1] ?? '', file);
  };

  const close = (): void => {
    if (section === undefined) return;
    const content = body.filter((l) => l.text.trim() !== '' && !l.text.trimStart().startsWith('#'));
    switch (section) {
      case 'asm':
        out.asm = { text: body.map((l) => l.text).join('\n'), line: body[0]?.line ?? 1 };
        break;
      case 'raw':
        out.raw = parseRaw(content, fail);
        break;
      case 'mem': {
        const bytes: number[] = [];
        for (const l of content) {
          const code = l.text.replace(/#.*/, '');
          let m: RegExpExecArray | null;
          const re = /\S+/g;
          while ((m = re.exec(code))) {
            if (!/^[0-9a-fA-F]{2}$/.test(m[0])) fail(`expected a hex byte such as 'a0', found '${m[0]}'`, l.line, m.index + 1);
            bytes.push(parseInt(m[0], 16));
          }
        }
        out.mem = new Uint8Array(bytes);
        break;
      }
      case 'result': {
        const l = content[0];
        if (!l) break;
        const v = l.text.trim();
        if (!/^(0x[0-9a-fA-F]+|-?[0-9]+)$/.test(v)) fail(`expected a result such as 0x2a or 42, found '${v}'`, l.line, 1);
        out.result = BigInt.asUintN(64, BigInt(v));
        break;
      }
      case 'error':
        out.error = content.map((l) => l.text.trim()).join('\n');
        break;
    }
  };

  lines.forEach((raw, i) => {
    const lineNo = i + 1;
    const t = raw.replace(/\r$/, '');
    if (t.includes('--') && /^\s*--/.test(t)) {
      close();
      const name = t.replace(/^\s*--\s*/, '').trim();
      if (!KNOWN.has(name)) fail(`unknown section '-- ${name}' (known: asm, raw, mem, result, error, c)`, lineNo, t.indexOf('--') + 1);
      section = name;
      body = [];
      return;
    }
    if (section === undefined) {
      if (t.trim() !== '' && !t.trimStart().startsWith('#')) fail('text before the first section (-- asm, -- raw, ...)', lineNo, 1);
      return;
    }
    body.push({ text: t, line: lineNo });
  });
  close();
  return out;
}

function parseRaw(content: { text: string; line: number }[], fail: (m: string, l: number, c: number) => never): Instruction[] {
  const bytes: number[] = [];
  for (const l of content) {
    const code = l.text.replace(/#.*/, '').trim();
    if (/^0x[0-9a-fA-F]{1,16}$/.test(code)) {
      let w = BigInt(code);
      for (let k = 0; k < 8; k++) {
        bytes.push(Number(w & 0xffn));
        w >>= 8n;
      }
      continue;
    }
    const parts = code.split(/\s+/);
    if (parts.length !== 8 || !parts.every((p) => /^[0-9a-fA-F]{2}$/.test(p))) {
      fail('expected a 64-bit word (0x...) or 8 hex bytes', l.line, 1);
    }
    for (const p of parts) bytes.push(parseInt(p, 16));
  }
  return decode(new Uint8Array(bytes));
}

/**
 * The program of a .data file: its raw slots when it has a `-- raw` section,
 * otherwise its assembled `-- asm` section. Throws AsmError when there is
 * neither, or the assembly has no instructions.
 */
export function dataFileProgram(df: DataFile, file?: string): Instruction[] {
  if (df.raw) return df.raw;
  if (!df.asm) throw new AsmError('no program: the file has no -- asm or -- raw section', 1, 1, '', file);
  const { instructions } = assembleText(df.asm.text, { firstLine: df.asm.line, ...(file ? { file } : {}) });
  if (instructions.length === 0) throw new AsmError('no program: the -- asm section has no instructions', df.asm.line, 1, '', file);
  return instructions;
}
