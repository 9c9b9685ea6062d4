/**
 * The interfaces both engines implement: the embedded VM (src/vm) and the
 * Linux kernel (src/kernel). A user's code written against these works on
 * either, and tests run the same operation sequences on both and compare.
 *
 * Keys and values at this level are raw bytes in the target's byte order.
 * Typed access (integers, bigints, structs) is layered on top by codecs that
 * work with any MapHandle.
 */
import { BpfkitError } from '../errors.js';
import type { MapSpec } from './spec.js';
import type { ProgType } from './types.js';

/** Flags of BPF_MAP_UPDATE_ELEM. */
export const UpdateFlags = { ANY: 0, NOEXIST: 1, EXIST: 2, F_LOCK: 4 } as const;

/** Linux errno values that BPF operations report. */
export const Errno = {
  EPERM: 1,
  ENOENT: 2,
  ESRCH: 3,
  EINTR: 4,
  E2BIG: 7,
  EBADF: 9,
  EAGAIN: 11,
  ENOMEM: 12,
  EACCES: 13,
  EFAULT: 14,
  EBUSY: 16,
  EEXIST: 17,
  ENODEV: 19,
  EINVAL: 22,
  ENOSPC: 28,
  ERANGE: 34,
  ENOSYS: 38,
  ELOOP: 40,
  EOPNOTSUPP: 95,
  ENOTSUPP: 524,
} as const;
export type ErrnoName = keyof typeof Errno;

export function errnoName(errno: number): string {
  for (const [k, v] of Object.entries(Errno)) if (v === errno) return k;
  return `errno ${errno}`;
}

/**
 * An operation refused with an errno, by the kernel or by the VM imitating it.
 * `op` names the operation ('map update', 'prog load', ...).
 */
export class BpfErrnoError extends BpfkitError {
  readonly errno: number;
  readonly errnoName: string;
  constructor(
    readonly op: string,
    errno: number,
    message?: string,
  ) {
    const name = errnoName(errno);
    super(name, `${op}: ${message ?? name}`);
    this.errno = errno;
    this.errnoName = name;
  }
}

/** A live map in an engine. */
export interface MapHandle {
  readonly spec: Readonly<MapSpec>;
  /** Bytes of a value as user space reads and writes it: valueSize, or for per-CPU maps one 8-byte aligned slot per possible CPU. */
  readonly valueSlotSize?: number;
  /** The value for key, or undefined (ENOENT). Per-CPU maps return one slot per CPU, each rounded up to 8 bytes. */
  lookup(key: Uint8Array): Uint8Array | undefined;
  /** Insert or replace; throws BpfErrnoError (EEXIST, ENOENT, E2BIG, ...) as the kernel would. */
  update(key: Uint8Array, value: Uint8Array, flags?: number): void;
  /** Remove; throws BpfErrnoError ENOENT when absent. */
  delete(key: Uint8Array): void;
  /** The key after `key` in iteration order (the first key when undefined), or undefined at the end. */
  nextKey(key?: Uint8Array): Uint8Array | undefined;
  /** Queue/stack pop (key undefined) or hash lookup-and-delete. */
  lookupAndDelete(key?: Uint8Array): Uint8Array | undefined;
  /** Make the map read-only for user space writes (BPF_MAP_FREEZE). */
  freeze(): void;
  close(): void;
  /** Every entry (BPF_MAP_LOOKUP_BATCH), as [key, value] pairs. */
  lookupBatch?(batchSize?: number): [Uint8Array, Uint8Array][];
  /** Every entry, deleted as it is read (BPF_MAP_LOOKUP_AND_DELETE_BATCH). */
  lookupAndDeleteBatch?(batchSize?: number): [Uint8Array, Uint8Array][];
  /** Write many entries (BPF_MAP_UPDATE_BATCH); returns how many were written. */
  updateBatch?(keys: readonly Uint8Array[], values: readonly Uint8Array[], elemFlags?: number): number;
  /** Delete many keys (BPF_MAP_DELETE_BATCH); returns how many were deleted. */
  deleteBatch?(keys: readonly Uint8Array[]): number;
  /** Bloom filter membership: false means surely absent, true means maybe present. */
  contains?(value: Uint8Array): boolean;
}

export interface TestRunOptions {
  /** Packet data (data_in). */
  data?: Uint8Array;
  /** Context (ctx_in), e.g. a struct __sk_buff or xdp_md. */
  ctx?: Uint8Array;
  /** Run this many times; duration is the mean. */
  repeat?: number;
  /** Room for data_out (default: data length + headroom as the engine allows). */
  dataSizeOut?: number;
  flags?: number;
}

export interface TestRunResult {
  /** The program's return value, as a u32 (what BPF_PROG_TEST_RUN reports). */
  retval: number;
  dataOut: Uint8Array;
  ctxOut?: Uint8Array;
  /** Mean run time per repetition in nanoseconds. */
  duration: number;
}

/** A live program in an engine. */
export interface ProgramHandle {
  readonly name: string;
  readonly type: ProgType;
  testRun(options: TestRunOptions): TestRunResult;
  close(): void;
}

/** A live collection: what an engine makes of a CollectionSpec. */
export interface CollectionHandle {
  readonly programs: Record<string, ProgramHandle>;
  readonly maps: Record<string, MapHandle>;
  close(): void;
}
