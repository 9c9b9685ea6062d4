/**
 * Feature probes: what this kernel supports — program types, map types,
 * helpers per program type, link types, and a few attach capabilities
 * (fentry trampolines, kprobes). Each probe makes the smallest object that
 * shows the feature and closes it at once; answers are cached per process.
 *
 * The rule for program types and helpers: the kernel answers an unknown
 * program type with EINVAL before the verifier runs (empty log); a known one
 * reaches the verifier, whose log then says what it objects to. An unknown
 * helper is "invalid func unknown#N"; one the type may not call is "program
 * of this type cannot use helper" / "unknown func". Link types are probed by
 * BPF_LINK_CREATE against a target that cannot exist: a kernel that knows
 * the link type complains about the target (EBADF, ENODEV, ENOENT), one that
 * does not, about the attach type (EINVAL).
 */
import { existsSync } from 'node:fs';
import { Errno } from '../ebpf/engine.js';
import { HelperId } from '../ebpf/helper-ids.js';
import { insn } from '../ebpf/insn.js';
import type { MapSpec, ProgramSpec } from '../ebpf/spec.js';
import { AttachType, BpfCmd, LinkType, MapType, ProgType, nameOf } from '../ebpf/types.js';
import { LinkCreateAttr, LinkCreateKprobeMultiAttr, LinkCreateUprobeMultiAttr, MapCreateAttr, RawTracepointAttr } from './attr.js';
import { bpfRaw } from './bpf.js';
import { loadBtf } from './btf-load.js';
import { KernelError, VerifierError } from './errors.js';
import { createMap } from './map.js';
import { ProgFlags, loadProgram, type KernelProgram } from './program.js';
import * as sys from './sys.js';
import { BtfKind, kernelSymbolId, vmlinuxBtf } from './vmlinux-btf.js';

export interface ProbeResult {
  supported: boolean;
  /** Why not (or what was found), in the kernel's words where it gave any. */
  detail?: string;
}

const cache = new Map<string, ProbeResult>();
function cached(key: string, probe: () => ProbeResult): ProbeResult {
  let r = cache.get(key);
  if (!r) {
    r = probe();
    cache.set(key, r);
  }
  return r;
}

/** Forget cached answers (tests). */
export function clearProbeCache(): void {
  cache.clear();
}

// ---------------------------------------------------------------------------
// Map types

/** BTF with [1] int and [2] struct { int v; }: what local storage maps need for key and value. */
function storageBtf(): Uint8Array {
  const strings = '\0int\0val\0v\0';
  const words = [1, 0x01000000, 4, 0x01000020, 5, 0x04000001, 4, 9, 1, 0];
  const out = new Uint8Array(24 + words.length * 4 + strings.length);
  const v = new DataView(out.buffer);
  v.setUint16(0, 0xeb9f, true);
  v.setUint8(2, 1);
  v.setUint32(4, 24, true);
  v.setUint32(12, words.length * 4, true);
  v.setUint32(16, words.length * 4, true);
  v.setUint32(20, strings.length, true);
  words.forEach((w, i) => v.setUint32(24 + 4 * i, w, true));
  out.set(new TextEncoder().encode(strings), 24 + words.length * 4);
  return out;
}

const FD_VALUE_TYPES: number[] = [
  MapType.PROG_ARRAY,
  MapType.PERF_EVENT_ARRAY,
  MapType.CGROUP_ARRAY,
  MapType.SOCKMAP,
  MapType.SOCKHASH,
  MapType.XSKMAP,
];

