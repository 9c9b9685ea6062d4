/**
 * Kernel maps, for real: every map type this kernel has is created from its
 * spec, operated on through MapHandle, and closed; the semantics of each kind
 * (update flags, full maps, LRU eviction, queue/stack order, LPM matching,
 * bloom filters, per-CPU slots, maps of maps, batches, freeze, mmap, BTF
 * types) are checked against the running kernel; error paths leave no fd.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MapType, nameOf } from '../../src/ebpf/types.js';
import { UpdateFlags } from '../../src/ebpf/engine.js';
import { loadBtf } from '../../src/kernel/btf-load.js';
import { KernelError, PinMismatchError } from '../../src/kernel/errors.js';
import { openFds } from '../../src/kernel/fd.js';
import { KernelMap, MapFlags, createMap, isPerCpu } from '../../src/kernel/map.js';
import { fdKind, isOnBpffs, openPinned, unpin } from '../../src/kernel/pin.js';
import { mapTypeSupported, minimalMapSpec } from '../../src/kernel/probes.js';
import { possibleCpus } from '../../src/kernel/cpus.js';
import { encodeBtf, intKeyStructValueBtf } from './support/btf.js';
import { CAN_BPF, SKIP_REASON, countFds, mountBpffs, readU32, readU64, u32, u64, nothingLeft } from './support/kernel.js';

const d = describe.skipIf(!CAN_BPF);
if (!CAN_BPF) describe('kernel maps', () => it.skip(SKIP_REASON, () => {}));

const hash = (maxEntries = 8, flags = 0) =>
  createMap({ name: 'test_hash', type: MapType.HASH, keySize: 4, valueSize: 8, maxEntries, flags });

d('every map type of this kernel', () => {
  for (const [name, type] of Object.entries(MapType)) {
    if (type === MapType.UNSPEC) continue;
    it(`${name}: created when the probe says the kernel has it, closed without a trace`, () => {
      const probe = mapTypeSupported(type);
      if (!probe.supported) {
        // The probe must agree with a direct attempt: creation fails with a KernelError naming the map type.
        const m = minimalMapSpec(type);
        expect(() => createMap(m.spec).close()).toThrow(KernelError);
        return;
      }
      const before = openFds().length;
      const m = minimalMapSpec(type);
      const btf = m.needsBtf ? loadBtf(intKeyStructValueBtfForStorage()) : undefined;
      const spec = m.spec;
      if (m.vmlinuxValueType) return; // struct_ops: creatable only with a kernel value type; covered by the probe.
      const map = createMap(spec, { btfFd: btf?.fd });
      try {
        const info = map.info();
        expect(info.typeName).toBe(name);
        expect(info.keySize).toBe(spec.keySize);
        expect(info.maxEntries).toBe(spec.maxEntries);
        expect(fdKind(map.fd)).toBe('map');
      } finally {
        map.close();
        btf?.close();
      }
      expect(openFds().length).toBe(before);
    });
  }
});

/** Storage maps: key [1] int, value [2] struct val { int v; } (4 bytes, as minimalMapSpec asks). */
function intKeyStructValueBtfForStorage(): Uint8Array {
  return encodeBtf([
    { kind: 'int', name: 'int', size: 4, signed: true },
    { kind: 'struct', name: 'val', size: 4, members: [{ name: 'v', type: 1, bitOffset: 0 }] },
  ]);
}

