/**
 * BPF_MAP_TYPE_LPM_TRIE: longest-prefix match. A key is
 * `struct { u32 prefixlen; u8 data[key_size - 4]; }` (data in network order).
 *
 * Kernel semantics kept: creation needs BPF_F_NO_PREALLOC; an update with a
 * prefix longer than the data → EINVAL; a new prefix in a full trie → ENOSPC;
 * BPF_NOEXIST / BPF_EXIST as for hash maps; lookup returns the value of the
 * longest stored prefix (no longer than the key's prefixlen) that matches the
 * key's data; delete and get_next_key need the exact prefix. get_next_key
 * walks prefixes in the kernel's order, a post-order walk of the binary
 * trie: for two prefixes, the first bit where they differ decides (0 first);
 * if one extends the other, the longer comes first.
 */
import { Errno } from '../../ebpf/engine.js';
import type { MapSpec } from '../../ebpf/spec.js';
import { SlotArena } from './arena.js';
import { keyString } from './keys.js';
import { VmMap, type MapHost } from './map.js';

interface Entry {
  prefixlen: number;
  /** The key as given at update (data bits past the prefix included, as the kernel returns them). */
  key: Uint8Array;
  slot: number;
}

export class LpmTrieMap extends VmMap {
  readonly arena: SlotArena;
  private readonly dataBits: number;
  private readonly entries = new Map<string, Entry>();
  /** Prefix lengths in use, longest first, with their entry counts. */
  private readonly lengths = new Map<number, number>();
  private sortedLengths: number[] = [];
  private order: Entry[] | undefined;

  constructor(host: MapHost, spec: MapSpec, id: number) {
    super(host, spec, id);
    this.dataBits = (spec.keySize - 4) * 8;
    this.arena = new SlotArena(host, this, spec.name, spec.maxEntries + 1, spec.valueSize, 1, this.programWritable, false, this.programReadable);
    this.arena.onZombie = () => host.deferReclaim(this);
  }

  get size(): number {
    return this.entries.size;
  }

  private prefixlen(key: Uint8Array): number {
    return (key[0]! | (key[1]! << 8) | (key[2]! << 16) | (key[3]! << 24)) >>> 0;
  }

  /** Identity of a prefix: its length and its data masked to that length. */
  private prefixId(data: Uint8Array, len: number): string {
    const bytes = Math.ceil(len / 8);
    const masked = data.slice(0, bytes);
    if (len % 8) masked[bytes - 1]! &= 0xff << (8 - (len % 8));
    return String.fromCharCode(len & 0xff, len >> 8) + keyString(masked);
  }

  private match(key: Uint8Array): Entry | undefined {
    const data = key.subarray(4);
    const max = this.prefixlen(key);
    if (max > this.dataBits) return undefined;
    for (const len of this.sortedLengths) {
      if (len > max) continue;
      const e = this.entries.get(this.prefixId(data, len));
      if (e) return e;
    }
    return undefined;
  }

  progLookup(key: Uint8Array): number {
    const e = this.match(key);
    return e ? this.arena.addr(e.slot) : 0;
  }

  protected userGet(key: Uint8Array): Uint8Array | number {
    const e = this.match(key);
    return e ? this.arena.readAll(e.slot) : Errno.ENOENT;
  }

  protected put(key: Uint8Array, value: Uint8Array, flags: number): number {
    const len = this.prefixlen(key);
    if (len > this.dataBits) return Errno.EINVAL;
    const id = this.prefixId(key.subarray(4), len);
    const old = this.entries.get(id);
    if (old && (flags & 3) === 1) return Errno.EEXIST;
    if (!old && (flags & 3) === 2) return Errno.ENOENT;
    if (!old && this.entries.size >= this.spec.maxEntries) return Errno.ENOSPC;
    const slot = this.arena.allocSlot();
    this.arena.write(slot, value, -1);
    this.entries.set(id, { prefixlen: len, key: key.slice(), slot });
    if (old) this.arena.drop(old.slot);
    else this.countLength(len, 1);
    this.order = undefined;
    return 0;
  }

  protected remove(key: Uint8Array): number {
    const len = this.prefixlen(key);
    if (len > this.dataBits) return Errno.EINVAL;
    const id = this.prefixId(key.subarray(4), len);
    const e = this.entries.get(id);
    if (!e) return Errno.ENOENT;
    this.entries.delete(id);
    this.countLength(len, -1);
    this.arena.drop(e.slot);
    this.order = undefined;
    return 0;
  }

  protected next(key: Uint8Array | undefined): Uint8Array | number {
    const order = (this.order ??= [...this.entries.values()].sort((x, y) => this.compare(x, y)));
    if (order.length === 0) return Errno.ENOENT;
    let i = 0;
    if (key !== undefined) {
      const len = this.prefixlen(key);
      const e = len <= this.dataBits ? this.entries.get(this.prefixId(key.subarray(4), len)) : undefined;
      if (e) i = order.indexOf(e) + 1;
    }
    return i < order.length ? order[i]!.key.slice() : Errno.ENOENT;
  }

  override forEach(fn: (key: Uint8Array, valueAddress: number) => boolean): number {
    let n = 0;
    for (const e of [...this.entries.values()]) {
      n++;
      if (fn(e.key.slice(), this.arena.addr(e.slot))) break;
    }
    return n;
  }

  /** Post-order of the binary trie: first differing bit (0 first); a longer prefix before its own prefix. */
  private compare(x: Entry, y: Entry): number {
    const n = Math.min(x.prefixlen, y.prefixlen);
    for (let bit = 0; bit < n; bit++) {
      const bx = (x.key[4 + (bit >> 3)]! >> (7 - (bit & 7))) & 1;
      const by = (y.key[4 + (bit >> 3)]! >> (7 - (bit & 7))) & 1;
      if (bx !== by) return bx - by;
    }
    return y.prefixlen - x.prefixlen;
  }

  private countLength(len: number, delta: number): void {
    const n = (this.lengths.get(len) ?? 0) + delta;
    if (n === 0) this.lengths.delete(len);
    else this.lengths.set(len, n);
    this.sortedLengths = [...this.lengths.keys()].sort((a, b) => b - a);
  }

  override reclaim(): void {
    this.arena.reclaim();
  }

  protected override release(): void {
    this.arena.free();
  }
}
