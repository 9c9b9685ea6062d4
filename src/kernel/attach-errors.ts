/**
 * Errors of the attach layer that are not refusals by the kernel: a target
 * that does not exist (a tracepoint, a binary, a symbol, a USDT probe, a
 * network interface, a cgroup) or a request that cannot be met (a cookie on
 * a kernel without bpf_link for perf events). Each names what was asked for
 * and where it was looked for. Refusals by the kernel stay KernelErrors.
 */
import { BpfkitError } from '../errors.js';

/** What was asked for does not exist: `target` names it as the user wrote it. */
export class AttachTargetError extends BpfkitError {
  constructor(
    /** The kind of target: 'tracepoint', 'binary', 'symbol', 'usdt', 'interface', 'cgroup', ... */
    readonly kind: string,
    /** The target as the user named it. */
    readonly target: string,
    message: string,
  ) {
    super('EATTACH_TARGET', message);
  }
}

/** The attach request itself is wrong or cannot be met here (bad spec text, unsupported option). */
export class AttachError extends BpfkitError {
  constructor(message: string) {
    super('EATTACH', message);
  }
}
