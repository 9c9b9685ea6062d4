/**
 * The kernel engine's errors. A refusal by the kernel becomes a KernelError
 * (a BpfErrnoError: `errno`, `errnoName`, `op`) that also says what it was
 * about and the hint: what this errno means for this operation, or the
 * kernel's own words (the verifier log, the BTF log). No privileges becomes
 * one clear PermissionError; no kernel at all (not Linux, no libc) a
 * KernelUnavailableError.
 */
import { BpfkitError } from '../errors.js';
import { BpfErrnoError, Errno, errnoName } from '../ebpf/engine.js';
import { readFileSync } from 'node:fs';

/** The kernel engine cannot run here at all (not Linux, no C library). */
export class KernelUnavailableError extends BpfkitError {
  constructor(message: string) {
    super('ENOKERNEL', message);
  }
}

/** What strerror(3) says, for the errnos bpf(2) and friends report. */
const DESCRIPTIONS: Record<number, string> = {
  1: 'operation not permitted',
  2: 'no such file or entry',
  3: 'no such process',
  4: 'interrupted',
  7: 'argument list too long',
  9: 'bad file descriptor',
  11: 'resource temporarily unavailable',
  12: 'out of memory',
  13: 'permission denied',
  14: 'bad address',
  16: 'device or resource busy',
  17: 'already exists',
  19: 'no such device',
  20: 'not a directory',
  22: 'invalid argument',
  24: 'too many open files',
  28: 'no space left',
  34: 'result out of range',
  38: 'function not implemented',
  40: 'too many levels of symbolic links',
  95: 'operation not supported',
  524: 'operation not supported by this kernel (ENOTSUPP)',
};

/** The meaning of an errno for a given operation: bpf(2)'s man page and the kernel's sources, condensed. */
const HINTS: Record<string, Partial<Record<number, string>>> = {
  'map create': {
    [Errno.EINVAL]: 'the kernel refused the map attributes (type, key/value size, max_entries or flags do not fit this map type)',
    [Errno.E2BIG]: 'key size, value size or max_entries is larger than this map type allows',
    [Errno.ENOMEM]: 'not enough memory for max_entries entries (or the memlock limit)',
    [Errno.EPERM]: 'this map type or flag needs more privileges (CAP_BPF, CAP_SYS_ADMIN, CAP_NET_ADMIN)',
    [Errno.ENOTSUPP]: 'this map type or flag is not supported by this kernel',
    [Errno.EOPNOTSUPP]: 'this map type or flag is not supported by this kernel',
  },
  'map lookup': {
    [Errno.ENOENT]: 'no such key',
    [Errno.EPERM]: 'this map cannot be read from user space',
    [Errno.EINVAL]: 'bad key or flags for this map type',
    [Errno.ENOTSUPP]: 'this map type does not support lookups from user space',
  },
  'map update': {
    [Errno.E2BIG]: 'the map is full (max_entries elements)',
    [Errno.EEXIST]: 'the key already exists (flag NOEXIST)',
    [Errno.ENOENT]: 'no such key (flag EXIST)',
    [Errno.EPERM]: 'the map is frozen or read-only for user space',
    [Errno.EINVAL]: 'bad key, value or flags for this map type (array index out of range?)',
    [Errno.EBUSY]: 'the map is busy (being updated by a program on this CPU)',
    [Errno.ENOTSUPP]: 'this map type does not support updates from user space',
  },
  'map delete': {
    [Errno.ENOENT]: 'no such key',
    [Errno.EINVAL]: 'elements of this map type cannot be deleted (arrays)',
    [Errno.EPERM]: 'the map is frozen or read-only for user space',
  },
  'map next key': { [Errno.ENOENT]: 'no more keys' },
  'map lookup and delete': {
    [Errno.ENOENT]: 'no such key (or the queue/stack is empty)',
    [Errno.ENOTSUPP]: 'this map type does not support lookup-and-delete',
  },
  'map freeze': {
    [Errno.EBUSY]: 'the map is mmap()ed writable or already frozen',
    [Errno.ENOTSUPP]: 'this map type cannot be frozen',
  },
  'prog load': {
    [Errno.E2BIG]: 'the program is too large (more instructions than this kernel allows)',
    [Errno.EPERM]: 'this program type or feature needs more privileges',
    [Errno.EINVAL]: 'the kernel refused the program attributes (type, attach type, flags or license)',
    [Errno.ENOTSUPP]: 'this program type or feature is not supported by this kernel',
  },
  'prog test run': {
    [Errno.ENOTSUPP]: 'this program type cannot be test-run by this kernel',
    [Errno.EINVAL]: 'data or ctx of a size or shape this program type does not accept (or repeat given where it is not allowed)',
    [Errno.ENOSPC]: 'data_out is too small for the output (dataSizeOut)',
    [Errno.EPERM]: 'test-running this program type needs more privileges',
  },
  'obj pin': {
    [Errno.EEXIST]: 'a file already exists at that path',
    [Errno.ENOENT]: 'the directory does not exist',
    [Errno.EPERM]: "the path is not on a bpf filesystem (mount -t bpf), or its name has a '.' (bpffs refuses those)",
  },
  'obj get': {
    [Errno.ENOENT]: 'nothing is pinned at that path',
    [Errno.EINVAL]: 'the path holds a different kind of object',
    [Errno.EPERM]: 'the path is not on a bpf filesystem, or the object cannot be opened with these flags',
  },
  'btf load': {
    [Errno.EINVAL]: 'the kernel refused the BTF (see its log)',
    [Errno.E2BIG]: 'the BTF blob is too large',
  },
  'perf_event_open': {
    [Errno.ENOENT]: 'no such event type or config on this machine',
    [Errno.ENODEV]: 'no such PMU or CPU',
    [Errno.EACCES]: 'perf events need CAP_PERFMON (or a lower kernel.perf_event_paranoid)',
    [Errno.EINVAL]: 'the kernel refused the perf_event_attr',
  },
  'link create': {
    [Errno.EINVAL]: 'the program or attach type does not fit this target',
    [Errno.EBUSY]: 'something is already attached there (exclusive attachment)',
    [Errno.ENOTSUPP]: 'this attach type is not supported by this kernel',
  },
};

