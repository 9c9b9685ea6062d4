/**
 * Errors of the eBPF ISA layer: bad assembly text (line and column) and
 * structurally invalid bytecode (instruction index).
 */
import { BpfkitError } from '../errors.js';

/** A mistake in assembly text. `line` and `column` are 1-based. */
export class AsmError extends BpfkitError {
  constructor(
    /** What is wrong, without the position. */
    readonly reason: string,
    readonly line: number,
    readonly column: number,
    /** The text of the offending line, for the caret display. */
    readonly sourceLine = '',
    /** The file name, when the text came from one. */
    readonly file?: string,
  ) {
    super('EBPF_ASM', `${file ? file + ':' : ''}${line}:${column}: ${reason}`);
  }

  override detail(): string | undefined {
    if (!this.sourceLine) return undefined;
    const pad = this.sourceLine.slice(0, Math.max(0, this.column - 1)).replace(/[^\t]/g, ' ');
    return `  ${this.sourceLine}\n  ${pad}^`;
  }
}

/** A program that fails the structural checks of `validate()`. `index` is the slot index. */
export class EbpfValidationError extends BpfkitError {
  constructor(
    readonly reason: string,
    /** The slot index of the offending instruction (-1 for a whole-program problem such as an empty program). */
    readonly index: number,
  ) {
    super('EBPF_INVALID', index >= 0 ? `instruction ${index}: ${reason}` : reason);
  }
}
