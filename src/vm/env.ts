/**
 * What the host supplies to programs through helpers: clocks, randomness,
 * the current CPU and task, stacks, and where text output goes. Everything
 * has a default that works in any JavaScript runtime (no Node.js APIs are
 * required); embedders override what they need, and tests make runs
 * deterministic by fixing the clock and the random seed.
 */

export interface TaskInfo {
  pid: number;
  tgid: number;
  uid: number;
  gid: number;
  /** The task's command name (at most 15 bytes are visible, as TASK_COMM_LEN = 16). */
  comm: string;
}

export interface HostEnv {
  /** CLOCK_MONOTONIC in nanoseconds (bpf_ktime_get_ns). */
  monotonicNs(): bigint;
  /** CLOCK_BOOTTIME in nanoseconds (bpf_ktime_get_boot_ns). */
  bootNs(): bigint;
  /** CLOCK_MONOTONIC_COARSE in nanoseconds (bpf_ktime_get_coarse_ns). */
  coarseNs(): bigint;
  /** The jiffies counter (bpf_jiffies64). */
  jiffies(): bigint;
  /** A pseudo-random u32 (bpf_get_prandom_u32). */
  random(): number;
  /** The CPU the program runs on (bpf_get_smp_processor_id; selects per-CPU map slots). */
  cpu: number;
  /** The current task (bpf_get_current_pid_tgid, _uid_gid, _comm). */
  task: TaskInfo;
  /** Kernel and user stacks as instruction pointers, innermost first (bpf_get_stack, bpf_get_stackid). */
  kernelStack: bigint[];
  userStack: bigint[];
  /** Where bpf_trace_printk and bpf_trace_vprintk lines go. */
  trace(line: string): void;
}

export interface EnvOptions extends Partial<HostEnv> {
  /** Seed of the default random generator, for reproducible runs. */
  seed?: number;
  /** Jiffies per second of the default jiffies clock (CONFIG_HZ); default 250. */
  hz?: number;
}

const nowNs = (): bigint => BigInt(Math.floor(performance.now() * 1e6));

/** xorshift32: small, fast, seedable. */
function xorshift(seed: number): () => number {
  let x = seed >>> 0 || 0x9e3779b9;
  return () => {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    return x >>> 0;
  };
}

function defaultTask(): TaskInfo {
  const proc = (globalThis as { process?: { pid?: number; getuid?: () => number; getgid?: () => number; title?: string } }).process;
  const pid = proc?.pid ?? 1;
  return {
    pid,
    tgid: pid,
    uid: proc?.getuid?.() ?? 0,
    gid: proc?.getgid?.() ?? 0,
    comm: (proc?.title ?? 'bpfkit').split('/').pop()!.slice(0, 15),
  };
}

export function makeEnv(options: EnvOptions = {}): HostEnv {
  const hz = options.hz ?? 250;
  const monotonicNs = options.monotonicNs ?? nowNs;
  return {
    monotonicNs,
    bootNs: options.bootNs ?? monotonicNs,
    coarseNs: options.coarseNs ?? (() => (monotonicNs() / 4_000_000n) * 4_000_000n),
    jiffies: options.jiffies ?? (() => (monotonicNs() * BigInt(hz)) / 1_000_000_000n),
    random: options.random ?? xorshift(options.seed ?? Math.floor(Math.random() * 0x1_0000_0000)),
    cpu: options.cpu ?? 0,
    task: options.task ?? defaultTask(),
    kernelStack: options.kernelStack ?? [],
    userStack: options.userStack ?? [],
    trace: options.trace ?? (() => undefined),
  };
}
