/**
 * Map creation: checks a MapSpec the way BPF_MAP_CREATE does (same errno for
 * the same mistake) and makes the VM map of its type.
 */
import { errnoError } from '../errors.js';
import { Errno } from '../../ebpf/engine.js';
import type { MapSpec } from '../../ebpf/spec.js';
import { MapType, nameOf } from '../../ebpf/types.js';
import { ArrayMap } from './array.js';
import { BloomFilterMap } from './bloom.js';
import { FdArray } from './fd-array.js';
import { HashMap, HashOfMaps } from './hash.js';
import { LpmTrieMap } from './lpm.js';
import { MapFlags, round8, type MapHost, type VmMap } from './map.js';
import { PerfEventArrayMap } from './perf.js';
import { QueueStackMap } from './queue.js';
import { RingBufMap } from './ringbuf.js';
import { StackTraceMap } from './stack-trace.js';

const F = MapFlags;
const ACCESS = F.RDONLY | F.WRONLY | F.RDONLY_PROG | F.WRONLY_PROG;
const ARRAY_FLAGS = F.NUMA_NODE | F.MMAPABLE | ACCESS | F.PRESERVE_ELEMS | F.INNER_MAP;
const HASH_FLAGS = F.NO_PREALLOC | F.NO_COMMON_LRU | F.NUMA_NODE | ACCESS | F.ZERO_SEED;
const LPM_FLAGS = F.NO_PREALLOC | F.NUMA_NODE | ACCESS;
const QUEUE_FLAGS = F.NUMA_NODE | ACCESS;
const BLOOM_FLAGS = F.NUMA_NODE | F.ZERO_SEED | ACCESS;
/** PCPU_MIN_UNIT_SIZE: the largest per-CPU value. */
const PERCPU_MAX = 32768;

/** The map types the VM implements. */
export const VM_MAP_TYPES: readonly MapType[] = [
  MapType.HASH,
  MapType.ARRAY,
  MapType.PROG_ARRAY,
  MapType.PERF_EVENT_ARRAY,
  MapType.PERCPU_HASH,
  MapType.PERCPU_ARRAY,
  MapType.LRU_HASH,
  MapType.LRU_PERCPU_HASH,
  MapType.LPM_TRIE,
  MapType.ARRAY_OF_MAPS,
  MapType.HASH_OF_MAPS,
  MapType.QUEUE,
  MapType.STACK,
  MapType.RINGBUF,
  MapType.BLOOM_FILTER,
  MapType.STACK_TRACE,
];

function accessOk(flags: number): boolean {
  const both = (a: number, b: number): boolean => (flags & a) !== 0 && (flags & b) !== 0;
  return !both(F.RDONLY, F.WRONLY) && !both(F.RDONLY_PROG, F.WRONLY_PROG);
}

