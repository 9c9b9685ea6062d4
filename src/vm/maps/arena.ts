/**
 * Fixed-size value slots of a map in VM memory, one block per CPU copy
 * (per-CPU maps) or a single block. Each block is one region of the region
 * table whose slot layout lets only the value bytes of live slots be touched.
 */
import { Errno } from '../../ebpf/engine.js';
import type { Region } from '../regions.js';
import { errnoError, VmUsageError } from '../errors.js';
import type { MapHost } from './map.js';
import { round8 } from './map.js';

export const SLOT_FREE = 0;
export const SLOT_LIVE = 1;
/** Deleted during a run: still addressable until the run ends, then free. */
export const SLOT_ZOMBIE = 2;

export class SlotArena {
  readonly stride: number;
  readonly valueSize: number;
  readonly count: number;
  /** Base address of each copy (one per CPU for per-CPU maps). */
  readonly bases: number[] = [];
  readonly state: Uint8Array;
  private readonly regions: Region[] = [];
  private readonly freeSlots: number[] = [];
  private readonly zombies: number[] = [];
  /** Called when the first element is deleted during a run (the owner then asks to be reclaimed). */
  onZombie: () => void = () => undefined;

  constructor(
    private readonly host: MapHost,
    /** The map the slots belong to: only runs granted it may touch them. */
    owner: object,
    name: string,
    count: number,
    valueSize: number,
    copies: number,
    writable: boolean,
    allLive: boolean,
    readable = true,
  ) {
    this.valueSize = valueSize;
    this.stride = round8(valueSize);
    this.count = count;
    this.state = new Uint8Array(count);
    if (allLive) this.state.fill(SLOT_LIVE);
    else for (let i = count - 1; i >= 0; i--) this.freeSlots.push(i);
    const bytes = this.stride * count;
    const state = this.state;
    const layout = { stride: this.stride, size: valueSize, live: (i: number) => state[i] !== SLOT_FREE };
    try {
      for (let c = 0; c < copies; c++) {
        const base = host.mem.alloc(bytes);
        this.bases.push(base);
        this.regions.push(
          host.mem.regions.add({
            start: base,
            end: base + bytes,
            kind: 'map',
            name: copies > 1 ? `map '${name}' (cpu ${c})` : `map '${name}'`,
            writable,
            readable,
            slots: layout,
            owner,
          }),
        );
      }
    } catch (e) {
      this.free();
      if (e instanceof VmUsageError) throw errnoError('map create', Errno.ENOMEM, `map '${name}': ${e.message}`);
      throw e;
    }
  }

  /** Address of slot `slot` in copy `cpu`. */
  addr(slot: number, cpu = 0): number {
    return this.bases[cpu]! + slot * this.stride;
  }

  /** User-space view of a slot: all copies, each padded to 8 bytes. */
  readAll(slot: number): Uint8Array {
    const u8 = this.host.mem.u8;
    if (this.bases.length === 1) return u8.slice(this.addr(slot), this.addr(slot) + this.valueSize);
    const out = new Uint8Array(this.stride * this.bases.length);
    for (let c = 0; c < this.bases.length; c++) out.set(u8.subarray(this.addr(slot, c), this.addr(slot, c) + this.stride), c * this.stride);
    return out;
  }

  /** Store a value from user space (all copies, as laid out by readAll) or a program (cpu >= 0: that CPU's copy). */
  write(slot: number, value: Uint8Array, cpu: number): void {
    const u8 = this.host.mem.u8;
    if (cpu >= 0 || this.bases.length === 1) {
      u8.set(value.subarray(0, this.valueSize), this.addr(slot, Math.max(cpu, 0)));
      return;
    }
    for (let c = 0; c < this.bases.length; c++) {
      u8.set(value.subarray(c * this.stride, c * this.stride + this.valueSize), this.addr(slot, c));
    }
  }

  /** Zero a slot in every copy. */
  clear(slot: number): void {
    for (let c = 0; c < this.bases.length; c++) this.host.mem.u8.fill(0, this.addr(slot, c), this.addr(slot, c) + this.stride);
  }

  /** Take a free slot (or one freed earlier in this run, as the kernel reuses freed elements); -1 when none. */
  allocSlot(): number {
    let slot = this.freeSlots.pop();
    if (slot === undefined) {
      while ((slot = this.zombies.shift()) !== undefined && this.state[slot] !== SLOT_ZOMBIE);
      if (slot === undefined) return -1;
    }
    this.state[slot] = SLOT_LIVE;
    this.clear(slot);
    return slot;
  }

  /** A slot's element is gone: free now, or when the current run ends (programs may still hold its address). */
  drop(slot: number): void {
    if (this.host.running) {
      this.state[slot] = SLOT_ZOMBIE;
      if (this.zombies.length === 0) this.onZombie();
      this.zombies.push(slot);
    } else {
      this.state[slot] = SLOT_FREE;
      this.freeSlots.push(slot);
      this.invalidate();
    }
  }

  /** The run ended: free the slots dropped during it. */
  reclaim(): void {
    for (const slot of this.zombies) {
      if (this.state[slot] === SLOT_ZOMBIE) {
        this.state[slot] = SLOT_FREE;
        this.freeSlots.push(slot);
      }
    }
    this.zombies.length = 0;
    this.invalidate();
  }

  /** A slot stopped being addressable: cached bounds in programs must be dropped. */
  invalidate(): void {
    this.host.mem.regions.epoch++;
  }

  free(): void {
    for (const r of this.regions) this.host.mem.regions.remove(r);
    for (const b of this.bases) this.host.mem.release(b);
    this.regions.length = 0;
    this.bases.length = 0;
  }
}
