/**
 * The structural validator against the running kernel's verifier: every
 * opcode byte, in a form the verifier accepts, and that form with one field
 * changed at a time (6,000+ programs), loaded with BPF_PROG_LOAD. Where the
 * kernel refuses for a structural reason (reserved fields, unknown opcode,
 * bad register, write to r10, jump out of range, bad lddw, division by
 * constant zero, shift out of range), the validator with KERNEL_CHECKS must
 * refuse too, and where it does not (accepted, or refused for a reason about
 * values: pointers, helpers, loops), the validator must accept. The known
 * differences are listed and counted, not hidden.
 */
import { describe, expect, it } from 'vitest';
import { type Instruction, KERNEL_CHECKS, ProgType, insn, validationErrors } from '../../src/ebpf/index.js';
import { loadProgram } from '../../src/kernel/index.js';
import { IS_ROOT } from '../support/paths.js';

/** The kernel's structural complaints (kernel/bpf/verifier.c), as opposed to ones about values. */
const STRUCTURAL =
  /uses reserved fields|unknown opcode|invalid bpf_ld_imm64|unrecognized bpf_ld_imm64|R\d+ is invalid|frame pointer is read only|jump out of range|call to invalid destination|BPF_ATOMIC uses invalid atomic opcode|invalid atomic operand size|div by zero|invalid shift|last insn is not an exit or jmp|jump into the middle of ldimm64/;

function kernelVerdict(instructions: Instruction[]): string {
  try {
    loadProgram({ name: 'shape', type: ProgType.SOCKET_FILTER, license: 'GPL', instructions, references: [] }).close();
    return 'ok';
  } catch (e) {
    const err = e as { reason?: string; message: string };
    return err.reason ?? err.message;
  }
}

function kernelUsable(): string | undefined {
  if (!IS_ROOT) return 'not root';
  const v = kernelVerdict([insn(0xb7, 0, 0, 0, 0), insn(0x95)]);
  return v === 'ok' ? undefined : `cannot load a program: ${v}`;
}
const SKIP = kernelUsable();

/** r6 = ctx (for LD_ABS/LD_IND), r0..r9 = 0, two initialised stack slots. */
const PROLOGUE: Instruction[] = [
  insn(0xbf, 6, 1),
  ...[0, 1, 2, 3, 4, 5, 7, 8, 9].map((r) => insn(0xb7, r, 0, 0, 0)),
  insn(0x7a, 10, 0, -8, 0),
  insn(0x7a, 10, 0, -16, 0),
];

/** A form of opcode `code` that the verifier accepts when the opcode is valid. */
function canonical(code: number): Instruction[] {
  const cls = code & 7;
  const op = code & 0xf0;
  const x = code & 8;
  switch (cls) {
    case 4:
    case 7:
      if (op === 0xd0) return [insn(code, 1, 0, 0, 16)];
      if (op === 0x80) return [insn(code, 1)];
      return [x ? insn(code, 1, 2) : insn(code, 1, 0, 0, 3)];
    case 0:
      if (code === 0x18) return [insn(code, 1, 0, 0, 5), insn(0)];
      return (code & 0xe0) === 0x40 ? [insn(code, 0, 2, 0, 12)] : [insn(code, 0, 0, 0, 12)];
    case 1:
      return [insn(code, 1, 10, -8)];
    case 2:
      return [insn(code, 10, 0, -8, 1)];
    case 3:
      return [insn(code, 10, 1, -8)];
    default:
      if (op === 0x80) return x ? [insn(code, 1)] : [insn(code, 0, 0, 0, 7)]; // helper 7: get_prandom_u32
      if (op === 0x90 || op === 0) return [insn(code)];
      return [x ? insn(code, 1, 2) : insn(code, 1)];
  }
}

