/**
 * Vitest global setup: after the whole run, nothing bpfkit's tests made is
 * left in the kernel — no BPF program, map or link, no pin (a pinned object
 * outlives its test), no tracefs probe, no bpffs or tracefs mount, no network
 * namespace, no cgroup.
 *
 * Other jobs share this kernel, so the check is narrow: it compares with a
 * snapshot taken before the run and only counts what bpfkit's tests make —
 * programs and maps named as in the BPF sources of test/ and examples/ (and
 * the names the kernel tests give objects they build), created during the
 * run and held by no live process; probes, namespaces and cgroups named
 * `bpfkit…` whose creating process is gone; bpffs mounts under bpfkit-* temp
 * directories; a tracefs mounted during the run that no bpfkit process still
 * uses. A leftover fails the run (exit code 1) with the list.
 */
import { spawnSync } from 'node:child_process';
import { readFileSync, readdirSync, readlinkSync } from 'node:fs';
import { join, relative } from 'node:path';
import { cgroup2Mounts } from '../../src/kernel/cgroup.js';
import { registryDir } from '../../src/kernel/tracefs.js';
import { REPO } from '../support/paths.js';

const ACTIVE = process.platform === 'linux' && process.getuid?.() === 0 && spawnSync('bpftool', ['version']).status === 0;

interface KernelObject {
  id: number;
  name?: string;
  prog_id?: number;
}

interface Snapshot {
  progs: KernelObject[];
  maps: KernelObject[];
  links: KernelObject[];
  probes: string[];
  mounts: string[];
  netns: string[];
  cgroups: string[];
}

function bpftool(kind: 'prog' | 'map' | 'link'): KernelObject[] {
  const r = spawnSync('bpftool', ['--json', kind, 'list'], { encoding: 'utf8' });
  if (r.status !== 0) return [];
  return JSON.parse(r.stdout || '[]') as KernelObject[];
}

/** `mountpoint fstype` of every bpf and tracefs mount. */
function mounts(): string[] {
  return readFileSync('/proc/self/mountinfo', 'utf8')
    .split('\n')
    .map((l) => /^\S+ \S+ \S+ \S+ (\S+) .* - (bpf|tracefs) /.exec(l))
    .filter((m) => m !== null)
    .map((m) => `${m[1]} ${m[2]}`);
}

function tracefsProbes(): string[] {
  const out: string[] = [];
  for (const m of mounts().filter((x) => x.endsWith(' tracefs'))) {
    for (const f of ['uprobe_events', 'kprobe_events']) {
      try {
        out.push(...readFileSync(join(m.split(' ')[0]!, f), 'utf8').split('\n').filter((l) => l.includes('bpfkit/')));
      } catch {
        // not readable here
      }
    }
  }
  return [...new Set(out)];
}

function netns(): string[] {
  const r = spawnSync('ip', ['netns', 'list'], { encoding: 'utf8' });
  return r.status === 0 ? r.stdout.split('\n').map((l) => l.split(' ')[0]!).filter((n) => n.startsWith('bpfkit')) : [];
}

/** bpfkit* directories at the top of every cgroup v2 mount (where the tests make theirs). */
function cgroups(): string[] {
  return cgroup2Mounts().flatMap((root) => readdirSync(root).filter((d) => d.startsWith('bpfkit')).map((d) => join(root, d)));
}

function snapshot(): Snapshot {
  return { progs: bpftool('prog'), maps: bpftool('map'), links: bpftool('link'), probes: tracefsProbes(), mounts: mounts(), netns: netns(), cgroups: cgroups() };
}

