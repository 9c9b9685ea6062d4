/**
 * Codecs and TypedMap: round trips of every codec (property tests), struct
 * layouts checked against the C compiler, and the same typed operations on
 * a VM map and (as root) a kernel map giving the same answers.
 */
import { spawnSync } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { BpfErrnoError, type MapHandle } from '../../src/ebpf/engine.js';
import { codec, CodecError, decode, encode, TypedMap, type Codec } from '../../src/ebpf/map-codec.js';
import type { MapSpec } from '../../src/ebpf/spec.js';
import { MapType } from '../../src/ebpf/types.js';
import { createMap, hasBpfCapabilities, possibleCpus } from '../../src/kernel/index.js';
import { MapFlags, Vm } from '../../src/vm/index.js';
import { IS_ROOT, TMP } from '../support/paths.js';

const CAN_BPF = IS_ROOT && hasBpfCapabilities();
const HAVE_GCC = spawnSync('gcc', ['--version']).status === 0;

function roundTrip<T>(c: Codec<T>, arb: fc.Arbitrary<T>): void {
  fc.assert(
    fc.property(arb, (v) => {
      const b = encode(c, v);
      expect(b.length).toBe(c.size);
      expect(decode(c, b)).toEqual(v);
    }),
  );
}

describe('codecs', () => {
  it('round-trip integers, bigints, floats, bytes, strings and arrays', () => {
    roundTrip(codec.u8, fc.integer({ min: 0, max: 255 }));
    roundTrip(codec.i8, fc.integer({ min: -128, max: 127 }));
    roundTrip(codec.u16, fc.integer({ min: 0, max: 0xffff }));
    roundTrip(codec.i16, fc.integer({ min: -0x8000, max: 0x7fff }));
    roundTrip(codec.u32, fc.integer({ min: 0, max: 0xffffffff }));
    roundTrip(codec.i32, fc.integer({ min: -0x80000000, max: 0x7fffffff }));
    roundTrip(codec.u64, fc.bigInt({ min: 0n, max: (1n << 64n) - 1n }));
    roundTrip(codec.i64, fc.bigInt({ min: -(1n << 63n), max: (1n << 63n) - 1n }));
    roundTrip(codec.u64n, fc.integer({ min: 0, max: Number.MAX_SAFE_INTEGER }));
    roundTrip(codec.be16, fc.integer({ min: 0, max: 0xffff }));
    roundTrip(codec.be32, fc.integer({ min: 0, max: 0xffffffff }));
    roundTrip(codec.f64, fc.double({ noNaN: true }));
    roundTrip(codec.bytes(6), fc.uint8Array({ minLength: 6, maxLength: 6 }));
    roundTrip(codec.string(16), fc.string({ maxLength: 15 }).filter((s) => !s.includes('\0') && new TextEncoder().encode(s).length < 16));
    roundTrip(codec.array(codec.u16, 5), fc.array(fc.integer({ min: 0, max: 0xffff }), { minLength: 5, maxLength: 5 }));
  });

  it('write the byte orders and layouts maps expect', () => {
    expect([...encode(codec.u32, 0x11223344)]).toEqual([0x44, 0x33, 0x22, 0x11]);
    expect([...encode(codec.be16, 0x1f90)]).toEqual([0x1f, 0x90]);
    expect([...encode(codec.u64, 1n)]).toEqual([1, 0, 0, 0, 0, 0, 0, 0]);
    expect([...encode(codec.string(6), 'abc')]).toEqual([0x61, 0x62, 0x63, 0, 0, 0]);
    expect(encode(codec.void, undefined).length).toBe(0);
  });

  it('refuse values that do not fit, with a clear error', () => {
    expect(() => encode(codec.u8, 256)).toThrow(CodecError);
    expect(() => encode(codec.u32, -1)).toThrow(/not a u32/);
    expect(() => encode(codec.u32, 1.5)).toThrow(CodecError);
    expect(() => encode(codec.u64, -1n)).toThrow(/unsigned 64-bit/);
    expect(() => encode(codec.bytes(4), new Uint8Array(3))).toThrow(/expected 4 bytes/);
    expect(() => encode(codec.string(4), 'abcd')).toThrow(/needs 5 bytes/);
    expect(() => decode(codec.u64n, encode(codec.u64, 1n << 60n))).toThrow(/too large for a number/);
    expect(() => decode(codec.u32, new Uint8Array(2))).toThrow(/expected 4 bytes/);
  });

  it.skipIf(!HAVE_GCC)('lay out structs as the C compiler does', () => {
    const flow = codec.struct({ proto: codec.u8, port: codec.be16, addr: codec.u32, bytes: codec.u64, tag: codec.u8 });
    const nested = codec.struct({ a: codec.u16, inner: flow, b: codec.array(codec.u8, 3) });
    const packed = codec.struct({ a: codec.u8, b: codec.u32, c: codec.u16 }, { packed: true });
    const src = `#include <stdio.h>
#include <stddef.h>
#include <stdint.h>
struct flow { uint8_t proto; uint16_t port; uint32_t addr; uint64_t bytes; uint8_t tag; };
struct nested { uint16_t a; struct flow inner; uint8_t b[3]; };
struct __attribute__((packed)) packed { uint8_t a; uint32_t b; uint16_t c; };
int main(void) {
  printf("%zu %zu %zu %zu %zu %zu\\n", sizeof(struct flow), offsetof(struct flow, proto), offsetof(struct flow, port), offsetof(struct flow, addr), offsetof(struct flow, bytes), offsetof(struct flow, tag));
  printf("%zu %zu %zu %zu\\n", sizeof(struct nested), offsetof(struct nested, a), offsetof(struct nested, inner), offsetof(struct nested, b));
  printf("%zu %zu %zu %zu\\n", sizeof(struct packed), offsetof(struct packed, a), offsetof(struct packed, b), offsetof(struct packed, c));
  return 0;
}`;
    const dir = join(TMP, 'ebpf');
    mkdirSync(dir, { recursive: true });
    writeFileSync(join(dir, 'layout.c'), src);
    const cc = spawnSync('gcc', ['-o', join(dir, 'layout'), join(dir, 'layout.c')], { encoding: 'utf8' });
    expect(cc.status, cc.stderr).toBe(0);
    const lines = spawnSync(join(dir, 'layout'), { encoding: 'utf8' }).stdout.trim().split('\n');
    expect(lines[0]).toBe([flow.size, ...Object.values(flow.offsets)].join(' '));
    expect(lines[1]).toBe([nested.size, ...Object.values(nested.offsets)].join(' '));
    expect(lines[2]).toBe([packed.size, ...Object.values(packed.offsets)].join(' '));
    const v = { proto: 6, port: 8080, addr: 0x0a000001, bytes: 1n << 40n, tag: 9 };
    expect(decode(flow, encode(flow, v))).toEqual(v);
    expect(() => encode(flow, { proto: 6 } as typeof v)).toThrow(/missing/);
  });
});

