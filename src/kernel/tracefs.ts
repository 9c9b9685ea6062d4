/**
 * tracefs: where tracepoint ids live (`events/<group>/<name>/id`) and where
 * dynamic probes are made when there is no PMU for them (`kprobe_events`,
 * `uprobe_events`).
 *
 * When no tracefs is mounted, bpfkit mounts one at /sys/kernel/tracing for
 * as long as it needs it and unmounts it afterwards — only a mount it made
 * itself, and only when no other bpfkit process still uses it: processes
 * register in /run/bpfkit (one directory per mount namespace, a lock made
 * with mkdir), and the last one to leave unmounts. A tracefs that was
 * already mounted (by anyone else) is used and left alone.
 *
 * `acquireTracefs()` / `release()` count users within the process; a
 * tracepoint needs tracefs only while its id is read, a tracefs probe until
 * it is removed.
 */
import { appendFileSync, existsSync, mkdirSync, readFileSync, readdirSync, readlinkSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { AttachError, AttachTargetError } from './attach-errors.js';
import { kernelError } from './errors.js';
import * as sys from './sys.js';

/** Where bpfkit mounts tracefs when none is mounted. */
export const TRACEFS_MOUNT_POINT = '/sys/kernel/tracing';

export interface MountEntry {
  id: number;
  mountPoint: string;
  fsType: string;
}

/** The mounts of this process's mount namespace (/proc/self/mountinfo). */
export function mounts(): MountEntry[] {
  const out: MountEntry[] = [];
  for (const line of readFileSync('/proc/self/mountinfo', 'utf8').split('\n')) {
    const [pre, post] = line.split(' - ');
    if (!pre || !post) continue;
    const f = pre.split(' ');
    const mountPoint = f[4]?.replace(/\\([0-7]{3})/g, (_, o: string) => String.fromCharCode(parseInt(o, 8)));
    if (!mountPoint) continue;
    out.push({ id: Number(f[0]), mountPoint, fsType: post.split(' ')[0] ?? '' });
  }
  return out;
}

/** A mounted tracefs, preferring the standard places; undefined when there is none. */
export function findTracefs(): MountEntry | undefined {
  const all = mounts().filter((m) => m.fsType === 'tracefs');
  // The last mount at a point hides the ones under it.
  const rank = (m: MountEntry) => (m.mountPoint === '/sys/kernel/tracing' ? 0 : m.mountPoint === '/sys/kernel/debug/tracing' ? 1 : 2);
  all.sort((a, b) => rank(a) - rank(b) || b.id - a.id);
  return all[0];
}

// ---------------------------------------------------------------------------
// Sharing a mount between bpfkit processes

const sleepCell = new Int32Array(new SharedArrayBuffer(4));
const sleep = (ms: number) => Atomics.wait(sleepCell, 0, 0, ms);

function alive(pid: number): boolean {
  if (!Number.isInteger(pid) || pid <= 0) return false;
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** The registry directory of this mount namespace. */
export function registryDir(): string {
  let ns = 'default';
  try {
    ns = /\[(\d+)\]/.exec(readlinkSync('/proc/self/ns/mnt'))?.[1] ?? ns;
  } catch {
    // No /proc/self/ns: one registry for all.
  }
  const base = process.env.BPFKIT_RUN_DIR ?? (existsSync('/run') ? '/run/bpfkit' : join(tmpdir(), 'bpfkit'));
  return join(base, `tracefs-mnt-${ns}`);
}

function withLock<T>(dir: string, fn: () => T): T {
  mkdirSync(join(dir, 'users'), { recursive: true });
  const lock = join(dir, 'lock');
  const deadline = Date.now() + 10_000;
  for (;;) {
    try {
      mkdirSync(lock);
      writeFileSync(join(lock, 'owner'), String(process.pid));
      break;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
      // A lock whose owner died (or that never got an owner within 2 s) is stale.
      let owner = NaN;
      try {
        owner = Number(readFileSync(join(lock, 'owner'), 'utf8'));
      } catch {
        try {
          if (Date.now() - statSync(lock).mtimeMs > 2000) owner = 0;
        } catch {
          continue;
        }
      }
      if (!Number.isNaN(owner) && !alive(owner)) {
        rmSync(lock, { recursive: true, force: true });
        continue;
      }
      if (Date.now() > deadline) throw new AttachError(`tracefs registry ${lock} stays locked by process ${owner}`);
      sleep(5);
    }
  }
  try {
    return fn();
  } finally {
    rmSync(lock, { recursive: true, force: true });
  }
}

interface Marker {
  mountId: number;
  path: string;
}

function readMarker(dir: string): Marker | undefined {
  try {
    const [id, ...path] = readFileSync(join(dir, 'mount'), 'utf8').trim().split(' ');
    return { mountId: Number(id), path: path.join(' ') };
  } catch {
    return undefined;
  }
}

const state = {
  refs: 0,
  path: '',
  /** This process is registered as a user of a tracefs mount bpfkit made. */
  registered: false,
  dir: '',
};

/** A usable tracefs (mounting one if none is): its path and a release function. Pair every call with release(). */
export function acquireTracefs(): { path: string; release: () => void } {
  if (state.refs === 0) open();
  state.refs++;
  let released = false;
  return {
    path: state.path,
    release: () => {
      if (released) return;
      released = true;
      state.refs--;
      if (state.refs === 0) close();
    },
  };
}

/** Run `fn` with tracefs mounted. */
export function withTracefs<T>(fn: (path: string) => T): T {
  const t = acquireTracefs();
  try {
    return fn(t.path);
  } finally {
    t.release();
  }
}

function open(): void {
  const dir = registryDir();
  state.dir = dir;
  withLock(dir, () => {
    const marker = readMarker(dir);
    const found = findTracefs();
    if (found) {
      state.path = found.mountPoint;
      // Ours (another bpfkit process mounted it): register, so that it stays while we use it.
      state.registered = marker !== undefined && marker.mountId === found.id;
      if (state.registered) writeFileSync(join(dir, 'users', String(process.pid)), '');
      return;
    }
    const target = TRACEFS_MOUNT_POINT;
    if (!existsSync(target)) {
      throw new AttachError(`no tracefs is mounted and ${target} does not exist (is CONFIG_TRACING off?)`);
    }
    const r = sys.mount('tracefs', target, 'tracefs', 0);
    if (r < 0) throw kernelError('mount tracefs', -r, target, -r === 19 ? 'this kernel has no tracefs (CONFIG_TRACING)' : undefined);
    const mine = mounts()
      .filter((m) => m.fsType === 'tracefs' && m.mountPoint === target)
      .sort((a, b) => b.id - a.id)[0];
    if (!mine) throw new AttachError(`mounted tracefs at ${target} but /proc/self/mountinfo does not show it`);
    writeFileSync(join(dir, 'mount'), `${mine.id} ${target}`);
    writeFileSync(join(dir, 'users', String(process.pid)), '');
    state.path = target;
    state.registered = true;
  });
}

function close(): void {
  if (!state.registered) return;
  state.registered = false;
  const dir = state.dir;
  withLock(dir, () => {
    rmSync(join(dir, 'users', String(process.pid)), { force: true });
    const users = readdirSync(join(dir, 'users')).filter((u) => {
      if (alive(Number(u))) return true;
      rmSync(join(dir, 'users', u), { force: true });
      return false;
    });
    if (users.length > 0) return;
    const marker = readMarker(dir);
    rmSync(join(dir, 'mount'), { force: true });
    if (!marker) return;
    if (!mounts().some((m) => m.id === marker.mountId && m.mountPoint === marker.path)) return;
    // Busy (a file in it held open by someone else): leave it rather than pull it away.
    sys.umount2(marker.path, 0);
  });
}

// ---------------------------------------------------------------------------
// Tracepoints and dynamic probes

const NAME = /^[A-Za-z0-9_.-]+$/;

/** The id of tracepoint `group:name` (events/group/name/id), or an error naming it. */
export function tracepointId(tracefs: string, group: string, name: string): number {
  if (!NAME.test(group) || !NAME.test(name)) {
    throw new AttachTargetError('tracepoint', `${group}:${name}`, `'${group}:${name}' is not a tracepoint name (group:name, letters, digits, '_', '.', '-')`);
  }
  const file = join(tracefs, 'events', group, name, 'id');
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') {
      const hasGroup = existsSync(join(tracefs, 'events', group));
      throw new AttachTargetError(
        'tracepoint',
        `${group}:${name}`,
        hasGroup
          ? `no tracepoint ${group}:${name} (group ${group} has no event ${name}; see ${join(tracefs, 'events', group)})`
          : `no tracepoint ${group}:${name} (no tracepoint group ${group} in ${join(tracefs, 'events')})`,
      );
    }
    throw new AttachError(`cannot read ${file}: ${(err as Error).message}`);
  }
  const id = Number(text.trim());
  if (!Number.isInteger(id) || id <= 0) throw new AttachError(`${file} holds '${text.trim()}', not a tracepoint id`);
  return id;
}

