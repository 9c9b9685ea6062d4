/**
 * Network interfaces by name, possibly in another network namespace.
 *
 * An XDP or tcx link binds to a device by index, and indexes are per
 * namespace: to attach in a namespace (`ip netns add NAME`, or any
 * /proc/PID/ns/net), bpfkit moves the calling thread into it just for the
 * lookup and the attach (`inNetns`), then back. Node runs JavaScript on one
 * thread, so `fn` must be synchronous; libuv's threads stay where they are.
 */
import { closeSync, openSync } from 'node:fs';
import { AttachError, AttachTargetError } from './attach-errors.js';
import { kernelError } from './errors.js';
import * as sys from './sys.js';

/** The file of a network namespace: a path as given, or /run/netns/NAME for a name. */
export function netnsPath(ns: string): string {
  return ns.includes('/') ? ns : `/run/netns/${ns}`;
}

/** Run `fn` with this thread in network namespace `ns` (a name under /run/netns, or a path). */
export function inNetns<T>(ns: string | undefined, fn: () => T): T {
  if (ns === undefined) return fn();
  let target: number;
  try {
    target = openSync(netnsPath(ns), 'r');
  } catch {
    throw new AttachTargetError('netns', ns, `no network namespace ${ns} (${netnsPath(ns)} does not exist)`);
  }
  let self: number;
  try {
    self = openSync('/proc/thread-self/ns/net', 'r');
  } catch (err) {
    closeSync(target);
    throw new AttachError(`cannot open this thread's network namespace: ${(err as Error).message}`);
  }
  try {
    const r = sys.setns(target, sys.CLONE_NEWNET);
    if (r < 0) throw kernelError('setns', -r, `network namespace ${ns}`);
    let result: { value: T } | undefined;
    let error: unknown;
    try {
      result = { value: fn() };
    } catch (err) {
      error = err;
    }
    const back = sys.setns(self, sys.CLONE_NEWNET);
    // Staying in the wrong namespace would silently misdirect everything after: stop.
    if (back < 0) throw new Error(`bpfkit: cannot return to the original network namespace (errno ${-back})`);
    if (!result) throw error;
    return result.value;
  } finally {
    closeSync(self);
    closeSync(target);
  }
}

/** The index of interface `iface` (a name, or a number given as is) in this thread's namespace; an error naming it when there is none. */
export function interfaceIndex(iface: string | number, ns?: string): number {
  if (typeof iface === 'number' || /^\d+$/.test(iface)) {
    const n = Number(iface);
    if (!Number.isInteger(n) || n <= 0) throw new AttachTargetError('interface', String(iface), `${iface} is not an interface index`);
    return n;
  }
  if (iface.length === 0 || iface.length > 15 || /[\s/]/.test(iface)) {
    throw new AttachTargetError('interface', iface, `'${iface}' is not an interface name`);
  }
  const index = sys.ifNameToIndex(iface);
  if (index === 0) throw new AttachTargetError('interface', iface, `no network interface ${iface}${ns ? ` in network namespace ${ns}` : ''}`);
  return index;
}
