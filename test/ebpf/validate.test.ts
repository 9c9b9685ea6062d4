/**
 * The validator's rules one by one (the kernel comparison in
 * kernel-validator.test.ts needs root; these do not): each names the
 * instruction, and the options switch features off as a loader would.
 */
import { describe, expect, it } from 'vitest';
import { EbpfValidationError, assemble, insn, validate, validationErrors, type ValidateOptions } from '../../src/ebpf/index.js';

const problems = (text: string, opts?: ValidateOptions) => validationErrors(assemble(text), opts).map((e) => e.message);

describe('validate', () => {
  it('names the instruction of each problem, in slot order', () => {
    expect(problems('r0 = 1\nr10 = 1\nr0 /= 0\nw1 %= 0\nexit')).toEqual([
      'instruction 1: writes to the read-only frame pointer r10',
      'instruction 2: division by constant zero',
      'instruction 3: division by constant zero',
    ]);
    expect(() => validate(assemble('r0 = 1'))).toThrow(EbpfValidationError);
    try {
      validate(assemble('r0 = 1\nr0 = 2'));
    } catch (e) {
      expect((e as EbpfValidationError).index).toBe(1);
      expect((e as EbpfValidationError).message).toBe('instruction 1: the program must end with exit or an unconditional jump');
    }
  });

  it('checks jump, call and function-address targets', () => {
    expect(problems('goto +5\nexit')).toEqual(['instruction 0: jump target 6 is outside the program (0..1)']);
    expect(problems('if r1 > 2 goto -2\nexit')).toEqual(['instruction 0: jump target -1 is outside the program (0..1)']);
    expect(problems('gotol +1\nr0 = 1 ll\nexit')).toEqual(['instruction 0: jump target 2 is the second half of the lddw at 1']);
    expect(problems('call local +1\nr0 = 1 ll\nexit')).toEqual(['instruction 0: call target 2 is the second half of the lddw at 1']);
    expect(problems('ld_pseudo r1, 4, 7\nexit')).toEqual(['instruction 0: function address target 8 is outside the program (0..2)']);
    expect(problems('goto +0\ngoto -2')).toEqual([]);
  });

  it('checks the lddw pair and the end of the program', () => {
    expect(validationErrors([insn(0xb7), insn(0x95), insn(0x18, 0, 0, 0, 1)]).map((e) => e.message)).toEqual([
      'instruction 2: lddw is missing its second slot',
      'instruction 2: the program must end with exit or an unconditional jump',
    ]);
    expect(validationErrors([insn(0x18, 1, 0, 0, 1), insn(0, 1), insn(0x95)]).map((e) => e.message)).toEqual([
      'instruction 0: the second slot of lddw must have code, registers and offset 0',
    ]);
    expect(validationErrors([insn(0x18, 1, 1, 0, 3), insn(0, 0, 0, 0, 1), insn(0x95)]).map((e) => e.message)).toEqual([
      'instruction 0: the second slot of an lddw of a map must have imm 0',
    ]);
    expect(problems('r0 = 1\nexit\nr0 = 2 ll', { requireExit: false })).toEqual([]);
    expect(validationErrors([])[0]!.message).toBe('the program is empty');
  });

  it('applies the size limit', () => {
    const prog = [...Array.from({ length: 99 }, () => insn(0xb7)), insn(0x95)];
    expect(validationErrors(prog, { maxInstructions: 100 })).toEqual([]);
    expect(validationErrors([insn(0xb7), ...prog], { maxInstructions: 100 })[0]!.message).toBe('the program has 101 instructions, more than the limit of 100');
  });

  it('switches features off: CPU version, callx, legacy packet loads, pseudo lddw, kfuncs, shift range', () => {
    expect(problems('r0 s/= 3\nexit', { cpuVersion: 3 })).toEqual(['instruction 0: needs CPU version v4 (enabled: v3)']);
    expect(problems('if w0 > 1 goto +0\nexit', { cpuVersion: 2 })).toEqual(['instruction 0: needs CPU version v3 (enabled: v2)']);
    expect(problems('if r0 < 1 goto +0\nexit', { cpuVersion: 1 })).toEqual(['instruction 0: needs CPU version v2 (enabled: v1)']);
    expect(problems('if r0 < 1 goto +0\nexit', { cpuVersion: 2 })).toEqual([]);
    expect(problems('callx r1\nexit', { callx: false })).toEqual(['instruction 0: callx is not enabled']);
    expect(problems('r0 = *(u8 *)skb[12]\nexit', { legacyPacket: false })).toEqual(['instruction 0: legacy packet loads (LD_ABS/LD_IND) are not enabled']);
    expect(problems('ld_pseudo r1, 1, 3\nexit', { pseudoLddw: false })).toEqual(['instruction 0: lddw with a pseudo source is not enabled']);
    expect(problems('call kfunc(5)\nexit', { kfuncCalls: false })).toEqual(['instruction 0: kfunc calls are not enabled']);
    expect(problems('call 1\ncall 99\nexit', { knownHelper: (id) => id === 1 })).toEqual(['instruction 1: unknown helper 99']);
    expect(problems('r0 <<= 64\nw0 >>= 32\nr0 s>>= 63\nexit')).toEqual([]);
    expect(problems('r0 <<= 64\nw0 >>= 32\nr0 s>>= 63\nexit', { shiftRange: true })).toEqual([
      'instruction 0: shift by 64, outside 0..63',
      'instruction 1: shift by 32, outside 0..31',
    ]);
  });
});