d('hash maps', () => {
  it('lookup, update with flags, delete, as the kernel defines them', () => {
    const m = hash();
    try {
      expect(m.lookup(u32(1))).toBeUndefined();
      m.update(u32(1), u64(10));
      expect(readU64(m.lookup(u32(1))!)).toBe(10n);
      expect(() => m.update(u32(1), u64(11), UpdateFlags.NOEXIST)).toThrow(expect.objectContaining({ errnoName: 'EEXIST' }));
      expect(() => m.update(u32(2), u64(11), UpdateFlags.EXIST)).toThrow(expect.objectContaining({ errnoName: 'ENOENT' }));
      m.update(u32(1), u64(12), UpdateFlags.EXIST);
      expect(readU64(m.lookup(u32(1))!)).toBe(12n);
      m.delete(u32(1));
      expect(m.lookup(u32(1))).toBeUndefined();
      expect(() => m.delete(u32(1))).toThrow(expect.objectContaining({ errnoName: 'ENOENT' }));
    } finally {
      m.close();
    }
  });

  it('a full hash map refuses a new key with E2BIG and says why', () => {
    const m = hash(4);
    try {
      for (let i = 0; i < 4; i++) m.update(u32(i), u64(i));
      let err: unknown;
      try {
        m.update(u32(99), u64(0));
      } catch (e) {
        err = e;
      }
      expect(err).toBeInstanceOf(KernelError);
      expect((err as KernelError).errnoName).toBe('E2BIG');
      expect((err as KernelError).message).toMatch(/map update \(map "test_hash"\): E2BIG: the map is full/);
    } finally {
      m.close();
    }
  });

  it('iterates every key exactly once; entries() pairs them with their values', () => {
    const m = hash(64);
    try {
      for (let i = 0; i < 50; i++) m.update(u32(i * 7), u64(i));
      const keys = [...m.keys()].map((k) => readU32(k)).sort((a, b) => a - b);
      expect(keys).toEqual(Array.from({ length: 50 }, (_, i) => i * 7));
      for (const [k, v] of m.entries()) expect(readU64(v)).toBe(BigInt(readU32(k) / 7));
    } finally {
      m.close();
    }
  });

  it('rejects keys and values of the wrong size before calling the kernel', () => {
    const m = hash();
    try {
      expect(() => m.lookup(new Uint8Array(3))).toThrow(/key must be 4 bytes, got 3/);
      expect(() => m.update(u32(1), new Uint8Array(4))).toThrow(/value must be 8 bytes, got 4/);
    } finally {
      m.close();
    }
  });

  it('lookupAndDelete takes an element out', () => {
    const m = hash();
    try {
      m.update(u32(5), u64(55));
      expect(readU64(m.lookupAndDelete(u32(5))!)).toBe(55n);
      expect(m.lookup(u32(5))).toBeUndefined();
      expect(m.lookupAndDelete(u32(5))).toBeUndefined();
    } finally {
      m.close();
    }
  });
});

d('arrays', () => {
  it('every index exists (zeroed), delete is refused, out of range is EINVAL... or ENOENT on lookup', () => {
    const m = createMap({ name: 'test_array', type: MapType.ARRAY, keySize: 4, valueSize: 12, maxEntries: 4, flags: 0 });
    try {
      expect(m.lookup(u32(3))).toEqual(new Uint8Array(12));
      expect(m.lookup(u32(4))).toBeUndefined();
      expect(() => m.update(u32(4), new Uint8Array(12))).toThrow(KernelError);
      expect(() => m.delete(u32(0))).toThrow(expect.objectContaining({ errnoName: 'EINVAL' }));
      expect([...m.keys()].map((k) => readU32(k))).toEqual([0, 1, 2, 3]);
    } finally {
      m.close();
    }
  });

  it('mmap (BPF_F_MMAPABLE): writes through the mapping are seen by lookups and the other way round', () => {
    const m = createMap({ name: 'test_mmap', type: MapType.ARRAY, keySize: 4, valueSize: 8, maxEntries: 16, flags: MapFlags.MMAPABLE });
    try {
      const mm = m.mmap();
      const view = new DataView(mm.bytes.buffer, mm.bytes.byteOffset, mm.bytes.byteLength);
      view.setBigUint64(8 * 5, 0x1122334455667788n, true);
      expect(readU64(m.lookup(u32(5))!)).toBe(0x1122334455667788n);
      m.update(u32(7), u64(77));
      expect(view.getBigUint64(8 * 7, true)).toBe(77n);
      // A map mmap'ed writable cannot be frozen.
      expect(() => m.freeze()).toThrow(expect.objectContaining({ errnoName: 'EBUSY' }));
      mm.unmap();
      expect(mm.bytes.length).toBe(0);
    } finally {
      m.close();
    }
  });

  it('global data: written at creation, frozen, then read-only for user space and mmap-able read-only', () => {
    const data = new TextEncoder().encode('hello, globals!\0');
    const m = createMap({
      name: '.rodata',
      type: MapType.ARRAY,
      keySize: 4,
      valueSize: data.length,
      maxEntries: 1,
      flags: MapFlags.MMAPABLE,
      data,
      freeze: true,
    });
    try {
      expect(m.lookup(u32(0))).toEqual(data);
      expect(() => m.update(u32(0), data)).toThrow(expect.objectContaining({ errnoName: 'EPERM' }));
      const mm = m.mmap();
      expect(mm.writable).toBe(false);
      expect(mm.bytes.subarray(0, data.length)).toEqual(data);
    } finally {
      m.close();
    }
  });
});

