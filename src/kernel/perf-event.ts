/**
 * perf_event_open(2): `struct perf_event_attr` and the ring's control page
 * (`struct perf_event_mmap_page`) as layouts, the constants bpfkit uses, and
 * a wrapper that returns an owned fd. Perf buffers (perfbuf.ts) use it for
 * PERF_COUNT_SW_BPF_OUTPUT rings; the attach layer uses it for tracepoints,
 * kprobes/uprobes (PMU events) and software clocks.
 */
import { kernelError } from './errors.js';
import { Fd } from './fd.js';
import { layout, type FieldsOf, type Value } from './layout.js';
import * as sys from './sys.js';

/** `struct perf_event_attr` (PERF_ATTR_SIZE_VER8, 136 bytes). The bitfield word is `flags` (see PerfFlag). */
export const PerfEventAttr = layout('struct perf_event_attr', '', [
  ['type', 'u32'],
  ['size', 'u32'],
  ['config', 'u64'],
  ['sample_period', 'u64'],
  ['sample_freq', 'u64', { at: 16 }],
  ['sample_type', 'u64'],
  ['read_format', 'u64'],
  ['flags', 'u64', { c: null }],
  ['wakeup_events', 'u32'],
  ['wakeup_watermark', 'u32', { at: 48 }],
  ['bp_type', 'u32'],
  ['config1', 'u64'],
  ['bp_addr', 'u64', { at: 56 }],
  ['kprobe_func', 'u64', { at: 56 }],
  ['uprobe_path', 'u64', { at: 56 }],
  ['config2', 'u64'],
  ['bp_len', 'u64', { at: 64 }],
  ['kprobe_addr', 'u64', { at: 64 }],
  ['probe_offset', 'u64', { at: 64 }],
  ['branch_sample_type', 'u64'],
  ['sample_regs_user', 'u64'],
  ['sample_stack_user', 'u32'],
  ['clockid', 's32'],
  ['sample_regs_intr', 'u64'],
  ['aux_watermark', 'u32'],
  ['sample_max_stack', 'u16'],
  ['__reserved_2', 'u16'],
  ['aux_sample_size', 'u32'],
  ['aux_action', 'u32'],
  ['sig_data', 'u64'],
  ['config3', 'u64'],
]);

/** Bits of perf_event_attr's bitfield word, in declaration order. */
export const PerfFlag = {
  disabled: 1n << 0n,
  inherit: 1n << 1n,
  pinned: 1n << 2n,
  exclusive: 1n << 3n,
  exclude_user: 1n << 4n,
  exclude_kernel: 1n << 5n,
  exclude_hv: 1n << 6n,
  exclude_idle: 1n << 7n,
  mmap: 1n << 8n,
  comm: 1n << 9n,
  freq: 1n << 10n,
  inherit_stat: 1n << 11n,
  enable_on_exec: 1n << 12n,
  task: 1n << 13n,
  watermark: 1n << 14n,
  /** precise_ip is two bits (15-16): value << 15n. */
  precise_ip_shift: 15n,
  mmap_data: 1n << 17n,
  sample_id_all: 1n << 18n,
  exclude_host: 1n << 19n,
  exclude_guest: 1n << 20n,
  exclude_callchain_kernel: 1n << 21n,
  exclude_callchain_user: 1n << 22n,
  mmap2: 1n << 23n,
  comm_exec: 1n << 24n,
  use_clockid: 1n << 25n,
  context_switch: 1n << 26n,
  write_backward: 1n << 27n,
  namespaces: 1n << 28n,
  ksymbol: 1n << 29n,
  bpf_event: 1n << 30n,
  aux_output: 1n << 31n,
  cgroup: 1n << 32n,
  text_poke: 1n << 33n,
  build_id: 1n << 34n,
  inherit_thread: 1n << 35n,
  remove_on_exec: 1n << 36n,
  sigtrap: 1n << 37n,
} as const;

