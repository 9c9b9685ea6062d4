/**
 * Uprobes: a KPROBE-type program run when a process executes an instruction
 * of a file (uprobe) or returns from a function of it (uretprobe).
 *
 * The target is a binary or library (a path, a library name the dynamic
 * loader would find, or a program on $PATH — see ld-cache.ts) and a function
 * (`malloc`, `main+0x10`, from .symtab or .dynsym) or a file offset. The
 * kernel wants a file offset: the symbol's address mapped through the
 * program headers.
 *
 * Three ways in, chosen per call:
 * - the uprobe PMU (`/sys/bus/event_source/devices/uprobe`): perf_event_open
 *   with the path and offset, the retprobe bit and the USDT semaphore
 *   (ref_ctr_offset) in `config` where sysfs says they go;
 * - tracefs (`uprobe_events`), when there is no PMU or `mode: 'tracefs'`:
 *   a probe `p:bpfkit/<name> PATH:0xOFF` made for the link and removed with
 *   it;
 * - uprobe_multi (`attachUprobeMulti`): one bpf_link for many offsets, each
 *   with its own cookie (Linux ≥ 6.6), for programs loaded with attach type
 *   TRACE_UPROBE_MULTI.
 *
 * `pid` limits a probe to one process (the perf event follows that task; a
 * uprobe_multi link filters by pid in the kernel).
 */
import { readFileSync } from 'node:fs';
import { AttachType, LinkType } from '../ebpf/types.js';
import { LinkCreateUprobeMultiAttr } from './attr.js';
import { AttachError, AttachTargetError } from './attach-errors.js';
import { linkCreate } from './bpf.js';
import type { Fd } from './fd.js';
import { matchFunctions, symbolOffset } from './host-elf.js';
import { resolveBinary } from './ld-cache.js';
import { Link, building, type Parts, type ProgramRef } from './link.js';
import { PerfType, perfEventOpen } from './perf-event.js';
import { attachToPerfEvent, type PerfAttachOptions } from './perf-link.js';
import { linkTypeSupported } from './probes.js';
import * as sys from './sys.js';
import { acquireTracefs, addProbeEvent, probeEventName, removeProbeEvent } from './tracefs.js';

/** A dynamic-probe PMU as sysfs describes it: its perf type and where the retprobe bit and ref_ctr_offset go in `config`. */
export interface ProbePmu {
  type: number;
  /** Bit of `config` that makes a return probe. */
  retprobeBit: number;
  /** Shift of ref_ctr_offset (USDT semaphores) in `config`, when the PMU has it (uprobes only). */
  refCtrShift?: number;
}

/** Parse a sysfs format file: `config:0` → 0, `config:32-63` → 32 (the low bit). */
export function formatShift(text: string): number | undefined {
  const m = /^config:(\d+)(?:-\d+)?\s*$/.exec(text.trim());
  return m ? Number(m[1]) : undefined;
}

const pmus = new Map<string, ProbePmu | undefined>();

/** The kprobe or uprobe PMU of this kernel, or undefined when it has none. */
export function probePmu(kind: 'kprobe' | 'uprobe'): ProbePmu | undefined {
  if (pmus.has(kind)) return pmus.get(kind);
  let pmu: ProbePmu | undefined;
  const dir = `/sys/bus/event_source/devices/${kind}`;
  try {
    const type = Number(readFileSync(`${dir}/type`, 'utf8').trim());
    const read = (f: string) => {
      try {
        return formatShift(readFileSync(`${dir}/format/${f}`, 'utf8'));
      } catch {
        return undefined;
      }
    };
    pmu = { type, retprobeBit: read('retprobe') ?? 0 };
    const ref = read('ref_ctr_offset');
    if (ref !== undefined) pmu.refCtrShift = ref;
  } catch {
    pmu = undefined;
  }
  pmus.set(kind, pmu);
  return pmu;
}

export interface UprobeOptions extends PerfAttachOptions {
  /** The binary or library: a path, a library name (`libc`, `libc.so.6`) or a program on $PATH. */
  binary: string;
  /** The function (`malloc`, `main+0x10`). Without it, `offset` is a file offset. */
  symbol?: string;
  /** Added to the symbol's offset, or the file offset itself when there is no symbol. */
  offset?: number;
  /** A uretprobe: run when the function returns. */
  retprobe?: boolean;
  /** Only in this process. */
  pid?: number;
  /** File offset of a USDT semaphore the kernel increments while the probe exists. */
  refCtrOffset?: number;
  /** 'pmu' (the uprobe PMU), 'tracefs' (uprobe_events), or 'auto' (default: the PMU when there is one). */
  mode?: 'auto' | 'pmu' | 'tracefs';
}

