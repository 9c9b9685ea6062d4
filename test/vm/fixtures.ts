/** Clang-compiled fixtures of the VM tests (built at test time into test/.tmp/vm/). */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, renameSync, statSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { REPO, TMP } from '../support/paths.js';

export const HAVE_CLANG = spawnSync('clang', ['--version']).status === 0;

/** Compile test/vm/fixtures/NAME.bpf.c with clang -O2 -g (cached by mtime); the object's path. */
export function compileFixture(name: string): string {
  const dir = resolve(TMP, 'vm');
  mkdirSync(dir, { recursive: true });
  const src = resolve(REPO, 'test/vm/fixtures', `${name}.bpf.c`);
  const out = join(dir, `${name}.bpf.o`);
  if (existsSync(out) && statSync(out).mtimeMs >= statSync(src).mtimeMs) return out;
  const tmp = `${out}.${process.pid}.tmp`;
  const arch = process.arch === 'arm64' ? 'aarch64-linux-gnu' : 'x86_64-linux-gnu';
  const r = spawnSync('clang', ['-g', '-O2', '-target', 'bpf', `-I/usr/include/${arch}`, '-c', src, '-o', tmp], { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`clang failed on ${src}:\n${r.stderr}`);
  renameSync(tmp, out);
  return out;
}