d('per-CPU maps', () => {
  it('values hold one 8-byte-aligned slot per possible CPU', () => {
    const n = possibleCpus();
    const m = createMap({ name: 'test_pcpu', type: MapType.PERCPU_ARRAY, keySize: 4, valueSize: 4, maxEntries: 2, flags: 0 });
    try {
      expect(isPerCpu(m.spec.type)).toBe(true);
      expect(m.valueSlotSize).toBe(8 * n);
      const v = new Uint8Array(8 * n);
      for (let c = 0; c < n; c++) new DataView(v.buffer).setUint32(8 * c, 100 + c, true);
      m.update(u32(1), v);
      const got = m.lookup(u32(1))!;
      for (let c = 0; c < n; c++) expect(readU32(got, 8 * c)).toBe(100 + c);
      expect(() => m.update(u32(1), new Uint8Array(4))).toThrow(/CPUs/);
    } finally {
      m.close();
    }
  });
});

d('LRU hash', () => {
  it('evicts instead of refusing when full', () => {
    const m = createMap({ name: 'test_lru', type: MapType.LRU_HASH, keySize: 4, valueSize: 8, maxEntries: 64, flags: MapFlags.NO_COMMON_LRU });
    try {
      for (let i = 0; i < 1000; i++) m.update(u32(i), u64(i));
      const n = [...m.keys()].length;
      expect(n).toBeGreaterThan(0);
      expect(n).toBeLessThanOrEqual(64);
      expect(readU64(m.lookup(u32(999))!)).toBe(999n);
    } finally {
      m.close();
    }
  });
});

d('queue, stack, bloom filter (no keys)', () => {
  it('queue is FIFO, stack is LIFO; lookup peeks, lookupAndDelete pops', () => {
    for (const [type, order] of [
      [MapType.QUEUE, [1, 2, 3]],
      [MapType.STACK, [3, 2, 1]],
    ] as const) {
      const m = createMap({ name: 'test_qs', type, keySize: 0, valueSize: 8, maxEntries: 3, flags: 0 });
      try {
        for (const v of [1, 2, 3]) m.update(new Uint8Array(0), u64(v));
        expect(() => m.update(new Uint8Array(0), u64(4))).toThrow(expect.objectContaining({ errnoName: 'E2BIG' }));
        expect(readU64(m.lookup(new Uint8Array(0))!)).toBe(BigInt(order[0]));
        const popped = [0, 1, 2].map(() => Number(readU64(m.lookupAndDelete()!)));
        expect(popped).toEqual(order);
        expect(m.lookupAndDelete()).toBeUndefined();
      } finally {
        m.close();
      }
    }
  });

  it('bloom filter: no false negatives', () => {
    const m = createMap({ name: 'test_bloom', type: MapType.BLOOM_FILTER, keySize: 0, valueSize: 8, maxEntries: 1000, flags: 0, mapExtra: 5n });
    try {
      for (let i = 0; i < 200; i++) m.update(new Uint8Array(0), u64(i * 31));
      // A bloom "lookup" is a membership test: present values are found (ENOENT means surely absent).
      for (let i = 0; i < 200; i++) expect(m.contains(u64(i * 31))).toBe(true);
      expect(m.lookup(u64(31))).toEqual(u64(31));
      // With 5 hashes over 1000 entries' worth of bits, most values never added test absent.
      const absent = Array.from({ length: 200 }, (_, i) => m.contains(u64(i * 31 + 1))).filter((x) => !x).length;
      expect(absent).toBeGreaterThan(150);
      expect(() => m.delete(new Uint8Array(0))).toThrow(KernelError);
    } finally {
      m.close();
    }
  });
});

