/**
 * Kernel engine benchmarks, each next to its C anchor in the same run:
 *
 * 1. Map lookup/update calls per second (array and hash, 1024 entries)
 *    through bpfkit's KernelMap vs the same loop in C through libbpf
 *    (bench/c/kernel_map.c). Rounds alternate C and bpfkit; the best round of
 *    each counts (the machine is shared, so the minimum is the fair figure).
 * 2. Ring buffer records consumed per second: the ring is filled by
 *    test-running one producer program (bench/c/kernel_rb_producer.bpf.c,
 *    loaded by bpfkit and pinned in a private bpffs), then drained — by
 *    libbpf's ring_buffer__poll in C (bench/c/kernel_ringbuf.c) and by
 *    bpfkit's RingBufReader (drain with a callback, read() with copies, and
 *    the async iterator). Only draining is timed.
 * 3. Waiting on the event loop: a C process produces one record every
 *    millisecond; bpfkit's reader consumes in 'poll' and in 'epoll' mode:
 *    delivery latency (now − the record's bpf_ktime_get_ns) and the CPU time
 *    the consumer spent.
 *
 * Needs root. C harnesses build into bench/out/ (gcc -lbpf, clang -target bpf).
 */
import { execFileSync, spawn, spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { MapType } from '../src/ebpf/types.js';
import { loadCollectionSpec } from '../src/elf/index.js';
import { createMap, loadCollection, RingBufReader, type KernelMap } from '../src/kernel/index.js';

const here = dirname(fileURLToPath(import.meta.url));
const OUT = join(here, 'out');

function build(): { map: string; ringbuf: string; producer: string } {
  mkdirSync(OUT, { recursive: true });
  const map = join(OUT, 'kernel_map');
  const ringbuf = join(OUT, 'kernel_ringbuf');
  const producer = join(OUT, 'kernel_rb_producer.bpf.o');
  execFileSync('gcc', ['-O2', '-o', map, join(here, 'c/kernel_map.c'), '-lbpf']);
  execFileSync('gcc', ['-O2', '-o', ringbuf, join(here, 'c/kernel_ringbuf.c'), '-lbpf']);
  const arch = process.arch === 'arm64' ? 'aarch64-linux-gnu' : 'x86_64-linux-gnu';
  execFileSync('clang', ['-g', '-O2', '-target', 'bpf', `-I/usr/include/${arch}`, '-c', join(here, 'c/kernel_rb_producer.bpf.c'), '-o', producer]);
  return { map, ringbuf, producer };
}

const key = new Uint8Array(4);
const keyView = new DataView(key.buffer);
const value = new Uint8Array(8);
const valueView = new DataView(value.buffer);

/** CPU time of this process in ns (user + system), like the C harnesses' CLOCK_PROCESS_CPUTIME_ID. */
function cpuNs(): number {
  const u = process.cpuUsage();
  return (u.user + u.system) * 1000;
}

function bpfkitMapRound(m: KernelMap, n: number): { lookup: number; lookupInto: number; update: number } {
  let sum = 0;
  const out = new Uint8Array(8);
  const t0 = cpuNs();
  for (let i = 0; i < n; i++) {
    keyView.setUint32(0, i & 1023, true);
    const v = m.lookup(key)!;
    sum += v[0]!;
  }
  const t1 = cpuNs();
  for (let i = 0; i < n; i++) {
    keyView.setUint32(0, i & 1023, true);
    m.lookupInto(key, out);
    sum += out[0]!;
  }
  const t2 = cpuNs();
  for (let i = 0; i < n; i++) {
    keyView.setUint32(0, i & 1023, true);
    valueView.setUint32(0, i, true);
    m.update(key, value);
  }
  const t3 = cpuNs();
  if (sum === -1) console.log(sum);
  return { lookup: (t1 - t0) / n, lookupInto: (t2 - t1) / n, update: (t3 - t2) / n };
}

function mapBench(cBin: string): void {
  const n = 100_000;
  const rounds = 10;
  const best: Record<string, { c: number; ts: number }> = {};
  const note = (k: string, c: number | undefined, ts: number | undefined) => {
    const b = (best[k] ??= { c: Infinity, ts: Infinity });
    if (c !== undefined) b.c = Math.min(b.c, c);
    if (ts !== undefined) b.ts = Math.min(b.ts, ts);
  };
  const maps = {
    array: createMap({ name: 'bench', type: MapType.ARRAY, keySize: 4, valueSize: 8, maxEntries: 1024, flags: 0 }),
    hash: createMap({ name: 'bench', type: MapType.HASH, keySize: 4, valueSize: 8, maxEntries: 1024, flags: 0 }),
  };
  try {
    for (let k = 0; k < 1024; k++) {
      keyView.setUint32(0, k, true);
      maps.hash.update(key, value);
    }
    bpfkitMapRound(maps.array, 20_000); // warm up the JIT
    for (let r = 0; r < rounds; r++) {
      const out = execFileSync(cBin, [String(n)]).toString();
      for (const line of out.split('\n')) {
        const [name, ns] = line.split(' ');
        if (name && ns && !name.startsWith('#')) note(name, Number(ns), undefined);
      }
      for (const [name, m] of Object.entries(maps)) {
        const t = bpfkitMapRound(m, n);
        note(`${name}-lookup`, undefined, t.lookup);
        note(`${name}-lookupInto`, best[`${name}-lookup`]?.c, t.lookupInto);
        note(`${name}-update`, undefined, t.update);
      }
    }
  } finally {
    maps.array.close();
    maps.hash.close();
  }
  console.log(`\nMap operations (${n} calls per round, best of ${rounds} alternating rounds; CPU ns per call, calls per CPU-second)`);
  console.log('lookup returns a fresh copy of the value; lookupInto copies into the caller\'s buffer, as the C loop does.');
  console.log('case                C (libbpf)            bpfkit                ratio');
  for (const [k, v] of Object.entries(best)) {
    const fmt = (ns: number) => `${ns.toFixed(0).padStart(5)} ns ${(1e9 / ns / 1e3).toFixed(0).padStart(5)}k/s`;
    console.log(`${k.padEnd(19)} ${fmt(v.c)}       ${fmt(v.ts)}       ${(v.ts / v.c).toFixed(2)}×`);
  }
}

async function ringbufBench(bins: { ringbuf: string; producer: string }): Promise<void> {
  const fs = mkdtempSync(join(tmpdir(), 'bpfkit-bench-'));
  execFileSync('mount', ['-t', 'bpf', 'bpf', fs]);
  const c = loadCollection(loadCollectionSpec(bins.producer), { only: ['produce'] });
  const prog = c.programs.produce!;
  const rb = c.maps.rb!;
  try {
    prog.pin(join(fs, 'produce'));
    rb.pin(join(fs, 'rb'));
    const rounds = 10;
    const runs = 100;
    const perRun = 1000;
    const total = rounds * runs * perRun;
    const args = new Uint8Array(8);
    new DataView(args.buffer).setBigUint64(0, BigInt(perRun), true);
    const produce = () => {
      for (let i = 0; i < runs; i++) {
        const r = prog.testRun({ ctx: args });
        if (r.retval !== 0) throw new Error(`producer refused ${r.retval} records: ring too small`);
      }
    };

    const cOut = execFileSync(bins.ringbuf, [join(fs, 'rb'), join(fs, 'produce'), String(rounds), String(runs), String(perRun)]).toString();
    const m = /records (\d+) ns (\d+)/.exec(cOut);
    if (!m || Number(m[1]) !== total) throw new Error(`C harness: ${cOut}`);
    const cRate = total / (Number(m[2]) / 1e9);

    const reader = new RingBufReader(rb);
    let sum = 0;
    const measure = (consume: () => number): number => {
      let ns = 0;
      let got = 0;
      for (let r = 0; r < rounds; r++) {
        produce();
        const t0 = cpuNs();
        while (got < (r + 1) * runs * perRun) got += consume();
        ns += cpuNs() - t0;
      }
      return total / (ns / 1e9);
    };
    const drainRate = measure(() =>
      reader.drain((data, offset) => {
        sum += data[offset]!;
      }),
    );
    const readRate = measure(() => reader.read().length);
    // The async iterator: fill, then time iterating over one round's records (copies + promises).
    let iterNs = 0;
    const it = reader[Symbol.asyncIterator]();
    for (let r = 0; r < rounds; r++) {
      produce();
      const t0 = cpuNs();
      for (let i = 0; i < runs * perRun; i++) await it.next();
      iterNs += cpuNs() - t0;
    }
    const iterRate = total / (iterNs / 1e9);
    reader.close();
    if (sum === -1) console.log(sum);

    console.log(`\nRing buffer consumption (${total} records of 16 bytes, ${rounds} fills of ${runs * perRun}; only draining timed, CPU time)`);
    const row = (name: string, rate: number) =>
      console.log(`${name.padEnd(44)} ${(rate / 1e6).toFixed(2).padStart(6)} M records/s   ${(cRate / rate).toFixed(2)}× C`);
    row('libbpf ring_buffer__poll (C)', cRate);
    row('bpfkit RingBufReader.drain (zero-copy view)', drainRate);
    row('bpfkit RingBufReader.read (copies)', readRate);
    row('bpfkit async iterator (copies, promises)', iterRate);

    await latencyBench(bins.ringbuf, fs, rb);
  } finally {
    c.close();
    execFileSync('umount', [fs]);
    rmSync(fs, { recursive: true, force: true });
  }
}

async function latencyBench(cBin: string, fs: string, rb: KernelMap): Promise<void> {
  console.log('\nWaiting on the event loop with nothing to read (2 s): CPU the reader costs');
  for (const mode of ['poll', 'epoll'] as const) {
    const reader = new RingBufReader(rb, { mode });
    reader.read();
    const cpu0 = process.cpuUsage();
    reader.start(() => {});
    await new Promise((r) => setTimeout(r, 2000));
    const cpu = process.cpuUsage(cpu0);
    reader.close();
    console.log(`${mode.padEnd(7)} ${((cpu.user + cpu.system) / 1e3).toFixed(0)} ms of CPU`);
  }
  const count = 2000;
  console.log(`\nWaiting on the event loop: another process produces one record per ms (${count} records)`);
  console.log('mode    p50 latency   p99 latency   max        consumer CPU (user+sys)');
  for (const mode of ['poll', 'epoll'] as const) {
    const reader = new RingBufReader(rb, { mode });
    reader.read(); // start from an empty ring
    const lat: number[] = [];
    const cpu0 = process.cpuUsage();
    const child = spawn(cBin, ['trickle', join(fs, 'produce'), String(count), '1000'], { stdio: 'inherit' });
    await new Promise<void>((resolve) => {
      reader.start((rec) => {
        const ts = new DataView(rec.buffer, rec.byteOffset, rec.byteLength).getBigUint64(8, true);
        lat.push(Number(process.hrtime.bigint() - ts) / 1e3);
        if (lat.length === count) resolve();
      });
    });
    const cpu = process.cpuUsage(cpu0);
    reader.close();
    await new Promise((r) => child.once('exit', r));
    lat.sort((a, b) => a - b);
    const q = (p: number) => lat[Math.min(lat.length - 1, Math.floor(p * lat.length))]!;
    const us = (x: number) => `${x.toFixed(0).padStart(6)} µs`;
    console.log(`${mode.padEnd(7)} ${us(q(0.5))}     ${us(q(0.99))}     ${us(lat[lat.length - 1]!)}  ${((cpu.user + cpu.system) / 1e3).toFixed(0)} ms over ~${(count / 1000).toFixed(0)} s`);
  }
}

/**
 * Why sys.ts declares syscall() with a fixed prototype: the same system call
 * (getpid, the cheapest there is) through koffi's variadic declaration and
 * through a fixed one, against C. koffi is used directly here only to measure
 * the two declarations side by side.
 */
async function ffiStyles(): Promise<void> {
  const { createRequire } = await import('node:module');
  const koffi = createRequire(import.meta.url)('koffi') as typeof import('koffi');
  const libc = koffi.load('libc.so.6');
  const variadic = libc.func('long syscall(long nr, ...)');
  const fixed = libc.func('long syscall(long nr, long a1, long a2, long a3)');
  const NR_getpid = process.arch === 'x64' ? 39 : 172;
  const n = 200_000;
  const best = { variadic: Infinity, fixed: Infinity };
  for (let r = 0; r < 5; r++) {
    let t0 = cpuNs();
    for (let i = 0; i < n; i++) variadic(NR_getpid, 'long', 0, 'long', 0, 'long', 0);
    best.variadic = Math.min(best.variadic, (cpuNs() - t0) / n);
    t0 = cpuNs();
    for (let i = 0; i < n; i++) fixed(NR_getpid, 0, 0, 0);
    best.fixed = Math.min(best.fixed, (cpuNs() - t0) / n);
  }
  console.log(`\nFFI declaration of syscall() (getpid, best of 5 × ${n}, CPU ns per call)`);
  console.log(`variadic (type/value pairs)  ${best.variadic.toFixed(0).padStart(5)} ns`);
  console.log(`fixed prototype              ${best.fixed.toFixed(0).padStart(5)} ns   (${((1 - best.fixed / best.variadic) * 100).toFixed(0)}% less)`);
}

export async function run(): Promise<void> {
  if (process.getuid?.() !== 0) {
    console.log('kernel: skipped (needs root: CAP_BPF and CAP_PERFMON)');
    return;
  }
  if (spawnSync('clang', ['--version']).status !== 0) {
    console.log('kernel: skipped (needs clang for the producer program)');
    return;
  }
  const bins = build();
  await ffiStyles();
  mapBench(bins.map);
  await ringbufBench(bins);
}
