/**
 * The validator: each rule in both modes, and differentially against the
 * real checkers — the running kernel's SO_ATTACH_FILTER (bpf_check_classic)
 * and the installed libpcap's bpf_validate().
 */
import { describe, expect, it } from 'vitest';
import {
  BPF_ABS, BPF_ALU, BPF_B, BPF_DIV, BPF_JA, BPF_JEQ, BPF_JMP, BPF_K, BPF_LD, BPF_LDX, BPF_LSH, BPF_MEM,
  BPF_MOD, BPF_RET, BPF_RSH, BPF_ST, BPF_W, BPF_X, CbpfValidationError, SKF_AD, SKF_AD_OFF, SKF_NET_OFF,
  checkProgram, isValid, jump, stmt, validate, type CbpfInsn, type ValidationMode, type ValidationRule,
} from '../../src/cbpf/index.js';
import { BpfkitError } from '../../src/errors.js';
import { kernelAcceptsFilter, libpcapValidate } from '../support/libpcap.js';
import { buildProgram, seeded } from './gen.js';

const RET0 = stmt(BPF_RET | BPF_K, 0);
const RETA = stmt(BPF_RET | 0x10);

function firstRule(prog: CbpfInsn[], mode: ValidationMode): ValidationRule | undefined {
  return checkProgram(prog, mode)[0]?.rule;
}