/** The errno BPF_MAP_CREATE gives for this spec (0 when it is acceptable), with the reason. */
export function checkMapSpec(spec: MapSpec): [number, string] {
  const { type, keySize: k, valueSize: v, maxEntries: n } = spec;
  const flags = spec.flags >>> 0;
  const bad = (why: string): [number, string] => [Errno.EINVAL, why];
  if (!VM_MAP_TYPES.includes(type)) {
    return [Errno.EINVAL, `map type ${nameOf(MapType, type) ?? type} is not supported by the VM`];
  }
  if (!accessOk(flags)) return bad('conflicting access flags');
  if (spec.mapExtra && type !== MapType.BLOOM_FILTER) return bad('map_extra is only for bloom filters');
  switch (type) {
    case MapType.ARRAY:
    case MapType.PERCPU_ARRAY:
    case MapType.PROG_ARRAY:
    case MapType.PERF_EVENT_ARRAY:
    case MapType.ARRAY_OF_MAPS: {
      const fd = type === MapType.PROG_ARRAY || type === MapType.PERF_EVENT_ARRAY || type === MapType.ARRAY_OF_MAPS;
      if (fd && v !== 4) return bad('value size must be 4 (an fd)');
      if (n === 0 || k !== 4 || v === 0 || flags & ~ARRAY_FLAGS) return bad('array maps need key size 4, a value size, max_entries and array flags');
      if (flags & F.MMAPABLE && type !== MapType.ARRAY) return bad('only arrays can be mmapable');
      if (flags & F.PRESERVE_ELEMS && type !== MapType.PERF_EVENT_ARRAY) return bad('BPF_F_PRESERVE_ELEMS is for perf event arrays');
      if (type === MapType.PERCPU_ARRAY && round8(v) > PERCPU_MAX) return [Errno.E2BIG, 'per-CPU value too large'];
      if (type === MapType.ARRAY_OF_MAPS && !spec.innerMap) return bad('a map of maps needs an inner map template');
      return [0, ''];
    }
    case MapType.HASH:
    case MapType.PERCPU_HASH:
    case MapType.LRU_HASH:
    case MapType.LRU_PERCPU_HASH:
    case MapType.HASH_OF_MAPS: {
      const lru = type === MapType.LRU_HASH || type === MapType.LRU_PERCPU_HASH;
      const percpu = type === MapType.PERCPU_HASH || type === MapType.LRU_PERCPU_HASH;
      if (type === MapType.HASH_OF_MAPS) {
        if (v !== 4) return bad('value size must be 4 (an fd)');
        if (!spec.innerMap) return bad('a map of maps needs an inner map template');
      }
      if (flags & ~HASH_FLAGS) return bad('unknown hash map flags');
      if (!lru && flags & F.NO_COMMON_LRU) return bad('BPF_F_NO_COMMON_LRU is for LRU maps');
      if (lru && flags & F.NO_PREALLOC) return [Errno.ENOTSUPP, 'LRU maps are always preallocated'];
      if (n === 0 || k === 0 || v === 0) return bad('hash maps need a key size, a value size and max_entries');
      if (percpu && round8(v) > PERCPU_MAX) return [Errno.E2BIG, 'per-CPU value too large'];
      return [0, ''];
    }
    case MapType.LPM_TRIE:
      if (n === 0 || !(flags & F.NO_PREALLOC) || flags & ~LPM_FLAGS || k < 5 || k > 260 || v < 1) {
        return bad('LPM tries need BPF_F_NO_PREALLOC, a key of 5..260 bytes (prefixlen + data) and a value');
      }
      return [0, ''];
    case MapType.QUEUE:
    case MapType.STACK:
      if (k !== 0 || v === 0 || n === 0 || flags & ~QUEUE_FLAGS) return bad('queues and stacks need key size 0, a value size and max_entries');
      return [0, ''];
    case MapType.BLOOM_FILTER:
      if (k !== 0 || v === 0 || n === 0 || flags & ~BLOOM_FLAGS) return bad('bloom filters need key size 0, a value size and max_entries');
      if ((spec.mapExtra ?? 0n) & ~0xfn) return bad('map_extra of a bloom filter is the number of hash functions (0..15)');
      return [0, ''];
    case MapType.STACK_TRACE:
      if (flags & F.STACK_BUILD_ID) return bad('build-id stacks are not supported by the VM');
      if (k !== 4 || v < 8 || v % 8 !== 0 || n === 0 || flags & ~(F.NUMA_NODE | ACCESS)) return bad('stack trace maps need key size 4, a value size that is a multiple of 8, and max_entries');
      return [0, ''];
    case MapType.RINGBUF:
      if (k !== 0 || v !== 0 || flags & ~F.NUMA_NODE) return bad('ring buffers need key and value size 0');
      if (n === 0 || n & (n - 1) || n % 4096 !== 0) return bad('ring buffer size must be a power of 2 and a multiple of the page size');
      return [0, ''];
  }
  return bad('unsupported map type');
}

/** Create the VM map for a spec, or throw BpfErrnoError as BPF_MAP_CREATE would. */
export function createVmMap(host: MapHost, spec: MapSpec, id: number): VmMap {
  const [errno, why] = checkMapSpec(spec);
  if (errno) throw errnoError('map create', errno, `map '${spec.name}': ${why}`);
  switch (spec.type) {
    case MapType.ARRAY:
    case MapType.PERCPU_ARRAY:
      return new ArrayMap(host, spec, id);
    case MapType.PROG_ARRAY:
    case MapType.ARRAY_OF_MAPS:
      return new FdArray(host, spec, id);
    case MapType.PERF_EVENT_ARRAY:
      return new PerfEventArrayMap(host, spec, id);
    case MapType.HASH_OF_MAPS:
      return new HashOfMaps(host, spec, id);
    case MapType.LPM_TRIE:
      return new LpmTrieMap(host, spec, id);
    case MapType.QUEUE:
    case MapType.STACK:
      return new QueueStackMap(host, spec, id);
    case MapType.BLOOM_FILTER:
      return new BloomFilterMap(host, spec, id);
    case MapType.RINGBUF:
      return new RingBufMap(host, spec, id);
    case MapType.STACK_TRACE:
      return new StackTraceMap(host, spec, id);
    default:
      return new HashMap(host, spec, id);
  }
}