/** Does this process have the capabilities to load BPF programs (CAP_BPF+CAP_PERFMON or CAP_SYS_ADMIN)? */
export function hasBpfCapabilities(): boolean {
  try {
    const status = readFileSync('/proc/self/status', 'utf8');
    const m = /^CapEff:\s*([0-9a-f]+)$/m.exec(status);
    if (!m) return true;
    const caps = BigInt('0x' + m[1]);
    const has = (bit: number) => (caps >> BigInt(bit)) & 1n;
    const CAP_SYS_ADMIN = 21;
    const CAP_PERFMON = 38;
    const CAP_BPF = 39;
    return has(CAP_SYS_ADMIN) === 1n || (has(CAP_BPF) === 1n && has(CAP_PERFMON) === 1n);
  } catch {
    return true;
  }
}

/** A refusal by the kernel: op, errno, what it was about and what it means. */
export class KernelError extends BpfErrnoError {
  constructor(
    op: string,
    errno: number,
    /** What the operation was about: `map "counts"`, `program "xdp_pass"`, a path. */
    readonly subject: string | undefined,
    /** What this errno means here, or the kernel's own words. */
    readonly hint: string | undefined,
  ) {
    const what = subject ? `${op} (${subject})` : op;
    const desc = hint ?? DESCRIPTIONS[errno];
    super(what, errno, desc ? `${errnoName(errno)}: ${desc}` : errnoName(errno));
  }
}

/** No privileges for BPF: one clear message, nothing else. */
export class PermissionError extends KernelError {
  constructor(op: string, errno: number, subject?: string) {
    super(op, errno, subject, undefined);
    this.message = 'loading BPF programs needs root (CAP_BPF and CAP_PERFMON)';
  }
}

/** The kernel's verifier refused a program: the complete log and the failing instruction. */
export class VerifierError extends KernelError {
  constructor(
    errno: number,
    readonly program: string,
    /** The complete verifier log. */
    readonly log: string,
    /** Slot index of the instruction the verifier stopped at, when the log names one. */
    readonly insnIndex: number | undefined,
    /** The verifier's last words: the reason it gave. */
    readonly reason: string,
    /** The log line of the failing instruction as the verifier printed it. */
    readonly insnText: string | undefined,
  ) {
    super('prog load', errno, `program "${program}"`, undefined);
    const at = insnIndex === undefined ? '' : ` at instruction ${insnIndex}`;
    this.message = `the kernel verifier refused program "${program}"${at}: ${reason}`;
  }

  override detail(): string {
    const lines = ['verifier log:', this.log.trimEnd()];
    if (this.insnIndex !== undefined) {
      lines.push(`failing instruction: ${this.insnText ?? this.insnIndex}`);
    }
    return lines.join('\n');
  }
}

/** The kernel refused a BTF blob: the BTF log says why. */
export class BtfLoadError extends KernelError {
  constructor(
    errno: number,
    readonly log: string,
  ) {
    const last = log.trimEnd().split('\n').filter(Boolean).pop();
    super('btf load', errno, undefined, last ?? HINTS['btf load']?.[errno]);
  }

  override detail(): string | undefined {
    return this.log ? `BTF log:\n${this.log.trimEnd()}` : undefined;
  }
}

/** A pinned object that does not match what the caller expects. */
export class PinMismatchError extends BpfkitError {
  constructor(
    readonly path: string,
    message: string,
  ) {
    super('EPIN_MISMATCH', `pinned object at ${path} ${message}`);
  }
}

/** Throw the one clear PermissionError when this process cannot use BPF at all (before anything else goes wrong). */
export function requireBpfCapabilities(): void {
  if (!hasBpfCapabilities()) throw new PermissionError('bpf', Errno.EPERM);
}

/** The typed error for a refusal (-errno result) of `op`. */
export function kernelError(op: string, errno: number, subject?: string, hint?: string): KernelError {
  if ((errno === Errno.EPERM || errno === Errno.EACCES) && !hasBpfCapabilities()) {
    return new PermissionError(op, errno, subject);
  }
  if (errno === Errno.ENOSYS && !hint) hint = 'this kernel has no bpf() system call (CONFIG_BPF_SYSCALL is off)';
  return new KernelError(op, errno, subject, hint ?? HINTS[op]?.[errno]);
}
