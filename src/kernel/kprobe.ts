/**
 * Kprobes: a KPROBE program run when the kernel enters a function (kprobe)
 * or returns from it (kretprobe).
 *
 * Two ways in, as for uprobes: the kprobe PMU (perf_event_open with the
 * symbol in `kprobe_func`/config1 and the offset in `probe_offset`/config2,
 * the retprobe bit where sysfs says), or tracefs `kprobe_events`
 * (`p:bpfkit/NAME SYMBOL+OFF`, `r16:bpfkit/NAME SYMBOL`), removed with the
 * link. Kernels built without kprobes (like this project's CI kernel) have
 * neither; `kprobesSupported()` says so and attaching fails with that
 * reason.
 */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { AttachError, AttachTargetError } from './attach-errors.js';
import type { FieldsOf, Value } from './layout.js';
import { Link, building, type ProgramRef } from './link.js';
import { PerfEventAttr, PerfType, perfEventOpen } from './perf-event.js';
import { attachToPerfEvent, type PerfAttachOptions } from './perf-link.js';
import { kprobesSupported } from './probes.js';
import * as sys from './sys.js';
import { acquireTracefs, addProbeEvent, findTracefs, probeEventName, removeProbeEvent } from './tracefs.js';
import { probePmu, type ProbePmu } from './uprobe.js';

export interface KprobeOptions extends PerfAttachOptions {
  /** The kernel function (`do_sys_openat2`, `vfs_read+0x10`). */
  symbol: string;
  /** Added to the symbol's address. */
  offset?: number;
  retprobe?: boolean;
  /** kretprobe only: how many calls may be in flight at once (tracefs `rN:`; 0 = the kernel's default). */
  maxActive?: number;
  /** 'pmu' (the kprobe PMU), 'tracefs' (kprobe_events), or 'auto' (default: the PMU when there is one). */
  mode?: 'auto' | 'pmu' | 'tracefs';
}

const SYMBOL = /^[A-Za-z_][A-Za-z0-9_.]*$/;

function splitSymbol(symbol: string, offset = 0): { name: string; offset: number } {
  const m = /^(.*?)(?:\+(0x[0-9a-fA-F]+|\d+))?$/.exec(symbol)!;
  const name = m[1]!;
  if (!SYMBOL.test(name)) throw new AttachTargetError('kprobe', symbol, `'${symbol}' is not a kernel function name`);
  return { name, offset: offset + (m[2] === undefined ? 0 : Number(m[2])) };
}

/** The perf_event_attr values of a kprobe through the PMU (kprobe_func is the address of the symbol's C string). */
export function kprobeAttr(pmu: ProbePmu, symbolAddr: number | bigint, offset: number, retprobe: boolean): Partial<Record<FieldsOf<typeof PerfEventAttr>, Value>> {
  return {
    type: pmu.type,
    config: retprobe ? 1n << BigInt(pmu.retprobeBit) : 0n,
    kprobe_func: BigInt(symbolAddr),
    probe_offset: BigInt(offset),
    sample_period: 1n,
    wakeup_events: 1,
  };
}

/** The line written to tracefs kprobe_events for a kprobe (see Documentation/trace/kprobetrace.rst). */
export function kprobeEventDefinition(event: string, symbol: string, offset: number, retprobe: boolean, maxActive = 0): string {
  const head = retprobe ? `r${maxActive > 0 ? maxActive : ''}` : 'p';
  return `${head}:bpfkit/${event} ${symbol}${offset ? `+${offset}` : ''}`;
}

/** A kprobe (or kretprobe) running `prog` on kernel function `symbol`. */
export function attachKprobe(prog: ProgramRef, options: KprobeOptions): Link {
  const { name, offset } = splitSymbol(options.symbol, options.offset ?? 0);
  const retprobe = options.retprobe ?? false;
  const kind = retprobe ? 'kretprobe' : 'kprobe';
  const target = `${name}${offset ? `+0x${offset.toString(16)}` : ''}`;
  const label = `${kind} ${target}`;
  const pmu = options.mode === 'tracefs' ? undefined : probePmu('kprobe');
  const tracefsHasKprobes = () => {
    const t = findTracefs();
    return t === undefined || existsSync(join(t.mountPoint, 'kprobe_events'));
  };
  if (!pmu && (options.mode === 'pmu' || !tracefsHasKprobes())) {
    throw new AttachError(`cannot attach ${label}: this kernel has no kprobes (${kprobesSupported().detail ?? 'no kprobe PMU'}${options.mode === 'pmu' ? '' : ', no kprobe_events in tracefs'})`);
  }
  return building((parts) => {
    let perf;
    if (pmu) {
      const sym = sys.nativeCopy(name, true);
      try {
        perf = parts.add(perfEventOpen(kprobeAttr(pmu, sym.addr, offset, retprobe), { pid: -1, cpu: 0, label }));
      } finally {
        sym.free();
      }
    } else {
      const tracefs = acquireTracefs();
      parts.undo('tracefs', tracefs.release);
      const event = probeEventName('k', name);
      const id = addProbeEvent(tracefs.path, 'kprobe_events', kprobeEventDefinition(event, name, offset, retprobe, options.maxActive), event);
      parts.undo(`kprobe_events ${event}`, () => removeProbeEvent(tracefs.path, 'kprobe_events', event));
      perf = parts.add(perfEventOpen({ type: PerfType.TRACEPOINT, config: id, sample_period: 1n, wakeup_events: 1 }, { pid: -1, cpu: 0, label }));
      parts.handOver(perf);
    }
    const link = attachToPerfEvent(parts, prog, perf, label, options);
    return new Link(kind, target, parts, link);
  });
}

/** A kretprobe: attachKprobe with `retprobe: true`. */
export function attachKretprobe(prog: ProgramRef, options: Omit<KprobeOptions, 'retprobe'>): Link {
  return attachKprobe(prog, { ...options, retprobe: true });
}
