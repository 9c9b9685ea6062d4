/**
 * Differential test against Debian's tcpdump/libpcap, at test time: for
 * hand-written expressions across the primitives and a few hundred
 * generated from the grammar, libpcap's program and bpfkit's give the same
 * verdict on every packet of the tcpdump-tests corpus of that link type;
 * expressions libpcap refuses bpfkit refuses too.
 *
 * The reference is libpcap's unoptimised program (`tcpdump -O -ddd`), which
 * has the language's semantics; its optimiser may change the verdict on a
 * truncated packet (it drops or reorders loads that would have run off the
 * end), so bpfkit must agree with libpcap's optimised program on every
 * packet where libpcap's two programs agree. Where libpcap's optimiser
 * proves that an expression rejects every packet, bpfkit's program must
 * reject every packet. Where bpfkit's optimiser proves it and libpcap's does
 * not (bpfkit refuses the expression with libpcap's "expression rejects all
 * packets", as libpcap does when it can tell), the refusal must be true: the
 * expression means the same to both (bpfkit's unoptimised program gives
 * libpcap's verdicts) and libpcap's programs accept none of the packets. A few
 * (file, expression) pairs are also checked against tcpdump's own reading
 * (`tcpdump -r FILE -w - EXPR`), so the comparison does not rest on our
 * interpreter alone.
 */
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { interpreter, parseDDD } from '../../src/cbpf/index.js';
import { BpfkitError } from '../../src/errors.js';
import { compile, DLT } from '../../src/filter/index.js';
import { builtinResolver } from '../../src/filter/names/resolver.js';
import { CORPUS } from '../support/paths.js';
import { corpusPackets } from './support/cases.js';
import { generator, harvest } from './support/generate.js';
import { readSavefile } from './support/savefile.js';

const HAVE_TCPDUMP = spawnSync('tcpdump', ['--version']).status === 0;
const resolver = builtinResolver();

function libpcapProgram(dlt: string, expr: string, optimize: boolean): { text?: string; error?: string } {
  const r = spawnSync('tcpdump', ['-y', dlt, ...(optimize ? [] : ['-O']), '-ddd', '--', expr], { encoding: 'utf8' });
  return r.status === 0 ? { text: r.stdout } : { error: r.stderr };
}

/**
 * Expressions whose meaning changed between Debian's libpcap 1.10.3 and the
 * libpcap 1.11 that the conformance tables come from (bpfkit follows 1.11,
 * verified by those tables): `byte N &|` (1.10 forgot the load), IS-IS PDU
 * types (1.11 masks them and skips C-HDLC's pad byte).
 */
const CHANGED_SINCE_1_10: RegExp[] = [/^byte \d+ [&|]/, /^(l1|l2|iih|lsp|snp|csnp|psnp)$/];

interface Outcome {
  expr: string;
  dlt: string;
  problem?: string;
}

function judge(dlt: string, expr: string, packets: Uint8Array[]): Outcome {
  const unopt = libpcapProgram(dlt, expr, false);
  const opt = libpcapProgram(dlt, expr, true);
  let ours;
  try {
    ours = compile(expr, { linkType: dlt, resolver });
  } catch (e) {
    if (!(e instanceof BpfkitError)) return { expr, dlt, problem: `untyped error ${(e as Error).stack}` };
    if (unopt.error !== undefined || opt.error?.includes('rejects all packets')) return { expr, dlt };
    if (e.message.includes('rejects all packets') && unopt.text !== undefined) {
      // bpfkit's optimiser proved what libpcap's did not. That is the truth only if the
      // expression means the same in both (bpfkit's unoptimised program agrees with
      // libpcap's) and libpcap's programs indeed match none of the packets.
      const truth = rejectsEverywhere(dlt, expr, unopt.text, opt.text, packets);
      return truth === undefined ? { expr, dlt } : { expr, dlt, problem: `bpfkit: ${e.message}, but ${truth}` };
    }
    return { expr, dlt, problem: `libpcap compiles it, bpfkit: ${e.message}` };
  }
  if (unopt.text === undefined) return { expr, dlt, problem: `libpcap refuses it (${unopt.error?.trim()}), bpfkit compiles it` };
  const u = interpreter(parseDDD(unopt.text));
  const o = opt.text === undefined ? undefined : interpreter(parseDDD(opt.text));
  const b = interpreter(ours);
  for (const p of packets) {
    const x = u(p), y = b(p);
    if (x !== y) return { expr, dlt, problem: `libpcap -O ${x}, bpfkit ${y} on ${Buffer.from(p).toString('hex').slice(0, 80)}` };
    if (o) {
      const z = o(p);
      if (z === x && z !== y) return { expr, dlt, problem: `libpcap ${z}, bpfkit ${y} on ${Buffer.from(p).toString('hex').slice(0, 80)}` };
    } else if (y !== 0) {
      return { expr, dlt, problem: `libpcap: ${opt.error?.trim()}; bpfkit accepts ${Buffer.from(p).toString('hex').slice(0, 80)}` };
    }
  }
  return { expr, dlt };
}

