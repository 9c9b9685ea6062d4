/**
 * XDP: an XDP program on a network device's receive path, as a bpf_link
 * (BPF_LINK_CREATE, attach type BPF_XDP, the device's index as target). The
 * mode is the link's flags: 'generic' (XDP_FLAGS_SKB_MODE: after the skb is
 * built, any device), 'native' (XDP_FLAGS_DRV_MODE: in the driver, which
 * must support it), 'offload' (XDP_FLAGS_HW_MODE), or the kernel's choice
 * (native when the driver can, else generic). The link detaches when
 * closed, and when the process exits.
 */
import { Errno } from '../ebpf/engine.js';
import { AttachType } from '../ebpf/types.js';
import { LinkCreateAttr } from './attr.js';
import { bpfRaw } from './bpf.js';
import { BpfCmd } from '../ebpf/types.js';
import { kernelError } from './errors.js';
import { Fd } from './fd.js';
import { Link, type ProgramRef } from './link.js';
import { inNetns, interfaceIndex } from './netns.js';

/** XDP_FLAGS_* of <linux/if_link.h>. */
export const XdpFlags = {
  UPDATE_IF_NOEXIST: 1 << 0,
  SKB_MODE: 1 << 1,
  DRV_MODE: 1 << 2,
  HW_MODE: 1 << 3,
  REPLACE: 1 << 4,
} as const;

export type XdpMode = 'auto' | 'generic' | 'native' | 'offload';

export function xdpModeFlags(mode: XdpMode = 'auto'): number {
  switch (mode) {
    case 'generic':
      return XdpFlags.SKB_MODE;
    case 'native':
      return XdpFlags.DRV_MODE;
    case 'offload':
      return XdpFlags.HW_MODE;
    default:
      return 0;
  }
}

export interface NetAttachOptions {
  /** A network namespace (name under /run/netns, or a path) the interface is in. */
  netns?: string;
}

export interface XdpOptions extends NetAttachOptions {
  mode?: XdpMode;
}

/** Attach an XDP program to interface `iface` (name or index). */
export function attachXdp(prog: ProgramRef, iface: string | number, options: XdpOptions = {}): Link {
  const mode = options.mode ?? 'auto';
  const where = `${iface}${options.netns ? ` (netns ${options.netns})` : ''}`;
  return inNetns(options.netns, () => {
    const ifindex = interfaceIndex(iface, options.netns);
    const r = bpfRaw(BpfCmd.LINK_CREATE, LinkCreateAttr, {
      prog_fd: prog.fd,
      target_ifindex: ifindex,
      attach_type: AttachType.XDP,
      flags: xdpModeFlags(mode),
    });
    if (r < 0) {
      const hints: Partial<Record<number, string>> = {
        [Errno.EBUSY]: `an XDP program is already attached to ${iface} (in another mode, or without a link)`,
        [Errno.EEXIST]: `an XDP program is already attached to ${iface}`,
        [Errno.EOPNOTSUPP]: mode === 'native' ? `the driver of ${iface} has no native XDP: use mode 'generic'` : `${iface} does not support XDP mode ${mode}`,
        [Errno.EINVAL]: `the kernel refused program ${prog.name} for XDP on ${iface} (is it an XDP program? MTU too large for native XDP?)`,
      };
      throw kernelError('link create', -r, `xdp ${mode} on ${where}, program ${prog.name}`, hints[-r]);
    }
    const fd = new Fd(r, `link xdp ${where}`);
    return new Link('xdp', `${where} ${mode}`, [fd], fd);
  });
}
