/**
 * Hashed maps: BPF_MAP_TYPE_HASH, PERCPU_HASH, LRU_HASH, LRU_PERCPU_HASH, and
 * (by subclassing) HASH_OF_MAPS.
 *
 * Values live in a slot arena in VM memory with room for max_entries + 1
 * elements, the extra one being what the kernel keeps for replacing an
 * element of a full map. Keys are indexed in a JS Map; iteration follows
 * insertion order (the kernel's follows hash buckets, which no user can rely
 * on). Kernel semantics kept:
 *
 * - update: BPF_NOEXIST on a present key → EEXIST, BPF_EXIST on an absent
 *   key → ENOENT, a new key in a full map → E2BIG (LRU maps evict instead);
 * - replacing a value of HASH/LRU_HASH puts it in a new element (a program
 *   holding the old value's address keeps seeing the old bytes until the
 *   run ends), per-CPU values are overwritten in place;
 * - a program's update of a per-CPU value writes its CPU's copy (a new
 *   element's other copies are zero); user space reads and writes all copies;
 * - deleted elements stay addressable until the current run ends;
 * - get_next_key of an absent key restarts from the first key.
 */
import { Errno } from '../../ebpf/engine.js';
import type { MapSpec } from '../../ebpf/spec.js';
import { MapType } from '../../ebpf/types.js';
import { SlotArena } from './arena.js';
import { innerMapErrno } from './fd-array.js';
import { keyString, readU32 } from './keys.js';
import { MapFlags, VmMap, round8, type MapHost } from './map.js';

export class HashMap extends VmMap {
  readonly arena: SlotArena;
  protected readonly percpu: boolean;
  protected readonly lru: boolean;
  private readonly index = new Map<string, number>();
  private readonly keys: Array<Uint8Array | undefined>;
  // Insertion order (for get_next_key) and recency (for LRU eviction): doubly linked lists of slots.
  private readonly next_: Int32Array;
  private readonly prev_: Int32Array;
  private head = -1;
  private tail = -1;
  private readonly lruNext: Int32Array | undefined;
  private readonly lruPrev: Int32Array | undefined;
  private lruHead = -1;
  private lruTail = -1;
  /** BPF_F_NO_COMMON_LRU: each CPU has its own LRU list of max_entries / cpus elements. */
  private readonly owner: Uint16Array | undefined;
  private readonly perCpuCount: Int32Array | undefined;

  constructor(host: MapHost, spec: MapSpec, id: number) {
    super(host, spec, id);
    this.percpu = spec.type === MapType.PERCPU_HASH || spec.type === MapType.LRU_PERCPU_HASH;
    this.lru = spec.type === MapType.LRU_HASH || spec.type === MapType.LRU_PERCPU_HASH;
    const slots = spec.maxEntries + 1;
    this.arena = new SlotArena(host, this, spec.name, slots, spec.valueSize, this.percpu ? host.cpus : 1, this.programWritable && this.valuesVisible, false, this.programReadable);
    this.keys = new Array<Uint8Array | undefined>(slots);
    this.next_ = new Int32Array(slots).fill(-1);
    this.prev_ = new Int32Array(slots).fill(-1);
    if (this.lru) {
      this.lruNext = new Int32Array(slots).fill(-1);
      this.lruPrev = new Int32Array(slots).fill(-1);
      if (spec.flags & MapFlags.NO_COMMON_LRU) {
        this.owner = new Uint16Array(slots);
        this.perCpuCount = new Int32Array(host.cpus);
      }
    }
    this.arena.onZombie = () => host.deferReclaim(this);
  }

  /** Whether programs get addresses of the values (not for maps of maps). */
  protected get valuesVisible(): boolean {
    return true;
  }

  override get valueSlotSize(): number {
    return this.percpu ? round8(this.spec.valueSize) * this.host.cpus : this.spec.valueSize;
  }

  get size(): number {
    return this.index.size;
  }

  /** Slot of a key, or -1. */
  protected find(key: Uint8Array): number {
    return this.index.get(keyString(key)) ?? -1;
  }

  progLookup(key: Uint8Array): number {
    const slot = this.find(key);
    if (slot < 0) return 0;
    if (this.lru) this.touch(slot);
    return this.arena.addr(slot, this.percpu ? this.host.env.cpu : 0);
  }

  /** Address of a CPU's copy of a key's value (bpf_map_lookup_percpu_elem), or 0. */
  lookupOnCpu(key: Uint8Array, cpu: number): number {
    const slot = this.find(key);
    return slot < 0 || cpu >= this.host.cpus ? 0 : this.arena.addr(slot, this.percpu ? cpu : 0);
  }

  protected userGet(key: Uint8Array): Uint8Array | number {
    const slot = this.find(key);
    return slot < 0 ? Errno.ENOENT : this.arena.readAll(slot);
  }

  protected put(key: Uint8Array, value: Uint8Array, flags: number, cpu: number): number {
    const k = keyString(key);
    const old = this.index.get(k) ?? -1;
    if (old >= 0 && (flags & 3) === 1) return Errno.EEXIST;
    if (old < 0 && (flags & 3) === 2) return Errno.ENOENT;
    if (old >= 0 && this.percpu) {
      this.arena.write(old, value, cpu);
      if (this.lru) this.touch(old);
      return 0;
    }
    const home = this.host.env.cpu;
    if (old < 0 && this.perCpuCount) {
      if (this.perCpuCount[home]! >= Math.floor(this.spec.maxEntries / this.host.cpus)) this.evict(home);
    } else if (old < 0 && this.index.size >= this.spec.maxEntries) {
      if (!this.lru) return Errno.E2BIG;
      this.evict(-1);
    }
    const slot = this.arena.allocSlot();
    if (slot < 0) return Errno.E2BIG;
    this.arena.write(slot, value, cpu);
    this.keys[slot] = key.slice();
    this.index.set(k, slot);
    if (old >= 0) {
      // Take the old element's place in the iteration order.
      this.replaceInOrder(old, slot);
      this.drop(old);
    } else {
      this.append(slot);
    }
    if (this.lru) this.lruAppend(slot);
    if (this.owner && this.perCpuCount) {
      this.owner[slot] = home;
      this.perCpuCount[home]!++;
    }
    return 0;
  }

