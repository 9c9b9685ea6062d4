/**
 * bpf(2), typed: one function per command family, each encoding its
 * `union bpf_attr` (attr.ts), calling the system layer and turning `-errno`
 * into a KernelError. Native memory the kernel reads (paths, buffers) is
 * allocated for the call and freed on every path.
 *
 * Map element operations have their own allocation-free fast path in map.ts;
 * everything else comes through here.
 */
import { BpfCmd } from '../ebpf/types.js';
import {
  GetIdAttr,
  InfoAttr,
  LinkDetachAttr,
  LinkUpdateAttr,
  ObjAttr,
  ProgAttachAttr,
  ProgBindMapAttr,
  QueryAttr,
  RawTracepointAttr,
  EnableStatsAttr,
  IterCreateAttr,
  TaskFdQueryAttr,
} from './attr.js';
import { kernelError } from './errors.js';
import { Fd } from './fd.js';
import type { Layout, Value } from './layout.js';
import * as sys from './sys.js';

/** bpf_attr is at most a few hundred bytes; one scratch block serves every call (calls are synchronous). */
const ATTR_ROOM = 512;
let attrScratch: sys.NativeBuffer | undefined;

/** The shared attr scratch, zeroed over `size` bytes. */
export function attrBuffer(size: number): sys.NativeBuffer {
  const a = (attrScratch ??= new sys.NativeBuffer(ATTR_ROOM));
  a.bytes.fill(0, 0, Math.min(ATTR_ROOM, Math.max(size, 128)));
  return a;
}

/** Encode `values` with `layout`, call bpf(cmd): the result, or -errno. */
export function bpfRaw<N extends string>(cmd: number, layout: Layout<N>, values: Partial<Record<N, Value>>): number {
  const a = attrBuffer(layout.size);
  layout.write(a.view, values);
  return sys.bpf(cmd, a.addr, layout.size);
}

/** Like bpfRaw, reading the attr back after the call (commands that write into it). */
export function bpfReadBack<N extends string>(
  cmd: number,
  layout: Layout<N>,
  values: Partial<Record<N, Value>>,
): { result: number; out: Record<N, number | bigint | string | Uint8Array> } {
  const a = attrBuffer(layout.size);
  layout.write(a.view, values);
  const result = sys.bpf(cmd, a.addr, layout.size);
  return { result, out: layout.read(a.view) };
}

/** Encode, call, throw a KernelError on refusal; returns the kernel's non-negative result. */
export function bpfCall<N extends string>(
  cmd: number,
  layout: Layout<N>,
  values: Partial<Record<N, Value>>,
  op: string,
  subject?: string,
): number {
  const r = bpfRaw(cmd, layout, values);
  if (r < 0) throw kernelError(op, -r, subject);
  return r;
}

// ---------------------------------------------------------------------------
// Objects in bpffs

/** BPF_OBJ_PIN: pin `fd` at `path` (on a bpf filesystem). */
export function objPin(fd: number, path: string): void {
  const p = sys.nativeCopy(path, true);
  try {
    bpfCall(BpfCmd.OBJ_PIN, ObjAttr, { pathname: p.addr, bpf_fd: fd }, 'obj pin', path);
  } finally {
    p.free();
  }
}

/** BPF_F_RDONLY / BPF_F_WRONLY for BPF_OBJ_GET and *_GET_FD_BY_ID. */
export const BPF_F_RDONLY = 1 << 3;
export const BPF_F_WRONLY = 1 << 4;

/** BPF_OBJ_GET: open what is pinned at `path`. */
export function objGet(path: string, flags = 0, label = `pinned ${path}`): Fd {
  const p = sys.nativeCopy(path, true);
  try {
    const fd = bpfCall(BpfCmd.OBJ_GET, ObjAttr, { pathname: p.addr, file_flags: flags }, 'obj get', path);
    return new Fd(fd, label);
  } finally {
    p.free();
  }
}

// ---------------------------------------------------------------------------
// Ids

export type ObjKind = 'prog' | 'map' | 'btf' | 'link';

