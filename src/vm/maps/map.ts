/**
 * The base of the VM's maps. A map has two faces:
 *
 * - user space (MapHandle from src/ebpf/engine.ts): keys and values are byte
 *   arrays, copies in and out; refusals throw BpfErrnoError with the errno
 *   the kernel gives;
 * - programs (through helpers): keys come from VM memory, lookups return the
 *   address of the value inside VM memory (so program and user space see
 *   the same bytes), refusals return a negative errno.
 *
 * Subclasses implement the operations once, returning an errno (0 = success),
 * and both faces wrap them.
 */
import { Errno, UpdateFlags, type MapHandle } from '../../ebpf/engine.js';
import { errnoError } from '../errors.js';
import type { MapSpec } from '../../ebpf/spec.js';
import { MapFlags } from '../../ebpf/types.js';
import { MapType, nameOf } from '../../ebpf/types.js';
import type { HostEnv } from '../env.js';
import { MAP_HANDLE_BASE, MAP_HANDLE_STRIDE, type VmMemory } from '../memory.js';

export { MapFlags };

/** What a map needs from the VM that owns it. */
export interface MapHost {
  readonly mem: VmMemory;
  /** Number of possible CPUs (per-CPU maps keep one value per CPU). */
  readonly cpus: number;
  readonly env: HostEnv;
  /** True while a program runs: freed elements stay addressable until the run ends (as with RCU). */
  readonly running: boolean;
  /** Ask to be called back (reclaim) when the current run ends. */
  deferReclaim(map: VmMap): void;
  mapById(id: number): VmMap | undefined;
  hasProgram(id: number): boolean;
}

export const round8 = (n: number): number => Math.ceil(n / 8) * 8;

export abstract class VmMap implements MapHandle {
  readonly spec: Readonly<MapSpec>;
  /** The map's id, which is also its fd in LDDW (src = BPF_PSEUDO_MAP_FD) and in prog/map-of-maps values. */
  readonly id: number;
  /** What a program holds for this map: an address in the unmapped low window of VM memory. */
  readonly handle: number;
  protected readonly host: MapHost;
  protected frozen = false;
  private closed = false;

  constructor(host: MapHost, spec: MapSpec, id: number) {
    this.host = host;
    this.spec = Object.freeze({ ...spec });
    this.id = id;
    this.handle = MAP_HANDLE_BASE + MAP_HANDLE_STRIDE * id;
  }

  get name(): string {
    return this.spec.name;
  }

  get typeName(): string {
    return nameOf(MapType, this.spec.type) ?? `type ${this.spec.type}`;
  }

  get isFrozen(): boolean {
    return this.frozen;
  }

  /** Bytes of a value as user space sees it (per-CPU maps: one 8-byte aligned slot per CPU). */
  get valueSlotSize(): number {
    return this.spec.valueSize;
  }

  /** Whether programs may write the map's values (BPF_F_RDONLY_PROG). */
  get programWritable(): boolean {
    return (this.spec.flags & MapFlags.RDONLY_PROG) === 0;
  }

  /** Whether programs may read the map's values (BPF_F_WRONLY_PROG). */
  get programReadable(): boolean {
    return (this.spec.flags & MapFlags.WRONLY_PROG) === 0;
  }

  /** User space may not write a frozen map or one created BPF_F_RDONLY, nor read one created BPF_F_WRONLY. */
  private userAccess(op: string, write: boolean): void {
    const f = this.spec.flags;
    if (write && this.frozen) throw errnoError(op, Errno.EPERM, `map '${this.name}' is frozen`);
    if (write ? f & MapFlags.RDONLY : f & MapFlags.WRONLY) {
      throw errnoError(op, Errno.EPERM, `map '${this.name}' was created ${write ? 'BPF_F_RDONLY' : 'BPF_F_WRONLY'}`);
    }
  }

  // ---- operations, implemented by each type; errno 0 means success ----

