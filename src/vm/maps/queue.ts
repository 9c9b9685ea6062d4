/**
 * BPF_MAP_TYPE_QUEUE (FIFO) and BPF_MAP_TYPE_STACK (LIFO): keyless maps of
 * max_entries values, used through push/pop/peek. As in the kernel: pushing
 * into a full map fails with E2BIG unless BPF_EXIST is given, which drops the
 * oldest value; BPF_NOEXIST is invalid; popping an empty map gives ENOENT.
 * User space: update pushes, lookup peeks, lookup-and-delete pops. Values
 * are never handed to programs by address, so they are kept as copies.
 */
import { Errno } from '../../ebpf/engine.js';
import type { MapSpec } from '../../ebpf/spec.js';
import { MapType } from '../../ebpf/types.js';
import { VmMap, type MapHost } from './map.js';

export class QueueStackMap extends VmMap {
  private readonly lifo: boolean;
  /** Oldest first. */
  private readonly items: Uint8Array[] = [];
  private start = 0;

  constructor(host: MapHost, spec: MapSpec, id: number) {
    super(host, spec, id);
    this.lifo = spec.type === MapType.STACK;
  }

  get size(): number {
    return this.items.length - this.start;
  }

  progLookup(): number {
    return 0;
  }

  override push(value: Uint8Array, flags: number): number {
    if (flags & 1 || flags >>> 0 > 2) return Errno.EINVAL;
    if (this.size >= this.spec.maxEntries) {
      if (!(flags & 2)) return Errno.E2BIG;
      this.start++;
    }
    this.items.push(value.slice(0, this.spec.valueSize));
    if (this.start > 1024 && this.start * 2 > this.items.length) {
      this.items.splice(0, this.start);
      this.start = 0;
    }
    return 0;
  }

  override pop(out: Uint8Array, remove: boolean): number {
    if (this.size === 0) return Errno.ENOENT;
    if (this.lifo) {
      out.set(this.items[this.items.length - 1]!);
      if (remove) this.items.pop();
    } else {
      out.set(this.items[this.start]!);
      if (remove) this.start++;
    }
    if (this.size === 0) {
      this.items.length = 0;
      this.start = 0;
    }
    return 0;
  }

  protected userGet(): Uint8Array | number {
    const out = new Uint8Array(this.spec.valueSize);
    const e = this.pop(out, false);
    return e || out;
  }

  protected put(_key: Uint8Array, value: Uint8Array, flags: number): number {
    return this.push(value, flags);
  }

  protected override checkFlags(flags: number): number {
    return flags >>> 0 > 2 ? Errno.EINVAL : 0;
  }

  protected remove(): number {
    return Errno.EINVAL;
  }

  protected next(): Uint8Array | number {
    return Errno.EINVAL;
  }
}