const NEXT_ID: Record<ObjKind, number> = {
  prog: BpfCmd.PROG_GET_NEXT_ID,
  map: BpfCmd.MAP_GET_NEXT_ID,
  btf: BpfCmd.BTF_GET_NEXT_ID,
  link: BpfCmd.LINK_GET_NEXT_ID,
};
const FD_BY_ID: Record<ObjKind, number> = {
  prog: BpfCmd.PROG_GET_FD_BY_ID,
  map: BpfCmd.MAP_GET_FD_BY_ID,
  btf: BpfCmd.BTF_GET_FD_BY_ID,
  link: BpfCmd.LINK_GET_FD_BY_ID,
};

/** Every id of a kind of object loaded in the kernel (system-wide), ascending. */
export function listIds(kind: ObjKind): number[] {
  const ids: number[] = [];
  let start = 0;
  for (;;) {
    const { result, out } = bpfReadBack(NEXT_ID[kind], GetIdAttr, { start_id: start });
    if (result < 0) {
      if (-result === 2 /* ENOENT: no more */) break;
      throw kernelError(`${kind} get next id`, -result);
    }
    start = out.next_id as number;
    ids.push(start);
  }
  return ids;
}

/** An fd for the object with this id. */
export function fdById(kind: ObjKind, id: number, flags = 0): Fd {
  const r = bpfRaw(FD_BY_ID[kind], GetIdAttr, { start_id: id, open_flags: flags });
  if (r < 0) throw kernelError(`${kind} get fd by id`, -r, `id ${id}`);
  return new Fd(r, `${kind} id ${id}`);
}

// ---------------------------------------------------------------------------
// Info

/**
 * BPF_OBJ_GET_INFO_BY_FD into a struct of `layout`. `prepare` may set
 * pointer/length fields (e.g. map_ids, xlated_prog_insns) before the call.
 */
export function objInfo<N extends string>(
  fd: number,
  layout: Layout<N>,
  prepare?: Partial<Record<N, Value>>,
  op = 'obj get info',
  size = layout.size,
): Record<N, number | bigint | string | Uint8Array> {
  const info = new sys.NativeBuffer(size);
  try {
    if (prepare) layout.write(info.view, prepare);
    bpfCall(BpfCmd.OBJ_GET_INFO_BY_FD, InfoAttr, { bpf_fd: fd, info_len: size, info: info.addr }, op);
    return layout.read(info.view, 0, size);
  } finally {
    info.free();
  }
}

// ---------------------------------------------------------------------------
// Attaching (used by the links layer)

/** BPF_LINK_CREATE with any of the LinkCreate*Attr layouts: the link's fd. */
export function linkCreate<N extends string>(layout: Layout<N>, values: Partial<Record<N, Value>>, label: string): Fd {
  const fd = bpfCall(BpfCmd.LINK_CREATE, layout, values, 'link create', label);
  return new Fd(fd, `link ${label}`);
}

/** BPF_LINK_UPDATE: replace the program of a link. */
export function linkUpdate(linkFd: number, newProgFd: number, oldProgFd?: number): void {
  const BPF_F_REPLACE = 1 << 2;
  bpfCall(
    BpfCmd.LINK_UPDATE,
    LinkUpdateAttr,
    { link_fd: linkFd, new_prog_fd: newProgFd, old_prog_fd: oldProgFd ?? 0, flags: oldProgFd ? BPF_F_REPLACE : 0 },
    'link update',
  );
}

/** BPF_LINK_DETACH: detach a link without closing its fd. */
export function linkDetach(linkFd: number): void {
  bpfCall(BpfCmd.LINK_DETACH, LinkDetachAttr, { link_fd: linkFd }, 'link detach');
}

/** BPF_RAW_TRACEPOINT_OPEN: attach a raw_tp/tp_btf/fentry program; the link fd. */
export function rawTracepointOpen(progFd: number, name: string | undefined, cookie = 0n): Fd {
  const p = name === undefined ? undefined : sys.nativeCopy(name, true);
  try {
    const fd = bpfCall(
      BpfCmd.RAW_TRACEPOINT_OPEN,
      RawTracepointAttr,
      { name: p?.addr ?? 0, prog_fd: progFd, cookie },
      'raw tracepoint open',
      name,
    );
    return new Fd(fd, `raw_tp ${name ?? '(from BTF)'}`);
  } finally {
    p?.free();
  }
}

