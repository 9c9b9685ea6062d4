/**
 * The VM's typed errors. Each says what went wrong and where: the program,
 * the instruction index (in 8-byte slots, as the kernel counts), and for
 * memory faults the address, the size and the region involved.
 */
import { BpfkitError } from '../errors.js';
import { BpfErrnoError, errnoName } from '../ebpf/engine.js';

/** Where in a program something happened. */
export interface InsnSite {
  /** The program's name. */
  program: string;
  /** Instruction index in slots. */
  pc: number;
  /** Opcode byte of that instruction. */
  code: number;
  /** The instruction disassembled, when known. */
  text?: string;
}

function siteText(site: InsnSite): string {
  const what = site.text ?? `opcode 0x${site.code.toString(16).padStart(2, '0')}`;
  return `${site.program}: instruction ${site.pc} (${what})`;
}

/** A program refused at load: malformed bytecode, unresolved references, unknown helpers. */
export class VmLoadError extends BpfkitError {
  constructor(
    readonly program: string,
    readonly pc: number | undefined,
    message: string,
  ) {
    super('EVM_LOAD', pc === undefined ? `${program}: ${message}` : `${program}: instruction ${pc}: ${message}`);
  }
}

/** Base class of faults raised while a program runs. */
export class VmRuntimeError extends BpfkitError {
  constructor(
    code: string,
    readonly site: InsnSite,
    message: string,
  ) {
    super(code, `${siteText(site)}: ${message}`);
  }
  get pc(): number {
    return this.site.pc;
  }
}

/** A load or store outside the region table, past a region's end, or a write to a read-only region. */
export class VmMemoryError extends VmRuntimeError {
  constructor(
    site: InsnSite,
    readonly access: 'read' | 'write',
    readonly address: bigint,
    readonly size: number,
    /** The region the address fell in or nearest to, when there is one. */
    readonly region: string | undefined,
    reason: string,
  ) {
    super('EVM_MEMORY', site, `${access} of ${size} byte${size === 1 ? '' : 's'} at 0x${address.toString(16)}: ${reason}`);
  }
}

/** The instruction budget ran out: a runaway or too-long program. */
export class VmBudgetError extends VmRuntimeError {
  constructor(
    site: InsnSite,
    readonly budget: number,
  ) {
    super('EVM_BUDGET', site, `instruction budget of ${budget} exhausted (raise it with the budget option)`);
  }
}

/** Call depth exceeded, a call to an unknown helper at run time (callx), a bad callback... */
export class VmCallError extends VmRuntimeError {
  constructor(site: InsnSite, message: string) {
    super('EVM_CALL', site, message);
  }
}

/** A helper refused its arguments in a way the kernel's verifier would have prevented. */
export class VmHelperError extends VmRuntimeError {
  constructor(
    site: InsnSite,
    readonly helper: string,
    message: string,
  ) {
    super('EVM_HELPER', site, `helper ${helper}: ${message}`);
  }
}

/** Invalid use of the VM's API by an embedder (bad options, closed objects). */
export class VmUsageError extends BpfkitError {
  constructor(message: string) {
    super('EVM_USAGE', message);
  }
}

/** A refusal the kernel would give with `errno`; the message starts with the errno's name, as the kernel engine's do. */
export function errnoError(op: string, errno: number, message: string): BpfErrnoError {
  return new BpfErrnoError(op, errno, `${errnoName(errno)}: ${message}`);
}
