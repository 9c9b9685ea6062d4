/**
 * Map helpers: bpf_map_lookup_elem, _update_elem, _delete_elem,
 * _push_elem, _pop_elem, _peek_elem, _lookup_percpu_elem. Keys and values are
 * read from VM memory; lookups give the address of the value in VM memory;
 * refusals are negative errnos, as in the kernel.
 */
import { Errno } from '../../ebpf/engine.js';
import { HelperId } from '../../ebpf/helper-ids.js';
import { MapType } from '../../ebpf/types.js';
import { BloomFilterMap } from '../maps/bloom.js';
import { HashMap } from '../maps/hash.js';
import { ArrayMap } from '../maps/array.js';
import { readU32 } from '../maps/keys.js';
import type { HelperRegistry } from './registry.js';

export function defineMapHelpers(r: HelperRegistry): void {
  r.define(HelperId.map_lookup_elem, (c) => {
    const m = c.map(1);
    const r = m.progLookup(c.bytes(2, m.spec.keySize));
    // A map of maps gives the inner map: the run may use it from now on.
    if (r !== 0 && (m.spec.type === MapType.ARRAY_OF_MAPS || m.spec.type === MapType.HASH_OF_MAPS)) c.run.grant(c.vm.mapByHandle(r)!);
    return r;
  });

  r.define(HelperId.map_update_elem, (c) => {
    const m = c.map(1);
    const key = c.bytes(2, m.spec.keySize);
    const value = c.bytes(3, m.spec.valueSize);
    return m.progUpdate(key, value, c.hi(4) ? -1 : c.u32(4));
  });

  r.define(HelperId.map_delete_elem, (c) => {
    const m = c.map(1);
    return m.progDelete(c.bytes(2, m.spec.keySize));
  });

  r.define(HelperId.map_push_elem, (c) => {
    const m = c.map(1);
    return -m.push(c.bytes(2, m.spec.valueSize), c.hi(3) ? -1 : c.u32(3));
  });

  r.define(HelperId.map_pop_elem, (c) => {
    const m = c.map(1);
    return -m.pop(c.out(2, m.spec.valueSize), true);
  });

  r.define(HelperId.map_peek_elem, (c) => {
    const m = c.map(1);
    // A bloom filter's peek tests the value the program passes in.
    if (m instanceof BloomFilterMap) return -m.test(c.bytes(2, m.spec.valueSize));
    return -m.pop(c.out(2, m.spec.valueSize), false);
  });

  r.define(HelperId.map_lookup_percpu_elem, (c) => {
    const m = c.map(1);
    const key = c.bytes(2, m.spec.keySize);
    const cpu = c.num(3);
    if (cpu >= c.vm.cpus) return 0;
    if (m instanceof HashMap) return m.lookupOnCpu(key, cpu);
    if (m instanceof ArrayMap) return m.elementAddress(readU32(key), cpu);
    return -Errno.EINVAL;
  });
}
