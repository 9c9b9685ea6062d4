/**
 * The WebAssembly back end returns what the interpreter returns: fast-check
 * over random valid programs (every opcode; backward jumps take the
 * jitBatch() fallback) and random packets laid out with junk between them,
 * for each read-ahead setting; and its store checks what it is given. The
 * corpus comparison with libpcap is in differential.test.ts.
 */
import fc from 'fast-check';
import { describe, expect, it, vi } from 'vitest';
import {
  BPF_ABS, BPF_ALU, BPF_B, BPF_IND, BPF_JA, BPF_JMP, BPF_K, BPF_LD, BPF_LSH, BPF_RET, BPF_RSH, BPF_A, BPF_X, BPF_LDX, BPF_IMM, BPF_W,
  CbpfValidationError, interpret, isValid, jump, stmt, type CbpfInsn, BPF_JEQ,
} from '../../src/cbpf/index.js';
import { WasmPackets, jitWasm, jitWasmBatch, wasmModuleBytes } from '../../src/cbpf/wasm.js';
import { jitBatch } from '../../src/cbpf/jit.js';
import { UsageError } from '../../src/errors.js';
import { packetArb, programArb } from './gen.js';

function storeOf(packets: readonly [Uint8Array, number, number][]): { store: WasmPackets; wire: number[] } {
  const total = packets.reduce((s, [d, , gap]) => s + d.length + gap, 0);
  const buffer = new Uint8Array(total).fill(0xa5);
  const offsets: number[] = [], caplens: number[] = [], wire: number[] = [];
  let at = 0;
  for (const [d, extra, gap] of packets) {
    at += gap;
    buffer.set(d, at);
    offsets.push(at);
    caplens.push(d.length);
    wire.push(d.length + extra);
    at += d.length;
  }
  return { store: WasmPackets.from({ buffer, offsets, caplens, wireLengths: wire }), wire };
}

