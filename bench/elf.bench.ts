/**
 * Opening BPF objects: bpfkit's loadCollectionSpec (ELF, BTF, BTF.ext, maps,
 * programs, bpf-to-bpf linking, relocations, CO-RE) against libbpf's
 * bpf_object__open_mem (which parses the same and records relocations but
 * applies them only at load), on the test fixtures compiled with clang.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdirSync, readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { loadCollectionSpec } from '../src/elf/index.js';

const here = dirname(fileURLToPath(import.meta.url));
const out = resolve(here, 'out');

function build(): { anchor: string; objects: Record<string, string> } {
  mkdirSync(out, { recursive: true });
  const anchor = join(out, 'elf_open');
  execFileSync('gcc', ['-O2', '-o', anchor, join(here, 'c/elf_open.c'), '-lbpf']);
  const objects: Record<string, string> = {};
  for (const f of ['net', 'core', 'legacy']) {
    const o = join(out, `${f}.bpf.o`);
    execFileSync('clang', ['-g', '-O2', '-target', 'bpf', '-I/usr/include/x86_64-linux-gnu', '-c', resolve(here, `../test/elf/fixtures/${f}.bpf.c`), '-o', o]);
    objects[f] = o;
  }
  return { anchor, objects };
}

function timeOurs(bytes: Uint8Array, n: number): number {
  for (let i = 0; i < 20; i++) loadCollectionSpec(bytes);
  const t0 = process.hrtime.bigint();
  for (let i = 0; i < n; i++) loadCollectionSpec(bytes);
  return Number(process.hrtime.bigint() - t0) / n;
}

export async function run(): Promise<void> {
  if (spawnSync('clang', ['--version']).status !== 0) {
    console.log('elf: clang is not installed; skipped');
    return;
  }
  const { anchor, objects } = build();
  console.log('object        bpfkit µs/open   libbpf µs/open   ratio');
  for (const [name, path] of Object.entries(objects)) {
    const bytes = readFileSync(path);
    const n = name === 'core' ? 200 : 2000;
    const ours = timeOurs(bytes, n);
    const theirs = Number(execFileSync(anchor, [path, String(n)], { encoding: 'utf8' }).trim());
    console.log(`${name.padEnd(12)}  ${(ours / 1000).toFixed(1).padStart(14)}   ${(theirs / 1000).toFixed(1).padStart(14)}   ${(ours / theirs).toFixed(2)}x`);
  }
}