/** Every tracepoint `group:name` under tracefs (for listings and suggestions). */
export function listTracepoints(tracefs: string, group?: string): string[] {
  const out: string[] = [];
  const events = join(tracefs, 'events');
  const groups = group ? [group] : readdirSync(events).filter((g) => !g.includes('.') && g !== 'header_event' && g !== 'header_page');
  for (const g of groups) {
    let names: string[];
    try {
      names = readdirSync(join(events, g));
    } catch {
      continue;
    }
    for (const n of names) if (existsSync(join(events, g, n, 'id'))) out.push(`${g}:${n}`);
  }
  return out.sort();
}

/** The group bpfkit's tracefs probes are made in. */
export const PROBE_GROUP = 'bpfkit';

let probeSeq = 0;

/** A probe event name unique in this process: `<prefix><pid>_<n>_<what>` (at most 63 characters). */
export function probeEventName(prefix: string, what: string): string {
  const tail = what.replace(/[^A-Za-z0-9_]/g, '_');
  return `${prefix}${process.pid}_${++probeSeq}_${tail}`.slice(0, 63);
}

/**
 * Make a dynamic probe: write `definition` (e.g. `p:bpfkit/u123_1_main /bin/x:0x1139`)
 * to `kprobe_events` or `uprobe_events`; returns the new event's tracepoint id.
 */
