/**
 * `npm run bundle` (after tsc): the built `bpfkit` command.
 *
 * - dist/cli/bpfkit.cjs: the whole CLI (src/cli/main.ts and everything it
 *   imports) as one CommonJS script; import() of our modules becomes a lazy
 *   module initialisation, of Node's modules and the optional packages
 *   (koffi, cli-progress) a require();
 * - dist/cli/bpfkit-fast.cjs: the same for src/cli/fast.ts, the commands the
 *   start-up snapshot holds;
 * - dist/cli/main.js: the launcher (src/cli/launch.ts), which then writes the
 *   full bundle's code cache (twice: for plain node and under the snapshot's
 *   V8 flags) and the start-up snapshot with the `bpfkit` sh script (see
 *   launch.ts).
 */
import { execFileSync } from 'node:child_process';
import { chmodSync, rmSync } from 'node:fs';
import { build } from 'esbuild';
import { SNAPSHOT_FLAGS } from '../dist/cli/bundle.js';

const cli = {
  bundle: true,
  format: 'cjs',
  platform: 'node',
  target: 'node20',
  minifyWhitespace: true,
  minifySyntax: true,
  supported: { 'dynamic-import': false },
  external: ['koffi', 'cli-progress'],
  // A bundle knows where it is from __filename (the snapshot build rewrites this line).
  define: { 'import.meta.url': '__bpfkitUrl' },
  banner: { js: "var __bpfkitUrl = require('node:url').pathToFileURL(__filename).href;" },
  logLevel: 'warning',
};

rmSync('dist/cli/chunks', { recursive: true, force: true });
await build({ ...cli, entryPoints: ['src/cli/main.ts'], outfile: 'dist/cli/bpfkit.cjs' });
await build({ ...cli, entryPoints: ['src/cli/fast.ts'], outfile: 'dist/cli/bpfkit-fast.cjs' });
await build({
  entryPoints: ['src/cli/launch.ts'],
  bundle: true,
  format: 'esm',
  platform: 'node',
  target: 'node20',
  outfile: 'dist/cli/main.js',
  logLevel: 'warning',
});
chmodSync('dist/cli/main.js', 0o755);
const run = (env, flags = []) =>
  execFileSync(process.execPath, [...flags, 'dist/cli/main.js'], { env: { ...process.env, ...env }, stdio: ['ignore', 'ignore', 'inherit'] });
run({ BPFKIT_CODE_CACHE: 'write' });
// The code cache again under the snapshot's V8 flags (V8 takes a cache only under the flags that made it).
run({ BPFKIT_CODE_CACHE: 'write' }, SNAPSHOT_FLAGS);
run({ BPFKIT_SNAPSHOT: 'write' });
