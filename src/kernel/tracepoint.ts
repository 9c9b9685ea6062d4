/**
 * Tracepoints: the kernel's static trace events.
 *
 * - `attachTracepoint(prog, 'syscalls', 'sys_enter_getppid')`: a TRACEPOINT
 *   program on the event's perf event (its id read from tracefs, which is
 *   mounted for the moment if it is not).
 * - `attachRawTracepoint(prog, 'sched_switch')`: a RAW_TRACEPOINT program
 *   with the tracepoint's raw arguments (BPF_RAW_TRACEPOINT_OPEN), no tracefs.
 *
 * tp_btf programs (typed raw tracepoints) are in tracing.ts.
 */
import { Errno } from '../ebpf/engine.js';
import { AttachTargetError } from './attach-errors.js';
import { rawTracepointOpen } from './bpf.js';
import { KernelError } from './errors.js';
import { Link, building, type ProgramRef } from './link.js';
import { PerfType, perfEventOpen } from './perf-event.js';
import { attachToPerfEvent, type PerfAttachOptions } from './perf-link.js';
import { tracepointId, withTracefs } from './tracefs.js';

/** Split `group:name` (or `group/name`) into its parts. */
export function parseTracepoint(spec: string): [group: string, name: string] {
  const m = /^([^:/]+)[:/]([^:/]+)$/.exec(spec);
  if (!m) throw new AttachTargetError('tracepoint', spec, `'${spec}' is not a tracepoint: write it as group:name (e.g. syscalls:sys_enter_getppid)`);
  return [m[1]!, m[2]!];
}

/** The perf event id of tracepoint group:name (tracefs mounted for the moment if need be). */
export function tracepointEventId(group: string, name: string): number {
  return withTracefs((path) => tracepointId(path, group, name));
}

/** A TRACEPOINT program on tracepoint `group:name`. */
export function attachTracepoint(prog: ProgramRef, group: string, name: string, options: PerfAttachOptions = {}): Link {
  const id = tracepointEventId(group, name);
  const label = `tracepoint ${group}:${name}`;
  return building((parts) => {
    // cpu 0, any pid: the program runs wherever the tracepoint fires.
    const perf = parts.add(perfEventOpen({ type: PerfType.TRACEPOINT, config: id, sample_period: 1n, wakeup_events: 1 }, { pid: -1, cpu: 0, label }));
    const link = attachToPerfEvent(parts, prog, perf, label, options);
    return new Link('tracepoint', `${group}:${name}`, parts, link);
  });
}

/** A RAW_TRACEPOINT program on the raw tracepoint `name` (e.g. sched_switch, sys_enter). */
export function attachRawTracepoint(prog: ProgramRef, name: string, options: { cookie?: bigint } = {}): Link {
  try {
    const fd = rawTracepointOpen(prog.fd, name, options.cookie ?? 0n);
    return new Link('raw_tracepoint', name, [fd], fd);
  } catch (err) {
    if (err instanceof KernelError && err.errno === Errno.ENOENT) {
      throw new AttachTargetError('raw_tracepoint', name, `no raw tracepoint ${name} in this kernel`);
    }
    throw err;
  }
}
