/** Clang-compiled fixtures of the kernel tests (built at test time into test/.tmp/kernel/). */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, renameSync, statSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { REPO, TMP } from '../../support/paths.js';

export const HAVE_CLANG = spawnSync('clang', ['--version']).status === 0;
const OUT = resolve(TMP, 'kernel');

/** Compile test/kernel/fixtures/NAME.bpf.c with clang -O2 -g (cached by mtime); the object's path. */
export function compileBpf(name: string): string {
  mkdirSync(OUT, { recursive: true });
  const src = resolve(REPO, 'test/kernel/fixtures', `${name}.bpf.c`);
  const out = join(OUT, `${name}.bpf.o`);
  if (existsSync(out) && statSync(out).mtimeMs >= statSync(src).mtimeMs) return out;
  const tmp = `${out}.${process.pid}.tmp`;
  const arch = process.arch === 'arm64' ? 'aarch64-linux-gnu' : 'x86_64-linux-gnu';
  const r = spawnSync('clang', ['-g', '-O2', '-target', 'bpf', `-I/usr/include/${arch}`, '-c', src, '-o', tmp], { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`clang failed on ${src}:\n${r.stderr}`);
  renameSync(tmp, out);
  return out;
}

/** Compile a C program for the host with gcc (cached by mtime). */
export function compileHost(src: string, name: string, flags: string[] = []): string {
  mkdirSync(OUT, { recursive: true });
  const out = join(OUT, name);
  if (existsSync(out) && statSync(out).mtimeMs >= statSync(src).mtimeMs) return out;
  const tmp = `${out}.${process.pid}.tmp`;
  const r = spawnSync('gcc', ['-O2', '-o', tmp, src, ...flags], { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`gcc failed on ${src}:\n${r.stderr}`);
  renameSync(tmp, out);
  return out;
}
