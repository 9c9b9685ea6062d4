/**
 * Hand-written programs run by the kernel (BPF_PROG_LOAD + BPF_PROG_TEST_RUN)
 * and by the VM on the same input: helpers (maps of every kind a program can
 * use, ring buffers, tail calls, bpf_loop, for_each_map_elem, packet and
 * checksum helpers, redirects), bpf-to-bpf calls, legacy packet loads,
 * contexts. Each case is a collection; the return value, the output packet
 * and context, the maps afterwards and the ring buffer records must be equal.
 */
import { describe, expect, it } from 'vitest';
import { assembleText } from '../../src/ebpf/asm.js';
import type { CollectionHandle, MapHandle, TestRunResult } from '../../src/ebpf/engine.js';
import type { CollectionSpec, MapSpec } from '../../src/ebpf/spec.js';
import { MapType, ProgType } from '../../src/ebpf/types.js';
import { hasBpfCapabilities, loadCollection, possibleCpus, RingBufReader, type KernelMap } from '../../src/kernel/index.js';
import { MapFlags, RingBufMap, Vm } from '../../src/vm/index.js';
import { IS_ROOT } from '../support/paths.js';
import { compileFixture, HAVE_CLANG } from './fixtures.js';
import { loadCollectionSpec } from '../../src/elf/index.js';

const CAN_BPF = IS_ROOT && hasBpfCapabilities();
const CPUS = CAN_BPF ? possibleCpus() : 1;

interface Case {
  name: string;
  type: ProgType;
  /** The entry program's assembly; more programs (for tail calls) in `more`. */
  text: string;
  more?: Record<string, string>;
  maps?: Record<string, MapSpec>;
  /** Prog array contents: map name → index → program name. */
  progArrays?: Record<string, Record<number, string>>;
  data?: Uint8Array;
  ctx?: Uint8Array;
  repeat?: number;
  /** Compare per-CPU values as a sorted multiset (the kernel's test run may execute on any CPU). */
  anyCpu?: boolean;
}

const hex = (b: Uint8Array | undefined): string => (b === undefined ? 'none' : Buffer.from(b).toString('hex'));
const m = (type: MapType, keySize: number, valueSize: number, maxEntries: number, flags = 0, extra: Partial<MapSpec> = {}): MapSpec => ({
  name: '',
  type,
  keySize,
  valueSize,
  maxEntries,
  flags,
  ...extra,
});

function packet(len: number, proto = 0x0800, fill = (i: number) => (i * 7 + 3) & 0xff): Uint8Array {
  const b = new Uint8Array(len);
  for (let i = 0; i < len; i++) b[i] = fill(i);
  b.fill(0, 0, 6);
  b[12] = proto >> 8;
  b[13] = proto & 0xff;
  return b;
}

function collectionOf(c: Case): CollectionSpec {
  const programs: CollectionSpec['programs'] = {};
  for (const [name, text] of Object.entries({ main: c.text, ...c.more })) {
    const asm = assembleText(text);
    programs[name] = { name, type: c.type, license: 'GPL', instructions: asm.instructions, references: asm.references };
  }
  const maps: CollectionSpec['maps'] = {};
  for (const [name, s] of Object.entries(c.maps ?? {})) {
    const contents = Object.entries(c.progArrays?.[name] ?? {}).map(([i, p]) => {
      const key = new Uint8Array(4);
      new DataView(key.buffer).setUint32(0, Number(i), true);
      return { key, value: { program: p } };
    });
    maps[name] = { ...s, name, ...(contents.length ? { contents } : {}) };
  }
  return { programs, maps };
}

function dumpMap(map: MapHandle, anyCpu: boolean): string {
  const t = map.spec.type;
  if (t === MapType.QUEUE || t === MapType.STACK || t === MapType.RINGBUF || t === MapType.PROG_ARRAY || t === MapType.BLOOM_FILTER) return '';
  const rows: string[] = [];
  for (let k = map.nextKey(); k !== undefined; k = map.nextKey(k)) {
    let v = hex(map.lookup(k));
    if (anyCpu && (t === MapType.PERCPU_ARRAY || t === MapType.PERCPU_HASH)) v = (v.match(/.{16}/g) ?? []).sort().join('|');
    rows.push(`${hex(k)}=${v}`);
  }
  return rows.sort().join(' ');
}

