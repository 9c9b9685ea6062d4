/**
 * Kernel maps: a MapSpec made live with BPF_MAP_CREATE, and every operation
 * user space has on it (lookup, update, delete, iterate, lookup-and-delete,
 * batches, freeze, mmap, pin, info). Implements the engine-neutral MapHandle
 * (src/ebpf/engine.ts), so code and tests run unchanged on the VM engine.
 *
 * Element operations are the hot path: each map owns one block of native
 * memory holding its own bpf_attr (map_fd and pointers written once) and
 * room for a key, a value and a next key, so a lookup is a copy in, one
 * system call and a copy out — no allocation besides the returned value.
 */
import type { MapHandle } from '../ebpf/engine.js';
import { MapFlags } from '../ebpf/types.js';
import type { MapSpec } from '../ebpf/spec.js';
import { BpfCmd, MapType, nameOf } from '../ebpf/types.js';
import { UsageError } from '../errors.js';
import { MapCreateAttr, MapElemAttr, MapInfo } from './attr.js';
import { bpfRaw, fdById, objGet, objInfo, objPin } from './bpf.js';
import { possibleCpus } from './cpus.js';
import { KernelError, PinMismatchError, kernelError } from './errors.js';
import { Fd } from './fd.js';
import { batchDelete, batchReadAll, batchUpdate, type BatchTarget } from './map-batch.js';
import * as sys from './sys.js';

export { MapFlags };

const PER_CPU = new Set<number>([
  MapType.PERCPU_HASH,
  MapType.PERCPU_ARRAY,
  MapType.LRU_PERCPU_HASH,
  MapType.PERCPU_CGROUP_STORAGE,
]);

/** Map types whose user-space values are fds of other objects (read back as ids). */
const FD_VALUES = new Set<number>([
  MapType.PROG_ARRAY,
  MapType.PERF_EVENT_ARRAY,
  MapType.CGROUP_ARRAY,
  MapType.ARRAY_OF_MAPS,
  MapType.HASH_OF_MAPS,
  MapType.SOCKMAP,
  MapType.SOCKHASH,
  MapType.XSKMAP,
  MapType.REUSEPORT_SOCKARRAY,
]);

export const isPerCpu = (type: number): boolean => PER_CPU.has(type);
export const holdsFds = (type: number): boolean => FD_VALUES.has(type);

/** The kernel's object names: up to 15 bytes of [A-Za-z0-9_.]. */
export function objectName(name: string): string {
  return name.replace(/[^A-Za-z0-9_.]/g, '_').slice(0, 15);
}

const round8 = (n: number) => Math.ceil(n / 8) * 8;

export interface CreateMapOptions {
  /** fd of the BTF (BPF_BTF_LOAD) that btfKeyTypeId/btfValueTypeId refer to. */
  btfFd?: number;
  /** For maps of maps: an inner map (or its fd) matching spec.innerMap; made from spec.innerMap when absent. */
  innerMap?: KernelMap | number;
  /** BTF id in vmlinux of the value type (struct_ops maps). */
  btfVmlinuxValueTypeId?: number;
  /** Network device for offloaded maps. */
  ifindex?: number;
  /** Resolve `{ program }` / `{ map }` values of spec.contents to fds (the collection loader passes this). */
  resolveFd?: (ref: { program: string } | { map: string }) => number;
  /** Skip writing spec.contents/spec.data and freezing (when the caller will do it later). */
  deferContents?: boolean;
}

/** An mmap'ed view of an array map's values (BPF_F_MMAPABLE): globals without system calls. */
export class MappedMap {
  #addr: number;
  #bytes: Uint8Array;
  readonly writable: boolean;

  constructor(addr: number, readonly length: number, writable: boolean) {
    this.#addr = addr;
    this.#bytes = new Uint8Array(sys.viewAt(addr, length));
    this.writable = writable;
  }

  /** The mapped bytes (value i at i × round_up(valueSize, 8)); empty after unmap(). */
  get bytes(): Uint8Array {
    return this.#bytes;
  }

  get mapped(): boolean {
    return this.#addr !== 0;
  }

