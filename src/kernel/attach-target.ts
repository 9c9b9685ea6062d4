/**
 * Attach targets written as one string, bpftrace-style, for the CLI and for
 * programs that take a target from their user:
 *
 *   tracepoint:syscalls:sys_enter_openat      raw_tracepoint:sched_switch   tp_btf:sched_switch
 *   uprobe:/usr/bin/bash:readline             uretprobe:libc:malloc         uprobe:./a.out:0x1139
 *   usdt:/usr/lib/libpython3.so:python:function__entry
 *   kprobe:vfs_read+0x10   kretprobe:vfs_read   fentry:do_nanosleep   fexit:...   lsm:file_open
 *   perf_event:cpu-clock   (with frequency or period)                   timer:10ms
 *   xdp:eth0   tcx:ingress:eth0   tcx:egress:eth0   cgroup:/sys/fs/cgroup/app:egress
 *
 * `parseAttachTarget` turns the text into data (no kernel needed);
 * `attachTo` makes the link(s).
 */
import { AttachType } from '../ebpf/types.js';
import { AttachError } from './attach-errors.js';
import { attachCgroup } from './cgroup.js';
import { attachKprobe } from './kprobe.js';
import type { Link, ProgramRef } from './link.js';
import { attachPerfEvent, attachTimer, perfEventByName } from './perf-link.js';
import { attachTcx } from './tcx.js';
import { attachRawTracepoint, attachTracepoint } from './tracepoint.js';
import { attachTracing } from './tracing.js';
import { attachUprobe } from './uprobe.js';
import { attachUsdt, type UsdtSpecMap } from './usdt.js';
import { attachXdp, type XdpMode } from './xdp.js';

export type AttachTarget =
  | { kind: 'tracepoint'; group: string; name: string }
  | { kind: 'raw_tracepoint'; name: string }
  | { kind: 'tp_btf' | 'fentry' | 'fexit' | 'fmod_ret' | 'lsm'; name: string }
  | { kind: 'uprobe' | 'uretprobe'; binary: string; symbol?: string; offset?: number }
  | { kind: 'usdt'; binary: string; provider: string; name: string }
  | { kind: 'kprobe' | 'kretprobe'; symbol: string }
  | { kind: 'perf_event'; event: string }
  | { kind: 'timer'; intervalNs: bigint }
  | { kind: 'xdp'; iface: string }
  | { kind: 'tcx'; direction: 'ingress' | 'egress'; iface: string }
  | { kind: 'cgroup'; path: string; attachType: string };

const ALIASES: Record<string, string> = {
  tp: 'tracepoint',
  t: 'tracepoint',
  rawtracepoint: 'raw_tracepoint',
  raw_tp: 'raw_tracepoint',
  rt: 'raw_tracepoint',
  u: 'uprobe',
  ur: 'uretprobe',
  k: 'kprobe',
  kr: 'kretprobe',
  U: 'usdt',
  perf: 'perf_event',
  interval: 'timer',
};

function bad(text: string, why: string): never {
  throw new AttachError(`attach target '${text}': ${why}`);
}

/** Split off the last `n` ':'-separated fields (the rest, which may hold ':', comes first). */
function lastFields(rest: string, n: number): string[] | undefined {
  const parts = rest.split(':');
  if (parts.length < n + 1) return undefined;
  const tail = parts.splice(parts.length - n, n);
  return [parts.join(':'), ...tail];
}

/** Parse a duration like `10ms`, `1s`, `500us`, `250000ns` into nanoseconds. */
export function parseInterval(text: string): bigint | undefined {
  const m = /^(\d+)(ns|us|ms|s|hz)$/.exec(text);
  if (!m) return undefined;
  const n = BigInt(m[1]!);
  switch (m[2]) {
    case 'ns':
      return n;
    case 'us':
      return n * 1000n;
    case 'ms':
      return n * 1_000_000n;
    case 's':
      return n * 1_000_000_000n;
    default:
      return n > 0n ? 1_000_000_000n / n : undefined;
  }
}

