/**
 * cgroup hooks: a program on a cgroup v2 directory for one attach type
 * (CGROUP_INET_INGRESS / EGRESS for cgroup_skb, sock_create, connect4,
 * sysctl, device, ...), as a bpf_link: it runs for every process in the
 * cgroup and its descendants, and detaches when the link is closed or the
 * process that holds it exits. Several links may share a hook (the kernel
 * runs them all, as with BPF_F_ALLOW_MULTI).
 */
import { closeSync, openSync, realpathSync, statSync } from 'node:fs';
import { Errno } from '../ebpf/engine.js';
import { AttachType, BpfCmd, nameOf, type AttachType as AttachTypeT } from '../ebpf/types.js';
import { LinkCreateAttr } from './attr.js';
import { AttachError, AttachTargetError } from './attach-errors.js';
import { bpfRaw } from './bpf.js';
import { kernelError } from './errors.js';
import { Fd } from './fd.js';
import { Link, type ProgramRef } from './link.js';
import { mounts } from './tracefs.js';

/** The attach types of cgroup hooks by the short names bpftool and libbpf's sections use. */
export const CGROUP_ATTACH_TYPES: Record<string, AttachTypeT> = {
  ingress: AttachType.CGROUP_INET_INGRESS,
  egress: AttachType.CGROUP_INET_EGRESS,
  sock_create: AttachType.CGROUP_INET_SOCK_CREATE,
  sock_release: AttachType.CGROUP_INET_SOCK_RELEASE,
  sock_ops: AttachType.CGROUP_SOCK_OPS,
  device: AttachType.CGROUP_DEVICE,
  bind4: AttachType.CGROUP_INET4_BIND,
  bind6: AttachType.CGROUP_INET6_BIND,
  connect4: AttachType.CGROUP_INET4_CONNECT,
  connect6: AttachType.CGROUP_INET6_CONNECT,
  post_bind4: AttachType.CGROUP_INET4_POST_BIND,
  post_bind6: AttachType.CGROUP_INET6_POST_BIND,
  sendmsg4: AttachType.CGROUP_UDP4_SENDMSG,
  sendmsg6: AttachType.CGROUP_UDP6_SENDMSG,
  recvmsg4: AttachType.CGROUP_UDP4_RECVMSG,
  recvmsg6: AttachType.CGROUP_UDP6_RECVMSG,
  getpeername4: AttachType.CGROUP_INET4_GETPEERNAME,
  getpeername6: AttachType.CGROUP_INET6_GETPEERNAME,
  getsockname4: AttachType.CGROUP_INET4_GETSOCKNAME,
  getsockname6: AttachType.CGROUP_INET6_GETSOCKNAME,
  sysctl: AttachType.CGROUP_SYSCTL,
  getsockopt: AttachType.CGROUP_GETSOCKOPT,
  setsockopt: AttachType.CGROUP_SETSOCKOPT,
  connect_unix: AttachType.CGROUP_UNIX_CONNECT,
  sendmsg_unix: AttachType.CGROUP_UNIX_SENDMSG,
  recvmsg_unix: AttachType.CGROUP_UNIX_RECVMSG,
};

/** An attach type by its short name (`egress`, `sock_create`) or its enum name (`CGROUP_INET_EGRESS`). */
export function cgroupAttachType(name: string): AttachTypeT {
  const short = CGROUP_ATTACH_TYPES[name];
  if (short !== undefined) return short;
  const full = (AttachType as Record<string, AttachTypeT>)[name.toUpperCase()];
  if (full !== undefined && name.toUpperCase().startsWith('CGROUP')) return full;
  throw new AttachError(`unknown cgroup attach type '${name}' (known: ${Object.keys(CGROUP_ATTACH_TYPES).join(', ')})`);
}

/** The cgroup v2 mount points of this mount namespace (cgroup2 filesystems). */
export function cgroup2Mounts(): string[] {
  return mounts()
    .filter((m) => m.fsType === 'cgroup2')
    .map((m) => m.mountPoint);
}

/** Check `path` is a directory on a cgroup v2 filesystem; its real path. */
export function cgroupDirectory(path: string): string {
  let real: string;
  try {
    real = realpathSync(path);
  } catch {
    throw new AttachTargetError('cgroup', path, `no cgroup ${path} (no such directory)`);
  }
  if (!statSync(real).isDirectory()) throw new AttachTargetError('cgroup', path, `${path} is not a cgroup directory`);
  const all = mounts()
    .filter((m) => real === m.mountPoint || real.startsWith(m.mountPoint === '/' ? '/' : m.mountPoint + '/'))
    .sort((a, b) => b.mountPoint.length - a.mountPoint.length);
  if (all[0]?.fsType !== 'cgroup2') {
    const v2 = cgroup2Mounts();
    throw new AttachTargetError('cgroup', path, `${path} is not on a cgroup v2 filesystem (cgroup v2 is mounted at ${v2.length ? v2.join(', ') : 'no place'})`);
  }
  return real;
}

/** Attach a cgroup program to the cgroup v2 directory `path` for `attachType` (or its short name). */
export function attachCgroup(prog: ProgramRef, path: string, attachType: AttachTypeT | string): Link {
  const type = typeof attachType === 'string' ? cgroupAttachType(attachType) : attachType;
  const dir = cgroupDirectory(path);
  const typeName = nameOf(AttachType, type) ?? String(type);
  const dirFd = openSync(dir, 'r');
  try {
    const r = bpfRaw(BpfCmd.LINK_CREATE, LinkCreateAttr, { prog_fd: prog.fd, target_fd: dirFd, attach_type: type });
    if (r < 0) {
      const hint =
        -r === Errno.EINVAL
          ? `the kernel refused program ${prog.name} for ${typeName} (wrong program type, or loaded with another expected attach type)`
          : -r === Errno.EPERM
            ? 'a program attached to this hook without BPF_F_ALLOW_MULTI forbids more'
            : undefined;
      throw kernelError('link create', -r, `cgroup ${dir} ${typeName}, program ${prog.name}`, hint);
    }
    const fd = new Fd(r, `link cgroup ${typeName} ${dir}`);
    return new Link('cgroup', `${dir} ${typeName.replace(/^CGROUP_/, '').toLowerCase()}`, [fd], fd);
  } finally {
    // The link holds the cgroup; the directory fd is not needed any more.
    closeSync(dirFd);
  }
}
