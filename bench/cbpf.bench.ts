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
 * - wasm JIT: jitWasm(prog) over a WasmPackets store: the same file read
 *   straight into a WebAssembly memory (instead of a Buffer) and located by
 *   the same reader; its load time is printed next to readFileSync's, and so
 *   is the cost of copying an in-memory batch instead;
 * - libpcap: pcap_offline_filter() per packet, each packet copied into its
 *   own buffer as the C harness holds them.
 *
 * Two more lines separate memory from compute: the "memory floor" (C and
 * wasm loops that only read one byte of each packet, no filter), and the
 * same table over a hot set (the first HOT_PACKETS packets, cache-resident).
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
import { closeSync, existsSync, mkdirSync, openSync, readFileSync, readSync, statSync } from 'node:fs';
import { cpus, loadavg } from 'node:os';
import { dirname, resolve } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { readCaptureSync } from '../src/capture/index.js';
import {
  WasmPackets, formatBytecode, interpreter, jit, jitBatch, jitWasm, parseDDD, type BatchFilter, type CbpfInsn, type PacketBatch, type WasmFilter,
} from '../src/cbpf/index.js';
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
/** The hot set: this many packets from the start of the capture (about 2 MB). */
const HOT_PACKETS = 4000;

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
function perPacketRound(filter: Filter, packets: readonly Pkt[], seconds = ROUND_SECONDS): Round {
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
    const [filtered, us, accepted] = loop(filter, packets, seconds * 1e6, cpuMicros);
    return { filtered, seconds: us / 1e6, accepted };
  };
}

/** A round that filters a whole packet set per call (`filterAll` returns the accepted count). */
function wholeSetRound(filterAll: () => number, count: number, seconds = ROUND_SECONDS): Round {
  return () => {
    let filtered = 0;
    let accepted = 0;
    const t0 = cpuMicros();
    let t: number;
    do {
      accepted = filterAll();
      filtered += count;
      t = cpuMicros() - t0;
    } while (t < seconds * 1e6);
    return { filtered, seconds: t / 1e6, accepted };
  };
}

function batchRound(filter: BatchFilter, batch: PacketBatch, seconds = ROUND_SECONDS): Round {
  return wholeSetRound(() => filter(batch), batch.count ?? batch.offsets.length, seconds);
}

