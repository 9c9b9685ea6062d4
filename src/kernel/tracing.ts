/**
 * BTF-typed attachments: tp_btf (typed raw tracepoints), fentry / fexit /
 * fmod_ret (BPF trampolines on kernel functions) and LSM hooks.
 *
 * These programs name their target when they are loaded (attach_btf_id: the
 * target's type id in the kernel's BTF), so attaching them needs no target:
 * BPF_LINK_CREATE with the attach type (or, on kernels before 5.x link
 * support, BPF_RAW_TRACEPOINT_OPEN without a name).
 *
 * `tracingTarget(attachType, name)` gives the load option; the attach
 * functions check the program was loaded for the right kind of hook. Kernels
 * built without BPF trampolines (like this project's CI kernel) refuse
 * fentry/fexit/lsm at load: `fentrySupported()` (probes.ts) says so first.
 */
import { Errno } from '../ebpf/engine.js';
import { AttachType, nameOf, type AttachType as AttachTypeT } from '../ebpf/types.js';
import { LinkCreateTracingAttr } from './attr.js';
import { AttachTargetError } from './attach-errors.js';
import { bpfRaw, rawTracepointOpen } from './bpf.js';
import { KernelError, kernelError } from './errors.js';
import { Fd } from './fd.js';
import { Link, type ProgramRef } from './link.js';
import { BtfKind, vmlinuxBtf } from './vmlinux-btf.js';
import { BpfCmd } from '../ebpf/types.js';

/** The BTF name and kind the kernel wants as attach_btf_id for each tracing attach type. */
export function tracingTargetName(attachType: AttachTypeT, name: string): { btfName: string; kind: number; what: string } {
  switch (attachType) {
    case AttachType.TRACE_RAW_TP:
      return { btfName: `btf_trace_${name}`, kind: BtfKind.TYPEDEF, what: 'tracepoint' };
    case AttachType.TRACE_FENTRY:
    case AttachType.TRACE_FEXIT:
    case AttachType.MODIFY_RETURN:
      return { btfName: name, kind: BtfKind.FUNC, what: 'kernel function' };
    case AttachType.LSM_MAC:
    case AttachType.LSM_CGROUP:
      return { btfName: `bpf_lsm_${name}`, kind: BtfKind.FUNC, what: 'LSM hook' };
    case AttachType.TRACE_ITER:
      return { btfName: `bpf_iter_${name}`, kind: BtfKind.FUNC, what: 'iterator' };
    default:
      throw new AttachTargetError('tracing', name, `attach type ${nameOf(AttachType, attachType) ?? attachType} has no BTF target`);
  }
}

/**
 * The attach_btf_id to load a tp_btf/fentry/fexit/fmod_ret/lsm/iter program
 * with: pass it as `attachBtfId` to loadProgram (or in loadCollection's
 * per-program options). Throws an error naming the target when the kernel's
 * BTF has no such tracepoint, function or hook.
 */
export function tracingTarget(attachType: AttachTypeT, name: string, btf = vmlinuxBtf()): number {
  const t = tracingTargetName(attachType, name);
  const id = btf.find(t.btfName, t.kind);
  if (id === undefined) {
    throw new AttachTargetError('tracing', name, `no ${t.what} ${name} in the kernel's BTF (looked for ${t.btfName})`);
  }
  return id;
}

/** BPF_LINK_CREATE for a tracing program (fentry, fexit, fmod_ret, lsm, tp_btf): the bytes of union bpf_attr it sends. */
export function tracingLinkAttr(progFd: number, attachType: AttachTypeT, cookie = 0n): Uint8Array {
  return LinkCreateTracingAttr.encode({ prog_fd: progFd, attach_type: attachType, cookie });
}

const TRACING_TYPES: readonly number[] = [
  AttachType.TRACE_RAW_TP,
  AttachType.TRACE_FENTRY,
  AttachType.TRACE_FEXIT,
  AttachType.MODIFY_RETURN,
  AttachType.LSM_MAC,
];

/**
 * Attach a program loaded with an attach_btf_id (tp_btf, fentry, fexit,
 * fmod_ret, lsm): a bpf_link. `target` only names it in messages.
 */
export function attachTracing(prog: ProgramRef, attachType: AttachTypeT, target: string, options: { cookie?: bigint } = {}): Link {
  if (!TRACING_TYPES.includes(attachType)) {
    throw new AttachTargetError('tracing', target, `attach type ${nameOf(AttachType, attachType) ?? attachType} is not a tracing attach type`);
  }
  const kind = tracingKind(attachType);
  const label = `${kind} ${target} (program ${prog.name})`;
  const r = bpfRaw(BpfCmd.LINK_CREATE, LinkCreateTracingAttr, { prog_fd: prog.fd, attach_type: attachType, cookie: options.cookie ?? 0n });
  if (r >= 0) {
    const fd = new Fd(r, `link ${label}`);
    return new Link(kind, target, [fd], fd);
  }
  // Kernels before tracing links (5.10) take BPF_RAW_TRACEPOINT_OPEN without a name.
  if (-r === Errno.EINVAL && !options.cookie) {
    try {
      const fd = rawTracepointOpen(prog.fd, undefined);
      return new Link(kind, target, [fd], fd);
    } catch (err) {
      if (!(err instanceof KernelError)) throw err;
    }
  }
  throw kernelError('link create', -r, label, -r === Errno.EINVAL ? 'the program was not loaded for this hook (load it with attachBtfId: tracingTarget(...))' : undefined);
}

export function tracingKind(attachType: AttachTypeT): string {
  switch (attachType) {
    case AttachType.TRACE_RAW_TP:
      return 'tp_btf';
    case AttachType.TRACE_FENTRY:
      return 'fentry';
    case AttachType.TRACE_FEXIT:
      return 'fexit';
    case AttachType.MODIFY_RETURN:
      return 'fmod_ret';
    case AttachType.LSM_MAC:
      return 'lsm';
    default:
      return nameOf(AttachType, attachType)?.toLowerCase() ?? `attach type ${attachType}`;
  }
}

/** tp_btf: a TRACING program loaded with tracingTarget(TRACE_RAW_TP, name). */
export const attachTpBtf = (prog: ProgramRef, name: string, options: { cookie?: bigint } = {}): Link =>
  attachTracing(prog, AttachType.TRACE_RAW_TP, name, options);
export const attachFentry = (prog: ProgramRef, fn: string, options: { cookie?: bigint } = {}): Link =>
  attachTracing(prog, AttachType.TRACE_FENTRY, fn, options);
export const attachFexit = (prog: ProgramRef, fn: string, options: { cookie?: bigint } = {}): Link =>
  attachTracing(prog, AttachType.TRACE_FEXIT, fn, options);
export const attachLsm = (prog: ProgramRef, hook: string, options: { cookie?: bigint } = {}): Link =>
  attachTracing(prog, AttachType.LSM_MAC, hook, options);
