/**
 * The kernel engine against the embedded VM on the same inputs:
 *
 * - maps: random operation sequences (fast-check) run on a kernel map and a
 *   VM map of the same spec through the engine-neutral MapHandle, with every
 *   result compared (values, absent keys, errnos, key sets, batches);
 * - programs: a clang-compiled collection loaded by both engines, the same
 *   test runs in the same order, return values, output packets and final
 *   map contents compared.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { MapHandle } from '../../src/ebpf/engine.js';
import type { MapSpec } from '../../src/ebpf/spec.js';
import { MapType, nameOf } from '../../src/ebpf/types.js';
import { loadCollectionSpec } from '../../src/elf/index.js';
import { possibleCpus } from '../../src/kernel/cpus.js';
import { loadCollection } from '../../src/kernel/collection.js';
import { createMap } from '../../src/kernel/map.js';
import { Vm } from '../../src/vm/index.js';
import { HAVE_CLANG, compileBpf } from './support/fixtures.js';
import { CAN_BPF, SKIP_REASON, u32, nothingLeft } from './support/kernel.js';

const d = describe.skipIf(!CAN_BPF);
if (!CAN_BPF) describe('kernel vs VM', () => it.skip(SKIP_REASON, () => {}));

const hex = (b: Uint8Array | undefined) => (b === undefined ? 'none' : Buffer.from(b).toString('hex'));

function attempt(f: () => unknown): string {
  try {
    const r = f();
    if (r === undefined) return 'ok';
    if (r instanceof Uint8Array) return hex(r);
    if (Array.isArray(r)) return r.map(([k, v]: [Uint8Array, Uint8Array]) => `${hex(k)}=${hex(v)}`).sort().join(',');
    return String(r);
  } catch (e) {
    const name = (e as { errnoName?: string }).errnoName;
    if (name) return `error ${name}`;
    throw e;
  }
}

type Op =
  | { op: 'update'; k: number; v: number; flag: number }
  | { op: 'lookup'; k: number }
  | { op: 'delete'; k: number }
  | { op: 'lookupAndDelete'; k: number }
  | { op: 'keys' }
  | { op: 'updateBatch'; ks: number[]; v: number }
  | { op: 'deleteBatch'; ks: number[] };

const keyArb = fc.integer({ min: 0, max: 11 });
const opArb: fc.Arbitrary<Op> = fc.oneof(
  { weight: 5, arbitrary: fc.record({ op: fc.constant('update' as const), k: keyArb, v: fc.integer({ min: 0, max: 0xffff }), flag: fc.integer({ min: 0, max: 2 }) }) },
  { weight: 3, arbitrary: fc.record({ op: fc.constant('lookup' as const), k: keyArb }) },
  { weight: 2, arbitrary: fc.record({ op: fc.constant('delete' as const), k: keyArb }) },
  { weight: 1, arbitrary: fc.record({ op: fc.constant('lookupAndDelete' as const), k: keyArb }) },
  { weight: 1, arbitrary: fc.record({ op: fc.constant('keys' as const) }) },
  { weight: 1, arbitrary: fc.record({ op: fc.constant('updateBatch' as const), ks: fc.uniqueArray(keyArb, { maxLength: 4 }), v: fc.nat(0xffff) }) },
  { weight: 1, arbitrary: fc.record({ op: fc.constant('deleteBatch' as const), ks: fc.uniqueArray(keyArb, { maxLength: 4 }) }) },
);

/** Key k of a map: a u32, or for an LPM trie a (prefix, address) drawn from a small set so prefixes overlap. */
function keyOf(spec: MapSpec, k: number): Uint8Array {
  if (spec.type !== MapType.LPM_TRIE) return u32(k);
  const prefixes = [0, 8, 16, 24, 32, 12];
  return new Uint8Array([prefixes[k % 6]!, 0, 0, 0, 10, k & 1 ? 1 : 0, k & 2 ? 2 : 0, k >> 2]);
}

function valueOf(m: MapHandle, v: number, slot: number): Uint8Array {
  const out = new Uint8Array(slot);
  const dv = new DataView(out.buffer);
  // Every 8-byte slot (one per CPU for per-CPU maps) gets a different value.
  for (let at = 0; at + 4 <= slot; at += 8) dv.setUint32(at, v + at, true);
  void m;
  return out;
}

