/**
 * The disassembler against llvm-objdump on clang-compiled objects: the
 * fixtures in fixtures/*.bpf.c are compiled at test time with Debian's clang
 * 14 (-mcpu=v1, v2, v3) and clang 19 (-mcpu=v4), and every instruction of
 * every listing is compared with our text for the same bytes: Debian's
 * llvm-objdump 14 for the clang 14 objects, llvm-objdump 19 (decimal and its
 * default hex) for the v4 objects, each with and without --mattr=+alu32.
 * Then the whole listing, fed to our assembler, gives back its bytes.
 */
import { mkdirSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { assemble } from '../../src/ebpf/asm.js';
import { formatLlvm } from '../../src/ebpf/disasm-llvm.js';
import { decode, encode } from '../../src/ebpf/insn.js';
import { LDDW } from '../../src/ebpf/opcodes.js';
import { TMP } from '../support/paths.js';
import { CLANG_19, LLVM_OBJDUMP_19, have, run } from './llvm-tools.js';

const FIXTURES = join(import.meta.dirname, 'fixtures');
const OUT = join(TMP, 'ebpf-objdump');
const sources = readdirSync(FIXTURES).filter((f) => f.endsWith('.bpf.c'));
const HAVE_CLANG = have('clang') && have('llvm-objdump');
const HAVE_19 = have(CLANG_19) && have(LLVM_OBJDUMP_19);

interface Line {
  slot: number;
  bytes: Uint8Array;
  text: string;
  raw: string;
}

/** The instruction lines of an llvm-objdump -d listing. */
function listing(out: string): Line[] {
  const lines: Line[] = [];
  for (const raw of out.split('\n')) {
    const m = /^\s*(\d+):\t((?:[0-9a-f]{2} ?)+)\t(.*)$/.exec(raw);
    if (!m) continue;
    const bytes = Uint8Array.from(m[2]!.trim().split(' '), (b) => parseInt(b, 16));
    // objdump appends the symbol of a jump target: `goto +9 <LBB0_2>`.
    lines.push({ slot: Number(m[1]), bytes, text: m[3]!.replace(/ <[^<>]+>$/, ''), raw });
  }
  return lines;
}

function compile(clang: string, src: string, cpu: string, target = 'bpf'): string {
  mkdirSync(OUT, { recursive: true });
  const obj = join(OUT, `${src.replace(/\.bpf\.c$/, '')}.${cpu}.${target}.o`);
  const r = run(clang, ['-target', target, '-O2', `-mcpu=${cpu}`, '-I/usr/include/x86_64-linux-gnu', '-c', join(FIXTURES, src), '-o', obj]);
  if (r.status !== 0) throw new Error(`${clang} failed on ${src}:\n${r.stderr}`);
  return obj;
}

const seenOpcodes = new Set<number>();
let compared = 0;

function compareListing(objdump: string, obj: string, flags: string[], opts: { alu32: boolean; hex: boolean; bigEndian?: boolean }): void {
  const r = run(objdump, ['-d', ...flags, obj]);
  expect(r.status, r.stderr).toBe(0);
  const lines = listing(r.stdout);
  expect(lines.length).toBeGreaterThan(10);
  const diffs: string[] = [];
  for (const l of lines) {
    const insns = decode(l.bytes, !opts.bigEndian);
    const ours = formatLlvm(insns, 0, { objdump: true, alu32: opts.alu32, hex: opts.hex });
    if (ours !== l.text) diffs.push(`${obj} ${objdump} ${flags.join(' ')}: ${l.raw}\n    ours: ${ours}`);
    seenOpcodes.add(insns[0]!.code);
    compared++;
  }
  expect(diffs).toEqual([]);
  if (opts.bigEndian) return;

  // The listing itself assembles back to its bytes, except for what its
  // text does not carry: objdump prints a bpf-to-bpf call as `call -1`
  // (which reads as a helper call), and without alu32 a 32-bit fetch-add
  // as a plain add.
  const asm = assemble(r.stdout, { syntax: 'llvm' });
  const want = decode(Uint8Array.from(lines.flatMap((l) => [...l.bytes])));
  expect(asm.length).toBe(want.length);
  const norm = (i: (typeof want)[number]) =>
    i.code === 0x85 ? { ...i, src: 0 } : i.code === 0xc3 && i.imm === 1 && !opts.alu32 ? { ...i, imm: 0 } : i;
  expect(Buffer.from(encode(asm.map(norm))).toString('hex')).toBe(Buffer.from(encode(want.map(norm))).toString('hex'));
}

describe.skipIf(!HAVE_CLANG)('disassembly vs llvm-objdump 14 on clang 14 objects', () => {
  for (const src of sources) {
    for (const cpu of ['v1', 'v2', 'v3']) {
      it(`${src} -mcpu=${cpu}`, () => {
        const obj = compile('clang', src, cpu);
        compareListing('llvm-objdump', obj, [], { alu32: false, hex: false });
        compareListing('llvm-objdump', obj, ['--mattr=+alu32'], { alu32: true, hex: false });
      });
    }
  }
});

describe.skipIf(!HAVE_CLANG)('big-endian: clang -target bpfeb objects decode to the same text', () => {
  for (const src of sources) {
    it(`${src} -mcpu=v3 bpfeb`, () => {
      const obj = compile('clang', src, 'v3', 'bpfeb');
      compareListing('llvm-objdump', obj, [], { alu32: false, hex: false, bigEndian: true });
    });
  }
});

describe.skipIf(!HAVE_19)(`disassembly vs llvm-objdump 19 on clang 19 -mcpu=v4 objects${HAVE_19 ? '' : ' (clang-19/llvm-19 not installed)'}`, () => {
  for (const src of sources) {
    it(`${src} -mcpu=v4`, () => {
      const obj = compile(CLANG_19, src, 'v4');
      compareListing(LLVM_OBJDUMP_19, obj, ['--no-print-imm-hex'], { alu32: false, hex: false });
      compareListing(LLVM_OBJDUMP_19, obj, [], { alu32: false, hex: true });
      compareListing(LLVM_OBJDUMP_19, obj, ['--mattr=+alu32'], { alu32: true, hex: true });
    });
  }

  it('covered the v4 instructions, atomics, packet loads and calls', () => {
    expect(compared).toBeGreaterThan(2000);
    // sdiv/smod and movsx share opcodes with div/mod/mov; check the v4-only ones.
    const want = {
      'ldsx (0x81, 0x89, 0x91)': [0x81, 0x89, 0x91],
      'bswap (0xd7)': [0xd7],
      'atomics (0xc3, 0xdb)': [0xc3, 0xdb],
      'LD_ABS/LD_IND (0x28, 0x30, 0x40, 0x48)': [0x28, 0x30, 0x40, 0x48],
      'lddw, call, exit': [LDDW, 0x85, 0x95],
      'jmp32 (0x16, 0x56)': [0x16, 0x56],
    };
    for (const [what, codes] of Object.entries(want)) for (const c of codes) expect(seenOpcodes.has(c), what).toBe(true);
    expect(seenOpcodes.size).toBeGreaterThan(50);
  });
});
