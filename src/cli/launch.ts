#!/usr/bin/env node
/**
 * The built `bpfkit` command (dist/cli/main.js): starts the CLI fast.
 *
 * `npm run build` (scripts/bundle.mjs) bundles src/cli/main.ts and
 * everything it imports into one CommonJS script, dist/cli/bpfkit.cjs
 * (esbuild; import() of Node modules and cli-progress become require()), and
 * src/cli/fast.ts likewise into dist/cli/bpfkit-fast.cjs, then runs this launcher
 * once with BPFKIT_CODE_CACHE=write over a few typical commands and stores
 * V8's code cache of the script as it stands afterwards (the top level and
 * every function those commands compiled) in dist/cli/bpfkit.cjs.cache (and,
 * run again under the snapshot's V8 flags, in bpfkit.cjs.snapshot-cache).
 *
 * A run then compiles the script with that cache: no ES module resolution,
 * no parsing or compiling of the functions the cache holds. V8 checks the
 * cache against the script and its own version and flags; when it does not
 * match (another Node version), the script is compiled as usual, only
 * slower. Without the bundle (tsc's output alone), dist/cli/main.js is
 * src/cli/main.ts itself.
 *
 * The build then also writes a V8 start-up snapshot (BPFKIT_SNAPSHOT=write,
 * see buildSnapshot): Node's own start-up heap plus the fast bundle's top
 * level, run, and the same typical `read` commands run once, so `bpfkit read`
 * and `bpfkit filter` start with their code loaded and compiled (other
 * command lines load the full bundle from there). Node takes a snapshot only as a command-line
 * flag, so the `bpfkit` command (package.json "bin") is dist/cli/bpfkit, a
 * small sh script that starts the node the snapshot was built with on it,
 * and otherwise (no snapshot, that node binary replaced since,
 * BPFKIT_SNAPSHOT=off) runs this launcher.
 */
import { spawnSync } from 'node:child_process';
import { chmodSync, existsSync, readFileSync, rmSync, statSync, utimesSync, writeFileSync } from 'node:fs';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { codeCacheFile, loadBundle, SNAPSHOT_FLAGS } from './bundle.js';

const file = fileURLToPath(new URL('./bpfkit.cjs', import.meta.url));
if (process.env.BPFKIT_SNAPSHOT === 'write') {
  buildSnapshot();
  process.exit(0);
}
const writing = process.env.BPFKIT_CODE_CACHE === 'write';
const { exports: cli, script } = loadBundle(file, !writing && process.env.BPFKIT_CODE_CACHE !== 'off');

if (writing) {
  // Typical runs, so their functions are compiled when the cache is taken; output is discarded by the build.
  const runs = warmRuns();
  // Their messages on standard error ("reading from file ...") are kept back, and shown only if a run fails.
  const write = process.stderr.write.bind(process.stderr);
  let said = '';
  process.stderr.write = ((chunk: string | Uint8Array) => {
    said += typeof chunk === 'string' ? chunk : Buffer.from(chunk).toString();
    return true;
  }) as typeof process.stderr.write;
  for (const argv of runs) {
    said = '';
    const code = await cli.main(argv);
    if (code !== 0) write(`bpfkit: building the code cache: 'bpfkit ${argv.join(' ')}' exited with ${code}\n${said}`);
  }
  process.stderr.write = write;
  writeFileSync(codeCacheFile(file), script.createCachedData());
  process.exitCode = 0;
} else {
  await cli.runCli(process.argv.slice(2));
}

/**
 * The typical runs the code cache and the snapshot are warmed with: printing, counting, and
 * expressions of the common kinds (hosts and nets, ports, protocols, flags, byte arithmetic,
 * VLAN), so that the code they need is compiled. (Not the benchmark's expressions: the
 * snapshot should serve any expression alike.)
 */
function warmRuns(): string[][] {
  const example = fileURLToPath(new URL('../../examples/loopback.pcap', import.meta.url));
  const runs: string[][] = [['--help']];
  if (existsSync(example)) {
    runs.push(
      ['read', '-r', example, 'tcp port 443'],
      ['read', '--count', '-r', example, 'host 10.1.2.3 and (udp port 53 or tcp port 853)'],
      ['read', '--count', '-r', example, 'net 172.16.0.0/12 and not port 22'],
      ['read', '--count', '-r', example, 'tcp[tcpflags] & tcp-syn != 0 and not src net 10.0.0.0/8'],
      ['read', '--count', '-r', example, 'ip6 and udp port 123'],
      ['read', '--count', '-r', example, 'icmp or arp'],
      ['read', '--count', '-r', example, 'ip[8] < 64'],
      ['read', '--count', '-r', example, 'vlan 10 and udp'],
    );
  }
  return runs;
}