function wasmRound(filter: WasmFilter, store: WasmPackets, seconds = ROUND_SECONDS): Round {
  return wholeSetRound(() => filter(store), store.count, seconds);
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
  constructor(exe: string, file: string, maxPackets?: number) {
    this.child = spawn(exe, maxPackets === undefined ? [file] : [file, String(maxPackets)], { stdio: ['pipe', 'pipe', 'inherit'] });
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
  async round(index: number, secs = ROUND_SECONDS): Promise<{ filtered: number; seconds: number; accepted: number }> {
    const [, filtered, seconds, accepted] = (await this.ask(`R ${index} ${secs}`)).split(' ');
    return { filtered: Number(filtered), seconds: Number(seconds), accepted: Number(accepted) };
  }
  /** The memory floor: packets per CPU-second when each packet is only touched. */
  async touch(secs = ROUND_SECONDS): Promise<number> {
    const [, filtered, seconds] = (await this.ask(`T ${secs}`)).split(' ');
    return Number(filtered) / Number(seconds);
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

/** The wasm memory floor: read byte 12 of each packet of the store, nothing else ("ldb [12]; ret a"). */
const TOUCH = parseDDD('2\n48 0 0 12\n22 0 0 0\n');

interface TableOptions {
  title: string;
  packets: Pkt[];
  batch: PacketBatch;
  store: WasmPackets;
  anchor: Anchor;
  programs: CbpfInsn[][];
  rounds: number;
  seconds: number;
}

async function table(o: TableOptions): Promise<{ jit: number[]; batch: number[]; wasm: number[] }> {
  const { packets, batch, store, anchor, programs } = o;
  console.log(`\n${o.title}`);
  const header = `${'filter'.padEnd(50)} ${'interp'.padStart(7)} ${'JIT'.padStart(7)} ${'batch'.padStart(7)} ${'wasm'.padStart(7)} ${'libpcap'.padStart(7)}` +
    '  JIT/lib batch/lib wasm/lib  kept';
  console.log(header);
  console.log('-'.repeat(header.length));
  const ratios = { jit: [] as number[], batch: [] as number[], wasm: [] as number[] };
  for (let i = 0; i < programs.length; i++) {
    const prog = programs[i]!;
    const index = await anchor.define(prog);
    const engines: { name: string; round: Round | (() => Promise<ReturnType<Round>>) }[] = [
      { name: 'interpreter', round: perPacketRound(interpreter(prog) as Filter, packets, o.seconds) },
      { name: 'JIT', round: perPacketRound(jit(prog) as Filter, packets, o.seconds) },
      { name: 'batch JIT', round: batchRound(jitBatch(prog), batch, o.seconds) },
      { name: 'wasm JIT', round: wasmRound(jitWasm(prog), store, o.seconds) },
      { name: 'libpcap', round: () => anchor.round(index, o.seconds) },
    ];
    const best = engines.map(() => 0);
    const kept = engines.map(() => -1);
    for (let r = 0; r < o.rounds; r++) {
      for (const [e, engine] of engines.entries()) {
        const res = await engine.round();
        best[e] = Math.max(best[e]!, res.filtered / res.seconds);
        kept[e] = res.accepted;
      }
    }
    if (new Set(kept).size !== 1) {
      throw new Error(`${EXPRESSIONS[i]}: the engines keep different numbers of packets: ${engines.map((e, j) => `${e.name} ${kept[j]}`).join(', ')}`);
    }
    const [pi, pj, pb, pw, pl] = best as [number, number, number, number, number];
    ratios.jit.push(pj / pl);
    ratios.batch.push(pb / pl);
    ratios.wasm.push(pw / pl);
    console.log(
      `${EXPRESSIONS[i]!.padEnd(50)} ${mpps(pi)} ${mpps(pj)} ${mpps(pb)} ${mpps(pw)} ${mpps(pl)}  ${(pj / pl).toFixed(2).padStart(6)}x ${(pb / pl).toFixed(2).padStart(8)}x` +
      ` ${(pw / pl).toFixed(2).padStart(7)}x  ${((100 * kept[0]!) / packets.length).toFixed(1)}%`,
    );
  }
  console.log(`vs libpcap (target >= 2x), geometric mean (min): JIT ${geo(ratios.jit).toFixed(2)}x (${Math.min(...ratios.jit).toFixed(2)}x); ` +
    `batch JIT ${geo(ratios.batch).toFixed(2)}x (${Math.min(...ratios.batch).toFixed(2)}x); wasm JIT ${geo(ratios.wasm).toFixed(2)}x (${Math.min(...ratios.wasm).toFixed(2)}x)`);
  return ratios;
}

const geo = (xs: number[]): number => Math.exp(xs.reduce((s, r) => s + Math.log(r), 0) / xs.length);

export async function run(): Promise<void> {
  // CBPF_BENCH_CAPTURE=FILE measures on another capture.
  const file = process.env.CBPF_BENCH_CAPTURE ?? (await ensureBenchCapture());
  const exe = buildAnchor();
  const anchor = new Anchor(exe, file);
  const hotAnchor = new Anchor(exe, file, HOT_PACKETS);
  const raw = readFileSync(file);
  const bytes = new Uint8Array(raw.buffer, raw.byteOffset, raw.length);
  const packets: Pkt[] = readCaptureSync(bytes).packets;
  const batch: PacketBatch = {
    buffer: bytes,
    offsets: Uint32Array.from(packets, (p) => p.data.byteOffset - bytes.byteOffset),
    caplens: Uint32Array.from(packets, (p) => p.data.length),
    wireLengths: Uint32Array.from(packets, (p) => p.wireLength),
  };
  // The wasm store: the file read straight into a WebAssembly memory (no
  // copy), then located by the same reader. Its load time is printed next to
  // readFileSync's, and a copy of the in-memory batch is timed too.
  const l0 = cpuMicros();
  const reread = readFileSync(file);
  const readSeconds = (cpuMicros() - l0) / 1e6;
  void reread;
  const w0 = cpuMicros();
  const store = WasmPackets.fill(statSync(file).size, (data) => {
    const fd = openSync(file, 'r');
    try {
      for (let at = 0; at < data.length;) {
        const n = readSync(fd, data, at, data.length - at, at);
        if (n === 0) throw new Error(`${file}: shorter than its size`);
        at += n;
      }
    } finally {
      closeSync(fd);
    }
    const found = readCaptureSync(data).packets;
    return {
      offsets: Uint32Array.from(found, (p) => p.data.byteOffset),
      caplens: Uint32Array.from(found, (p) => p.data.length),
      wireLengths: Uint32Array.from(found, (p) => p.wireLength),
    };
  });
  const fillSeconds = (cpuMicros() - w0) / 1e6;
  if (store.count !== packets.length) throw new Error(`wasm store: ${store.count} packets, expected ${packets.length}`);
  const c0 = cpuMicros();
  WasmPackets.from(batch);
  const copySeconds = (cpuMicros() - c0) / 1e6;
  const hot = packets.slice(0, HOT_PACKETS);
  const hotEnd = batch.offsets[hot.length - 1]! + hot[hot.length - 1]!.data.length;
  const hotBatch: PacketBatch = { ...batch, buffer: bytes.subarray(0, hotEnd), count: hot.length };
  const hotStore = WasmPackets.from(hotBatch);
  const programs = EXPRESSIONS.map(tcpdumpProgram);
  const cpu = cpus()[0]?.model ?? 'unknown CPU';
  console.log(`${packets.length} packets in memory (${file}, ${(bytes.length / 2 ** 20).toFixed(0)} MiB); ${cpus().length} CPUs, ${cpu}; Node ${process.version}; load ${loadavg()[0]!.toFixed(1)}`);
  console.log(`best of ${ROUNDS} interleaved rounds of >= ${ROUND_SECONDS}s of CPU each; packets per CPU-second (M = million)`);
  console.log(`loading: readFileSync ${(readSeconds * 1e3).toFixed(0)} ms of CPU; the file read into wasm memory and located ${(fillSeconds * 1e3).toFixed(0)} ms ` +
    `(what the wasm JIT runs on); a copy of the in-memory batch into wasm memory would cost ${(copySeconds * 1e3).toFixed(0)} ms`);
  try {
    // Memory floor: each packet only touched, no filter.
    let floorC = 0, floorW = 0;
    const touch = wasmRound(jitWasm(TOUCH), store);
    for (let r = 0; r < 3; r++) {
      floorC = Math.max(floorC, await anchor.touch());
      const res = touch();
      floorW = Math.max(floorW, res.filtered / res.seconds);
    }
    console.log(`memory floor (one byte of each packet read, no filter): C ${mpps(floorC).trim()}, wasm ${mpps(floorW).trim()} packets/s`);
    await table({ title: `all ${packets.length} packets`, packets, batch, store, anchor, programs, rounds: ROUNDS, seconds: ROUND_SECONDS });
    await table({
      title: `hot set: the first ${hot.length} packets (${(hotEnd / 2 ** 20).toFixed(1)} MiB), rounds of >= 0.2s`,
      packets: hot, batch: hotBatch, store: hotStore, anchor: hotAnchor, programs, rounds: 3, seconds: 0.2,
    });
  } finally {
    anchor.close();
    hotAnchor.close();
  }
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  await run();
}
