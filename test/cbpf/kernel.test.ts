/**
 * Linux semantics against the running kernel: classic programs attached as
 * socket filters (SO_ATTACH_FILTER) to an AF_PACKET socket on lo, in a
 * private network namespace, see frames we send on lo — an outgoing copy and
 * an incoming one, each trimmed to the filter's verdict. The interpreter and
 * the JIT, given the same bytes and the PacketMeta the kernel had (lo:
 * ifindex 1, ARPHRD_LOOPBACK; pkt_type; skb->protocol; the VLAN tag lo's
 * receive path strips), must give the same verdict: for the ancillary loads,
 * SKF_NET_OFF/SKF_LL_OFF loads, and 1,500 random kernel-valid programs.
 */
import { describe, expect, it } from 'vitest';
import {
  BPF_A, BPF_ABS, BPF_ADD, BPF_ALU, BPF_AND, BPF_B, BPF_H, BPF_IMM, BPF_IND, BPF_K, BPF_LD, BPF_LDX, BPF_MSH,
  BPF_MISC, BPF_RET, BPF_TXA, BPF_W, SKF_AD, SKF_AD_OFF, SKF_LL_OFF, SKF_NET_OFF, interpret, isValid, jit, stmt,
  type CbpfInsn, type PacketMeta,
} from '../../src/cbpf/index.js';
import { kernelSocketFilter, type KernelObservation } from '../support/libpcap.js';
import { IS_ROOT } from '../support/paths.js';
import { buildProgram, seeded } from './gen.js';

const FRAME_LEN = 300;

function hex(s: string): number[] {
  return s.match(/../g)!.map((b) => parseInt(b, 16));
}

function pad(bytes: number[]): Uint8Array {
  const out = new Uint8Array(Math.max(FRAME_LEN, bytes.length));
  out.set(bytes);
  for (let i = bytes.length; i < out.length; i++) out[i] = (i * 37) & 0xff;
  return out;
}

const IPV4 = (proto: number, fragOffset = 0): number[] =>
  [0x45, 0, 0, 0x80, 0x12, 0x34, (fragOffset >> 8) & 0x1f, fragOffset & 0xff, 64, proto, 0, 0, 10, 0, 0, 1, 10, 0, 0, 2];
const IPV6 = (next: number): number[] => [0x60, 0, 0, 0, 0, 0x40, next, 64, ...new Array(15).fill(0), 1, ...new Array(15).fill(0), 2];
const UDP = hex('303900350020abcd');
const TCP = (doff: number): number[] => [0x30, 0x39, 0, 80, 0, 0, 0, 1, 0, 0, 0, 0, doff << 4, 0x02, 0xff, 0xff, 0, 0, 0, 0, ...new Array((doff - 5) * 4).fill(1)];
const ICMP = hex('0800f7ff00010001');

interface Case {
  name: string;
  dst: string;
  ethertype: number;
  body: number[];
  /** SKF_AD_PAY_OFFSET: the flow dissector's transport offset plus the L4 header (kernel's skb_get_poff). */
  poff: number;
  /** 802.1Q TCI when the frame carries a tag (lo's receive path moves it to skb->vlan_tci). */
  vlan?: { tci: number; inner: number };
}

const CASES: Case[] = [
  { name: 'IPv4/UDP to host', dst: '000000000000', ethertype: 0x0800, body: [...IPV4(17), ...UDP], poff: 42 },
  { name: 'IPv4/TCP with options, to ff:ff:ff:ff:ff:ff', dst: 'ffffffffffff', ethertype: 0x0800, body: [...IPV4(6), ...TCP(8)], poff: 66 },
  { name: 'IPv4/ICMP, multicast', dst: '01005e000001', ethertype: 0x0800, body: [...IPV4(1), ...ICMP], poff: 42 },
  { name: 'IPv4 non-first fragment, other host', dst: '020000000002', ethertype: 0x0800, body: [...IPV4(17, 100), ...UDP], poff: 34 },
  { name: 'IPv6/UDP', dst: '000000000000', ethertype: 0x86dd, body: [...IPV6(17), ...UDP], poff: 62 },
  { name: 'IPv6/TCP, multicast', dst: '333300000001', ethertype: 0x86dd, body: [...IPV6(6), ...TCP(5)], poff: 74 },
  { name: 'ARP to ff:ff:ff:ff:ff:ff', dst: 'ffffffffffff', ethertype: 0x0806, body: hex('0001080006040001020000000001000000000000000000000000'), poff: 14 },
  {
    name: '802.1Q VLAN 100 / IPv4/UDP',
    dst: '000000000000',
    ethertype: 0x8100,
    body: [0x20, 0x64, 0x08, 0x00, ...IPV4(17), ...UDP],
    poff: 42,
    vlan: { tci: 0x2064, inner: 0x0800 },
  },
  // Netlink-like bytes after an unknown EtherType, for SKF_AD_NLATTR(_NEST).
  { name: 'netlink attributes', dst: '000000000000', ethertype: 0x88b5, body: hex('080001006162636410000280080005007778797a05000300710000000c000400'), poff: 0 },
];

