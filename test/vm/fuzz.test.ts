/**
 * Bad input never crashes the VM: random bytes and random instruction
 * streams, loaded with and without the structural validator and run on every
 * program kind, end in a result or a typed BpfkitError, within the
 * instruction budget; and no program touches memory it was not given (a
 * canary map the programs cannot name stays as it was).
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { BpfkitError } from '../../src/errors.js';
import { type Instruction, decode } from '../../src/ebpf/insn.js';
import { MapType, ProgType } from '../../src/ebpf/types.js';
import { Vm } from '../../src/vm/index.js';

const KINDS = [ProgType.UNSPEC, ProgType.SOCKET_FILTER, ProgType.SCHED_CLS, ProgType.XDP, ProgType.KPROBE];

/** Opcodes the ISA defines, so that random streams get past decoding often. */
const OPCODES = [
  ...[0x04, 0x07].flatMap((c) => [0x00, 0x10, 0x20, 0x30, 0x40, 0x50, 0x60, 0x70, 0x80, 0x90, 0xa0, 0xb0, 0xc0, 0xd0].flatMap((op) => [c | op, c | op | 8])),
  ...[0x05, 0x06].flatMap((c) => [0x00, 0x10, 0x20, 0x30, 0x40, 0x50, 0x60, 0x70, 0xa0, 0xb0, 0xc0, 0xd0].flatMap((op) => [c | op, c | op | 8])),
  0x85, 0x8d, 0x95, 0x18, 0x20, 0x28, 0x30, 0x40, 0x48, 0x50,
  0x61, 0x69, 0x71, 0x79, 0x81, 0x89, 0x91, 0x62, 0x6a, 0x72, 0x7a, 0x63, 0x6b, 0x73, 0x7b, 0xc3, 0xdb,
];

const anyImm = fc.oneof(
  fc.integer({ min: -16, max: 64 }),
  fc.constantFrom(1, 5, 6, 7, 8, 12, 14, 16, 25, 26, 32, 44, 64, 65, 0x7fffffff, -0x80000000),
  fc.integer({ min: -0x80000000, max: 0x7fffffff }),
);
const reg = fc.oneof({ weight: 3, arbitrary: fc.constantFrom(0, 1, 2, 10) }, { weight: 7, arbitrary: fc.integer({ min: 0, max: 10 }) });

/** Mostly well-formed fields for the opcode (so that most streams load), sometimes anything. */
const instruction: fc.Arbitrary<Instruction> = fc.oneof(
  {
    weight: 9,
    arbitrary: fc.constantFrom(...OPCODES).chain((code) => {
      const cls = code & 7;
      const x = (code & 8) !== 0;
      const op = code & 0xf0;
      if (cls === 4 || cls === 7) {
        const off = op === 0x30 || op === 0x90 ? fc.constantFrom(0, 1) : op === 0xb0 && x ? fc.constantFrom(0, 0, 8, 16, cls === 7 ? 32 : 8) : fc.constant(0);
        const imm = op === 0xd0 ? fc.constantFrom(16, 32, 64) : x || op === 0x80 ? fc.constant(0) : op >= 0x60 && op <= 0x70 ? fc.integer({ min: 0, max: 31 }) : anyImm;
        return fc.record({ code: fc.constant(code), dst: fc.integer({ min: 0, max: 9 }), src: x ? reg : fc.constant(0), off, imm });
      }
      if (cls === 5 || cls === 6) {
        if (op === 0x80) return fc.record({ code: fc.constant(code), dst: x ? reg : fc.constant(0), src: fc.constant(0), off: fc.constant(0), imm: fc.constantFrom(1, 2, 3, 5, 6, 7, 8, 12, 14, 113, 130, 131, 181) });
        if (op === 0x90) return fc.constant({ code, dst: 0, src: 0, off: 0, imm: 0 });
        return fc.record({ code: fc.constant(code), dst: reg, src: x ? reg : fc.constant(0), off: fc.integer({ min: -3, max: 6 }), imm: x ? fc.constant(0) : anyImm });
      }
      return fc.record({ code: fc.constant(code), dst: reg, src: reg, off: fc.integer({ min: -520, max: 520 }), imm: anyImm });
    }),
  },
  {
    weight: 1,
    arbitrary: fc.record({
      code: fc.integer({ min: 0, max: 255 }),
      dst: fc.integer({ min: 0, max: 15 }),
      src: fc.integer({ min: 0, max: 15 }),
      off: fc.integer({ min: -32768, max: 32767 }),
      imm: anyImm,
    }),
  },
);

interface Outcome {
  loaded: number;
  ran: number;
  typed: number;
}

function tryProgram(vm: Vm, insns: Instruction[], type: ProgType, data: Uint8Array, out: Outcome): void {
  let p;
  try {
    p = vm.loadProgram({ name: 'fuzz', type, license: 'GPL', instructions: insns, references: [] });
  } catch (e) {
    if (!(e instanceof BpfkitError)) throw e;
    out.typed++;
    return;
  }
  out.loaded++;
  try {
    p.run(type === ProgType.KPROBE ? { ctx: data.slice(0, 64) } : { data, budget: 20_000 });
    out.ran++;
  } catch (e) {
    if (!(e instanceof BpfkitError)) throw e;
    out.typed++;
  } finally {
    p.close();
  }
}

