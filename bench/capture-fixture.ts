/**
 * The benchmark capture: `ensureBenchCapture()` returns the path of a pcap
 * file of 250,000 Ethernet packets in bench/out/ (git-ignored), generating it
 * the first time (116 MiB, a few seconds). Both the classic-BPF bench and the
 * capture-reading bench use it.
 *
 * The packets are synthesised, deterministically (a seeded PRNG), as a mix
 * that resembles a busy LAN segment seen from a gateway rather than loopback
 * traffic, so that the benchmark filters each keep a meaningful share:
 *
 * - some IPv4 frames carry 802.1Q tags (1 in 5 of those QinQ, 0x88a8 then
 *   0x8100): `vlan and ip` keeps 16,497 packets (6.6%);
 * - IPv4, IPv6 (~18% of flows), ARP, LLDP and 802.3/LLC (STP) frames;
 * - over IP: TCP ~66% of flows, UDP ~30% (80% of it DNS, port 53), ICMP and
 *   ICMPv6 the rest; TCP ports 80, 443, 22, 8080, 3306, 5432, 25:
 *   `tcp port 80` keeps 41,052 packets (16.4%);
 * - hosts in 192.168.1.0/24 with 192.168.1.1 as the gateway on ~40% of IPv4
 *   flows, 10.0.0.0/16 and public addresses: `host 192.168.1.1 and (tcp port
 *   80 or udp port 53)` keeps 31,742 (12.7%);
 * - sizes: pure ACKs (54-66 bytes), small requests, full 1514-byte segments
 *   and medium ones: `ip[2:2] > 576` keeps 51,993 (20.8%).
 *
 * IPv4 header checksums and TCP/UDP checksums are computed; timestamps step
 * by 1-40 µs from 2024-01-01. Run `npx tsx bench/capture-fixture.ts` to
 * (re)generate it and print the shares each benchmark filter keeps.
 */
import { existsSync, mkdirSync, renameSync, statSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Packet } from '../src/capture/packet.js';
import { FileSink, PcapWriter } from '../src/capture/writer.js';

const here = dirname(fileURLToPath(import.meta.url));
export const BENCH_OUT = resolve(here, 'out');
export const BENCH_CAPTURE = resolve(BENCH_OUT, 'bench-250k.pcap');
export const BENCH_PACKETS = 250_000;
/** Bump when the generator changes, so stale files are regenerated. */
const VERSION = 1;
const STAMP = resolve(BENCH_OUT, `bench-250k.v${VERSION}`);

/** Path of the benchmark capture, generated on first use. */
export async function ensureBenchCapture(): Promise<string> {
  if (existsSync(BENCH_CAPTURE) && existsSync(STAMP)) return BENCH_CAPTURE;
  mkdirSync(BENCH_OUT, { recursive: true });
  const tmp = `${BENCH_CAPTURE}.tmp`;
  await generate(tmp, BENCH_PACKETS);
  renameSync(tmp, BENCH_CAPTURE);
  const { closeSync, openSync } = await import('node:fs');
  closeSync(openSync(STAMP, 'w'));
  return BENCH_CAPTURE;
}

/**
 * A larger capture from the same generator (its first 250,000 packets are the
 * bench capture's): 1,000,000 packets by default, about 465 MiB, in
 * bench/out/bench-<N>.pcap. The read bench uses it to separate start-up from
 * the steady per-packet rate.
 */
export async function ensureLargeBenchCapture(packets = 1_000_000): Promise<string> {
  const name = packets % 1_000_000 === 0 ? `${packets / 1_000_000}m` : `${packets / 1000}k`;
  const path = resolve(BENCH_OUT, `bench-${name}.pcap`);
  const stamp = resolve(BENCH_OUT, `bench-${name}.v${VERSION}`);
  if (existsSync(path) && existsSync(stamp)) return path;
  mkdirSync(BENCH_OUT, { recursive: true });
  await generate(`${path}.tmp`, packets);
  renameSync(`${path}.tmp`, path);
  const { closeSync, openSync } = await import('node:fs');
  closeSync(openSync(stamp, 'w'));
  return path;
}

