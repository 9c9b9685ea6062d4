/**
 * Fuzz and property tests: random bytes through decode, the validator and
 * both disassemblers (which must print something that assembles back to the
 * same bytes, valid or not); random instruction streams through the
 * assembler round trip; random and mutated text through the assembler and
 * the .data reader, which may only fail with their typed errors.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  AsmError,
  EbpfValidationError,
  HexFormatError,
  InstructionDecodeError,
  assemble,
  checkInstruction,
  decode,
  disassemble,
  encode,
  parseDataFile,
  parseHex,
  validationErrors,
} from '../../src/ebpf/index.js';
import { validSamples } from './samples.js';

const hex = (b: Uint8Array) => Buffer.from(b).toString('hex');
const slots = (max: number) => fc.uint8Array({ minLength: 8, maxLength: 8 * max }).map((b) => b.subarray(0, b.length - (b.length % 8)));

describe('random bytes', () => {
  it('decode/encode are inverse in both byte orders', () => {
    fc.assert(
      fc.property(slots(40), fc.boolean(), (b, le) => {
        expect(hex(encode(decode(b, le), le))).toBe(hex(b));
        // The other byte order swaps the register nibbles and the byte order of off and imm.
        const other = encode(decode(b, le), !le);
        expect(hex(encode(decode(other, !le), le))).toBe(hex(b));
      }),
      { numRuns: 500 },
    );
  });

  it('a length that is not a multiple of 8 is an InstructionDecodeError', () => {
    fc.assert(
      fc.property(
        fc.uint8Array({ maxLength: 100 }).filter((b) => b.length % 8 !== 0),
        (b) => {
          expect(() => decode(b)).toThrow(InstructionDecodeError);
        },
      ),
      { numRuns: 200 },
    );
  });

  it('validate, disassemble and re-assemble anything: the text gives back the same bytes', () => {
    fc.assert(
      fc.property(slots(24), fc.constantFrom('llvm' as const, 'ubpf' as const), fc.boolean(), (b, syntax, labels) => {
        const insns = decode(b);
        for (const e of validationErrors(insns)) {
          expect(e).toBeInstanceOf(EbpfValidationError);
          expect(e.index).toBeLessThan(insns.length);
        }
        const text = disassemble(insns, { syntax, labels, comments: true });
        expect(hex(encode(assemble(text)))).toBe(hex(b));
        // objdump mode never throws either.
        disassemble(insns, { objdump: true, hex: labels });
      }),
      { numRuns: 1500 },
    );
  });

  it('the same for streams of valid opcodes with random fields (valid and invalid, jumps landing anywhere)', () => {
    const codes = [...new Set(validSamples(1, 3).map((e) => e[0]!.code))];
    const slot = fc.record({
      code: fc.oneof({ weight: 9, arbitrary: fc.constantFrom(...codes) }, { weight: 1, arbitrary: fc.constant(0) }),
      dst: fc.oneof({ weight: 9, arbitrary: fc.integer({ min: 0, max: 10 }) }, { weight: 1, arbitrary: fc.integer({ min: 0, max: 15 }) }),
      src: fc.oneof({ weight: 5, arbitrary: fc.constant(0) }, { weight: 4, arbitrary: fc.integer({ min: 0, max: 10 }) }, { weight: 1, arbitrary: fc.integer({ min: 0, max: 15 }) }),
      off: fc.oneof({ weight: 4, arbitrary: fc.constant(0) }, { weight: 5, arbitrary: fc.integer({ min: -12, max: 12 }) }, { weight: 1, arbitrary: fc.integer({ min: -32768, max: 32767 }) }),
      imm: fc.oneof(
        { weight: 4, arbitrary: fc.constant(0) },
        { weight: 4, arbitrary: fc.integer({ min: -12, max: 64 }) },
        { weight: 1, arbitrary: fc.constantFrom(0x01, 0x40, 0x41, 0x50, 0x51, 0xa0, 0xa1, 0xe1, 0xf1) },
        { weight: 1, arbitrary: fc.integer({ min: -0x80000000, max: 0x7fffffff }) },
      ),
    });
    let valid = 0;
    let total = 0;
    fc.assert(
      fc.property(fc.array(slot, { minLength: 1, maxLength: 30 }), fc.constantFrom('llvm' as const, 'ubpf' as const), fc.boolean(), (insns, syntax, labels) => {
        for (let i = 0; i < insns.length; i++) {
          total++;
          if (!checkInstruction(insns[i]!, insns[i + 1])) valid++;
        }
        validationErrors(insns);
        const b = encode(insns);
        const text = disassemble(decode(b), { syntax, labels, comments: true });
        expect(hex(encode(assemble(text)))).toBe(hex(b));
      }),
      { numRuns: 1500 },
    );
    // The mix is a real mix.
    expect(valid / total).toBeGreaterThan(0.2);
    expect(valid / total).toBeLessThan(0.9);
  });

  it('random streams of valid instructions round-trip in both syntaxes', () => {
    const samples = validSamples(8, 7);
    const stream = fc.array(fc.integer({ min: 0, max: samples.length - 1 }), { minLength: 1, maxLength: 40 }).map((ix) => ix.flatMap((k) => samples[k]!));
    fc.assert(
      fc.property(stream, (insns) => {
        for (let i = 0; i < insns.length; i++) {
          expect(checkInstruction(insns[i]!, insns[i + 1])).toBeUndefined();
          if (insns[i]!.code === 0x18) i++;
        }
        for (const syntax of ['llvm', 'ubpf'] as const) {
          const text = disassemble(insns, { syntax });
          expect(hex(encode(assemble(text)))).toBe(hex(encode(insns)));
          // Every invalid program is invalid for a reason that names a slot of the program, or the whole of it.
          for (const e of validationErrors(insns)) expect(e.index).toBeGreaterThanOrEqual(-1);
        }
      }),
      { numRuns: 500 },
    );
  });
});

describe('labels', () => {
  // Names that are also mnemonics, keywords or hex digits must still work as labels.
  const names = ['a', 'bad', 'cafe', 'exit', 'goto', 'if', 'call', 'local', 'helper', 'runtime', 'lock', 'fetch', 'mov', 'ldxw', 'll', 'L1', '_x', '.Ltmp3', 'x.y$z', 'LBB0_2'];
  it('resolve to the right offsets in both syntaxes, whatever their names', () => {
    fc.assert(
      fc.property(
        fc.uniqueArray(fc.constantFrom(...names), { minLength: 1, maxLength: 6 }),
        fc.array(fc.tuple(fc.nat(), fc.nat({ max: 3 })), { minLength: 1, maxLength: 25 }),
        fc.array(fc.nat(), { minLength: 6, maxLength: 6 }),
        (labels, body, where) => {
          const n = body.length;
          const at = new Map(labels.map((l, k) => [l, where[k]! % (n + 1)]));
          for (const syntax of ['llvm', 'ubpf'] as const) {
            const lines: string[] = [];
            const expected: { code: number; src: number; off: number; imm: number }[] = [];
            body.forEach(([pick, kind], i) => {
              for (const [l, p] of at) if (p === i) lines.push(`${l}:`);
              const label = labels[pick % labels.length]!;
              const delta = at.get(label)! - (i + 1);
              const llvm = [`goto ${label}`, `if r1 == 0 goto ${label}`, `call ${label}`, `gotol ${label}`][kind]!;
              const ubpf = [`ja ${label}`, `jeq %r1, 0, ${label}`, `call local ${label}`, `ja32 ${label}`][kind]!;
              lines.push(syntax === 'llvm' ? llvm : ubpf);
              expected.push(
                [
                  { code: 0x05, src: 0, off: delta, imm: 0 },
                  { code: 0x15, src: 0, off: delta, imm: 0 },
                  { code: 0x85, src: 1, off: 0, imm: delta },
                  { code: 0x06, src: 0, off: 0, imm: delta },
                ][kind]!,
              );
            });
            for (const [l, p] of at) if (p === n) lines.push(`${l}:`);
            const got = assemble(lines.join('\n'), { syntax }).map(({ code, src, off, imm }) => ({ code, src, off, imm }));
            expect(got, lines.join('\n')).toEqual(expected);
          }
        },
      ),
      { numRuns: 500 },
    );
  });
});

/** Only AsmError may come out of the assembler. */
function assembleOrAsmError(text: string): void {
  try {
    assemble(text);
  } catch (e) {
    if (!(e instanceof AsmError)) throw e;
    const lines = text.split('\n');
    expect(e.line).toBeGreaterThanOrEqual(1);
    expect(e.line).toBeLessThanOrEqual(lines.length);
    expect(e.column).toBeGreaterThanOrEqual(1);
    expect(e.column).toBeLessThanOrEqual(lines[e.line - 1]!.length + 1);
  }
}

