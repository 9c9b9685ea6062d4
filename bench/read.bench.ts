/**
 * Reading captures: wall time of `bpfkit read --count EXPR -r FILE` (the
 * built command, a fresh process each run, as a user runs it) against
 * `tcpdump -r FILE -w /dev/null EXPR` on the 250k-packet bench capture
 * (bench/capture-fixture.ts), for the four benchmark expressions, and with
 * the program given as a file (-F, from tcpdump -ddd) so the filter
 * compiler's start-up cost shows separately. Runs alternate between the two
 * tools; the median of N runs is reported, with the ratio (target ≤ 1.5),
 * the CPU time (user + system) of each, and the load average before and
 * after (other jobs on the machine inflate wall times).
 *
 * Then the same on a 1M-packet capture from the same generator, and the
 * difference between the two files per packet: the steady rate of each tool
 * once started, and by extrapolation its fixed (start-up) cost.
 *
 * `npm run bench -- read` (N from BENCH_RUNS, default 11: wall times on a
 * shared machine scatter, and the median of more alternating runs moves
 * less; BENCH_RUNS_LARGE, default 5, for the 1M file).
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { cpus, loadavg } from 'node:os';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { BENCH_OUT, ensureBenchCapture, ensureLargeBenchCapture } from './capture-fixture.js';

const here = dirname(fileURLToPath(import.meta.url));
// The `bpfkit` command as package.json's bin runs it (the sh script on the start-up snapshot), and the launcher it falls back to.
const BIN = resolve(here, '../dist/cli/bpfkit');
const EXE = resolve(here, '../dist/cli/main.js');
const HAVE_TIME = existsSync('/usr/bin/time');
export const EXPRESSIONS = ['tcp port 80', 'host 192.168.1.1 and (tcp port 80 or udp port 53)', 'ip[2:2] > 576', 'vlan and ip'];

/** Wall time of one run, and the CPU time (user + system) the child used. */
function time(cmd: string, args: string[]): { ms: number; cpu: number; out: string; status: number | null } {
  const t0 = process.hrtime.bigint();
  // CPU time comes from GNU time when it is installed (Debian package "time"); else only wall time.
  const r = HAVE_TIME
    ? spawnSync('/usr/bin/time', ['-f', '%U %S', cmd, ...args], { encoding: 'utf8', maxBuffer: 1 << 26 })
    : spawnSync(cmd, args, { encoding: 'utf8', maxBuffer: 1 << 26 });
  const ms = Number(process.hrtime.bigint() - t0) / 1e6;
  const m = /([\d.]+) ([\d.]+)\s*$/.exec(r.stderr);
  const cpu = m ? (Number(m[1]) + Number(m[2])) * 1000 : NaN;
  return { ms, cpu, out: r.stdout, status: r.status };
}

const load = (): string => loadavg().map((x) => x.toFixed(2)).join(' ');

const median = (xs: number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2]! : (s[s.length / 2 - 1]! + s[s.length / 2]!) / 2;
};

/**
 * `runs` alternating runs of `bpfkit read --count` and `tcpdump -w /dev/null`
 * on `file` (then `after`, given bpfkit's output, for one more variant), wall
 * and CPU times of each; bpfkit's count is checked against `tcpdump --count`.
 */
function alternate(
  file: string,
  expr: string,
  runs: number,
  after?: (count: string) => void,
): { ours: number[]; theirs: number[]; cpuOurs: number[]; cpuTheirs: number[]; want: string } {
  const ours: number[] = [];
  const theirs: number[] = [];
  const cpuOurs: number[] = [];
  const cpuTheirs: number[] = [];
  let count = '';
  for (let i = 0; i < runs; i++) {
    const a = time(BIN, ['read', '--count', '-r', file, expr]);
    if (a.status !== 0) throw new Error(`bpfkit read failed for '${expr}'`);
    count = a.out.trim();
    ours.push(a.ms);
    cpuOurs.push(a.cpu);
    const t = time('tcpdump', ['-r', file, '-w', '/dev/null', expr]);
    theirs.push(t.ms);
    cpuTheirs.push(t.cpu);
    after?.(count);
  }
  const want = /^(\d+)/.exec(execFileSync('tcpdump', ['-r', file, '--count', expr], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }))![1]!;
  if (count !== `${want} packets`) throw new Error(`'${expr}': bpfkit counted ${count}, tcpdump ${want}`);
  return { ours, theirs, cpuOurs, cpuTheirs, want };
}