/** Single-quoted for sh. */
function shQuote(s: string): string {
  return `'${s.replace(/'/g, `'\\''`)}'`;
}

/**
 * Writes dist/cli/bpfkit.blob (node --build-snapshot over the bundle, its
 * top level run and then the typical commands, their output sent nowhere)
 * and the `bpfkit` sh script. The script takes the snapshot only with the
 * node binary that built it, unchanged (same inode, size and time, as it was
 * at build time), because Node refuses a snapshot from any other build;
 * otherwise, or when building the snapshot failed, it runs the launcher.
 */
function buildSnapshot(): void {
  const dir = fileURLToPath(new URL('.', import.meta.url));
  const blob = `${file.slice(0, -'.cjs'.length)}.blob`;
  const fast = `${file.slice(0, -'.cjs'.length)}-fast.cjs`;
  const entry = `${file.slice(0, -'.cjs'.length)}-snapshot.cjs`;
  const wrapper = `${dir}bpfkit`;
  rmSync(blob, { force: true });
  const text = readFileSync(fast, 'latin1')
    .replace(/^#![^\n]*\n/, '')
    // The bundle's own location from where it was built (in the snapshot, __filename is the entry's).
    .replace(/^var __bpfkitUrl = [^\n]*\n/, `var __bpfkitUrl = ${JSON.stringify(pathToFileURL(fast).href)};\n`);
  const warm = [...warmRuns().filter((argv) => argv[0] === 'read'), ['filter', '-ddd', 'tcp port 22']];
  const source = [
    // A snapshot's entry is a plain script: give the bundle the CommonJS module object it assigns to.
    'var module = { exports: {} }, exports = module.exports;',
    // The snapshot's require() loads Node's own modules only; other packages (cli-progress, for a
    // progress bar) go through a real require(), made when first needed (making one costs a few ms).
    'var __bpfkitRequire;',
    '(function (require) {',
    text,
    "})(function (id) { return id.startsWith('node:') ? require(id) : (__bpfkitRequire ??= require('node:module').createRequire(__bpfkitFile))(id); });",
    ';(async () => {',
    `  for (const argv of ${JSON.stringify(warm)}) await module.exports.mainFast(argv);`,
    `  module.exports.warmWasm(${JSON.stringify(warm.filter((argv) => argv[0] === 'read').map((argv) => argv[argv.length - 1]!))});`,
    '  module.exports.prepareSnapshot();',
    '  process.exitCode = undefined;',
    '})();',
    `var __bpfkitFile = ${JSON.stringify(fast)};`,
    "require('node:v8').startupSnapshot.setDeserializeMainFunction(() => {",
    '  void module.exports.runSnapshot(process.argv.slice(1));',
    '});',
    '',
  ].join('\n');
  writeFileSync(entry, source, 'latin1');
  const built = spawnSync(process.execPath, [...SNAPSHOT_FLAGS, '--snapshot-blob', blob, '--build-snapshot', entry], {
    stdio: ['ignore', 'ignore', 'pipe'],
    encoding: 'utf8',
  });
  rmSync(entry, { force: true });
  const ok = built.status === 0 && existsSync(blob);
  if (!ok) {
    rmSync(blob, { force: true });
    process.stderr.write(`bpfkit: building the start-up snapshot failed (the command will start without it)\n${built.stderr ?? ''}\n`);
  }
  // The node binary, recognised without starting a program: a stamp file with its modification
  // time, compared by sh's own test (neither newer nor older); where that cannot be made to
  // match (a file system without the precision), `stat` compares inode, size and time instead.
  const node = statSync(process.execPath);
  const stamp = `${blob}.node`;
  writeFileSync(stamp, `${process.execPath}\n`);
  utimesSync(stamp, node.atime, node.mtime);
  const sameTime = '[ ! "$node" -nt "$stamp" ] && [ ! "$node" -ot "$stamp" ]';
  const byStamp = spawnSync('sh', ['-c', `node=$0 stamp=$1; ${sameTime}`, process.execPath, stamp]).status === 0;
  const id = `${node.ino} ${node.size} ${Math.floor(node.mtimeMs / 1000)}`;
  // V8 takes a snapshot only under the flags it was built with, so a run with NODE_OPTIONS
  // (which may carry V8 flags: --max-old-space-size, ...) goes to the launcher.
  const useBlob = '[ "${BPFKIT_SNAPSHOT:-}" != off ] && [ -z "${NODE_OPTIONS:-}" ] && [ -f "$blob" ]';
  const lines = [
    '#!/bin/sh',
    '# The bpfkit command, written by `npm run build` (src/cli/launch.ts): starts',
    '# the node that built the start-up snapshot on it while that node binary is',
    '# unchanged and NODE_OPTIONS is empty; otherwise runs the launcher dist/cli/main.js.',
    '# Node reads and parses every certificate of NODE_EXTRA_CA_CERTS as it starts (about',
    '# 90 ms for a system bundle); bpfkit makes no TLS connections, so its node starts',
    '# without it, and bpfkit puts it back for the programs it runs.',
    'if [ -n "${NODE_EXTRA_CA_CERTS+set}" ]; then',
    '  BPFKIT_NODE_EXTRA_CA_CERTS=$NODE_EXTRA_CA_CERTS; export BPFKIT_NODE_EXTRA_CA_CERTS; unset NODE_EXTRA_CA_CERTS',
    'fi',
    `node=${shQuote(process.execPath)}`,
    `blob=${shQuote(blob)}`,
    ...(byStamp
      ? [`stamp=${shQuote(stamp)}`, `if ${useBlob} && ${sameTime}; then`]
      : [
          `if ${useBlob} &&`,
          `  [ "$(stat -L -c '%i %s %Y' "$node" 2>/dev/null)" = ${shQuote(id)} ]; then`,
        ]),
    `  exec "$node" ${SNAPSHOT_FLAGS.join(' ')} --snapshot-blob "$blob" -- "$@"`,
    'fi',
    'self=$(readlink -f "$0")',
    'exec node "${self%/*}/main.js" "$@"',
    '',
  ];
  if (!ok) {
    // No snapshot: only the launcher.
    const from = lines.findIndex((l) => l.startsWith('node='));
    lines.splice(from, lines.indexOf('fi', from) + 1 - from);
    rmSync(stamp, { force: true });
  }
  writeFileSync(wrapper, lines.join('\n'));
  chmodSync(wrapper, 0o755);
}
