/**
 * An XDP packet counter on a veth pair inside private network namespaces:
 * makes two namespaces joined by a veth pair, attaches an XDP program to the
 * receiving end, sends pings across, and prints what XDP saw by protocol.
 * Everything is removed when it stops (the namespaces take the veth pair
 * with them; the XDP link is closed).
 *
 *   npx tsx examples/xdp-counter/xdp-counter.ts                 # 10 pings, then the counts
 *   npx tsx examples/xdp-counter/xdp-counter.ts --count 100     # 100 pings
 *   npx tsx examples/xdp-counter/xdp-counter.ts --count 0       # no pings: send your own (the command is printed), Ctrl-C to stop
 *   npx tsx examples/xdp-counter/xdp-counter.ts --mode generic  # XDP mode: generic or native (default: the kernel's choice)
 */
import { execFileSync, spawn, spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { BpfkitError } from '../../src/index.js';
import { attachXdp, possibleCpus, type XdpMode } from '../../src/kernel/index.js';
import { duration, fail, loadBpf, u64, untilStopped } from '../common.js';

const { values } = parseArgs({ options: { count: { type: 'string', default: '10' }, duration: { type: 'string' }, mode: { type: 'string', default: 'auto' } } });
const count = Number(values.count);
if (!Number.isInteger(count) || count < 0) fail(`--count needs a whole number, not '${values.count}'`);
const seconds = duration(values.duration);
const mode = values.mode as XdpMode;
if (!['auto', 'generic', 'native'].includes(mode)) fail(`--mode is generic or native, not '${values.mode}'`);

const KINDS = ['ipv4/icmp', 'ipv4/tcp', 'ipv4/udp', 'ipv4/other', 'ipv6', 'arp', 'other'];
const ns = { a: `bpfkit-xdp-${process.pid}-a`, b: `bpfkit-xdp-${process.pid}-b` };
const addr = { a: '10.123.0.1', b: '10.123.0.2' };

const ip = (...args: string[]) => execFileSync('ip', args, { stdio: ['ignore', 'ignore', 'pipe'] });

function makeNamespaces(): void {
  ip('netns', 'add', ns.a);
  ip('netns', 'add', ns.b);
  ip('-n', ns.a, 'link', 'add', 'veth-a', 'type', 'veth', 'peer', 'name', 'veth-b', 'netns', ns.b);
  ip('-n', ns.a, 'addr', 'add', `${addr.a}/24`, 'dev', 'veth-a');
  ip('-n', ns.b, 'addr', 'add', `${addr.b}/24`, 'dev', 'veth-b');
  for (const end of ['a', 'b'] as const) {
    ip('-n', ns[end], 'link', 'set', `veth-${end}`, 'up');
    ip('-n', ns[end], 'link', 'set', 'lo', 'up');
  }
}

function removeNamespaces(): void {
  for (const n of [ns.a, ns.b]) spawnSync('ip', ['netns', 'del', n], { stdio: 'ignore' });
}

const coll = loadBpf(join(import.meta.dirname, 'xdp_counter.bpf.c'));
let link;
try {
  makeNamespaces();
  link = attachXdp(coll.programs.xdp_count!, 'veth-b', { netns: ns.b, mode });
  process.stderr.write(`counting packets on veth-b (netns ${ns.b}, XDP link id ${link.id}, mode ${mode}); `);
  let pinged: Promise<unknown> | undefined;
  if (count > 0) {
    process.stderr.write(`sending ${count} pings from ${ns.a}\n`);
    const ping = spawn('ip', ['netns', 'exec', ns.a, 'ping', '-c', String(count), '-i', '0.05', '-W', '1', '-q', addr.b], { stdio: 'ignore' });
    pinged = new Promise((res) => ping.on('exit', res));
  } else {
    process.stderr.write(`send traffic with: ip netns exec ${ns.a} ping ${addr.b}; Ctrl-C to stop\n`);
  }
  await untilStopped(seconds, pinged);

  const cpus = possibleCpus();
  const lines = [`${'KIND'.padEnd(12)}${'PACKETS'.padStart(9)}${'BYTES'.padStart(10)}`];
  for (let kind = 0; kind < KINDS.length; kind++) {
    const key = new Uint8Array(4);
    key[0] = kind;
    const v = coll.maps.stats!.lookup(key)!;
    let packets = 0n;
    let bytes = 0n;
    for (let cpu = 0; cpu < cpus; cpu++) {
      packets += u64(v, cpu * 16);
      bytes += u64(v, cpu * 16 + 8);
    }
    if (packets > 0n) lines.push(`${KINDS[kind]!.padEnd(12)}${String(packets).padStart(9)}${String(bytes).padStart(10)}`);
  }
  process.stdout.write(`${lines.join('\n')}\n`);
} catch (err) {
  if (err instanceof BpfkitError) fail(`xdp-counter: ${err.message}`);
  throw err;
} finally {
  link?.close();
  coll.close();
  removeNamespaces();
}