/**
 * Where bpfkit refuses an expression as rejecting all packets and libpcap
 * compiles it: undefined when that holds on the corpus (bpfkit's unoptimised
 * program gives libpcap's verdicts, and those are all 0), else what breaks it.
 */
function rejectsEverywhere(dlt: string, expr: string, unoptText: string, optText: string | undefined, packets: Uint8Array[]): string | undefined {
  const u = interpreter(parseDDD(unoptText));
  const o = optText === undefined ? undefined : interpreter(parseDDD(optText));
  const b = interpreter(compile(expr, { linkType: dlt, resolver, optimize: false }));
  for (const p of packets) {
    const x = u(p), y = b(p), z = o ? o(p) : 0;
    const hex = Buffer.from(p).toString('hex').slice(0, 80);
    if (x !== y) return `libpcap -O ${x}, bpfkit -O ${y} on ${hex}`;
    if (x !== 0 || z !== 0) return `libpcap accepts ${hex}`;
  }
  return undefined;
}

/** Hand-written: every primitive family, on the link types the corpus has most of. */
const HAND: [string, string[]][] = [
  ['EN10MB', [
    'ip', 'ip6', 'arp', 'rarp', 'tcp', 'udp', 'icmp', 'icmp6', 'igmp', 'sctp', 'pim', 'vrrp', 'ah', 'esp', 'igrp',
    'tcp port 80', 'udp port 53', 'port 443', 'src port 1024', 'dst port 22', 'tcp src or dst port 23',
    'portrange 1000-2000', 'tcp dst portrange 0-1023', 'udp portrange 67-68', 'sctp port 36412',
    'host 192.168.1.1', 'src host 10.0.0.1', 'dst host 127.0.0.1', 'net 10.0.0.0/8', 'src net 192.168.0.0/16',
    'net 172.16.0.0 mask 255.240.0.0', 'dst net 224.0.0.0/4', 'host 10.0.0.1 or host 10.0.0.2',
    'ip6 host ::1', 'ip6 net fe80::/10', 'ip6 src net 2001:db8::/32', 'host fe80::1',
    'ether host 00:00:00:00:00:00', 'ether src 00:0c:29:00:00:01', 'ether dst ff:ff:ff:ff:ff:ff',
    'ether broadcast', 'ether multicast', 'broadcast', 'multicast', 'ip multicast', 'ip6 multicast',
    'ether proto \\ip', 'ether proto \\arp', 'ether proto 0x88cc', 'link proto \\ip6', 'ip proto 17',
    'ip proto \\tcp', 'ip6 proto 58', 'proto 1', 'ip protochain 6', 'ip6 protochain 17', 'protochain 50',
    'less 64', 'greater 1000', 'len > 100', 'len <= 60', 'ip[2:2] > 576', 'ip[8] < 64', 'ip[0] & 0xf != 5',
    'ip[6:2] & 0x1fff = 0', 'tcp[tcpflags] & (tcp-syn|tcp-fin) != 0', 'tcp[13] & 2 != 0',
    'tcp[tcpflags] == tcp-ack', 'icmp[icmptype] == icmp-echo', 'icmp[icmptype] != icmp-echoreply',
    'icmp6[icmp6type] == icmp6-echo', 'udp[8:4] = 0', 'ether[12:2] = 0x86dd', 'link[0] & 1 = 1',
    'ip[9] + 1 = 7', 'len - 14 > 1000', 'ip[2:2] / 4 > 100', 'ip[1] % 4 = 0', 'ip[0] >> 4 = 4',
    'ip[0] ^ 0x45 = 0', 'ip[3] * 2 > 100', '- ip[3] > 100', '- ether[1] & 5 = 140', 'byte 0 & 1', 'byte 23 = 6',
    'vlan', 'vlan 100', 'vlan and ip', 'vlan 100 and tcp dst port 443', 'vlan and vlan', 'mpls', 'mpls 16',
    'mpls and ip', 'pppoed', 'pppoes', 'pppoes 1 and ip', 'geneve', 'geneve and ip', 'geneve 10',
    'stp', 'ipx', 'netbeui', 'iso', 'clnp', 'esis', 'isis', 'l1', 'l2', 'iih', 'lsp', 'snp', 'csnp', 'psnp',
    'decnet', 'decnet host 1.2', 'decnet src 10.23', 'atalk', 'aarp', 'lat', 'sca', 'moprc', 'mopdl',
    'llc', 'llc i', 'llc s', 'llc u', 'llc rr', 'llc ui', 'llc xid',
    'not ip', 'not (tcp or udp)', 'ip and not tcp', 'tcp or udp or icmp', '(tcp port 80 or udp port 53) and host 10.0.0.1',
    'host 192.168.1.1 and (tcp port 80 or udp port 53)', 'net 10.0.0.0/8 and not port 22',
    'src host 10.1.1.1 and dst net 192.168.0.0/16 and tcp[13] & 2 != 0', 'icmp or arp',
    'ether broadcast or ether multicast', 'ip6 and udp port 53', 'tcp port 80 or 443', 'host 1.2.3.4 or 5.6.7.8',
  ]],
  ['LINUX_SLL', ['ip', 'ip6', 'arp', 'tcp port 80', 'udp', 'inbound', 'outbound', 'stp', 'ipx', 'host 127.0.0.1', 'icmp6', 'ether proto \\ip6', 'ipx or iso']],
  ['RAW', ['ip', 'ip6', 'tcp', 'udp port 53', 'host 10.0.0.1', 'ip6 net ::/0', 'icmp', 'ip proto 17', 'len < 100']],
  ['NULL', ['ip', 'ip6', 'tcp port 80', 'udp', 'link proto \\ip', 'host 127.0.0.1']],
  ['IEEE802_11_RADIO', ['ip', 'tcp', 'wlan type mgt', 'wlan type data', 'wlan subtype beacon', 'wlan dir fromds', 'type ctl subtype ack', 'wlan host 00:00:00:00:00:00', 'wlan addr1 ff:ff:ff:ff:ff:ff', 'wlan addr2 00:11:22:33:44:55', 'wlan ra ff:ff:ff:ff:ff:ff', 'broadcast', 'multicast', 'llc', 'radio[0] = 0', 'arp', 'udp port 53']],
  ['C_HDLC', ['ip', 'ip6', 'iso', 'isis', 'clnp', 'tcp', 'mpls', 'l1', 'lsp']],
  ['PPP', ['ip', 'ip6', 'tcp', 'udp', 'mpls', 'link proto 0x21']],
  ['FRELAY', ['ip', 'ip6', 'iso', 'clnp', 'isis', 'tcp port 179']],
  ['ARCNET_LINUX', ['ip6', 'rarp', 'atalk', 'link host $01', 'broadcast']],
];