/** Run a case in one engine: the test-run outcome, the maps afterwards, ring buffer records. */
function runIn(c: Case, live: CollectionHandle, records: () => Uint8Array[]): string[] {
  let r: TestRunResult | string;
  try {
    r = live.programs.main!.testRun({ ...(c.data ? { data: c.data } : {}), ...(c.ctx ? { ctx: c.ctx } : {}), ...(c.repeat ? { repeat: c.repeat } : {}) });
  } catch (e) {
    const name = (e as { errnoName?: string }).errnoName;
    if (!name) throw e;
    r = `error ${name}`;
  }
  const out = typeof r === 'string' ? [r] : [`retval ${r.retval}`, `data ${hex(r.dataOut)}`, `ctx ${hex(r.ctxOut)}`];
  for (const [name, map] of Object.entries(live.maps)) out.push(`map ${name}: ${dumpMap(map, c.anyCpu ?? false)}`);
  out.push(`records ${records().map(hex).join(' ')}`);
  return out;
}

function compare(c: Case, spec = collectionOf(c)): void {
  const k = loadCollection(spec);
  let kernel: string[];
  try {
    const rb = Object.values(k.maps).filter((x) => x.spec.type === MapType.RINGBUF) as KernelMap[];
    const readers = rb.map((x) => new RingBufReader(x));
    try {
      kernel = runIn(c, k, () => readers.flatMap((x) => x.read()));
    } finally {
      for (const x of readers) x.close();
    }
  } finally {
    k.close();
  }
  const vm = new Vm({ cpus: CPUS });
  const v = vm.loadCollection(spec);
  const vmOut = runIn(c, v, () => Object.values(v.maps).flatMap((x) => (x instanceof RingBufMap ? x.read() : [])));
  v.close();
  expect(vmOut).toEqual(kernel);
}

