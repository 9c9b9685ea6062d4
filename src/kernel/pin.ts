/**
 * Pinning: objects live on a bpf filesystem (bpffs) under a path, beyond the
 * fds of the process that made them. Pin with `map.pin(path)` /
 * `program.pin(path)`, open with `KernelMap.fromPin` / `KernelProgram.fromPin`
 * (or `openPinned` when the kind is not known), remove with `unpin`.
 */
import { readFileSync, realpathSync, unlinkSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { UsageError } from '../errors.js';
import { objGet } from './bpf.js';
import type { Fd } from './fd.js';

/** The mount points of bpf filesystems (from /proc/self/mountinfo). */
export function bpffsMounts(): string[] {
  const out: string[] = [];
  for (const line of readFileSync('/proc/self/mountinfo', 'utf8').split('\n')) {
    const [pre, post] = line.split(' - ');
    if (!pre || !post) continue;
    if (post.split(' ')[0] !== 'bpf') continue;
    const mountPoint = pre.split(' ')[4];
    if (mountPoint) out.push(mountPoint.replace(/\\040/g, ' '));
  }
  return out;
}

/** Is `path` (or the directory it would be created in) on a bpf filesystem? */
export function isOnBpffs(path: string): boolean {
  let p = resolve(path);
  for (;;) {
    try {
      p = realpathSync(p);
      break;
    } catch {
      const up = dirname(p);
      if (up === p) return false;
      p = up;
    }
  }
  // The longest mount point that is a prefix decides (a tmpfs may be mounted inside a bpffs and vice versa).
  const all = readFileSync('/proc/self/mountinfo', 'utf8')
    .split('\n')
    .map((line) => {
      const [pre, post] = line.split(' - ');
      return { at: pre?.split(' ')[4]?.replace(/\\040/g, ' '), fs: post?.split(' ')[0] };
    })
    .filter((m): m is { at: string; fs: string } => !!m.at && !!m.fs && (p === m.at || p.startsWith(m.at === '/' ? '/' : m.at + '/')));
  all.sort((a, b) => b.at.length - a.at.length);
  return all[0]?.fs === 'bpf';
}

/** A name bpffs accepts for a pin: it refuses names with a '.', so `.rodata` becomes `_rodata` (as libbpf does). */
export function pinName(name: string): string {
  return name.replace(/[./]/g, '_');
}

/** Remove a pin (the object lives on while something else holds it). */
export function unpin(path: string): void {
  if (!isOnBpffs(path)) throw new UsageError(`${path} is not on a bpf filesystem: refusing to remove it`);
  unlinkSync(path);
}

export type PinnedKind = 'map' | 'prog' | 'link' | 'unknown';

/** What kind of BPF object an fd is, from /proc/self/fdinfo. */
export function fdKind(fd: number): PinnedKind {
  const info = readFileSync(`/proc/self/fdinfo/${fd}`, 'utf8');
  if (/^link_type:/m.test(info)) return 'link';
  if (/^prog_type:/m.test(info)) return 'prog';
  if (/^map_type:/m.test(info)) return 'map';
  return 'unknown';
}

/** Open whatever is pinned at `path`: its fd and kind. */
export function openPinned(path: string): { fd: Fd; kind: PinnedKind } {
  const fd = objGet(path);
  try {
    return { fd, kind: fdKind(fd.value) };
  } catch (err) {
    fd.close();
    throw err;
  }
}
