/**
 * Map semantics of the VM against the running kernel: the same operation
 * sequences on a VM map and a kernel map (both through MapHandle), with every
 * result compared: values, absent keys, errnos of update flags and full maps,
 * LPM longest-prefix answers and key order, queue/stack order, bloom filter
 * answers (BPF_F_ZERO_SEED, so the hashes are the same), batches, freezing,
 * and the errnos of bad map specs.
 */
import { describe, expect, it } from 'vitest';
import type { MapHandle } from '../../src/ebpf/engine.js';
import type { MapSpec } from '../../src/ebpf/spec.js';
import { MapType } from '../../src/ebpf/types.js';
import { createMap, hasBpfCapabilities, possibleCpus } from '../../src/kernel/index.js';
import { MapFlags, Vm } from '../../src/vm/index.js';
import { IS_ROOT } from '../support/paths.js';
import { rng } from './random-programs.js';

const CAN_BPF = IS_ROOT && hasBpfCapabilities();
const CPUS = CAN_BPF ? possibleCpus() : 1;

const hex = (b: Uint8Array | undefined): string => (b === undefined ? 'none' : Buffer.from(b).toString('hex'));
const u32 = (n: number): Uint8Array => {
  const b = new Uint8Array(4);
  new DataView(b.buffer).setUint32(0, n >>> 0, true);
  return b;
};
const u64 = (n: number): Uint8Array => {
  const b = new Uint8Array(8);
  new DataView(b.buffer).setBigUint64(0, BigInt(n), true);
  return b;
};
/** An LPM key: prefix length and IPv4 address bytes. */
const lpm = (len: number, a: number, b = 0, c = 0, d = 0): Uint8Array => new Uint8Array([...u32(len), a, b, c, d]);

/** The outcome of an operation: its value, 'ok', or the errno name. */
function attempt(f: () => Uint8Array | undefined | void | number | boolean | [Uint8Array, Uint8Array][]): string {
  try {
    const r = f();
    if (r === undefined) return 'ok/none';
    if (r instanceof Uint8Array) return hex(r);
    if (Array.isArray(r)) return r.map(([k, v]) => `${hex(k)}=${hex(v)}`).sort().join(',');
    return String(r);
  } catch (e) {
    const name = (e as { errnoName?: string }).errnoName;
    if (name) return `error ${name}`;
    throw e;
  }
}

/** Run the same script on a kernel map and a VM map of `spec`; returns both transcripts. */
function both(spec: MapSpec, script: (m: MapHandle, log: (s: string) => void) => void): [string[], string[]] {
  const vm = new Vm({ cpus: CPUS });
  const out: string[][] = [];
  for (const make of [() => createMap(spec), () => vm.createMap(spec)]) {
    const lines: string[] = [];
    const m = make();
    try {
      script(m, (s) => lines.push(s));
    } finally {
      m.close();
    }
    out.push(lines);
  }
  return [out[0]!, out[1]!];
}

function sortedEntries(m: MapHandle): string {
  const rows: string[] = [];
  for (let k = m.nextKey(); k !== undefined; k = m.nextKey(k)) rows.push(`${hex(k)}=${hex(m.lookup(k))}`);
  return rows.sort().join(' ');
}

const spec = (type: MapType, keySize: number, valueSize: number, maxEntries: number, flags = 0, extra: Partial<MapSpec> = {}): MapSpec => ({
  name: 'm',
  type,
  keySize,
  valueSize,
  maxEntries,
  flags,
  ...extra,
});

