/**
 * `bpfkit capture` as a user runs it, on one end of a veth pair between two
 * private network namespaces: it sees exactly the packets the test sends
 * that match its expression (the kernel's own counter shows the others
 * never reached the socket), prints the same lines as tcpdump capturing the
 * same traffic beside it, and writes pcap and pcapng files tcpdump reads
 * back. Without root: one clear message. Bad input: errors naming it, and
 * nothing left open.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openFds } from '../../src/kernel/fd.js';
import { PacketSocket } from '../../src/kernel/packet-socket.js';
import { CAN_BPF, SKIP_REASON, countFds } from './support/kernel.js';
import { HAVE_SETPRIV, bpfkit, bpfkitAsNobody } from './support/cli.js';
import { Netns } from './attach-support.js';

const HAVE_TOOLS = spawnSync('ip', ['-V']).status === 0 && spawnSync('tcpdump', ['--version']).status === 0;
const READY = CAN_BPF && HAVE_TOOLS;

/** Run the CLI and resolve `listening` once it says it is listening. */
function startCapture(args: string[]): { listening: Promise<void>; done: Promise<{ code: number; stdout: string; stderr: string }> } {
  let ready!: () => void;
  const listening = new Promise<void>((r) => (ready = r));
  const done = bpfkit(args, (text) => {
    if (text.includes('listening on')) ready();
  });
  void done.then(() => ready());
  return { listening, done };
}