/** `struct perf_event_mmap_page`: the first page of a perf ring. */
export const PerfEventMmapPage = layout('struct perf_event_mmap_page', '', [
  ['version', 'u32'],
  ['compat_version', 'u32'],
  ['lock', 'u32'],
  ['index', 'u32'],
  ['offset', 's64'],
  ['time_enabled', 'u64'],
  ['time_running', 'u64'],
  ['capabilities', 'u64'],
  ['pmc_width', 'u16'],
  ['time_shift', 'u16'],
  ['time_mult', 'u32'],
  ['time_offset', 'u64'],
  ['time_zero', 'u64'],
  ['size', 'u32'],
  ['__reserved_1', 'u32'],
  ['time_cycles', 'u64'],
  ['time_mask', 'u64'],
  ['__reserved', 'u8[928]'],
  ['data_head', 'u64'],
  ['data_tail', 'u64'],
  ['data_offset', 'u64'],
  ['data_size', 'u64'],
  ['aux_head', 'u64'],
  ['aux_tail', 'u64'],
  ['aux_offset', 'u64'],
  ['aux_size', 'u64'],
]);

/** `struct perf_event_header`: every record in a perf ring starts with it. */
export const PerfEventHeader = layout('struct perf_event_header', '', [
  ['type', 'u32'],
  ['misc', 'u16'],
  ['size', 'u16'],
]);

export const PerfType = { HARDWARE: 0, SOFTWARE: 1, TRACEPOINT: 2, HW_CACHE: 3, RAW: 4, BREAKPOINT: 5 } as const;
export const PerfSwConfig = {
  CPU_CLOCK: 0,
  TASK_CLOCK: 1,
  PAGE_FAULTS: 2,
  CONTEXT_SWITCHES: 3,
  CPU_MIGRATIONS: 4,
  PAGE_FAULTS_MIN: 5,
  PAGE_FAULTS_MAJ: 6,
  ALIGNMENT_FAULTS: 7,
  EMULATION_FAULTS: 8,
  DUMMY: 9,
  BPF_OUTPUT: 10,
  CGROUP_SWITCHES: 11,
} as const;
export const PerfSample = { IP: 1n << 0n, TID: 1n << 1n, TIME: 1n << 2n, ADDR: 1n << 3n, READ: 1n << 4n, CALLCHAIN: 1n << 5n, ID: 1n << 6n, CPU: 1n << 7n, PERIOD: 1n << 8n, STREAM_ID: 1n << 9n, RAW: 1n << 10n } as const;
export const PerfRecord = { LOST: 2, SAMPLE: 9 } as const;
export const PERF_FLAG_FD_CLOEXEC = 1 << 3;

/** perf ioctls: _IO('$', n) and _IOW('$', n, size). */
const IOC = (dir: number, nr: number, size: number) => (dir << 30) | (size << 16) | (0x24 << 8) | nr;
export const PerfIoctl = {
  ENABLE: IOC(0, 0, 0),
  DISABLE: IOC(0, 1, 0),
  RESET: IOC(0, 3, 0),
  SET_OUTPUT: IOC(0, 5, 0),
  /** _IOW('$', 8, __u32): attach a BPF program (kprobe/uprobe/tracepoint events). */
  SET_BPF: IOC(1, 8, 4),
  /** _IOW('$', 9, __u32). */
  PAUSE_OUTPUT: IOC(1, 9, 4),
} as const;

/** perf_event_open with these attributes; `size` is filled in. Returns an owned fd. */
export function perfEventOpen(
  values: Partial<Record<FieldsOf<typeof PerfEventAttr>, Value>>,
  options: { pid?: number; cpu?: number; groupFd?: number; label?: string } = {},
): Fd {
  const attr = new sys.NativeBuffer(PerfEventAttr.size);
  try {
    PerfEventAttr.write(attr.view, { ...values, size: PerfEventAttr.size });
    const pid = options.pid ?? -1;
    const cpu = options.cpu ?? -1;
    const fd = sys.perfEventOpen(attr.addr, pid, cpu, options.groupFd ?? -1, PERF_FLAG_FD_CLOEXEC);
    const label = options.label ?? `perf event type ${String(values.type ?? 0)} config ${String(values.config ?? 0)}`;
    if (fd < 0) throw kernelError('perf_event_open', -fd, `${label}, pid ${pid}, cpu ${cpu}`);
    return new Fd(fd, label);
  } finally {
    attr.free();
  }
}

/** ioctl on a perf event fd; throws on failure. */
export function perfIoctl(fd: number, request: number, arg = 0, what = 'perf ioctl'): void {
  const r = sys.ioctl(fd, request, arg);
  if (r < 0) throw kernelError(what, -r);
}
