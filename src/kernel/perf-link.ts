/**
 * Programs on perf events: what tracepoints, kprobes and uprobes come down to
 * (an event the kernel fires, with a BPF program attached to it), and
 * sampling events of their own — a software clock on every CPU at a
 * frequency (profiling) or a timer on one CPU.
 *
 * A program goes on a perf event through a bpf_link (BPF_LINK_CREATE with
 * BPF_PERF_EVENT, which carries a BPF cookie) where the kernel has that
 * link type, else through the PERF_EVENT_IOC_SET_BPF ioctl. Either way the
 * perf fd belongs to the Link and the attachment ends when it is closed.
 */
import { AttachType, LinkType } from '../ebpf/types.js';
import { LinkCreatePerfEventAttr } from './attr.js';
import { AttachError } from './attach-errors.js';
import { linkCreate } from './bpf.js';
import { onlineCpus } from './cpus.js';
import type { Fd } from './fd.js';
import { Link, building, type Parts, type ProgramRef } from './link.js';
import { PerfFlag, PerfIoctl, PerfSwConfig, PerfType, perfEventOpen, perfIoctl } from './perf-event.js';
import { linkTypeSupported } from './probes.js';

export interface PerfAttachOptions {
  /** A BPF cookie the program reads with bpf_get_attach_cookie() (needs bpf_link for perf events). */
  cookie?: bigint;
  /** Force the ioctl (no bpf_link) even when the kernel has perf event links. */
  legacy?: boolean;
}

/** Can programs go on perf events through a bpf_link here (Linux ≥ 5.15)? */
export function perfLinkSupported(): boolean {
  return linkTypeSupported(LinkType.PERF_EVENT).supported;
}

/**
 * Attach `prog` to the open perf event `perf` (already added to `parts`) and
 * enable it. Returns the bpf_link fd when one was made.
 */
export function attachToPerfEvent(parts: Parts, prog: ProgramRef, perf: Fd, label: string, options: PerfAttachOptions = {}): Fd | undefined {
  let link: Fd | undefined;
  if (!options.legacy && perfLinkSupported()) {
    link = parts.add(
      linkCreate(
        LinkCreatePerfEventAttr,
        { prog_fd: prog.fd, target_fd: perf.value, attach_type: AttachType.PERF_EVENT, bpf_cookie: options.cookie ?? 0n },
        `${label} (program ${prog.name})`,
      ),
    );
  } else {
    if (options.cookie !== undefined && options.cookie !== 0n) {
      throw new AttachError(`${label}: a BPF cookie needs bpf_link for perf events (Linux 5.15), which ${options.legacy ? 'was turned off' : 'this kernel lacks'}`);
    }
    perfIoctl(perf.value, PerfIoctl.SET_BPF, prog.fd, `attach program ${prog.name} to ${label}`);
  }
  perfIoctl(perf.value, PerfIoctl.ENABLE, 0, `enable ${label}`);
  return link;
}

export interface SamplingOptions extends PerfAttachOptions {
  /** PERF_TYPE_* (default SOFTWARE). */
  type?: number;
  /** The event within the type (default PERF_COUNT_SW_CPU_CLOCK). */
  config?: number;
  /** Samples per second (per CPU). Give this or `period`. */
  frequency?: number;
  /** One sample every `period` events (for the clocks: nanoseconds). */
  period?: number | bigint;
  /** CPUs to sample on (default: every online CPU). */
  cpus?: number[];
  /** Only this process (or thread); with a pid the event follows it on any CPU. */
  pid?: number;
  /** Follow the children the process creates after attaching. */
  inherit?: boolean;
}

