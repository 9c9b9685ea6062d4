/**
 * Summaries against `tcpdump -n -r` (Debian's tcpdump 4.99, TZ=UTC) on every
 * corpus file of the link types bpfkit decodes (Ethernet, Linux SLL/SLL2,
 * NULL/LOOP, raw IP). For each packet tcpdump prints as a protocol bpfkit
 * decodes, the lines must agree:
 *
 * - TCP: addresses, ports, flags, seq (relative, as tcpdump tracks
 *   conversations), ack, win, urg and length; the options too, except where
 *   tcpdump decodes option kinds in depth (MPTCP, TFO, TCP-AO, SCPS);
 * - UDP without an application tcpdump decodes: the whole line;
 * - DNS (ports 53, 5353): the whole line;
 * - ICMP echo, unreachable, time exceeded, source quench; ICMPv6 echo,
 *   neighbour and router discovery, MLDv2 reports, too-big: the whole line;
 * - ARP requests and replies: the whole line;
 * - the timestamp (time of day, µs), except for the files with invalid or
 *   out-of-range times that libpcap 1.10 reads differently.
 *
 * bpfkit prints VLAN tags ("vlan 10, p 0, ") which tcpdump prints only with
 * -e; they are removed before comparing. Everything else (protocols tcpdump
 * decodes and bpfkit does not) is counted but not compared.
 */
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { Summarizer, readCaptureSync } from '../../src/capture/index.js';
import { corpus } from './corpus.js';

const DECODED = new Set(['EN10MB', 'LINUX_SLL', 'LINUX_SLL2', 'NULL', 'LOOP', 'RAW', 'IPV4', 'IPV6']);
const entries = corpus().filter((e) => DECODED.has(e.linkType) && e.packets > 0);

