/**
 * A/B of two builds of bpfkit/filter (for compile-speed work): both builds' compile() run on the
 * same expressions in interleaved slices of CPU time, the order alternating per round; prints per
 * expression and mode the ratio of the best slices (B/A > 1: B faster) and the median of the
 * per-round ratios, and their geometric means. Each build runs in a worker thread of its own (its
 * own V8 isolate: heap, inline caches, optimised code — as the bench runs bpfkit alone in its
 * process), and only one of them compiles at a time; interleaving keeps the machine's drift out of
 * the ratio. (Both builds in one isolate, as this script ran until 27 Nov 2026, read differently
 * with the builds' order swapped: the one loaded first ran the bracket expressions 2-4x slower in
 * some runs.) An A/A run still reads 0.95-1.05 at 20 rounds, so use 60.
 *
 *   cp -r dist /tmp/base   # before the change
 *   npm run build          # after it
 *   node scripts/filter-ab.mjs /tmp/base/filter/index.js dist/filter/index.js 60
 *
 * Environment: MODES=true,false (optimised, unoptimised), EXPRS (newline-separated; default
 * bench/filter.bench.ts's sixteen), SLICE (ms, default 5).
 */
import { resolve } from 'node:path';
import { performance } from 'node:perf_hooks';
import { URL, pathToFileURL } from 'node:url';
import { Worker, isMainThread, parentPort, workerData } from 'node:worker_threads';

const EXPRS = (
  process.env.EXPRS ??
  [
    'ip', 'tcp', 'tcp port 80', 'host 192.168.1.1', 'host 192.168.1.1 and (tcp port 80 or udp port 53)',
    'net 10.0.0.0/8 and not port 22', 'ip[2:2] > 576', 'tcp[tcpflags] & (tcp-syn|tcp-fin) != 0', 'portrange 1000-2000',
    'icmp or arp', 'ether broadcast or ether multicast', 'ip6 and udp port 53', 'vlan and ip', 'vlan 100 and tcp dst port 443',
    'src host 10.1.1.1 and dst net 192.168.0.0/16 and tcp[13] & 2 != 0', 'geneve and ip',
  ].join('\n')
).split('\n');
const MODES = (process.env.MODES ?? 'true,false').split(',').map((m) => m === 'true');
const SLICE = Number(process.env.SLICE ?? 5);

if (!isMainThread) {
  // A worker: one build; answers each [expression, optimize] with compiles per µs of CPU time.
  const f = (await import(workerData)).compile;
  for (let i = 0; i < 20000; i++) for (const o of MODES) f(EXPRS[i % EXPRS.length], { optimize: o });
  parentPort.on('message', ([e, o]) => {
    let n = 0;
    const c0 = process.cpuUsage();
    const t0 = performance.now();
    do {
      for (let i = 0; i < 8; i++) f(e, { optimize: o });
      n += 8;
    } while (performance.now() - t0 < SLICE);
    const c = process.cpuUsage(c0);
    parentPort.postMessage(n / (c.user + c.system));
  });
  parentPort.postMessage('ready');
} else {
  await main();
}

async function main() {
  const [a, b, rounds = '60'] = process.argv.slice(2);
  if (!a || !b) {
    console.error('usage: node scripts/filter-ab.mjs A/filter/index.js B/filter/index.js [rounds]');
    process.exit(2);
  }
  /** A worker for a build and a function that asks it for one slice. */
  const start = async (p) => {
    const w = new Worker(new URL(import.meta.url), { workerData: pathToFileURL(resolve(p)).href });
    await new Promise((ok, fail) => {
      w.once('message', ok);
      w.once('error', fail);
    });
    return { w, slice: (e, o) => new Promise((ok) => { w.once('message', ok); w.postMessage([e, o]); }) };
  };
  const A = await start(a);
  const B = await start(b);

  const best = new Map();
  const ratios = new Map();
  for (let r = 0; r < Number(rounds); r++) {
    for (const o of MODES) {
      for (const e of EXPRS) {
        const k = `${o ? 'O' : 'U'} ${e}`;
        let ra, rb;
        if (r % 2) {
          rb = await B.slice(e, o);
          ra = await A.slice(e, o);
        } else {
          ra = await A.slice(e, o);
          rb = await B.slice(e, o);
        }
        const [x, y] = best.get(k) ?? [0, 0];
        best.set(k, [Math.max(x, ra), Math.max(y, rb)]);
        if (!ratios.has(k)) ratios.set(k, []);
        ratios.get(k).push(rb / ra);
      }
    }
  }
  await A.w.terminate();
  await B.w.terminate();
  const geomean = (xs) => Math.exp(xs.reduce((s, x) => s + Math.log(x), 0) / xs.length);
  const median = (xs) => [...xs].sort((x, y) => x - y)[xs.length >> 1];
  for (const o of MODES) {
    const bs = [];
    const ms = [];
    for (const e of EXPRS) {
      const k = `${o ? 'O' : 'U'} ${e}`;
      const [x, y] = best.get(k);
      const m = median(ratios.get(k));
      bs.push(y / x);
      ms.push(m);
      console.log(`${k.padEnd(72)} A ${(x * 1e3).toFixed(0).padStart(7)}/ms  B ${(y * 1e3).toFixed(0).padStart(7)}/ms  best ${(y / x).toFixed(3)}  med ${m.toFixed(3)}`);
    }
    console.log(`${o ? 'optimised' : 'unoptimised'} geomean B/A: best ${geomean(bs).toFixed(3)}  median ${geomean(ms).toFixed(3)}`);
  }
}