export function addProbeEvent(tracefs: string, file: 'kprobe_events' | 'uprobe_events', definition: string, event: string): number {
  const path = join(tracefs, file);
  if (!existsSync(path)) {
    throw new AttachError(`this kernel has no ${file} in ${tracefs} (${file === 'kprobe_events' ? 'CONFIG_KPROBE_EVENTS' : 'CONFIG_UPROBE_EVENTS'} is off)`);
  }
  try {
    appendFileSync(path, definition + '\n');
  } catch (err) {
    throw new AttachError(`${file} refused '${definition}': ${(err as NodeJS.ErrnoException).code ?? (err as Error).message} (see ${join(tracefs, 'error_log')})`);
  }
  try {
    return tracepointId(tracefs, PROBE_GROUP, event);
  } catch (err) {
    removeProbeEvent(tracefs, file, event);
    throw err;
  }
}

/** Remove a dynamic probe made by addProbeEvent (quietly: it may be gone already). Returns whether it was removed. */
export function removeProbeEvent(tracefs: string, file: 'kprobe_events' | 'uprobe_events', event: string): boolean {
  try {
    appendFileSync(join(tracefs, file), `-:${PROBE_GROUP}/${event}\n`);
    return true;
  } catch {
    return false;
  }
}

/** The probes of `file` as tracefs lists them (`p:bpfkit/name /path:0x...`). */
export function listProbeEvents(tracefs: string, file: 'kprobe_events' | 'uprobe_events'): string[] {
  try {
    return readFileSync(join(tracefs, file), 'utf8').split('\n').filter(Boolean);
  } catch {
    return [];
  }
}
