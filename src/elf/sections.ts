/**
 * libbpf's SEC() naming conventions: which program type, expected attach type
 * and program flags a section name means, and what it attaches to.
 *
 * The table follows libbpf's `section_defs` (libbpf 1.5): entries are tried
 * in order and the first match wins. An entry ending in '+' matches the bare
 * name or the name followed by '/' and an attach target ("kprobe",
 * "kprobe/do_sys_open"); an entry ending in '/' needs the target; any other
 * entry must match exactly. `hook` says how the kernel engine attaches a
 * program of this kind (what libbpf's attach function would do).
 */
import { AttachType, ProgType } from '../ebpf/types.js';

/** BPF_F_SLEEPABLE and BPF_F_XDP_HAS_FRAGS (prog_flags). */
export const BPF_F_SLEEPABLE = 1 << 4;
export const BPF_F_XDP_HAS_FRAGS = 1 << 5;

/** How a program from this section is attached. */
export type Hook =
  | 'none'
  | 'kprobe'
  | 'kretprobe'
  | 'kprobe.multi'
  | 'kretprobe.multi'
  | 'kprobe.session'
  | 'uprobe'
  | 'uretprobe'
  | 'uprobe.multi'
  | 'uretprobe.multi'
  | 'ksyscall'
  | 'kretsyscall'
  | 'usdt'
  | 'tracepoint'
  | 'raw_tracepoint'
  | 'tracing'
  | 'lsm'
  | 'iter'
  | 'struct_ops'
  | 'xdp'
  | 'tc'
  | 'tcx'
  | 'netkit'
  | 'cgroup'
  | 'sockmap'
  | 'netns'
  | 'perf_event'
  | 'lirc'
  | 'netfilter';

export interface SectionDef {
  /** The pattern as in libbpf: "kprobe+", "xdp.frags/devmap", "socket". */
  pattern: string;
  type: ProgType;
  attachType?: AttachType;
  /** prog_flags: BPF_F_SLEEPABLE, BPF_F_XDP_HAS_FRAGS. */
  flags: number;
  hook: Hook;
  /** The attach target is a kernel BTF name (fentry, lsm, tp_btf, iter...). */
  btfTarget?: boolean;
}

const P = ProgType;
const A = AttachType;
const S = BPF_F_SLEEPABLE;
const F = BPF_F_XDP_HAS_FRAGS;

function d(pattern: string, type: ProgType, attachType: AttachType | undefined, flags: number, hook: Hook, btfTarget = false): SectionDef {
  const def: SectionDef = { pattern, type, flags, hook };
  if (attachType !== undefined) def.attachType = attachType;
  if (btfTarget) def.btfTarget = true;
  return def;
}