/** tcpdump -l -n in netns b, resolving `listening` once it is. */
function startTcpdump(net: Netns, args: string[]): { proc: ChildProcess; listening: Promise<void>; done: Promise<string> } {
  const proc = spawn('ip', ['netns', 'exec', net.b, 'tcpdump', '-l', '-n', ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  let ready!: () => void;
  const listening = new Promise<void>((r) => (ready = r));
  proc.stdout!.on('data', (d: Buffer) => (stdout += d.toString()));
  proc.stderr!.on('data', (d: Buffer) => {
    stderr += d.toString();
    if (stderr.includes('listening on')) ready();
  });
  const done = new Promise<string>((resolve) => proc.on('exit', () => (ready(), resolve(stdout))));
  return { proc, listening, done };
}

if (!READY) describe('bpfkit capture', () => it.skip(CAN_BPF ? 'needs iproute2 and tcpdump' : SKIP_REASON, () => {}));

describe.skipIf(!READY)('bpfkit capture', () => {
  let net: Netns;
  let dir: string;
  let fdsBefore = 0;

  beforeAll(() => {
    fdsBefore = countFds();
    net = new Netns('cap');
    dir = mkdtempSync(join(tmpdir(), 'bpfkit-capture-'));
    // Resolve the neighbours first, so the captures below see only the test's packets.
    net.ping(1);
  });
  afterAll(() => {
    net?.remove();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  /** Send `k` datagrams to port 7777 (payload match-i) interleaved with `k` to 8888 (nomatch-i) and a ping, from netns a. */
  function send(k: number): void {
    const b = net.addr('b');
    const script = Array.from({ length: k }, (_, i) => `printf match-${i} > /dev/udp/${b}/7777; printf nomatch-${i} > /dev/udp/${b}/8888`).join('; ');
    const r = net.exec('a', 'bash', ['-c', `${script}; ping -c 1 -W 1 ${b} > /dev/null`]);
    expect(r.status, r.stderr).toBe(0);
  }

  it('prints exactly the matching packets, the same lines as tcpdump capturing beside it; the kernel filter kept the rest out', async () => {
    const K = 8;
    const expr = 'udp port 7777';
    const ours = startCapture(['capture', '-i', 'veth-b', '--netns', net.b, '-c', String(K), expr]);
    const theirs = startTcpdump(net, ['-i', 'veth-b', '-c', String(K), expr]);
    await Promise.all([ours.listening, theirs.listening]);
    send(K);
    const [r, tcpdumpOut] = await Promise.all([ours.done, theirs.done]);
    expect(r.code).toBe(0);
    const lines = r.stdout.trimEnd().split('\n');
    const reference = tcpdumpOut.trimEnd().split('\n');
    expect(lines).toHaveLength(K);
    // Each socket stamps a packet when it gets it: the times differ by microseconds, the rest is equal.
    const split = (l: string) => [l.slice(0, l.indexOf(' ')), l.slice(l.indexOf(' ') + 1)] as const;
    expect(lines.map((l) => split(l)[1])).toEqual(reference.map((l) => split(l)[1]));
    const micros = (t: string) => t.split(/[:.]/).map(Number).reduce((acc, v, i) => (i < 3 ? acc * 60 + v : acc * 1e6 + v), 0);
    lines.forEach((l, i) => expect(Math.abs(micros(split(l)[0]) - micros(split(reference[i]!)[0]))).toBeLessThan(2000));
    expect(lines[0]).toMatch(new RegExp(`^\\d\\d:\\d\\d:\\d\\d\\.\\d{6} IP ${net.addr('a').replace(/\./g, '\\.')}\\.\\d+ > ${net.addr('b').replace(/\./g, '\\.')}\\.7777: UDP, length 7$`));
    expect(r.stderr).toBe(
      `listening on veth-b, link-type EN10MB (Ethernet), snapshot length 262144 bytes\n${K} packets captured\n${K} packets received by filter\n0 packets dropped by kernel\n`,
    );
  });

  for (const [file, format] of [
    ['out.pcap', 'pcap'],
    ['out.pcapng', 'pcapng'],
  ] as const) {
    it(`-w ${file}: a ${format} file tcpdump reads back, holding exactly the matching datagrams in order`, async () => {
      const K = 6;
      const path = join(dir, file);
      const ours = startCapture(['capture', '-i', 'veth-b', '--netns', net.b, '-c', String(K), '-w', path, 'udp and dst port 7777']);
      await ours.listening;
      send(K);
      const r = await ours.done;
      expect(r.code).toBe(0);
      expect(r.stdout).toBe('');
      const back = spawnSync('tcpdump', ['-n', '-r', path, '-A'], { encoding: 'utf8' });
      expect(back.status, back.stderr).toBe(0);
      expect(back.stderr).toMatch(new RegExp(`reading from file ${path.replace(/[./]/g, '\\$&')}, link-type EN10MB \\(Ethernet\\)`));
      const summaries = back.stdout.split('\n').filter((l) => /^\d\d:/.test(l));
      expect(summaries).toHaveLength(K);
      for (const l of summaries) expect(l).toMatch(/ > 10\.199\.\d+\.2\.7777: UDP, length 7$/);
      // The payloads, in order: match-0 ... match-5.
      const payloads = [...back.stdout.matchAll(/(?<!no)match-(\d)/g)].map((m) => Number(m[1]));
      expect(payloads).toEqual([0, 1, 2, 3, 4, 5]);
      expect(back.stdout).not.toContain('nomatch');
    });
  }

  it('with no expression every packet comes (cut to -s); --duration stops it', async () => {
    const ours = startCapture(['capture', '-i', 'veth-b', '--netns', net.b, '-s', '40', '--duration', '1.5', '-w', join(dir, 'all.pcap')]);
    await ours.listening;
    send(2);
    const r = await ours.done;
    expect(r.code).toBe(0);
    const back = spawnSync('tcpdump', ['-n', '-r', join(dir, 'all.pcap')], { encoding: 'utf8' });
    // 2 + 2 datagrams, an echo request and its reply, ICMP port unreachables for the 8888 ones (rate-limited): at least 6.
    const lines = back.stdout.trim().split('\n');
    // Each packet cut to 40 bytes (tcpdump says [|udp], [|icmp]): 2 + 2 datagrams, an echo request and its reply, maybe more.
    expect(lines.filter((l) => /\.7777: +\[\|udp\]$/.test(l))).toHaveLength(2);
    expect(lines.filter((l) => /\.8888: +\[\|udp\]$/.test(l))).toHaveLength(2);
    expect(lines.filter((l) => /: +\[\|icmp\]$/.test(l)).length).toBeGreaterThanOrEqual(2);
  });

  it('the recv read mode captures the same packets as the ring', async () => {
    const K = 4;
    const ours = startCapture(['capture', '-i', 'veth-b', '--netns', net.b, '-c', String(K), '--read-mode', 'recv', 'udp port 7777']);
    await ours.listening;
    send(K);
    const r = await ours.done;
    expect(r.stdout.trim().split('\n').map((l) => l.replace(/^\S+ /, ''))).toEqual(
      Array.from({ length: K }, () => expect.stringMatching(/^IP 10\.199\.\d+\.1\.\d+ > 10\.199\.\d+\.2\.7777: UDP, length 7$/)),
    );
  });

  describe('bad input', () => {
    it('an interface, a namespace or an expression that is wrong: one message naming it, nothing left open', async () => {
      const fds = countFds();
      const engine = openFds().length;
      expect(await bpfkit(['capture', '-i', 'nosuch0', 'icmp'])).toMatchObject({ code: 1, stderr: 'bpfkit: no network interface nosuch0\n' });
      expect(await bpfkit(['capture', '-i', 'veth-b', '--netns', 'bpfkit-nope'])).toMatchObject({
        code: 1,
        stderr: 'bpfkit: no network namespace bpfkit-nope (/run/netns/bpfkit-nope does not exist)\n',
      });
      const bad = await bpfkit(['capture', '-i', 'veth-b', '--netns', net.b, 'udp port']);
      expect(bad.code).toBe(1);
      expect(bad.stderr).toMatch(/^bpfkit: .*syntax error|^bpfkit: .*expected/);
      expect(bad.stderr).not.toMatch(/\n\s+at /);
      expect(await bpfkit(['capture', '-i', 'lo', '-c', '0'])).toMatchObject({ code: 1, stderr: "bpfkit: -c needs a positive number, not '0'\n" });
      // The library call fails the same way after the socket was made: it is closed.
      expect(() => PacketSocket.open({ iface: 'veth-b', netns: net.b, filter: () => { throw new Error('injected'); } })).toThrow('injected');
      expect(() => PacketSocket.open({ iface: 'veth-b', netns: net.b, blockSize: 1000 })).toThrow('ring block size must be a multiple of the page size');
      expect(() => PacketSocket.open({ iface: 'veth-b', netns: net.b, blockSize: 1 << 30, blockCount: 1 << 20 })).toThrow(/PACKET_RX_RING/);
      expect(countFds()).toBe(fds);
      expect(openFds().length).toBe(engine);
    });

    it.skipIf(!HAVE_SETPRIV)('without root (as nobody): one clear message, no stack trace', () => {
      const r = bpfkitAsNobody(['capture', '-i', 'lo', 'icmp']);
      expect(r.stderr).toBe('bpfkit: capturing packets needs root (CAP_NET_RAW)\n');
      expect(r.code).toBe(1);
      expect(r.stdout).toBe('');
    });
  });

  it('after the tests: no socket, fd or namespace of ours is left', () => {
    net.remove();
    expect(Netns.exists(net.a) || Netns.exists(net.b)).toBe(false);
    expect(openFds().map((f) => f.label)).toEqual([]);
    expect(countFds()).toBe(fdsBefore);
  });
});