/** The same typed operations on a map of each engine; the transcript of what they answered. */
function transcript(make: (spec: MapSpec) => MapHandle): string[] {
  const log: string[] = [];
  const attempt = (what: string, f: () => unknown): void => {
    try {
      log.push(`${what}: ${JSON.stringify(f(), (_k, x) => (typeof x === 'bigint' ? `${x}n` : x))}`);
    } catch (e) {
      log.push(`${what}: ${e instanceof BpfErrnoError ? e.errnoName : (e as Error).constructor.name}`);
    }
  };
  const key = codec.struct({ addr: codec.be32, port: codec.be16 });
  const value = codec.struct({ packets: codec.u64, bytes: codec.u64n, name: codec.string(8) });
  const flows = new TypedMap(make({ name: 'flows', type: MapType.HASH, keySize: key.size, valueSize: value.size, maxEntries: 4, flags: 0 }), key, value);
  attempt('set', () => flows.set({ addr: 0x0a000001, port: 80 }, { packets: 1n, bytes: 60, name: 'web' }).size);
  attempt('set noexist', () => flows.set({ addr: 0x0a000001, port: 80 }, { packets: 2n, bytes: 70, name: 'x' }, 1));
  attempt('get', () => flows.get({ addr: 0x0a000001, port: 80 }));
  attempt('get absent', () => flows.get({ addr: 1, port: 1 }));
  attempt('has', () => [flows.has({ addr: 0x0a000001, port: 80 }), flows.has({ addr: 2, port: 2 })]);
  attempt('set many', () => flows.setMany([[{ addr: 2, port: 22 }, { packets: 5n, bytes: 500, name: 'ssh' }], [{ addr: 3, port: 53 }, { packets: 7n, bytes: 700, name: 'dns' }]]));
  attempt('entries', () => [...flows.entries()].sort((a, b) => a[0].addr - b[0].addr));
  attempt('keys', () => [...flows.keys()].map((k) => k.port).sort((a, b) => a - b));
  attempt('full', () => flows.setMany([[{ addr: 4, port: 4 }, { packets: 0n, bytes: 0, name: '' }], [{ addr: 5, port: 5 }, { packets: 0n, bytes: 0, name: '' }]]));
  attempt('delete', () => [flows.delete({ addr: 2, port: 22 }), flows.delete({ addr: 2, port: 22 })]);
  attempt('delete many', () => flows.deleteMany([{ addr: 3, port: 53 }]));
  attempt('size', () => flows.size);
  attempt('clear', () => {
    flows.clear();
    return flows.size;
  });
  flows.handle.close();

  const q = new TypedMap(make({ name: 'q', type: MapType.QUEUE, keySize: 0, valueSize: 4, maxEntries: 2, flags: 0 }), codec.void, codec.u32);
  attempt('push', () => [q.push(1).peek(), q.push(2).peek()]);
  attempt('push full', () => q.push(3));
  attempt('push replace', () => q.push(3, 2).peek());
  attempt('pop', () => [q.pop(), q.pop(), q.pop()]);
  q.handle.close();

  const bloom = new TypedMap(make({ name: 'b', type: MapType.BLOOM_FILTER, keySize: 0, valueSize: 4, maxEntries: 32, flags: MapFlags.ZERO_SEED }), codec.void, codec.u32);
  attempt('bloom', () => {
    for (let i = 0; i < 20; i++) bloom.push(i * 977);
    return [...Array(200).keys()].map((i) => (bloom.contains(i * 977) ? 1 : 0)).join('');
  });
  bloom.handle.close();

  const pc = new TypedMap(make({ name: 'pc', type: MapType.PERCPU_ARRAY, keySize: 4, valueSize: 4, maxEntries: 2, flags: 0 }), codec.u32, codec.u32);
  attempt('per-CPU get refused', () => pc.get(0));
  attempt('per-CPU', () => {
    pc.setPerCpu(1, Array.from({ length: pc.cpus }, (_, c) => 100 + c));
    return [pc.getPerCpu(0), pc.getPerCpu(1), pc.getPerCpu(5)];
  });
  pc.handle.close();
  return log;
}

describe('TypedMap', () => {
  it('refuses codecs that do not match the map', () => {
    const vm = new Vm();
    const h = vm.createMap({ name: 'h', type: MapType.HASH, keySize: 4, valueSize: 8, maxEntries: 4, flags: 0 });
    expect(() => new TypedMap(h, codec.u64, codec.u64)).toThrow(/4-byte keys/);
    expect(() => new TypedMap(h, codec.u32, codec.u32)).toThrow(/8-byte values/);
  });

  it('works on VM maps', () => {
    const vm = new Vm({ cpus: 3 });
    const log = transcript((s) => vm.createMap(s));
    expect(log).toContain('get: {"packets":"1n","bytes":60,"name":"web"}');
    expect(log).toContain('set noexist: EEXIST');
    expect(log).toContain('full: E2BIG');
    expect(log).toContain('pop: [2,3,null]');
    expect(log).toContain('per-CPU: [[0,0,0],[100,101,102],null]');
  });

  it.skipIf(!CAN_BPF)('answers on a VM map exactly as on a kernel map', () => {
    const vm = new Vm({ cpus: possibleCpus() });
    expect(transcript((s) => vm.createMap(s))).toEqual(transcript((s) => createMap(s)));
  });
});
