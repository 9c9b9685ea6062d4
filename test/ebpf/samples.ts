/**
 * Samples of valid instructions: for every opcode byte, field values drawn
 * from interesting edges (0, ±1, widths, extremes), kept when the structural
 * check accepts them. Each entry is one instruction (two slots for LDDW).
 */
import { checkInstruction } from '../../src/ebpf/check.js';
import { type Instruction, insn } from '../../src/ebpf/insn.js';
import { prng } from './llvm-tools.js';

const OFFS = [0, 1, -1, 8, 16, 32, -8, 0x7fff, -0x8000, 100, -100];
const IMMS = [0, 1, -1, 7, 16, 32, 64, 0x7fffffff, -0x80000000, 0x41, 0xe1, 0xf1, 0x01, 0x40, 0x50, 0xa0, 0xa1, 0x51, 0x1234, -5];
const REGS = [0, 1, 2, 9, 10];

export function validSamples(perCode = 24, seed = 1): Instruction[][] {
  const rnd = prng(seed);
  const pick = <T>(a: readonly T[]): T => a[rnd() % a.length]!;
  const out: Instruction[][] = [];
  for (let code = 0; code < 256; code++) {
    const seen = new Set<string>();
    for (let tries = 0; tries < 4000 && seen.size < perCode; tries++) {
      const ins = insn(code, pick(REGS), pick(REGS), pick(OFFS), pick(IMMS));
      // Fields the instruction does not use are mostly zero: bias towards that.
      if (rnd() % 2) ins.src = 0;
      if (rnd() % 2) ins.off = 0;
      if (rnd() % 2) ins.imm = 0;
      if (rnd() % 3 === 0) ins.dst = 0;
      const next = code === 0x18 ? insn(0, 0, 0, 0, rnd() % 3 === 0 ? 0 : pick(IMMS)) : undefined;
      if (checkInstruction(ins, next)) continue;
      const key = JSON.stringify([ins, next]);
      if (seen.has(key)) continue;
      seen.add(key);
      out.push(next ? [ins, next] : [ins]);
    }
  }
  return out;
}
