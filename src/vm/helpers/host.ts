/**
 * Helpers answered by the host environment (env.ts): clocks, randomness, the
 * CPU, the current task, stacks; and the probe_read family, which in the VM
 * reads VM memory (a source outside every region is a fault: the
 * destination is zeroed and -EFAULT returned, as the kernel does).
 */
import { Errno } from '../../ebpf/engine.js';
import { HelperId } from '../../ebpf/helper-ids.js';
import { StackIdFlags, StackTraceMap } from '../maps/stack-trace.js';
import type { HelperCall, HelperRegistry } from './registry.js';

/** Flags of bpf_get_stack / bpf_get_stackid. */
const SKIP_MASK = 0xff;
const USER_STACK = 1 << 8;
const USER_BUILD_ID = 1 << 11;

function probeRead(c: HelperCall): number {
  const size = c.u32(2);
  const dst = c.out(1, size);
  const src = c.u64(3);
  if (size === 0) return 0;
  if (src > 0xffffffffn || c.check(Number(src), size)) {
    dst.fill(0);
    return -Errno.EFAULT;
  }
  dst.set(c.run.mem.u8.subarray(Number(src), Number(src) + size));
  return 0;
}

/** strncpy_from_kernel_nofault: copy up to size - 1 bytes and a NUL; the length with the NUL, or -EFAULT. */
function probeReadStr(c: HelperCall): number {
  const size = c.u32(2);
  const dst = c.out(1, size);
  if (size === 0) return 0;
  const src = c.u64(3);
  const u8 = c.run.mem.u8;
  if (src > 0xffffffffn) {
    dst.fill(0);
    return -Errno.EFAULT;
  }
  const a = Number(src);
  for (let i = 0; i < size - 1; i++) {
    if (c.check(a + i, 1)) {
      dst.fill(0);
      return -Errno.EFAULT;
    }
    const b = u8[a + i]!;
    dst[i] = b;
    if (b === 0) return i + 1;
  }
  dst[size - 1] = 0;
  return size;
}

function putU64s(out: Uint8Array, values: readonly bigint[]): void {
  const dv = new DataView(out.buffer, out.byteOffset, out.byteLength);
  values.forEach((v, i) => dv.setBigUint64(i * 8, v, true));
}

export function defineHostHelpers(r: HelperRegistry): void {
  r.define(HelperId.ktime_get_ns, (c) => c.vm.env.monotonicNs());
  r.define(HelperId.ktime_get_boot_ns, (c) => c.vm.env.bootNs());
  r.define(HelperId.ktime_get_coarse_ns, (c) => c.vm.env.coarseNs());
  r.define(HelperId.ktime_get_tai_ns, (c) => c.vm.env.monotonicNs());
  r.define(HelperId.jiffies64, (c) => c.vm.env.jiffies());
  r.define(HelperId.get_prandom_u32, (c) => c.vm.env.random() >>> 0);
  r.define(HelperId.get_smp_processor_id, (c) => c.vm.env.cpu);
  r.define(HelperId.get_numa_node_id, () => 0);

  r.define(HelperId.get_current_pid_tgid, (c) => (BigInt(c.vm.env.task.tgid >>> 0) << 32n) | BigInt(c.vm.env.task.pid >>> 0));
  r.define(HelperId.get_current_uid_gid, (c) => (BigInt(c.vm.env.task.gid >>> 0) << 32n) | BigInt(c.vm.env.task.uid >>> 0));
  r.define(HelperId.get_current_comm, (c) => {
    const size = c.u32(2);
    const out = c.out(1, size);
    if (size === 0) return -Errno.EINVAL;
    const comm = new TextEncoder().encode(c.vm.env.task.comm).subarray(0, 15);
    out.fill(0);
    out.set(comm.subarray(0, size - 1));
    return 0;
  });

  // bpf_get_stack(ctx, buf, size, flags): the host's stack, innermost first, after skipping flags & 0xff frames.
  r.define(HelperId.get_stack, (c) => {
    const size = c.u32(3);
    const out = c.out(2, size);
    const flags = c.u64(4);
    if (flags & ~BigInt(SKIP_MASK | USER_STACK | USER_BUILD_ID) || flags & BigInt(USER_BUILD_ID) || size % 8 !== 0) {
      out.fill(0);
      return -Errno.EINVAL;
    }
    const stack = (flags & BigInt(USER_STACK) ? c.vm.env.userStack : c.vm.env.kernelStack).slice(Number(flags & BigInt(SKIP_MASK)));
    const n = Math.min(stack.length, size / 8);
    out.fill(0);
    putU64s(out, stack.slice(0, n));
    return n * 8;
  });

  // bpf_get_stackid(ctx, map, flags): file the host's stack in a stack trace map, give its id.
  r.define(HelperId.get_stackid, (c) => {
    const m = c.map(2);
    if (!(m instanceof StackTraceMap)) return c.fail(`map '${m.name}' is not a stack trace map`);
    const flags = c.u64(3);
    const known = BigInt(StackIdFlags.SKIP_MASK | StackIdFlags.USER_STACK | StackIdFlags.FAST_STACK_CMP | StackIdFlags.REUSE_STACKID);
    if (flags & ~known) return -Errno.EINVAL;
    const f = Number(flags);
    const stack = (f & StackIdFlags.USER_STACK ? c.vm.env.userStack : c.vm.env.kernelStack).slice(f & StackIdFlags.SKIP_MASK);
    return m.stackId(stack, f);
  });

  r.define(HelperId.probe_read, probeRead);
  r.define(HelperId.probe_read_kernel, probeRead);
  r.define(HelperId.probe_read_user, probeRead);
  r.define(HelperId.probe_read_str, probeReadStr);
  r.define(HelperId.probe_read_kernel_str, probeReadStr);
  r.define(HelperId.probe_read_user_str, probeReadStr);
}