export function parseAttachTarget(text: string): AttachTarget {
  const colon = text.indexOf(':');
  if (colon <= 0) bad(text, 'write it as kind:where, e.g. tracepoint:syscalls:sys_enter_openat or xdp:eth0');
  const rawKind = text.slice(0, colon);
  const kind = ALIASES[rawKind] ?? rawKind;
  const rest = text.slice(colon + 1);
  if (rest === '') bad(text, `nothing after '${rawKind}:'`);
  switch (kind) {
    case 'tracepoint': {
      const m = /^([^:/]+)[:/]([^:/]+)$/.exec(rest);
      if (!m) bad(text, 'a tracepoint is tracepoint:GROUP:NAME');
      return { kind, group: m[1]!, name: m[2]! };
    }
    case 'raw_tracepoint':
    case 'tp_btf':
    case 'fentry':
    case 'fexit':
    case 'fmod_ret':
    case 'lsm':
      if (rest.includes(':')) bad(text, `${kind} takes one name (${kind}:NAME)`);
      return { kind, name: rest };
    case 'kprobe':
    case 'kretprobe':
      if (rest.includes(':')) bad(text, `${kind} takes a kernel function (${kind}:FUNC[+OFFSET])`);
      return { kind, symbol: rest };
    case 'uprobe':
    case 'uretprobe': {
      const f = lastFields(rest, 1);
      if (!f || f[0] === '' || f[1] === '') bad(text, `${kind} is ${kind}:BINARY:SYMBOL[+OFFSET] (or :0xOFFSET)`);
      if (/^0x[0-9a-fA-F]+$/.test(f[1]!)) return { kind, binary: f[0]!, offset: Number(f[1]) };
      return { kind, binary: f[0]!, symbol: f[1]! };
    }
    case 'usdt': {
      const f = lastFields(rest, 2);
      if (!f || f.some((x) => x === '')) bad(text, 'usdt is usdt:BINARY:PROVIDER:NAME');
      return { kind, binary: f[0]!, provider: f[1]!, name: f[2]! };
    }
    case 'perf_event':
      perfEventByName(rest);
      return { kind, event: rest };
    case 'timer': {
      // bpftrace's interval:ms:100 as well as timer:100ms.
      const t = rest.includes(':') ? rest.split(':').reverse().join('') : rest;
      const ns = parseInterval(t);
      if (ns === undefined || ns <= 0n) bad(text, 'a timer is timer:INTERVAL with a unit (ns, us, ms, s) or a rate (hz), e.g. timer:10ms');
      return { kind, intervalNs: ns };
    }
    case 'xdp':
      if (rest.includes(':')) bad(text, 'xdp takes an interface (xdp:IFACE)');
      return { kind, iface: rest };
    case 'tcx':
    case 'tcx_ingress':
    case 'tcx_egress': {
      const parts = rest.split(':');
      const direction = kind === 'tcx' ? parts.shift() : kind.slice(4);
      if ((direction !== 'ingress' && direction !== 'egress') || parts.length !== 1 || !parts[0]) bad(text, 'tcx is tcx:ingress:IFACE or tcx:egress:IFACE');
      return { kind: 'tcx', direction, iface: parts[0]! };
    }
    case 'cgroup': {
      const f = lastFields(rest, 1);
      if (!f || f[0] === '' || f[1] === '') bad(text, 'cgroup is cgroup:PATH:ATTACH_TYPE (e.g. cgroup:/sys/fs/cgroup/app:egress)');
      return { kind, path: f[0]!, attachType: f[1]! };
    }
    default:
      return bad(
        text,
        `unknown kind '${rawKind}' (tracepoint, raw_tracepoint, tp_btf, uprobe, uretprobe, usdt, kprobe, kretprobe, fentry, fexit, fmod_ret, lsm, perf_event, timer, xdp, tcx, cgroup)`,
      );
  }
}

export interface AttachToOptions {
  /** uprobes, USDT, perf events: only this process. */
  pid?: number;
  /** BPF cookie (bpf_get_attach_cookie; for USDT, bpf_usdt_cookie). */
  cookie?: bigint;
  /** XDP mode, or 'pmu' / 'tracefs' for uprobes, USDT and kprobes. */
  mode?: string;
  /** XDP, tcx: the network namespace of the interface. */
  netns?: string;
  /** perf_event: samples per second, or one every `period` events. */
  frequency?: number;
  period?: bigint;
  /** USDT: the __bpf_usdt_specs map of the program's collection. */
  usdtSpecs?: UsdtSpecMap;
}

const probeMode = (mode: string | undefined): 'auto' | 'pmu' | 'tracefs' | undefined => {
  if (mode === undefined) return undefined;
  if (mode === 'auto' || mode === 'pmu' || mode === 'tracefs') return mode;
  throw new AttachError(`probe mode must be pmu or tracefs, not '${mode}'`);
};

