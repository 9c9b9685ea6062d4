/**
 * tcx: SCHED_CLS programs on a device's ingress or egress, as bpf_links
 * (Linux ≥ 6.6; BPF_LINK_CREATE with BPF_TCX_INGRESS / BPF_TCX_EGRESS). Several
 * programs can sit on one hook; `before` / `after` place the new one
 * relative to another program or link, and `expectedRevision` makes the
 * attach fail if the hook changed since it was read.
 *
 * A tcx program returns TCX_NEXT (-1: on to the next program), TCX_PASS (0),
 * TCX_DROP (2) or TCX_REDIRECT (7).
 */
import { Errno } from '../ebpf/engine.js';
import { AttachType, BpfCmd, LinkType } from '../ebpf/types.js';
import { LinkCreateRelativeAttr } from './attr.js';
import { AttachError } from './attach-errors.js';
import { bpfRaw } from './bpf.js';
import { kernelError } from './errors.js';
import { Fd } from './fd.js';
import { AttachFlags, Link, type ProgramRef } from './link.js';
import { inNetns, interfaceIndex } from './netns.js';
import { linkTypeSupported } from './probes.js';
import type { NetAttachOptions } from './xdp.js';

export const TcxVerdict = { NEXT: -1, PASS: 0, DROP: 2, REDIRECT: 7 } as const;

export interface TcxOptions extends NetAttachOptions {
  /** Run before this program or link (its fd). */
  before?: { fd: number };
  /** Run after this program or link (its fd). */
  after?: { fd: number };
  /** The placement refers to a link rather than a program. */
  relativeIsLink?: boolean;
  /** Fail with ESTALE unless the hook's revision is this one. */
  expectedRevision?: bigint;
}

/** Attach a SCHED_CLS program to the ingress or egress of interface `iface` (name or index). */
export function attachTcx(prog: ProgramRef, iface: string | number, direction: 'ingress' | 'egress', options: TcxOptions = {}): Link {
  if (options.before && options.after) throw new AttachError('tcx: give before or after, not both');
  if (direction !== 'ingress' && direction !== 'egress') throw new AttachError(`tcx: direction must be ingress or egress, not ${String(direction)}`);
  const where = `${iface}${options.netns ? ` (netns ${options.netns})` : ''}`;
  return inNetns(options.netns, () => {
    const ifindex = interfaceIndex(iface, options.netns);
    let flags = 0;
    const rel = options.before ?? options.after;
    if (options.before) flags |= AttachFlags.BEFORE;
    if (options.after) flags |= AttachFlags.AFTER;
    if (rel && options.relativeIsLink) flags |= AttachFlags.LINK;
    const r = bpfRaw(BpfCmd.LINK_CREATE, LinkCreateRelativeAttr, {
      prog_fd: prog.fd,
      target_ifindex: ifindex,
      attach_type: direction === 'ingress' ? AttachType.TCX_INGRESS : AttachType.TCX_EGRESS,
      flags,
      relative_fd: rel?.fd ?? 0,
      expected_revision: options.expectedRevision ?? 0n,
    });
    if (r < 0) {
      let hint: string | undefined;
      if (-r === Errno.EINVAL && !linkTypeSupported(LinkType.TCX).supported) hint = 'this kernel has no tcx (Linux 6.6)';
      else if (-r === Errno.EINVAL) hint = `the kernel refused program ${prog.name} for tcx ${direction} (is it a SCHED_CLS program?)`;
      else if (-r === 116 /* ESTALE */) hint = `the ${direction} hook of ${iface} changed since revision ${String(options.expectedRevision)}`;
      else if (-r === Errno.ENOENT) hint = 'the program or link to place it before/after is not on this hook';
      throw kernelError('link create', -r, `tcx ${direction} on ${where}, program ${prog.name}`, hint);
    }
    const fd = new Fd(r, `link tcx ${direction} ${where}`);
    return new Link('tcx', `${where} ${direction}`, [fd], fd);
  });
}
