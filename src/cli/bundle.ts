/**
 * Loading a bundled CLI script (`npm run build` writes dist/cli/bpfkit.cjs,
 * one CommonJS script holding main.ts and everything it imports) with the V8
 * code cache stored next to it (`<script>.cache`): no module resolution, and
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

/** Run the bundle's top level; `useCache` false compiles from source (to write a fresh cache from `script`). */
export function loadBundle(file: string, useCache = true): { exports: CliBundle; script: Script } {
  // esbuild writes ASCII only (other characters escaped), so latin1 reads it exactly and fastest.
  const text = readFileSync(file, 'latin1');
  // The entry's #! line, kept as a comment (so line numbers stay).
  const source = text.startsWith('#!') ? `//${text}` : text;
  let cachedData: Buffer | undefined;
  if (useCache) {
    try {
      cachedData = readFileSync(`${file}.cache`);
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
