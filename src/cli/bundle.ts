/**
 * Loading a bundled CLI script (`npm run build` writes dist/cli/bpfkit.cjs,
 * one CommonJS script holding main.ts and everything it imports) with the V8
 * code cache stored next to it (`<script>.cache`, or `<script>.snapshot-cache` under the
 * snapshot's flags): no module resolution, and
 * no parsing or compiling of the functions the cache holds. V8 checks the
 * cache against the script, its own version and flags; when it does not
 * match, the script compiles as usual, only slower.
 */
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname } from 'node:path';
import { Script } from 'node:vm';

/** What the bundled main.ts exports. */
export interface CliBundle {
  runCli(argv: string[]): Promise<void>;
  main(argv: string[]): Promise<number>;
}

/**
 * The V8 flags the start-up snapshot is built and run with (V8 refuses a snapshot, and a code
 * cache, made under other flags).
 * - --no-rehash-snapshot: V8 otherwise gives every string and hash table in the snapshot a
 *   new hash seed as it deserialises it (~7 ms of a run's ~27 ms of deserialising, measured
 *   with --profile-deserialization); the seed stays the one drawn at build time, random per
 *   installation instead of per process (a defence against hash flooding, which a command
 *   reading local files does not need).
 * - --always-sparkplug: a function gets V8's baseline machine code when it is first compiled
 *   (a snapshot holds bytecode only), so the first run of each function, which is most of a
 *   short run's own time, does not go through the bytecode interpreter (3-5 ms of CPU less
 *   on a 250k-packet `read --count`, measured in alternating runs).
 */
export const SNAPSHOT_FLAGS: readonly string[] = ['--no-rehash-snapshot', '--always-sparkplug'];

/**
 * Where the code cache of a bundle is kept for a node running under `execArgv`: one for plain
 * node (the launcher) and one for the snapshot's flags (the snapshot loading the full CLI), as
 * V8 takes a code cache only under the flags that made it.
 */
export function codeCacheFile(file: string, execArgv: readonly string[] = process.execArgv): string {
  const flagged = SNAPSHOT_FLAGS.every((flag) => execArgv.includes(flag));
  return flagged ? `${file}.snapshot-cache` : `${file}.cache`;
}

/** Run the bundle's top level; `useCache` false compiles from source (to write a fresh cache from `script`). */
export function loadBundle(file: string, useCache = true): { exports: CliBundle; script: Script } {
  // esbuild writes ASCII only (other characters escaped), so latin1 reads it exactly and fastest.
  const text = readFileSync(file, 'latin1');
  // The entry's #! line, kept as a comment (so line numbers stay).
  const source = text.startsWith('#!') ? `//${text}` : text;
  let cachedData: Buffer | undefined;
  if (useCache) {
    try {
      cachedData = readFileSync(codeCacheFile(file));
    } catch {
      // No cache: compile as usual.
    }
  }
  const script = new Script(`(function (exports, require, module, __filename, __dirname) {${source}\n})`, {
    filename: file,
    ...(cachedData !== undefined ? { cachedData } : {}),
  });
  const mod = { exports: {} as CliBundle };
  (script.runInThisContext() as (...args: unknown[]) => void)(mod.exports, createRequire(file), mod, file, dirname(file));
  return { exports: mod.exports, script };
}