function variants(): Instruction[][] {
  const out = new Map<string, Instruction[]>();
  const add = (v: Instruction[]) => out.set(JSON.stringify(v), v);
  for (let code = 0; code < 256; code++) {
    const base = canonical(code);
    const one = (f: Partial<Instruction>) => add([{ ...base[0]!, ...f }, ...base.slice(1)]);
    add(base);
    for (const dst of [0, 2, 10, 11]) one({ dst });
    for (const src of [0, 1, 2, 3, 10, 11]) one({ src });
    for (const off of [0, 1, -8, 8, 16, 32]) one({ off });
    for (const imm of [0, 1, 3, 16, 32, 64, 65, 0x41, 0xe1, 0xf1, 0x50, -1]) one({ imm });
    if (code === 0x18) for (const f of ['code', 'dst', 'src', 'off', 'imm'] as const) add([base[0]!, { ...base[1]!, [f]: 1 }]);
  }
  return [...out.values()];
}

/** Where Linux 6.18 and RFC 9669 (which the validator follows) part ways. */
function knownDifference(v: Instruction, kernel: string): string | undefined {
  if (v.code === 0x95 && v.off !== 0 && v.dst === 0 && v.src === 0 && v.imm === 0 && kernel === 'ok') return 'exit with an offset (the kernel does not check it)';
  if (v.code === 0xe5) return 'may_goto (a kernel extension)';
  if (v.code === 0xbf && v.off === 1 && /addr_space_cast/.test(kernel)) return 'addr_space_cast (a kernel extension)';
  return undefined;
}

describe.skipIf(SKIP !== undefined)(`validator vs the kernel verifier${SKIP ? ` (skipped: ${SKIP})` : ''}`, () => {
  it('agrees on the shape of every opcode and of one-field changes to it', () => {
    let compared = 0;
    let kernelStructural = 0;
    const known = new Map<string, number>();
    const disagreements: string[] = [];
    for (const v of variants()) {
      const exit = v[0]!.code === 0x95;
      const prog = exit ? [...PROLOGUE, ...v] : [...PROLOGUE, ...v, insn(0xb7, 0), insn(0x95)];
      const k = kernelVerdict(prog);
      const kernelRefuses = k !== 'ok' && STRUCTURAL.test(k);
      const ours = validationErrors(prog, KERNEL_CHECKS);
      compared++;
      if (kernelRefuses) kernelStructural++;
      if (kernelRefuses === ours.length > 0) continue;
      const why = knownDifference(v[0]!, k);
      if (why) known.set(why, (known.get(why) ?? 0) + 1);
      else disagreements.push(`${JSON.stringify(v)}: kernel "${k}", validator "${ours[0]?.message ?? 'ok'}"`);
    }
    expect(disagreements).toEqual([]);
    expect(compared).toBeGreaterThan(6000);
    expect(kernelStructural).toBeGreaterThan(3000);
    expect([...known.keys()].sort()).toEqual(['addr_space_cast (a kernel extension)', 'exit with an offset (the kernel does not check it)', 'may_goto (a kernel extension)']);
  });

  it('agrees on whole-program structure: jumps into lddw, the last instruction, targets', () => {
    const lddw = [insn(0x18, 0, 0, 0, 1), insn(0)];
    const cases: [string, Instruction[]][] = [
      ['jump into lddw', [insn(0xb7, 0), insn(0x15, 0, 0, 1), ...lddw, insn(0x95)]],
      ['jump just past the end', [insn(0xb7, 0), insn(0x05, 0, 0, 1), insn(0x95)]],
      ['backward jump before the start', [insn(0xb7, 0), insn(0x05, 0, 0, -3), insn(0x95)]],
      ['ends without exit', [insn(0xb7, 0), insn(0xb7, 0)]],
      ['ends with lddw', [insn(0xb7, 0), insn(0x95), ...lddw]],
      ['lddw without its second slot', [insn(0xb7, 0), insn(0x95), insn(0x18, 0, 0, 0, 1)]],
      ['call into lddw', [insn(0x85, 0, 1, 0, 1), ...lddw, insn(0x95)]],
      ['valid', [insn(0xb7, 0), insn(0x05, 0, 0, 0), ...lddw, insn(0xb7, 0), insn(0x95)]],
    ];
    for (const [name, prog] of cases) {
      const k = kernelVerdict(prog);
      const kernelRefuses = k !== 'ok' && STRUCTURAL.test(k);
      const ours = validationErrors(prog, KERNEL_CHECKS);
      expect(ours.length > 0, `${name}: kernel "${k}", validator "${ours[0]?.message ?? 'ok'}"`).toBe(kernelRefuses);
    }
  });
});
