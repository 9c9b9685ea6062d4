/**
 * Classic BPF: packets per second of bpfkit's interpreter and JIT against
 * libpcap's own interpreter (pcap_offline_filter(), in C: bench/c/offline_filter.c,
 * built here with gcc -O2 against Debian's libpcap-dev), on the same packets
 * held in memory: the 250,000-packet capture of bench/capture-fixture.ts.
 *
 * - interpreter: interpreter(prog)(data, wireLength) per packet;
 * - JIT: jit(prog)(data, wireLength) per packet (packets as src/capture
 *   yields them: views into the file's bytes);
 * - batch JIT: jitBatch(prog) over the whole file buffer in one call (the
 *   packet loop compiled in), offsets found by src/capture's reader;
 * - libpcap: pcap_offline_filter() per packet, each packet copied into its
 *   own buffer as the C harness holds them.
 *
 * The programs are `tcpdump -ddd -y EN10MB EXPR` (Debian's tcpdump/libpcap),
 * so all engines run the very same instructions; the bench checks that they
 * keep the same packets. Time is CPU time (process.cpuUsage() here,
 * CLOCK_PROCESS_CPUTIME_ID in C), so that other jobs on a shared machine do
 * not count; rounds of the four engines are interleaved (a round is whole
 * passes over the capture for at least 0.4 s of CPU) so that cache and memory
 * contention hit them alike; each figure is the best of 5 rounds.
 *
 *   npm run bench -- cbpf
 *   CBPF_BENCH_CAPTURE=other.pcap npm run bench -- cbpf
 */
import { execFileSync, spawn } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, statSync } from 'node:fs';
import { cpus, loadavg } from 'node:os';
import { dirname, resolve } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { readCaptureSync } from '../src/capture/index.js';
import { formatBytecode, interpreter, jit, jitBatch, parseDDD, type BatchFilter, type CbpfInsn, type PacketBatch } from '../src/cbpf/index.js';
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

const ROUND_SECONDS = 0.4;
const ROUNDS = 5;

interface Pkt {
  data: Uint8Array;
  wireLength: number;
}

type Filter = (data: Uint8Array, wireLength: number) => number;
type Round = () => { filtered: number; seconds: number; accepted: number };

let loops = 0;

/**
 * A round of per-packet calls, with a timing loop of its own so that the call
 * in it stays monomorphic (and can be inlined). The loop's source is made
 * unique: V8 shares compiled code between `new Function`s of identical text.
 */
function perPacketRound(filter: Filter, packets: readonly Pkt[]): Round {
  const loop = new Function(
    'f', 'packets', 'minUs', 'cpu',
    `/* loop ${++loops} */ let filtered = 0, accepted = 0; const t0 = cpu(); let t;
     do {
       let acc = 0;
       for (let i = 0; i < packets.length; i++) { const p = packets[i]; if (f(p.data, p.wireLength) !== 0) acc++; }
       accepted = acc; filtered += packets.length; t = cpu() - t0;
     } while (t < minUs);
     return [filtered, t, accepted];`,
  ) as (f: Filter, packets: readonly Pkt[], minUs: number, cpu: () => number) => [number, number, number];
  return () => {
    const [filtered, us, accepted] = loop(filter, packets, ROUND_SECONDS * 1e6, cpuMicros);
    return { filtered, seconds: us / 1e6, accepted };
  };
}

function batchRound(filter: BatchFilter, batch: PacketBatch): Round {
  return () => {
    let filtered = 0;
    let accepted = 0;
    const t0 = cpuMicros();
    let t: number;
    do {
      accepted = filter(batch);
      filtered += batch.offsets.length;
      t = cpuMicros() - t0;
    } while (t < ROUND_SECONDS * 1e6);
    return { filtered, seconds: t / 1e6, accepted };
  };
}

/** CPU time of this process (user + system), in microseconds. */
function cpuMicros(): number {
  const u = process.cpuUsage();
  return u.user + u.system;
}

