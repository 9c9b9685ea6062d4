/**
 * The commands the start-up snapshot holds (`bpfkit read` and `bpfkit
 * filter`: the ones people run over and over, in scripts and loops, where
 * start-up time shows), and the snapshot's entry.
 *
 * `npm run build` bundles this file into dist/cli/bpfkit-fast.cjs and builds
 * the snapshot from it (launch.ts): Node's start-up heap plus this small
 * bundle, loaded, and its commands run once, so a `bpfkit read` starts with
 * its code loaded and compiled. Every other command line (other commands,
 * `--help`, `--version`) goes to the full CLI (main.ts, bundled as
 * dist/cli/bpfkit.cjs next to this one), loaded with its code cache as the
 * launcher does. The snapshot stays small that way: a bigger start-up heap
 * costs every run time to deserialise.
 */
import type { Command } from 'commander';
import { fileURLToPath } from 'node:url';
import { clearJitCache } from '../cbpf/jit.js';
import { clearWasmCache, wasmModuleBytes } from '../cbpf/wasm.js';
import { compile } from '../filter/compile.js';
import { loadBundle } from './bundle.js';
import { register as filter } from './filter.js';
import { register as read } from './read.js';
import { createProgram, runProgram, startCli } from './program.js';

const FAST: ReadonlyMap<string, (program: Command) => void> = new Map([
  ['read', read],
  ['filter', filter],
]);

function registerFast(program: Command, only?: string): void {
  const one = only !== undefined ? FAST.get(only) : undefined;
  if (one !== undefined) one(program);
}

/** Run one command line of the fast commands; resolves to the exit status (the build's warm-up runs). */
export function mainFast(argv: string[]): Promise<number> {
  return runProgram(registerFast, argv);
}

/**
 * Build-time warm-up of the WebAssembly filter's code generator. A snapshot
 * is built without WebAssembly, so the warm-up reads took the JavaScript
 * filter; making the modules' bytes needs no WebAssembly, and compiles that
 * code into the snapshot too.
 */
export function warmWasm(expressions: readonly string[]): void {
  for (const e of expressions) wasmModuleBytes(compile(e, { linkType: 1 }));
}

/**
 * The programs (commander's, with their one command declared) that runs of the snapshot take,
 * made at build time (prepareSnapshot) so that a run does not declare its command and options
 * again. Each serves one run: a program keeps what it parsed.
 */
const prepared = new Map<string, Command>();

/**
 * Build time, after the warm-up runs: drop the filters they compiled (a run compiles its own;
 * the snapshot keeps code, not results) and make a fresh program for each fast command.
 */
export function prepareSnapshot(): void {
  clearWasmCache();
  clearJitCache();
  for (const name of FAST.keys()) prepared.set(name, createProgram(registerFast, [name]));
}

/** The snapshot's entry: a fast command runs here, anything else in the full CLI. */
export async function runSnapshot(argv: string[]): Promise<void> {
  const name = argv[0];
  if (name !== undefined && FAST.has(name)) {
    const program = prepared.get(name);
    prepared.delete(name);
    await startCli(registerFast, argv, program);
    // Done: read and filter leave nothing pending (their output went out synchronously, as
    // Node writes files, pipes and terminals on Linux; files they wrote are closed). Exiting
    // now skips the teardown of the heap and environment a natural exit does: 2-4 ms.
    process.exit();
  }
  const full = loadBundle(fileURLToPath(new URL('./bpfkit.cjs', import.meta.url)));
  await full.exports.runCli(argv);
}