/** The smallest valid spec of each map type (and whether it needs BTF types to be created). */
export function minimalMapSpec(type: MapType): { spec: MapSpec; needsBtf?: boolean; vmlinuxValueType?: string } {
  const base = { name: `probe_${(nameOf(MapType, type) ?? String(type)).toLowerCase()}`.slice(0, 15), flags: 0 };
  const kv = (keySize: number, valueSize: number, maxEntries: number, flags = 0): MapSpec => ({
    ...base,
    type,
    keySize,
    valueSize,
    maxEntries,
    flags,
  });
  const NO_PREALLOC = 1;
  const MMAPABLE = 1 << 10;
  switch (type) {
    case MapType.LPM_TRIE:
      return { spec: kv(8, 8, 16, NO_PREALLOC) };
    case MapType.ARRAY_OF_MAPS:
    case MapType.HASH_OF_MAPS:
      return { spec: { ...kv(4, 4, 4), innerMap: { ...kv(4, 4, 1), type: MapType.ARRAY, name: 'probe_inner' } } };
    case MapType.STACK_TRACE:
      return { spec: kv(4, 8 * 127, 16) };
    case MapType.CGROUP_STORAGE:
    case MapType.PERCPU_CGROUP_STORAGE:
      return { spec: kv(16, 8, 0) };
    case MapType.QUEUE:
    case MapType.STACK:
      return { spec: kv(0, 8, 16) };
    case MapType.SK_STORAGE:
    case MapType.INODE_STORAGE:
    case MapType.TASK_STORAGE:
    case MapType.CGRP_STORAGE:
      return { spec: { ...kv(4, 4, 0, NO_PREALLOC), btfKeyTypeId: 1, btfValueTypeId: 2 }, needsBtf: true };
    case MapType.RINGBUF:
    case MapType.USER_RINGBUF:
      return { spec: kv(0, 0, 4096) };
    case MapType.BLOOM_FILTER:
      return { spec: { ...kv(0, 8, 16), mapExtra: 3n } };
    case MapType.ARENA:
      return { spec: kv(0, 0, 1, MMAPABLE) };
    case MapType.STRUCT_OPS:
      // value_size is filled in from the kernel's BTF (the size of the value type).
      return { spec: kv(4, 0, 1), vmlinuxValueType: 'bpf_struct_ops_tcp_congestion_ops' };
    case MapType.REUSEPORT_SOCKARRAY:
      return { spec: kv(4, 8, 4) };
    default: {
      // Maps of fds, devices and CPUs hold a u32 (fd, ifindex, queue size); the rest a u64.
      const u32Values: number[] = [...FD_VALUE_TYPES, MapType.CPUMAP, MapType.DEVMAP, MapType.DEVMAP_HASH];
      return { spec: kv(4, u32Values.includes(type) ? 4 : 8, 4) };
    }
  }
}


/** Can this kernel create maps of this type? */
export function mapTypeSupported(type: MapType): ProbeResult {
  return cached(`map:${type}`, () => {
    if (type === MapType.STRUCT_OPS) {
      // As libbpf probes it: a kernel with struct_ops maps says ENOTSUPP for a value type (id 1) that is not one.
      const r = bpfRaw(BpfCmd.MAP_CREATE, MapCreateAttr, { map_type: type, key_size: 4, value_size: 4, max_entries: 1, btf_vmlinux_value_type_id: 1 });
      if (r >= 0) {
        sys.close(r);
        return { supported: true };
      }
      return -r === Errno.ENOTSUPP ? { supported: true } : { supported: false, detail: `map create: errno ${-r}` };
    }
    const m = minimalMapSpec(type);
    let spec = m.spec;
    let btf: ReturnType<typeof loadBtf> | undefined;
    try {
      let vmlinuxValue: number | undefined;
      if (m.vmlinuxValueType) {
        vmlinuxValue = vmlinuxBtf().find(m.vmlinuxValueType, BtfKind.STRUCT);
        if (vmlinuxValue === undefined) return { supported: false, detail: `no ${m.vmlinuxValueType} in the kernel's BTF` };
        spec = { ...spec, valueSize: vmlinuxBtf().size(vmlinuxValue) ?? 0 };
      }
      if (m.needsBtf) btf = loadBtf(storageBtf());
      createMap(spec, { btfFd: btf?.fd, btfVmlinuxValueTypeId: vmlinuxValue }).close();
      return { supported: true };
    } catch (err) {
      if (err instanceof KernelError) return { supported: false, detail: err.message };
      throw err;
    } finally {
      btf?.close();
    }
  });
}

// ---------------------------------------------------------------------------
// Program types

/** Load attributes a program type needs before the kernel will look at it. */
function progTypeNeeds(type: ProgType): Partial<ProgramSpec> {
  switch (type) {
    case ProgType.CGROUP_SOCK_ADDR:
      return { attachType: AttachType.CGROUP_INET4_CONNECT };
    case ProgType.CGROUP_SOCKOPT:
      return { attachType: AttachType.CGROUP_GETSOCKOPT };
    case ProgType.SK_LOOKUP:
      return { attachType: AttachType.SK_LOOKUP };
    case ProgType.NETFILTER:
      return { attachType: AttachType.NETFILTER };
    case ProgType.SYSCALL:
      return { flags: ProgFlags.SLEEPABLE };
    default:
      return {};
  }
}

