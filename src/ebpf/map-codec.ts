/**
 * Typed keys and values for maps of either engine. A Codec turns a
 * JavaScript value into the bytes of a key or value and back (integers as
 * numbers or bigints, byte arrays, fixed strings, arrays, C structs with
 * their natural alignment); TypedMap wraps any MapHandle (the VM's or the
 * kernel's) in a Map-like interface: get/set/delete/has/keys/values/entries,
 * batches, per-CPU values, queue/stack and bloom filter operations.
 *
 * Byte order is little-endian (the targets bpfkit runs on) unless a codec
 * says otherwise (be16, be32: network order, as in packet headers).
 */
import { UsageError } from '../errors.js';
import { BpfErrnoError, Errno, UpdateFlags, type MapHandle } from './engine.js';
import { MapType } from './types.js';

/** Encodes values of type T in exactly `size` bytes. */
export interface Codec<T> {
  readonly size: number;
  /** Alignment inside a struct (as the C compiler lays it out). */
  readonly align: number;
  /** Write `value` at `offset` of `out`. */
  write(value: T, out: DataView, offset: number): void;
  read(view: DataView, offset: number): T;
}

export class CodecError extends UsageError {}

function scalar<T>(size: number, write: (dv: DataView, o: number, v: T) => void, read: (dv: DataView, o: number) => T): Codec<T> {
  return { size, align: size, write: (v, dv, o) => write(dv, o, v), read: (dv, o) => read(dv, o) };
}

function intRange(v: number, min: number, max: number, what: string): number {
  if (!Number.isInteger(v) || v < min || v > max) throw new CodecError(`${v} is not a ${what} (${min}..${max})`);
  return v;
}

function bigRange(v: bigint | number, signed: boolean): bigint {
  const b = typeof v === 'number' ? (Number.isInteger(v) ? BigInt(v) : NaN) : v;
  if (typeof b !== 'bigint') throw new CodecError(`${v} is not an integer`);
  const ok = signed ? b >= -(1n << 63n) && b < 1n << 63n : b >= 0n && b < 1n << 64n;
  if (!ok) throw new CodecError(`${b} does not fit in a ${signed ? 'signed' : 'unsigned'} 64-bit integer`);
  return b;
}

