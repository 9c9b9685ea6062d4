/**
 * Bytecode as text: hex (what `bpfkit asm` prints and `bpfkit disasm`
 * reads, and what the bpf_conformance plugin protocol carries) and a C
 * array of `struct bpf_insn` (linux/bpf.h).
 */
import { BpfkitError } from '../errors.js';
import type { Instruction } from './insn.js';
import { LDDW } from './opcodes.js';

export class HexFormatError extends BpfkitError {
  constructor(
    message: string,
    /** 0-based character offset in the text. */
    readonly offset: number,
  ) {
    super('EBPF_HEX', message);
  }
}

/** One 8-byte slot per line, as 16 hex digits. */
export function formatHex(bytes: Uint8Array): string {
  let out = '';
  for (let p = 0; p < bytes.length; p += 8) {
    out += Array.from(bytes.subarray(p, p + 8), (b) => b.toString(16).padStart(2, '0')).join('') + '\n';
  }
  return out;
}

/**
 * Bytes from hex text: any whitespace, commas and `0x` prefixes are ignored
 * (so `b7 01 00 00`, `0xb7, 0x01` and `b7010000` all read the same), `#`
 * starts a comment. Each byte is two digits.
 */
export function parseHex(text: string): Uint8Array {
  const digits: number[] = [];
  let firstDigitOffset = -1;
  for (let i = 0; i < text.length; i++) {
    const c = text[i]!;
    if (c === '#') {
      while (i < text.length && text[i] !== '\n') i++;
      continue;
    }
    if (c === '0' && (text[i + 1] === 'x' || text[i + 1] === 'X') && /[0-9a-fA-F]/.test(text[i + 2] ?? '')) {
      if (digits.length % 2 !== 0) throw new HexFormatError(`odd number of hex digits before offset ${i}`, i);
      i++;
      continue;
    }
    if (/[0-9a-fA-F]/.test(c)) {
      if (firstDigitOffset < 0) firstDigitOffset = i;
      digits.push(parseInt(c, 16));
      continue;
    }
    if (/[\s,]/.test(c)) {
      // A separator between the two digits of a byte is a mistake (`b 7`).
      if (digits.length % 2 !== 0 && /[0-9a-fA-F]/.test(text[i + 1] ?? '') && c !== '\n') {
        throw new HexFormatError(`a byte is split by a separator at offset ${i}`, i);
      }
      continue;
    }
    throw new HexFormatError(`unexpected character '${c}' at offset ${i} in hex input`, i);
  }
  if (digits.length % 2 !== 0) throw new HexFormatError('odd number of hex digits', text.length);
  const out = new Uint8Array(digits.length / 2);
  for (let k = 0; k < out.length; k++) out[k] = (digits[2 * k]! << 4) | digits[2 * k + 1]!;
  return out;
}

export interface CArrayOptions {
  /** The array's name (default prog). */
  name?: string;
  /** A comment for slot i, e.g. its disassembly. */
  comment?: (insns: readonly Instruction[], i: number) => string;
}

/** A C array of struct bpf_insn with designated initializers. */
export function formatCArray(insns: readonly Instruction[], opts: CArrayOptions = {}): string {
  const second = new Uint8Array(insns.length);
  for (let i = 0; i + 1 < insns.length; i++) if (insns[i]!.code === LDDW) second[++i] = 1;
  const lines = [`struct bpf_insn ${opts.name ?? 'prog'}[] = {`];
  insns.forEach((ins, i) => {
    // INT_MIN has no literal of type int: write it as an expression.
    const imm = ins.imm === -0x80000000 ? '(-2147483647 - 1)' : `${ins.imm}`;
    let line = `\t{ .code = 0x${ins.code.toString(16).padStart(2, '0')}, .dst_reg = ${ins.dst}, .src_reg = ${ins.src}, .off = ${ins.off}, .imm = ${imm} },`;
    if (opts.comment && !second[i]) line += ` /* ${opts.comment(insns, i).replace(/\*\//g, '* /').replace(/\t/g, ' ')} */`;
    lines.push(line);
  });
  lines.push('};', '');
  return lines.join('\n');
}