function tryLoad(spec: ProgramSpec): { prog?: KernelProgram; error?: KernelError } {
  try {
    return { prog: loadProgram(spec) };
  } catch (err) {
    if (err instanceof KernelError) return { error: err };
    throw err;
  }
}

const RET0 = [insn(0xb7, 0, 0, 0, 0), insn(0x95)];

/**
 * Types that load only against a BTF target: probed as libbpf probes them,
 * with a target that cannot be right (BTF id 1), so a kernel that can load
 * them complains about the target (the errno given here).
 */
const TARGETED: Partial<Record<number, { attachType?: AttachType; attachProgFd?: boolean; expect: number }>> = {
  [ProgType.TRACING]: { attachType: AttachType.TRACE_FENTRY, expect: Errno.EINVAL },
  [ProgType.EXT]: { attachProgFd: true, expect: Errno.EINVAL },
  [ProgType.LSM]: { attachType: AttachType.LSM_MAC, expect: Errno.EINVAL },
  [ProgType.STRUCT_OPS]: { expect: Errno.ENOTSUPP },
};

/** Can this kernel load programs of this type? */
export function progTypeSupported(type: ProgType): ProbeResult {
  return cached(`prog:${type}`, () => {
    const targeted = TARGETED[type];
    if (targeted) {
      let prog: KernelProgram | undefined;
      try {
        prog = loadProgram(
          { name: 'probe', type, license: 'GPL', instructions: RET0, references: [], attachType: targeted.attachType },
          { attachBtfId: type === ProgType.STRUCT_OPS ? 0 : 1, attachProgFd: targeted.attachProgFd ? 1 : undefined },
        );
        prog.close();
        return { supported: true };
      } catch (err) {
        if (!(err instanceof KernelError)) throw err;
        return err.errno === targeted.expect
          ? { supported: true, detail: err.message }
          : { supported: false, detail: err.message };
      }
    }
    const { prog, error } = tryLoad({ name: 'probe', type, license: 'GPL', instructions: RET0, references: [], ...progTypeNeeds(type) });
    if (prog) {
      prog.close();
      return { supported: true };
    }
    // A known type reaches the verifier (a log) or a type-specific check (not EINVAL).
    if (error instanceof VerifierError) return { supported: true, detail: error.reason };
    if (error && error.errno !== Errno.EINVAL && error.errno !== Errno.ENOTSUPP && error.errno !== Errno.EOPNOTSUPP) {
      return { supported: true, detail: error.message };
    }
    return { supported: false, detail: error?.message };
  });
}

// ---------------------------------------------------------------------------
// Helpers

/** May programs of this type call this helper on this kernel? */
export function helperSupported(type: ProgType, helper: number): ProbeResult {
  return cached(`helper:${type}:${helper}`, () => {
    if (!progTypeSupported(type).supported) return { supported: false, detail: 'program type not supported' };
    const instructions = [
      insn(0xb7, 1, 0, 0, 0),
      insn(0xb7, 2, 0, 0, 0),
      insn(0xb7, 3, 0, 0, 0),
      insn(0xb7, 4, 0, 0, 0),
      insn(0xb7, 5, 0, 0, 0),
      insn(0x85, 0, 0, 0, helper),
      ...RET0,
    ];
    const { prog, error } = tryLoad({ name: 'probe', type, license: 'GPL', instructions, references: [], ...progTypeNeeds(type) });
    if (prog) {
      prog.close();
      return { supported: true };
    }
    if (error instanceof VerifierError) {
      const log = error.log;
      if (/invalid func unknown#|unknown func |cannot use helper|helper call might sleep|not supported in this kernel/.test(log)) {
        return { supported: false, detail: error.reason };
      }
      return { supported: true, detail: error.reason };
    }
    return { supported: false, detail: error?.message };
  });
}