function tcpdumpLines(path: string): string[] {
  let out: string;
  try {
    out = execFileSync('tcpdump', ['-n', '-r', path], { env: { ...process.env, TZ: 'UTC' }, encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'], maxBuffer: 1 << 28 });
  } catch (err) {
    out = String((err as { stdout?: string }).stdout ?? '');
  }
  const lines: string[] = [];
  for (const l of out.split('\n')) {
    if (/^(\d\d:\d\d:\d\d\.\d+|\[Error converting time\]) |^\[Invalid header: /.test(l)) lines.push(l);
    // Continuation lines (hex dumps, multi-line decoders) belong to the packet above.
  }
  return lines;
}

type Category = 'tcp' | 'udp' | 'dns' | 'icmp' | 'icmp6' | 'arp';

function category(td: string): Category | undefined {
  if (/^IP6? \S+ > \S+: Flags \[/.test(td)) return 'tcp';
  if (/^IP6? \S+\.(53|5353) > \S+: |^IP6? \S+ > \S+\.(53|5353): /.test(td) && !/Flags \[/.test(td)) return 'dns';
  if (/^IP6? \S+ > \S+: UDP, length \d+$/.test(td)) return 'udp';
  if (/^IP \S+ > \S+: ICMP (echo (request|reply), id|\S+ (udp|tcp) port \d+ unreachable|(net|host) \S+ unreachable|time exceeded in-transit|source quench)/.test(td)) return 'icmp';
  if (/^IP6 \S+ > \S+: (HBH )?ICMP6, (echo (request|reply)|neighbor (solicitation|advertisement)|router (solicitation|advertisement)|multicast listener report v2|packet too big)/.test(td)) return 'icmp6';
  if (/^ARP, (Request|Reply) /.test(td)) return 'arp';
  return undefined;
}

/** A TCP line in parts: up to the options, the options, the length, what follows. */
function tcpParts(line: string): { core: string; options: string; length: string; rest: string } {
  const m = /^(.*?)(?:, options \[(.*)\])?, length (\d+)(.*)$/.exec(line);
  if (m) return { core: m[1]!, options: m[2] ?? '', length: m[3]!, rest: m[4]! };
  const o = line.indexOf(', options [');
  return { core: o < 0 ? line : line.slice(0, o), options: '', length: '', rest: '' };
}

/** Option kinds tcpdump decodes in depth (bpfkit names them only), and its early stops. */
const DEEP_OPTIONS = /mptcp|tfo|tcp-ao|scps|\[\|tcp\]|\[bad opt\]/;

function sameTcp(ours: string, theirs: string): boolean {
  if (DEEP_OPTIONS.test(theirs) || !/, length \d+/.test(theirs)) {
    // Compare what precedes the options (and the length when tcpdump got that far).
    const a = tcpParts(ours);
    const b = tcpParts(theirs);
    return a.core === b.core && (b.length === '' || a.length === b.length);
  }
  const a = tcpParts(ours);
  const b = tcpParts(theirs);
  // After the length tcpdump decodes many applications; bpfkit notes HTTP and DNS.
  const app = /^: HTTP|^ \d+[^a-z]/.test(b.rest) ? a.rest === b.rest : true;
  return a.core === b.core && a.options === b.options && a.length === b.length && app;
}

describe('summaries vs tcpdump -n', () => {
  it('agree on every packet of the decoded kinds across the corpus', () => {
    const compared: Record<Category, number> = { tcp: 0, udp: 0, dns: 0, icmp: 0, icmp6: 0, arp: 0 };
    let times = 0;
    let total = 0;
    const mismatches: string[] = [];
    for (const e of entries) {
      const td = tcpdumpLines(e.path);
      const r = readCaptureSync(readFileSync(e.path));
      if (td.length !== r.packets.length) {
        // tcpdump stops printing a packet's line only when a decoder crashes into the next; not seen here.
        mismatches.push(`${e.file}: tcpdump printed ${td.length} lines for ${r.packets.length} packets`);
        continue;
      }
      const s = new Summarizer({ time: 'utc' });
      r.packets.forEach((p, i) => {
        total++;
        const line = s.line(p);
        const theirs = td[i]!;
        if (theirs.startsWith('[Invalid header')) {
          // Records with a zero length: tcpdump says so instead of printing the packet.
          if (line !== theirs) mismatches.push(`${e.file}#${i + 1}: ${line} vs ${theirs}`);
          return;
        }
        const [ourTime, ...ourRest] = line.split(' ');
        const [theirTime, ...theirRest] = theirs.startsWith('[Error') ? ['?', ...theirs.split(' ').slice(3)] : theirs.split(' ');
        const weird = /timestamp_invalid|time_2/.test(e.file);
        if (!weird && theirTime !== '?') {
          if (ourTime !== theirTime) mismatches.push(`${e.file}#${i + 1}: time ${ourTime} vs ${theirTime}`);
          times++;
        }
        const ours = ourRest.join(' ').replace(/^(vlan \d+, p \d, (DEI, )?)+/, '');
        const body = theirRest.join(' ');
        const cat = category(body);
        if (cat === undefined) return;
        compared[cat]++;
        const same = cat === 'tcp' ? sameTcp(ours, body) : ours === body;
        if (!same) mismatches.push(`${e.file}#${i + 1} [${cat}]\n   tcpdump: ${body}\n   bpfkit:  ${ours}`);
      });
    }
    const n = Object.values(compared).reduce((a, b) => a + b, 0);
    console.log(`summaries: ${total} packets in ${entries.length} files; compared with tcpdump: ${n} lines (${JSON.stringify(compared)}), ${times} timestamps`);
    expect(mismatches.slice(0, 25)).toEqual([]);
    expect(compared.tcp).toBeGreaterThan(1500);
    expect(compared.arp).toBeGreaterThan(1500);
    expect(compared.dns + compared.udp + compared.icmp + compared.icmp6).toBeGreaterThan(300);
  }, 300_000);
});

describe('summary details', () => {
  const eth = (type: number, payload: number[]): Uint8Array => Uint8Array.from([...Array(12).fill(0xaa), type >> 8, type & 0xff, ...payload]);
  const line = (data: Uint8Array, linkType = 1, wire = data.length): string =>
    new Summarizer({ time: 'none' }).line({ data, wireLength: wire, seconds: 0, nanos: 0, linkType, interfaceId: 0 });

  it('names unknown link types and says what is cut short', () => {
    expect(line(Uint8Array.of(1, 2, 3), 999)).toBe('unknown link type 999, length 3');
    expect(line(Uint8Array.of(1, 2, 3), 160)).toBe('unknown link type 160 (USER13), length 3');
    expect(line(Uint8Array.of(1, 2, 3), 107)).toBe('unknown link type 107 (FRELAY), length 3');
    expect(line(Uint8Array.of(1, 2, 3))).toBe('[|ether]');
    expect(line(eth(0x0800, [0x45, 0, 0]))).toBe('IP [|ip]');
    expect(line(eth(0x86dd, [0x60, 0]))).toBe('IP6 [|ip6]');
    expect(line(eth(0x0806, [0, 1, 8, 0]))).toBe('[|arp]');
    // IPv4 + the first 6 bytes of a TCP header.
    const ip = [0x45, 0, 0, 40, 0, 0, 0, 0, 64, 6, 0, 0, 10, 0, 0, 1, 10, 0, 0, 2];
    expect(line(eth(0x0800, [...ip, 0, 80, 0x1f, 0x90, 0, 0]), 1, 14 + 40)).toBe('IP 10.0.0.1.80 > 10.0.0.2.8080:  [|tcp]');
    expect(line(eth(0x1234, [1, 2]))).toBe('ethertype Unknown (0x1234), length 2');
  });

  it('decodes Linux SLL2, LOOP, NULL in either byte order, and raw IP by version', () => {
    const ip = [0x45, 0, 0, 28, 0, 0, 0, 0, 64, 17, 0, 0, 10, 0, 0, 1, 10, 0, 0, 2, 0x04, 0xd2, 0x00, 0x35, 0, 8, 0, 0];
    const udp = 'IP 10.0.0.1.1234 > 10.0.0.2.53: domain [length 0 < 12] (invalid)';
    // SLL2: protocol, reserved, ifindex, hatype, pkttype, halen, address.
    const sll2 = Uint8Array.from([0x08, 0x00, 0, 0, 0, 0, 0, 2, 0, 1, 0, 6, 1, 2, 3, 4, 5, 6, 0, 0, ...ip]);
    expect(line(sll2, 276)).toBe(udp);
    const sll = Uint8Array.from([0, 0, 0, 1, 0, 6, 1, 2, 3, 4, 5, 6, 0, 0, 0x08, 0x00, ...ip]);
    expect(line(sll, 113)).toBe(udp);
    expect(line(Uint8Array.from([0, 0, 0, 2, ...ip]), 108)).toBe(udp); // LOOP: network byte order
    expect(line(Uint8Array.from([2, 0, 0, 0, ...ip]), 0)).toBe(udp); // NULL from a little-endian host
    expect(line(Uint8Array.from([0, 0, 0, 2, ...ip]), 0)).toBe(udp); // NULL from a big-endian host
    expect(line(Uint8Array.from([0, 0, 0, 99, ...ip]), 0)).toBe('AF Unknown (99), length 32');
    expect(line(Uint8Array.from(ip), 101)).toBe(udp);
    expect(line(Uint8Array.from(ip), 228)).toBe(udp);
    const ip6 = [0x60, 0, 0, 0, 0, 8, 58, 64, ...Array(15).fill(0), 1, 0xfe, 0x80, ...Array(13).fill(0), 2, 128, 0, 0, 0, 0, 7, 0, 9];
    expect(line(Uint8Array.from(ip6), 229)).toBe('IP6 ::1 > fe80::2: ICMP6, echo request, id 7, seq 9, length 8');
  });

  it('shows 802.1Q and QinQ tags, then the payload', () => {
    const arp = [0, 1, 8, 0, 6, 4, 0, 1, 1, 2, 3, 4, 5, 6, 10, 0, 0, 1, 0, 0, 0, 0, 0, 0, 10, 0, 0, 2];
    const tagged = eth(0x88a8, [0x20, 0x64, 0x81, 0x00, 0x10, 0xc8, 0x08, 0x06, ...arp]);
    expect(line(tagged)).toBe('vlan 100, p 1, vlan 200, p 0, DEI, ARP, Request who-has 10.0.0.2 tell 10.0.0.1, length 28');
  });

  it('prints µs by default and ns with nano, in local time or UTC', () => {
    const p = { data: new Uint8Array(4), wireLength: 4, seconds: 1_700_000_000, nanos: 123_456_789, linkType: 999, interfaceId: 0 };
    expect(new Summarizer({ time: 'utc' }).line(p)).toBe('22:13:20.123456 unknown link type 999, length 4');
    expect(new Summarizer({ time: 'utc', nano: true }).line(p)).toBe('22:13:20.123456789 unknown link type 999, length 4');
    expect(new Summarizer().line({ ...p, data: new Uint8Array(0), wireLength: 0 })).toBe('[Invalid header: caplen==0, len==0]');
  });
});