  unmap(): void {
    if (this.#addr === 0) return;
    sys.munmap(this.#addr, this.length);
    this.#addr = 0;
    this.#bytes = new Uint8Array(0);
  }
}

export interface MapInfoRecord {
  type: number;
  typeName: string;
  id: number;
  name: string;
  keySize: number;
  valueSize: number;
  maxEntries: number;
  flags: number;
  btfId: number;
  btfKeyTypeId: number;
  btfValueTypeId: number;
  mapExtra: bigint;
}

const ATTR = 32;

/**
 * Copy `src` into native memory (`dst`, at `at` in `view`): 4- and 8-byte
 * keys and values with one or two u32 writes, small ones byte by byte, big
 * ones with set() — TypedArray.set into native memory has a high fixed cost.
 */
function copyBytes(src: Uint8Array, dst: Uint8Array, view: DataView, at: number): void {
  const n = src.length;
  if (n === 4 || n === 8) {
    view.setUint32(at, src[0]! | (src[1]! << 8) | (src[2]! << 16) | (src[3]! << 24), true);
    if (n === 8) view.setUint32(at + 4, src[4]! | (src[5]! << 8) | (src[6]! << 16) | (src[7]! << 24), true);
  } else if (n <= 64) {
    for (let i = 0; i < n; i++) dst[i] = src[i]!;
  } else {
    dst.set(src);
  }
}

export class KernelMap implements MapHandle {
  readonly spec: Readonly<MapSpec>;
  readonly #fd: Fd;
  /** Bytes of one user-space value: valueSize, or one 8-aligned slot per possible CPU. */
  readonly valueSlotSize: number;
  #io: sys.NativeBuffer;
  #key: Uint8Array;
  #value: Uint8Array;
  #next: Uint8Array;
  #keyAddr: number;
  #valueAddr: number;
  #nextAddr: number;
  #mapped: MappedMap[] = [];
  #frozen = false;

  /** Wrap an fd this map now owns. Prefer createMap() / KernelMap.fromPin() / fromId(). */
  constructor(fd: Fd, spec: MapSpec) {
    this.#fd = fd;
    this.spec = spec;
    this.valueSlotSize = isPerCpu(spec.type) ? round8(spec.valueSize) * possibleCpus() : spec.valueSize;
    const k8 = round8(Math.max(spec.keySize, 1));
    const v8 = round8(Math.max(this.valueSlotSize, 1));
    try {
      this.#io = new sys.NativeBuffer(ATTR + k8 + v8 + k8);
    } catch (err) {
      fd.close();
      throw err;
    }
    const io = this.#io;
    this.#keyAddr = io.addr + ATTR;
    this.#valueAddr = this.#keyAddr + k8;
    this.#nextAddr = this.#valueAddr + v8;
    this.#key = io.bytes.subarray(ATTR, ATTR + spec.keySize);
    this.#value = io.bytes.subarray(ATTR + k8, ATTR + k8 + this.valueSlotSize);
    this.#next = io.bytes.subarray(ATTR + k8 + v8, ATTR + k8 + v8 + spec.keySize);
    io.view.setUint32(MapElemAttr.off('map_fd'), fd.value, true);
  }

  /** The map's fd (valid until close()). */
  get fd(): number {
    return this.#fd.value;
  }

  get name(): string {
    return this.spec.name;
  }

  get closed(): boolean {
    return this.#fd.closed;
  }

  private get subject(): string {
    return `map "${this.spec.name}"`;
  }

  private fail(op: string, r: number): KernelError {
    return kernelError(op, -r, this.subject);
  }

  private setKey(key: Uint8Array | undefined, what = 'key'): number {
    const ks = this.spec.keySize;
    if (ks === 0) {
      if (key && key.length !== 0) throw new UsageError(`${this.subject} has no keys (key size 0), got a ${key.length}-byte ${what}`);
      return 0;
    }
    if (!key || key.length !== ks) {
      throw new UsageError(`${this.subject}: ${what} must be ${ks} bytes, got ${key ? key.length : 'none'}`);
    }
    copyBytes(key, this.#key, this.#io.view, ATTR);
    return this.#keyAddr;
  }

  // What the attr block holds now: rewritten only when an operation needs something else.
  #attrKey = -1;
  #attrValue = -1;
  #attrFlags = -1;

  private elem(cmd: number, keyAddr: number, valueAddr: number, flags: number): number {
    const io = this.#io;
    if (io.freed) throw new UsageError(`${this.subject} is closed`);
    const v = io.view;
    // Addresses and flags as two u32 halves: no BigInt on the hot path.
    if (keyAddr !== this.#attrKey) {
      v.setUint32(8, keyAddr % 0x1_0000_0000, true);
      v.setUint32(12, Math.floor(keyAddr / 0x1_0000_0000), true);
      this.#attrKey = keyAddr;
    }
    if (valueAddr !== this.#attrValue) {
      v.setUint32(16, valueAddr % 0x1_0000_0000, true);
      v.setUint32(20, Math.floor(valueAddr / 0x1_0000_0000), true);
      this.#attrValue = valueAddr;
    }
    if (flags !== this.#attrFlags) {
      v.setUint32(24, flags >>> 0, true);
      v.setUint32(28, 0, true);
      this.#attrFlags = flags;
    }
    return sys.bpf(cmd, io.addr, ATTR);
  }

  /** Copy the value slot out into a fresh array (small values byte by byte: cheaper than slicing native memory). */
  private valueCopy(): Uint8Array {
    const n = this.valueSlotSize;
    const out = new Uint8Array(n);
    if (n <= 64) {
      const src = this.#value;
      for (let i = 0; i < n; i++) out[i] = src[i]!;
    } else {
      out.set(this.#value);
    }
    return out;
  }

  /**
   * lookup() without allocating: the value is copied into `out` (at least
   * valueSlotSize bytes). Returns false when the key is absent.
   */
  lookupInto(key: Uint8Array, out: Uint8Array, flags = 0): boolean {
    const r = this.elem(BpfCmd.MAP_LOOKUP_ELEM, this.setKey(key), this.#valueAddr, flags);
    if (r < 0) {
      if (r === -2) return false;
      throw this.fail('map lookup', r);
    }
    const n = this.valueSlotSize;
    if (out.length < n) throw new UsageError(`${this.subject}: lookupInto needs ${n} bytes of room, got ${out.length}`);
    const src = this.#value;
    if (n <= 64) for (let i = 0; i < n; i++) out[i] = src[i]!;
    else out.set(src);
    return true;
  }

  /**
   * The value at `key`. Queues and stacks (no keys): the next value, without
   * taking it. Bloom filters: pass the value to test as `key`; it comes back
   * when the filter may hold it, undefined when it surely does not.
   */
  lookup(key: Uint8Array, flags = 0): Uint8Array | undefined {
    if (this.spec.type === MapType.BLOOM_FILTER) return this.contains(key) ? key.slice() : undefined;
    const r = this.elem(BpfCmd.MAP_LOOKUP_ELEM, this.setKey(key), this.#valueAddr, flags);
    if (r < 0) {
      if (r === -2) return undefined;
      throw this.fail('map lookup', r);
    }
    return this.valueCopy();
  }

  /** Bloom filter membership: false means surely absent, true means maybe present. */
  contains(value: Uint8Array): boolean {
    if (value.length !== this.spec.valueSize) {
      throw new UsageError(`${this.subject}: value must be ${this.spec.valueSize} bytes, got ${value.length}`);
    }
    this.#value.set(value);
    const r = this.elem(BpfCmd.MAP_LOOKUP_ELEM, 0, this.#valueAddr, 0);
    if (r === -2) return false;
    if (r < 0) throw this.fail('map lookup', r);
    return true;
  }

  update(key: Uint8Array, value: Uint8Array, flags = 0): void {
    const keyAddr = this.setKey(key);
    if (value.length !== this.valueSlotSize) {
      throw new UsageError(
        `${this.subject}: value must be ${this.valueSlotSize} bytes${isPerCpu(this.spec.type) ? ` (${possibleCpus()} CPUs × ${round8(this.spec.valueSize)})` : ''}, got ${value.length}`,
      );
    }
    copyBytes(value, this.#value, this.#io.view, this.#valueAddr - this.#io.addr);
    const r = this.elem(BpfCmd.MAP_UPDATE_ELEM, keyAddr, this.#valueAddr, flags);
    if (r < 0) throw this.fail('map update', r);
  }

  /** Store an fd (program, map, perf event, socket, cgroup) at `key` of a map that holds fds. */
  updateFd(key: Uint8Array, fd: number, flags = 0): void {
    const v = new Uint8Array(4);
    new DataView(v.buffer).setUint32(0, fd, true);
    this.update(key, v, flags);
  }

  delete(key: Uint8Array): void {
    const r = this.elem(BpfCmd.MAP_DELETE_ELEM, this.setKey(key), 0, 0);
    if (r < 0) throw this.fail('map delete', r);
  }

  nextKey(key?: Uint8Array): Uint8Array | undefined {
    const keyAddr = key === undefined ? 0 : this.setKey(key);
    const r = this.elem(BpfCmd.MAP_GET_NEXT_KEY, keyAddr, this.#nextAddr, 0);
    if (r < 0) {
      if (r === -2) return undefined;
      throw this.fail('map next key', r);
    }
    const out = new Uint8Array(this.spec.keySize);
    const src = this.#next;
    for (let i = 0; i < out.length; i++) out[i] = src[i]!;
    return out;
  }

  lookupAndDelete(key?: Uint8Array, flags = 0): Uint8Array | undefined {
    const keyAddr = key === undefined && this.spec.keySize === 0 ? 0 : this.setKey(key);
    const r = this.elem(BpfCmd.MAP_LOOKUP_AND_DELETE_ELEM, keyAddr, this.#valueAddr, flags);
    if (r < 0) {
      if (r === -2) return undefined;
      throw this.fail('map lookup and delete', r);
    }
    return this.valueCopy();
  }

  freeze(): void {
    const r = this.elem(BpfCmd.MAP_FREEZE, 0, 0, 0);
    if (r < 0) throw this.fail('map freeze', r);
    this.#frozen = true;
  }

  get frozen(): boolean {
    return this.#frozen;
  }

  /** Keys in the kernel's iteration order. Deleting the current key while iterating restarts hash iteration, as in the kernel. */
  *keys(): Generator<Uint8Array> {
    let k = this.nextKey();
    while (k !== undefined) {
      yield k;
      k = this.nextKey(k);
    }
  }

  /** [key, value] pairs; entries that vanish between next-key and lookup are skipped. */
  *entries(): Generator<[Uint8Array, Uint8Array]> {
    for (const k of this.keys()) {
      const v = this.lookup(k);
      if (v !== undefined) yield [k, v];
    }
  }

  // -------------------------------------------------------------------------
  // Batches (map-batch.ts)

  private get batchTarget(): BatchTarget {
    return { fd: this.fd, keySize: this.spec.keySize, valueSlotSize: this.valueSlotSize, subject: this.subject, fail: (op, r) => this.fail(op, r) };
  }

  /** Every entry, read `batchSize` at a time with BPF_MAP_LOOKUP_BATCH. */
  lookupBatch(batchSize = 256): [Uint8Array, Uint8Array][] {
    return batchReadAll(this.batchTarget, BpfCmd.MAP_LOOKUP_BATCH, 'map lookup batch', batchSize);
  }

  /** Every entry, read and deleted `batchSize` at a time (BPF_MAP_LOOKUP_AND_DELETE_BATCH). */
  lookupAndDeleteBatch(batchSize = 256): [Uint8Array, Uint8Array][] {
    return batchReadAll(this.batchTarget, BpfCmd.MAP_LOOKUP_AND_DELETE_BATCH, 'map lookup and delete batch', batchSize);
  }

  /** Insert or replace many entries in one call (BPF_MAP_UPDATE_BATCH); returns how many were written. */
  updateBatch(keys: readonly Uint8Array[], values: readonly Uint8Array[], elemFlags = 0): number {
    return batchUpdate(this.batchTarget, keys, values, elemFlags);
  }

  /** Delete many keys in one call (BPF_MAP_DELETE_BATCH); returns how many were deleted. */
  deleteBatch(keys: readonly Uint8Array[]): number {
    return batchDelete(this.batchTarget, keys);
  }

  // -------------------------------------------------------------------------
  // mmap, info, pinning

  /** mmap the values of a BPF_F_MMAPABLE array (read-only when frozen or `readOnly`). Unmapped on close(). */
  mmap(readOnly = this.#frozen): MappedMap {
    if (!(this.spec.flags & MapFlags.MMAPABLE)) {
      throw new UsageError(`${this.subject} was not created with BPF_F_MMAPABLE`);
    }
    const page = 4096;
    const length = Math.ceil((round8(this.spec.valueSize) * this.spec.maxEntries) / page) * page;
    const prot = readOnly ? sys.PROT_READ : sys.PROT_READ | sys.PROT_WRITE;
    const addr = sys.mmap(length, prot, sys.MAP_SHARED, this.fd, 0);
    if (addr < 0) throw kernelError('map mmap', -addr, this.subject);
    const m = new MappedMap(addr, length, !readOnly);
    this.#mapped.push(m);
    return m;
  }

  info(): MapInfoRecord {
    return mapInfo(this.fd);
  }

  /** Pin at `path` on a bpf filesystem. */
  pin(path: string): void {
    objPin(this.fd, path);
  }

  close(): void {
    for (const m of this.#mapped) m.unmap();
    this.#mapped = [];
    this.#io.free();
    this.#fd.close();
  }

  // -------------------------------------------------------------------------
  // Opening existing maps

  /** Open a map by fd (taking ownership): its spec read back from the kernel. */
  static fromFd(fd: Fd): KernelMap {
    let info: MapInfoRecord;
    try {
      info = mapInfo(fd.value);
    } catch (err) {
      fd.close();
      throw err;
    }
    return new KernelMap(fd, specFromInfo(info));
  }

  /** Open the map with this kernel id. */
  static fromId(id: number): KernelMap {
    return KernelMap.fromFd(fdById('map', id));
  }

  /**
   * Open the map pinned at `path`. With `expected`, check it is compatible
   * (type, key/value size, max_entries, flags) and throw PinMismatchError if not.
   */
  static fromPin(path: string, expected?: MapSpec): KernelMap {
    const m = KernelMap.fromFd(objGet(path, 0, `map pinned at ${path}`));
    if (expected) {
      const problem = incompatibility(m.spec, expected);
      if (problem) {
        m.close();
        throw new PinMismatchError(path, `does not match map "${expected.name}": ${problem}`);
      }
    }
    return m;
  }
}

/** Why a live map cannot stand in for `want`, or undefined when it can. */
export function incompatibility(have: Readonly<MapSpec>, want: Readonly<MapSpec>): string | undefined {
  const typeName = (t: number) => nameOf(MapType, t) ?? String(t);
  if (have.type !== want.type) return `type is ${typeName(have.type)}, expected ${typeName(want.type)}`;
  if (have.keySize !== want.keySize) return `key size is ${have.keySize}, expected ${want.keySize}`;
  if (have.valueSize !== want.valueSize) return `value size is ${have.valueSize}, expected ${want.valueSize}`;
  if (have.maxEntries !== want.maxEntries) return `max_entries is ${have.maxEntries}, expected ${want.maxEntries}`;
  // The kernel reports flags it adds itself (e.g. RDONLY_PROG on frozen globals); compare those the caller set.
  const mask = ~(MapFlags.RDONLY_PROG | MapFlags.WRONLY_PROG);
  if ((have.flags & mask) !== (want.flags & mask)) {
    return `flags are 0x${have.flags.toString(16)}, expected 0x${want.flags.toString(16)}`;
  }
  return undefined;
}

export function mapInfo(fd: number): MapInfoRecord {
  const i = objInfo(fd, MapInfo, undefined, 'map info');
  return {
    type: i.type as number,
    typeName: nameOf(MapType, i.type as number) ?? `type ${i.type}`,
    id: i.id as number,
    name: i.name as string,
    keySize: i.key_size as number,
    valueSize: i.value_size as number,
    maxEntries: i.max_entries as number,
    flags: i.map_flags as number,
    btfId: i.btf_id as number,
    btfKeyTypeId: i.btf_key_type_id as number,
    btfValueTypeId: i.btf_value_type_id as number,
    mapExtra: i.map_extra as bigint,
  };
}

function specFromInfo(info: MapInfoRecord): MapSpec {
  return {
    name: info.name,
    type: info.type as MapSpec['type'],
    keySize: info.keySize,
    valueSize: info.valueSize,
    maxEntries: info.maxEntries,
    flags: info.flags,
    ...(info.mapExtra ? { mapExtra: info.mapExtra } : {}),
  };
}

/** BPF_MAP_CREATE from a spec: the new map, with spec.contents/data written and frozen if asked. */
export function createMap(spec: MapSpec, options: CreateMapOptions = {}): KernelMap {
  let inner: KernelMap | undefined;
  let innerFd = 0;
  if (spec.type === MapType.ARRAY_OF_MAPS || spec.type === MapType.HASH_OF_MAPS) {
    if (options.innerMap !== undefined) {
      innerFd = typeof options.innerMap === 'number' ? options.innerMap : options.innerMap.fd;
    } else if (spec.innerMap) {
      inner = createMap({ ...spec.innerMap, name: spec.innerMap.name || `${spec.name}.inner` }, { btfFd: options.btfFd });
      innerFd = inner.fd;
    } else {
      throw new UsageError(`map "${spec.name}": a map of maps needs innerMap (a template inner map)`);
    }
  }
  let fd: Fd;
  try {
    const btf = options.btfFd !== undefined && (spec.btfValueTypeId || options.btfVmlinuxValueTypeId);
    const r = bpfRaw(BpfCmd.MAP_CREATE, MapCreateAttr, {
      map_type: spec.type,
      key_size: spec.keySize,
      value_size: spec.valueSize,
      max_entries: spec.maxEntries,
      map_flags: spec.flags,
      inner_map_fd: innerFd,
      numa_node: spec.numaNode ?? 0,
      map_name: objectName(spec.name),
      map_ifindex: options.ifindex ?? 0,
      btf_fd: btf ? options.btfFd : 0,
      btf_key_type_id: btf ? (spec.btfKeyTypeId ?? 0) : 0,
      btf_value_type_id: btf ? (spec.btfValueTypeId ?? 0) : 0,
      btf_vmlinux_value_type_id: options.btfVmlinuxValueTypeId ?? 0,
      map_extra: spec.mapExtra ?? 0n,
    });
    if (r < 0) throw kernelError('map create', -r, `map "${spec.name}" (${nameOf(MapType, spec.type) ?? spec.type})`);
    fd = new Fd(r, `map ${spec.name}`);
  } finally {
    // The kernel keeps what it needs of the inner template; our fd of it can go.
    inner?.close();
  }
  const map = new KernelMap(fd, { ...spec });
  if (!options.deferContents) {
    try {
      writeContents(map, spec, options.resolveFd);
    } catch (err) {
      map.close();
      throw err;
    }
  }
  return map;
}

/** Write spec.data (value 0 of a globals array) and spec.contents, then freeze when spec.freeze. */
export function writeContents(
  map: KernelMap,
  spec: MapSpec,
  resolveFd?: (ref: { program: string } | { map: string }) => number,
): void {
  if (spec.data && spec.data.length > 0) {
    const value = new Uint8Array(spec.valueSize);
    value.set(spec.data.subarray(0, spec.valueSize));
    map.update(new Uint8Array(spec.keySize), value);
  }
  for (const entry of spec.contents ?? []) {
    if (entry.value instanceof Uint8Array) {
      map.update(entry.key, entry.value);
    } else {
      if (!resolveFd) throw new UsageError(`map "${spec.name}": an entry refers to ${JSON.stringify(entry.value)}, which only a collection can resolve`);
      map.updateFd(entry.key, resolveFd(entry.value));
    }
  }
  if (spec.freeze) map.freeze();
}