d('LPM trie', () => {
  it('longest prefix match', () => {
    const key = (prefix: number, a: number, b: number, c: number, dd: number) => new Uint8Array([prefix, 0, 0, 0, a, b, c, dd]);
    const m = createMap({ name: 'test_lpm', type: MapType.LPM_TRIE, keySize: 8, valueSize: 8, maxEntries: 16, flags: MapFlags.NO_PREALLOC });
    try {
      m.update(key(8, 10, 0, 0, 0), u64(8));
      m.update(key(16, 10, 1, 0, 0), u64(16));
      m.update(key(24, 10, 1, 2, 0), u64(24));
      expect(readU64(m.lookup(key(32, 10, 1, 2, 3))!)).toBe(24n);
      expect(readU64(m.lookup(key(32, 10, 1, 9, 9))!)).toBe(16n);
      expect(readU64(m.lookup(key(32, 10, 9, 9, 9))!)).toBe(8n);
      expect(m.lookup(key(32, 11, 0, 0, 0))).toBeUndefined();
    } finally {
      m.close();
    }
  });
});

d('maps of maps', () => {
  it('an inner map stored by fd reads back as its id; the template is released', () => {
    const before = openFds().length;
    const outer = createMap({
      name: 'test_outer',
      type: MapType.HASH_OF_MAPS,
      keySize: 4,
      valueSize: 4,
      maxEntries: 4,
      flags: 0,
      innerMap: { name: 'tmpl', type: MapType.ARRAY, keySize: 4, valueSize: 8, maxEntries: 2, flags: 0 },
    });
    const inner = createMap({ name: 'test_inner', type: MapType.ARRAY, keySize: 4, valueSize: 8, maxEntries: 2, flags: 0 });
    try {
      expect(openFds().length).toBe(before + 2);
      outer.updateFd(u32(1), inner.fd);
      expect(readU32(outer.lookup(u32(1))!)).toBe(inner.info().id);
      // An inner map of another shape is refused.
      const wrong = createMap({ name: 'test_wrong', type: MapType.HASH, keySize: 4, valueSize: 8, maxEntries: 2, flags: 0 });
      try {
        expect(() => outer.updateFd(u32(2), wrong.fd)).toThrow(KernelError);
      } finally {
        wrong.close();
      }
    } finally {
      inner.close();
      outer.close();
    }
    expect(openFds().length).toBe(before);
  });
});

d('batch operations', () => {
  it('update, look up and delete 300 entries in batches', () => {
    const m = createMap({ name: 'test_batch', type: MapType.HASH, keySize: 4, valueSize: 8, maxEntries: 512, flags: 0 });
    try {
      const keys = Array.from({ length: 300 }, (_, i) => u32(i + 1000));
      const values = Array.from({ length: 300 }, (_, i) => u64(i * i));
      expect(m.updateBatch(keys, values)).toBe(300);
      const got = m.lookupBatch(64);
      expect(got.length).toBe(300);
      const asMap = new Map(got.map(([k, v]) => [readU32(k), readU64(v)]));
      for (let i = 0; i < 300; i++) expect(asMap.get(i + 1000)).toBe(BigInt(i * i));
      expect(m.deleteBatch(keys.slice(0, 100))).toBe(100);
      expect([...m.keys()].length).toBe(200);
      const drained = m.lookupAndDeleteBatch(50);
      expect(drained.length).toBe(200);
      expect(m.nextKey()).toBeUndefined();
    } finally {
      m.close();
    }
  });
});

d('freeze', () => {
  it('a frozen map refuses user-space writes with EPERM and the hint', () => {
    const m = hash();
    try {
      m.update(u32(1), u64(1));
      m.freeze();
      expect(() => m.update(u32(1), u64(2))).toThrow(/EPERM: the map is frozen/);
      expect(readU64(m.lookup(u32(1))!)).toBe(1n);
    } finally {
      m.close();
    }
  });
});

d('BTF key and value types', () => {
  it('a map created with BTF ids reports them', () => {
    const btf = loadBtf(intKeyStructValueBtf());
    try {
      const m = createMap(
        { name: 'test_btf', type: MapType.HASH, keySize: 4, valueSize: 8, maxEntries: 4, flags: 0, btfKeyTypeId: 1, btfValueTypeId: 3 },
        { btfFd: btf.fd },
      );
      try {
        const info = m.info();
        expect(info.btfId).toBe(btf.id());
        expect(info.btfKeyTypeId).toBe(1);
        expect(info.btfValueTypeId).toBe(3);
      } finally {
        m.close();
      }
      // A value type of the wrong size is refused by the kernel.
      expect(() =>
        createMap(
          { name: 'test_btf_bad', type: MapType.HASH, keySize: 4, valueSize: 16, maxEntries: 4, flags: 0, btfKeyTypeId: 1, btfValueTypeId: 3 },
          { btfFd: btf.fd },
        ),
      ).toThrow(KernelError);
    } finally {
      btf.close();
    }
  });
});

