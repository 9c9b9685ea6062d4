/**
 * The validator: the Linux kernel's checks for a classic socket filter
 * (`bpf_check_classic()`, formerly sk_chk_filter, plus its
 * `check_load_and_stores()`) and libpcap's `bpf_validate()` (as of libpcap
 * 1.11, whose rules are a superset of 1.10's).
 *
 * | rule                  | kernel | libpcap |
 * | --------------------- | ------ | ------- |
 * | program-length        | 1..4096 | 1..3,060,000 |
 * | unknown-opcode        | yes    | yes     |
 * | jump-out-of-range     | yes    | yes     |
 * | backward-jump         | yes    | no (libpcap's `protochain` jumps back) |
 * | infinite-loop         | (covered by backward-jump) | `ja` to itself |
 * | scratch-index         | yes    | yes     |
 * | division-by-zero      | yes    | yes     |
 * | shift-range           | yes    | yes (libpcap >= 1.11) |
 * | unknown-ancillary     | yes    | no (such loads fail at run time) |
 * | no-final-return       | yes    | yes     |
 * | uninitialized-scratch | yes    | no (scratch memory starts zeroed) |
 *
 * A program the kernel accepts is also accepted by libpcap.
 */
import { formatInsn } from './format.js';
import {
  BPF_ABS, BPF_ALU, BPF_DIV, BPF_JA, BPF_JMP, BPF_K, BPF_LD, BPF_LDX, BPF_LSH, BPF_MAXINSNS, BPF_MEM,
  BPF_MEMWORDS, BPF_MOD, BPF_RET, BPF_RSH, BPF_ST, BPF_STX, type CbpfInsn, type CbpfProgram,
} from './insn.js';
import { CbpfValidationError, type ValidationMode, type ValidationProblem, type ValidationRule } from './errors.js';
import { ancillaryField, isConditionalJump, isValidOpcode, SKF_AD_OFF_U32 } from './opcodes.js';

/** libpcap's userland limit (bpf_filter.c, libpcap 1.11). */
export const LIBPCAP_MAXINSNS = 3_060_000;

/** Every problem the chosen checker finds, in instruction order (empty when valid). */
export function checkProgram(prog: CbpfProgram, mode: ValidationMode = 'kernel'): ValidationProblem[] {
  const problems: ValidationProblem[] = [];
  const add = (index: number, rule: ValidationRule, message: string): void => {
    problems.push({ index, rule, mode, message });
  };
  const len = prog.length;
  const max = mode === 'kernel' ? BPF_MAXINSNS : LIBPCAP_MAXINSNS;
  if (len < 1) {
    add(-1, 'program-length', 'the program is empty (at least one instruction is needed)');
    return problems;
  }
  if (len > max) {
    add(-1, 'program-length', `the program has ${len} instructions; the ${mode === 'kernel' ? 'kernel' : 'libpcap'} limit is ${max}`);
    return problems;
  }
  let jumpsOk = true;
  for (let pc = 0; pc < len; pc++) {
    const insn = prog[pc]!;
    const code = insn.code;
    const k = insn.k >>> 0;
    if (!isValidOpcode(code)) {
      add(pc, 'unknown-opcode', `unknown opcode 0x${code.toString(16)}`);
      continue;
    }
    const cls = code & 0x07;
    if (cls === BPF_ALU && (code & 0x08) === BPF_K) {
      const op = code & 0xf0;
      if ((op === BPF_DIV || op === BPF_MOD) && k === 0) {
        add(pc, 'division-by-zero', `${op === BPF_DIV ? 'division' : 'modulo'} by the constant 0`);
      } else if ((op === BPF_LSH || op === BPF_RSH) && k >= 32) {
        add(pc, 'shift-range', `shift by the constant ${k} (must be below 32)`);
      }
    } else if (code === (BPF_LD | BPF_MEM) || code === (BPF_LDX | BPF_MEM) || code === BPF_ST || code === BPF_STX) {
      if (k >= BPF_MEMWORDS) add(pc, 'scratch-index', `scratch memory index ${k} (there are ${BPF_MEMWORDS} words, M[0] to M[15])`);
    } else if (code === (BPF_JMP | BPF_JA)) {
      const signed = k | 0;
      if (mode === 'kernel') {
        if (k >= len - pc - 1) {
          jumpsOk = false;
          if (signed < 0) add(pc, 'backward-jump', `ja with offset ${signed} jumps backwards (only forward jumps are allowed)`);
          else add(pc, 'jump-out-of-range', `ja to ${pc + 1 + k}, past the last instruction (${len - 1})`);
        }
      } else {
        // libpcap: from + k in 32-bit unsigned arithmetic must stay inside the program.
        const target = (pc + 1 + k) >>> 0;
        if (target >= len) {
          jumpsOk = false;
          add(pc, 'jump-out-of-range', signed < 0
            ? `ja with offset ${signed} jumps before the first instruction`
            : `ja to ${pc + 1 + k}, past the last instruction (${len - 1})`);
        } else if (signed === -1) {
          jumpsOk = false;
          add(pc, 'infinite-loop', 'ja to itself (offset -1) loops forever');
        }
      }
    } else if (isConditionalJump(code)) {
      const jt = pc + 1 + insn.jt;
      const jf = pc + 1 + insn.jf;
      if (jt >= len || jf >= len) {
        jumpsOk = false;
        const which = jt >= len ? `jt to ${jt}` : `jf to ${jf}`;
        add(pc, 'jump-out-of-range', `${which}, past the last instruction (${len - 1})`);
      }
    } else if (mode === 'kernel' && cls === BPF_LD && (code & 0xe0) === BPF_ABS) {
      if (k >= SKF_AD_OFF_U32 && ancillaryField(k) === undefined) {
        add(pc, 'unknown-ancillary', `absolute load at SKF_AD_OFF+${k - SKF_AD_OFF_U32} is no known ancillary field`);
      }
    }
  }
  const last = prog[len - 1]!;
  // The kernel wants exactly ret #k or ret a; libpcap looks at the class only (an
  // invalid ret-class opcode is already reported as unknown-opcode).
  const lastIsRet = mode === 'kernel'
    ? last.code === (BPF_RET | 0x00) || last.code === (BPF_RET | 0x10)
    : (last.code & 0x07) === BPF_RET;
  if (!lastIsRet) {
    add(len - 1, 'no-final-return', 'the last instruction is not a return (ret #k or ret a)');
  }
  if (mode === 'kernel' && jumpsOk && problems.length === 0) {
    const bad = uninitializedScratchLoad(prog);
    if (bad) add(bad.pc, 'uninitialized-scratch', `M[${bad.slot}] is read before it is written on some path`);
  }
  return problems;
}

