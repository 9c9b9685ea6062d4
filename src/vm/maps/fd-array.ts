/**
 * Arrays whose values name other objects: BPF_MAP_TYPE_PROG_ARRAY (programs,
 * for bpf_tail_call), BPF_MAP_TYPE_ARRAY_OF_MAPS (inner maps) and
 * BPF_MAP_TYPE_PERF_EVENT_ARRAY (perf buffers, see perf.ts). User space
 * writes a 4-byte fd (in the VM, the program's or map's id) with BPF_ANY
 * only; lookups from user space give the object's id; slots can be cleared.
 */
import { Errno } from '../../ebpf/engine.js';
import type { MapSpec } from '../../ebpf/spec.js';
import { MapType } from '../../ebpf/types.js';
import { readU32, u32Key } from './keys.js';
import { MapFlags, VmMap, type MapHost } from './map.js';

export class FdArray extends VmMap {
  /** Object id per slot, 0 when empty. */
  protected readonly slots: Uint32Array;

  constructor(host: MapHost, spec: MapSpec, id: number) {
    super(host, spec, id);
    this.slots = new Uint32Array(spec.maxEntries);
  }

  /** The object id at an index, 0 when empty or out of range. */
  at(index: number): number {
    return index < this.spec.maxEntries ? this.slots[index]! : 0;
  }

  progLookup(key: Uint8Array): number {
    if (this.spec.type !== MapType.ARRAY_OF_MAPS) return 0;
    const id = this.at(readU32(key));
    return id === 0 ? 0 : (this.host.mapById(id)?.handle ?? 0);
  }

  protected userGet(key: Uint8Array): Uint8Array | number {
    if (this.spec.type === MapType.PERF_EVENT_ARRAY) return Errno.ENOTSUPP;
    const i = readU32(key);
    if (i >= this.spec.maxEntries) return Errno.ENOENT;
    const id = this.slots[i]!;
    return id === 0 ? Errno.ENOENT : u32Key(id);
  }

  /** Whether `id` may be stored: an errno when not. */
  protected accept(id: number): number {
    if (this.spec.type === MapType.PROG_ARRAY) return this.host.hasProgram(id) ? 0 : Errno.EBADF;
    if (this.spec.type === MapType.ARRAY_OF_MAPS) return innerMapErrno(this.host, this.spec, id);
    return 0;
  }

  protected put(key: Uint8Array, value: Uint8Array, flags: number, cpu: number): number {
    if (cpu >= 0) return Errno.EINVAL; // programs cannot update these maps
    if (flags !== 0) return Errno.EINVAL;
    const i = readU32(key);
    if (i >= this.spec.maxEntries) return Errno.E2BIG;
    const id = readU32(value);
    const e = this.accept(id);
    if (e) return e;
    this.slots[i] = id;
    return 0;
  }

  protected remove(key: Uint8Array): number {
    const i = readU32(key);
    if (i >= this.spec.maxEntries) return Errno.E2BIG;
    if (this.slots[i] === 0) return Errno.ENOENT;
    this.slots[i] = 0;
    return 0;
  }

  protected next(key: Uint8Array | undefined): Uint8Array | number {
    const i = key === undefined ? -1 : readU32(key);
    const n = key === undefined || i >= this.spec.maxEntries ? 0 : i + 1;
    return n >= this.spec.maxEntries ? Errno.ENOENT : u32Key(n);
  }
}

/** Can map `id` be an inner map of `outer` (bpf_map_meta_equal)? 0 or an errno. */
export function innerMapErrno(host: MapHost, outer: Readonly<MapSpec>, id: number): number {
  const inner = host.mapById(id);
  if (!inner) return Errno.EBADF;
  const t = outer.innerMap;
  if (!t) return Errno.EINVAL;
  const s = inner.spec;
  const sameEntries = (t.flags & MapFlags.INNER_MAP) !== 0 || s.maxEntries === t.maxEntries;
  const ok = s.type === t.type && s.keySize === t.keySize && s.valueSize === t.valueSize && s.flags === t.flags && sameEntries;
  return ok ? 0 : Errno.EINVAL;
}
