/**
 * Shared helpers for kernel tests: whether the kernel engine can run here,
 * a private bpffs mount, counting this process's fds.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, readdirSync, readlinkSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { openFds } from '../../../src/kernel/fd.js';
import { IS_ROOT } from '../../support/paths.js';

/** Kernel tests need root on Linux; CI runs as root. */
export const CAN_BPF = IS_ROOT && process.platform === 'linux';
export const SKIP_REASON = 'kernel tests need root on Linux (CI runs them as root)';

/** Number of open fds of this process (/proc/self/fd), for leak checks. */
export function countFds(): number {
  return readdirSync('/proc/self/fd').length;
}

const mounts = new Set<string>();

/** A bpf filesystem mounted in a fresh temp dir; `cleanup()` unmounts and removes it. */
export function mountBpffs(): { dir: string; cleanup: () => void } {
  const dir = mkdtempSync(join(tmpdir(), 'bpfkit-bpffs-'));
  execFileSync('mount', ['-t', 'bpf', 'bpf', dir]);
  mounts.add(dir);
  return {
    dir,
    cleanup() {
      try {
        execFileSync('umount', [dir]);
      } finally {
        rmSync(dir, { recursive: true, force: true });
        mounts.delete(dir);
      }
    },
  };
}

/** The BPF-related fds this process holds (maps, programs, links, BTF, perf events), by what /proc says they are. */
export function bpfFds(): string[] {
  const out: string[] = [];
  for (const fd of readdirSync('/proc/self/fd')) {
    let target: string;
    try {
      target = readlinkSync(`/proc/self/fd/${fd}`);
    } catch {
      continue;
    }
    if (/^anon_inode:(bpf-map|bpf-prog|bpf_link|btf|\[perf_event\]|bpf_iter)/.test(target)) out.push(`${fd} ${target}`);
  }
  return out;
}

/**
 * After a test file: nothing the engine made is left. Kernel objects live
 * while an fd, a pin or an attachment holds them; so no engine fd, no BPF or
 * perf fd in the process, and every private bpffs (with whatever was pinned
 * in it) unmounted and removed means nothing of ours remains in the kernel.
 */
export function nothingLeft(): { engineFds: string[]; processFds: string[]; mounts: string[] } {
  const mountinfo = readFileSync('/proc/self/mountinfo', 'utf8');
  return {
    engineFds: openFds().map((f) => f.label),
    processFds: bpfFds(),
    mounts: [...mounts].filter((d) => existsSync(d) || mountinfo.includes(` ${d} `)),
  };
}

/** Little-endian u32 / u64 bytes. */
export const u32 = (n: number) => {
  const b = new Uint8Array(4);
  new DataView(b.buffer).setUint32(0, n >>> 0, true);
  return b;
};
export const u64 = (n: number | bigint) => {
  const b = new Uint8Array(8);
  new DataView(b.buffer).setBigUint64(0, BigInt.asUintN(64, BigInt(n)), true);
  return b;
};
export const readU32 = (b: Uint8Array, off = 0) => new DataView(b.buffer, b.byteOffset, b.byteLength).getUint32(off, true);
export const readU64 = (b: Uint8Array, off = 0) => new DataView(b.buffer, b.byteOffset, b.byteLength).getBigUint64(off, true);
