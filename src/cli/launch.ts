#!/usr/bin/env node
/**
 * The built `bpfkit` command (dist/cli/main.js): starts the CLI fast.
 *
 * `npm run build` bundles src/cli/main.ts and everything it imports into one
 * CommonJS script, dist/cli/bpfkit.cjs (esbuild; import() of Node modules and
 * cli-progress become require()), then runs this launcher
 * once with BPFKIT_CODE_CACHE=write over a few typical commands and stores
 * V8's code cache of the script as it stands afterwards (the top level and
 * every function those commands compiled) in dist/cli/bpfkit.cjs.cache.
 *
 * A run then compiles the script with that cache: no ES module resolution,
 * no parsing or compiling of the functions the cache holds. V8 checks the
 * cache against the script and its own version and flags; when it does not
 * match (another Node version), the script is compiled as usual, only
 * slower. Without the bundle (tsc's output alone), dist/cli/main.js is
 * src/cli/main.ts itself.
 */
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';
import { Script } from 'node:vm';

interface CliModule {
  runCli(argv: string[]): Promise<void>;
  main(argv: string[]): Promise<number>;
}

const file = fileURLToPath(new URL('./bpfkit.cjs', import.meta.url));
const cacheFile = `${file}.cache`;
const writing = process.env.BPFKIT_CODE_CACHE === 'write';
// esbuild writes ASCII only (other characters escaped), so latin1 reads it exactly and fastest.
const text = readFileSync(file, 'latin1');
// The entry's #! line, kept as a comment (so line numbers stay).
const source = text.startsWith('#!') ? `//${text}` : text;
let cachedData: Buffer | undefined;
if (!writing && process.env.BPFKIT_CODE_CACHE !== 'off') {
  try {
    cachedData = readFileSync(cacheFile);
  } catch {
    // No cache: compile as usual.
  }
}
const script = new Script(`(function (exports, require, module, __filename, __dirname) {${source}\n})`, {
  filename: file,
  ...(cachedData !== undefined ? { cachedData } : {}),
});
const mod = { exports: {} as CliModule };
(script.runInThisContext() as (...args: unknown[]) => void)(mod.exports, createRequire(file), mod, file, fileURLToPath(new URL('.', import.meta.url)));

if (writing) {
  // Typical runs, so their functions are compiled when the cache is taken; output is discarded by the build.
  const example = fileURLToPath(new URL('../../examples/loopback.pcap', import.meta.url));
  const runs: string[][] = [['--help']];
  if (existsSync(example)) {
    runs.push(
      ['read', '-r', example, 'tcp port 80'],
      ['read', '--count', '-r', example, 'host 192.168.1.1 and (tcp port 80 or udp port 53)'],
      ['read', '--count', '-r', example, 'ip[2:2] > 576'],
      ['read', '--count', '-r', example, 'vlan and ip'],
    );
  }
  // Their messages on standard error ("reading from file ...") are kept back, and shown only if a run fails.
  const write = process.stderr.write.bind(process.stderr);
  let said = '';
  process.stderr.write = ((chunk: string | Uint8Array) => {
    said += typeof chunk === 'string' ? chunk : Buffer.from(chunk).toString();
    return true;
  }) as typeof process.stderr.write;
  for (const argv of runs) {
    said = '';
    const code = await mod.exports.main(argv);
    if (code !== 0) write(`bpfkit: building the code cache: 'bpfkit ${argv.join(' ')}' exited with ${code}\n${said}`);
  }
  process.stderr.write = write;
  writeFileSync(cacheFile, script.createCachedData());
  process.exitCode = 0;
} else {
  await mod.exports.runCli(process.argv.slice(2));
}
