/**
 * BPF C fixtures compiled with clang at test time: one cached, atomic build
 * for every layer's tests (an object is rebuilt when a source is newer, and
 * written under a temporary name then renamed, so test files running in
 * parallel never read half an object).
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, renameSync, statSync } from 'node:fs';
import { dirname } from 'node:path';

export const HAVE_CLANG = spawnSync('clang', ['--version']).status === 0;
/** The multiarch include directory that holds asm/types.h. */
export const TRIPLE = process.arch === 'arm64' ? 'aarch64-linux-gnu' : 'x86_64-linux-gnu';
/** bpf_tracing.h's __TARGET_ARCH_* name for this machine. */
export const TARGET_ARCH = process.arch === 'arm64' ? 'arm64' : 'x86';

/** Whether `out` exists and is newer than every source. */
export function fresh(out: string, sources: readonly string[]): boolean {
  if (!existsSync(out)) return false;
  const t = statSync(out).mtimeMs;
  return sources.every((s) => statSync(s).mtimeMs <= t);
}

export interface BpfCompileOptions {
  /** The compiler (default clang; e.g. clang-19 for ISA v4). */
  cc?: string;
  /** -target (default bpf). */
  target?: 'bpf' | 'bpfel' | 'bpfeb';
  /** Extra flags before -c. */
  flags?: readonly string[];
  /** Other files the object depends on (headers). */
  deps?: readonly string[];
}

/** `cc -g -O2 -target bpf -I/usr/include/TRIPLE [flags] -c src -o out`, unless `out` is fresh; returns `out`. */
export function compileBpfObject(src: string, out: string, opts: BpfCompileOptions = {}): string {
  if (fresh(out, [src, ...(opts.deps ?? [])])) return out;
  mkdirSync(dirname(out), { recursive: true });
  const tmp = `${out}.${process.pid}.tmp`;
  const cc = opts.cc ?? 'clang';
  const args = ['-g', '-O2', '-target', opts.target ?? 'bpf', `-I/usr/include/${TRIPLE}`, ...(opts.flags ?? []), '-c', src, '-o', tmp];
  const r = spawnSync(cc, args, { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`${cc} ${args.join(' ')} failed:\n${r.stderr}`);
  renameSync(tmp, out);
  return out;
}