const SRC = '020000000001';

function frameOf(c: Case): Uint8Array {
  return pad([...hex(c.dst), ...hex(SRC), c.ethertype >> 8, c.ethertype & 0xff, ...c.body]);
}

/** eth_type_trans() on lo, whose address and broadcast address are both 00:00:00:00:00:00. */
function pktTypeOf(dst: string): number {
  if (parseInt(dst.slice(0, 2), 16) & 1) return 2; // PACKET_MULTICAST (ff:ff:.. is not lo's broadcast address)
  if (dst === '000000000000') return 0; // PACKET_HOST
  return 3; // PACKET_OTHERHOST
}

/** What the filter sees on each copy: the bytes and the kernel's metadata. */
function views(c: Case): { out: { data: Uint8Array; meta: PacketMeta }; in: { data: Uint8Array; meta: PacketMeta } } {
  const frame = frameOf(c);
  const base: PacketMeta = {
    ifindex: 1, hatype: 772, mark: 0, queue: 0, rxhash: 0, cpu: 0, linkOffset: 0, networkOffset: 14,
    vlanTci: 0, vlanPresent: false, vlanTpid: 0,
  };
  const out = { data: frame, meta: { ...base, pktType: 4, protocol: c.ethertype, payloadOffset: c.vlan ? c.poff + 4 : c.poff } };
  if (!c.vlan) return { out, in: { data: frame, meta: { ...base, pktType: pktTypeOf(c.dst), protocol: c.ethertype, payloadOffset: c.poff } } };
  const untagged = new Uint8Array(frame.length - 4);
  untagged.set(frame.subarray(0, 12));
  untagged.set(frame.subarray(16), 12);
  return {
    out,
    in: {
      data: untagged,
      meta: { ...base, pktType: pktTypeOf(c.dst), protocol: c.vlan.inner, payloadOffset: c.poff, vlanTci: c.vlan.tci, vlanPresent: true, vlanTpid: 0x8100 },
    },
  };
}

const observed = (v: number, len: number): number => (v === 0 ? 0 : Math.min(v, len));
const FOLD = [stmt(BPF_ALU | BPF_AND | BPF_K, 0xff), stmt(BPF_ALU | BPF_ADD | BPF_K, 1), stmt(BPF_RET | BPF_A)];

