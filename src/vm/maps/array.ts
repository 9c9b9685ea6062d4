/**
 * BPF_MAP_TYPE_ARRAY and BPF_MAP_TYPE_PERCPU_ARRAY: max_entries values
 * indexed by a u32 key, all present and zero-initialised, never deleted.
 * Global data sections (.data, .rodata, .bss) are one-entry arrays.
 */
import { Errno } from '../../ebpf/engine.js';
import type { MapSpec } from '../../ebpf/spec.js';
import { MapType } from '../../ebpf/types.js';
import { SlotArena } from './arena.js';
import { readU32, u32Key } from './keys.js';
import { VmMap, round8, type MapHost } from './map.js';

export class ArrayMap extends VmMap {
  readonly arena: SlotArena;
  private readonly percpu: boolean;

  constructor(host: MapHost, spec: MapSpec, id: number) {
    super(host, spec, id);
    this.percpu = spec.type === MapType.PERCPU_ARRAY;
    this.arena = new SlotArena(host, this, spec.name, spec.maxEntries, spec.valueSize, this.percpu ? host.cpus : 1, this.programWritable, true, this.programReadable);
  }

  override get valueSlotSize(): number {
    return this.percpu ? round8(this.spec.valueSize) * this.host.cpus : this.spec.valueSize;
  }


  /** Address of element `index` (the current CPU's copy for per-CPU arrays), or 0. */
  elementAddress(index: number, cpu = this.host.env.cpu): number {
    return index < this.spec.maxEntries ? this.arena.addr(index, this.percpu ? cpu : 0) : 0;
  }

  progLookup(key: Uint8Array): number {
    return this.elementAddress(readU32(key));
  }

  protected userGet(key: Uint8Array): Uint8Array | number {
    const i = readU32(key);
    return i < this.spec.maxEntries ? this.arena.readAll(i) : Errno.ENOENT;
  }

  protected put(key: Uint8Array, value: Uint8Array, flags: number, cpu: number): number {
    const i = readU32(key);
    if (i >= this.spec.maxEntries) return Errno.E2BIG;
    if (flags & 1) return Errno.EEXIST;
    this.arena.write(i, value, this.percpu ? cpu : -1);
    return 0;
  }

  protected remove(): number {
    return Errno.EINVAL;
  }

  protected next(key: Uint8Array | undefined): Uint8Array | number {
    const i = key === undefined ? -1 : readU32(key);
    const n = i >= this.spec.maxEntries || key === undefined ? 0 : i + 1;
    if (n >= this.spec.maxEntries) return Errno.ENOENT;
    return u32Key(n);
  }

  override forEach(fn: (key: Uint8Array, valueAddress: number) => boolean): number {
    let n = 0;
    for (let i = 0; i < this.spec.maxEntries; i++) {
      n++;
      if (fn(u32Key(i), this.elementAddress(i))) break;
    }
    return n;
  }

  protected override release(): void {
    this.arena.free();
  }
}
