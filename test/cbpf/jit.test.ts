/**
 * The JIT returns what the interpreter returns: a fast-check property over
 * random valid programs (forward and backward jumps, every opcode, ancillary
 * and negative-offset loads) and random packets, with and without Linux
 * metadata.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  BPF_A, BPF_ABS, BPF_JA, BPF_JEQ, BPF_JMP, BPF_K, BPF_LD, BPF_RET, BPF_W, CbpfValidationError, clearJitCache,
  interpret, isValid, jit, jitBatch, jitSource, jump, stmt, type CbpfInsn,
} from '../../src/cbpf/index.js';
import { UsageError } from '../../src/errors.js';
import { metaArb, packetArb, programArb } from './gen.js';

describe('JIT = interpreter', () => {
  it('on random valid programs and packets (fast-check)', () => {
    let programs = 0;
    let verdicts = 0;
    fc.assert(
      fc.property(
        programArb({ backward: true, extensions: true, maxLength: 40 }).filter((p) => isValid(p, 'libpcap')),
        fc.array(fc.tuple(packetArb(), fc.nat({ max: 2000 }), metaArb()), { minLength: 8, maxLength: 24 }),
        (prog, packets) => {
          const f = jit(prog, { cache: false });
          programs++;
          for (const [data, extra, meta] of packets) {
            const wire = data.length + extra;
            const expected = interpret(prog, data, wire, meta);
            const got = f(data, wire, meta);
            verdicts++;
            if (got !== expected) return false;
          }
          return true;
        },
      ),
      { numRuns: 3000, seed: 0x5eed },
    );
    expect(programs).toBe(3000);
    expect(verdicts).toBeGreaterThan(30_000);
  });

  it('loads compared right away (fused into byte comparisons) keep their meaning', () => {
    // ld/ldh [k]; jeq #K, then random code that may or may not read A.
    fc.assert(
      fc.property(
        fc.constantFrom(0x20, 0x28),
        fc.integer({ min: 0, max: 20 }),
        fc.oneof(fc.constant(0x0800), fc.constant(0x86dd), fc.nat(), fc.constant(0xc0a80101)),
        programArb({ maxLength: 12 }),
        fc.array(packetArb(), { minLength: 8, maxLength: 16 }),
        (code, k, K, rest, packets) => {
          const body = rest.slice(0, -1);
          const prog: CbpfInsn[] = [
            { code, jt: 0, jf: 0, k },
            { code: 0x15, jt: body.length > 0 ? body.length % 3 : 0, jf: 0, k: K >>> 0 },
            ...body,
            rest[rest.length - 1]!,
          ];
          if (!isValid(prog, 'libpcap')) return true;
          const f = jit(prog, { cache: false });
          return packets.every((p) => f(p, p.length) === interpret(prog, p, p.length));
        },
      ),
      { numRuns: 1500, seed: 11 },
    );
    const src = jitSource([stmt(0x28, 12), jump(0x15, 0x800, 0, 1), stmt(BPF_RET | BPF_K, 1), stmt(BPF_RET | BPF_K, 0)]);
    expect(src).toContain('p[12] === 8 && p[13] === 0');
    const live = jitSource([stmt(0x28, 12), jump(0x15, 0x800, 0, 1), stmt(BPF_RET | BPF_A), stmt(BPF_RET | BPF_K, 0)]);
    expect(live).not.toContain('p[12] === 8');
  });

  it('the batch form gives the same verdicts over packets stored in one buffer', () => {
    let verdicts = 0;
    fc.assert(
      fc.property(
        programArb({ backward: true, extensions: true, maxLength: 40 }).filter((p) => isValid(p, 'libpcap')),
        fc.array(fc.tuple(packetArb(), fc.nat({ max: 2000 }), fc.nat({ max: 7 })), { minLength: 8, maxLength: 24 }),
        (prog, packets) => {
          // Lay the packets out with gaps of junk between them.
          const total = packets.reduce((s, [d, , gap]) => s + d.length + gap, 0);
          const buffer = new Uint8Array(total).fill(0xa5);
          const offsets = new Uint32Array(packets.length);
          const caplens = new Uint32Array(packets.length);
          const wire = new Uint32Array(packets.length);
          let at = 0;
          packets.forEach(([d, extra, gap], i) => {
            at += gap;
            buffer.set(d, at);
            offsets[i] = at;
            caplens[i] = d.length;
            wire[i] = d.length + extra;
            at += d.length;
          });
          const out = new Uint32Array(packets.length);
          const kept = jitBatch(prog, { cache: false })({ buffer, offsets, caplens, wireLengths: wire }, out);
          let expectedKept = 0;
          for (let i = 0; i < packets.length; i++) {
            const e = interpret(prog, packets[i]![0], wire[i]);
            if (e !== 0) expectedKept++;
            verdicts++;
            if (out[i] !== e) return false;
          }
          return kept === expectedKept;
        },
      ),
      { numRuns: 1500, seed: 7 },
    );
    expect(verdicts).toBeGreaterThan(10_000);
  });

  it('the batch form checks its arrays', () => {
    const f = jitBatch([stmt(BPF_RET | BPF_K, 1)]);
    const buffer = new Uint8Array(10);
    expect(f({ buffer, offsets: [0, 5], caplens: [5, 5] })).toBe(2);
    expect(f({ buffer, offsets: [0, 5], caplens: [5, 5], wireLengths: [60, 60], count: 1 })).toBe(1);
    expect(() => f({ buffer, offsets: [0, 6], caplens: [5, 5] })).toThrow(/packet 1 \(offset 6, length 5\) is not inside the 10-byte buffer/);
    expect(() => f({ buffer, offsets: [0], caplens: [5], count: 2 })).toThrow(UsageError);
    expect(() => f({ buffer, offsets: [0, 1], caplens: [1, 1] }, new Uint32Array(1))).toThrow(UsageError);
  });

  it('on kernel-valid programs with metadata only', () => {
    fc.assert(
      fc.property(
        programArb({ extensions: true, maxLength: 60 }).filter((p) => isValid(p, 'kernel')),
        packetArb(),
        metaArb().filter((m) => m !== undefined),
        (prog, data, meta) => jit(prog, { mode: 'kernel', cache: false })(data, data.length, meta) === interpret(prog, data, data.length, meta),
      ),
      { numRuns: 2000, seed: 42 },
    );
  });

  it('refuses invalid programs with the validator error', () => {
    expect(() => jit([stmt(BPF_LD | BPF_W | BPF_ABS, 0)])).toThrow(CbpfValidationError);
    expect(() => jit([stmt(BPF_JMP | BPF_JA, -2), stmt(BPF_RET | BPF_A)], { mode: 'kernel' })).toThrow(/backward/);
  });

  it('uses straight-line code for forward programs and a loop for backward jumps', () => {
    const fwd = [stmt(BPF_LD | BPF_W | BPF_ABS, 0), jump(BPF_JMP | BPF_JEQ | BPF_K, 1, 0, 1), stmt(BPF_RET | BPF_K, 1), stmt(BPF_RET | BPF_K, 0)];
    expect(jitSource(fwd)).not.toContain('switch');
    const back = [stmt(BPF_LD | BPF_W | BPF_ABS, 0), jump(BPF_JMP | BPF_JEQ | BPF_K, 1, 0, 1), stmt(BPF_JMP | BPF_JA, -3), stmt(BPF_RET | BPF_K, 0)];
    expect(jitSource(back)).toContain('switch');
  });

  it('compiles the largest programs (4096 instructions, thousands of jump targets)', () => {
    const prog: CbpfInsn[] = [];
    const n = 4096;
    for (let i = 0; i < n - 2; i++) {
      if (i % 2 === 0) prog.push(stmt(BPF_LD | BPF_W | BPF_ABS, i % 64));
      else prog.push(jump(BPF_JMP | BPF_JEQ | BPF_K, i, 0, Math.min(3, n - i - 2)));
    }
    prog.push(stmt(BPF_RET | BPF_K, 7), stmt(BPF_RET | BPF_K, 0));
    expect(isValid(prog, 'kernel')).toBe(true);
    const f = jit(prog);
    const data = new Uint8Array(100);
    expect(f(data)).toBe(interpret(prog, data));
    const data2 = new Uint8Array(30);
    expect(f(data2)).toBe(interpret(prog, data2));
  });

  it('caches compiled functions by program content', () => {
    clearJitCache();
    const prog = [stmt(BPF_RET | BPF_K, 5)];
    expect(jit(prog)).toBe(jit([{ code: BPF_RET | BPF_K, jt: 0, jf: 0, k: 5 }]));
    expect(jit(prog, { cache: false })).not.toBe(jit(prog));
  });
});
