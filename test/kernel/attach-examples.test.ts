/**
 * The examples (examples/*), each run the way the README shows — one
 * command, as a separate process — and checked against what the test makes
 * happen: exact malloc counts of a process the test names, block I/O the
 * test issues, pings the example sends across its own namespaces, execs the
 * test performs (one failing). Each is stopped with Ctrl-C (SIGINT) or ends
 * by itself, must exit 0, and must leave no program, link, probe or
 * namespace behind.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, rmSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { REPO, TMP } from '../support/paths.js';
import { HAVE_CLANG, HAVE_GCC, FIXTURES, Netns, tracefsProbes } from './attach-support.js';
import { CAN_BPF, SKIP_REASON } from './support/kernel.js';

interface Run {
  proc: ChildProcess;
  stdout: () => string;
  stderr: () => string;
  exit: Promise<number>;
}

/** `npx tsx examples/NAME/NAME.ts ARGS` (node --import tsx, one process, so signals reach it). */
function example(name: string, args: string[]): Run {
  const proc = spawn(process.execPath, ['--import', 'tsx', join(REPO, 'examples', name, `${name}.ts`), ...args], { cwd: REPO, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  let err = '';
  proc.stdout!.on('data', (d: Buffer) => (out += d.toString()));
  proc.stderr!.on('data', (d: Buffer) => (err += d.toString()));
  const exit = new Promise<number>((res) => proc.on('exit', (code, sig) => res(code ?? (sig ? 128 : -1))));
  running.push(proc);
  return { proc, stdout: () => out, stderr: () => err, exit };
}

const running: ChildProcess[] = [];
afterAll(() => {
  for (const p of running) if (p.exitCode === null && p.signalCode === null) p.kill('SIGKILL');
});

async function until(what: string, run: Run, cond: () => boolean, ms = 90_000): Promise<void> {
  const end = Date.now() + ms;
  while (!cond()) {
    if (run.proc.exitCode !== null) throw new Error(`${what}: the example exited ${run.proc.exitCode}:\n${run.stderr()}`);
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}:\n${run.stderr()}`);
    await new Promise((r) => setTimeout(r, 25));
  }
}

/** Programs of these names still in the kernel (bpftool prog list). */
function programsNamed(names: string[]): string[] {
  const list = JSON.parse(spawnSync('bpftool', ['--json', 'prog', 'list'], { encoding: 'utf8' }).stdout) as { id: number; name?: string }[];
  return list.filter((p) => p.name !== undefined && names.includes(p.name)).map((p) => `${p.id} ${p.name}`);
}

const OUT = join(TMP, 'kernel-examples');

/** A directory on a block device (direct writes there reach the disk), or undefined. */
function onDisk(): string | undefined {
  for (const dir of [TMP, '/var/tmp']) {
    mkdirSync(dir, { recursive: true });
    const dev = statSync(dir).dev;
    const major = Number((BigInt(dev) >> 8n) & 0xfffn);
    const minor = Number((BigInt(dev) & 0xffn) | ((BigInt(dev) >> 12n) & ~0xffn));
    if (existsSync(`/sys/dev/block/${major}:${minor}`)) return dir;
  }
  return undefined;
}
const DISK_DIR = onDisk();

describe.skipIf(!CAN_BPF || !HAVE_CLANG || !HAVE_GCC)('examples', () => {
  const bin = join(OUT, 'malloc_loop');
  beforeAll(() => {
    mkdirSync(OUT, { recursive: true });
    const cc = spawnSync('gcc', ['-O0', '-fno-builtin', '-o', bin, join(FIXTURES, 'malloc_loop.c')], { encoding: 'utf8' });
    if (cc.status !== 0) throw new Error(`gcc: ${cc.stderr}`);
  });

  it('malloc-count -- COMMAND: exactly the command\'s N malloc calls; the uprobe gone after', async () => {
    const N = 4321;
    const run = example('malloc-count', ['--', bin, String(N)]);
    expect(await run.exit).toBe(0);
    const m = /counting malloc\(\) calls in (\S+):malloc for pid (\d+); running the command/.exec(run.stderr());
    expect(m, run.stderr()).not.toBeNull();
    expect(m![1]).toMatch(/libc\.so\.6$/);
    const rows = run.stdout().trim().split('\n');
    expect(rows[0]).toMatch(/^PID\s+COMM\s+MALLOCS$/);
    // The command runs under the shell's pid (exec), so exactly one row: it, with N calls.
    expect(rows.slice(1).map((r) => r.split(/\s+/))).toEqual([[m![2], 'malloc_loop', String(N)]]);
    expect(programsNamed(['count_malloc'])).toEqual([]);
    expect(tracefsProbes(run.proc.pid)).toEqual([]);
  });

  it('malloc-count --pid: a running process, counted for --duration (the kernel filters by pid)', async () => {
    const N = 2500;
    // A process held at a `read` until the probe is in, then exec'ing malloc_loop (same pid).
    const child = spawn('/bin/sh', ['-c', 'read _ && exec "$@"', 'sh', bin, String(N)], { stdio: ['pipe', 'ignore', 'ignore'] });
    running.push(child);
    const done = new Promise((res) => child.on('exit', res));
    const run = example('malloc-count', ['--pid', String(child.pid), '--duration', '4']);
    await until('counting', run, () => run.stderr().includes('counting malloc() calls'));
    child.stdin!.end('go\n');
    await done;
    expect(await run.exit).toBe(0);
    const rows = run.stdout().trim().split('\n').slice(1).map((r) => r.trim().split(/\s+/));
    // The shell's own calls before exec are its row; the program's are exactly N.
    expect(rows.find((r) => r[1] === 'malloc_loop')).toEqual([String(child.pid), 'malloc_loop', String(N)]);
    expect(rows.every((r) => r[0] === String(child.pid))).toBe(true);
  });

  it.skipIf(!DISK_DIR)('biolatency: the block I/O the test issues lands in the histogram; Ctrl-C prints it and detaches', async () => {
    const run = example('biolatency', []);
    await until('tracing', run, () => run.stderr().includes('tracing block I/O'));
    const N = 64;
    const file = join(DISK_DIR!, `bpfkit-biolatency-${process.pid}.dat`);
    // N synchronous 4 KiB direct writes: each one a request issued to the disk and completed before the next.
    const dd = spawnSync('dd', ['if=/dev/zero', `of=${file}`, 'bs=4k', `count=${N}`, 'oflag=direct,dsync'], { encoding: 'utf8' });
    rmSync(file, { force: true });
    expect(dd.status, dd.stderr).toBe(0);
    run.proc.kill('SIGINT');
    expect(await run.exit).toBe(0);
    const out = run.stdout();
    expect(out).toMatch(/^disk = \S+\n\s+usecs\s+: count\s+distribution\n/);
    let total = 0;
    let prevHi = -1;
    for (const m of out.matchAll(/^\s+(\d+) -> (\d+)\s+: (\d+)\s+\|(\**)\s*\|$/gm)) {
      const [lo, hi, n] = [Number(m[1]), Number(m[2]), Number(m[3])];
      // Slots are consecutive powers of two.
      if (lo !== 0) expect(lo).toBe(prevHi + 1);
      expect(hi + 1).toBe(lo === 0 ? 2 : 2 * lo);
      prevHi = hi;
      total += n;
    }
    // Other processes may do I/O too: at least the test's N writes.
    expect(total).toBeGreaterThanOrEqual(N);
    expect(programsNamed(['rq_issue', 'rq_complete'])).toEqual([]);
  });

  it('xdp-counter: counts exactly the pings it sends across its veth pair, then removes its namespaces', async () => {
    const N = 15;
    const run = example('xdp-counter', ['--count', String(N)]);
    expect(await run.exit).toBe(0);
    const m = /netns (bpfkit-xdp-\d+-b), XDP link id (\d+)/.exec(run.stderr());
    expect(m, run.stderr()).not.toBeNull();
    expect(run.stdout()).toMatch(new RegExp(`^ipv4/icmp\\s+${N}\\s+${N * 98}$`, 'm'));
    expect(Netns.exists(m![1]!)).toBe(false);
    expect(Netns.exists(m![1]!.replace(/-b$/, '-a'))).toBe(false);
    expect(spawnSync('bpftool', ['link', 'show', 'id', m![2]!]).status).not.toBe(0);
    expect(programsNamed(['xdp_count'])).toEqual([]);
  });

  it('xdp-counter --count 0: waits for traffic until Ctrl-C, then prints and cleans up', async () => {
    const run = example('xdp-counter', ['--count', '0']);
    await until('ready', run, () => run.stderr().includes('Ctrl-C to stop'));
    const ns = /netns (bpfkit-xdp-\d+)-b/.exec(run.stderr())![1]!;
    const ping = spawnSync('ip', ['netns', 'exec', `${ns}-a`, 'ping', '-c', '4', '-i', '0.05', '-q', '10.123.0.2'], { encoding: 'utf8' });
    expect(ping.stdout).toContain('4 received');
    run.proc.kill('SIGINT');
    expect(await run.exit).toBe(0);
    expect(run.stdout()).toMatch(/^ipv4\/icmp\s+4\s+392$/m);
    expect(Netns.exists(`${ns}-a`) || Netns.exists(`${ns}-b`)).toBe(false);
  });

  it('execsnoop: streams the execs the test makes, with arguments and results (a failed one too)', async () => {
    const run = example('execsnoop', []);
    await until('tracing', run, () => run.stderr().includes('tracing exec'));
    const marker = `bpfkit-execsnoop-${process.pid}`;
    expect(spawnSync('/bin/echo', [marker, 'second arg'], { encoding: 'utf8' }).stdout).toBe(`${marker} second arg\n`);
    const missing = `/nonexistent/${marker}`;
    expect(spawnSync(missing, ['x']).error).toBeDefined();
    await until('both lines', run, () => run.stdout().includes(missing) && run.stdout().includes(`/bin/echo ${marker}`), 20_000);
    run.proc.kill('SIGINT');
    expect(await run.exit).toBe(0);
    const lines = run.stdout().split('\n');
    expect(lines[0]).toMatch(/^TIME\s+PID\s+UID\s+RET\s+COMM\s+ARGS$/);
    const ok = lines.find((l) => l.includes(`/bin/echo ${marker}`))!;
    expect(ok).toMatch(new RegExp(`^\\d+\\.\\d{3}\\s+\\d+\\s+0\\s+0\\s+echo\\s+/bin/echo ${marker} second arg$`));
    const bad = lines.find((l) => l.includes(missing))!;
    expect(bad).toMatch(new RegExp(`^\\d+\\.\\d{3}\\s+\\d+\\s+0\\s+-2\\s+\\S+\\s+${missing} x$`));
    expect(programsNamed(['enter_execve', 'exit_execve'])).toEqual([]);
  });
});
describe.skipIf(!CAN_BPF || spawnSync('setpriv', ['--version']).status !== 0)('examples without root or with bad input', () => {
  it('each example as nobody: one message, no stack trace, nothing made', async () => {
    const runs = ['malloc-count', 'biolatency', 'xdp-counter', 'execsnoop'].map((name) => {
      const file = join(REPO, 'examples', name, `${name}.ts`);
      const p = spawn('setpriv', ['--reuid=nobody', '--regid=nogroup', '--clear-groups', process.execPath, '--import', 'tsx', file, '--duration', '1'], {
        cwd: REPO,
        stdio: ['ignore', 'pipe', 'pipe'],
        env: { ...process.env, NODE_OPTIONS: '' },
      });
      running.push(p);
      let out = '';
      let err = '';
      p.stdout.on('data', (d: Buffer) => (out += d.toString()));
      p.stderr.on('data', (d: Buffer) => (err += d.toString()));
      return new Promise<{ name: string; code: number | null; out: string; err: string }>((res) => p.on('close', (code) => res({ name, code, out, err })));
    });
    for (const r of await Promise.all(runs)) {
      expect(r).toEqual({ name: r.name, code: 1, out: '', err: 'this example loads BPF programs: run it as root (CAP_BPF and CAP_PERFMON)\n' });
    }
  });

  it.skipIf(!HAVE_CLANG)('a disk or a library that does not exist is named', async () => {
    const disk = example('biolatency', ['--disk', 'bpfkitnosuch']);
    const lib = example('malloc-count', ['--lib', 'libbpfkitnosuch', '--duration', '1']);
    expect(await disk.exit).toBe(1);
    expect(disk.stderr()).toBe('biolatency: no disk bpfkitnosuch (see /sys/block)\n');
    expect(await lib.exit).toBe(1);
    expect(lib.stderr()).toMatch(/^malloc-count: no binary or library named libbpfkitnosuch \(searched /);
    expect(programsNamed(['rq_issue', 'rq_complete', 'count_malloc'])).toEqual([]);
  });
});
if (!CAN_BPF) describe('examples', () => it.skip(SKIP_REASON, () => {}));