/** xorshift32: small, fast, deterministic. */
class Rng {
  constructor(private s: number) {}
  next(): number {
    let x = this.s;
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    this.s = x >>> 0;
    return this.s;
  }
  /** Uniform in [0, 1). */
  float(): number {
    return this.next() / 4294967296;
  }
  int(lo: number, hi: number): number {
    return lo + Math.floor(this.float() * (hi - lo + 1));
  }
  pick<T>(items: readonly T[]): T {
    return items[Math.floor(this.float() * items.length)]!;
  }
}

const GATEWAY = [192, 168, 1, 1];
const GATEWAY6 = [0x20, 0x01, 0x0d, 0xb8, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1];
const GATEWAY_MAC = [0x00, 0x1b, 0x21, 0x3a, 0x4f, 0x01];

interface Flow {
  v6: boolean;
  proto: 6 | 17 | 1;
  src: number[];
  dst: number[];
  sport: number;
  dport: number;
  vlan: number[]; // tag stack: [] or [tci] or [outer, inner]
  seq: number;
  ack: number;
}

function lanHost(rng: Rng): number[] {
  return [192, 168, 1, rng.int(2, 254)];
}

function publicHost(rng: Rng): number[] {
  return [rng.pick([23, 45, 93, 104, 142, 151, 172, 185, 203]), rng.int(0, 255), rng.int(0, 255), rng.int(1, 254)];
}

function host6(rng: Rng): number[] {
  const a = [0x20, 0x01, 0x0d, 0xb8, 0, rng.int(0, 3)];
  while (a.length < 16) a.push(rng.int(0, 255));
  return a;
}

function newFlow(rng: Rng): Flow {
  const v6 = rng.float() < 0.18;
  const r = rng.float();
  const proto: Flow['proto'] = r < 0.66 ? 6 : r < 0.96 ? 17 : 1;
  let dport: number;
  if (proto === 6) dport = rng.pick([80, 80, 80, 443, 443, 443, 22, 8080, 3306, 5432, 25]);
  else if (proto === 17) dport = rng.float() < 0.8 ? 53 : rng.pick([123, 443, 5353, 161, 514, 1900]);
  else dport = 0;
  let src: number[];
  let dst: number[];
  if (v6) {
    src = host6(rng);
    dst = rng.float() < 0.3 ? GATEWAY6 : host6(rng);
  } else {
    src = rng.float() < 0.7 ? lanHost(rng) : [10, 0, rng.int(0, 255), rng.int(1, 254)];
    const g = rng.float();
    dst = g < 0.4 ? GATEWAY : g < 0.7 ? publicHost(rng) : lanHost(rng);
  }
  const vr = rng.float();
  const vlan = v6 || vr > 0.1 ? [] : vr < 0.02 ? [rng.int(100, 200), rng.int(1, 4094)] : [rng.int(1, 4094)];
  return {
    v6,
    proto,
    src,
    dst,
    sport: rng.int(32768, 60999),
    dport,
    vlan,
    seq: rng.next(),
    ack: rng.next(),
  };
}

function checksum(buf: Uint8Array, start: number, end: number, initial = 0): number {
  let sum = initial;
  let i = start;
  for (; i + 1 < end; i += 2) sum += (buf[i]! << 8) | buf[i + 1]!;
  if (i < end) sum += buf[i]! << 8;
  while (sum > 0xffff) sum = (sum & 0xffff) + (sum >>> 16);
  return ~sum & 0xffff;
}

function put16(b: Uint8Array, o: number, v: number): void {
  b[o] = (v >>> 8) & 0xff;
  b[o + 1] = v & 0xff;
}

function put32(b: Uint8Array, o: number, v: number): void {
  b[o] = (v >>> 24) & 0xff;
  b[o + 1] = (v >>> 16) & 0xff;
  b[o + 2] = (v >>> 8) & 0xff;
  b[o + 3] = v & 0xff;
}

function pseudoSum(src: number[], dst: number[], proto: number, len: number): number {
  let s = 0;
  for (let i = 0; i < src.length; i += 2) s += (src[i]! << 8) | src[i + 1]!;
  for (let i = 0; i < dst.length; i += 2) s += (dst[i]! << 8) | dst[i + 1]!;
  return s + proto + len;
}