/** Probes: a value loaded some way, folded into 1..256 so the trimmed length shows it. */
function probes(): CbpfInsn[][] {
  const out: CbpfInsn[][] = [];
  const deterministic = [SKF_AD.PROTOCOL, SKF_AD.PKTTYPE, SKF_AD.IFINDEX, SKF_AD.HATYPE, SKF_AD.MARK, SKF_AD.QUEUE, SKF_AD.CPU,
    SKF_AD.VLAN_TAG, SKF_AD.VLAN_TAG_PRESENT, SKF_AD.VLAN_TPID, SKF_AD.PAY_OFFSET];
  for (const ad of deterministic) {
    for (const size of [BPF_W, BPF_H, BPF_B]) out.push([stmt(BPF_LD | size | BPF_ABS, SKF_AD_OFF + ad), ...FOLD]);
  }
  // A ^= X
  out.push([stmt(BPF_LD | BPF_IMM, 0x5a), stmt(BPF_LDX | BPF_IMM, 0x0f), stmt(BPF_LD | BPF_W | BPF_ABS, SKF_AD_OFF + SKF_AD.ALU_XOR_X), ...FOLD]);
  // netlink attribute searches from several offsets for several types
  for (const ad of [SKF_AD.NLATTR, SKF_AD.NLATTR_NEST]) {
    for (const [a, x] of [[14, 1], [14, 2], [14, 3], [14, 9], [22, 3], [22, 5], [26, 5], [500, 1]] as const) {
      out.push([stmt(BPF_LD | BPF_IMM, a), stmt(BPF_LDX | BPF_IMM, x), stmt(BPF_LD | BPF_W | BPF_ABS, SKF_AD_OFF + ad), ...FOLD]);
    }
  }
  // Header-relative loads of every size, inside and past the frame.
  for (const [base, offs] of [[SKF_NET_OFF, [0, 1, 9, 12, 40, 283, 284, 286]], [SKF_LL_OFF, [0, 6, 12, 296, 298, 300]]] as const) {
    for (const off of offs) {
      for (const size of [BPF_W, BPF_H, BPF_B]) out.push([stmt(BPF_LD | size | BPF_ABS, base + off), ...FOLD]);
    }
  }
  out.push([stmt(BPF_LD | BPF_B | BPF_ABS, SKF_LL_OFF - 1), ...FOLD]);
  // Indirect loads whose X + k is negative (kernel: signed) or wraps.
  for (const [x, k] of [[SKF_NET_OFF, 9], [SKF_NET_OFF + 4, 5], [SKF_LL_OFF >>> 0, 13], [0xffffff00, 0x110], [0xfffffffe, 1]] as const) {
    out.push([stmt(BPF_LDX | BPF_IMM, x), stmt(BPF_LD | BPF_B | BPF_IND, k), ...FOLD]);
  }
  // ldxb 4*([k]&0xf) at a header-relative offset.
  out.push([stmt(BPF_LDX | BPF_MSH | BPF_B, SKF_NET_OFF), stmt(BPF_MISC | BPF_TXA), ...FOLD]);
  // Without a device, ifindex/hatype would return A; lo has one, so these return the value.
  out.push([stmt(BPF_LD | BPF_IMM, 77), stmt(BPF_LD | BPF_H | BPF_ABS, SKF_AD_OFF + SKF_AD.HATYPE), ...FOLD]);
  return out;
}

function usesRandom(prog: CbpfInsn[]): boolean {
  return prog.some((i) => (i.code & 0xe7) === (BPF_LD | BPF_ABS) && i.k >>> 0 === (SKF_AD_OFF + SKF_AD.RANDOM) >>> 0);
}

describe.skipIf(!IS_ROOT)('socket filter semantics against the running kernel', () => {
  it('probes of every deterministic ancillary field and header-relative load, and random programs', () => {
    const programs = probes();
    const nProbes = programs.length;
    const pick = seeded(99);
    while (programs.length < nProbes + 1500) {
      const prog = buildProgram(pick, { extensions: true, maxLength: 20 });
      if (isValid(prog, 'kernel') && !usesRandom(prog)) programs.push(prog);
    }
    const frames = CASES.map((c) => ({ data: frameOf(c), protocol: c.ethertype }));
    const { skip, results } = kernelSocketFilter(frames, programs);
    if (skip) {
      console.log(`kernel socket-filter test skipped: ${skip}`);
      return;
    }
    const v = CASES.map(views);
    // Our model of each copy matches what the kernel reports.
    for (const [j, c] of CASES.entries()) expect(results[0]![j]!.inPktType, c.name).toBe(pktTypeOf(c.dst));
    const failures: string[] = [];
    let compared = 0;
    let informative = 0;
    programs.forEach((prog, p) => {
      const f = jit(prog, { mode: 'kernel' });
      CASES.forEach((c, j) => {
        const got: KernelObservation = results[p]![j]!;
        for (const copy of ['out', 'in'] as const) {
          const { data, meta } = v[j]![copy];
          const a = interpret(prog, data, data.length, meta);
          const b = f(data, data.length, meta);
          const want = got[copy];
          compared++;
          if (want !== 0 && want !== data.length) informative++;
          if (observed(a, data.length) !== want || observed(b, data.length) !== want) {
            failures.push(`${p < nProbes ? `probe ${p}` : `random ${p - nProbes}`} ${JSON.stringify(prog)} on ${c.name} (${copy}): kernel ${want}, interpreter ${a}, JIT ${b}`);
          }
        }
      });
    });
    expect(failures.slice(0, 5)).toEqual([]);
    expect(compared).toBe(programs.length * CASES.length * 2);
    expect(informative).toBeGreaterThan(2000);
  });
});
