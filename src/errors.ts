/**
 * The root of bpfkit's typed errors. Every layer defines its own subclasses
 * (FilterSyntaxError, PcapFormatError, VerifierError, KernelError, ...), each
 * carrying where the problem is: line/column for text, byte offset for files,
 * instruction index for programs, errno and the verifier log for the kernel.
 *
 * The CLI prints `bpfkit: <message>` for any BpfkitError and exits non-zero;
 * anything else is a bug in bpfkit and gets a stack trace.
 *
 * This module may be imported by every layer and imports nothing.
 */
export class BpfkitError extends Error {
  /** A stable, machine-readable code, e.g. 'EFILTER_SYNTAX', 'EPCAP_FORMAT'. */
  readonly code: string;

  constructor(code: string, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.code = code;
    this.name = new.target.name;
  }

  /** Extra lines the CLI prints under the message (a caret line, a verifier log). */
  detail(): string | undefined {
    return undefined;
  }
}

/** Raised for a caller's misuse of an API (bad argument types, out-of-range options). */
export class UsageError extends BpfkitError {
  constructor(message: string) {
    super('EUSAGE', message);
  }
}