  /** Value for user space (a copy), or an errno. */
  protected abstract userGet(key: Uint8Array): Uint8Array | number;
  /** Store a value; `cpu` is the CPU whose slot a program writes, or -1 for all (user space). */
  protected abstract put(key: Uint8Array, value: Uint8Array, flags: number, cpu: number): number;
  protected abstract remove(key: Uint8Array): number;
  /** The next key, or an errno (ENOENT at the end). */
  protected abstract next(key: Uint8Array | undefined): Uint8Array | number;

  /** Address of the value a program gets from bpf_map_lookup_elem, 0 when absent. */
  abstract progLookup(key: Uint8Array): number;
  /** Queue/stack/bloom: push (bpf_map_push_elem). */
  push(_value: Uint8Array, _flags: number): number {
    return Errno.EINVAL;
  }
  /** Queue/stack pop, or peek; copies the value into `out`. */
  pop(_out: Uint8Array, _remove: boolean): number {
    return Errno.EINVAL;
  }
  /** Lookup-and-delete of a key (hash maps); errno or the value. */
  protected takeKey(_key: Uint8Array): Uint8Array | number {
    return Errno.ENOTSUPP;
  }
  /** For bpf_for_each_map_elem: every element as (key, value address); stop when the callback returns true. */
  forEach(_fn: (key: Uint8Array, valueAddress: number) => boolean): number {
    return -Errno.EINVAL;
  }
  /** Free elements deleted during a run, once it ends. */
  reclaim(): void {}
  /** Free the map's memory. */
  protected release(): void {}

  // ---- program face ----

  progUpdate(key: Uint8Array, value: Uint8Array, flags: number): number {
    if (!this.programWritable) return -Errno.EPERM;
    const e = this.checkFlags(flags) || this.put(key, value, flags, this.host.env.cpu);
    return -e;
  }

  progDelete(key: Uint8Array): number {
    if (!this.programWritable) return -Errno.EPERM;
    return -this.remove(key);
  }

  // ---- user-space face (MapHandle) ----

  lookup(key: Uint8Array): Uint8Array | undefined {
    this.assertOpen('map lookup');
    this.userAccess('map lookup', false);
    this.checkKey(key, 'map lookup');
    const v = this.userGet(key);
    if (typeof v === 'number') {
      if (v === Errno.ENOENT) return undefined;
      throw errnoError('map lookup', v, this.why(v, 'lookup'));
    }
    return v;
  }

  update(key: Uint8Array, value: Uint8Array, flags = 0): void {
    this.assertOpen('map update');
    this.userAccess('map update', true);
    this.checkKey(key, 'map update');
    if (value.length !== this.valueSlotSize) {
      throw errnoError('map update', Errno.EINVAL, `value of map '${this.name}' must be ${this.valueSlotSize} bytes, got ${value.length}`);
    }
    const e = this.checkFlags(flags) || this.put(key, value, flags, -1);
    if (e) throw errnoError('map update', e, this.why(e, 'update'));
  }

  delete(key: Uint8Array): void {
    this.assertOpen('map delete');
    this.userAccess('map delete', true);
    this.checkKey(key, 'map delete');
    const e = this.remove(key);
    if (e) throw errnoError('map delete', e, this.why(e, 'delete'));
  }

  nextKey(key?: Uint8Array): Uint8Array | undefined {
    this.assertOpen('map get next key');
    this.userAccess('map get next key', false);
    if (key !== undefined) this.checkKey(key, 'map get next key');
    const k = this.next(key);
    if (typeof k === 'number') {
      if (k === Errno.ENOENT) return undefined;
      throw errnoError('map get next key', k, this.why(k, 'get next key'));
    }
    return k;
  }

