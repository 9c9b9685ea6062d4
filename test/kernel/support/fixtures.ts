/** Clang-compiled fixtures of the kernel tests (built at test time into test/.tmp/kernel/). */
import { spawnSync } from 'node:child_process';
import { mkdirSync, renameSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { compileBpfObject, fresh } from '../../support/clang.js';
import { REPO, TMP } from '../../support/paths.js';

export { HAVE_CLANG } from '../../support/clang.js';
const OUT = resolve(TMP, 'kernel');

/** Compile test/kernel/fixtures/NAME.bpf.c with clang -O2 -g (cached by mtime); the object's path. */
export function compileBpf(name: string): string {
  return compileBpfObject(resolve(REPO, 'test/kernel/fixtures', `${name}.bpf.c`), join(OUT, `${name}.bpf.o`));
}

/** Compile a C program for the host with gcc (cached by mtime). */
export function compileHost(src: string, name: string, flags: string[] = []): string {
  mkdirSync(OUT, { recursive: true });
  const out = join(OUT, name);
  if (fresh(out, [src])) return out;
  const tmp = `${out}.${process.pid}.tmp`;
  const r = spawnSync('gcc', ['-O2', '-o', tmp, src, ...flags], { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`gcc failed on ${src}:\n${r.stderr}`);
  renameSync(tmp, out);
  return out;
}