function runScript(m: MapHandle, spec: MapSpec, slot: number, ops: Op[]): string[] {
  const log: string[] = [];
  const batches = spec.type !== MapType.LPM_TRIE;
  for (const o of ops) {
    switch (o.op) {
      case 'update':
        log.push(`update ${o.k} ${o.flag}: ${attempt(() => m.update(keyOf(spec, o.k), valueOf(m, o.v, slot), o.flag))}`);
        break;
      case 'lookup':
        log.push(`lookup ${o.k}: ${attempt(() => m.lookup(keyOf(spec, o.k)))}`);
        break;
      case 'delete':
        log.push(`delete ${o.k}: ${attempt(() => m.delete(keyOf(spec, o.k)))}`);
        break;
      case 'lookupAndDelete':
        log.push(`lookupAndDelete ${o.k}: ${attempt(() => m.lookupAndDelete(keyOf(spec, o.k)))}`);
        break;
      case 'keys': {
        const keys: string[] = [];
        for (let k = m.nextKey(); k !== undefined && keys.length < 100; k = m.nextKey(k)) keys.push(hex(k));
        log.push(`keys: ${keys.sort().join(' ')}`);
        break;
      }
      case 'updateBatch':
        if (batches)
          log.push(
            `updateBatch ${o.ks}: ${attempt(() =>
              m.updateBatch!(
                o.ks.map((k) => keyOf(spec, k)),
                o.ks.map(() => valueOf(m, o.v, slot)),
              ),
            )}`,
          );
        break;
      case 'deleteBatch':
        if (batches && spec.type !== MapType.ARRAY && spec.type !== MapType.PERCPU_ARRAY) {
          log.push(`deleteBatch ${o.ks}: ${attempt(() => m.deleteBatch!(o.ks.map((k) => keyOf(spec, k))))}`);
        }
        break;
    }
  }
  const entries: string[] = [];
  for (let k = m.nextKey(); k !== undefined && entries.length < 100; k = m.nextKey(k)) entries.push(`${hex(k)}=${hex(m.lookup(k))}`);
  log.push(`final: ${entries.sort().join(' ')}`);
  return log;
}

const CPUS = CAN_BPF ? possibleCpus() : 1;
const SPECS: MapSpec[] = [
  { name: 'd_hash', type: MapType.HASH, keySize: 4, valueSize: 8, maxEntries: 6, flags: 0 },
  { name: 'd_hash_np', type: MapType.HASH, keySize: 4, valueSize: 8, maxEntries: 6, flags: 1 /* NO_PREALLOC */ },
  { name: 'd_array', type: MapType.ARRAY, keySize: 4, valueSize: 8, maxEntries: 8, flags: 0 },
  { name: 'd_pcpu_hash', type: MapType.PERCPU_HASH, keySize: 4, valueSize: 4, maxEntries: 6, flags: 0 },
  { name: 'd_pcpu_array', type: MapType.PERCPU_ARRAY, keySize: 4, valueSize: 4, maxEntries: 8, flags: 0 },
  { name: 'd_lpm', type: MapType.LPM_TRIE, keySize: 8, valueSize: 8, maxEntries: 6, flags: 1 },
];

