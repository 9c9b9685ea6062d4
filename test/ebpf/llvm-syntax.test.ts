/**
 * The llvm syntax against LLVM itself: llvm-mc 19 disassembles a sample of
 * every valid opcode (2,800 instructions, both byte orders, with and without
 * alu32) to exactly our text; our assembler reads llvm-mc's text back to the
 * original bytes; llvm-mc assembles our text to the original bytes.
 */
import { describe, expect, it } from 'vitest';
import { assemble } from '../../src/ebpf/asm.js';
import { formatLlvm } from '../../src/ebpf/disasm-llvm.js';
import { type Instruction, encode } from '../../src/ebpf/insn.js';
import { LDDW, PseudoCall } from '../../src/ebpf/opcodes.js';
import { LLVM_MC_19, have, mcAssemble, mcDisassemble } from './llvm-tools.js';
import { validSamples } from './samples.js';

const HAVE_MC = have(LLVM_MC_19);
const samples = validSamples();
const hex = (insns: readonly Instruction[]): string => Buffer.from(encode(insns)).toString('hex');

/** 32-bit atomics other than add (and fetch-add, which it shows as add) exist in LLVM only with alu32. */
const decodableWithoutAlu32 = (e: Instruction[]): boolean => !(e[0]!.code === 0xc3 && e[0]!.imm !== 0 && e[0]!.imm !== 1);

/** Where objdump's text does not determine the bytes (see disasm-llvm.ts). */
function lossy(e: Instruction[], alu32 = true): boolean {
  const i = e[0]!;
  if (!alu32 && i.code === 0xc3 && i.imm === 1) return true; // 32-bit fetch-add shown as add
  if (i.code === 0x85 && i.src !== PseudoCall.HELPER) return true;
  if ((i.code & 0xe7) === 0x40 && i.imm !== 0) return true; // LD_IND with an immediate
  if (i.code === LDDW && i.src !== 0 && e[1]!.imm !== 0) return true;
  return false;
}

describe.skipIf(!HAVE_MC)(`llvm syntax vs ${LLVM_MC_19}${HAVE_MC ? '' : ' (not installed: apt-get install llvm-19)'}`, () => {
  it('samples every valid opcode', () => {
    expect(samples.length).toBeGreaterThan(2500);
    // 126 opcode bytes are instructions in RFC 9669 (plus LDDW's second slot, which is not sampled alone).
    expect(new Set(samples.map((e) => e[0]!.code)).size).toBe(126);
  });

  for (const alu32 of [false, true]) {
    for (const bigEndian of [false, true]) {
      it(`prints what llvm-mc --disassemble prints (${alu32 ? '+alu32' : 'default'}, ${bigEndian ? 'bpfeb' : 'bpfel'})`, () => {
        const entries = alu32 ? samples : samples.filter(decodableWithoutAlu32);
        const ref = mcDisassemble(entries, { alu32, bigEndian });
        const diffs: string[] = [];
        entries.forEach((e, k) => {
          const ours = formatLlvm(e, 0, { objdump: true, alu32 });
          if (ours !== ref[k]) diffs.push(`${hex(e)}: ours ${JSON.stringify(ours)} llvm ${JSON.stringify(ref[k])}`);
        });
        expect(diffs).toEqual([]);
      });
    }
  }

  it('prints what llvm-mc --print-imm-hex prints (llvm-objdump 15+ default) with hex: true', () => {
    const ref = mcDisassemble(samples, { alu32: true, hex: true });
    const diffs: string[] = [];
    samples.forEach((e, k) => {
      const ours = formatLlvm(e, 0, { objdump: true, alu32: true, hex: true });
      if (ours !== ref[k]) diffs.push(`${hex(e)}: ours ${JSON.stringify(ours)} llvm ${JSON.stringify(ref[k])}`);
    });
    expect(diffs).toEqual([]);
    // ... and reads it back.
    for (const [k, e] of samples.entries()) {
      if (!lossy(e)) expect(hex(assemble(ref[k]!, { syntax: 'llvm' })), ref[k]).toBe(hex(e));
    }
  });

  it("assembles llvm-mc's own text back to the original bytes", () => {
    for (const alu32 of [false, true]) {
      const entries = (alu32 ? samples : samples.filter(decodableWithoutAlu32)).filter((e) => !lossy(e, alu32));
      const ref = mcDisassemble(entries, { alu32 });
      const diffs: string[] = [];
      entries.forEach((e, k) => {
        const back = hex(assemble(ref[k]!, { syntax: 'llvm' }));
        if (back !== hex(e)) diffs.push(`${ref[k]}: ${back} != ${hex(e)}`);
      });
      expect(diffs).toEqual([]);
    }
  });

  it('is assembled by llvm-mc to the original bytes', () => {
    // llvm-mc 19 reads a numeric gotol offset as 16 bits only (a label works): leave those out.
    const gotolFar = (e: Instruction[]) => e[0]!.code === 0x06 && (e[0]!.imm > 32767 || e[0]!.imm < -32768);
    const entries = samples.filter((e) => !lossy(e) && !gotolFar(e));
    const text = entries.map((e) => formatLlvm(e, 0, { objdump: true, alu32: true })).join('\n') + '\n';
    const { bytes, stderr } = mcAssemble(text, { alu32: true });
    expect(stderr).toBe('');
    expect(bytes).toHaveLength(entries.length);
    const diffs: string[] = [];
    entries.forEach((e, k) => {
      const got = Buffer.from(bytes[k]!).toString('hex');
      if (got !== hex(e)) diffs.push(`${formatLlvm(e, 0, { objdump: true })}: llvm-mc ${got} != ${hex(e)}`);
    });
    expect(diffs).toEqual([]);
  });
});

describe('llvm syntax without LLVM', () => {
  it('round-trips every sample, including what objdump prints ambiguously', () => {
    for (const alu32 of [false, true]) {
      const diffs: string[] = [];
      for (const e of samples) {
        const text = formatLlvm(e, 0, { alu32, hex: alu32 });
        const back = hex(assemble(text, { syntax: 'llvm' }));
        if (back !== hex(e)) diffs.push(`${text}: ${back} != ${hex(e)}`);
      }
      expect(diffs).toEqual([]);
    }
  });

  it('prints objdump text for the ambiguous cases and the lossless form otherwise', () => {
    const local = [{ code: 0x85, dst: 0, src: 1, off: 0, imm: -1 }];
    expect(formatLlvm(local, 0, { objdump: true })).toBe('call -1');
    expect(formatLlvm(local, 0)).toBe('call local -1');
    const kfunc = [{ code: 0x85, dst: 0, src: 2, off: 0, imm: 1234 }];
    expect(formatLlvm(kfunc, 0, { objdump: true })).toBe('call 1234');
    expect(formatLlvm(kfunc, 0)).toBe('call kfunc(1234)');
    const ind = [{ code: 0x48, dst: 0, src: 1, off: 0, imm: 12 }];
    expect(formatLlvm(ind, 0, { objdump: true })).toBe('r0 = *(u16 *)skb[r1]');
    expect(formatLlvm(ind, 0)).toBe('r0 = *(u16 *)skb[r1 + 12]');
    const value = [
      { code: 0x18, dst: 1, src: 2, off: 0, imm: 3 },
      { code: 0, dst: 0, src: 0, off: 0, imm: 8 },
    ];
    expect(formatLlvm(value, 0, { objdump: true })).toBe('ld_pseudo\tr1, 2, 3');
    expect(formatLlvm(value, 0)).toBe('ld_pseudo\tr1, 2, 3, 8');
  });
});