/** Integers, byte arrays, strings and the void codec of keyless maps. */
export const codec = {
  u8: scalar<number>(1, (dv, o, v) => dv.setUint8(o, intRange(v, 0, 0xff, 'u8')), (dv, o) => dv.getUint8(o)),
  i8: scalar<number>(1, (dv, o, v) => dv.setInt8(o, intRange(v, -0x80, 0x7f, 'i8')), (dv, o) => dv.getInt8(o)),
  u16: scalar<number>(2, (dv, o, v) => dv.setUint16(o, intRange(v, 0, 0xffff, 'u16'), true), (dv, o) => dv.getUint16(o, true)),
  i16: scalar<number>(2, (dv, o, v) => dv.setInt16(o, intRange(v, -0x8000, 0x7fff, 'i16'), true), (dv, o) => dv.getInt16(o, true)),
  u32: scalar<number>(4, (dv, o, v) => dv.setUint32(o, intRange(v, 0, 0xffffffff, 'u32'), true), (dv, o) => dv.getUint32(o, true)),
  i32: scalar<number>(4, (dv, o, v) => dv.setInt32(o, intRange(v, -0x80000000, 0x7fffffff, 'i32'), true), (dv, o) => dv.getInt32(o, true)),
  /** u64 as a bigint (numbers are accepted when writing). */
  u64: scalar<bigint>(8, (dv, o, v) => dv.setBigUint64(o, bigRange(v, false), true), (dv, o) => dv.getBigUint64(o, true)),
  i64: scalar<bigint>(8, (dv, o, v) => dv.setBigInt64(o, bigRange(v, true), true), (dv, o) => dv.getBigInt64(o, true)),
  /** u64 as a number; reading a value above 2^53 - 1 is an error rather than a silent rounding. */
  u64n: scalar<number>(
    8,
    (dv, o, v) => dv.setBigUint64(o, bigRange(intRange(v, 0, Number.MAX_SAFE_INTEGER, 'safe u64'), false), true),
    (dv, o) => {
      const v = dv.getBigUint64(o, true);
      if (v > BigInt(Number.MAX_SAFE_INTEGER)) throw new CodecError(`${v} is too large for a number: use codec.u64`);
      return Number(v);
    },
  ),
  /** Network byte order. */
  be16: scalar<number>(2, (dv, o, v) => dv.setUint16(o, intRange(v, 0, 0xffff, 'u16'), false), (dv, o) => dv.getUint16(o, false)),
  be32: scalar<number>(4, (dv, o, v) => dv.setUint32(o, intRange(v, 0, 0xffffffff, 'u32'), false), (dv, o) => dv.getUint32(o, false)),
  f32: scalar<number>(4, (dv, o, v) => dv.setFloat32(o, v, true), (dv, o) => dv.getFloat32(o, true)),
  f64: scalar<number>(8, (dv, o, v) => dv.setFloat64(o, v, true), (dv, o) => dv.getFloat64(o, true)),
  /** No bytes: the key of queues, stacks, bloom filters and ring buffers. */
  void: { size: 0, align: 1, write: () => undefined, read: () => undefined } as Codec<void>,

  /** Exactly n raw bytes. */
  bytes(n: number): Codec<Uint8Array> {
    return {
      size: n,
      align: 1,
      write(v, dv, o) {
        if (v.length !== n) throw new CodecError(`expected ${n} bytes, got ${v.length}`);
        new Uint8Array(dv.buffer, dv.byteOffset + o, n).set(v);
      },
      read: (dv, o) => new Uint8Array(dv.buffer, dv.byteOffset + o, n).slice(),
    };
  },

  /** A NUL-padded string in n bytes (UTF-8; at most n - 1 bytes of text, like a C char[n]). */
  string(n: number): Codec<string> {
    return {
      size: n,
      align: 1,
      write(v, dv, o) {
        const b = new TextEncoder().encode(v);
        if (b.length >= n) throw new CodecError(`'${v}' needs ${b.length + 1} bytes with its NUL, more than ${n}`);
        const out = new Uint8Array(dv.buffer, dv.byteOffset + o, n);
        out.fill(0);
        out.set(b);
      },
      read(dv, o) {
        const b = new Uint8Array(dv.buffer, dv.byteOffset + o, n);
        const end = b.indexOf(0);
        return new TextDecoder().decode(end < 0 ? b : b.subarray(0, end));
      },
    };
  },

  /** n elements of a codec, laid out as a C array. */
  array<T>(element: Codec<T>, n: number): Codec<T[]> {
    return {
      size: element.size * n,
      align: element.align,
      write(v, dv, o) {
        if (v.length !== n) throw new CodecError(`expected ${n} elements, got ${v.length}`);
        v.forEach((x, i) => element.write(x, dv, o + i * element.size));
      },
      read: (dv, o) => Array.from({ length: n }, (_, i) => element.read(dv, o + i * element.size)),
    };
  },

  /**
   * A C struct: fields in order, each at the next offset aligned to its
   * codec's alignment, the size padded to the largest alignment (as clang
   * lays out structs for BPF); `packed` puts fields back to back.
   */
  struct<F extends Record<string, Codec<unknown>>>(fields: F, options: { packed?: boolean } = {}): Codec<{ [K in keyof F]: F[K] extends Codec<infer T> ? T : never }> & { offsets: Record<keyof F, number> } {
    let off = 0;
    let align = 1;
    const offsets = {} as Record<keyof F, number>;
    for (const [name, c] of Object.entries(fields) as Array<[keyof F, Codec<unknown>]>) {
      const a = options.packed ? 1 : c.align;
      off = Math.ceil(off / a) * a;
      offsets[name] = off;
      off += c.size;
      align = Math.max(align, a);
    }
    const size = Math.ceil(off / align) * align;
    type V = { [K in keyof F]: F[K] extends Codec<infer T> ? T : never };
    return {
      size,
      align,
      offsets,
      write(v: V, dv: DataView, o: number) {
        new Uint8Array(dv.buffer, dv.byteOffset + o, size).fill(0);
        for (const [name, c] of Object.entries(fields) as Array<[keyof F, Codec<unknown>]>) {
          if (!(name in v)) throw new CodecError(`field '${String(name)}' is missing`);
          c.write(v[name], dv, o + offsets[name]);
        }
      },
      read(dv: DataView, o: number): V {
        const out = {} as V;
        for (const [name, c] of Object.entries(fields) as Array<[keyof F, Codec<unknown>]>) out[name] = c.read(dv, o + offsets[name]) as V[keyof F];
        return out;
      },
    };
  },
};

