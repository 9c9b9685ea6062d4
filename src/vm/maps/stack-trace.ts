/**
 * BPF_MAP_TYPE_STACK_TRACE: stacks (arrays of u64 instruction pointers)
 * stored by bpf_get_stackid under an id, the stack's jhash2 modulo the
 * bucket count (max_entries rounded up to a power of two), as the kernel
 * files them. A different stack hashing to an occupied bucket gives EEXIST
 * unless BPF_F_REUSE_STACKID replaces it. User space looks stacks up by id
 * (zero-padded to value_size) and deletes them; it cannot write them.
 */
import { Errno } from '../../ebpf/engine.js';
import type { MapSpec } from '../../ebpf/spec.js';
import { jhash2 } from './jhash.js';
import { readU32, u32Key } from './keys.js';
import { VmMap, type MapHost } from './map.js';

export const StackIdFlags = { SKIP_MASK: 0xff, USER_STACK: 1 << 8, FAST_STACK_CMP: 1 << 9, REUSE_STACKID: 1 << 10 } as const;

export class StackTraceMap extends VmMap {
  private readonly buckets: Array<{ hash: number; ips: bigint[] } | undefined>;

  constructor(host: MapHost, spec: MapSpec, id: number) {
    super(host, spec, id);
    this.buckets = new Array(2 ** Math.ceil(Math.log2(spec.maxEntries)));
  }

  progLookup(): number {
    return 0;
  }

  /** bpf_get_stackid: file `ips` (already skipped) and give its id, or a negative errno. */
  stackId(ips: readonly bigint[], flags: number): number {
    const depth = this.spec.valueSize / 8;
    const trace = ips.slice(0, depth);
    if (trace.length === 0) return -Errno.EFAULT;
    const words = new Uint8Array(trace.length * 8);
    const dv = new DataView(words.buffer);
    trace.forEach((ip, i) => dv.setBigUint64(i * 8, BigInt.asUintN(64, ip), true));
    const hash = jhash2(words, 0);
    const id = hash & (this.buckets.length - 1);
    const old = this.buckets[id];
    if (old && old.hash === hash && (flags & StackIdFlags.FAST_STACK_CMP || (old.ips.length === trace.length && old.ips.every((x, i) => x === trace[i])))) {
      return id;
    }
    if (old && !(flags & StackIdFlags.REUSE_STACKID)) return -Errno.EEXIST;
    this.buckets[id] = { hash, ips: trace.map((x) => BigInt.asUintN(64, x)) };
    return id;
  }

  protected userGet(key: Uint8Array): Uint8Array | number {
    const b = this.buckets[readU32(key)];
    if (!b) return Errno.ENOENT;
    const out = new Uint8Array(this.spec.valueSize);
    const dv = new DataView(out.buffer);
    b.ips.forEach((ip, i) => dv.setBigUint64(i * 8, ip, true));
    return out;
  }

  protected put(): number {
    return Errno.EINVAL;
  }

  protected remove(key: Uint8Array): number {
    const id = readU32(key);
    if (id >= this.buckets.length || !this.buckets[id]) return Errno.ENOENT;
    this.buckets[id] = undefined;
    return 0;
  }

  protected next(key: Uint8Array | undefined): Uint8Array | number {
    const from = key === undefined ? 0 : readU32(key) + 1;
    for (let id = key !== undefined && readU32(key) >= this.buckets.length ? 0 : from; id < this.buckets.length; id++) {
      if (this.buckets[id]) return u32Key(id);
    }
    return Errno.ENOENT;
  }
}