const cases: Case[] = [
  {
    name: 'hash map from a program: update flags, lookups, deletes, full map',
    type: ProgType.SOCKET_FILTER,
    maps: { h: m(MapType.HASH, 4, 8, 3) },
    text: `
      r6 = 0
      r8 = 0
      *(u32 *)(r10 - 4) = r6
      *(u64 *)(r10 - 16) = r6
    loop:
      *(u32 *)(r10 - 4) = r6
      r1 = r6
      r1 *= 1000
      *(u64 *)(r10 - 16) = r1
      r1 = map_fd(h) ll
      r2 = r10
      r2 += -4
      r3 = r10
      r3 += -16
      r4 = r6
      r4 &= 1
      call 2
      r0 &= 0xff
      r7 = r6
      r7 *= 8
      r9 = r0
      r9 <<= r7
      r8 |= r9
      r6 += 1
      if r6 < 5 goto loop
      r1 = map_fd(h) ll
      r2 = r10
      r2 += -4
      call 3
      r0 &= 0xff
      r0 <<= 40
      r8 |= r0
      r1 = 1
      *(u32 *)(r10 - 4) = r1
      r1 = map_fd(h) ll
      r2 = r10
      r2 += -4
      call 1
      if r0 == 0 goto out
      r1 = *(u64 *)(r0 + 0)
      r1 += 5
      *(u64 *)(r0 + 0) = r1
      r8 += r1
    out:
      r0 = r8
      exit`,
    data: packet(60),
  },
  {
    name: 'array and per-CPU array: lookups, atomic adds, out-of-range keys, delete refused',
    type: ProgType.XDP,
    maps: { a: m(MapType.ARRAY, 4, 8, 4), p: m(MapType.PERCPU_ARRAY, 4, 8, 4) },
    anyCpu: true,
    text: `
      r8 = 0
      r6 = 3
      *(u32 *)(r10 - 4) = r6
      r1 = map_fd(a) ll
      r2 = r10
      r2 += -4
      call 1
      if r0 == 0 goto miss
      r1 = 41
      lock *(u64 *)(r0 + 0) += r1
      r2 = 1
      r2 = atomic_fetch_add((u64 *)(r0 + 0), r2)
      r8 = r2
    miss:
      r1 = map_fd(p) ll
      r2 = r10
      r2 += -4
      call 1
      if r0 == 0 goto miss2
      r1 = 7
      *(u64 *)(r0 + 0) = r1
    miss2:
      r6 = 9
      *(u32 *)(r10 - 4) = r6
      r1 = map_fd(a) ll
      r2 = r10
      r2 += -4
      call 1
      if r0 != 0 goto bad
      r1 = map_fd(a) ll
      r2 = r10
      r2 += -4
      call 3
      r0 &= 0xff
      r8 <<= 8
      r8 |= r0
      r0 = r8
      r0 &= 3
      exit
    bad:
      r0 = 0
      exit`,
    data: packet(64),
  },
  {
    name: 'queue, stack and bloom filter from a program: push, pop, peek, full, replace',
    type: ProgType.SOCKET_FILTER,
    maps: { q: m(MapType.QUEUE, 0, 4, 2), s: m(MapType.STACK, 0, 4, 2), b: m(MapType.BLOOM_FILTER, 0, 4, 16, MapFlags.ZERO_SEED) },
    text: `
      r8 = 0
      r6 = 1
    push:
      *(u32 *)(r10 - 4) = r6
      r1 = map_fd(q) ll
      r2 = r10
      r2 += -4
      r3 = 0
      if r6 != 3 goto noexist
      r3 = 2
    noexist:
      call 87
      r0 &= 0xf
      r8 <<= 4
      r8 |= r0
      r1 = map_fd(s) ll
      r2 = r10
      r2 += -4
      r3 = 0
      call 87
      r0 &= 0xf
      r8 <<= 4
      r8 |= r0
      r1 = map_fd(b) ll
      r2 = r10
      r2 += -4
      r3 = 0
      call 87
      r6 += 1
      if r6 < 4 goto push
      r1 = map_fd(q) ll
      r2 = r10
      r2 += -8
      call 88
      r1 = *(u32 *)(r10 - 8)
      r8 <<= 4
      r8 |= r1
      r1 = map_fd(s) ll
      r2 = r10
      r2 += -8
      call 89
      r1 = *(u32 *)(r10 - 8)
      r8 <<= 4
      r8 |= r1
      r1 = map_fd(s) ll
      r2 = r10
      r2 += -8
      call 88
      r1 = map_fd(s) ll
      r2 = r10
      r2 += -8
      call 88
      r0 &= 0xf
      r8 <<= 4
      r8 |= r0
      r6 = 2
      *(u32 *)(r10 - 4) = r6
      r1 = map_fd(b) ll
      r2 = r10
      r2 += -4
      call 89
      r0 &= 0xf
      r8 <<= 4
      r8 |= r0
      r6 = 1234
      *(u32 *)(r10 - 4) = r6
      r1 = map_fd(b) ll
      r2 = r10
      r2 += -4
      call 89
      r0 &= 0xf
      r8 <<= 4
      r8 |= r0
      r0 = r8
      exit`,
    data: packet(60),
  },
  {
    name: 'LPM trie lookups and LRU recency from a program',
    type: ProgType.SOCKET_FILTER,
    maps: { t: m(MapType.LPM_TRIE, 8, 4, 8, MapFlags.NO_PREALLOC), l: m(MapType.LRU_HASH, 4, 4, 4) },
    text: `
      r1 = 16
      *(u32 *)(r10 - 8) = r1
      r1 = 0x0a0a
      *(u32 *)(r10 - 4) = r1
      r1 = 77
      *(u32 *)(r10 - 12) = r1
      r1 = map_fd(t) ll
      r2 = r10
      r2 += -8
      r3 = r10
      r3 += -12
      r4 = 0
      call 2
      r1 = 32
      *(u32 *)(r10 - 8) = r1
      r1 = 0x07060a0a
      *(u32 *)(r10 - 4) = r1
      r1 = map_fd(t) ll
      r2 = r10
      r2 += -8
      call 1
      r8 = 0
      if r0 == 0 goto lru
      r8 = *(u32 *)(r0 + 0)
    lru:
      r6 = 0
    fill:
      *(u32 *)(r10 - 4) = r6
      r1 = map_fd(l) ll
      r2 = r10
      r2 += -4
      r3 = r10
      r3 += -4
      r4 = 0
      call 2
      r6 += 1
      if r6 < 4 goto fill
      r6 = 0
      *(u32 *)(r10 - 4) = r6
      r1 = map_fd(l) ll
      r2 = r10
      r2 += -4
      call 1
      r6 = 4
    more:
      *(u32 *)(r10 - 4) = r6
      r1 = map_fd(l) ll
      r2 = r10
      r2 += -4
      r3 = r10
      r3 += -4
      r4 = 0
      call 2
      r6 += 1
      if r6 < 6 goto more
      r0 = r8
      exit`,
    data: packet(60),
  },
  {
    name: 'ring buffer: output, reserve, submit, discard, query, full ring',
    type: ProgType.XDP,
    maps: { rb: m(MapType.RINGBUF, 0, 0, 4096) },
    text: `
      *(u64 *)(r10 - 32) = r1
      r8 = 0
      r6 = 1
    out:
      r1 = r6
      r1 *= 0x01010101
      *(u64 *)(r10 - 8) = r1
      *(u64 *)(r10 - 16) = r1
      *(u64 *)(r10 - 24) = r1
      r1 = map_fd(rb) ll
      r2 = r10
      r2 += -24
      r3 = r6
      r4 = 0
      call 130
      r8 += r0
      r6 += 5
      if r6 < 24 goto out
      r1 = map_fd(rb) ll
      r2 = 0
      call 134
      r9 = r0
      r1 = map_fd(rb) ll
      r2 = 3
      call 134
      r9 <<= 16
      r9 |= r0
      r6 = 0
    fill:
      r1 = map_fd(rb) ll
      r2 = 500
      r3 = 0
      call 131
      if r0 == 0 goto full
      r1 = 0x55
      *(u8 *)(r0 + 0) = r1
      *(u8 *)(r0 + 499) = r6
      r1 = r0
      r2 = 0
      r7 = r6
      r7 &= 1
      if r7 == 0 goto submit
      call 133
      goto next
    submit:
      call 132
    next:
      r6 += 1
      if r6 < 20 goto fill
    full:
      r1 = map_fd(rb) ll
      r2 = r10
      r2 += -8
      r3 = 8
      r4 = 0
      call 130
      r8 += r0
      r1 = map_fd(rb) ll
      r2 = 1
      call 134
      r9 += r0
      r8 <<= 8
      r8 |= r6
      r1 = *(u64 *)(r10 - 32)
      r2 = *(u32 *)(r1 + 0)
      r3 = *(u32 *)(r1 + 4)
      r4 = r2
      r4 += 16
      if r4 > r3 goto end
      *(u64 *)(r2 + 0) = r8
      *(u64 *)(r2 + 8) = r9
    end:
      r0 = 2
      exit`,
    data: packet(64),
  },
  {
    name: 'tail calls: a chain, a missing index, and the limit of 33',
    type: ProgType.SOCKET_FILTER,
    maps: { progs: m(MapType.PROG_ARRAY, 4, 4, 4), count: m(MapType.ARRAY, 4, 8, 1) },
    progArrays: { progs: { 1: 'second', 2: 'self' } },
    more: {
      second: `
        r6 = r1
        r1 = r6
        r2 = map_fd(progs) ll
        r3 = 3
        call 12
        r1 = r6
        r2 = map_fd(progs) ll
        r3 = 2
        call 12
        r0 = 99
        exit`,
      self: `
        r6 = r1
        r1 = 0
        *(u32 *)(r10 - 4) = r1
        r1 = map_fd(count) ll
        r2 = r10
        r2 += -4
        call 1
        if r0 == 0 goto out
        r1 = 1
        lock *(u64 *)(r0 + 0) += r1
        r1 = r6
        r2 = map_fd(progs) ll
        r3 = 2
        call 12
        r0 = 1234
        exit
      out:
        r0 = 0
        exit`,
    },
    text: `
      r6 = r1
      r1 = r6
      r2 = map_fd(progs) ll
      r3 = 0
      call 12
      r1 = r6
      r2 = map_fd(progs) ll
      r3 = 1
      call 12
      r0 = 7
      exit`,
    data: packet(60),
  },
  {
    name: 'bpf-to-bpf calls: stack pointers passed down, callee-saved registers, nested frames',
    type: ProgType.SOCKET_FILTER,
    text: `
      r6 = 11
      r7 = 22
      r8 = 33
      r9 = 44
      r1 = 5
      *(u64 *)(r10 - 8) = r1
      r1 = r10
      r1 += -8
      r2 = 3
      call f1
      r0 += r6
      r0 += r7
      r0 += r8
      r0 += r9
      r1 = *(u64 *)(r10 - 8)
      r0 += r1
      exit
    f1:
      r6 = r1
      r7 = *(u64 *)(r6 + 0)
      r7 *= r2
      *(u64 *)(r10 - 8) = r7
      r1 = r10
      r1 += -8
      call f2
      r1 = *(u64 *)(r10 - 8)
      *(u64 *)(r6 + 0) = r1
      r0 += 1
      exit
    f2:
      r2 = *(u64 *)(r1 + 0)
      r2 <<= 1
      *(u64 *)(r1 + 0) = r2
      r6 = 1000
      r0 = r2
      exit`,
    data: packet(60),
  },
  {
    name: 'socket filter: legacy packet loads relative to the network and MAC headers, skb_load_bytes bounds',
    type: ProgType.SOCKET_FILTER,
    text: `
      r6 = r1
      r0 = *(u8 *)skb[0]
      r8 = r0
      r0 = *(u16 *)skb[2]
      r8 <<= 16
      r8 |= r0
      r0 = *(u32 *)skb[-1048576]
      r8 ^= r0
      r0 = *(u16 *)skb[-2097152]
      r8 += r0
      r0 = *(u16 *)skb[-2097140]
      r8 += r0
      r9 = 6
      r0 = *(u32 *)skb[r9 + 4]
      r8 += r0
      r1 = r6
      r2 = 40
      r3 = r10
      r3 += -16
      r4 = 16
      call 26
      r7 = r0
      r1 = r6
      r2 = 100
      r3 = r10
      r3 += -8
      r4 = 8
      call 26
      r7 <<= 8
      r7 |= r0
      r1 = *(u64 *)(r10 - 8)
      r2 = *(u64 *)(r10 - 16)
      r8 += r1
      r8 += r2
      r8 += r7
      r0 = *(u8 *)skb[44]
      r0 = r8
      exit`,
    data: packet(60),
    ctx: new Uint8Array(192),
  },
  {
    name: 'socket filter: a legacy load past the packet ends the program with 0',
    type: ProgType.SOCKET_FILTER,
    text: `
      r6 = r1
      r1 = 77
      *(u32 *)(r6 + 48) = r1
      r0 = *(u32 *)skb[44]
      r1 = 88
      *(u32 *)(r6 + 52) = r1
      r0 = 5
      exit`,
    data: packet(60),
    ctx: new Uint8Array(192),
  },
  {
    name: 'tc: skb_store_bytes, packet reads after it, context writes, redirect',
    type: ProgType.SCHED_CLS,
    text: `
      r6 = r1
      r1 = 0x1122334455667788 ll
      *(u64 *)(r10 - 8) = r1
      r1 = r6
      r2 = 20
      r3 = r10
      r3 += -8
      r4 = 8
      r5 = 0
      call 9
      r8 = r0
      r1 = r6
      r2 = 57
      r3 = r10
      r3 += -8
      r4 = 8
      r5 = 0
      call 9
      r8 <<= 8
      r8 |= r0
      r2 = *(u32 *)(r6 + 76)
      r3 = *(u32 *)(r6 + 80)
      r4 = r2
      r4 += 32
      if r4 > r3 goto out
      r1 = *(u64 *)(r2 + 18)
      r8 ^= r1
      r1 = 0x99
      *(u8 *)(r2 + 30) = r1
      r1 = 0xabcd
      *(u32 *)(r6 + 8) = r1
      r1 = 7
      *(u32 *)(r6 + 32) = r1
      *(u32 *)(r6 + 56) = r8
      r1 = 3
      r2 = 1
      call 23
      r8 += r0
      r1 = 3
      r2 = 4
      call 23
      r8 += r0
    out:
      r0 = r8
      exit`,
    data: packet(64),
    ctx: (() => {
      const c = new Uint8Array(192);
      c[8] = 5;
      c[48] = 9;
      return c;
    })(),
  },
  {
    name: 'XDP: metadata, head and tail adjustments at their limits, load/store bytes, redirect',
    type: ProgType.XDP,
    text: `
      r6 = r1
      r1 = r6
      r2 = -8
      call 54
      r8 = r0
      r1 = r6
      r2 = -300
      call 54
      r8 <<= 8
      r8 |= r0
      r1 = r6
      r2 = -3
      call 54
      r8 <<= 8
      r8 |= r0
      r1 = r6
      r2 = 6
      call 44
      r8 <<= 8
      r8 |= r0
      r1 = r6
      r2 = -250
      call 44
      r8 <<= 8
      r8 |= r0
      r1 = r6
      r2 = 3600
      call 65
      r8 <<= 8
      r8 |= r0
      r1 = r6
      r2 = -10
      call 65
      r8 <<= 8
      r8 |= r0
      r1 = r6
      call 188
      r9 = r0
      r1 = r6
      r2 = 4
      r3 = r10
      r3 += -8
      r4 = 8
      call 189
      r9 <<= 8
      r9 |= r0
      r1 = r6
      r2 = 40
      r3 = r10
      r3 += -8
      r4 = 8
      call 190
      r9 <<= 8
      r9 |= r0
      r1 = r6
      r2 = 2000
      r3 = r10
      r3 += -8
      r4 = 8
      call 190
      r9 <<= 8
      r9 |= r0
      r2 = *(u32 *)(r6 + 8)
      r3 = *(u32 *)(r6 + 0)
      r4 = r2
      r4 += 8
      if r4 > r3 goto skip
      *(u64 *)(r2 + 0) = r8
    skip:
      r2 = *(u32 *)(r6 + 0)
      r3 = *(u32 *)(r6 + 4)
      r4 = r2
      r4 += 16
      if r4 > r3 goto out
      *(u64 *)(r2 + 8) = r9
      r1 = *(u32 *)(r6 + 12)
      *(u8 *)(r2 + 0) = r1
      r1 = 4
      r2 = 0
      call 23
      exit
    out:
      r0 = 1
      exit`,
    data: packet(80),
  },
  {
    name: 'XDP: metadata in ctx_in, ctx_out, and repeated runs on the same frame',
    type: ProgType.XDP,
    repeat: 3,
    text: `
      r6 = r1
      r1 = r6
      r2 = 2
      call 44
      r2 = *(u32 *)(r6 + 8)
      r3 = *(u32 *)(r6 + 0)
      r4 = r2
      r4 += 4
      if r4 > r3 goto out
      r1 = *(u32 *)(r2 + 0)
      r1 += 1
      *(u32 *)(r2 + 0) = r1
    out:
      r0 = 2
      exit`,
    data: packet(72),
    ctx: (() => {
      const c = new Uint8Array(24);
      const dv = new DataView(c.buffer);
      dv.setUint32(0, 8, true);
      dv.setUint32(4, 72, true);
      return c;
    })(),
  },
  {
    name: 'global data by address (map_value), read-only data, cmpxchg and xchg on map values',
    type: ProgType.SOCKET_FILTER,
    maps: {
      data: m(MapType.ARRAY, 4, 16, 1),
      ro: m(MapType.ARRAY, 4, 8, 1, MapFlags.RDONLY_PROG, { data: new Uint8Array([1, 2, 3, 4, 5, 6, 7, 8]), freeze: true }),
    },
    text: `
      r1 = map_value(data, 8) ll
      r2 = *(u64 *)(r1 + 0)
      r0 = 5
      r3 = 42
      r0 = cmpxchg_64(r1 + 0, r0, r3)
      r8 = r0
      r0 = 0
      r0 = cmpxchg_64(r1 + 0, r0, r3)
      r8 += r0
      r3 = 9
      r3 = xchg_64(r1 - 8, r3)
      r8 += r3
      r2 = map_value(ro, 2) ll
      r4 = *(u32 *)(r2 + 0)
      r8 <<= 32
      r8 |= r4
      r0 = r8
      exit`,
    data: packet(60),
  },
];

describe.skipIf(!CAN_BPF)('hand-written programs: VM vs kernel', () => {
  for (const c of cases) it(c.name, () => compare(c));
});

describe.skipIf(!CAN_BPF || !HAVE_CLANG)('clang-compiled programs: VM vs kernel', () => {
  // test/vm/fixtures/helpers.bpf.c: callbacks with BTF (bpf_loop, for_each_map_elem), globals, string helpers.
  for (const entry of ['callbacks', 'strings', 'compare']) {
    it(`helpers.bpf.c ${entry}`, () => {
      const spec = loadCollectionSpec(compileFixture('helpers'));
      const only: CollectionSpec = { ...spec, programs: { main: { ...spec.programs[entry]!, name: entry } } };
      compare({ name: entry, type: ProgType.XDP, text: '', data: packet(128) }, only);
    });
  }
});