d('pinning in a private bpffs', () => {
  let fs: { dir: string; cleanup: () => void };
  beforeAll(() => {
    fs = mountBpffs();
  });
  afterAll(() => fs.cleanup());

  it('pin, open pinned (same map), detect an incompatible one, unpin', () => {
    const path = `${fs.dir}/counts`;
    expect(isOnBpffs(path)).toBe(true);
    expect(isOnBpffs('/tmp/x')).toBe(false);
    const m = hash();
    try {
      m.update(u32(7), u64(70));
      m.pin(path);
      const again = KernelMap.fromPin(path, m.spec);
      try {
        expect(again.info().id).toBe(m.info().id);
        expect(readU64(again.lookup(u32(7))!)).toBe(70n);
        expect(again.spec.maxEntries).toBe(8);
      } finally {
        again.close();
      }
      expect(() => KernelMap.fromPin(path, { ...m.spec, valueSize: 16 })).toThrow(PinMismatchError);
      expect(() => KernelMap.fromPin(path, { ...m.spec, type: MapType.LRU_HASH })).toThrow(/type is HASH, expected LRU_HASH/);
      const any = openPinned(path);
      expect(any.kind).toBe('map');
      any.fd.close();
    } finally {
      m.close();
    }
    unpin(path);
    expect(() => KernelMap.fromPin(path)).toThrow(expect.objectContaining({ errnoName: 'ENOENT' }));
  });

  it('pinning outside a bpffs is refused with the hint', () => {
    const m = hash();
    try {
      expect(() => m.pin('/tmp/bpfkit-not-bpffs')).toThrow(/EPERM: the path is not on a bpf filesystem/);
    } finally {
      m.close();
    }
  });
});

d('no fd leaks on error paths', () => {
  it('failed creations, refused updates and failed contents leave no fd behind', () => {
    const before = countFds();
    const engineBefore = openFds().length;
    for (let i = 0; i < 20; i++) {
      expect(() => createMap({ name: 'bad', type: MapType.HASH, keySize: 0, valueSize: 8, maxEntries: 4, flags: 0 })).toThrow(KernelError);
      // contents that do not fit: the map is made, then closed when writing fails.
      expect(() =>
        createMap({
          name: 'bad_contents',
          type: MapType.ARRAY,
          keySize: 4,
          valueSize: 8,
          maxEntries: 2,
          flags: 0,
          contents: [{ key: u32(5), value: u64(1) }],
        }),
      ).toThrow(KernelError);
      // a map of maps whose inner template is refused
      expect(() =>
        createMap({
          name: 'bad_outer',
          type: MapType.ARRAY_OF_MAPS,
          keySize: 4,
          valueSize: 4,
          maxEntries: 2,
          flags: 0,
          innerMap: { name: 'bad_inner', type: MapType.HASH, keySize: 0, valueSize: 8, maxEntries: 1, flags: 0 },
        }),
      ).toThrow(KernelError);
      // a map of maps the kernel refuses after its inner template was made
      expect(() =>
        createMap({
          name: 'bad_outer2',
          type: MapType.ARRAY_OF_MAPS,
          keySize: 8,
          valueSize: 4,
          maxEntries: 2,
          flags: 0,
          innerMap: { name: 'ok_inner', type: MapType.ARRAY, keySize: 4, valueSize: 8, maxEntries: 1, flags: 0 },
        }),
      ).toThrow(KernelError);
    }
    expect(countFds()).toBe(before);
    expect(openFds().length).toBe(engineBefore);
  });

  it('errors name the map and the map type', () => {
    expect(() => createMap({ name: 'named', type: MapType.HASH, keySize: 0, valueSize: 8, maxEntries: 4, flags: 0 })).toThrow(
      /map create \(map "named" \(HASH\)\): EINVAL/,
    );
    expect(nameOf(MapType, MapType.HASH)).toBe('HASH');
  });
});

describe.skipIf(!CAN_BPF)('afterwards', () => {
  // The last describe of the file: every test above and its cleanup hooks have run.
  it('nothing the tests made is left: no engine fd, no BPF or perf fd, no bpffs mount', () => {
    expect(nothingLeft()).toEqual({ engineFds: [], processFds: [], mounts: [] });
  });
});