/** One frame of a flow; `reply` swaps the direction. */
function frame(rng: Rng, f: Flow, reply: boolean): Uint8Array {
  const src = reply ? f.dst : f.src;
  const dst = reply ? f.src : f.dst;
  const sport = reply ? f.dport : f.sport;
  const dport = reply ? f.sport : f.dport;
  // Payload size.
  let payload: number;
  if (f.proto === 6) {
    const r = rng.float();
    payload = r < 0.4 ? 0 : r < 0.62 ? 1448 : r < 0.8 ? rng.int(40, 500) : rng.int(500, 1400);
  } else if (f.proto === 17) {
    payload = f.dport === 53 || f.sport === 53 ? (reply ? rng.int(60, 480) : rng.int(20, 60)) : rng.int(40, 900);
  } else {
    payload = rng.float() < 0.9 ? 56 : rng.int(100, 1400);
  }
  const l4 = f.proto === 6 ? 20 + (payload === 0 && rng.float() < 0.5 ? 12 : 0) : 8;
  const ipHdr = f.v6 ? 40 : 20;
  const ipLen = ipHdr + l4 + payload;
  const l2 = 14 + 4 * f.vlan.length;
  const b = new Uint8Array(l2 + ipLen);
  // Ethernet.
  const macA = reply ? GATEWAY_MAC : [0x02, 0x42, src[src.length - 3]!, src[src.length - 2]!, src[src.length - 1]!, 0x10];
  const macB = reply ? [0x02, 0x42, dst[dst.length - 3]!, dst[dst.length - 2]!, dst[dst.length - 1]!, 0x10] : GATEWAY_MAC;
  b.set(macB, 0);
  b.set(macA, 6);
  let o = 12;
  for (let i = 0; i < f.vlan.length; i++) {
    put16(b, o, i === 0 && f.vlan.length === 2 ? 0x88a8 : 0x8100);
    put16(b, o + 2, f.vlan[i]! | (rng.int(0, 7) << 13));
    o += 4;
  }
  put16(b, o, f.v6 ? 0x86dd : 0x0800);
  o += 2;
  const ip = o;
  if (f.v6) {
    b[ip] = 0x60;
    put16(b, ip + 4, l4 + payload);
    b[ip + 6] = f.proto === 1 ? 58 : f.proto;
    b[ip + 7] = 64;
    b.set(src, ip + 8);
    b.set(dst, ip + 24);
  } else {
    b[ip] = 0x45;
    put16(b, ip + 2, ipLen);
    put16(b, ip + 4, rng.int(0, 65535));
    put16(b, ip + 6, 0x4000);
    b[ip + 8] = reply ? 57 : 64;
    b[ip + 9] = f.proto;
    b.set(src, ip + 12);
    b.set(dst, ip + 16);
    put16(b, ip + 10, checksum(b, ip, ip + 20));
  }
  const t = ip + ipHdr;
  for (let i = t + l4; i < b.length; i++) b[i] = 0x20 + ((i * 7) % 90);
  if (f.proto === 6) {
    put16(b, t, sport);
    put16(b, t + 2, dport);
    put32(b, t + 4, reply ? f.ack : f.seq);
    put32(b, t + 8, reply ? f.seq : f.ack);
    b[t + 12] = (l4 / 4) << 4;
    b[t + 13] = payload > 0 ? 0x18 : rng.float() < 0.03 ? 0x02 : 0x10;
    put16(b, t + 14, 502);
    if (l4 === 32) {
      b.set([1, 1, 8, 10], t + 20);
      put32(b, t + 24, rng.next());
      put32(b, t + 28, rng.next());
    }
    if (payload >= 16 && (dport === 80 || dport === 8080) && !reply) b.set(new TextEncoder().encode('GET /index.html'), t + l4);
    if (payload >= 15 && (sport === 80 || sport === 8080) && reply) b.set(new TextEncoder().encode('HTTP/1.1 200 OK'), t + l4);
    if (reply) f.ack = (f.ack + payload) >>> 0;
    else f.seq = (f.seq + payload) >>> 0;
  } else if (f.proto === 17) {
    put16(b, t, sport);
    put16(b, t + 2, dport);
    put16(b, t + 4, l4 + payload);
    if (payload >= 12 && (dport === 53 || sport === 53)) {
      put16(b, t + 8, rng.int(0, 65535));
      put16(b, t + 10, reply ? 0x8180 : 0x0100);
      put16(b, t + 12, 1);
      put16(b, t + 14, reply ? 1 : 0);
      put16(b, t + 16, 0);
      put16(b, t + 18, 0);
      const name = [7, ...'example'.split('').map((c) => c.charCodeAt(0)), 3, 99, 111, 109, 0, 0, 1, 0, 1];
      if (payload >= 12 + name.length) b.set(name, t + 20);
    }
  } else {
    b[t] = f.v6 ? (reply ? 129 : 128) : reply ? 0 : 8;
    put16(b, t + 4, f.sport);
    put16(b, t + 6, f.seq & 0xffff);
  }
  if (f.proto !== 1 || f.v6) {
    const sumAt = f.proto === 6 ? t + 16 : f.proto === 17 ? t + 6 : t + 2;
    const proto = f.v6 && f.proto === 1 ? 58 : f.proto;
    put16(b, sumAt, checksum(b, t, b.length, pseudoSum(src, dst, proto, l4 + payload)) || 0xffff);
  } else {
    put16(b, t + 2, checksum(b, t, b.length));
  }
  return b;
}

