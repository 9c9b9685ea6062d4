/**
 * Errors of the classic BPF layer: an invalid program (with the instruction
 * index and the rule it breaks) and a text that does not parse (with line and
 * column).
 */
import { BpfkitError } from '../errors.js';

/** Which rule set a program is checked against. */
export type ValidationMode = 'kernel' | 'libpcap';

/**
 * The rules a classic program can break. Each names one check of the Linux
 * kernel's `bpf_check_classic()` (sk_chk_filter) or of libpcap's
 * `bpf_validate()`; `ValidationProblem.mode` says which checker has it.
 */
export type ValidationRule =
  /** Empty program, or more instructions than the checker allows (kernel: 4096). */
  | 'program-length'
  /** An opcode that neither the kernel nor libpcap's interpreter knows. */
  | 'unknown-opcode'
  /** A jump whose target is past the last instruction. */
  | 'jump-out-of-range'
  /** A `ja` with a negative offset (the kernel allows forward jumps only). */
  | 'backward-jump'
  /** A `ja` to itself (k = -1), an infinite loop (libpcap). */
  | 'infinite-loop'
  /** A scratch memory index M[k] with k >= 16. */
  | 'scratch-index'
  /** A division or modulo by the constant 0. */
  | 'division-by-zero'
  /** A shift by a constant of 32 or more. */
  | 'shift-range'
  /** An absolute load at SKF_AD_OFF + n where n is no known ancillary field (kernel). */
  | 'unknown-ancillary'
  /** The last instruction is not a `ret`. */
  | 'no-final-return'
  /** A load from M[k] that some path reaches before any store to M[k] (kernel). */
  | 'uninitialized-scratch';

export interface ValidationProblem {
  /** Instruction index, or -1 for the program as a whole (its length). */
  index: number;
  rule: ValidationRule;
  mode: ValidationMode;
  /** What is wrong, without the location prefix. */
  message: string;
}

/** A classic program that a checker (the kernel's or libpcap's) would refuse. */
export class CbpfValidationError extends BpfkitError {
  /** Index of the offending instruction, or -1 when the program as a whole is at fault. */
  readonly index: number;
  readonly rule: ValidationRule;
  readonly mode: ValidationMode;
  /** Every problem found (the first is the one in the message). */
  readonly problems: readonly ValidationProblem[];

  constructor(problems: readonly ValidationProblem[], insnText?: string) {
    const first = problems[0]!;
    const where = first.index < 0 ? 'program' : `instruction ${first.index}${insnText ? ` (${insnText})` : ''}`;
    super('ECBPF_INVALID', `invalid classic BPF program: ${where}: ${first.message} [${first.mode} rule ${first.rule}]`);
    this.index = first.index;
    this.rule = first.rule;
    this.mode = first.mode;
    this.problems = problems;
  }

  override detail(): string | undefined {
    if (this.problems.length <= 1) return undefined;
    const more = this.problems
      .slice(1, 11)
      .map((p) => `  ${p.index < 0 ? 'program' : `instruction ${p.index}`}: ${p.message} [${p.rule}]`);
    if (this.problems.length > 11) more.push(`  ... and ${this.problems.length - 11} more`);
    return more.join('\n');
  }
}

/** A program text (-d, -dd, -ddd, bpf_asm) that does not parse. */
export class CbpfParseError extends BpfkitError {
  /** 1-based line. */
  readonly line: number;
  /** 1-based column. */
  readonly column: number;
  /** The offending source line, for the caret display. */
  readonly sourceLine: string;
  /** What is wrong, without the location. */
  readonly reason: string;
  /** The format being parsed ('-d', '-dd', '-ddd', 'bpf_asm'), if known. */
  readonly format: string | undefined;

  constructor(reason: string, line: number, column: number, sourceLine: string, format?: string) {
    super('ECBPF_PARSE', `${format ? `${format}: ` : ''}line ${line}, column ${column}: ${reason}`);
    this.line = line;
    this.column = column;
    this.sourceLine = sourceLine;
    this.reason = reason;
    this.format = format;
  }

  /** The same error, its message prefixed with where the text came from (a file name). */
  withSource(name: string): CbpfParseError {
    return new CbpfParseError(this.reason, this.line, this.column, this.sourceLine, this.format ? `${name} (${this.format})` : name);
  }

  override detail(): string {
    const shown = this.sourceLine.replace(/\t/g, ' ');
    return `  ${shown}\n  ${' '.repeat(Math.max(0, this.column - 1))}^`;
  }
}