/** Attach `prog` to `target` (text or parsed). */
export function attachTo(prog: ProgramRef, target: string | AttachTarget, options: AttachToOptions = {}): Link {
  const t = typeof target === 'string' ? parseAttachTarget(target) : target;
  const cookie = options.cookie !== undefined ? { cookie: options.cookie } : {};
  const pid = options.pid !== undefined ? { pid: options.pid } : {};
  switch (t.kind) {
    case 'tracepoint':
      return attachTracepoint(prog, t.group, t.name, cookie);
    case 'raw_tracepoint':
      return attachRawTracepoint(prog, t.name, cookie);
    case 'tp_btf':
      return attachTracing(prog, AttachType.TRACE_RAW_TP, t.name, cookie);
    case 'fentry':
      return attachTracing(prog, AttachType.TRACE_FENTRY, t.name, cookie);
    case 'fexit':
      return attachTracing(prog, AttachType.TRACE_FEXIT, t.name, cookie);
    case 'fmod_ret':
      return attachTracing(prog, AttachType.MODIFY_RETURN, t.name, cookie);
    case 'lsm':
      return attachTracing(prog, AttachType.LSM_MAC, t.name, cookie);
    case 'uprobe':
    case 'uretprobe':
      return attachUprobe(prog, {
        binary: t.binary,
        ...(t.symbol !== undefined ? { symbol: t.symbol } : {}),
        ...(t.offset !== undefined ? { offset: t.offset } : {}),
        retprobe: t.kind === 'uretprobe',
        ...pid,
        ...cookie,
        ...(options.mode !== undefined ? { mode: probeMode(options.mode)! } : {}),
      });
    case 'usdt':
      return attachUsdt(prog, {
        binary: t.binary,
        provider: t.provider,
        name: t.name,
        ...pid,
        ...cookie,
        ...(options.usdtSpecs ? { specs: options.usdtSpecs } : {}),
        ...(options.mode !== undefined ? { mode: probeMode(options.mode)! } : {}),
      });
    case 'kprobe':
    case 'kretprobe':
      return attachKprobe(prog, {
        symbol: t.symbol,
        retprobe: t.kind === 'kretprobe',
        ...cookie,
        ...(options.mode !== undefined ? { mode: probeMode(options.mode)! } : {}),
      });
    case 'perf_event': {
      const [type, config] = perfEventByName(t.event);
      if (options.frequency === undefined && options.period === undefined) throw new AttachError(`perf_event:${t.event} needs a frequency or a period`);
      return attachPerfEvent(prog, {
        type,
        config,
        ...(options.frequency !== undefined ? { frequency: options.frequency } : { period: options.period! }),
        ...pid,
        ...cookie,
      });
    }
    case 'timer':
      return attachTimer(prog, t.intervalNs, cookie);
    case 'xdp': {
      const mode = (options.mode ?? 'auto') as XdpMode;
      if (!['auto', 'generic', 'native', 'offload'].includes(mode)) throw new AttachError(`XDP mode must be generic, native or offload, not '${mode}'`);
      return attachXdp(prog, t.iface, { mode, ...(options.netns !== undefined ? { netns: options.netns } : {}) });
    }
    case 'tcx':
      return attachTcx(prog, t.iface, t.direction, options.netns !== undefined ? { netns: options.netns } : {});
    case 'cgroup':
      return attachCgroup(prog, t.path, t.attachType);
  }
}

/**
 * The target a libbpf-style section name implies (`tracepoint/syscalls/sys_enter_openat`
 * → `tracepoint:syscalls:sys_enter_openat`, `uprobe/libc.so.6:malloc` → `uprobe:libc.so.6:malloc`,
 * `xdp` → undefined: it needs an interface). `extra` fills what the section cannot say (an
 * interface for xdp and tcx, a cgroup for cgroup hooks).
 */
export function targetFromSection(section: string, extra: { iface?: string; cgroup?: string } = {}): string | undefined {
  const slash = section.indexOf('/');
  const head = slash < 0 ? section : section.slice(0, slash);
  const rest = slash < 0 ? '' : section.slice(slash + 1);
  const base = head.replace(/\.s$/, '');
  switch (base) {
    case 'tracepoint':
    case 'tp':
      return rest ? `tracepoint:${rest.replace('/', ':')}` : undefined;
    case 'raw_tracepoint':
    case 'raw_tp':
    case 'raw_tracepoint.w':
    case 'raw_tp.w':
      return rest ? `raw_tracepoint:${rest}` : undefined;
    case 'tp_btf':
    case 'fentry':
    case 'fexit':
    case 'fmod_ret':
    case 'lsm':
      return rest ? `${base}:${rest}` : undefined;
    case 'kprobe':
    case 'kretprobe':
      return rest ? `${base}:${rest}` : undefined;
    case 'uprobe':
    case 'uretprobe': {
      // libbpf: uprobe/BINARY:FUNC[+OFF] (an absolute BINARY gives uprobe//path:func).
      return rest && rest.includes(':') ? `${base}:${rest}` : undefined;
    }
    case 'usdt':
      return rest && rest.split(':').length >= 3 ? `usdt:${rest}` : undefined;
    case 'xdp':
      return extra.iface && (rest === '' || rest === 'frags') ? `xdp:${extra.iface}` : undefined;
    case 'xdp.frags':
      return extra.iface ? `xdp:${extra.iface}` : undefined;
    case 'tc':
    case 'tcx':
      return extra.iface && (rest === 'ingress' || rest === 'egress') ? `tcx:${rest}:${extra.iface}` : undefined;
    case 'cgroup_skb':
      return extra.cgroup && rest ? `cgroup:${extra.cgroup}:${rest}` : undefined;
    case 'cgroup':
      return extra.cgroup && rest ? `cgroup:${extra.cgroup}:${rest === 'sock' ? 'sock_create' : rest === 'dev' ? 'device' : rest}` : undefined;
    case 'sockops':
      return extra.cgroup ? `cgroup:${extra.cgroup}:sock_ops` : undefined;
    default:
      return undefined;
  }
}
