/**
 * The structural validator: what uBPF and rbpf check when a program is
 * loaded, before anything runs it. Known opcodes, reserved fields zero
 * (including LDDW's second slot), registers in range, no write to r10, jumps
 * and calls that land inside the program and not on the second half of an
 * LDDW, no division by a constant zero, size limits, and a last instruction
 * that is an exit or an unconditional jump.
 *
 * This is not the verifier (src/verifier): it proves nothing about memory
 * accesses or termination. The embedded VM checks every access at run time
 * for programs that only passed this.
 */
import { type CheckOptions, checkInstruction } from './check.js';
import { EbpfValidationError } from './errors.js';
import type { Instruction } from './insn.js';
import { Class, JmpOp, LDDW, MAX_INSNS, PseudoCall, PseudoLd, opAlu, opClass, opSource, Source } from './opcodes.js';

export interface ValidateOptions extends CheckOptions {
  /** Most slots a program may have (default 1,000,000, the kernel's limit for privileged programs; uBPF uses 65,536). */
  maxInstructions?: number;
  /** Require the last instruction to be exit or an unconditional jump (default true). */
  requireExit?: boolean;
}

/**
 * Where the instruction at slot `i` transfers control to, as a slot index,
 * for jumps, bpf-to-bpf calls and LDDW of a function address; undefined for
 * everything else (including exit, helper calls and callx).
 */
export function branchTarget(insns: readonly Instruction[], i: number): number | undefined {
  const ins = insns[i]!;
  const cls = opClass(ins.code);
  if (ins.code === LDDW) return ins.src === PseudoLd.FUNC ? i + 1 + ins.imm : undefined;
  if (cls !== Class.JMP && cls !== Class.JMP32) return undefined;
  const op = opAlu(ins.code);
  if (op === JmpOp.EXIT) return undefined;
  if (op === JmpOp.CALL) {
    return cls === Class.JMP && opSource(ins.code) === Source.K && ins.src === PseudoCall.CALL ? i + 1 + ins.imm : undefined;
  }
  if (op === JmpOp.JA && cls === Class.JMP32) return i + 1 + ins.imm;
  return i + 1 + ins.off;
}

/** Every structural problem of the program, in slot order (empty when it is valid). */
export function validationErrors(insns: readonly Instruction[], opts: ValidateOptions = {}): EbpfValidationError[] {
  const errors: EbpfValidationError[] = [];
  const n = insns.length;
  const max = opts.maxInstructions ?? MAX_INSNS;
  if (n === 0) return [new EbpfValidationError('the program is empty', -1)];
  if (n > max) errors.push(new EbpfValidationError(`the program has ${n} instructions, more than the limit of ${max}`, -1));

  const second = new Uint8Array(n);
  for (let i = 0; i < n; i++) {
    const ins = insns[i]!;
    const problem = checkInstruction(ins, insns[i + 1], opts);
    if (problem) errors.push(new EbpfValidationError(problem, i));
    if (ins.code === LDDW && i + 1 < n) second[++i] = 1;
  }

  for (let i = 0; i < n; i++) {
    if (second[i]) continue;
    const t = branchTarget(insns, i);
    if (t === undefined) continue;
    const what = insns[i]!.code === LDDW ? 'function address' : opAlu(insns[i]!.code) === JmpOp.CALL ? 'call' : 'jump';
    if (t < 0 || t >= n) {
      errors.push(new EbpfValidationError(`${what} target ${t} is outside the program (0..${n - 1})`, i));
    } else if (second[t]) {
      errors.push(new EbpfValidationError(`${what} target ${t} is the second half of the lddw at ${t - 1}`, i));
    }
  }

  if (opts.requireExit !== false) {
    const last = second[n - 1] ? n - 2 : n - 1;
    const code = insns[last]!.code;
    const ok = code === (Class.JMP | JmpOp.EXIT) || code === (Class.JMP | JmpOp.JA) || code === (Class.JMP32 | JmpOp.JA);
    if (!ok) errors.push(new EbpfValidationError('the program must end with exit or an unconditional jump', last));
  }
  errors.sort((a, b) => a.index - b.index);
  return errors;
}

/** Throw the first structural problem of the program as an EbpfValidationError. */
export function validate(insns: readonly Instruction[], opts: ValidateOptions = {}): void {
  const errors = validationErrors(insns, opts);
  if (errors.length > 0) throw errors[0]!;
}