/** libbpf's section table, in matching order. */
export const SECTION_DEFS: readonly SectionDef[] = [
  d('socket', P.SOCKET_FILTER, undefined, 0, 'none'),
  d('sk_reuseport/migrate', P.SK_REUSEPORT, A.SK_REUSEPORT_SELECT_OR_MIGRATE, 0, 'none'),
  d('sk_reuseport', P.SK_REUSEPORT, A.SK_REUSEPORT_SELECT, 0, 'none'),
  d('kprobe+', P.KPROBE, undefined, 0, 'kprobe'),
  d('uprobe+', P.KPROBE, undefined, 0, 'uprobe'),
  d('uprobe.s+', P.KPROBE, undefined, S, 'uprobe'),
  d('kretprobe+', P.KPROBE, undefined, 0, 'kretprobe'),
  d('uretprobe+', P.KPROBE, undefined, 0, 'uretprobe'),
  d('uretprobe.s+', P.KPROBE, undefined, S, 'uretprobe'),
  d('kprobe.multi+', P.KPROBE, A.TRACE_KPROBE_MULTI, 0, 'kprobe.multi'),
  d('kretprobe.multi+', P.KPROBE, A.TRACE_KPROBE_MULTI, 0, 'kretprobe.multi'),
  d('kprobe.session+', P.KPROBE, A.TRACE_KPROBE_SESSION, 0, 'kprobe.session'),
  d('uprobe.multi+', P.KPROBE, A.TRACE_UPROBE_MULTI, 0, 'uprobe.multi'),
  d('uretprobe.multi+', P.KPROBE, A.TRACE_UPROBE_MULTI, 0, 'uretprobe.multi'),
  d('uprobe.multi.s+', P.KPROBE, A.TRACE_UPROBE_MULTI, S, 'uprobe.multi'),
  d('uretprobe.multi.s+', P.KPROBE, A.TRACE_UPROBE_MULTI, S, 'uretprobe.multi'),
  d('ksyscall+', P.KPROBE, undefined, 0, 'ksyscall'),
  d('kretsyscall+', P.KPROBE, undefined, 0, 'kretsyscall'),
  d('usdt+', P.KPROBE, undefined, 0, 'usdt'),
  d('usdt.s+', P.KPROBE, undefined, S, 'usdt'),
  d('tc/ingress', P.SCHED_CLS, A.TCX_INGRESS, 0, 'tcx'),
  d('tc/egress', P.SCHED_CLS, A.TCX_EGRESS, 0, 'tcx'),
  d('tcx/ingress', P.SCHED_CLS, A.TCX_INGRESS, 0, 'tcx'),
  d('tcx/egress', P.SCHED_CLS, A.TCX_EGRESS, 0, 'tcx'),
  d('netkit/primary', P.SCHED_CLS, A.NETKIT_PRIMARY, 0, 'netkit'),
  d('netkit/peer', P.SCHED_CLS, A.NETKIT_PEER, 0, 'netkit'),
  d('tc', P.SCHED_CLS, undefined, 0, 'tc'),
  d('classifier', P.SCHED_CLS, undefined, 0, 'tc'),
  d('action', P.SCHED_ACT, undefined, 0, 'none'),
  d('tracepoint+', P.TRACEPOINT, undefined, 0, 'tracepoint'),
  d('tp+', P.TRACEPOINT, undefined, 0, 'tracepoint'),
  d('raw_tracepoint+', P.RAW_TRACEPOINT, undefined, 0, 'raw_tracepoint'),
  d('raw_tp+', P.RAW_TRACEPOINT, undefined, 0, 'raw_tracepoint'),
  d('raw_tracepoint.w+', P.RAW_TRACEPOINT_WRITABLE, undefined, 0, 'raw_tracepoint'),
  d('raw_tp.w+', P.RAW_TRACEPOINT_WRITABLE, undefined, 0, 'raw_tracepoint'),
  d('tp_btf+', P.TRACING, A.TRACE_RAW_TP, 0, 'tracing', true),
  d('fentry+', P.TRACING, A.TRACE_FENTRY, 0, 'tracing', true),
  d('fmod_ret+', P.TRACING, A.MODIFY_RETURN, 0, 'tracing', true),
  d('fexit+', P.TRACING, A.TRACE_FEXIT, 0, 'tracing', true),
  d('fentry.s+', P.TRACING, A.TRACE_FENTRY, S, 'tracing', true),
  d('fmod_ret.s+', P.TRACING, A.MODIFY_RETURN, S, 'tracing', true),
  d('fexit.s+', P.TRACING, A.TRACE_FEXIT, S, 'tracing', true),
  d('freplace+', P.EXT, undefined, 0, 'tracing', true),
  d('lsm+', P.LSM, A.LSM_MAC, 0, 'lsm', true),
  d('lsm.s+', P.LSM, A.LSM_MAC, S, 'lsm', true),
  d('lsm_cgroup+', P.LSM, A.LSM_CGROUP, 0, 'cgroup', true),
  d('iter+', P.TRACING, A.TRACE_ITER, 0, 'iter', true),
  d('iter.s+', P.TRACING, A.TRACE_ITER, S, 'iter', true),
  d('syscall', P.SYSCALL, undefined, S, 'none'),
  d('xdp.frags/devmap', P.XDP, A.XDP_DEVMAP, F, 'none'),
  d('xdp/devmap', P.XDP, A.XDP_DEVMAP, 0, 'none'),
  d('xdp.frags/cpumap', P.XDP, A.XDP_CPUMAP, F, 'none'),
  d('xdp/cpumap', P.XDP, A.XDP_CPUMAP, 0, 'none'),
  d('xdp.frags', P.XDP, A.XDP, F, 'xdp'),
  d('xdp', P.XDP, A.XDP, 0, 'xdp'),
  d('perf_event', P.PERF_EVENT, undefined, 0, 'perf_event'),
  d('lwt_in', P.LWT_IN, undefined, 0, 'none'),
  d('lwt_out', P.LWT_OUT, undefined, 0, 'none'),
  d('lwt_xmit', P.LWT_XMIT, undefined, 0, 'none'),
  d('lwt_seg6local', P.LWT_SEG6LOCAL, undefined, 0, 'none'),
  d('sockops', P.SOCK_OPS, A.CGROUP_SOCK_OPS, 0, 'cgroup'),
  d('sk_skb/stream_parser', P.SK_SKB, A.SK_SKB_STREAM_PARSER, 0, 'sockmap'),
  d('sk_skb/stream_verdict', P.SK_SKB, A.SK_SKB_STREAM_VERDICT, 0, 'sockmap'),
  d('sk_skb/verdict', P.SK_SKB, A.SK_SKB_VERDICT, 0, 'sockmap'),
  d('sk_skb', P.SK_SKB, undefined, 0, 'sockmap'),
  d('sk_msg', P.SK_MSG, A.SK_MSG_VERDICT, 0, 'sockmap'),
  d('lirc_mode2', P.LIRC_MODE2, A.LIRC_MODE2, 0, 'lirc'),
  d('flow_dissector', P.FLOW_DISSECTOR, A.FLOW_DISSECTOR, 0, 'netns'),
  d('cgroup_skb/ingress', P.CGROUP_SKB, A.CGROUP_INET_INGRESS, 0, 'cgroup'),
  d('cgroup_skb/egress', P.CGROUP_SKB, A.CGROUP_INET_EGRESS, 0, 'cgroup'),
  d('cgroup/skb', P.CGROUP_SKB, undefined, 0, 'cgroup'),
  d('cgroup/sock_create', P.CGROUP_SOCK, A.CGROUP_INET_SOCK_CREATE, 0, 'cgroup'),
  d('cgroup/sock_release', P.CGROUP_SOCK, A.CGROUP_INET_SOCK_RELEASE, 0, 'cgroup'),
  d('cgroup/sock', P.CGROUP_SOCK, A.CGROUP_INET_SOCK_CREATE, 0, 'cgroup'),
  d('cgroup/post_bind4', P.CGROUP_SOCK, A.CGROUP_INET4_POST_BIND, 0, 'cgroup'),
  d('cgroup/post_bind6', P.CGROUP_SOCK, A.CGROUP_INET6_POST_BIND, 0, 'cgroup'),
  d('cgroup/bind4', P.CGROUP_SOCK_ADDR, A.CGROUP_INET4_BIND, 0, 'cgroup'),
  d('cgroup/bind6', P.CGROUP_SOCK_ADDR, A.CGROUP_INET6_BIND, 0, 'cgroup'),
  d('cgroup/connect4', P.CGROUP_SOCK_ADDR, A.CGROUP_INET4_CONNECT, 0, 'cgroup'),
  d('cgroup/connect6', P.CGROUP_SOCK_ADDR, A.CGROUP_INET6_CONNECT, 0, 'cgroup'),
  d('cgroup/connect_unix', P.CGROUP_SOCK_ADDR, A.CGROUP_UNIX_CONNECT, 0, 'cgroup'),
  d('cgroup/sendmsg4', P.CGROUP_SOCK_ADDR, A.CGROUP_UDP4_SENDMSG, 0, 'cgroup'),
  d('cgroup/sendmsg6', P.CGROUP_SOCK_ADDR, A.CGROUP_UDP6_SENDMSG, 0, 'cgroup'),
  d('cgroup/sendmsg_unix', P.CGROUP_SOCK_ADDR, A.CGROUP_UNIX_SENDMSG, 0, 'cgroup'),
  d('cgroup/recvmsg4', P.CGROUP_SOCK_ADDR, A.CGROUP_UDP4_RECVMSG, 0, 'cgroup'),
  d('cgroup/recvmsg6', P.CGROUP_SOCK_ADDR, A.CGROUP_UDP6_RECVMSG, 0, 'cgroup'),
  d('cgroup/recvmsg_unix', P.CGROUP_SOCK_ADDR, A.CGROUP_UNIX_RECVMSG, 0, 'cgroup'),
  d('cgroup/getpeername4', P.CGROUP_SOCK_ADDR, A.CGROUP_INET4_GETPEERNAME, 0, 'cgroup'),
  d('cgroup/getpeername6', P.CGROUP_SOCK_ADDR, A.CGROUP_INET6_GETPEERNAME, 0, 'cgroup'),
  d('cgroup/getpeername_unix', P.CGROUP_SOCK_ADDR, A.CGROUP_UNIX_GETPEERNAME, 0, 'cgroup'),
  d('cgroup/getsockname4', P.CGROUP_SOCK_ADDR, A.CGROUP_INET4_GETSOCKNAME, 0, 'cgroup'),
  d('cgroup/getsockname6', P.CGROUP_SOCK_ADDR, A.CGROUP_INET6_GETSOCKNAME, 0, 'cgroup'),
  d('cgroup/getsockname_unix', P.CGROUP_SOCK_ADDR, A.CGROUP_UNIX_GETSOCKNAME, 0, 'cgroup'),
  d('cgroup/sysctl', P.CGROUP_SYSCTL, A.CGROUP_SYSCTL, 0, 'cgroup'),
  d('cgroup/getsockopt', P.CGROUP_SOCKOPT, A.CGROUP_GETSOCKOPT, 0, 'cgroup'),
  d('cgroup/setsockopt', P.CGROUP_SOCKOPT, A.CGROUP_SETSOCKOPT, 0, 'cgroup'),
  d('cgroup/dev', P.CGROUP_DEVICE, A.CGROUP_DEVICE, 0, 'cgroup'),
  d('struct_ops+', P.STRUCT_OPS, undefined, 0, 'struct_ops'),
  d('struct_ops.s+', P.STRUCT_OPS, undefined, S, 'struct_ops'),
  d('sk_lookup', P.SK_LOOKUP, A.SK_LOOKUP, 0, 'netns'),
  d('netfilter', P.NETFILTER, A.NETFILTER, 0, 'netfilter'),
];

export interface SectionMatch {
  def: SectionDef;
  /** What follows "pattern/" for '+' patterns ("do_sys_open", "syscalls/sys_enter_openat"), if anything. */
  attachTo?: string;
}

function matches(pattern: string, name: string): boolean {
  if (pattern.endsWith('/')) return name.startsWith(pattern);
  if (pattern.endsWith('+')) {
    const base = pattern.slice(0, -1);
    if (!name.startsWith(base)) return false;
    return name.length === base.length || name[base.length] === '/';
  }
  return name === pattern;
}

/** The libbpf section definition for a section name, or undefined when none matches. */
export function matchSection(name: string): SectionMatch | undefined {
  for (const def of SECTION_DEFS) {
    if (!matches(def.pattern, name)) continue;
    const m: SectionMatch = { def };
    if (def.pattern.endsWith('+')) {
      const base = def.pattern.slice(0, -1);
      if (name.length > base.length + 1) m.attachTo = name.slice(base.length + 1);
    }
    return m;
  }
  return undefined;
}