d('maps: random operation sequences give the same results in the kernel and the VM', () => {
  for (const spec of SPECS) {
    it(`${nameOf(MapType, spec.type)} (flags ${spec.flags})`, () => {
      const perCpu = spec.type === MapType.PERCPU_HASH || spec.type === MapType.PERCPU_ARRAY;
      const slot = perCpu ? Math.ceil(spec.valueSize / 8) * 8 * CPUS : spec.valueSize;
      fc.assert(
        fc.property(fc.array(opArb, { minLength: 1, maxLength: 40 }), (ops) => {
          const vm = new Vm({ cpus: CPUS });
          const k = createMap(spec);
          const v = vm.createMap(spec);
          try {
            expect(runScript(v, spec, slot, ops)).toEqual(runScript(k, spec, slot, ops));
          } finally {
            k.close();
            v.close();
          }
        }),
        { numRuns: 60 },
      );
    });
  }

  it('QUEUE and STACK: random push/peek/pop sequences', () => {
    for (const type of [MapType.QUEUE, MapType.STACK]) {
      const spec: MapSpec = { name: 'd_qs', type, keySize: 0, valueSize: 8, maxEntries: 4, flags: 0 };
      const step = fc.oneof(
        fc.record({ op: fc.constant('push' as const), v: fc.nat(1000), flag: fc.integer({ min: 0, max: 2 }) }),
        fc.record({ op: fc.constant('peek' as const) }),
        fc.record({ op: fc.constant('pop' as const) }),
      );
      fc.assert(
        fc.property(fc.array(step, { maxLength: 30 }), (ops) => {
          const transcript = (m: MapHandle) =>
            ops.map((o) => {
              if (o.op === 'push') return attempt(() => m.update(new Uint8Array(0), u32x2(o.v), o.flag));
              if (o.op === 'peek') return attempt(() => m.lookup(new Uint8Array(0)));
              return attempt(() => m.lookupAndDelete());
            });
          const k = createMap(spec);
          const v = new Vm({ cpus: CPUS }).createMap(spec);
          try {
            expect(transcript(v)).toEqual(transcript(k));
          } finally {
            k.close();
            v.close();
          }
        }),
        { numRuns: 50 },
      );
    }
  });
});

const u32x2 = (n: number) => {
  const b = new Uint8Array(8);
  new DataView(b.buffer).setUint32(0, n, true);
  return b;
};

/** An Ethernet + IPv4 packet with the given IP protocol and length. */
function ipv4(proto: number, length: number, ethType = 0x0800): Uint8Array {
  const p = new Uint8Array(length);
  p.set([1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12]);
  p.set([ethType >> 8, ethType & 0xff], 12);
  p[14] = 0x45;
  p[23] = proto;
  return p;
}

describe.skipIf(!CAN_BPF || !HAVE_CLANG)('programs: a clang object in the kernel and in the VM', () => {
  it('the same return values, output packets and map contents, run for run', () => {
    const spec = loadCollectionSpec(compileBpf('kernel_progs'));
    spec.variables.tx_proto!.set(17);
    spec.maps.jump!.contents = [{ key: u32(1), value: { program: 'tail_target' } }];
    const only = ['count_proto', 'xdp_swap', 'tail_caller', 'tail_target', 'pinned_user'];
    const subset = { ...spec, programs: Object.fromEntries(only.map((n) => [n, spec.programs[n]!])) };
    const kc = loadCollection(subset);
    const vc = new Vm({ cpus: CPUS }).loadCollection(subset);
    try {
      const packets = [ipv4(17, 64), ipv4(6, 90), ipv4(17, 200, 0x86dd), ipv4(1, 34), new Uint8Array(20), ipv4(17, 1500)];
      for (let round = 0; round < 3; round++) {
        for (const name of only) {
          for (const [i, pkt] of packets.entries()) {
            const k = attempt(() => {
              const r = kc.programs[name]!.testRun({ data: pkt });
              return `${r.retval} ${hex(r.dataOut)}`;
            });
            const v = attempt(() => {
              const r = vc.programs[name]!.testRun({ data: pkt });
              return `${r.retval} ${hex(r.dataOut)}`;
            });
            expect(v, `${name} on packet ${i}, round ${round}`).toBe(k);
          }
        }
      }
      for (const name of ['proto_bytes', 'stats', 'shared_counts', '.bss', '.data', '.rodata']) {
        const dump = (m: MapHandle) => {
          const rows: string[] = [];
          for (let key = m.nextKey(); key !== undefined; key = m.nextKey(key)) rows.push(`${hex(key)}=${hex(m.lookup(key))}`);
          return rows.sort();
        };
        expect(dump(vc.maps[name]!), name).toEqual(dump(kc.maps[name]!));
      }
    } finally {
      kc.close();
      vc.close();
    }
  });
});

describe.skipIf(!CAN_BPF)('afterwards', () => {
  // The last describe of the file: every test above and its cleanup hooks have run.
  it('nothing the tests made is left: no engine fd, no BPF or perf fd, no bpffs mount', () => {
    expect(nothingLeft()).toEqual({ engineFds: [], processFds: [], mounts: [] });
  });
});
