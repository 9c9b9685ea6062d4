/**
 * Filter compilation: expressions compiled per second by bpfkit (with and
 * without the optimiser) against libpcap's pcap_compile() (bench/c/
 * filter_compile.c, built here with gcc -O2 against Debian's libpcap-dev),
 * same expressions, same run. Also prints the program sizes.
 *
 *   npm run bench -- filter
 */
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, statSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { compile } from '../src/filter/index.js';

const here = dirname(fileURLToPath(import.meta.url));
const OUT = resolve(here, 'out');
const MIN_MS = 400;

export const EXPRESSIONS = [
  'ip',
  'tcp port 80',
  'host 192.168.1.1 and (tcp port 80 or udp port 53)',
  'net 10.0.0.0/8 and not port 22',
  'tcp[tcpflags] & (tcp-syn|tcp-fin) != 0',
  'portrange 1000-2000',
  'vlan 100 and tcp dst port 443',
  'ether broadcast or ether multicast',
  'src host 10.1.1.1 and dst net 192.168.0.0/16 and tcp[13] & 2 != 0',
  'geneve and ip',
];

function buildAnchor(): string {
  const src = resolve(here, 'c/filter_compile.c');
  const bin = resolve(OUT, 'filter_compile');
  mkdirSync(OUT, { recursive: true });
  if (!existsSync(bin) || statSync(bin).mtimeMs < statSync(src).mtimeMs) {
    execFileSync('gcc', ['-O2', '-o', bin, src, '-lpcap']);
  }
  return bin;
}

function bpfkitRate(expr: string, optimize: boolean): { rate: number; insns: number } {
  let n = 0;
  let insns = 0;
  const t0 = performance.now();
  let t: number;
  do {
    insns = compile(expr, { optimize }).length;
    n++;
    t = performance.now() - t0;
  } while (t < MIN_MS);
  return { rate: n / (t / 1000), insns };
}

export async function run(): Promise<void> {
  const bin = buildAnchor();
  const out = execFileSync(bin, [String(MIN_MS)], { input: EXPRESSIONS.join('\n') + '\n', encoding: 'utf8' });
  const libpcap = new Map<string, { rate: number; insns: number }>();
  for (const line of out.trim().split('\n')) {
    const [expr, opt, rate, insns] = line.split('\t');
    libpcap.set(`${expr}\t${opt}`, { rate: Number(rate), insns: Number(insns) });
  }
  for (let i = 0; i < 3000; i++) compile(EXPRESSIONS[i % EXPRESSIONS.length]!, { optimize: i % 2 === 0 }); // warm up the JIT
  console.log('| expression | bpfkit opt/s | libpcap opt/s | ratio | bpfkit -O/s | libpcap -O/s | ratio | insns bpfkit / libpcap |');
  console.log('| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |');
  let geo = 0, geoU = 0;
  for (const e of EXPRESSIONS) {
    const o = bpfkitRate(e, true);
    const u = bpfkitRate(e, false);
    const lo = libpcap.get(`${e}\t1`)!;
    const lu = libpcap.get(`${e}\t0`)!;
    geo += Math.log(o.rate / lo.rate);
    geoU += Math.log(u.rate / lu.rate);
    console.log(
      `| \`${e}\` | ${o.rate.toFixed(0)} | ${lo.rate.toFixed(0)} | ${(o.rate / lo.rate).toFixed(2)} | ` +
        `${u.rate.toFixed(0)} | ${lu.rate.toFixed(0)} | ${(u.rate / lu.rate).toFixed(2)} | ${o.insns} / ${lo.insns} |`,
    );
  }
  console.log(`geometric mean ratio (bpfkit / libpcap): optimised ${Math.exp(geo / EXPRESSIONS.length).toFixed(2)}, unoptimised ${Math.exp(geoU / EXPRESSIONS.length).toFixed(2)}`);
}