  protected remove(key: Uint8Array): number {
    const k = keyString(key);
    const slot = this.index.get(k);
    if (slot === undefined) return Errno.ENOENT;
    this.index.delete(k);
    this.unlink(slot);
    this.drop(slot);
    return 0;
  }

  protected override takeKey(key: Uint8Array): Uint8Array | number {
    const slot = this.find(key);
    if (slot < 0) return Errno.ENOENT;
    const v = this.arena.readAll(slot);
    this.remove(key);
    return v;
  }

  protected next(key: Uint8Array | undefined): Uint8Array | number {
    let slot = key === undefined ? -1 : this.find(key);
    slot = slot < 0 ? this.head : this.next_[slot]!;
    return slot < 0 ? Errno.ENOENT : this.keys[slot]!.slice();
  }

  override forEach(fn: (key: Uint8Array, valueAddress: number) => boolean): number {
    let n = 0;
    const cpu = this.percpu ? this.host.env.cpu : 0;
    for (let slot = this.head; slot >= 0; ) {
      const following = this.next_[slot]!;
      n++;
      if (fn(this.keys[slot]!.slice(), this.arena.addr(slot, cpu))) break;
      slot = following;
    }
    return n;
  }

  override reclaim(): void {
    this.arena.reclaim();
  }

  protected override release(): void {
    this.arena.free();
  }

  private drop(slot: number): void {
    this.keys[slot] = undefined;
    if (this.lru) this.lruUnlink(slot);
    if (this.owner && this.perCpuCount) this.perCpuCount[this.owner[slot]!]!--;
    this.arena.drop(slot);
  }

  /** Evict the least recently used element (of CPU `cpu`'s list with BPF_F_NO_COMMON_LRU). */
  private evict(cpu: number): void {
    let victim = this.lruHead;
    if (cpu >= 0) while (victim >= 0 && this.owner![victim] !== cpu) victim = this.lruNext![victim]!;
    if (victim < 0) return;
    const k = keyString(this.keys[victim]!);
    this.index.delete(k);
    this.unlink(victim);
    this.drop(victim);
  }

  // ---- insertion order ----

  private append(slot: number): void {
    this.prev_[slot] = this.tail;
    this.next_[slot] = -1;
    if (this.tail >= 0) this.next_[this.tail] = slot;
    else this.head = slot;
    this.tail = slot;
  }

  private unlink(slot: number): void {
    const p = this.prev_[slot]!;
    const n = this.next_[slot]!;
    if (p >= 0) this.next_[p] = n;
    else this.head = n;
    if (n >= 0) this.prev_[n] = p;
    else this.tail = p;
    this.prev_[slot] = this.next_[slot] = -1;
  }

  private replaceInOrder(old: number, slot: number): void {
    const p = this.prev_[old]!;
    const n = this.next_[old]!;
    this.prev_[slot] = p;
    this.next_[slot] = n;
    if (p >= 0) this.next_[p] = slot;
    else this.head = slot;
    if (n >= 0) this.prev_[n] = slot;
    else this.tail = slot;
    this.prev_[old] = this.next_[old] = -1;
  }

  // ---- recency (LRU) ----

  private lruAppend(slot: number): void {
    const next = this.lruNext!;
    const prev = this.lruPrev!;
    prev[slot] = this.lruTail;
    next[slot] = -1;
    if (this.lruTail >= 0) next[this.lruTail] = slot;
    else this.lruHead = slot;
    this.lruTail = slot;
  }

  private lruUnlink(slot: number): void {
    const next = this.lruNext!;
    const prev = this.lruPrev!;
    const p = prev[slot]!;
    const n = next[slot]!;
    if (p >= 0) next[p] = n;
    else if (this.lruHead === slot) this.lruHead = n;
    if (n >= 0) prev[n] = p;
    else if (this.lruTail === slot) this.lruTail = p;
    prev[slot] = next[slot] = -1;
  }

  private touch(slot: number): void {
    if (this.lruTail === slot) return;
    this.lruUnlink(slot);
    this.lruAppend(slot);
  }
}

/** BPF_MAP_TYPE_HASH_OF_MAPS: values are inner map ids; a program's lookup gives the inner map. */
export class HashOfMaps extends HashMap {
  protected override get valuesVisible(): boolean {
    return false;
  }

  override progLookup(key: Uint8Array): number {
    const slot = this.find(key);
    if (slot < 0) return 0;
    const id = this.host.mem.dv.getUint32(this.arena.addr(slot), true);
    return this.host.mapById(id)?.handle ?? 0;
  }

  protected override put(key: Uint8Array, value: Uint8Array, flags: number, cpu: number): number {
    if (cpu >= 0) return Errno.EINVAL; // programs cannot update maps of maps
    return innerMapErrno(this.host, this.spec, readU32(value)) || super.put(key, value, flags, cpu);
  }
}