/** Where a uprobe goes: the binary's absolute path and the file offset. */
export function uprobeTarget(binary: string, symbol?: string, offset = 0): { path: string; offset: number; label: string } {
  const path = resolveBinary(binary);
  if (symbol === undefined) {
    if (!Number.isInteger(offset) || offset < 0) throw new AttachError(`a uprobe without a symbol needs a file offset ≥ 0, not ${offset}`);
    return { path, offset, label: `${path}:0x${offset.toString(16)}` };
  }
  const off = symbolOffset(path, symbol) + offset;
  return { path, offset: off, label: `${path}:${symbol}${offset ? `+0x${offset.toString(16)}` : ''}` };
}

/**
 * Open the perf event of one uprobe (PMU or tracefs) into `parts`, ready for a
 * program. Used by uprobes and USDT probes.
 */
export function openUprobeEvent(
  parts: Parts,
  target: { path: string; offset: number; label: string },
  options: { retprobe?: boolean; pid?: number; refCtrOffset?: number; mode?: 'auto' | 'pmu' | 'tracefs' },
): Fd {
  const pid = options.pid ?? -1;
  const cpu = options.pid === undefined ? 0 : -1;
  const kind = options.retprobe ? 'uretprobe' : 'uprobe';
  const label = `${kind} ${target.label}${options.pid !== undefined ? ` (pid ${options.pid})` : ''}`;
  const pmu = options.mode === 'tracefs' ? undefined : probePmu('uprobe');
  if (!pmu && options.mode === 'pmu') throw new AttachError(`this kernel has no uprobe PMU (/sys/bus/event_source/devices/uprobe) for ${label}`);
  if (pmu) {
    let config = options.retprobe ? 1n << BigInt(pmu.retprobeBit) : 0n;
    if (options.refCtrOffset) {
      if (pmu.refCtrShift === undefined) throw new AttachError(`this kernel's uprobe PMU has no ref_ctr_offset (USDT semaphores) for ${label}`);
      config |= BigInt(options.refCtrOffset) << BigInt(pmu.refCtrShift);
    }
    const path = sys.nativeCopy(target.path, true);
    try {
      return parts.add(
        perfEventOpen(
          { type: pmu.type, config, uprobe_path: path.addr, probe_offset: BigInt(target.offset), sample_period: 1n, wakeup_events: 1 },
          { pid, cpu, label },
        ),
      );
    } finally {
      path.free();
    }
  }
  // tracefs: uprobe_events, then the event's tracepoint id.
  const tracefs = acquireTracefs();
  parts.undo('tracefs', tracefs.release);
  const base = target.label.slice(target.label.lastIndexOf(':') + 1);
  const event = probeEventName(options.retprobe ? 'r' : 'p', base);
  const ref = options.refCtrOffset ? `(0x${options.refCtrOffset.toString(16)})` : '';
  const definition = `${options.retprobe ? 'r' : 'p'}:bpfkit/${event} ${target.path}:0x${target.offset.toString(16)}${ref}`;
  const id = addProbeEvent(tracefs.path, 'uprobe_events', definition, event);
  parts.undo(`uprobe_events ${event}`, () => removeProbeEvent(tracefs.path, 'uprobe_events', event));
  const perf = parts.add(perfEventOpen({ type: PerfType.TRACEPOINT, config: id, sample_period: 1n, wakeup_events: 1 }, { pid, cpu, label }));
  // The probe goes when the perf event does (at close() or process exit).
  parts.handOver(perf);
  return perf;
}

/** A uprobe (or uretprobe) running `prog` on a function of a binary or library. */
export function attachUprobe(prog: ProgramRef, options: UprobeOptions): Link {
  const target = uprobeTarget(options.binary, options.symbol, options.offset ?? 0);
  return building((parts) => {
    const perf = openUprobeEvent(parts, target, options);
    const kind = options.retprobe ? 'uretprobe' : 'uprobe';
    const link = attachToPerfEvent(parts, prog, perf, `${kind} ${target.label}`, options);
    return new Link(kind, target.label, parts, link);
  });
}