const EVENT_NAMES: Record<string, [number, number]> = {
  'cpu-clock': [PerfType.SOFTWARE, PerfSwConfig.CPU_CLOCK],
  'task-clock': [PerfType.SOFTWARE, PerfSwConfig.TASK_CLOCK],
  'page-faults': [PerfType.SOFTWARE, PerfSwConfig.PAGE_FAULTS],
  'context-switches': [PerfType.SOFTWARE, PerfSwConfig.CONTEXT_SWITCHES],
  'cpu-migrations': [PerfType.SOFTWARE, PerfSwConfig.CPU_MIGRATIONS],
  'minor-faults': [PerfType.SOFTWARE, PerfSwConfig.PAGE_FAULTS_MIN],
  'major-faults': [PerfType.SOFTWARE, PerfSwConfig.PAGE_FAULTS_MAJ],
  cycles: [PerfType.HARDWARE, 0],
  instructions: [PerfType.HARDWARE, 1],
  'cache-references': [PerfType.HARDWARE, 2],
  'cache-misses': [PerfType.HARDWARE, 3],
  'branch-instructions': [PerfType.HARDWARE, 4],
  'branch-misses': [PerfType.HARDWARE, 5],
};

/** A perf event by the name `perf list` gives it (`cpu-clock`, `page-faults`, `cycles`): [type, config]. */
export function perfEventByName(name: string): [type: number, config: number] {
  const e = EVENT_NAMES[name];
  if (!e) throw new AttachError(`unknown perf event '${name}' (known: ${Object.keys(EVENT_NAMES).join(', ')})`);
  return e;
}

/**
 * A PERF_EVENT program run on a sampling event: one perf event per CPU (or
 * one following `pid`), each firing at `frequency` Hz or every `period`
 * events. The Link holds them all.
 */
export function attachPerfEvent(prog: ProgramRef, options: SamplingOptions): Link {
  const type = options.type ?? PerfType.SOFTWARE;
  const config = options.config ?? PerfSwConfig.CPU_CLOCK;
  if ((options.frequency === undefined) === (options.period === undefined)) {
    throw new AttachError('a sampling perf event needs either a frequency or a period');
  }
  if (options.frequency !== undefined && !(options.frequency > 0 && Number.isInteger(options.frequency))) {
    throw new AttachError(`perf event frequency must be a positive integer number of samples per second, not ${options.frequency}`);
  }
  let flags = 0n;
  if (options.frequency !== undefined) flags |= PerfFlag.freq;
  if (options.inherit) flags |= PerfFlag.inherit;
  const what = `perf event type ${type} config ${config}${options.frequency !== undefined ? ` at ${options.frequency} Hz` : ` every ${String(options.period)}`}`;
  const cpus = options.pid !== undefined ? [-1] : (options.cpus ?? onlineCpus());
  return building((parts) => {
    let link: Fd | undefined;
    for (const cpu of cpus) {
      const label = `${what}${cpu >= 0 ? ` on cpu ${cpu}` : ''}${options.pid !== undefined ? ` for pid ${options.pid}` : ''}`;
      const perf = parts.add(
        perfEventOpen(
          { type, config, sample_freq: BigInt(options.frequency ?? options.period ?? 0), flags, wakeup_events: 1 },
          { pid: options.pid ?? -1, cpu, label },
        ),
      );
      const l = attachToPerfEvent(parts, prog, perf, label, options);
      link ??= l;
    }
    // Several perf events: each has its own bpf_link; the Link reports the first.
    return new Link('perf_event', what, parts, link);
  });
}

/** A timer: `prog` runs every `intervalNs` nanoseconds on one CPU (a cpu-clock event with a period). */
export function attachTimer(prog: ProgramRef, intervalNs: number | bigint, options: { cpu?: number } & PerfAttachOptions = {}): Link {
  if (BigInt(intervalNs) <= 0n) throw new AttachError(`a timer needs a positive interval, not ${String(intervalNs)} ns`);
  return attachPerfEvent(prog, {
    ...options,
    type: PerfType.SOFTWARE,
    config: PerfSwConfig.CPU_CLOCK,
    period: intervalNs,
    cpus: [options.cpu ?? onlineCpus()[0] ?? 0],
  });
}
