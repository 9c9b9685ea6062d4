/**
 * The eBPF ISA layer's text tools against LLVM's: bpfkit's assembler and
 * disassembler (llvm syntax) against llvm-mc 19 assembling and
 * disassembling the same 200,000 instructions (every valid opcode, random
 * fields), in the same run; plus the structural validator's rate.
 * llvm-mc's figure is its process time minus that of an empty input.
 */
import { spawnSync } from 'node:child_process';
import { assemble, checkInstruction, disassemble, encode, formatInstruction, insn, validationErrors, type Instruction } from '../src/ebpf/index.js';

const N = 200_000;
const MC = 'llvm-mc-19';

/** Random valid instructions whose llvm text is lossless and that llvm-mc reads (no local/kfunc calls, no far gotol). */
function program(n: number): Instruction[] {
  let s = 0x9e3779b9;
  const rnd = () => {
    s ^= s << 13;
    s ^= s >>> 17;
    s ^= s << 5;
    return s >>> 0;
  };
  const out: Instruction[] = [];
  const pick = [0, 1, 2, 7, 8, 16, 32, 64, -1, -8, 0x41, 0xe1, 0xf1, 0x50, 1000];
  while (out.length < n) {
    const code = rnd() & 0xff;
    const i = insn(code, rnd() % 11, rnd() % 3 === 0 ? rnd() % 11 : 0, rnd() % 2 ? pick[rnd() % pick.length]! : 0, rnd() % 2 ? pick[rnd() % pick.length]! : 0);
    const next = code === 0x18 ? insn(0, 0, 0, 0, rnd() % 2 ? 0 : rnd() | 0) : undefined;
    if (checkInstruction(i, next)) continue;
    if (code === 0x85 && i.src !== 0) continue;
    if ((code & 0xe7) === 0x40 && i.imm !== 0) continue;
    if (code === 0x18 && i.src !== 0) continue;
    out.push(i);
    if (next) out.push(next);
  }
  return out;
}

function time(f: () => void, reps = 3): number {
  f();
  let best = Infinity;
  for (let r = 0; r < reps; r++) {
    const t0 = process.hrtime.bigint();
    f();
    best = Math.min(best, Number(process.hrtime.bigint() - t0) / 1e6);
  }
  return best;
}

function mc(args: string[], input: string): number {
  let best = Infinity;
  for (let r = 0; r < 3; r++) {
    const t0 = process.hrtime.bigint();
    const p = spawnSync(MC, args, { input, maxBuffer: 1 << 30, encoding: 'utf8' });
    if (p.status !== 0) throw new Error(`${MC} failed: ${p.stderr.slice(0, 500)}`);
    best = Math.min(best, Number(process.hrtime.bigint() - t0) / 1e6);
  }
  return best;
}

export async function run(): Promise<void> {
  const insns = program(N);
  const text = disassemble(insns, { objdump: false, labels: false, alu32: true });
  const bytes = encode(insns);
  const count = insns.length;
  const ours = {
    asm: time(() => assemble(text, { syntax: 'llvm' })),
    disasm: time(() => disassemble(insns, { labels: false, alu32: true })),
    format: time(() => {
      for (let i = 0; i < insns.length; i++) formatInstruction(insns, i, { alu32: true });
    }),
    validate: time(() => validationErrors(insns, { requireExit: false })),
  };
  console.log(`${count} slots (${insns.filter((i) => i.code === 0x18).length} lddw), llvm syntax`);
  console.log(`bpfkit assemble     ${ours.asm.toFixed(0).padStart(6)} ms  ${((count / ours.asm) * 1000 / 1e6).toFixed(2)} M slots/s`);
  console.log(`bpfkit disassemble  ${ours.disasm.toFixed(0).padStart(6)} ms  ${((count / ours.disasm) * 1000 / 1e6).toFixed(2)} M slots/s`);
  console.log(`bpfkit validate     ${ours.validate.toFixed(0).padStart(6)} ms  ${((count / ours.validate) * 1000 / 1e6).toFixed(2)} M slots/s`);
  if (spawnSync(MC, ['--version']).status !== 0) {
    console.log(`${MC} is not installed: no anchor (apt-get install llvm-19)`);
    return;
  }
  const base = mc(['-triple', 'bpfel', '-mattr=+alu32', '-filetype=null'], '');
  const mcAsm = mc(['-triple', 'bpfel', '-mattr=+alu32', '-filetype=null'], text) - base;
  const lines: string[] = [];
  for (let i = 0; i < insns.length; i++) {
    const n = insns[i]!.code === 0x18 ? 16 : 8;
    lines.push(Array.from(bytes.subarray(i * 8, i * 8 + n), (b) => '0x' + b.toString(16)).join(' '));
    if (n === 16) i++;
  }
  const mcDis = mc(['-triple', 'bpfel', '-mattr=+alu32', '--disassemble'], lines.join('\n')) - mc(['-triple', 'bpfel', '--disassemble'], '');
  console.log(`llvm-mc assemble    ${mcAsm.toFixed(0).padStart(6)} ms  (bpfkit/llvm-mc time ${(ours.asm / mcAsm).toFixed(2)}x)`);
  console.log(`llvm-mc disassemble ${mcDis.toFixed(0).padStart(6)} ms  (bpfkit/llvm-mc time ${(ours.disasm / mcDis).toFixed(2)}x)`);
}
