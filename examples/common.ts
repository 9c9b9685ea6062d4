/**
 * What every example shares: compiling its BPF C with clang at run time,
 * loading the object into the kernel, and waiting until Ctrl-C or --duration.
 *
 * Each example is one command (`npx tsx examples/NAME/NAME.ts`), needs root,
 * and removes everything it made when it stops (links, maps and programs are
 * released by closing them, and by bpfkit at process exit in any case).
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import { loadCollectionSpec } from '../src/elf/index.js';
import { hasBpfCapabilities, loadCollection, type KernelCollection } from '../src/kernel/index.js';

const ARCH = process.arch === 'arm64' ? 'arm64' : 'x86';
const TRIPLE = process.arch === 'arm64' ? 'aarch64-linux-gnu' : 'x86_64-linux-gnu';

// Piped into `head`: stop quietly when the reader goes away.
process.stdout.on('error', (err: NodeJS.ErrnoException) => {
  if (err.code === 'EPIPE') process.exit(0);
  throw err;
});

/** Stop with a message (no stack trace) when the example cannot run. */
export function fail(message: string): never {
  process.stderr.write(`${message}\n`);
  process.exit(1);
}

/** clang -O2 -g -target bpf SOURCE, in a temporary directory removed at once; the object's bytes. */
export function compileBpf(source: string): Uint8Array {
  const dir = mkdtempSync(join(tmpdir(), 'bpfkit-example-'));
  try {
    const out = join(dir, basename(source).replace(/\.c$/, '.o'));
    const r = spawnSync('clang', ['-g', '-O2', '-target', 'bpf', `-D__TARGET_ARCH_${ARCH}`, `-I/usr/include/${TRIPLE}`, '-c', source, '-o', out], {
      encoding: 'utf8',
    });
    if (r.error) fail(`this example compiles its BPF side with clang, which is not installed (apt-get install clang libbpf-dev)`);
    if (r.status !== 0) fail(`clang failed on ${source}:\n${r.stderr}`);
    return new Uint8Array(readFileSync(out));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** Compile SOURCE and load its maps and programs into the kernel. */
export function loadBpf(source: string): KernelCollection {
  if (!hasBpfCapabilities()) fail('this example loads BPF programs: run it as root (CAP_BPF and CAP_PERFMON)');
  return loadCollection(loadCollectionSpec(compileBpf(source)));
}

/** Resolves on Ctrl-C, SIGTERM or SIGHUP, after `seconds`, or when `also` settles; keeps Node running meanwhile. */
export function untilStopped(seconds?: number, also?: Promise<unknown>): Promise<string> {
  return new Promise((resolve) => {
    const stop = (why: string) => () => {
      for (const s of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) process.removeAllListeners(s);
      clearTimeout(timer);
      clearInterval(keepAlive);
      resolve(why);
    };
    for (const s of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) process.once(s, stop(s));
    const timer = seconds !== undefined ? setTimeout(stop('timeout'), seconds * 1000) : undefined;
    const keepAlive = setInterval(() => {}, 1 << 30);
    also?.then(stop('done'), stop('done'));
  });
}

/** --duration SECONDS, as a number (undefined: until Ctrl-C). */
export function duration(text: string | undefined): number | undefined {
  if (text === undefined) return undefined;
  const n = Number(text);
  if (!(n > 0)) fail(`--duration needs a positive number of seconds, not '${text}'`);
  return n;
}

/** Little-endian readers over a map's bytes. */
export const u32 = (b: Uint8Array, off = 0) => new DataView(b.buffer, b.byteOffset, b.byteLength).getUint32(off, true);
export const u64 = (b: Uint8Array, off = 0) => new DataView(b.buffer, b.byteOffset, b.byteLength).getBigUint64(off, true);
export const i64 = (b: Uint8Array, off = 0) => new DataView(b.buffer, b.byteOffset, b.byteLength).getBigInt64(off, true);
/** A NUL-terminated string of at most `len` bytes. */
export function cstr(b: Uint8Array, off: number, len: number): string {
  const s = b.subarray(off, off + len);
  const end = s.indexOf(0);
  return Buffer.from(end < 0 ? s : s.subarray(0, end)).toString('utf8');
}