/** A uretprobe: attachUprobe with `retprobe: true`. */
export function attachUretprobe(prog: ProgramRef, options: Omit<UprobeOptions, 'retprobe'>): Link {
  return attachUprobe(prog, { ...options, retprobe: true });
}

export interface UprobeMultiOptions {
  binary: string;
  /** Function names or globs (`bpfkit_*`); each glob must match at least one function. */
  symbols?: string[];
  /** File offsets (instead of, or besides, symbols). */
  offsets?: number[];
  /** One cookie per probe (symbols first, then offsets). */
  cookies?: bigint[];
  /** One USDT semaphore offset per probe (0 for none). */
  refCtrOffsets?: number[];
  retprobe?: boolean;
  pid?: number;
}

/** BPF_F_UPROBE_MULTI_RETURN */
const UPROBE_MULTI_RETURN = 1;

/** Does this kernel have uprobe_multi links? */
export function uprobeMultiSupported(): boolean {
  return linkTypeSupported(LinkType.UPROBE_MULTI).supported;
}

/**
 * One uprobe_multi bpf_link running `prog` (loaded with attach type
 * TRACE_UPROBE_MULTI) at every function or offset given. `link.target`
 * lists what was attached; `probes` says which offset each function became.
 */
export function attachUprobeMulti(prog: ProgramRef, options: UprobeMultiOptions): Link & { probes: { name: string; offset: number }[] } {
  const path = resolveBinary(options.binary);
  const probes: { name: string; offset: number }[] = [];
  for (const s of options.symbols ?? []) {
    if (/[*?]/.test(s)) {
      const found = matchFunctions(path, s);
      if (found.length === 0) throw new AttachTargetError('symbol', s, `no function of ${path} matches ${s}`);
      probes.push(...found);
    } else {
      probes.push({ name: s, offset: symbolOffset(path, s) });
    }
  }
  for (const o of options.offsets ?? []) probes.push({ name: `0x${o.toString(16)}`, offset: o });
  if (probes.length === 0) throw new AttachError(`uprobe_multi on ${path} needs at least one symbol or offset`);
  const n = probes.length;
  if (options.cookies && options.cookies.length !== n) throw new AttachError(`uprobe_multi: ${n} probes but ${options.cookies.length} cookies`);
  if (options.refCtrOffsets && options.refCtrOffsets.length !== n) {
    throw new AttachError(`uprobe_multi: ${n} probes but ${options.refCtrOffsets.length} semaphore offsets`);
  }
  const kind = options.retprobe ? 'uretprobe.multi' : 'uprobe.multi';
  const label = `${path}:{${probes.map((p) => p.name).join(',')}}`;
  const held: sys.NativeBuffer[] = [];
  const native = (bytes: number) => {
    const b = new sys.NativeBuffer(bytes);
    held.push(b);
    return b;
  };
  try {
    const pathBuf = sys.nativeCopy(path, true);
    held.push(pathBuf);
    const offsets = native(8 * n);
    probes.forEach((p, i) => offsets.view.setBigUint64(8 * i, BigInt(p.offset), true));
    let cookies: sys.NativeBuffer | undefined;
    if (options.cookies) {
      cookies = native(8 * n);
      options.cookies.forEach((c, i) => cookies!.view.setBigUint64(8 * i, BigInt.asUintN(64, c), true));
    }
    let refs: sys.NativeBuffer | undefined;
    if (options.refCtrOffsets) {
      refs = native(8 * n);
      options.refCtrOffsets.forEach((r, i) => refs!.view.setBigUint64(8 * i, BigInt(r), true));
    }
    const fd = linkCreate(
      LinkCreateUprobeMultiAttr,
      {
        prog_fd: prog.fd,
        attach_type: AttachType.TRACE_UPROBE_MULTI,
        path: pathBuf.addr,
        offsets: offsets.addr,
        cookies: cookies?.addr ?? 0,
        ref_ctr_offsets: refs?.addr ?? 0,
        cnt: n,
        uprobe_multi_flags: options.retprobe ? UPROBE_MULTI_RETURN : 0,
        pid: options.pid ?? 0,
      },
      `${kind} ${label} (program ${prog.name})`,
    );
    return Object.assign(new Link(kind, label, [fd], fd), { probes });
  } finally {
    for (const b of held) b.free();
  }
}