describe.skipIf(!HAVE_TCPDUMP)("differential: Debian's tcpdump/libpcap on the tcpdump-tests corpus", () => {
  const corpus = corpusPackets();

  it('hand-written expressions over every primitive family', () => {
    const problems: Outcome[] = [];
    let n = 0;
    for (const [dlt, exprs] of HAND) {
      const packets = corpus.get(DLT[dlt]!) ?? [];
      for (const e of exprs) {
        if (CHANGED_SINCE_1_10.some((re) => re.test(e))) continue;
        n++;
        const o = judge(dlt, e, packets);
        if (o.problem) problems.push(o);
      }
    }
    console.log(`filter differential summary: hand-written ${n - problems.length}/${n} agree with tcpdump`);
    expect(problems).toEqual([]);
  });

  it('hundreds of expressions generated from the grammar', () => {
    const packets = corpus.get(DLT.EN10MB!) ?? [];
    const next = generator(20260126, harvest(packets));
    const problems: Outcome[] = [];
    const N = 300;
    for (let i = 0; i < N; i++) {
      const o = judge('EN10MB', next(), packets);
      if (o.problem) problems.push(o);
    }
    console.log(`filter differential summary: generated ${N - problems.length}/${N} agree with tcpdump on ${packets.length} packets`);
    expect(problems).toEqual([]);
  });

  it("agrees with tcpdump's own reading of capture files", () => {
    const files = ['dns_tcp.pcap', 'http_headers.pcap', 'icmpv6.pcap', 'QinQpacket.pcap', 'mpls-ldp-hello.pcap'];
    const index = readFileSync(join(CORPUS, 'index.tsv'), 'utf8');
    const checked: string[] = [];
    for (const f of files) {
      if (!index.includes(`${f}\t`)) continue;
      const sf = readSavefile(join(CORPUS, f));
      for (const e of ['tcp port 53', 'ip6', 'vlan and ip', 'mpls', 'icmp6 or tcp port 80', 'not udp']) {
        const r = spawnSync('tcpdump', ['-r', join(CORPUS, f), '-w', '-', e], { encoding: 'buffer' });
        if (r.status !== 0) continue;
        const theirs = r.stdout.length <= 24 ? 0 : readSavefileBuffer(r.stdout);
        const prog = interpreter(compile(e, { linkType: sf.linkType, snaplen: sf.snaplen, offline: sf.swapped ? 'swapped' : 'unswapped' }));
        const ours = sf.packets.filter((p) => prog(p.data, p.wireLength) !== 0).length;
        expect(ours, `${f}: ${e}`).toBe(theirs);
        checked.push(`${f}: ${e}`);
      }
    }
    expect(checked.length).toBeGreaterThan(10);
  });
});

function readSavefileBuffer(b: Buffer): number {
  // Count the records of a pcap stream tcpdump wrote.
  const le = b.readUInt32LE(0) === 0xa1b2c3d4;
  let off = 24, n = 0;
  while (off + 16 <= b.length) {
    const incl = le ? b.readUInt32LE(off + 8) : b.readUInt32BE(off + 8);
    off += 16 + incl;
    n++;
  }
  return n;
}