/** Program and map names bpfkit's tests and examples give the kernel (15 characters at most, as the kernel keeps them). */
function ourNames(): Set<string> {
  const names = new Set<string>();
  const walk = (dir: string, visit: (file: string) => void) => {
    for (const e of readdirSync(dir, { withFileTypes: true })) {
      if (e.name === 'node_modules' || e.name === '.tmp') continue;
      const p = join(dir, e.name);
      if (e.isDirectory()) walk(p, visit);
      else visit(p);
    }
  };
  const add = (n: string) => names.add(n.slice(0, 15));
  for (const top of ['test', 'examples']) {
    walk(join(REPO, top), (file) => {
      if (file.endsWith('.bpf.c')) {
        const src = readFileSync(file, 'utf8');
        // A program: SEC("...") then its header up to '{' (`int name(...)` or `int BPF_KPROBE(name, ...)`).
        for (const m of src.matchAll(/SEC\("(?!\.maps|license)[^"]*"\)([^{;]*)\{/g)) {
          const name = /BPF_\w+\(\s*(\w+)/.exec(m[1]!)?.[1] ?? /(\w+)\s*\(/.exec(m[1]!)?.[1];
          if (name) add(name);
        }
        for (const m of src.matchAll(/}\s*(\w+)\s+SEC\("\.maps[^"]*"\)/g)) add(m[1]!);
      } else if (file.endsWith('.ts') && relative(REPO, file).startsWith('test/kernel')) {
        for (const m of readFileSync(file, 'utf8').matchAll(/\bname: '(\w+)'/g)) add(m[1]!);
      }
    });
  }
  return names;
}

/** Section maps (.bss, .data, .rodata, ...) as the loader names them. */
const SECTION_MAP = /(^|\.)(bss|data|rodata|kconfig|ksyms)(\.|$)/;

/** ids of programs, maps and links some live process holds an fd of (from /proc/PID/fdinfo). */
function heldIds(): { progs: Set<number>; maps: Set<number>; links: Set<number> } {
  const held = { progs: new Set<number>(), maps: new Set<number>(), links: new Set<number>() };
  for (const pid of readdirSync('/proc').filter((d) => /^\d+$/.test(d))) {
    let fds: string[];
    try {
      fds = readdirSync(`/proc/${pid}/fd`);
    } catch {
      continue;
    }
    for (const fd of fds) {
      try {
        if (!readlinkSync(`/proc/${pid}/fd/${fd}`).startsWith('anon_inode:bpf')) continue;
        const info = readFileSync(`/proc/${pid}/fdinfo/${fd}`, 'utf8');
        for (const [key, set] of [
          ['prog_id', held.progs],
          ['map_id', held.maps],
          ['link_id', held.links],
        ] as const) {
          const m = new RegExp(`^${key}:\\s*(\\d+)`, 'm').exec(info);
          if (m) set.add(Number(m[1]));
        }
      } catch {
        // gone meanwhile
      }
    }
  }
  return held;
}

const alive = (pid: number) => {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
};

/** The pid a bpfkit-made name carries (`bpfkit/p1234_...`, `bpfkit-net-1234-a`, `bpfkit-test-1234`), if any. */
function creator(name: string): number | undefined {
  const m = /bpfkit\/[a-z](\d+)_/.exec(name) ?? /bpfkit-(?:[\w]+-)*?(\d+)(?:-[ab])?$/.exec(name);
  return m ? Number(m[1]) : undefined;
}

function leftovers(before: Snapshot, names: Set<string>): string[] {
  const now = snapshot();
  const held = heldIds();
  const out: string[] = [];
  const maxId = (l: KernelObject[]) => l.reduce((a, o) => Math.max(a, o.id), 0);
  const newer = <T extends KernelObject>(l: T[], old: T[]) => l.filter((o) => o.id > maxId(old));
  const ours = (o: KernelObject) => o.name !== undefined && (names.has(o.name) || SECTION_MAP.test(o.name));

  const progs = newer(now.progs, before.progs).filter((p) => ours(p) && !held.progs.has(p.id));
  const progIds = new Set(progs.map((p) => p.id));
  const links = newer(now.links, before.links).filter((l) => l.prog_id !== undefined && progIds.has(l.prog_id) && !held.links.has(l.id));
  // A live link keeps its program held by a process that holds the link.
  for (const l of now.links) if (held.links.has(l.id) && l.prog_id !== undefined) progIds.delete(l.prog_id);
  for (const p of progs) if (progIds.has(p.id)) out.push(`program ${p.id} ${p.name}`);
  for (const l of links) out.push(`link ${l.id} (program ${l.prog_id})`);
  for (const m of newer(now.maps, before.maps).filter((m) => ours(m) && !held.maps.has(m.id))) {
    // Maps of a program that is still legitimately held stay with it.
    const users = now.progs.filter((p) => (p as { map_ids?: number[] }).map_ids?.includes(m.id));
    if (users.length > 0 && users.every((p) => !progIds.has(p.id) && held.progs.has(p.id))) continue;
    out.push(`map ${m.id} ${m.name}`);
  }
  for (const p of now.probes.filter((p) => !before.probes.includes(p))) {
    const pid = creator(p);
    if (pid === undefined || !alive(pid)) out.push(`tracefs probe ${p}`);
  }
  for (const m of now.mounts.filter((m) => !before.mounts.includes(m))) {
    const [where, type] = m.split(' ');
    if (type === 'bpf' && /bpfkit-/.test(where!)) out.push(`bpffs mount ${where}`);
    if (type === 'tracefs') {
      let users: string[] = [];
      try {
        users = readdirSync(join(registryDir(), 'users')).filter((u) => alive(Number(u)));
      } catch {
        // no registry: nobody of ours uses it
      }
      if (users.length === 0) out.push(`tracefs mount ${where} (mounted during the run, no bpfkit process uses it)`);
    }
  }
  for (const n of now.netns.filter((n) => !before.netns.includes(n))) {
    const pid = creator(n);
    if (pid === undefined || !alive(pid)) out.push(`network namespace ${n}`);
  }
  for (const c of now.cgroups.filter((c) => !before.cgroups.includes(c))) {
    const pid = creator(c);
    if (pid === undefined || !alive(pid)) out.push(`cgroup ${c}`);
  }
  return out;
}

let baseline: Snapshot | undefined;

export function setup(): void {
  if (ACTIVE) baseline = snapshot();
}

export async function teardown(): Promise<void> {
  if (!ACTIVE || !baseline) return;
  const names = ourNames();
  // Objects are freed asynchronously (RCU) after their last reference goes: give them a moment.
  let left = leftovers(baseline, names);
  for (let i = 0; i < 20 && left.length > 0; i++) {
    await new Promise((r) => setTimeout(r, 250));
    left = leftovers(baseline, names);
  }
  if (left.length > 0) {
    process.stderr.write(`\nbpfkit's tests left these in the kernel:\n${left.map((l) => `  ${l}\n`).join('')}`);
    process.exitCode = 1;
  } else {
    process.stdout.write(
      `\nkernel leftovers check: nothing bpfkit's tests made is left (checked ${names.size} program/map names, bpf/tracefs mounts, tracefs probes, network namespaces, cgroups)\n`,
    );
  }
}

/** For the test of this check itself. */
export const _internal = { snapshot, leftovers, ourNames, creator, heldIds };