describe('fuzzing the VM', () => {
  it('random bytes: a result or a typed error, never a crash', () => {
    const out: Outcome = { loaded: 0, ran: 0, typed: 0 };
    const vms = [new Vm({ validate: false, budget: 20_000 }), new Vm({ validate: true, budget: 20_000 })];
    fc.assert(
      fc.property(fc.uint8Array({ minLength: 0, maxLength: 400 }), fc.constantFrom(...KINDS), fc.boolean(), (bytes, type, validate) => {
        const vm = vms[validate ? 1 : 0]!;
        let insns: Instruction[];
        try {
          insns = decode(bytes);
        } catch (e) {
          expect(e).toBeInstanceOf(BpfkitError);
          return;
        }
        tryProgram(vm, insns, type, new Uint8Array(64).fill(7), out);
      }),
      { numRuns: 1500 },
    );
    expect(out.typed).toBeGreaterThan(0);
  });

  it('random instruction streams on every program kind: a result or a typed error within the budget', () => {
    const out: Outcome = { loaded: 0, ran: 0, typed: 0 };
    const vms = [new Vm({ validate: false, budget: 20_000, callx: true }), new Vm({ validate: true, budget: 20_000, callx: true })];
    fc.assert(
      fc.property(
        fc.array(instruction, { minLength: 1, maxLength: 60 }),
        fc.constantFrom(...KINDS),
        fc.boolean(),
        fc.uint8Array({ minLength: 14, maxLength: 200 }),
        (insns, type, validate, data) => {
          // Give the stream an exit, as most real programs have.
          const prog = [...insns, { code: 0x95, dst: 0, src: 0, off: 0, imm: 0 }];
          const t0 = performance.now();
          tryProgram(vms[validate ? 1 : 0]!, prog, type, data, out);
          expect(performance.now() - t0).toBeLessThan(5000);
        },
      ),
      { numRuns: 3000 },
    );
    console.log(`random instruction streams: ${out.loaded} loaded, ${out.ran} ran to the end, ${out.typed} typed errors`);
    expect(out.ran).toBeGreaterThan(50);
    expect(out.loaded).toBeGreaterThan(out.ran);
  });

  it('programs cannot reach a map they do not name, by forged addresses, overflows or forged handles', () => {
    const vm = new Vm({ budget: 20_000, validate: false });
    const canary = vm.createMap({ name: 'canary', type: MapType.ARRAY, keySize: 4, valueSize: 64, maxEntries: 4, flags: 0 });
    const key = (i: number) => Uint8Array.of(i, 0, 0, 0);
    for (let i = 0; i < 4; i++) canary.update(key(i), new Uint8Array(64).fill(0xaa));
    const values = canary as unknown as { arena: { bases: number[] } };
    const base = values.arena.bases[0]!;
    // Loads, stores, atomics and probe_read (helper 113) at r1 (the memory), r10 (the stack), and at
    // addresses inside the canary's values; and map helpers (1, 2) given the canary's handle.
    const pointerish = fc.record({
      code: fc.constantFrom(0x61, 0x69, 0x71, 0x79, 0x62, 0x6a, 0x72, 0x7a, 0x63, 0x6b, 0x73, 0x7b, 0xc3, 0xdb, 0x07, 0xb7, 0x18, 0x85),
      dst: fc.constantFrom(0, 1, 2, 3, 10),
      src: fc.constantFrom(0, 1, 2, 3, 10),
      off: fc.integer({ min: -600, max: 600 }),
      imm: fc.oneof(fc.integer({ min: -700, max: 700 }), fc.integer({ min: base - 64, max: base + 320 }), fc.constant(canary.handle)),
    });
    const out: Outcome = { loaded: 0, ran: 0, typed: 0 };
    fc.assert(
      fc.property(fc.array(pointerish, { minLength: 1, maxLength: 40 }), (insns) => {
        const prog: Instruction[] = [];
        for (const i of insns) {
          if (i.code === 0x85) prog.push({ ...i, src: 0, imm: [113, 1, 2][Math.abs(i.off) % 3]! });
          else if (i.code === 0x18) prog.push({ ...i, src: 0 }, { code: 0, dst: 0, src: 0, off: 0, imm: 0 });
          else prog.push(i);
        }
        tryProgram(vm, [...prog, { code: 0x95, dst: 0, src: 0, off: 0, imm: 0 }], ProgType.UNSPEC, new Uint8Array(32), out);
        for (let i = 0; i < 4; i++) expect(canary.lookup(key(i))!.every((b) => b === 0xaa)).toBe(true);
      }),
      { numRuns: 3000 },
    );
    expect(out.typed).toBeGreaterThan(100);
  });
});