/** The C anchor as a server: one round per request. */
class Anchor {
  private readonly child;
  private readonly lines: AsyncIterator<string>;
  constructor(exe: string, file: string) {
    this.child = spawn(exe, [file], { stdio: ['pipe', 'pipe', 'inherit'] });
    this.lines = createInterface({ input: this.child.stdout })[Symbol.asyncIterator]();
  }
  private async ask(line: string): Promise<string> {
    this.child.stdin.write(line + '\n');
    const r = await this.lines.next();
    if (r.done || r.value.startsWith('?')) throw new Error(`offline_filter: ${r.done ? 'exited' : r.value} (request ${line.slice(0, 40)})`);
    return r.value;
  }
  async define(prog: CbpfInsn[]): Promise<number> {
    return Number((await this.ask(`P ${formatBytecode(prog)}`)).split(' ')[1]);
  }
  async round(index: number): Promise<{ filtered: number; seconds: number; accepted: number }> {
    const [, filtered, seconds, accepted] = (await this.ask(`R ${index} ${ROUND_SECONDS}`)).split(' ');
    return { filtered: Number(filtered), seconds: Number(seconds), accepted: Number(accepted) };
  }
  close(): void {
    this.child.stdin.end();
  }
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
  // CBPF_BENCH_CAPTURE=FILE measures on another capture (e.g. a small, cache-resident one).
  const file = process.env.CBPF_BENCH_CAPTURE ?? (await ensureBenchCapture());
  const anchor = new Anchor(buildAnchor(), file);
  const raw = readFileSync(file);
  const bytes = new Uint8Array(raw.buffer, raw.byteOffset, raw.length);
  const packets: Pkt[] = readCaptureSync(bytes).packets;
  const batch: PacketBatch = {
    buffer: bytes,
    offsets: Uint32Array.from(packets, (p) => p.data.byteOffset - bytes.byteOffset),
    caplens: Uint32Array.from(packets, (p) => p.data.length),
    wireLengths: Uint32Array.from(packets, (p) => p.wireLength),
  };
  const programs = EXPRESSIONS.map(tcpdumpProgram);
  const cpu = cpus()[0]?.model ?? 'unknown CPU';
  console.log(`${packets.length} packets in memory (${file}); ${cpus().length} CPUs, ${cpu}; Node ${process.version}; load ${loadavg()[0]!.toFixed(1)}`);
  console.log(`best of ${ROUNDS} interleaved rounds of >= ${ROUND_SECONDS}s of CPU each; packets per CPU-second (M = million)\n`);

  const header = `${'filter'.padEnd(50)} ${'interp'.padStart(7)} ${'JIT'.padStart(7)} ${'batch'.padStart(7)} ${'libpcap'.padStart(7)}   JIT/lib batch/lib interp/lib  kept`;
  console.log(header);
  console.log('-'.repeat(header.length));
  const ratios = { jit: [] as number[], batch: [] as number[] };
  try {
    for (let i = 0; i < programs.length; i++) {
      const prog = programs[i]!;
      const index = await anchor.define(prog);
      const engines: { name: string; round: Round | (() => Promise<ReturnType<Round>>) }[] = [
        { name: 'interpreter', round: perPacketRound(interpreter(prog) as Filter, packets) },
        { name: 'JIT', round: perPacketRound(jit(prog) as Filter, packets) },
        { name: 'batch JIT', round: batchRound(jitBatch(prog), batch) },
        { name: 'libpcap', round: () => anchor.round(index) },
      ];
      const best = engines.map(() => 0);
      const kept = engines.map(() => -1);
      for (let r = 0; r < ROUNDS; r++) {
        for (const [e, engine] of engines.entries()) {
          const res = await engine.round();
          best[e] = Math.max(best[e]!, res.filtered / res.seconds);
          kept[e] = res.accepted;
        }
      }
      if (new Set(kept).size !== 1) {
        throw new Error(`${EXPRESSIONS[i]}: the engines keep different numbers of packets: ${engines.map((e, j) => `${e.name} ${kept[j]}`).join(', ')}`);
      }
      const [pi, pj, pb, pl] = best as [number, number, number, number];
      ratios.jit.push(pj / pl);
      ratios.batch.push(pb / pl);
      console.log(
        `${EXPRESSIONS[i]!.padEnd(50)} ${mpps(pi)} ${mpps(pj)} ${mpps(pb)} ${mpps(pl)}  ${(pj / pl).toFixed(2).padStart(7)}x ${(pb / pl).toFixed(2).padStart(8)}x ${(pi / pl).toFixed(2).padStart(9)}x  ${((100 * kept[0]!) / packets.length).toFixed(1)}%`,
      );
    }
  } finally {
    anchor.close();
  }
  const geo = (xs: number[]): number => Math.exp(xs.reduce((s, r) => s + Math.log(r), 0) / xs.length);
  console.log(`\nvs libpcap (target >= 2x): JIT geometric mean ${geo(ratios.jit).toFixed(2)}x (min ${Math.min(...ratios.jit).toFixed(2)}x); ` +
    `batch JIT ${geo(ratios.batch).toFixed(2)}x (min ${Math.min(...ratios.batch).toFixed(2)}x)`);
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  await run();
}
