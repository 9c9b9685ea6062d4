/**
 * Helpers by the kernel's ids (src/ebpf/helper-ids.ts), and the registry
 * embedders extend with their own: `vm.helpers.define(id, fn)`.
 *
 * A helper is a function of a HelperCall, which reads the arguments r1..r5,
 * checks pointer arguments against the region table, and reaches the run's
 * state (the VM, the program, the context, maps). It returns r0: a number
 * (an integer; negative values are sign-extended, e.g. -EINVAL), a bigint
 * (taken modulo 2^64), or nothing for 0.
 */
import { helperName } from '../../ebpf/helper-ids.js';
import { VmHelperError, VmMemoryError, type InsnSite } from '../errors.js';
import { site, type Frame } from '../interpreter.js';
import type { VmMap } from '../maps/map.js';
import type { ProgKind } from '../kinds.js';
import type { Run } from '../run.js';

export type HelperFn = (call: HelperCall) => number | bigint | void;

export interface HelperDef {
  readonly id: number;
  readonly name: string;
  readonly fn: HelperFn;
  /** Program kinds that may call it; all when absent. */
  readonly kinds?: readonly ProgKind[];
}

export class HelperRegistry {
  private readonly byId: Array<HelperDef | undefined> = [];

  /** Define (or replace) helper `id`. The name defaults to the kernel's. */
  define(id: number, fn: HelperFn, options: { name?: string; kinds?: readonly ProgKind[] } = {}): this {
    if (!Number.isInteger(id) || id < 0 || id > 0xffff) throw new RangeError(`helper id ${id} is out of range`);
    const name = options.name ?? helperName(id) ?? `helper_${id}`;
    this.byId[id] = options.kinds ? { id, name, fn, kinds: options.kinds } : { id, name, fn };
    return this;
  }

  get(id: number): HelperDef | undefined {
    return id >= 0 ? this.byId[id] : undefined;
  }

  /** Whether a program of `kind` may call helper `id`. */
  allows(id: number, kind: ProgKind): boolean {
    const d = this.get(id);
    return d !== undefined && (d.kinds === undefined || d.kinds.includes(kind));
  }

  ids(): number[] {
    return this.byId.flatMap((d, i) => (d ? [i] : []));
  }

  clone(): HelperRegistry {
    const r = new HelperRegistry();
    this.byId.forEach((d, i) => {
      if (d) r.byId[i] = d;
    });
    return r;
  }
}

/** One call of a helper: its arguments and the run it happens in. Reused between calls; do not keep it. */
export class HelperCall {
  frame!: Frame;
  def!: HelperDef;

  constructor(readonly run: Run) {}

  get vm(): Run['vm'] {
    return this.run.vm;
  }

  get site(): InsnSite {
    return site(this.frame.prog, this.frame.pc);
  }

  /** Register i as an unsigned 64-bit bigint. */
  u64(i: number): bigint {
    return (BigInt(this.frame.H[i]! >>> 0) << 32n) | BigInt(this.frame.L[i]! >>> 0);
  }

  /** Register i as a signed 64-bit bigint. */
  i64(i: number): bigint {
    return BigInt.asIntN(64, this.u64(i));
  }

  /** Low 32 bits of register i, unsigned. */
  u32(i: number): number {
    return this.frame.L[i]! >>> 0;
  }

  /** Low 32 bits of register i, signed. */
  i32(i: number): number {
    return this.frame.L[i]! | 0;
  }

  /** High 32 bits of register i, unsigned. */
  hi(i: number): number {
    return this.frame.H[i]! >>> 0;
  }

  /** Register i as a non-negative number; values of 2^53 and above come out as Infinity. */
  num(i: number): number {
    const h = this.frame.H[i]! >>> 0;
    return h >= 0x200000 ? Infinity : h * 4294967296 + (this.frame.L[i]! >>> 0);
  }

  /** Fail the call: the program made a request the kernel's verifier would have refused. */
  fail(message: string): never {
    throw new VmHelperError(this.site, this.def.name, message);
  }

  /**
   * Register i as a pointer to `size` bytes the helper will read (or write);
   * the address, after checking the region table. size 0 accepts anything.
   */
  ptr(i: number, size: number, write = false): number {
    if (size === 0) return this.frame.L[i]! >>> 0;
    const hi = this.frame.H[i]!;
    const lo = this.frame.L[i]! >>> 0;
    const table = this.run.mem.regions;
    if (hi === 0 && table.bounds(lo, size, write, this.run.grants)) return lo;
    const why = hi === 0 ? table.why : 'outside the VM memory';
    throw new VmMemoryError(
      this.site,
      write ? 'write' : 'read',
      this.u64(i),
      size,
      hi === 0 ? table.whyRegion : undefined,
      `${this.def.name} argument r${i}: ${why}`,
    );
  }

  /** A live view of `size` bytes the helper reads through pointer argument i. */
  bytes(i: number, size: number): Uint8Array {
    const a = this.ptr(i, size, false);
    return this.run.mem.u8.subarray(a, a + size);
  }

  /** A live view of `size` bytes the helper writes through pointer argument i. */
  out(i: number, size: number): Uint8Array {
    const a = this.ptr(i, size, true);
    return this.run.mem.u8.subarray(a, a + size);
  }

  /** Register i as a map handle (of a map the run was granted). */
  map(i: number): VmMap {
    const m = this.frame.H[i] === 0 ? this.vm.mapByHandle(this.frame.L[i]! >>> 0) : undefined;
    if (!m) this.fail(`argument r${i} (0x${this.u64(i).toString(16)}) is not a map`);
    if (!this.run.grants.has(m)) this.fail(`argument r${i} is map '${m.name}', which the program does not use`);
    return m;
  }

  /** Whether `size` bytes at `address` may be read (or written) by this run; undefined or the reason. */
  check(address: number, size: number, write = false): string | undefined {
    return this.run.mem.regions.check(address, size, write, this.run.grants);
  }

  /** Read a NUL-terminated string of at most `max` bytes at pointer argument i (the bytes must be readable). */
  cstring(i: number, max: number): string {
    const view = this.bytes(i, max);
    const end = view.indexOf(0);
    if (end < 0) this.fail(`argument r${i}: string is not NUL-terminated within ${max} bytes`);
    return new TextDecoder().decode(view.subarray(0, end));
  }
}
