/**
 * Running LLVM's BPF tools for reference output: llvm-mc (assemble and
 * disassemble), llvm-objdump and clang. LLVM 19 (Debian's clang-19 and
 * llvm-19 packages, installed by .ci/run) is the first to decode all of
 * RFC 9669; Debian's default LLVM 14 is used where it suffices.
 */
import { spawnSync } from 'node:child_process';
import type { Instruction } from '../../src/ebpf/insn.js';
import { encode } from '../../src/ebpf/insn.js';

export function have(tool: string): boolean {
  return spawnSync(tool, ['--version'], { encoding: 'utf8' }).status === 0;
}

export const LLVM_MC_19 = 'llvm-mc-19';
export const LLVM_OBJDUMP_19 = 'llvm-objdump-19';
export const CLANG_19 = 'clang-19';

export function run(tool: string, args: string[], input?: string): { stdout: string; stderr: string; status: number } {
  const r = spawnSync(tool, args, { encoding: 'utf8', input, maxBuffer: 256 << 20 });
  if (r.error) throw r.error;
  return { stdout: r.stdout, stderr: r.stderr, status: r.status ?? -1 };
}

/** The input llvm-mc --disassemble reads: one line of `0x..` bytes per instruction (two slots for LDDW). */
export function mcBytes(insns: readonly Instruction[], littleEndian = true): string {
  const bytes = encode(insns, littleEndian);
  return Array.from(bytes, (b) => '0x' + b.toString(16).padStart(2, '0')).join(' ');
}

/**
 * Disassemble each entry (one instruction: one slot, or two for LDDW) with
 * llvm-mc; returns one text per entry, or throws if llvm-mc did not decode
 * exactly one instruction for each.
 */
export function mcDisassemble(
  entries: Instruction[][],
  opts: { alu32?: boolean; bigEndian?: boolean; hex?: boolean; tool?: string } = {},
): string[] {
  const input = entries.map((e) => mcBytes(e, !opts.bigEndian)).join('\n') + '\n';
  const args = ['-triple', opts.bigEndian ? 'bpfeb' : 'bpfel', '--disassemble'];
  if (opts.alu32) args.push('-mattr=+alu32');
  if (opts.hex) args.push('--print-imm-hex');
  const r = run(opts.tool ?? LLVM_MC_19, args, input);
  if (/warning|error/.test(r.stderr)) throw new Error(`llvm-mc could not decode some entries:\n${r.stderr.slice(0, 2000)}`);
  const lines = r.stdout
    .split('\n')
    .filter((l) => l.trim() !== '' && l.trim() !== '.text')
    .map((l) => l.replace(/^\t/, ''));
  if (lines.length !== entries.length) throw new Error(`llvm-mc printed ${lines.length} lines for ${entries.length} entries`);
  return lines;
}

/** Assemble text with llvm-mc; returns the bytes of each statement, in order. */
export function mcAssemble(text: string, opts: { alu32?: boolean; tool?: string } = {}): { bytes: number[][]; stderr: string } {
  const args = ['-triple', 'bpfel', '-show-encoding'];
  if (opts.alu32) args.push('-mattr=+alu32');
  const r = run(opts.tool ?? LLVM_MC_19, args, text);
  const bytes: number[][] = [];
  for (const m of r.stdout.matchAll(/# encoding: \[([^\]]*)\]/g)) {
    bytes.push(m[1]!.split(',').map((b) => Number(b)));
  }
  return { bytes, stderr: r.stderr };
}

/** A deterministic PRNG (xorshift32) for reproducible samples. */
export function prng(seed: number): () => number {
  let s = seed >>> 0 || 1;
  return () => {
    s ^= s << 13;
    s >>>= 0;
    s ^= s >>> 17;
    s ^= s << 5;
    s >>>= 0;
    return s;
  };
}
