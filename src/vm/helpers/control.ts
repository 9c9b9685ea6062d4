/**
 * Control-flow helpers: bpf_tail_call (through a prog array, at most 33 in a
 * run; a failed tail call falls through and leaves r0 as it was),
 * bpf_loop (at most 2^23 iterations) and bpf_for_each_map_elem, which call
 * back into the program one frame deeper.
 */
import { Errno } from '../../ebpf/engine.js';
import { HelperId } from '../../ebpf/helper-ids.js';
import { MapType } from '../../ebpf/types.js';
import { FdArray } from '../maps/fd-array.js';
import type { HelperRegistry } from './registry.js';

const BPF_MAX_LOOPS = 1 << 23;

export function defineControlHelpers(r: HelperRegistry): void {
  r.define(HelperId.tail_call, (c) => {
    const m = c.map(2);
    if (!(m instanceof FdArray) || m.spec.type !== MapType.PROG_ARRAY) return c.fail(`map '${m.name}' is not a prog array`);
    const index = c.u32(3);
    c.run.tailCall(m.at(index));
    return c.u64(0);
  });

  r.define(HelperId.loop, (c) => {
    const n = c.u32(1);
    if (c.u64(4) !== 0n) return -Errno.EINVAL;
    if (c.hi(1) !== 0 || n > BPF_MAX_LOOPS) return -Errno.E2BIG;
    const ctx = c.u64(3);
    const frame = c.frame;
    for (let i = 0; i < n; i++) {
      if (c.run.invoke(frame, 2, [i, ctx]) !== 0) return i + 1;
    }
    return n;
  });

  r.define(HelperId.for_each_map_elem, (c) => {
    const m = c.map(1);
    if (c.u64(4) !== 0n) return -Errno.EINVAL;
    const ctx = c.u64(3);
    const frame = c.frame;
    const mem = c.run.mem;
    const keySize = Math.max(m.spec.keySize, 1);
    // The callback gets a pointer to the key: a read-only copy in VM memory.
    const keyAddr = mem.alloc(keySize);
    const region = mem.regions.add({ start: keyAddr, end: keyAddr + keySize, kind: 'map', name: `key of map '${m.name}'`, writable: false });
    try {
      return m.forEach((key, valueAddress) => {
        mem.u8.set(key, keyAddr);
        return c.run.invoke(frame, 2, [m.handle, keyAddr, valueAddress, ctx]) !== 0;
      });
    } finally {
      mem.regions.remove(region);
      mem.release(keyAddr);
    }
  });
}
