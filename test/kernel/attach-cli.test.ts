/**
 * `bpfkit attach …` as a user runs it: a program from an object (target from
 * its SEC() name or given), a pinned program, a program by id; links pinned
 * in a private bpffs (checked with bpftool, gone once the pin is removed) or
 * held until --duration / Ctrl-C, after which the object's maps are printed
 * and nothing is left. Without root: one message. Bad input: errors naming
 * the missing thing, and no fd left behind.
 */
import { spawn, spawnSync } from 'node:child_process';
import { mkdirSync, readdirSync, rmSync, rmdirSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { cgroup2Mounts } from '../../src/kernel/cgroup.js';
import { parseAttachTarget, parseInterval, targetFromSection } from '../../src/kernel/attach-target.js';
import { REPO } from '../support/paths.js';
import { Child, HAVE_CLANG, HAVE_GCC, HAVE_SDT, Netns, bpftoolLink, compileAttachBpf, compileTarget, progExists } from './attach-support.js';
import { CAN_BPF, SKIP_REASON, bpfFds, countFds, mountBpffs } from './support/kernel.js';
import { HAVE_SETPRIV, bpfkit, bpfkitAsNobody, bpfkitRunning } from './support/cli.js';

const MAIN = join(REPO, 'src/cli/main.ts');
const N = 37;


async function until(what: string, cond: () => boolean, ms = 20_000): Promise<void> {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

/** bpftool's dump of a hash map with u32 keys and u64 values: key → value. */
function bpftoolCounts(pinned: string): Map<number, bigint> {
  const r = spawnSync('bpftool', ['--json', 'map', 'dump', 'pinned', pinned], { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`bpftool map dump: ${r.stderr}`);
  const bytes = (h: string[]) => Buffer.from(h.map((x) => parseInt(x, 16)));
  const out = new Map<number, bigint>();
  for (const e of JSON.parse(r.stdout) as { key: string[]; value: string[] }[]) out.set(bytes(e.key).readUInt32LE(0), bytes(e.value).readBigUInt64LE(0));
  return out;
}

/** "program NAME (id P) link id L" from the CLI's message. */
function ids(text: string): { prog: number; link: number } {
  const m = /\(id (\d+)\) link id (\d+)/.exec(text);
  if (!m) throw new Error(`no ids in: ${text}`);
  return { prog: Number(m[1]), link: Number(m[2]) };
}

describe('attach targets as text (no kernel needed)', () => {
  it('parses every kind, with aliases and paths that hold colons', () => {
    expect(parseAttachTarget('tracepoint:syscalls:sys_enter_openat')).toEqual({ kind: 'tracepoint', group: 'syscalls', name: 'sys_enter_openat' });
    expect(parseAttachTarget('tp:sched/sched_switch')).toEqual({ kind: 'tracepoint', group: 'sched', name: 'sched_switch' });
    expect(parseAttachTarget('rt:sched_switch')).toEqual({ kind: 'raw_tracepoint', name: 'sched_switch' });
    expect(parseAttachTarget('uretprobe:libc:malloc')).toEqual({ kind: 'uretprobe', binary: 'libc', symbol: 'malloc' });
    expect(parseAttachTarget('uprobe:/opt/a:b/prog:0x1139')).toEqual({ kind: 'uprobe', binary: '/opt/a:b/prog', offset: 0x1139 });
    expect(parseAttachTarget('usdt:/usr/bin/x:prov:probe')).toEqual({ kind: 'usdt', binary: '/usr/bin/x', provider: 'prov', name: 'probe' });
    expect(parseAttachTarget('kprobe:vfs_read+0x10')).toEqual({ kind: 'kprobe', symbol: 'vfs_read+0x10' });
    expect(parseAttachTarget('timer:10ms')).toEqual({ kind: 'timer', intervalNs: 10_000_000n });
    expect(parseAttachTarget('interval:ms:100')).toEqual({ kind: 'timer', intervalNs: 100_000_000n });
    expect(parseAttachTarget('xdp:eth0')).toEqual({ kind: 'xdp', iface: 'eth0' });
    expect(parseAttachTarget('tcx:egress:veth0')).toEqual({ kind: 'tcx', direction: 'egress', iface: 'veth0' });
    expect(parseAttachTarget('cgroup:/sys/fs/cgroup/a:b:egress')).toEqual({ kind: 'cgroup', path: '/sys/fs/cgroup/a:b', attachType: 'egress' });
    expect(parseInterval('99hz')).toBe(1_000_000_000n / 99n);
    expect(parseInterval('10 ms')).toBeUndefined();
  });

  it('refuses malformed targets, saying what the form is', () => {
    expect(() => parseAttachTarget('eth0')).toThrow("attach target 'eth0': write it as kind:where");
    expect(() => parseAttachTarget('xdp:')).toThrow("nothing after 'xdp:'");
    expect(() => parseAttachTarget('uprobe:libc')).toThrow('uprobe is uprobe:BINARY:SYMBOL');
    expect(() => parseAttachTarget('usdt:bin:probe')).toThrow('usdt is usdt:BINARY:PROVIDER:NAME');
    expect(() => parseAttachTarget('tcx:sideways:eth0')).toThrow('tcx is tcx:ingress:IFACE or tcx:egress:IFACE');
    expect(() => parseAttachTarget('timer:10')).toThrow('a timer is timer:INTERVAL with a unit');
    expect(() => parseAttachTarget('perf_event:no-such-event')).toThrow(/no-such-event/);
  });

  it('reads targets from libbpf section names', () => {
    expect(targetFromSection('tracepoint/syscalls/sys_enter_getppid')).toBe('tracepoint:syscalls:sys_enter_getppid');
    expect(targetFromSection('tp/sched/sched_switch')).toBe('tracepoint:sched:sched_switch');
    expect(targetFromSection('raw_tp/sys_enter')).toBe('raw_tracepoint:sys_enter');
    expect(targetFromSection('uprobe/libc.so.6:malloc')).toBe('uprobe:libc.so.6:malloc');
    expect(targetFromSection('uprobe')).toBeUndefined();
    expect(targetFromSection('usdt/libpthread:prov:name')).toBe('usdt:libpthread:prov:name');
    expect(targetFromSection('xdp')).toBeUndefined();
    expect(targetFromSection('xdp', { iface: 'eth0' })).toBe('xdp:eth0');
    expect(targetFromSection('tcx/ingress', { iface: 'eth0' })).toBe('tcx:ingress:eth0');
    expect(targetFromSection('cgroup_skb/egress', { cgroup: '/sys/fs/cgroup/app' })).toBe('cgroup:/sys/fs/cgroup/app:egress');
    expect(targetFromSection('cgroup/sock', { cgroup: '/c' })).toBe('cgroup:/c:sock_create');
    expect(targetFromSection('socket')).toBeUndefined();
  });
});

describe.skipIf(!CAN_BPF || !HAVE_SETPRIV)('bpfkit attach without root', () => {
  it('one clear message, no stack trace', () => {
    const r = bpfkitAsNobody(['attach', join(REPO, 'README.md'), 'tracepoint:syscalls:sys_enter_getppid']);
    expect(r.stderr).toBe('bpfkit: loading BPF programs needs root (CAP_BPF and CAP_PERFMON)\n');
    expect(r.stdout).toBe('');
    expect(r.code).toBe(1);
  });
});
if (!CAN_BPF) describe('bpfkit attach', () => it.skip(SKIP_REASON, () => {}));

describe.skipIf(!CAN_BPF || !HAVE_CLANG || !HAVE_GCC || !HAVE_SDT)('bpfkit attach, as root', () => {
  let obj: string;
  let bin: string;
  let fs: { dir: string; cleanup: () => void };
  beforeAll(() => {
    obj = compileAttachBpf('attach_cli');
    bin = compileTarget();
    fs = mountBpffs();
  });
  afterAll(() => fs?.cleanup());

  it('an object: the target from its SEC() name, attached for --duration, then its maps printed and the link gone', async () => {
    const run = bpfkitRunning(['attach', obj, '--program', 'cli_getppid', '--duration', '3']);
    await until('attached', () => run.stderr().includes('attached'));
    const child = new Child(bin, ['getppid', String(N)]);
    expect((await child.go()).code).toBe(0);
    const r = await run.done;
    expect(r.code).toBe(0);
    expect(r.stderr).toMatch(/^attached tracepoint syscalls:sys_enter_getppid: program cli_getppid \(id \d+\) link id \d+; detaching in 3 s\n$/);
    expect(r.stdout).toContain(`@calls[${child.pid}]: ${N}\n`);
    const { prog, link } = ids(r.stderr);
    expect(bpftoolLink(link)).toBeUndefined();
    expect(progExists(prog)).toBe(false);
  });

  it('a pinned program on a uprobe with --pid, the link pinned: only that process counted, bpftool sees the link until the pin is removed', async () => {
    const load = await bpfkit(['prog', 'load', obj, `${fs.dir}/up`, '--program', 'cli_uprobe', '--pinmaps', `${fs.dir}/maps`]);
    expect(load.code).toBe(0);
    const child = new Child(bin, ['call', String(N)]);
    const other = new Child(bin, ['call', String(N)]);
    try {
      const r = await bpfkit(['attach', 'pinned', `${fs.dir}/up`, `uprobe:${bin}:bpfkit_square`, '--pid', String(child.pid), '--pin', `${fs.dir}/link`]);
      expect(r.stderr).toBe('');
      expect(r.code).toBe(0);
      expect(r.stdout).toMatch(new RegExp(`^pinned uprobe .*attach_target:bpfkit_square.*: program cli_uprobe \\(id \\d+\\) link id \\d+ at ${fs.dir}/link\\n$`));
      const { prog, link } = ids(r.stdout);
      expect(bpftoolLink(link)).toMatchObject({ id: link, prog_id: prog });
      expect((await child.go()).code).toBe(0);
      expect((await other.go()).code).toBe(0);
      const counts = bpftoolCounts(`${fs.dir}/maps/calls`);
      expect(counts.get(child.pid)).toBe(BigInt(N));
      expect(counts.has(other.pid)).toBe(false);
      rmSync(`${fs.dir}/link`);
      await until('the link to go', () => bpftoolLink(link) === undefined);
    } finally {
      child.kill();
      other.kill();
      rmSync(`${fs.dir}/up`, { force: true });
      rmSync(`${fs.dir}/maps`, { recursive: true, force: true });
    }
  });

  for (const [probe, mode] of [
    ['plain', 'usdt'],
    ['guarded', 'guarded'],
  ] as const) {
    it(`a USDT probe ${probe === 'guarded' ? 'behind a semaphore' : 'without a semaphore'} from an object (usdt.bpf.h's spec table filled), --pid: exactly N firings`, async () => {
      const child = new Child(bin, [mode, String(N)]);
      try {
        const run = bpfkitRunning(['attach', obj, '--program', 'cli_usdt', `usdt:${bin}:bpfkit_test:${probe}`, '--pid', String(child.pid), '--duration', '3']);
        await until('attached', () => run.stderr().includes('attached'));
        const ran = await child.go();
        expect(ran.code).toBe(0);
        // attach_target prints how many guarded probes fired: all N while the semaphore is held.
        if (probe === 'guarded') expect(ran.stdout.trim()).toBe(String(N));
        const r = await run.done;
        expect(r.code).toBe(0);
        expect(r.stderr).toMatch(new RegExp(`^attached usdt \\S+attach_target:bpfkit_test:${probe}: program cli_usdt`));
        expect(r.stdout).toBe(`@calls[${child.pid}]: ${N}\n`);
      } finally {
        child.kill();
      }
    });
  }

  it('a program by id on XDP in a private netns (--netns), the link pinned: it counts exactly the pings sent', async () => {
    const net = new Netns('cli');
    try {
      const load = await bpfkit(['prog', 'load', obj, `${fs.dir}/xdp`, '--program', 'cli_xdp', '--pinmaps', `${fs.dir}/xmaps`]);
      expect(load.code).toBe(0);
      const id = (JSON.parse(spawnSync('bpftool', ['--json', 'prog', 'show', 'pinned', `${fs.dir}/xdp`], { encoding: 'utf8' }).stdout) as { id: number }).id;
      const r = await bpfkit(['attach', 'id', String(id), 'xdp:veth-b', '--netns', net.b, '--mode', 'generic', '--pin', `${fs.dir}/xlink`]);
      expect(r.stderr).toBe('');
      expect(r.code).toBe(0);
      const { link } = ids(r.stdout);
      expect(bpftoolLink(link)).toMatchObject({ id: link, prog_id: id, type: 'xdp' });
      expect(net.ping(N)).toBe(N);
      expect(bpftoolCounts(`${fs.dir}/xmaps/calls`).get(0)).toBe(BigInt(N));
      rmSync(`${fs.dir}/xlink`);
      await until('the link to go', () => bpftoolLink(link) === undefined);
      expect(net.ping(3)).toBe(3);
      expect(bpftoolCounts(`${fs.dir}/xmaps/calls`).get(0)).toBe(BigInt(N));
    } finally {
      net.remove();
      rmSync(`${fs.dir}/xdp`, { force: true });
      rmSync(`${fs.dir}/xmaps`, { recursive: true, force: true });
    }
  });

  it('a pinned program on tcx ingress in a private netns, the link pinned: exactly the pings sent', async () => {
    const net = new Netns('clitcx');
    try {
      expect((await bpfkit(['prog', 'load', obj, `${fs.dir}/tcx`, '--program', 'cli_tcx', '--pinmaps', `${fs.dir}/tmaps`])).code).toBe(0);
      const r = await bpfkit(['attach', 'pinned', `${fs.dir}/tcx`, 'tcx:ingress:veth-b', '--netns', net.b, '--pin', `${fs.dir}/tlink`]);
      expect(r.stderr).toBe('');
      expect(r.stdout).toMatch(/^pinned tcx /);
      const { prog, link } = ids(r.stdout);
      // bpftool before 7.4 names no tcx link type: it shows the number, BPF_LINK_TYPE_TCX = 11.
      expect(bpftoolLink(link)).toMatchObject({ id: link, prog_id: prog });
      expect([11, 'tcx']).toContain(bpftoolLink(link)!.type);
      expect(net.ping(N)).toBe(N);
      expect(bpftoolCounts(`${fs.dir}/tmaps/calls`).get(1)).toBe(BigInt(N));
      rmSync(`${fs.dir}/tlink`);
      await until('the link to go', () => bpftoolLink(link) === undefined);
    } finally {
      net.remove();
      rmSync(`${fs.dir}/tcx`, { force: true });
      rmSync(`${fs.dir}/tmaps`, { recursive: true, force: true });
    }
  });

  const cgroupRoot = cgroup2Mounts()[0];
  it.skipIf(!cgroupRoot)('an object on a temporary cgroup (egress), link and maps pinned: exactly the datagrams of a child in it', async () => {
    const dir = join(cgroupRoot!, `bpfkit-clitest-${process.pid}`);
    mkdirSync(dir);
    try {
      const r = await bpfkit(['attach', obj, '--program', 'cli_cgroup', `cgroup:${dir}:egress`, '--pin', `${fs.dir}/clink`, '--pinmaps', `${fs.dir}/cmaps`]);
      expect(r.stderr).toBe('');
      expect(r.stdout).toMatch(new RegExp(`^pinned cgroup .*program cli_cgroup \\(id \\d+\\) link id \\d+ at ${fs.dir}/clink\\n`));
      expect(r.stdout).toMatch(new RegExp(`^pinned map calls \\(id \\d+\\) at ${fs.dir}/cmaps/calls$`, 'm'));
      const { link } = ids(r.stdout);
      // The child joins the cgroup, then sends N datagrams to a closed local port.
      const script = `echo $$ > ${dir}/cgroup.procs && for i in $(seq ${N}); do printf x > /dev/udp/127.0.0.1/9; done`;
      const sent = spawnSync('bash', ['-c', script], { encoding: 'utf8' });
      expect(sent.status, sent.stderr).toBe(0);
      expect(bpftoolCounts(`${fs.dir}/cmaps/calls`).get(2)).toBe(BigInt(N));
      rmSync(`${fs.dir}/clink`);
      await until('the link to go', () => bpftoolLink(link) === undefined);
    } finally {
      rmSync(`${fs.dir}/clink`, { force: true });
      rmSync(`${fs.dir}/cmaps`, { recursive: true, force: true });
      rmdirSync(dir);
    }
  });

  it('Ctrl-C detaches: exit 0, the maps printed, no link or program left', async () => {
    const p = spawn(process.execPath, ['--import', 'tsx', MAIN, 'attach', obj, '--program', 'cli_getppid'], { cwd: REPO, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    p.stdout.on('data', (d: Buffer) => (out += d.toString()));
    p.stderr.on('data', (d: Buffer) => (err += d.toString()));
    const exit = new Promise<number | null>((res) => p.on('exit', (code) => res(code)));
    try {
      await until('attached', () => err.includes('Ctrl-C to detach'), 60_000);
      const child = new Child(bin, ['getppid', String(N)]);
      expect((await child.go()).code).toBe(0);
      p.kill('SIGINT');
      expect(await exit).toBe(0);
      expect(out).toContain(`@calls[${child.pid}]: ${N}\n`);
      const { prog, link } = ids(err);
      expect(bpftoolLink(link)).toBeUndefined();
      expect(progExists(prog)).toBe(false);
    } finally {
      if (p.exitCode === null) p.kill('SIGKILL');
    }
  });

  it('--pin that fails after --pinmaps: the map pins made are removed, no link stays', async () => {
    const fds = countFds();
    const r = await bpfkit(['attach', obj, '--program', 'cli_getppid', '--pin', `${fs.dir}/no/such/dir/link`, '--pinmaps', `${fs.dir}/m2`]);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(new RegExp(`^bpfkit: .*${fs.dir}/no/such/dir/link.*\\n$`));
    expect(readdirSync(`${fs.dir}/m2`)).toEqual([]);
    expect(bpfFds()).toEqual([]);
    expect(countFds()).toBe(fds);
    rmdirSync(`${fs.dir}/m2`);
  });

  describe('bad input: an error naming what is missing, nothing left behind', () => {
    const cases: [string, () => string[], RegExp | string][] = [
      ['several programs, none chosen', () => ['attach', obj], /has 6 programs \(cli_getppid, cli_uprobe, cli_usdt, cli_xdp, cli_tcx, cli_cgroup\): choose one with --program/],
      ['no such program', () => ['attach', obj, '--program', 'nope'], /has no program nope \(it has cli_getppid, cli_uprobe, cli_usdt, cli_xdp, cli_tcx, cli_cgroup\)/],
      ['an XDP section without an interface', () => ['attach', obj, '--program', 'cli_xdp'], /program cli_xdp \(section xdp\) does not say where to attach: give a target/],
      ['an unknown symbol', () => ['attach', obj, '--program', 'cli_uprobe', `uprobe:${bin}:no_such_function`], /no function no_such_function in \S+\/attach_target \(searched .symtab and .dynsym\)/],
      ['an unknown binary', () => ['attach', obj, '--program', 'cli_uprobe', 'uprobe:/no/such/binary:main'], 'no such binary or library: /no/such/binary'],
      ['an unknown library', () => ['attach', obj, '--program', 'cli_uprobe', 'uprobe:libbpfkitnosuch:malloc'], 'no binary or library named libbpfkitnosuch'],
      ['a missing tracepoint', () => ['attach', obj, '--program', 'cli_getppid', 'tracepoint:syscalls:sys_enter_bpfkit_nosuch'], 'no tracepoint syscalls:sys_enter_bpfkit_nosuch'],
      ['a missing tracepoint group', () => ['attach', obj, '--program', 'cli_getppid', 'tracepoint:bpfkit_nosuch:x'], 'no tracepoint bpfkit_nosuch:x'],
      ['an interface that does not exist', () => ['attach', obj, '--program', 'cli_xdp', 'xdp:bpfkitnosuch0'], 'no network interface bpfkitnosuch0'],
      ['a network namespace that does not exist', () => ['attach', obj, '--program', 'cli_xdp', 'xdp:lo', '--netns', 'bpfkit-no-such-ns'], /bpfkit-no-such-ns/],
      ['a cgroup that does not exist', () => ['attach', obj, '--program', 'cli_xdp', 'cgroup:/sys/fs/cgroup/bpfkit-nosuch:egress'], 'no cgroup /sys/fs/cgroup/bpfkit-nosuch'],
      ['an unknown target kind', () => ['attach', obj, '--program', 'cli_xdp', 'sideways:lo'], "unknown kind 'sideways'"],
      ['a malformed tracepoint', () => ['attach', obj, '--program', 'cli_getppid', 'tracepoint:sys_enter_getppid'], 'a tracepoint is tracepoint:GROUP:NAME'],
      ['a pinned program that does not exist', () => ['attach', 'pinned', `${fs.dir}/nothing`, 'xdp:lo'], /bpfkit-bpffs-\w+\/nothing/],
      ['a program id that does not exist', () => ['attach', 'id', '4000000000', 'xdp:lo'], /4000000000/],
      ['an object that does not exist', () => ['attach', '/no/such/object.bpf.o', 'xdp:lo'], '/no/such/object.bpf.o'],
      ['a bad --pid', () => ['attach', obj, '--program', 'cli_getppid', '--pid', 'me'], "--pid needs a whole number, not 'me'"],
      ['a bad --cookie', () => ['attach', obj, '--program', 'cli_getppid', '--cookie', 'x1'], "--cookie needs a whole number, not 'x1'"],
      ['a bad --duration', () => ['attach', obj, '--program', 'cli_getppid', '--duration', '-1'], "--duration needs a positive number of seconds, not '-1'"],
      ['a bad XDP mode', () => ['attach', obj, '--program', 'cli_xdp', 'xdp:lo', '--mode', 'warp'], "XDP mode must be generic, native or offload, not 'warp'"],
      ['a pin outside a bpf filesystem', () => ['attach', obj, '--program', 'cli_xdp', 'xdp:lo', '--pin', '/tmp/bpfkit-not-bpffs/link'], /\/tmp\/bpfkit-not-bpffs\/link/],
    ];
    for (const [what, args, message] of cases) {
      it(what, async () => {
        const fds = countFds();
        const r = await bpfkit(args());
        expect(r.code).not.toBe(0);
        expect(r.stdout).toBe('');
        expect(r.stderr).toMatch(/^bpfkit: /);
        expect(r.stderr).not.toMatch(/internal error|\n\s+at /);
        if (typeof message === 'string') expect(r.stderr).toContain(message);
        else expect(r.stderr).toMatch(message);
        expect(bpfFds()).toEqual([]);
        expect(countFds()).toBe(fds);
      });
    }
  });
});
