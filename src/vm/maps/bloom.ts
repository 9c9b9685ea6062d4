/**
 * BPF_MAP_TYPE_BLOOM_FILTER: a keyless set with false positives. Push adds a
 * value; peek answers 0 ("maybe present") or ENOENT ("certainly absent").
 * Sized and hashed as the kernel does (bit count from max_entries and the
 * number of hash functions in map_extra, jhash/jhash2 seeded with seed + i),
 * so with BPF_F_ZERO_SEED the answers equal the kernel's.
 */
import { errnoError } from '../errors.js';
import { Errno } from '../../ebpf/engine.js';
import type { MapSpec } from '../../ebpf/spec.js';
import { jhash, jhash2 } from './jhash.js';
import { MapFlags, VmMap, type MapHost } from './map.js';

export class BloomFilterMap extends VmMap {
  private readonly bits: Uint8Array;
  private readonly mask: number;
  private readonly hashes: number;
  private readonly seed: number;

  constructor(host: MapHost, spec: MapSpec, id: number) {
    super(host, spec, id);
    this.hashes = Number((spec.mapExtra ?? 0n) & 0xfn) || 5;
    let nbits = spec.maxEntries * this.hashes;
    nbits = Math.floor(nbits / 5) * 7;
    if (spec.maxEntries * this.hashes > 0xffffffff || nbits > 2 ** 31) {
      this.mask = 0xffffffff;
    } else {
      nbits = nbits <= 64 ? 64 : 2 ** Math.ceil(Math.log2(nbits));
      this.mask = nbits - 1;
    }
    this.bits = new Uint8Array(Math.ceil((this.mask + 1) / 8));
    this.seed = spec.flags & MapFlags.ZERO_SEED ? 0 : host.env.random();
  }

  private hash(value: Uint8Array, i: number): number {
    const seed = (this.seed + i) | 0;
    const h = value.length % 4 === 0 ? jhash2(value, seed) : jhash(value, seed);
    return (h & this.mask) >>> 0;
  }

  progLookup(): number {
    return 0;
  }

  override push(value: Uint8Array, flags: number): number {
    if (flags !== 0) return Errno.EINVAL;
    for (let i = 0; i < this.hashes; i++) {
      const h = this.hash(value, i);
      this.bits[h >>> 3]! |= 1 << (h & 7);
    }
    return 0;
  }

  /** Peek: 0 when `value` may be in the set, ENOENT when it is not. */
  test(value: Uint8Array): number {
    for (let i = 0; i < this.hashes; i++) {
      const h = this.hash(value, i);
      if (!(this.bits[h >>> 3]! & (1 << (h & 7)))) return Errno.ENOENT;
    }
    return 0;
  }

  /** User-space membership test (BPF_MAP_LOOKUP_ELEM with the value as input). */
  contains(value: Uint8Array): boolean {
    if (value.length !== this.spec.valueSize) {
      throw errnoError('map lookup', Errno.EINVAL, `value of bloom filter '${this.name}' must be ${this.spec.valueSize} bytes, got ${value.length}`);
    }
    return this.test(value) === 0;
  }

  /** As the kernel engine does: the value to test is passed as the key; it comes back when it may be in the set. */
  override lookup(key: Uint8Array): Uint8Array | undefined {
    return this.contains(key) ? key.slice() : undefined;
  }

  override pop(out: Uint8Array, remove: boolean): number {
    return remove ? Errno.EOPNOTSUPP : this.test(out);
  }

  protected userGet(): Uint8Array | number {
    return Errno.EINVAL;
  }

  protected put(_key: Uint8Array, value: Uint8Array, flags: number): number {
    return this.push(value, flags);
  }

  protected remove(): number {
    return Errno.EOPNOTSUPP;
  }

  protected next(): Uint8Array | number {
    return Errno.EOPNOTSUPP;
  }
}