function otherFrame(rng: Rng): Uint8Array {
  if (rng.float() < 0.6) {
    // ARP request/reply.
    const b = new Uint8Array(42);
    const reply = rng.float() < 0.5;
    b.set(reply ? [0x02, 0x42, 192, 168, 1, 0x10] : [0xff, 0xff, 0xff, 0xff, 0xff, 0xff], 0);
    b.set(GATEWAY_MAC, 6);
    put16(b, 12, 0x0806);
    b.set([0, 1, 8, 0, 6, 4, 0, reply ? 2 : 1], 14);
    b.set(GATEWAY_MAC, 22);
    b.set(GATEWAY, 28);
    b.set(lanHost(rng), 38);
    return b;
  }
  // LLDP or an 802.3/LLC (STP) frame.
  const lldp = rng.float() < 0.5;
  const b = new Uint8Array(lldp ? 60 : 64);
  b.set(lldp ? [0x01, 0x80, 0xc2, 0, 0, 0x0e] : [0x01, 0x80, 0xc2, 0, 0, 0], 0);
  b.set(GATEWAY_MAC, 6);
  if (lldp) put16(b, 12, 0x88cc);
  else {
    put16(b, 12, 38);
    b.set([0x42, 0x42, 0x03], 14);
  }
  return b;
}

async function generate(path: string, count: number): Promise<void> {
  const rng = new Rng(0x5eed1234);
  const writer = new PcapWriter(new FileSink(path), { linkType: 1, snaplen: 262144 });
  const flows: Flow[] = [];
  for (let i = 0; i < 400; i++) flows.push(newFlow(rng));
  let seconds = 1704067200;
  let micros = 0;
  for (let i = 0; i < count; i++) {
    micros += rng.int(1, 40);
    if (micros >= 1_000_000) {
      seconds += 1;
      micros -= 1_000_000;
    }
    let data: Uint8Array;
    if (rng.float() < 0.05) data = otherFrame(rng);
    else {
      const k = Math.floor(rng.float() * flows.length);
      if (rng.float() < 0.01) flows[k] = newFlow(rng);
      data = frame(rng, flows[k]!, rng.float() < 0.45);
    }
    const packet: Packet = { data, wireLength: data.length, seconds, nanos: micros * 1000, linkType: 1, interfaceId: 0 };
    writer.write(packet);
  }
  await writer.close();
}

// `npx tsx bench/capture-fixture.ts`: (re)generate and describe.
if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const { rmSync } = await import('node:fs');
  rmSync(STAMP, { force: true });
  const path = await ensureBenchCapture();
  console.log(`${path}: ${statSync(path).size} bytes`);
  const { execFileSync } = await import('node:child_process');
  for (const expr of ['', 'tcp port 80', 'host 192.168.1.1 and (tcp port 80 or udp port 53)', 'ip[2:2] > 576', 'vlan and ip']) {
    const out = execFileSync('sh', ['-c', `tcpdump -n --count -r ${path} ${expr ? `'${expr}'` : ''} 2>/dev/null`], { encoding: 'utf8' });
    console.log(`${expr || '(all)'}: ${out.trim()} packets`);
  }
}