/** The helpers (by name) programs of this type may call here. Loads one probe per helper: a few hundred loads. */
export function supportedHelpers(type: ProgType): string[] {
  return Object.entries(HelperId)
    .filter(([, id]) => id > 0 && helperSupported(type, id).supported)
    .map(([name]) => name);
}

// ---------------------------------------------------------------------------
// Link types

const BAD_FD = 0x7ffffff0;
const BAD_IFINDEX = 0x7ffffff0;

function linkProbe(progType: ProgType, attachType: AttachType, create: (progFd: number) => number, known: number[]): ProbeResult {
  const { prog, error } = tryLoad({ name: 'probe', type: progType, license: 'GPL', instructions: RET0, references: [], attachType, ...progTypeNeeds(progType) });
  if (!prog) return { supported: false, detail: `program type: ${error?.message}` };
  try {
    const r = create(prog.fd);
    if (r >= 0) {
      sys.close(r);
      return { supported: true };
    }
    if (known.includes(-r)) return { supported: true };
    return { supported: false, detail: `link create refused: errno ${-r}` };
  } finally {
    prog.close();
  }
}

/** The kernel-side struct of each link type: present in the kernel's BTF when the code is built in. */
const LINK_STRUCTS: Partial<Record<number, string>> = {
  [LinkType.ITER]: 'bpf_iter_link',
  [LinkType.XDP]: 'bpf_xdp_link',
  [LinkType.STRUCT_OPS]: 'bpf_struct_ops_link',
  [LinkType.NETFILTER]: 'bpf_nf_link',
  [LinkType.SOCKMAP]: 'sockmap_link',
};

function linkStructProbe(type: LinkType): ProbeResult {
  const name = LINK_STRUCTS[type]!;
  try {
    return vmlinuxBtf().find(name, BtfKind.STRUCT) !== undefined
      ? { supported: true, detail: `struct ${name} in the kernel's BTF` }
      : { supported: false, detail: `no struct ${name} in the kernel's BTF` };
  } catch (err) {
    return { supported: false, detail: (err as Error).message };
  }
}

/** Does this kernel make links of this type? */
export function linkTypeSupported(type: LinkType): ProbeResult {
  return cached(`link:${type}`, () => {
    const create = (attachType: number, target: number) => (progFd: number) =>
      bpfRaw(BpfCmd.LINK_CREATE, LinkCreateAttr, { prog_fd: progFd, target_fd: target, attach_type: attachType });
    switch (type) {
      case LinkType.RAW_TRACEPOINT:
        return linkProbe(
          ProgType.RAW_TRACEPOINT,
          0 as AttachType,
          (fd) => {
            const name = sys.nativeCopy('bpfkit_no_such_tracepoint', true);
            try {
              return bpfRaw(BpfCmd.RAW_TRACEPOINT_OPEN, RawTracepointAttr, { name: name.addr, prog_fd: fd });
            } finally {
              name.free();
            }
          },
          [Errno.ENOENT],
        );
      case LinkType.TRACING:
        return fentrySupported();
      case LinkType.CGROUP:
        return linkProbe(ProgType.CGROUP_SKB, AttachType.CGROUP_INET_INGRESS, create(AttachType.CGROUP_INET_INGRESS, BAD_FD), [Errno.EBADF]);
      case LinkType.NETNS:
        return linkProbe(ProgType.FLOW_DISSECTOR, AttachType.FLOW_DISSECTOR, create(AttachType.FLOW_DISSECTOR, BAD_FD), [Errno.EBADF]);
      case LinkType.XDP:
      case LinkType.ITER:
      case LinkType.STRUCT_OPS:
      case LinkType.NETFILTER:
      case LinkType.SOCKMAP:
        // BPF_LINK_CREATE cannot tell these apart from a bad target without attaching for real.
        return linkStructProbe(type);
      case LinkType.PERF_EVENT:
        return linkProbe(ProgType.TRACEPOINT, AttachType.PERF_EVENT, create(AttachType.PERF_EVENT, BAD_FD), [Errno.EBADF]);
      case LinkType.TCX:
        return linkProbe(ProgType.SCHED_CLS, AttachType.TCX_INGRESS, create(AttachType.TCX_INGRESS, BAD_IFINDEX), [Errno.ENODEV]);
      case LinkType.NETKIT:
        return linkProbe(ProgType.SCHED_CLS, AttachType.NETKIT_PRIMARY, create(AttachType.NETKIT_PRIMARY, BAD_IFINDEX), [Errno.ENODEV]);
      case LinkType.KPROBE_MULTI:
        return linkProbe(
          ProgType.KPROBE,
          AttachType.TRACE_KPROBE_MULTI,
          (fd) => {
            const sym = sys.nativeCopy('vfs_read', true);
            const syms = new sys.NativeBuffer(8);
            try {
              syms.view.setBigUint64(0, BigInt(sym.addr), true);
              return bpfRaw(BpfCmd.LINK_CREATE, LinkCreateKprobeMultiAttr, {
                prog_fd: fd,
                attach_type: AttachType.TRACE_KPROBE_MULTI,
                cnt: 1,
                syms: syms.addr,
              });
            } finally {
              sym.free();
              syms.free();
            }
          },
          [],
        );
      case LinkType.UPROBE_MULTI:
        return linkProbe(
          ProgType.KPROBE,
          AttachType.TRACE_UPROBE_MULTI,
          (fd) => {
            const path = sys.nativeCopy('/', true);
            const offsets = new sys.NativeBuffer(8);
            try {
              return bpfRaw(BpfCmd.LINK_CREATE, LinkCreateUprobeMultiAttr, {
                prog_fd: fd,
                attach_type: AttachType.TRACE_UPROBE_MULTI,
                path: path.addr,
                offsets: offsets.addr,
                cnt: 1,
              });
            } finally {
              path.free();
              offsets.free();
            }
          },
          // The path "/" is a directory: a kernel with uprobe_multi says EBADF; one without, EINVAL.
          [Errno.EBADF],
        );
      default:
        return { supported: false, detail: `no probe for link type ${nameOf(LinkType, type) ?? type}` };
    }
  });
}