describe('rules', () => {
  const cases: { name: string; prog: CbpfInsn[]; kernel?: ValidationRule; libpcap?: ValidationRule; index?: number }[] = [
    { name: 'empty program', prog: [], kernel: 'program-length', libpcap: 'program-length', index: -1 },
    { name: '4096 instructions are fine', prog: [...Array(4095).fill(stmt(BPF_LD | BPF_W | BPF_ABS, 0)), RET0] },
    { name: '4097 instructions', prog: [...Array(4096).fill(stmt(BPF_LD | BPF_W | BPF_ABS, 0)), RET0], kernel: 'program-length' },
    { name: 'unknown opcode', prog: [stmt(0x0e), RET0], kernel: 'unknown-opcode', libpcap: 'unknown-opcode', index: 0 },
    { name: 'opcode above 0xff', prog: [stmt(0x106), RET0], kernel: 'unknown-opcode', libpcap: 'unknown-opcode' },
    { name: 'div by constant 0', prog: [stmt(BPF_ALU | BPF_DIV | BPF_K, 0), RET0], kernel: 'division-by-zero', libpcap: 'division-by-zero' },
    { name: 'mod by constant 0', prog: [stmt(BPF_ALU | BPF_MOD | BPF_K, 0), RET0], kernel: 'division-by-zero', libpcap: 'division-by-zero' },
    { name: 'div by X is checked at run time', prog: [stmt(BPF_ALU | BPF_DIV | BPF_X), RETA] },
    { name: 'shift by 32', prog: [stmt(BPF_ALU | BPF_LSH | BPF_K, 32), RET0], kernel: 'shift-range', libpcap: 'shift-range' },
    { name: 'shift by 31', prog: [stmt(BPF_ALU | BPF_RSH | BPF_K, 31), RET0] },
    { name: 'scratch M[16]', prog: [stmt(BPF_ST, 16), RET0], kernel: 'scratch-index', libpcap: 'scratch-index' },
    { name: 'scratch load M[16]', prog: [stmt(BPF_LDX | BPF_MEM, 16), RET0], kernel: 'scratch-index', libpcap: 'scratch-index' },
    { name: 'jt past the end', prog: [jump(BPF_JMP | BPF_JEQ | BPF_K, 0, 1, 0), RET0], kernel: 'jump-out-of-range', libpcap: 'jump-out-of-range' },
    { name: 'jf past the end', prog: [jump(BPF_JMP | BPF_JEQ | BPF_K, 0, 0, 2), RET0, RET0], kernel: 'jump-out-of-range', libpcap: 'jump-out-of-range' },
    { name: 'ja past the end', prog: [stmt(BPF_JMP | BPF_JA, 1), RET0], kernel: 'jump-out-of-range', libpcap: 'jump-out-of-range' },
    { name: 'ja with a huge k', prog: [stmt(BPF_JMP | BPF_JA, 0x7fffffff), RET0], kernel: 'jump-out-of-range', libpcap: 'jump-out-of-range' },
    { name: 'backward ja', prog: [RET0, stmt(BPF_JMP | BPF_JA, -2), RET0], kernel: 'backward-jump' },
    { name: 'ja to itself', prog: [stmt(BPF_JMP | BPF_JA, -1), RET0], kernel: 'backward-jump', libpcap: 'infinite-loop' },
    { name: 'ja before the start', prog: [stmt(BPF_JMP | BPF_JA, -3), RET0], kernel: 'backward-jump', libpcap: 'jump-out-of-range' },
    { name: 'no final return', prog: [stmt(BPF_LD | BPF_W | BPF_ABS, 0)], kernel: 'no-final-return', libpcap: 'no-final-return', index: 0 },
    { name: 'known ancillary', prog: [stmt(BPF_LD | BPF_B | BPF_ABS, SKF_AD_OFF + SKF_AD.VLAN_TAG_PRESENT), RETA] },
    { name: 'unknown ancillary', prog: [stmt(BPF_LD | BPF_W | BPF_ABS, SKF_AD_OFF + 64), RETA], kernel: 'unknown-ancillary' },
    { name: 'SKF_NET_OFF load', prog: [stmt(BPF_LD | BPF_W | BPF_ABS, SKF_NET_OFF + 9), RETA] },
    { name: 'load of M[0] before any store', prog: [stmt(BPF_LD | BPF_MEM, 0), RETA], kernel: 'uninitialized-scratch' },
    {
      name: 'store on one path only',
      prog: [jump(BPF_JMP | BPF_JEQ | BPF_K, 1, 0, 1), stmt(BPF_ST, 3), stmt(BPF_LD | BPF_MEM, 3), RETA],
      kernel: 'uninitialized-scratch',
      index: 2,
    },
    {
      name: 'store on both paths',
      prog: [stmt(BPF_ST, 3), jump(BPF_JMP | BPF_JEQ | BPF_K, 1, 0, 1), stmt(BPF_ST, 4), stmt(BPF_LD | BPF_MEM, 3), RETA],
    },
  ];
  for (const c of cases) {
    it(c.name, () => {
      expect(firstRule(c.prog, 'kernel')).toBe(c.kernel);
      expect(firstRule(c.prog, 'libpcap')).toBe(c.libpcap);
      if (c.kernel && c.index !== undefined) expect(checkProgram(c.prog, 'kernel')[0]!.index).toBe(c.index);
    });
  }

  it('throws a BpfkitError naming the instruction and the rule', () => {
    const prog = [stmt(BPF_LD | BPF_B | BPF_ABS, 23), stmt(BPF_ALU | BPF_DIV | BPF_K, 0), RETA];
    let err: unknown;
    try {
      validate(prog, 'kernel');
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(CbpfValidationError);
    expect(err).toBeInstanceOf(BpfkitError);
    const v = err as CbpfValidationError;
    expect(v.index).toBe(1);
    expect(v.rule).toBe('division-by-zero');
    expect(v.code).toBe('ECBPF_INVALID');
    expect(v.message).toContain('instruction 1 (div #0');
    expect(v.message).toContain('division-by-zero');
    expect(isValid(prog, 'libpcap')).toBe(false);
  });

  it('lists every problem', () => {
    const prog = [stmt(BPF_ST, 20), stmt(0xff), stmt(BPF_ALU | BPF_MOD | BPF_K, 0), stmt(BPF_LD | BPF_W | BPF_ABS, 0)];
    const rules = checkProgram(prog, 'kernel').map((p) => `${p.index}:${p.rule}`);
    expect(rules).toEqual(['0:scratch-index', '1:unknown-opcode', '2:division-by-zero', '3:no-final-return']);
    const err = (() => {
      try {
        validate(prog);
      } catch (e) {
        return e as CbpfValidationError;
      }
    })()!;
    expect(err.detail()).toContain('instruction 3');
  });
});

describe('against the real checkers', () => {
  // Random programs, most nearly valid, some with random opcodes and jumps.
  const programs: CbpfInsn[][] = [];
  const pick = seeded(20240607);
  for (let i = 0; i < 4000; i++) {
    const prog = buildProgram(pick, { backward: i % 3 === 0, extensions: true, maxLength: 12 });
    // Break some of them on purpose.
    const r = pick(10);
    const at = pick(prog.length);
    if (r === 0) prog[at] = { ...prog[at]!, code: pick(0x100) };
    else if (r === 1) prog[at] = { ...prog[at]!, k: pick(0x100000000) };
    else if (r === 2) prog[at] = { ...prog[at]!, jt: pick(256), jf: pick(4) };
    else if (r === 3) prog.pop();
    else if (r === 4 && prog.length > 1) prog[prog.length - 1] = { code: BPF_LD | BPF_MEM, jt: 0, jf: 0, k: pick(17) };
    programs.push(prog);
  }

  it('kernel mode agrees with the running kernel (SO_ATTACH_FILTER) on every program', () => {
    const kernel = kernelAcceptsFilter(programs);
    const disagreements: string[] = [];
    let accepted = 0;
    programs.forEach((prog, i) => {
      const k = kernel[i]!;
      if (k.errno === 'ENOMEM') return;
      if (k.accepted) accepted++;
      if (isValid(prog, 'kernel') !== k.accepted) {
        disagreements.push(`${JSON.stringify(prog)}: kernel ${k.accepted ? 'accepts' : k.errno}, ours ${JSON.stringify(checkProgram(prog, 'kernel')[0])}`);
      }
    });
    expect(disagreements.slice(0, 5)).toEqual([]);
    // Both outcomes are well represented.
    expect(accepted).toBeGreaterThan(500);
    expect(programs.length - accepted).toBeGreaterThan(500);
  });

  it('the kernel takes 4096 instructions and refuses 4097 (as kernel mode does)', () => {
    const long = (n: number): CbpfInsn[] => [...Array(n - 1).fill(stmt(BPF_LD | BPF_W | BPF_ABS, 12)), RET0];
    const [a, b] = kernelAcceptsFilter([long(4096), long(4097)]);
    if (a!.errno !== 'ENOMEM') expect(a!.accepted).toBe(isValid(long(4096), 'kernel'));
    expect(b!.accepted).toBe(false);
    expect(isValid(long(4097), 'kernel')).toBe(false);
    expect(isValid(long(4097), 'libpcap')).toBe(true);
  });

  it('libpcap mode is libpcap 1.10 bpf_validate() plus 1.11 rules, never laxer', () => {
    const theirs = libpcapValidate(programs);
    const laxer: string[] = [];
    const unexplained: string[] = [];
    let bothAccept = 0;
    programs.forEach((prog, i) => {
      const ours = checkProgram(prog, 'libpcap');
      if (ours.length === 0 && !theirs[i]) laxer.push(JSON.stringify(prog));
      if (ours.length === 0 && theirs[i]) bothAccept++;
      if (ours.length > 0 && theirs[i]) {
        // Only the rules libpcap 1.11 added over 1.10 may explain a refusal that 1.10 would take.
        const ok = ours.every((p) => p.rule === 'unknown-opcode' || p.rule === 'shift-range' || p.rule === 'infinite-loop');
        if (!ok) unexplained.push(`${JSON.stringify(prog)}: ${JSON.stringify(ours)}`);
      }
    });
    expect(laxer.slice(0, 5)).toEqual([]);
    expect(unexplained.slice(0, 5)).toEqual([]);
    expect(bothAccept).toBeGreaterThan(500);
  });

  it('a kernel-valid program is libpcap-valid', () => {
    for (const prog of programs) if (isValid(prog, 'kernel')) expect(isValid(prog, 'libpcap')).toBe(true);
  });

});
