/**
 * The region table: what lives where in the VM's linear memory, and who may
 * touch it. Every load and store of an unverified program is checked against
 * it (the interpreter caches the last bounds each instruction hit, so the
 * table is consulted on a miss only). Addresses are byte offsets into the
 * linear memory; the low 64 KiB are never mapped, so a null pointer and the
 * small integers a program may confuse with pointers always fault.
 */

export type RegionKind =
  /** The 512-byte frames of the program's stack. */
  | 'stack'
  /** The program's context (struct __sk_buff, struct xdp_md, pt_regs, ...). */
  | 'ctx'
  /** Packet data of a socket filter, tc or XDP run. */
  | 'packet'
  /** Raw memory handed to a raw program (the bpf_conformance convention). */
  | 'mem'
  /** Values of a map (one region per map, made of one slot per element). */
  | 'map'
  /** A ring buffer record reserved by the program. */
  | 'ringbuf';

/**
 * A region made of fixed-size slots (the elements of a map): only the first
 * `size` bytes of a live slot may be accessed.
 */
export interface SlotLayout {
  readonly stride: number;
  readonly size: number;
  /** True when slot `index` holds an element a program may touch. */
  live(index: number): boolean;
}

export interface Region {
  start: number;
  end: number;
  readonly kind: RegionKind;
  /** For messages: 'stack', 'packet', "map 'counts'". */
  readonly name: string;
  readonly writable: boolean;
  /** False for memory programs may write but not read (maps with BPF_F_WRONLY_PROG). */
  readonly readable?: boolean;
  readonly slots?: SlotLayout;
  /**
   * The object the region belongs to (a map), when a program may touch it
   * only if it was granted that object (it names the map, or got it from a
   * map of maps). Regions without an owner belong to the run (stack,
   * context, packet, memory, ring buffer records).
   */
  readonly owner?: object;
}

/** Something at an address that is not memory (map handles, function addresses), for messages. */
export type AddressDescriber = (address: number) => string | undefined;

export class RegionTable {
  private readonly list: Region[] = [];
  /**
   * Bumped whenever a region shrinks, moves or goes away; caches of bounds
   * made before are then stale.
   */
  epoch = 0;
  /** Bounds found by the last successful `bounds` call. */
  lo = 0;
  hi = 0;
  /** Why the last `bounds` call failed, and the region involved. */
  why = '';
  whyRegion: string | undefined = undefined;
  private readonly describers: AddressDescriber[] = [];

  get regions(): readonly Region[] {
    return this.list;
  }

  add(region: Region): Region {
    if (!(region.end > region.start)) throw new RangeError(`empty region ${region.name}`);
    const i = this.insertionPoint(region.start);
    const prev = this.list[i - 1];
    const next = this.list[i];
    if ((prev && prev.end > region.start) || (next && next.start < region.end)) {
      throw new RangeError(`region ${region.name} overlaps ${prev && prev.end > region.start ? prev.name : next!.name}`);
    }
    this.list.splice(i, 0, region);
    return region;
  }

  remove(region: Region): void {
    const i = this.list.indexOf(region);
    if (i >= 0) {
      this.list.splice(i, 1);
      this.epoch++;
    }
  }

  /** Move a region's bounds (inside the memory it was given); e.g. after bpf_xdp_adjust_head. */
  resize(region: Region, start: number, end: number): void {
    region.start = start;
    region.end = end;
    this.epoch++;
  }

  addDescriber(d: AddressDescriber): void {
    this.describers.push(d);
  }

  /** The region containing `address`, if any. */
  find(address: number): Region | undefined {
    const i = this.insertionPoint(address + 1) - 1;
    const r = this.list[i];
    return r && address < r.end ? r : undefined;
  }

  /**
   * May `size` bytes at `address` be read (or written) by a run holding
   * `grants`? On success sets `lo`/`hi` to the bounds of the memory the
   * access fell in, which the caller may cache until `epoch` changes. On
   * failure sets `why` and `whyRegion`.
   */
  bounds(address: number, size: number, write: boolean, grants?: ReadonlySet<object>): boolean {
    const r = Number.isSafeInteger(address) && address >= 0 ? this.find(address) : undefined;
    if (!r) {
      this.whyRegion = undefined;
      this.why = this.describeOutside(address);
      return false;
    }
    this.whyRegion = r.name;
    let lo = r.start;
    let hi = r.end;
    if (r.slots) {
      const index = Math.floor((address - r.start) / r.slots.stride);
      lo = r.start + index * r.slots.stride;
      hi = lo + r.slots.size;
      if (!r.slots.live(index)) {
        this.why = `element ${index} of ${r.name} is not in use`;
        return false;
      }
      if (address >= hi) {
        this.why = `between elements of ${r.name} (value size ${r.slots.size})`;
        return false;
      }
    }
    if (address + size > hi) {
      this.why = `runs past the end of ${r.name} (0x${lo.toString(16)}..0x${hi.toString(16)})`;
      return false;
    }
    if (write && !r.writable) {
      this.why = `${r.name} is read-only`;
      return false;
    }
    if (!write && r.readable === false) {
      this.why = `${r.name} is write-only`;
      return false;
    }
    if (r.owner && grants && !grants.has(r.owner)) {
      this.why = `${r.name} is not a map this program uses`;
      return false;
    }
    this.lo = lo;
    this.hi = hi;
    return true;
  }

  /** Check an access made by a helper (not cached); returns undefined or the reason. */
  check(address: number, size: number, write: boolean, grants?: ReadonlySet<object>): string | undefined {
    if (size === 0) return undefined;
    return this.bounds(address, size, write, grants) ? undefined : this.why;
  }

  private describeOutside(address: number): string {
    if (Number.isSafeInteger(address) && address >= 0) {
      for (const d of this.describers) {
        const s = d(address);
        if (s) return s;
      }
    }
    if (address === 0) return 'null pointer';
    // Name the nearest region below, which is usually the one overrun.
    const below = Number.isFinite(address) ? this.list[this.insertionPoint(address + 1) - 1] : undefined;
    if (below && address - below.end < 4096) {
      return `outside every region (${address - below.end} bytes past the end of ${below.name})`;
    }
    return 'outside every region';
  }

  /** Index of the first region whose start is >= address. */
  private insertionPoint(address: number): number {
    let lo = 0;
    let hi = this.list.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (this.list[mid]!.start < address) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  }
}