/** Bytes of a value. */
export function encode<T>(c: Codec<T>, value: T): Uint8Array {
  const out = new Uint8Array(c.size);
  c.write(value, new DataView(out.buffer), 0);
  return out;
}

/** A value from its bytes (at least c.size of them, from offset). */
export function decode<T>(c: Codec<T>, bytes: Uint8Array, offset = 0): T {
  if (bytes.length - offset < c.size) throw new CodecError(`expected ${c.size} bytes, got ${bytes.length - offset}`);
  return c.read(new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength), offset);
}

const round8 = (n: number): number => Math.ceil(n / 8) * 8;
const PER_CPU = new Set<number>([MapType.PERCPU_ARRAY, MapType.PERCPU_HASH, MapType.LRU_PERCPU_HASH]);

function absent(e: unknown): boolean {
  return e instanceof BpfErrnoError && e.errno === Errno.ENOENT;
}

/**
 * A map of either engine with typed keys and values. For per-CPU maps use
 * `getPerCpu` / `setPerCpu` (one value per possible CPU); `get` and `set`
 * refuse them.
 */
export class TypedMap<K, V> implements Iterable<[K, V]> {
  constructor(
    readonly handle: MapHandle,
    readonly key: Codec<K>,
    readonly value: Codec<V>,
  ) {
    const s = handle.spec;
    if (key.size !== s.keySize) throw new CodecError(`map '${s.name}' has ${s.keySize}-byte keys, the key codec makes ${key.size}`);
    const vs = s.type === MapType.RINGBUF ? 0 : s.valueSize;
    if (value.size !== vs) throw new CodecError(`map '${s.name}' has ${vs}-byte values, the value codec makes ${value.size}`);
  }

  get perCpu(): boolean {
    return PER_CPU.has(this.handle.spec.type);
  }

  /** Number of per-CPU slots of a value (1 for other maps). */
  get cpus(): number {
    if (!this.perCpu) return 1;
    const slot = this.handle.valueSlotSize;
    if (slot === undefined) throw new CodecError(`map '${this.handle.spec.name}' does not say how many CPUs it has`);
    return slot / round8(this.handle.spec.valueSize);
  }

  private k(key: K): Uint8Array {
    return encode(this.key, key);
  }

  private scalarOnly(op: string): void {
    if (this.perCpu) throw new CodecError(`map '${this.handle.spec.name}' is per-CPU: use ${op}PerCpu`);
  }

  /** The value at `key`, or undefined. */
  get(key: K): V | undefined {
    this.scalarOnly('get');
    const v = this.handle.lookup(this.k(key));
    return v === undefined ? undefined : decode(this.value, v);
  }

  /** Store a value (flags: UpdateFlags.ANY, NOEXIST, EXIST); errors are BpfErrnoError. */
  set(key: K, value: V, flags: number = UpdateFlags.ANY): this {
    this.scalarOnly('set');
    this.handle.update(this.k(key), encode(this.value, value), flags);
    return this;
  }

  /** Remove `key`; false when it was not there. */
  delete(key: K): boolean {
    try {
      this.handle.delete(this.k(key));
      return true;
    } catch (e) {
      if (absent(e)) return false;
      throw e;
    }
  }

  has(key: K): boolean {
    return this.handle.lookup(this.k(key)) !== undefined;
  }

  /** One value per possible CPU. */
  getPerCpu(key: K): V[] | undefined {
    const v = this.handle.lookup(this.k(key));
    if (v === undefined) return undefined;
    const stride = round8(this.value.size);
    return Array.from({ length: v.length / stride }, (_, c) => decode(this.value, v, c * stride));
  }