const corpus = [
  'mov %r0, 1',
  'lddw %r1, 0x1122334455667788',
  'ldxw %r0, [%r1+4]',
  'lock fetch add32 [%r10-8], %r1',
  'jeq %r1, 0x10, L1',
  'L1: exit',
  'a: r0 = 1',
  'ja a',
  'call local L1',
  'r0 = *(u32 *)(r1 + 4)',
  'if w1 s< -5 goto +3',
  'r2 = atomic_fetch_add((u64 *)(r1 + 0), r2)',
  'r0 = cmpxchg_64(r1 + 0, r0, r2)',
  'r1 = map_value(.data, 8) ll',
  'ld_pseudo r1, 2, 3, 8',
  '.insn 0x07, 0, 0, 1, 1',
  '       5:\t18 01 00 00 00 00 00 00 00 00 00 00 00 00 00 00\tr1 = 0 ll',
  'gotol L1 # far',
  'r1 = (s8)r2',
  'call kfunc(bpf_foo)',
];

describe('random text', () => {
  it('arbitrary strings give instructions or an AsmError within the text', () => {
    fc.assert(fc.property(fc.string({ maxLength: 80 }), assembleOrAsmError), { numRuns: 2000 });
    fc.assert(
      fc.property(fc.array(fc.constantFrom(...'r0w1%[]()+-*=<>&|^,: x0123456789abcdefsulgoitnmp#;.\n'.split('')), { maxLength: 60 }), (cs) =>
        assembleOrAsmError(cs.join('')),
      ),
      { numRuns: 2000 },
    );
  });

  it('mutated valid lines give instructions or an AsmError', () => {
    const mutated = fc
      .tuple(fc.constantFrom(...corpus), fc.nat(), fc.nat(), fc.string({ maxLength: 3 }), fc.nat({ max: 2 }))
      .map(([line, a, b, ins, kind]) => {
        const i = a % (line.length + 1);
        if (kind === 0) return line.slice(0, i) + ins + line.slice(i);
        if (kind === 1) return line.slice(0, i) + line.slice(i + 1 + (b % 3));
        const j = b % (line.length + 1);
        return line.slice(0, Math.min(i, j)) + line.slice(Math.max(i, j)) + line.slice(Math.min(i, j), Math.max(i, j));
      });
    fc.assert(fc.property(fc.array(mutated, { minLength: 1, maxLength: 5 }), (lines) => assembleOrAsmError(lines.join('\n'))), { numRuns: 3000 });
  });

  it('the .data reader and the hex reader fail only with their typed errors', () => {
    const dataText = fc
      .array(fc.oneof(fc.constantFrom('-- asm', '-- raw', '-- mem', '-- result', '-- error', '-- bogus', '# c', ''), fc.constantFrom(...corpus), fc.string({ maxLength: 20 })), {
        maxLength: 8,
      })
      .map((l) => l.join('\n'));
    fc.assert(
      fc.property(dataText, (t) => {
        try {
          parseDataFile(t);
        } catch (e) {
          if (!(e instanceof AsmError)) throw e;
        }
      }),
      { numRuns: 1500 },
    );
    fc.assert(
      fc.property(fc.string({ maxLength: 40 }), (t) => {
        try {
          parseHex(t);
        } catch (e) {
          if (!(e instanceof HexFormatError)) throw e;
        }
      }),
      { numRuns: 1500 },
    );
  });
});