/**
 * The kernel's check_load_and_stores(): walking forward, a scratch slot is
 * valid after a store, and at a jump target only if it is valid on every
 * path that reaches it. Assumes the jumps are in range and forward.
 */
function uninitializedScratchLoad(prog: CbpfProgram): { pc: number; slot: number } | undefined {
  const len = prog.length;
  const masks = new Uint16Array(len).fill(0xffff);
  let valid = 0;
  for (let pc = 0; pc < len; pc++) {
    valid &= masks[pc]!;
    const { code, k } = prog[pc]!;
    if (code === BPF_ST || code === BPF_STX) {
      valid |= 1 << k;
    } else if (code === (BPF_LD | BPF_MEM) || code === (BPF_LDX | BPF_MEM)) {
      if (!(valid & (1 << k))) return { pc, slot: k };
    } else if (code === (BPF_JMP | BPF_JA)) {
      masks[pc + 1 + (k >>> 0)]! &= valid;
      valid = 0xffff;
    } else if (isConditionalJump(code)) {
      masks[pc + 1 + prog[pc]!.jt]! &= valid;
      masks[pc + 1 + prog[pc]!.jf]! &= valid;
      valid = 0xffff;
    }
  }
  return undefined;
}

/** Throw a CbpfValidationError naming the first problem, if the checker refuses the program. */
export function validate(prog: CbpfProgram, mode: ValidationMode = 'kernel'): void {
  const problems = checkProgram(prog, mode);
  if (problems.length > 0) {
    const first = problems[0]!;
    const text = first.index >= 0 ? describe(prog[first.index]!, first.index) : undefined;
    throw new CbpfValidationError(problems, text);
  }
}

/** True when the chosen checker accepts the program. */
export function isValid(prog: CbpfProgram, mode: ValidationMode = 'kernel'): boolean {
  return checkProgram(prog, mode).length === 0;
}

function describe(insn: CbpfInsn, index: number): string {
  const text = formatInsn(insn, index, 'libpcap-1.11').replace(/^\(\d+\) /, '').replace(/\s+/g, ' ').trim();
  return `${text}; code 0x${insn.code.toString(16)} jt ${insn.jt} jf ${insn.jf} k 0x${(insn.k >>> 0).toString(16)}`;
}