describe.skipIf(!CAN_BPF)('map semantics: VM vs kernel', () => {
  it('refuses the same bad specs with the same errno', () => {
    const bad: MapSpec[] = [
      spec(MapType.ARRAY, 8, 8, 4),
      spec(MapType.ARRAY, 4, 0, 4),
      spec(MapType.ARRAY, 4, 8, 0),
      spec(MapType.PERCPU_ARRAY, 4, 40000, 4),
      spec(MapType.PERCPU_ARRAY, 4, 8, 4, MapFlags.MMAPABLE),
      spec(MapType.HASH, 0, 8, 4),
      spec(MapType.HASH, 4, 0, 4),
      spec(MapType.HASH, 4, 8, 0),
      spec(MapType.HASH, 4, 8, 4, MapFlags.NO_COMMON_LRU),
      spec(MapType.HASH, 4, 8, 4, MapFlags.MMAPABLE),
      spec(MapType.LRU_HASH, 4, 8, 4, MapFlags.NO_PREALLOC),
      spec(MapType.LPM_TRIE, 8, 8, 4),
      spec(MapType.LPM_TRIE, 4, 8, 4, MapFlags.NO_PREALLOC),
      spec(MapType.LPM_TRIE, 300, 8, 4, MapFlags.NO_PREALLOC),
      spec(MapType.QUEUE, 4, 8, 4),
      spec(MapType.STACK, 0, 0, 4),
      spec(MapType.STACK, 0, 8, 0),
      spec(MapType.RINGBUF, 0, 0, 3000),
      spec(MapType.RINGBUF, 0, 0, 2048),
      spec(MapType.RINGBUF, 4, 0, 4096),
      spec(MapType.BLOOM_FILTER, 4, 8, 16),
      spec(MapType.BLOOM_FILTER, 0, 8, 16, 0, { mapExtra: 16n }),
      spec(MapType.PROG_ARRAY, 4, 8, 4),
      spec(MapType.ARRAY, 4, 8, 4, MapFlags.RDONLY_PROG | MapFlags.WRONLY_PROG),
    ];
    const vm = new Vm({ cpus: CPUS });
    for (const s of bad) {
      const k = attempt(() => createMap(s).close());
      const v = attempt(() => vm.createMap(s).close());
      expect(v, `${JSON.stringify(s, (_k, x) => (typeof x === 'bigint' ? String(x) : x))}`).toBe(k);
      expect(k).toMatch(/^error /);
    }
  });

  it('array: update flags, bounds, delete, next key, freeze', () => {
    const [k, v] = both(spec(MapType.ARRAY, 4, 8, 4), (m, log) => {
      for (const [i, f] of [[0, 0], [1, 1], [2, 2], [3, 3], [4, 0], [9, 2], [3, 4], [3, 0]] as const) {
        log(`update ${i} ${f}: ${attempt(() => m.update(u32(i), u64(100 + i), f))}`);
      }
      for (const i of [0, 1, 3, 4, 0xffffffff]) log(`lookup ${i}: ${attempt(() => m.lookup(u32(i)))}`);
      log(`delete: ${attempt(() => m.delete(u32(0)))}`);
      for (const key of [undefined, u32(0), u32(2), u32(3), u32(4), u32(99)]) log(`next ${hex(key)}: ${attempt(() => m.nextKey(key))}`);
      log(`batch: ${attempt(() => m.lookupBatch!())}`);
      log(`update batch: ${attempt(() => m.updateBatch!([u32(1), u32(2)], [u64(7), u64(8)]))}`);
      log(`entries: ${sortedEntries(m)}`);
      log(`freeze: ${attempt(() => m.freeze())}`);
      log(`update frozen: ${attempt(() => m.update(u32(1), u64(5)))}`);
      log(`freeze twice: ${attempt(() => m.freeze())}`);
      log(`lookup frozen: ${attempt(() => m.lookup(u32(1)))}`);
    });
    expect(v).toEqual(k);
  });

  it('user-space access flags: BPF_F_RDONLY and BPF_F_WRONLY', () => {
    for (const flags of [MapFlags.RDONLY, MapFlags.WRONLY, MapFlags.RDONLY_PROG, MapFlags.WRONLY_PROG]) {
      const [k, v] = both(spec(MapType.HASH, 4, 8, 4, flags), (m, log) => {
        log(`update: ${attempt(() => m.update(u32(1), u64(1)))}`);
        log(`lookup: ${attempt(() => m.lookup(u32(1)))}`);
        log(`next: ${attempt(() => m.nextKey())}`);
        log(`delete: ${attempt(() => m.delete(u32(1)))}`);
        log(`freeze: ${attempt(() => m.freeze())}`);
      });
      expect(v).toEqual(k);
    }
  });

  it('per-CPU array and hash: one value per possible CPU', () => {
    const all = (n: number): Uint8Array => {
      const b = new Uint8Array(8 * CPUS);
      for (let c = 0; c < CPUS; c++) b.set(u64(n * 10 + c), 8 * c);
      return b;
    };
    for (const type of [MapType.PERCPU_ARRAY, MapType.PERCPU_HASH, MapType.LRU_PERCPU_HASH]) {
      const [k, v] = both(spec(type, 4, 4, 4), (m, log) => {
        for (const i of [0, 1, 2]) log(`update ${i}: ${attempt(() => m.update(u32(i), all(i), type === MapType.PERCPU_ARRAY ? 0 : 1))}`);
        log(`update again NOEXIST: ${attempt(() => m.update(u32(1), all(5), 1))}`);
        log(`update EXIST: ${attempt(() => m.update(u32(1), all(6), 2))}`);
        for (const i of [0, 1, 2, 3, 7]) log(`lookup ${i}: ${attempt(() => m.lookup(u32(i)))}`);
        log(`entries: ${sortedEntries(m)}`);
      });
      expect(v).toEqual(k);
    }
  });

  it('hash: flags, full map, delete, lookup-and-delete, batches', () => {
    for (const flags of [0, MapFlags.NO_PREALLOC]) {
      const [k, v] = both(spec(MapType.HASH, 4, 8, 4, flags), (m, log) => {
        log(`next on empty: ${attempt(() => m.nextKey())}`);
        log(`exist on missing: ${attempt(() => m.update(u32(1), u64(1), 2))}`);
        for (let i = 0; i < 6; i++) log(`insert ${i}: ${attempt(() => m.update(u32(i), u64(i), i % 2))}`);
        log(`replace in full map: ${attempt(() => m.update(u32(2), u64(22), 2))}`);
        log(`noexist on present: ${attempt(() => m.update(u32(2), u64(23), 1))}`);
        log(`bad flags 3: ${attempt(() => m.update(u32(2), u64(23), 3))}`);
        log(`bad flags lock: ${attempt(() => m.update(u32(2), u64(23), 4))}`);
        log(`bad flags 8: ${attempt(() => m.update(u32(2), u64(23), 8))}`);
        log(`delete missing: ${attempt(() => m.delete(u32(9)))}`);
        log(`delete 0: ${attempt(() => m.delete(u32(0)))}`);
        log(`insert after delete: ${attempt(() => m.update(u32(7), u64(7)))}`);
        log(`lookup and delete 1: ${attempt(() => m.lookupAndDelete(u32(1)))}`);
        log(`lookup and delete missing: ${attempt(() => m.lookupAndDelete(u32(1)))}`);
        log(`entries: ${sortedEntries(m)}`);
        log(`next of missing key is a member: ${[...sortedEntries(m).matchAll(/(\w+)=/g)].some((x) => x[1] === hex(m.nextKey(u32(999))))}`);
        log(`batch: ${attempt(() => m.lookupBatch!())}`);
        log(`delete batch: ${attempt(() => m.deleteBatch!([u32(2), u32(3)]))}`);
        log(`update batch: ${attempt(() => m.updateBatch!([u32(10), u32(11)], [u64(10), u64(11)]))}`);
        log(`lookup and delete batch: ${attempt(() => m.lookupAndDeleteBatch!())}`);
        log(`entries: ${sortedEntries(m)}`);
      });
      expect(v).toEqual(k);
    }
  });

  it('LRU hash: a full map evicts the least recently used', () => {
    for (const type of [MapType.LRU_HASH, MapType.LRU_PERCPU_HASH]) {
      for (const flags of [0, MapFlags.NO_COMMON_LRU]) {
        for (const max of [4, 16, 64]) {
          const vs = type === MapType.LRU_PERCPU_HASH ? 8 * CPUS : 8;
          const [k, v] = both(spec(type, 4, 8, max, flags), (m, log) => {
            for (let i = 0; i < max * 3; i++) m.update(u32(i), new Uint8Array(vs).fill(i & 0xff));
            const present: number[] = [];
            for (let i = 0; i < max * 3; i++) if (m.lookup(u32(i))) present.push(i);
            log(`present: ${present.join(',')}`);
          });
          expect(v).toEqual(k);
        }
      }
    }
  });

  it('LPM trie: longest prefix, errors, full trie, key order', () => {
    const [k, v] = both(spec(MapType.LPM_TRIE, 8, 4, 8, MapFlags.NO_PREALLOC), (m, log) => {
      const prefixes: Array<[number, number[]]> = [
        [8, [10]],
        [16, [10, 1]],
        [24, [10, 1, 2]],
        [32, [10, 1, 2, 3]],
        [0, []],
        [16, [192, 168]],
        [12, [172, 16]],
        [24, [10, 1, 3]],
      ];
      prefixes.forEach(([len, bytes], i) => log(`insert /${len}: ${attempt(() => m.update(lpm(len, bytes[0] ?? 0, bytes[1], bytes[2], bytes[3]), u32(i + 1)))}`));
      log(`full: ${attempt(() => m.update(lpm(20, 1, 2, 3), u32(99)))}`);
      log(`replace in full: ${attempt(() => m.update(lpm(16, 10, 1), u32(77)))}`);
      log(`noexist: ${attempt(() => m.update(lpm(16, 10, 1), u32(78), 1))}`);
      log(`exist on missing: ${attempt(() => m.update(lpm(17, 10, 1), u32(78), 2))}`);
      log(`prefix too long: ${attempt(() => m.update(lpm(33, 10), u32(1)))}`);
      const r = rng(7);
      for (let i = 0; i < 300; i++) {
        const a = [10, 10, 10, 192, 172, 11][Math.floor(r() * 6)]!;
        const key = lpm(Math.floor(r() * 40), a, Math.floor(r() * 4) === 0 ? 168 : Math.floor(r() * 4), Math.floor(r() * 4), Math.floor(r() * 256));
        log(`lookup ${hex(key)}: ${attempt(() => m.lookup(key))}`);
      }
      const order: string[] = [];
      for (let key = m.nextKey(); key !== undefined; key = m.nextKey(key)) order.push(hex(key));
      log(`order: ${order.join(' ')}`);
      log(`next of missing: ${attempt(() => m.nextKey(lpm(20, 99)))}`);
      log(`delete exact: ${attempt(() => m.delete(lpm(24, 10, 1, 2)))}`);
      log(`delete missing: ${attempt(() => m.delete(lpm(24, 10, 1, 2)))}`);
      log(`delete non-prefix: ${attempt(() => m.delete(lpm(20, 10, 1)))}`);
      log(`lookup after delete: ${attempt(() => m.lookup(lpm(32, 10, 1, 2, 9)))}`);
      const order2: string[] = [];
      for (let key = m.nextKey(); key !== undefined; key = m.nextKey(key)) order2.push(hex(key));
      log(`order: ${order2.join(' ')}`);
    });
    expect(v).toEqual(k);
  });

  it('queue and stack: order, full, replace, errors', () => {
    for (const type of [MapType.QUEUE, MapType.STACK]) {
      const [k, v] = both(spec(type, 0, 4, 3), (m, log) => {
        const none = new Uint8Array(0);
        log(`pop empty: ${attempt(() => m.lookupAndDelete())}`);
        log(`peek empty: ${attempt(() => m.lookup(none))}`);
        for (let i = 1; i <= 4; i++) log(`push ${i}: ${attempt(() => m.update(none, u32(i)))}`);
        log(`push noexist: ${attempt(() => m.update(none, u32(5), 1))}`);
        log(`push exist (replace oldest): ${attempt(() => m.update(none, u32(6), 2))}`);
        log(`peek: ${attempt(() => m.lookup(none))}`);
        for (let i = 0; i < 4; i++) log(`pop: ${attempt(() => m.lookupAndDelete())}`);
        log(`delete: ${attempt(() => m.delete(none))}`);
        log(`next: ${attempt(() => m.nextKey())}`);
      });
      expect(v).toEqual(k);
    }
  });

  it('bloom filter with a zero seed: the same answers for members and non-members', () => {
    for (const [valueSize, extra] of [
      [4, 0n],
      [8, 3n],
      [6, 1n],
    ] as const) {
      const [k, v] = both(spec(MapType.BLOOM_FILTER, 0, valueSize, 100, MapFlags.ZERO_SEED, { mapExtra: extra }), (m, log) => {
        const r = rng(valueSize);
        const val = (): Uint8Array => Uint8Array.from({ length: valueSize }, () => Math.floor(r() * 256));
        const members = Array.from({ length: 100 }, val);
        for (const x of members) m.update(new Uint8Array(0), x);
        log(`all members found: ${members.every((x) => m.contains!(x))}`);
        const answers = Array.from({ length: 3000 }, () => (m.contains!(val()) ? '1' : '0')).join('');
        log(`non-members: ${answers}`);
        log(`push with flags: ${attempt(() => m.update(new Uint8Array(0), val(), 2))}`);
        log(`delete: ${attempt(() => m.delete(new Uint8Array(0)))}`);
        log(`pop: ${attempt(() => m.lookupAndDelete())}`);
      });
      expect(v).toEqual(k);
    }
  });

  it('maps of maps: inner maps must match the template', () => {
    const inner = spec(MapType.ARRAY, 4, 8, 4);
    for (const type of [MapType.ARRAY_OF_MAPS, MapType.HASH_OF_MAPS]) {
      const outer = spec(type, 4, 4, 4, 0, { innerMap: inner });
      const vm = new Vm({ cpus: CPUS });
      const results: string[][] = [];
      for (const engine of ['kernel', 'vm'] as const) {
        const make = (s: MapSpec) => (engine === 'kernel' ? createMap(s) : vm.createMap(s));
        const fd = (m: MapHandle) => ('fd' in m ? (m as unknown as { fd: number }).fd : (m as unknown as { id: number }).id);
        const o = make(outer);
        const good = make(inner);
        const wrong = make({ ...inner, valueSize: 16 });
        const fewer = make({ ...inner, maxEntries: 2 });
        const log: string[] = [];
        log.push(`good: ${attempt(() => o.update(u32(0), u32(fd(good))))}`);
        log.push(`wrong value size: ${attempt(() => o.update(u32(1), u32(fd(wrong))))}`);
        log.push(`wrong max entries: ${attempt(() => o.update(u32(1), u32(fd(fewer))))}`);
        log.push(`bad fd: ${attempt(() => o.update(u32(2), u32(4000)))}`);
        log.push(`lookup present: ${o.lookup(u32(0)) !== undefined}`);
        log.push(`lookup absent: ${attempt(() => o.lookup(u32(1)))}`);
        log.push(`delete: ${attempt(() => o.delete(u32(0)))}`);
        log.push(`delete again: ${attempt(() => o.delete(u32(0)))}`);
        for (const m of [o, good, wrong, fewer]) m.close();
        results.push(log);
      }
      expect(results[1]).toEqual(results[0]);
    }
  });
});
