/**
 * Helpers of the attach tests: the BPF fixtures (clang, with the target
 * architecture's pt_regs), the probed test binary (gcc -O0 -fno-builtin),
 * a child process that waits for "go" on its standard input (so probes are
 * attached and its pid is known before it does anything), network
 * namespaces with a veth pair, and what bpfkit may have left behind.
 */
import { execFileSync, spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, renameSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { loadCollectionSpec } from '../../src/elf/index.js';
import { loadCollection, type KernelCollection } from '../../src/kernel/index.js';
import type { LoadCollectionOptions } from '../../src/kernel/collection.js';
import { compileBpfObject, fresh, TARGET_ARCH } from '../support/clang.js';
import { REPO, TMP } from '../support/paths.js';

export const FIXTURES = resolve(REPO, 'test/kernel/attach-fixtures');
const OUT = resolve(TMP, 'kernel-attach');

export { HAVE_CLANG } from '../support/clang.js';
export const HAVE_GCC = spawnSync('gcc', ['--version']).status === 0;
export const HAVE_SDT = existsSync('/usr/include/sys/sdt.h') || existsSync(`/usr/include/${process.arch === 'arm64' ? 'aarch64' : 'x86_64'}-linux-gnu/sys/sdt.h`);

/** clang -O2 -g -target bpf of attach-fixtures/NAME.bpf.c (cached by mtime): the object's path. */
export function compileAttachBpf(name: string): string {
  return compileBpfObject(join(FIXTURES, `${name}.bpf.c`), join(OUT, `${name}.bpf.o`), { flags: [`-D__TARGET_ARCH_${TARGET_ARCH}`] });
}

/** gcc the probed test binary (attach_target.c + attach_target_sem.c) with the given flags (default -O0 -fno-builtin). */
export function compileTarget(flags = ['-O0', '-fno-builtin'], name = 'attach_target'): string {
  mkdirSync(OUT, { recursive: true });
  const srcs = [join(FIXTURES, 'attach_target.c'), join(FIXTURES, 'attach_target_sem.c')];
  const out = join(OUT, name);
  if (fresh(out, srcs)) return out;
  const tmp = `${out}.${process.pid}.tmp`;
  const r = spawnSync('gcc', [...flags, '-g', '-o', tmp, ...srcs], { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`gcc failed:\n${r.stderr}`);
  renameSync(tmp, out);
  return out;
}

/** Load the programs `only` of a fixture object into the kernel. */
export function loadFixture(name: string, only: string[], options: Omit<LoadCollectionOptions, 'only'> = {}): KernelCollection {
  const path = compileAttachBpf(name);
  const spec = loadCollectionSpec(path);
  return loadCollection(spec, { ...options, only });
}

/** A child that waits for a line on standard input before it runs. */
export class Child {
  readonly proc: ChildProcess;
  readonly pid: number;
  #stdout = '';
  #stderr = '';
  #exit: Promise<number>;

  constructor(cmd: string, args: string[], options: { cwd?: string } = {}) {
    this.proc = spawn(cmd, args, { stdio: ['pipe', 'pipe', 'pipe'], ...options });
    this.pid = this.proc.pid!;
    this.proc.stdout!.on('data', (d: Buffer) => (this.#stdout += d.toString()));
    this.proc.stderr!.on('data', (d: Buffer) => (this.#stderr += d.toString()));
    this.#exit = new Promise((res, rej) => {
      this.proc.on('exit', (code, signal) => res(code ?? (signal ? 128 : -1)));
      this.proc.on('error', rej);
    });
  }

  /** Let it run; resolves with its exit code and output once it has exited. */
  async go(): Promise<{ code: number; stdout: string; stderr: string }> {
    this.proc.stdin!.end('go\n');
    const code = await this.#exit;
    return { code, stdout: this.#stdout, stderr: this.#stderr };
  }

  kill(): void {
    if (this.proc.exitCode === null) this.proc.kill('SIGKILL');
  }
}

/** u32 little-endian bytes. */
export const le32 = (n: number) => {
  const b = new Uint8Array(4);
  new DataView(b.buffer).setUint32(0, n >>> 0, true);
  return b;
};

/** counts[slot] of the fixture's counter array. */
export function counter(coll: KernelCollection, slot: number): bigint {
  const v = coll.maps.counts!.lookup(le32(slot));
  return v ? new DataView(v.buffer, v.byteOffset).getBigUint64(0, true) : 0n;
}

/** Point the fixture's programs at a process. */
export function target(coll: KernelCollection, pid: number): void {
  coll.writeVariable('target_tgid', le32(pid));
}

// ---------------------------------------------------------------------------
// What bpfkit may leave behind

/** The probes this process made in tracefs (uprobe_events/kprobe_events lines `bpfkit/<p|r|k><pid>_...`), [] when no tracefs is mounted. */
export function tracefsProbes(pid = process.pid): string[] {
  const out: string[] = [];
  const mine = new RegExp(`bpfkit/[a-z]${pid}_`);
  for (const m of tracefsMounts().slice(0, 1)) {
    for (const f of ['uprobe_events', 'kprobe_events']) {
      try {
        out.push(...readFileSync(join(m, f), 'utf8').split('\n').filter((l) => mine.test(l)));
      } catch {
        // no such file
      }
    }
  }
  return out;
}

/** tracefs mounts of this mount namespace. */
export function tracefsMounts(): string[] {
  return readFileSync('/proc/self/mountinfo', 'utf8')
    .split('\n')
    .filter((l) => / - tracefs /.test(l))
    .map((l) => l.split(' ')[4]!);
}

/** bpftool's view of a link id: undefined when there is no such link. */
export function bpftoolLink(id: number): { id: number; type: string; prog_id: number } | undefined {
  const r = spawnSync('bpftool', ['--json', 'link', 'show', 'id', String(id)], { encoding: 'utf8' });
  if (r.status !== 0) return undefined;
  return JSON.parse(r.stdout) as { id: number; type: string; prog_id: number };
}

/** Does a program with this id still exist? */
export function progExists(id: number): boolean {
  return spawnSync('bpftool', ['prog', 'show', 'id', String(id)], { encoding: 'utf8' }).status === 0;
}

// ---------------------------------------------------------------------------
// Network namespaces

/**
 * Two private network namespaces (ip netns add) joined by a veth pair:
 * veth-a (10.199.S.1) in `<name>-a`, veth-b (10.199.S.2) in `<name>-b`, both
 * up, so traffic from one to the other crosses the pair.
 */
export class Netns {
  readonly base: string;
  readonly subnet: number;

  constructor(tag: string) {
    this.subnet = 1 + (process.pid % 250);
    this.base = `bpfkit-${tag}-${process.pid}`;
    execFileSync('ip', ['netns', 'add', this.a]);
    try {
      execFileSync('ip', ['netns', 'add', this.b]);
      this.ip('a', 'link', 'add', 'veth-a', 'type', 'veth', 'peer', 'name', 'veth-b', 'netns', this.b);
      this.ip('a', 'addr', 'add', `${this.addr('a')}/24`, 'dev', 'veth-a');
      this.ip('b', 'addr', 'add', `${this.addr('b')}/24`, 'dev', 'veth-b');
      for (const end of ['a', 'b'] as const) {
        this.ip(end, 'link', 'set', `veth-${end}`, 'up');
        this.ip(end, 'link', 'set', 'lo', 'up');
      }
    } catch (err) {
      this.remove();
      throw err;
    }
  }

  get a(): string {
    return `${this.base}-a`;
  }

  get b(): string {
    return `${this.base}-b`;
  }

  addr(end: 'a' | 'b'): string {
    return `10.199.${this.subnet}.${end === 'a' ? 1 : 2}`;
  }

  ip(end: 'a' | 'b', ...args: string[]): string {
    return execFileSync('ip', ['-n', end === 'a' ? this.a : this.b, ...args], { encoding: 'utf8' });
  }

  /** Run a command inside one of the namespaces. */
  exec(end: 'a' | 'b', cmd: string, args: string[], options: { input?: string; timeout?: number } = {}): { status: number; stdout: string; stderr: string } {
    const r = spawnSync('ip', ['netns', 'exec', end === 'a' ? this.a : this.b, cmd, ...args], {
      encoding: 'utf8',
      timeout: options.timeout ?? 60_000,
      input: options.input,
    });
    return { status: r.status ?? -1, stdout: r.stdout, stderr: r.stderr };
  }

  /** `count` pings from a to b (10 ms apart); how many replies came back. */
  ping(count: number): number {
    const r = this.exec('a', 'ping', ['-c', String(count), '-i', '0.01', '-W', '1', '-q', this.addr('b')]);
    const m = /(\d+) received/.exec(r.stdout);
    if (!m) throw new Error(`ping: ${r.stdout}${r.stderr}`);
    return Number(m[1]);
  }

  remove(): void {
    spawnSync('ip', ['netns', 'del', this.a]);
    spawnSync('ip', ['netns', 'del', this.b]);
  }

  /** Does a namespace of this name exist (ip netns list)? */
  static exists(name: string): boolean {
    return execFileSync('ip', ['netns', 'list'], { encoding: 'utf8' })
      .split('\n')
      .some((l) => l.split(' ')[0] === name);
  }
}

