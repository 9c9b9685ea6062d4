/**
 * BTF: opening the running kernel's BTF (/sys/kernel/btf/vmlinux, ~5.5 MB,
 * ~127k types) and dumping it, against `bpftool btf dump file ... > /dev/null`
 * timed in the same run.
 *
 * - parse, fresh process: a new `node` reads the file and parses it (the
 *   validating scan; types decode on use) — what a CLI or a loader pays once;
 * - parse, warm: the same in this process, best of several;
 * - parse + decode every type: all 127k type objects built;
 * - raw dump, whole command: `bpfkit btf dump FILE > /dev/null` (node start,
 *   parse, format, write) against `bpftool btf dump file FILE > /dev/null`;
 * - C dump, whole command: `--format c` against bpftool's `format c`.
 *
 * Whole-command figures are the best of 5 runs, interleaved with bpftool's
 * so a busy machine slows both alike, as wall time and as CPU time (user +
 * sys: on a shared machine the steadier of the two). The compiled CLI
 * (dist/, built by `npm run bench`) is what runs, as users run it.
 *
 *   npm run bench -- btf
 */
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { cpus, loadavg } from 'node:os';
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseBtf } from '../src/btf/index.js';

const here = dirname(fileURLToPath(import.meta.url));
const REPO = resolve(here, '..');
const DIST = resolve(REPO, 'dist');
const VMLINUX = '/sys/kernel/btf/vmlinux';
const ROUNDS = 5;

/** Wall and CPU (user + sys, children included) time of a shell command, ms. */
function timed(cmd: string): { wall: number; cpu: number } {
  const r = spawnSync('bash', ['-c', `TIMEFORMAT='%R %U %S'; time (${cmd})`], { encoding: 'utf8', stdio: ['ignore', 'ignore', 'pipe'] });
  if (r.status !== 0) throw new Error(`${cmd} failed: ${r.stderr}`);
  const [wall, user, sys] = r.stderr.trim().split('\n').pop()!.split(' ').map(Number) as [number, number, number];
  return { wall: wall * 1000, cpu: (user + sys) * 1000 };
}

const best = (xs: number[]) => Math.min(...xs);
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

export async function run(): Promise<void> {
  if (!existsSync(VMLINUX)) {
    console.log(`btf: ${VMLINUX} is missing; skipped`);
    return;
  }
  if (!existsSync(resolve(DIST, 'btf/index.js'))) {
    console.log('btf: dist/ is not built (npm run build); skipped');
    return;
  }
  const bpftool = spawnSync('sh', ['-c', 'command -v bpftool || ls /usr/sbin/bpftool'], { encoding: 'utf8' }).stdout.trim().split('\n')[0];
  const size = readFileSync(VMLINUX).length;
  console.log(
    `${VMLINUX}: ${(size / 1e6).toFixed(2)} MB; ${cpus().length} CPUs, ${cpus()[0]?.model ?? 'unknown CPU'}; Node ${process.version}; load ${loadavg()[0]!.toFixed(1)}`,
  );

  // parse in a fresh process (compiled code), timed inside it: read + parse
  const coldScript = `import { readFileSync } from 'node:fs';
const { parseBtf } = await import(${JSON.stringify(resolve(DIST, 'btf/index.js'))});
const c0 = process.cpuUsage();
const t0 = performance.now();
const btf = parseBtf(readFileSync(${JSON.stringify(VMLINUX)}));
const t1 = performance.now();
const c1 = process.cpuUsage(c0);
btf.ownTypes();
const t2 = performance.now();
console.log(JSON.stringify({ parse: t1 - t0, parseCpu: (c1.user + c1.system) / 1000, decode: t2 - t1, types: btf.length - 1 }));`;
  const cold: { parse: number; parseCpu: number; decode: number; types: number }[] = [];
  const ourRaw: { wall: number; cpu: number }[] = [];
  const theirRaw: { wall: number; cpu: number }[] = [];
  const ourC: { wall: number; cpu: number }[] = [];
  const theirC: { wall: number; cpu: number }[] = [];
  const cli = `${process.execPath} ${resolve(DIST, 'cli/main.js')} btf dump ${VMLINUX}`;
  for (let i = 0; i < ROUNDS; i++) {
    const r = spawnSync(process.execPath, ['--input-type=module', '-e', coldScript], { encoding: 'utf8' });
    if (r.status !== 0) throw new Error(r.stderr);
    cold.push(JSON.parse(r.stdout));
    theirRaw.push(timed(`${bpftool} btf dump file ${VMLINUX} > /dev/null`));
    ourRaw.push(timed(`${cli} > /dev/null`));
    theirC.push(timed(`${bpftool} btf dump file ${VMLINUX} format c > /dev/null`));
    ourC.push(timed(`${cli} --format c > /dev/null`));
  }

  // warm, in this process
  const bytes = readFileSync(VMLINUX);
  const warm: number[] = [];
  for (let i = 0; i < 10; i++) {
    const t0 = performance.now();
    parseBtf(bytes);
    warm.push(performance.now() - t0);
  }

  const parseCold = best(cold.map((c) => c.parse));
  const rows: [string, number, number | undefined][] = [
    ['parse, fresh process (read + scan)', parseCold, undefined],
    ['  same, CPU time of that process', best(cold.map((c) => c.parseCpu)), undefined],
    ['parse, warm (scan)', best(warm), undefined],
    ['decode all types after parse', best(cold.map((c) => c.decode)), undefined],
    ['raw dump, whole command (wall)', best(ourRaw.map((x) => x.wall)), best(theirRaw.map((x) => x.wall))],
    ['  same, CPU time', best(ourRaw.map((x) => x.cpu)), best(theirRaw.map((x) => x.cpu))],
    ['C dump, whole command (wall)', best(ourC.map((x) => x.wall)), best(theirC.map((x) => x.wall))],
    ['  same, CPU time', best(ourC.map((x) => x.cpu)), best(theirC.map((x) => x.cpu))],
  ];
  console.log(`${cold[0]!.types} types`);
  console.log('what                                   bpfkit ms    bpftool ms   ratio');
  for (const [what, ours, theirs] of rows) {
    console.log(
      `${what.padEnd(37)} ${ours.toFixed(1).padStart(10)}  ${theirs === undefined ? '           —' : theirs.toFixed(1).padStart(12)}   ${theirs === undefined ? '' : `${(ours / theirs).toFixed(2)}x`}`,
    );
  }
  console.log(
    `parse vs bpftool's whole raw dump (wall): ${(parseCold / best(theirRaw.map((x) => x.wall))).toFixed(2)}x; target < 500 ms: ${parseCold < 500 ? 'met' : 'NOT met'} ` +
      `(medians: parse ${median(cold.map((c) => c.parse)).toFixed(1)} ms wall, ${median(cold.map((c) => c.parseCpu)).toFixed(1)} ms CPU; ` +
      `raw dump ${median(ourRaw.map((x) => x.wall)).toFixed(0)} vs ${median(theirRaw.map((x) => x.wall)).toFixed(0)} ms wall)`,
  );
}