export async function run(): Promise<void> {
  const file = await ensureBenchCapture();
  const runs = Number(process.env.BENCH_RUNS ?? 11);
  mkdirSync(BENCH_OUT, { recursive: true });
  console.log(`capture: ${file} (250,000 packets); ${runs} runs each, alternating; median wall time`);
  console.log(`machine: ${cpus().length} × ${cpus()[0]?.model ?? '?'}, node ${process.version}, ${execFileSync('tcpdump', ['--version'], { encoding: 'utf8' }).split('\n')[0]}`);
  // The bench measures the built command as `npm run build` makes it: the launcher with its bundle and code cache.
  if (!existsSync(resolve(here, '../dist/cli/bpfkit.cjs.cache')) || !readFileSync(EXE, 'utf8').includes('BPFKIT_CODE_CACHE')) {
    console.log('warning: dist/cli/main.js is not the bundled launcher (run npm run build); figures are for the unbundled CLI');
  }
  if (!existsSync(BIN) || !existsSync(resolve(here, '../dist/cli/bpfkit.blob'))) {
    console.log('warning: no dist/cli/bpfkit with its start-up snapshot (run npm run build)');
  }
  console.log(`load average before: ${load()}`);
  const rows: string[] = [];
  const mid250: Record<string, [number, number, number, number]> = {};
  for (const expr of EXPRESSIONS) {
    const ddd = resolve(BENCH_OUT, `read-${EXPRESSIONS.indexOf(expr)}.ddd`);
    writeFileSync(ddd, execFileSync('tcpdump', ['-ddd', '-y', 'EN10MB', expr], { encoding: 'utf8' }));
    const oursF: number[] = [];
    const { ours, theirs, cpuOurs, cpuTheirs, want } = alternate(file, expr, runs, (count) => {
      const b = time(BIN, ['read', '--count', '-r', file, '-F', ddd]);
      if (b.out.trim() !== count) throw new Error(`-F and expression disagree for '${expr}': ${b.out} vs ${count}`);
      oursF.push(b.ms);
    });
    const [o, f, t] = [median(ours), median(oursF), median(theirs)];
    const [co, ct] = [median(cpuOurs), median(cpuTheirs)];
    mid250[expr] = [o, t, co, ct];
    const [bo, bt] = [Math.min(...ours), Math.min(...theirs)];
    rows.push(
      `| \`${expr}\` | ${want} | ${o.toFixed(0)} | ${f.toFixed(0)} | ${t.toFixed(0)} | **${(o / t).toFixed(2)}** | ${(f / t).toFixed(2)} | ${(bo / bt).toFixed(2)} | ${co.toFixed(0)} / ${ct.toFixed(0)} |`,
    );
  }
  console.log(
    '| expression | matches | bpfkit read --count (ms) | bpfkit read --count -F (ms) | tcpdump -w /dev/null (ms) | ratio | ratio -F | ratio of best runs | CPU ms bpfkit / tcpdump |',
  );
  console.log('| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |');
  for (const r of rows) console.log(r);
  console.log(`load average after: ${load()}`);
  // Start-up alone, for reference: reading an empty capture.
  const empty = resolve(BENCH_OUT, 'empty.pcap');
  writeFileSync(empty, Buffer.from('d4c3b2a1020004000000000000000000000004000100000000', 'hex').subarray(0, 24));
  const s1 = median(Array.from({ length: runs }, () => time(BIN, ['read', '--count', '-r', empty, 'tcp port 80']).ms));
  const s2 = median(Array.from({ length: runs }, () => time('tcpdump', ['-r', empty, '-w', '/dev/null', 'tcp port 80']).ms));
  const s3 = median(Array.from({ length: runs }, () => time(process.execPath, ['-e', '0']).ms));
  const s4 = median(Array.from({ length: runs }, () => time(BIN, ['read', '--count', '-r', empty, '-F', resolve(BENCH_OUT, 'read-0.ddd')]).ms));
  const s5 = median(Array.from({ length: runs }, () => time(process.execPath, [EXE, 'read', '--count', '-r', empty, 'tcp port 80']).ms));
  console.log(
    `start-up on an empty capture (load average ${load()}): bpfkit ${s1.toFixed(0)} ms with an expression, ${s4.toFixed(0)} ms with -F, the launcher without the snapshot ${s5.toFixed(0)} ms (node -e 0: ${s3.toFixed(0)} ms), tcpdump ${s2.toFixed(0)} ms`,
  );
  // A bigger capture: start-up weighs less, the steady rates show.
  const large = await ensureLargeBenchCapture();
  const runsLarge = Number(process.env.BENCH_RUNS_LARGE ?? 5);
  const packetsLarge = 1_000_000;
  console.log(`\ncapture: ${large} (${packetsLarge.toLocaleString('en')} packets); ${runsLarge} runs each, alternating; load average before: ${load()}`);
  console.log('| expression | matches | bpfkit read --count (ms) | tcpdump -w /dev/null (ms) | ratio | CPU ms bpfkit / tcpdump | CPU ns per extra packet, bpfkit / tcpdump | fixed CPU ms bpfkit / tcpdump |');
  console.log('| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |');
  for (const expr of EXPRESSIONS) {
    const { ours, theirs, cpuOurs, cpuTheirs, want } = alternate(large, expr, runsLarge);
    const [o, t] = [median(ours), median(theirs)];
    const [co, ct] = [median(cpuOurs), median(cpuTheirs)];
    const [, , co250, ct250] = mid250[expr]!;
    // Linear in packets: CPU time = fixed + n * rate, from the two files (CPU time: wall times swing with the machine's load).
    const extra = packetsLarge - 250_000;
    const [ro, rt] = [((co - co250) / extra) * 1e6, ((ct - ct250) / extra) * 1e6];
    const [fo, ft] = [co250 - (ro * 250_000) / 1e6, ct250 - (rt * 250_000) / 1e6];
    console.log(
      `| \`${expr}\` | ${want} | ${o.toFixed(0)} | ${t.toFixed(0)} | **${(o / t).toFixed(2)}** | ${co.toFixed(0)} / ${ct.toFixed(0)} | ${ro.toFixed(0)} / ${rt.toFixed(0)} | ${fo.toFixed(0)} / ${ft.toFixed(0)} |`,
    );
  }
  console.log(`load average after: ${load()}`);

  // The same work inside a running process (no start-up): read + filter the whole file.
  const { CaptureReader } = await import('../src/capture/reader.js');
  const { jitBatch } = await import('../src/cbpf/jit.js');
  const { compile } = await import('../src/filter/compile.js');
  const f = jitBatch(compile(EXPRESSIONS[0]!, { linkType: 1, offline: 'unswapped' }));
  const inproc: number[] = [];
  for (let i = 0; i < runs; i++) {
    const t0 = process.hrtime.bigint();
    const reader = await CaptureReader.open(file, { reuseBuffer: true });
    let n = 0;
    await reader.forEachBatch((b) => {
      n += f(b);
    });
    inproc.push(Number(process.hrtime.bigint() - t0) / 1e6);
    if (n <= 0) throw new Error('no matches');
  }
  console.log(`in a running process (read + '${EXPRESSIONS[0]}' over the file, no start-up): median ${median(inproc).toFixed(0)} ms, best ${Math.min(...inproc).toFixed(0)} ms`);
}
