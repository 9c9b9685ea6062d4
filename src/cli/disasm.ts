/**
 * `bpfkit disasm [FILE]`: raw eBPF bytecode (hex text or binary, no ELF) to
 * assembly, in the llvm-objdump syntax (default) or the bpf_conformance /
 * uBPF syntax, or as an llvm-objdump-style listing.
 */
import type { Command } from 'commander';
import { readInput, writeOutput } from './asm.js';

interface DisasmCliOptions {
  syntax: string;
  input: string;
  output?: string;
  objdump?: boolean;
  labels: boolean;
  comments: boolean;
  alu32?: boolean;
  hex?: boolean;
  bigEndian?: boolean;
  check?: boolean;
}

export function register(program: Command): void {
  program
    .command('disasm')
    .description('disassemble raw eBPF bytecode (hex or binary) to llvm-objdump or bpf_conformance syntax')
    .argument('[file]', 'bytecode (default: standard input)')
    .option('-s, --syntax <syntax>', 'llvm (llvm-objdump) or ubpf (bpf_conformance)', 'llvm')
    .option('-i, --input <kind>', 'auto, hex (digits, whitespace, 0x, commas) or bin (raw bytes)', 'auto')
    .option('-o, --output <file>', 'write to a file instead of standard output')
    .option('--objdump', "llvm-objdump's listing: slot, bytes and its exact text")
    .option('--no-labels', 'relative offsets (+3) instead of labels for jump and call targets')
    .option('--no-comments', 'no helper names or reasons after invalid slots')
    .option('--alu32', '32-bit loads and stores with w registers (llvm-objdump --mattr=+alu32)')
    .option('--hex', 'immediates in hex, as llvm-objdump 15 and later print them')
    .option('--big-endian', 'the bytecode is big-endian')
    .option('--check', 'also run the structural validator and fail on the first problem')
    .action(async (file: string | undefined, opts: DisasmCliOptions) => {
      const { UsageError } = await import('../errors.js');
      const ebpf = await import('../ebpf/index.js');
      if (opts.syntax !== 'llvm' && opts.syntax !== 'ubpf') throw new UsageError(`--syntax must be llvm or ubpf, not '${opts.syntax}'`);
      if (!['auto', 'hex', 'bin'].includes(opts.input)) throw new UsageError(`--input must be auto, hex or bin, not '${opts.input}'`);
      if (opts.objdump && opts.syntax !== 'llvm') throw new UsageError('--objdump prints the llvm syntax only');
      const raw = readInput(file);
      if (raw[0] === 0x7f && raw[1] === 0x45 && raw[2] === 0x4c && raw[3] === 0x46) {
        throw new UsageError(`${file ?? 'the input'} is an ELF object: bpfkit objdump disassembles its programs`);
      }
      const bytes = opts.input === 'bin' || (opts.input === 'auto' && !looksLikeHex(raw)) ? raw : ebpf.parseHex(new TextDecoder().decode(raw));
      const insns = ebpf.decode(bytes, !opts.bigEndian);
      if (opts.check) ebpf.validate(insns);
      const text = ebpf.disassemble(insns, {
        syntax: opts.syntax,
        labels: opts.labels,
        comments: opts.comments,
        ...(opts.objdump ? { objdump: true } : {}),
        ...(opts.alu32 ? { alu32: true } : {}),
        ...(opts.hex ? { hex: true } : {}),
        ...(opts.bigEndian ? { bigEndian: true } : {}),
      });
      writeOutput(text, opts.output);
    });
}

/** Hex text: only hex digits, whitespace, commas, `x` (of 0x) and `#` comments. */
function looksLikeHex(b: Uint8Array): boolean {
  if (b.length === 0) return true;
  let inComment = false;
  for (const c of b) {
    if (inComment) {
      if (c === 0x0a) inComment = false;
      continue;
    }
    if (c === 0x23) {
      inComment = true;
      continue;
    }
    const ok =
      (c >= 0x30 && c <= 0x39) || (c >= 0x41 && c <= 0x46) || (c >= 0x61 && c <= 0x66) || c === 0x78 || c === 0x58 || c === 0x2c || c === 0x20 || c === 0x09 || c === 0x0a || c === 0x0d;
    if (!ok) return false;
  }
  return true;
}
