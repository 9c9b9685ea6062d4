/**
 * Network hooks in the running kernel, each in private namespaces the test
 * makes and removes: XDP (generic and native) and tcx on one end of a veth
 * pair between two network namespaces, counting exactly the pings the test
 * sends (and dropping them); a cgroup_skb program in a temporary cgroup v2
 * counting exactly the datagrams of a child put in it; socket filters
 * (eBPF and classic) deciding what a UDP socket receives.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, rmdirSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AttachTargetError } from '../../src/kernel/attach-errors.js';
import { attachCgroup, cgroup2Mounts } from '../../src/kernel/cgroup.js';
import { KernelError } from '../../src/kernel/errors.js';
import { openFds } from '../../src/kernel/fd.js';
import type { KernelCollection } from '../../src/kernel/index.js';
import { inNetns } from '../../src/kernel/netns.js';
import { attachClassicFilter, attachSocketFilter } from '../../src/kernel/socket.js';
import * as sys from '../../src/kernel/sys.js';
import { attachTcx } from '../../src/kernel/tcx.js';
import { attachXdp } from '../../src/kernel/xdp.js';
import { CAN_BPF, SKIP_REASON, countFds } from './support/kernel.js';
import { HAVE_CLANG, Netns, bpftoolLink, counter, loadFixture } from './attach-support.js';

const SLOT = { XDP_ECHO: 0, TCX_IN: 1, TCX_OUT: 2, CG_PACKETS: 3, CG_BYTES: 4, SOCKET_SEEN: 5, XDP_DROPPED: 6 };
const HAVE_IP = spawnSync('ip', ['-V']).status === 0 && spawnSync('ping', ['-V']).status === 0;
const READY = CAN_BPF && HAVE_CLANG && HAVE_IP;

if (!READY) describe('network hooks', () => it.skip(CAN_BPF ? 'needs clang, iproute2 and ping' : SKIP_REASON, () => {}));

describe.skipIf(!READY)('network hooks', () => {
  let coll: KernelCollection;
  let net: Netns;
  const linkIds: number[] = [];
  let fdsBefore = 0;

  beforeAll(() => {
    fdsBefore = countFds();
    net = new Netns('net');
    coll = loadFixture('attach_net', ['xdp_count_echo', 'xdp_drop_echo', 'tcx_in', 'tcx_out', 'cg_egress', 'sock_even']);
  });
  afterAll(() => {
    coll?.close();
    net?.remove();
  });

  const delta = (slot: number, f: () => void): bigint => {
    const before = counter(coll, slot);
    f();
    return counter(coll, slot) - before;
  };

  for (const mode of ['generic', 'native'] as const) {
    it(`XDP (${mode}) on veth-b in a private netns counts exactly the ${mode === 'generic' ? 20 : 30} echo requests a pings`, () => {
      const N = mode === 'generic' ? 20 : 30;
      const link = attachXdp(coll.programs.xdp_count_echo!, 'veth-b', { netns: net.b, mode });
      try {
        const id = link.info().id;
        linkIds.push(id);
        expect(link.info().typeName).toBe('XDP');
        // iproute2 sees the program on the device, in the mode asked for.
        const shown = net.ip('b', '-d', 'link', 'show', 'veth-b');
        expect(shown).toMatch(new RegExp(`prog/xdp id ${coll.programs.xdp_count_echo!.info().id} name xdp_count_echo`));
        expect(shown).toMatch(mode === 'generic' ? / mtu \d+ xdpgeneric / : / mtu \d+ xdp /);
        let replies = 0;
        expect(delta(SLOT.XDP_ECHO, () => (replies = net.ping(N)))).toBe(BigInt(N));
        expect(replies).toBe(N);
      } finally {
        link.close();
      }
      expect(net.ip('b', '-d', 'link', 'show', 'veth-b')).not.toMatch(/prog\/xdp/);
    });
  }

  it('XDP dropping echo requests: no reply while attached, replies again once closed', () => {
    const link = attachXdp(coll.programs.xdp_drop_echo!, 'veth-b', { netns: net.b });
    let replies = -1;
    try {
      expect(delta(SLOT.XDP_DROPPED, () => (replies = net.ping(5)))).toBe(5n);
      expect(replies).toBe(0);
    } finally {
      link.close();
    }
    expect(net.ping(3)).toBe(3);
  });

  it('tcx ingress and egress on veth-b count exactly the echo requests in and the replies out', () => {
    const N = 25;
    const inLink = attachTcx(coll.programs.tcx_in!, 'veth-b', 'ingress', { netns: net.b });
    const outLink = attachTcx(coll.programs.tcx_out!, 'veth-b', 'egress', { netns: net.b });
    try {
      expect(inLink.info().typeName).toBe('TCX');
      linkIds.push(inLink.id, outLink.id);
      const inBefore = counter(coll, SLOT.TCX_IN);
      expect(delta(SLOT.TCX_OUT, () => expect(net.ping(N)).toBe(N))).toBe(BigInt(N));
      expect(counter(coll, SLOT.TCX_IN) - inBefore).toBe(BigInt(N));
    } finally {
      inLink.close();
      outLink.close();
    }
    for (const id of linkIds) expect(bpftoolLink(id)).toBeUndefined();
  });

  const cgroupRoot = cgroup2Mounts()[0];
  it.skipIf(!cgroupRoot)('cgroup_skb egress on a temporary cgroup counts exactly the datagrams of a child put in it', () => {
    const N = 12;
    const payload = 'bpfkit-cgroup-test';
    const dir = join(cgroupRoot!, `bpfkit-test-${process.pid}`);
    mkdirSync(dir);
    try {
      const link = attachCgroup(coll.programs.cg_egress!, dir, 'egress');
      try {
        expect(link.info().typeName).toBe('CGROUP');
        const packets = counter(coll, SLOT.CG_PACKETS);
        const bytes = counter(coll, SLOT.CG_BYTES);
        // The child joins the cgroup, then sends N datagrams from inside netns a (nothing listens: ICMP errors come back, unseen).
        const script = `echo $$ > ${dir}/cgroup.procs && exec ip netns exec ${net.a} bash -c 'for i in $(seq ${N}); do printf %s ${payload} > /dev/udp/${net.addr('b')}/9; done'`;
        const r = spawnSync('sh', ['-c', script], { encoding: 'utf8' });
        expect(r.status, r.stderr).toBe(0);
        expect(counter(coll, SLOT.CG_PACKETS) - packets).toBe(BigInt(N));
        // skb->len at cgroup egress is the IP packet: 20 + 8 + payload.
        expect(counter(coll, SLOT.CG_BYTES) - bytes).toBe(BigInt(N * (20 + 8 + payload.length)));
        // Traffic from outside the cgroup is not counted.
        const outside = spawnSync('ip', ['netns', 'exec', net.a, 'bash', '-c', `printf x > /dev/udp/${net.addr('b')}/9`]);
        expect(outside.status).toBe(0);
        expect(counter(coll, SLOT.CG_PACKETS) - packets).toBe(BigInt(N));
      } finally {
        link.close();
      }
    } finally {
      rmdirSync(dir);
    }
    expect(existsSync(dir)).toBe(false);
  });

  /** A non-blocking UDP socket in netns b bound to port 7777; what the test sends there from netns a. */
  function udpExchange(attach: (fd: number) => { close(): void }, firstBytes: string): string[] {
    const AF_INET = 2;
    const SOCK_DGRAM = 2;
    const fd = inNetns(net.b, () => sys.socket(AF_INET, SOCK_DGRAM | sys.O_NONBLOCK | 0o2000000, 0));
    expect(fd).toBeGreaterThanOrEqual(0);
    const buf = new sys.NativeBuffer(2048);
    try {
      const addr = new sys.NativeBuffer(16);
      addr.view.setUint16(0, AF_INET, true);
      addr.view.setUint16(2, 7777, false);
      expect(sys.bind(fd, addr)).toBe(0);
      addr.free();
      const link = attach(fd);
      try {
        const sends = [...firstBytes].map((c) => `printf ${c}-payload > /dev/udp/${net.addr('b')}/7777`).join('; ');
        expect(net.exec('a', 'bash', ['-c', sends]).status).toBe(0);
        const got: string[] = [];
        for (let tries = 0; tries < 50; tries++) {
          const n = sys.recv(fd, buf);
          if (n >= 0) {
            got.push(new TextDecoder().decode(buf.bytes.subarray(0, n)));
            continue;
          }
          if (got.length >= firstBytes.length / 2) break;
          execFileSync('sleep', ['0.02']);
        }
        return got;
      } finally {
        link.close();
      }
    } finally {
      buf.free();
      sys.close(fd);
    }
  }

  it('an eBPF socket filter (SO_ATTACH_BPF) lets through exactly the datagrams whose first byte is even', () => {
    const seen = counter(coll, SLOT.SOCKET_SEEN);
    const got = udpExchange((fd) => attachSocketFilter(fd, coll.programs.sock_even!), 'abcdefgh');
    // 'b' 'd' 'f' 'h' are 0x62, 0x64, ...: even.
    expect(got).toEqual(['b-payload', 'd-payload', 'f-payload', 'h-payload']);
    expect(counter(coll, SLOT.SOCKET_SEEN) - seen).toBe(8n);
  });

  it('a classic filter (SO_ATTACH_FILTER) does the same with ldb [8]; jset #1', () => {
    // ldb [8]; jset #1, drop, keep; keep: ret #65535; drop: ret #0
    const prog = [
      { code: 0x30, jt: 0, jf: 0, k: 8 },
      { code: 0x45, jt: 1, jf: 0, k: 1 },
      { code: 0x06, jt: 0, jf: 0, k: 65535 },
      { code: 0x06, jt: 0, jf: 0, k: 0 },
    ];
    expect(udpExchange((fd) => attachClassicFilter(fd, prog), 'pqrstu')).toEqual(['p-payload', 'r-payload', 't-payload']);
  });

  describe('bad input names what is missing; nothing is left on error', () => {
    it('interfaces, namespaces and cgroups that do not exist', () => {
      const p = coll.programs.xdp_count_echo!;
      expect(() => attachXdp(p, 'nosuchdev0')).toThrow('no network interface nosuchdev0');
      expect(() => attachXdp(p, 'veth-b')).toThrow('no network interface veth-b');
      expect(() => attachXdp(p, 'veth-zz', { netns: net.b })).toThrow(`no network interface veth-zz in network namespace ${net.b}`);
      expect(() => attachXdp(p, 'veth-b', { netns: 'bpfkit-no-such-ns' })).toThrow('no network namespace bpfkit-no-such-ns (/run/netns/bpfkit-no-such-ns does not exist)');
      expect(() => attachTcx(coll.programs.tcx_in!, 'nosuchdev0', 'ingress')).toThrow(AttachTargetError);
      expect(() => attachCgroup(coll.programs.cg_egress!, '/sys/fs/cgroup/bpfkit-no-such-cgroup', 'egress')).toThrow('no cgroup /sys/fs/cgroup/bpfkit-no-such-cgroup (no such directory)');
      expect(() => attachCgroup(coll.programs.cg_egress!, '/tmp', 'egress')).toThrow(/\/tmp is not on a cgroup v2 filesystem/);
      expect(() => attachCgroup(coll.programs.cg_egress!, '/tmp', 'sideways')).toThrow("unknown cgroup attach type 'sideways'");
    });

    it('programs of the wrong type: the kernel refuses, the message says why, no fd is left', () => {
      const fds = countFds();
      const engine = openFds().length;
      expect(() => attachXdp(coll.programs.tcx_in!, 'veth-b', { netns: net.b })).toThrow(KernelError);
      expect(() => attachTcx(coll.programs.xdp_count_echo!, 'veth-b', 'ingress', { netns: net.b })).toThrow(/tcx ingress on veth-b .* SCHED_CLS/);
      if (cgroupRoot) expect(() => attachCgroup(coll.programs.xdp_count_echo!, cgroupRoot, 'egress')).toThrow(/link create \(cgroup .* program xdp_count_echo\)/);
      expect(() => attachSocketFilter(-1, coll.programs.sock_even!)).toThrow(/SO_ATTACH_BPF.*EBADF/);
      expect(countFds()).toBe(fds);
      expect(openFds().length).toBe(engine);
    });
  });

  it('after the tests: no link, program, fd or namespace of ours is left', () => {
    coll.close();
    net.remove();
    for (const id of linkIds) expect(bpftoolLink(id)).toBeUndefined();
    expect(Netns.exists(net.a) || Netns.exists(net.b)).toBe(false);
    expect(openFds().map((f) => f.label)).toEqual([]);
    expect(countFds()).toBe(fdsBefore);
  });
});