/** Can fentry programs be loaded and attached (BPF trampolines)? */
export function fentrySupported(): ProbeResult {
  return cached('fentry', () => {
    let target: number;
    try {
      target = kernelSymbolId('bpf_fentry_test1', 'func');
    } catch {
      try {
        target = kernelSymbolId('do_nanosleep', 'func');
      } catch (err) {
        return { supported: false, detail: (err as Error).message };
      }
    }
    let prog: KernelProgram;
    try {
      prog = loadProgram(
        { name: 'probe', type: ProgType.TRACING, attachType: AttachType.TRACE_FENTRY, license: 'GPL', instructions: RET0, references: [] },
        { attachBtfId: target },
      );
    } catch (err) {
      if (err instanceof KernelError) return { supported: false, detail: err.message };
      throw err;
    }
    try {
      const r = bpfRaw(BpfCmd.RAW_TRACEPOINT_OPEN, RawTracepointAttr, { prog_fd: prog.fd });
      if (r >= 0) {
        sys.close(r);
        return { supported: true };
      }
      return { supported: false, detail: `attaching a trampoline: errno ${-r}` };
    } finally {
      prog.close();
    }
  });
}

/** Does the kernel have kprobes (a kprobe PMU in sysfs)? */
export function kprobesSupported(): ProbeResult {
  return cached('kprobes', () => {
    if (existsSync('/sys/bus/event_source/devices/kprobe/type')) return { supported: true };
    return { supported: false, detail: 'no kprobe PMU (/sys/bus/event_source/devices/kprobe)' };
  });
}

export interface KernelFeatures {
  progTypes: Record<string, ProbeResult>;
  mapTypes: Record<string, ProbeResult>;
  linkTypes: Record<string, ProbeResult>;
}

/** Probe every program, map and link type this engine knows of. */
export function kernelFeatures(): KernelFeatures {
  const progTypes: Record<string, ProbeResult> = {};
  for (const [name, t] of Object.entries(ProgType)) if (t !== 0) progTypes[name] = progTypeSupported(t);
  const mapTypes: Record<string, ProbeResult> = {};
  for (const [name, t] of Object.entries(MapType)) if (t !== 0) mapTypes[name] = mapTypeSupported(t);
  const linkTypes: Record<string, ProbeResult> = {};
  for (const [name, t] of Object.entries(LinkType)) if (t !== 0) linkTypes[name] = linkTypeSupported(t);
  return { progTypes, mapTypes, linkTypes };
}