/** BPF_PROG_ATTACH (cgroups, sockmaps, flow dissector, lirc). */
export function progAttach(targetFd: number, progFd: number, attachType: number, flags = 0, replaceFd = 0): void {
  bpfCall(
    BpfCmd.PROG_ATTACH,
    ProgAttachAttr,
    { target_fd: targetFd, attach_bpf_fd: progFd, attach_type: attachType, attach_flags: flags, replace_bpf_fd: replaceFd },
    'prog attach',
  );
}

/** BPF_PROG_DETACH. */
export function progDetach(targetFd: number, progFd: number, attachType: number): void {
  bpfCall(
    BpfCmd.PROG_DETACH,
    ProgAttachAttr,
    { target_fd: targetFd, attach_bpf_fd: progFd, attach_type: attachType },
    'prog detach',
  );
}

/** BPF_PROG_QUERY: ids of the programs attached at a target (cgroup fd, ifindex). */
export function progQuery(targetFd: number, attachType: number, max = 64): { progIds: number[]; attachFlags: number; revision: bigint } {
  const ids = new sys.NativeBuffer(4 * max);
  try {
    const { result, out } = bpfReadBack(BpfCmd.PROG_QUERY, QueryAttr, {
      target_fd: targetFd,
      attach_type: attachType,
      prog_ids: ids.addr,
      prog_cnt: max,
    });
    if (result < 0) throw kernelError('prog query', -result);
    const n = Math.min(out.prog_cnt as number, max);
    const progIds = Array.from({ length: n }, (_, i) => ids.view.getUint32(4 * i, true));
    return { progIds, attachFlags: out.attach_flags as number, revision: out.revision as bigint };
  } finally {
    ids.free();
  }
}

/** BPF_TASK_FD_QUERY: what a perf event / raw_tp fd of a task is attached to. */
export function taskFdQuery(
  pid: number,
  fd: number,
): { progId: number; fdType: number; name: string; probeOffset: bigint; probeAddr: bigint } {
  const buf = new sys.NativeBuffer(256);
  try {
    const { result, out } = bpfReadBack(BpfCmd.TASK_FD_QUERY, TaskFdQueryAttr, {
      pid,
      fd,
      buf: buf.addr,
      buf_len: buf.size,
    });
    if (result < 0) throw kernelError('task fd query', -result);
    const len = Math.min(out.buf_len as number, buf.size);
    const bytes = buf.bytes.subarray(0, len);
    const nul = bytes.indexOf(0);
    return {
      progId: out.prog_id as number,
      fdType: out.fd_type as number,
      name: new TextDecoder().decode(nul < 0 ? bytes : bytes.subarray(0, nul)),
      probeOffset: out.probe_offset as bigint,
      probeAddr: out.probe_addr as bigint,
    };
  } finally {
    buf.free();
  }
}

/** BPF_ENABLE_STATS (BPF_STATS_RUN_TIME = 0): run_time_ns/run_cnt counted while the fd is open. */
export function enableStats(type = 0): Fd {
  return new Fd(bpfCall(BpfCmd.ENABLE_STATS, EnableStatsAttr, { type }, 'enable stats'), 'stats');
}

/** BPF_ITER_CREATE: an fd whose read() runs the iterator. */
export function iterCreate(linkFd: number): Fd {
  return new Fd(bpfCall(BpfCmd.ITER_CREATE, IterCreateAttr, { link_fd: linkFd }, 'iter create'), 'iter');
}

/** BPF_PROG_BIND_MAP: keep a map alive with a program that does not reference it in code. */
export function progBindMap(progFd: number, mapFd: number): void {
  bpfCall(BpfCmd.PROG_BIND_MAP, ProgBindMapAttr, { prog_fd: progFd, map_fd: mapFd }, 'prog bind map');
}