describe('wasm JIT = interpreter', () => {
  it('on random valid programs and packets (fast-check), with and without read-ahead', () => {
    let verdicts = 0, compiled = 0;
    fc.assert(
      fc.property(
        programArb({ backward: true, extensions: true, maxLength: 40 }).filter((p) => isValid(p, 'libpcap')),
        fc.array(fc.tuple(packetArb(), fc.nat({ max: 2000 }), fc.nat({ max: 7 })), { minLength: 8, maxLength: 40 }),
        fc.constantFrom(0, 1, 4, 32),
        (prog, packets, prefetch) => {
          const { store, wire } = storeOf(packets);
          if (wasmModuleBytes(prog)) compiled++;
          const kept = jitWasm(prog, { cache: false, prefetch })(store, true);
          const out = store.verdicts();
          let expectedKept = 0;
          for (let i = 0; i < packets.length; i++) {
            const e = interpret(prog, packets[i]![0], wire[i]);
            if (e !== 0) expectedKept++;
            verdicts++;
            if (out[i] !== e) return false;
          }
          return kept === expectedKept && jitWasm(prog, { cache: false, prefetch })(store) === kept;
        },
      ),
      { numRuns: 2500, seed: 0xa5a5 },
    );
    expect(verdicts).toBeGreaterThanOrEqual(20_000);
    expect(compiled).toBeGreaterThan(2000); // most programs really ran as wasm, not through the fallback
  });

  it('on edge cases: wrapping indirect offsets, shifts by X >= 32, division by X = 0, 32-bit loads at the end', () => {
    const progs: CbpfInsn[][] = [
      [stmt(BPF_LDX | BPF_W | BPF_IMM, 0xfffffffe), stmt(BPF_LD | BPF_B | BPF_IND, 3), stmt(BPF_RET | BPF_A)],
      [stmt(BPF_LDX | BPF_W | BPF_IMM, 2), stmt(BPF_LD | BPF_W | BPF_IND, 0xffffffff), stmt(BPF_RET | BPF_A)],
      [stmt(BPF_LD | BPF_W | BPF_ABS, 0), stmt(BPF_LDX | BPF_W | BPF_IMM, 32), stmt(BPF_ALU | BPF_LSH | BPF_X), stmt(BPF_RET | BPF_A)],
      [stmt(BPF_LD | BPF_W | BPF_ABS, 0), stmt(BPF_LDX | BPF_W | BPF_IMM, 31), stmt(BPF_ALU | BPF_RSH | BPF_X), stmt(BPF_RET | BPF_A)],
      [stmt(BPF_LD | BPF_W | BPF_ABS, 0), stmt(BPF_ALU | 0x30 | BPF_X), stmt(BPF_RET | BPF_K, 9)],
      [stmt(BPF_LD | BPF_W | BPF_ABS, 4), stmt(BPF_RET | BPF_A)],
      [stmt(BPF_LD | BPF_B | BPF_ABS, 0xfffff000), stmt(BPF_RET | BPF_K, 1)],
      [stmt(BPF_LD | BPF_B | BPF_ABS, 0), jump(BPF_JMP | BPF_JEQ | BPF_K, 0xff, 1, 0), stmt(BPF_JMP | BPF_JA, 1), stmt(BPF_RET | BPF_A), stmt(BPF_RET | BPF_K, 0xffffffff)],
    ];
    const packets: [Uint8Array, number, number][] = [
      [Uint8Array.of(), 0, 0], [Uint8Array.of(0xff), 3, 1], [Uint8Array.of(0x80, 1, 2, 3, 4, 5, 6, 7), 0, 2],
      [Uint8Array.of(0xff, 0xfe, 0xfd, 0xfc, 0xfb, 0xfa, 0xf9, 0xf8), 100, 0], [new Uint8Array(3), 0, 5],
    ];
    const { store, wire } = storeOf(packets);
    for (const prog of progs) {
      expect(isValid(prog, 'libpcap')).toBe(true);
      expect(wasmModuleBytes(prog)).toBeDefined();
      jitWasm(prog, { cache: false })(store, true);
      const want = packets.map(([d], i) => interpret(prog, d, wire[i]));
      expect([...store.verdicts()]).toEqual(want);
    }
  });

  it('falls back to the batch JIT for backward jumps, and validates', () => {
    const back = [stmt(BPF_LD | BPF_B | BPF_ABS, 0), jump(BPF_JMP | BPF_JEQ | BPF_K, 1, 1, 0), stmt(BPF_JMP | BPF_JA, -3), stmt(BPF_RET | BPF_K, 2)];
    expect(wasmModuleBytes(back)).toBeUndefined();
    const { store } = storeOf([[Uint8Array.of(1), 0, 0], [Uint8Array.of(0), 0, 0]]);
    expect(jitWasm(back)(store, true)).toBe(1);
    expect([...store.verdicts()]).toEqual([2, 0]);
    expect(() => jitWasm([stmt(BPF_LD | BPF_W | BPF_ABS, 0)])).toThrow(CbpfValidationError);
    expect(() => jitWasm([stmt(BPF_RET | BPF_K, 1)], { prefetch: 3 })).toThrow(UsageError);
  });

  it('the store refuses packets outside its buffer, and the filter re-checks the arrays', () => {
    const buffer = new Uint8Array(10);
    expect(() => WasmPackets.from({ buffer, offsets: [0, 6], caplens: [5, 5] })).toThrow(/packet 1 \(offset 6, length 5\) is not inside the 10-byte buffer/);
    expect(() => WasmPackets.from({ buffer, offsets: [0], caplens: [5], count: 2 })).toThrow(UsageError);
    const store = WasmPackets.from({ buffer, offsets: [0, 5], caplens: [5, 5], wireLengths: [60, 70] });
    const len = jitWasm([stmt(BPF_LD | BPF_W | 0x80), stmt(BPF_RET | BPF_A)]);
    expect(len(store, true)).toBe(2);
    expect([...store.verdicts()]).toEqual([60, 70]);
    // Filled in place (e.g. a file read straight into the memory): same verdicts.
    const filled = WasmPackets.fill(10, (data) => {
      data.set([1, 2, 3, 4, 5, 6, 7, 8, 9, 10]);
      return { offsets: [0, 5], caplens: [5, 5], wireLengths: [60, 70] };
    });
    const first = jitWasm([stmt(BPF_LD | BPF_B | BPF_ABS, 0), stmt(BPF_RET | BPF_A)]);
    expect(first(filled, true)).toBe(2);
    expect([...filled.verdicts()]).toEqual([1, 6]);
    expect(() => WasmPackets.fill(10, () => ({ offsets: [8], caplens: [5] }))).toThrow(/packet 0 \(offset 8, length 5\) is not inside/);
    store.batch.caplens[1] = 6; // now past the data
    expect(() => jitWasm([stmt(BPF_RET | BPF_K, 1)])(store)).toThrow(/packet 1 .* is not inside the packet data/);
  });

  it('jitWasmBatch: batches laid out in the store (a chunk of a file read into it) run as wasm, any other batch through jitBatch(), same verdicts', () => {
    const CAP = 64;
    const store = WasmPackets.allocate(4096, CAP);
    const { offsets, caplens, wireLengths, buffer: data } = store.batch;
    let runs = 0;
    fc.assert(
      fc.property(
        programArb({ backward: true, extensions: true, maxLength: 30 }).filter((p) => isValid(p, 'libpcap')),
        fc.array(fc.tuple(packetArb(), fc.nat({ max: 2000 })), { minLength: 1, maxLength: CAP }),
        fc.nat({ max: 4096 }),
        (prog, packets, seed) => {
          // The packets one after another in the store's data, as a chunk of `used` bytes; the rest of the data is junk.
          data.fill(seed & 0xff);
          let at = 0, n = 0;
          for (const [d, extra] of packets) {
            if (at + d.length > data.length) break;
            data.set(d, at);
            offsets[n] = at;
            caplens[n] = d.length;
            wireLengths[n] = d.length + extra;
            at += d.length;
            n++;
          }
          const chunk = data.subarray(0, at);
          const inStore = { buffer: chunk, offsets, caplens, wireLengths, count: n };
          const copy = { buffer: chunk.slice(), offsets: offsets.slice(0, n), caplens: caplens.slice(0, n), wireLengths: wireLengths.slice(0, n) };
          const wasm = jitWasmBatch(prog, store, { cache: false });
          const js = jitBatch(prog, { cache: false });
          const want = new Uint32Array(n), got = new Uint32Array(n), other = new Uint32Array(n);
          const kept = js(copy, want);
          for (let i = 0; i < n; i++) if (want[i] !== interpret(prog, copy.buffer.subarray(offsets[i]!, offsets[i]! + caplens[i]!), wireLengths[i])) return false;
          runs++;
          return (
            wasm(inStore, got) === kept && got.every((v, i) => v === want[i]) &&
            wasm(inStore) === kept &&
            // Verdicts straight into the store's own array.
            wasm(inStore, store.verdicts()) === kept && store.verdicts().subarray(0, n).every((v, i) => v === want[i]) &&
            // Not in the store: the fallback.
            wasm(copy, other) === kept && other.every((v, i) => v === want[i])
          );
        },
      ),
      { numRuns: 600, seed: 0x5eed },
    );
    expect(runs).toBe(600);
    // The store's own batch really runs in wasm: a packet placed outside the chunk is caught there.
    caplens[0] = 4000;
    offsets[0] = 0;
    expect(() => jitWasmBatch([stmt(BPF_RET | BPF_K, 1)], store)({ buffer: data.subarray(0, 100), offsets, caplens, wireLengths, count: 1 })).toThrow(
      /packet 0 .* is not inside the packet data/,
    );
  });

  it('works when its module was loaded where WebAssembly was missing (a V8 start-up snapshot is built without it)', async () => {
    const g = globalThis as { WebAssembly?: unknown };
    const saved = g.WebAssembly;
    let mod: typeof import('../../src/cbpf/wasm.js');
    try {
      delete g.WebAssembly;
      vi.resetModules();
      mod = await import('../../src/cbpf/wasm.js');
      expect(() => mod.WasmPackets.allocate(10, 1)).toThrow(/no WebAssembly/);
    } finally {
      g.WebAssembly = saved;
    }
    const store = mod.WasmPackets.from({ buffer: Uint8Array.of(1, 0, 3), offsets: [0, 1, 2], caplens: [1, 1, 1] });
    const prog = [stmt(BPF_LD | BPF_B | BPF_ABS, 0), stmt(BPF_RET | BPF_A)];
    expect(mod.wasmModuleBytes(prog)).toBeDefined();
    expect(mod.jitWasm(prog, { cache: false })(store)).toBe(2);
  });
});