  /** Store one value per possible CPU (exactly `cpus` of them). */
  setPerCpu(key: K, values: readonly V[], flags: number = UpdateFlags.ANY): this {
    const n = this.cpus;
    if (values.length !== n) throw new CodecError(`map '${this.handle.spec.name}' needs ${n} per-CPU values, got ${values.length}`);
    const stride = round8(this.value.size);
    const out = new Uint8Array(stride * n);
    const dv = new DataView(out.buffer);
    values.forEach((v, c) => this.value.write(v, dv, c * stride));
    this.handle.update(this.k(key), out, flags);
    return this;
  }

  *keys(): IterableIterator<K> {
    for (let k = this.handle.nextKey(); k !== undefined; k = this.handle.nextKey(k)) yield decode(this.key, k);
  }

  *values(): IterableIterator<V> {
    for (const [, v] of this.entries()) yield v;
  }

  /** [key, value] pairs; read with one BPF_MAP_LOOKUP_BATCH when the engine has it. */
  *entries(): IterableIterator<[K, V]> {
    this.scalarOnly('entries');
    if (this.handle.lookupBatch && this.handle.spec.type !== MapType.LPM_TRIE) {
      let rows: [Uint8Array, Uint8Array][] | undefined;
      try {
        rows = this.handle.lookupBatch();
      } catch (e) {
        if (!(e instanceof BpfErrnoError)) throw e;
      }
      if (rows) {
        for (const [k, v] of rows) yield [decode(this.key, k), decode(this.value, v)];
        return;
      }
    }
    for (let k = this.handle.nextKey(); k !== undefined; k = this.handle.nextKey(k)) {
      const v = this.handle.lookup(k);
      if (v !== undefined) yield [decode(this.key, k), decode(this.value, v)];
    }
  }

  [Symbol.iterator](): IterableIterator<[K, V]> {
    return this.entries();
  }

  /** Number of keys (by iterating). */
  get size(): number {
    let n = 0;
    for (let k = this.handle.nextKey(); k !== undefined; k = this.handle.nextKey(k)) n++;
    return n;
  }

  /** Store many entries (one BPF_MAP_UPDATE_BATCH when the engine has it); returns how many were written. */
  setMany(entries: Iterable<[K, V]>, flags: number = UpdateFlags.ANY): number {
    this.scalarOnly('set');
    const keys: Uint8Array[] = [];
    const values: Uint8Array[] = [];
    for (const [k, v] of entries) {
      keys.push(this.k(k));
      values.push(encode(this.value, v));
    }
    if (this.handle.updateBatch) return this.handle.updateBatch(keys, values, flags);
    keys.forEach((k, i) => this.handle.update(k, values[i]!, flags));
    return keys.length;
  }

  /** Delete many keys (one BPF_MAP_DELETE_BATCH when the engine has it); returns how many were deleted. */
  deleteMany(keys: Iterable<K>): number {
    const list = [...keys].map((k) => this.k(k));
    if (this.handle.deleteBatch) return this.handle.deleteBatch(list);
    for (const k of list) this.handle.delete(k);
    return list.length;
  }

  /** Delete every key. */
  clear(): void {
    for (const k of [...this.keys()]) this.delete(k);
  }

  // ---- queues, stacks, bloom filters ----

  /** Queue/stack push (flags: UpdateFlags.EXIST replaces the oldest when full); bloom filter add. */
  push(value: V, flags: number = UpdateFlags.ANY): this {
    this.handle.update(new Uint8Array(0), encode(this.value, value), flags);
    return this;
  }

  /** Queue/stack pop: the next value, removed; undefined when empty. */
  pop(): V | undefined {
    const v = this.handle.lookupAndDelete();
    return v === undefined ? undefined : decode(this.value, v);
  }

  /** Queue/stack peek: the next value, left in place. */
  peek(): V | undefined {
    const v = this.handle.lookup(new Uint8Array(0));
    return v === undefined ? undefined : decode(this.value, v);
  }

  /** Bloom filter: false when `value` is surely not in the set. */
  contains(value: V): boolean {
    if (!this.handle.contains) throw new CodecError(`map '${this.handle.spec.name}' has no membership test`);
    return this.handle.contains(encode(this.value, value));
  }
}

/** Wrap a map handle with typed keys and values. */
export function typedMap<K, V>(handle: MapHandle, key: Codec<K>, value: Codec<V>): TypedMap<K, V> {
  return new TypedMap(handle, key, value);
}
