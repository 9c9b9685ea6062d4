/**
 * `bpfkit asm [FILE]`: eBPF assembly (llvm-objdump or bpf_conformance/uBPF
 * syntax, or a whole bpf_conformance .data file) to bytecode, printed as hex
 * (one 8-byte slot per line), raw bytes, or a C array of struct bpf_insn.
 */
import type { Command } from 'commander';
import { readFileSync, writeFileSync } from 'node:fs';
import { UsageError } from '../errors.js';

interface AsmCliOptions {
  syntax: string;
  format: string;
  output?: string;
  bigEndian?: boolean;
  validate: boolean;
}

export function register(program: Command): void {
  program
    .command('asm')
    .description('assemble eBPF (llvm-objdump or bpf_conformance syntax, or a .data file) to bytecode')
    .argument('[file]', 'assembly text (default: standard input)')
    .option('-s, --syntax <syntax>', 'auto (line by line), llvm or ubpf', 'auto')
    .option('-f, --format <format>', 'hex (a slot per line), bin (raw bytes) or c (struct bpf_insn array)', 'hex')
    .option('-o, --output <file>', 'write to a file instead of standard output')
    .option('--big-endian', 'encode for a big-endian target')
    .option('--no-validate', 'skip the structural checks (known opcodes, reserved fields, jump targets, exit)')
    .action(async (file: string | undefined, opts: AsmCliOptions) => {
      const ebpf = await import('../ebpf/index.js');
      if (!['auto', 'llvm', 'ubpf'].includes(opts.syntax)) throw new UsageError(`--syntax must be auto, llvm or ubpf, not '${opts.syntax}'`);
      if (!['hex', 'bin', 'c'].includes(opts.format)) throw new UsageError(`--format must be hex, bin or c, not '${opts.format}'`);
      const text = new TextDecoder().decode(readInput(file));
      const name = file && file !== '-' ? file : '<stdin>';
      let insns;
      if (/^\s*--\s*(asm|raw)\s*$/m.test(text)) {
        insns = ebpf.dataFileProgram(ebpf.parseDataFile(text, name), name);
      } else {
        insns = ebpf.assemble(text, { syntax: opts.syntax as 'auto' | 'llvm' | 'ubpf', file: name });
      }
      if (opts.validate) ebpf.validate(insns);
      const littleEndian = !opts.bigEndian;
      const bytes = ebpf.encode(insns, littleEndian);
      let out: Uint8Array | string;
      if (opts.format === 'bin') {
        if (!opts.output && process.stdout.isTTY) throw new UsageError('refusing to write binary to a terminal: use -o FILE or a pipe');
        out = bytes;
      } else if (opts.format === 'hex') {
        out = ebpf.formatHex(bytes);
      } else {
        out = ebpf.formatCArray(insns, { name: 'prog', comment: (all, i) => ebpf.formatInstruction(all, i) });
      }
      writeOutput(out, opts.output);
    });
}

/** The bytes of FILE, or of standard input when FILE is absent or '-'. */
export function readInput(file: string | undefined): Uint8Array {
  const path = !file || file === '-' ? 0 : file;
  try {
    return readFileSync(path);
  } catch (e) {
    throw new UsageError(`cannot read ${path === 0 ? 'standard input' : path}: ${(e as NodeJS.ErrnoException).code ?? String(e)}`);
  }
}

/** Write to FILE, or to standard output. */
export function writeOutput(out: Uint8Array | string, file: string | undefined): void {
  if (!file) {
    process.stdout.write(out);
    return;
  }
  try {
    writeFileSync(file, out);
  } catch (e) {
    throw new UsageError(`cannot write ${file}: ${(e as NodeJS.ErrnoException).code ?? String(e)}`);
  }
}
