/**
 * Classic BPF: packets per second of bpfkit's interpreter and JIT against
 * libpcap's own interpreter (pcap_offline_filter(), in C: bench/c/offline_filter.c,
 * built here with gcc -O2 against Debian's libpcap-dev), on the same packets
 * held in memory: the 250,000-packet capture of bench/capture-fixture.ts.
 *
 * The programs are `tcpdump -ddd -y EN10MB EXPR` (Debian's tcpdump/libpcap),
 * so all three engines run the very same instructions; the bench checks that
 * they keep the same packets. Each figure is the best of 3 rounds of at least
 * 0.5 s of whole passes over the capture.
 *
 *   npm run bench -- cbpf
 */
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, statSync } from 'node:fs';
import { cpus } from 'node:os';
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { readCaptureSync } from '../src/capture/index.js';
import { formatBytecode, interpreter, jit, parseDDD, type CbpfInsn } from '../src/cbpf/index.js';
import { ensureBenchCapture } from './capture-fixture.js';

const here = dirname(fileURLToPath(import.meta.url));
const OUT = resolve(here, 'out');

export const EXPRESSIONS = [
  'tcp port 80',
  'host 192.168.1.1 and (tcp port 80 or udp port 53)',
  'ip[2:2] > 576',
  'vlan and ip',
  'ip6 and tcp dst port 443',
  'udp port 53 or icmp or arp',
];

const MIN_SECONDS = 0.5;
const ROUNDS = 3;

interface Pkt {
  data: Uint8Array;
  wireLength: number;
}

type Filter = (data: Uint8Array, wireLength: number) => number;

/**
 * A timing loop of its own for each filter (compiled separately, so that the
 * call inside it stays monomorphic): best of ROUNDS rounds.
 */
function measure(filter: Filter, packets: readonly Pkt[]): { pps: number; accepted: number } {
  const loop = new Function(
    'f', 'packets', 'minMs',
    `let filtered = 0, accepted = 0; const t0 = performance.now(); let t;
     do {
       let acc = 0;
       for (let i = 0; i < packets.length; i++) { const p = packets[i]; if (f(p.data, p.wireLength) !== 0) acc++; }
       accepted = acc; filtered += packets.length; t = performance.now() - t0;
     } while (t < minMs);
     return [filtered, t, accepted];`,
  ) as (f: Filter, packets: readonly Pkt[], minMs: number) => [number, number, number];
  let best = 0;
  let accepted = 0;
  for (let r = 0; r < ROUNDS; r++) {
    const [filtered, ms, acc] = loop(filter, packets, MIN_SECONDS * 1000);
    best = Math.max(best, filtered / (ms / 1000));
    accepted = acc;
  }
  return { pps: best, accepted };
}

function buildAnchor(): string {
  mkdirSync(OUT, { recursive: true });
  const src = resolve(here, 'c/offline_filter.c');
  const exe = resolve(OUT, 'offline_filter');
  if (!existsSync(exe) || statSync(exe).mtimeMs < statSync(src).mtimeMs) {
    execFileSync('gcc', ['-O2', '-o', exe, src, '-lpcap'], { stdio: 'inherit' });
  }
  return exe;
}

function tcpdumpProgram(expr: string): CbpfInsn[] {
  return parseDDD(execFileSync('tcpdump', ['-ddd', '-y', 'EN10MB', expr], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }));
}

const mpps = (pps: number): string => `${(pps / 1e6).toFixed(1)}M`.padStart(7);

export async function run(): Promise<void> {
  const file = await ensureBenchCapture();
  const anchor = buildAnchor();
  const bytes = readFileSync(file);
  const packets: Pkt[] = readCaptureSync(bytes).packets;
  const programs = EXPRESSIONS.map(tcpdumpProgram);
  const cpu = cpus()[0]?.model ?? 'unknown CPU';
  console.log(`${packets.length} packets in memory (${file}); ${cpus().length} CPUs, ${cpu}; Node ${process.version}`);
  console.log(`best of ${ROUNDS} rounds of >= ${MIN_SECONDS}s; packets/s (M = million)\n`);

  const c = execFileSync(anchor, [file, String(MIN_SECONDS), String(ROUNDS)], {
    input: programs.map((p) => formatBytecode(p) + '\n').join(''),
    encoding: 'utf8',
  })
    .trim()
    .split('\n')
    .map((l) => {
      const [, filtered, seconds, accepted] = l.split(' ');
      return { pps: Number(filtered) / Number(seconds), accepted: Number(accepted) };
    });

  const header = `${'filter'.padEnd(52)} ${'interp'.padStart(7)} ${'JIT'.padStart(7)} ${'libpcap'.padStart(7)}  JIT/libpcap  interp/libpcap  kept`;
  console.log(header);
  console.log('-'.repeat(header.length));
  const ratios: number[] = [];
  programs.forEach((prog, i) => {
    const interp = measure(interpreter(prog) as Filter, packets);
    const jitted = measure(jit(prog) as Filter, packets);
    const lib = c[i]!;
    if (interp.accepted !== lib.accepted || jitted.accepted !== lib.accepted) {
      throw new Error(`${EXPRESSIONS[i]}: kept ${interp.accepted} (interpreter), ${jitted.accepted} (JIT), ${lib.accepted} (libpcap)`);
    }
    const r = jitted.pps / lib.pps;
    ratios.push(r);
    console.log(
      `${EXPRESSIONS[i]!.padEnd(52)} ${mpps(interp.pps)} ${mpps(jitted.pps)} ${mpps(lib.pps)}  ${r.toFixed(2).padStart(10)}x  ${(interp.pps / lib.pps).toFixed(2).padStart(13)}x  ${((100 * lib.accepted) / packets.length).toFixed(1)}%`,
    );
  });
  const geo = Math.exp(ratios.reduce((s, r) => s + Math.log(r), 0) / ratios.length);
  console.log(`\nJIT vs libpcap: geometric mean ${geo.toFixed(2)}x, min ${Math.min(...ratios).toFixed(2)}x (target >= 2x)`);
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  await run();
}