  lookupAndDelete(key?: Uint8Array): Uint8Array | undefined {
    this.assertOpen('map lookup and delete');
    this.userAccess('map lookup and delete', true);
    if (this.spec.keySize === 0) {
      if (this.spec.type !== MapType.QUEUE && this.spec.type !== MapType.STACK) {
        throw errnoError('map lookup and delete', Errno.ENOTSUPP, `map '${this.name}' (${this.typeName}) does not support lookup and delete`);
      }
      const out = new Uint8Array(this.spec.valueSize);
      const e = this.pop(out, true);
      if (e === Errno.ENOENT) return undefined;
      if (e) throw errnoError('map lookup and delete', e, this.why(e, 'pop'));
      return out;
    }
    if (key === undefined) throw errnoError('map lookup and delete', Errno.EINVAL, `map '${this.name}' needs a key`);
    this.checkKey(key, 'map lookup and delete');
    const v = this.takeKey(key);
    if (typeof v === 'number') {
      if (v === Errno.ENOENT) return undefined;
      throw errnoError('map lookup and delete', v, this.why(v, 'lookup and delete'));
    }
    return v;
  }

  // ---- batches (BPF_MAP_*_BATCH): one call for many entries ----

  lookupBatch(_batchSize = 256): [Uint8Array, Uint8Array][] {
    const out: [Uint8Array, Uint8Array][] = [];
    for (let k = this.nextKey(); k !== undefined; k = this.nextKey(k)) {
      const v = this.lookup(k);
      if (v !== undefined) out.push([k, v]);
    }
    return out;
  }

  lookupAndDeleteBatch(batchSize = 256): [Uint8Array, Uint8Array][] {
    const entries = this.lookupBatch(batchSize);
    for (const [k] of entries) {
      const e = this.takeKey(k);
      if (typeof e === 'number') throw errnoError('map lookup and delete batch', e, this.why(e, 'lookup and delete batch'));
    }
    return entries;
  }

  updateBatch(keys: readonly Uint8Array[], values: readonly Uint8Array[], elemFlags = 0): number {
    if (keys.length !== values.length) throw errnoError('map update batch', Errno.EINVAL, `${keys.length} keys but ${values.length} values`);
    keys.forEach((k, i) => this.update(k, values[i]!, elemFlags));
    return keys.length;
  }

  deleteBatch(keys: readonly Uint8Array[]): number {
    for (const k of keys) this.delete(k);
    return keys.length;
  }

  freeze(): void {
    this.assertOpen('map freeze');
    // Freezing needs write access, which a frozen map no longer gives: EPERM, not EBUSY.
    this.userAccess('map freeze', true);
    this.frozen = true;
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.release();
  }

  get isClosed(): boolean {
    return this.closed;
  }

  // ---- shared checks ----

  protected checkFlags(flags: number): number {
    const f = flags >>> 0;
    if ((f & ~UpdateFlags.F_LOCK) > UpdateFlags.EXIST) return Errno.EINVAL;
    // BPF_F_LOCK needs a bpf_spin_lock in the value, which needs BTF the VM's maps do not have.
    if (f & UpdateFlags.F_LOCK) return Errno.EINVAL;
    return 0;
  }

  private checkKey(key: Uint8Array, op: string): void {
    if (key.length !== this.spec.keySize) {
      throw errnoError(op, Errno.EINVAL, `key of map '${this.name}' must be ${this.spec.keySize} bytes, got ${key.length}`);
    }
  }

  private assertOpen(op: string): void {
    if (this.closed) throw errnoError(op, Errno.EBADF, `map '${this.name}' is closed`);
  }

  protected why(errno: number, _op: string): string {
    const m = `map '${this.name}' (${this.typeName})`;
    switch (errno) {
      case Errno.ENOENT:
        return `no such key in ${m}`;
      case Errno.EEXIST:
        return `the key is already in ${m} (BPF_NOEXIST)`;
      case Errno.E2BIG:
        return `${m} is full or the key is out of range (max_entries ${this.spec.maxEntries})`;
      case Errno.ENOSPC:
        return `${m} is full (max_entries ${this.spec.maxEntries})`;
      case Errno.EINVAL:
        return `invalid argument for ${m}`;
      default:
        return `not possible on ${m}`;
    }
  }
}
