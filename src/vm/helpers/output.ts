/**
 * Output helpers: bpf_trace_printk / bpf_trace_vprintk (to the host's trace
 * sink), bpf_snprintf (into program memory), the ring buffer helpers and
 * bpf_perf_event_output.
 */
import { Errno } from '../../ebpf/engine.js';
import { HelperId } from '../../ebpf/helper-ids.js';
import { PerfEventArrayMap } from '../maps/perf.js';
import { RingBufMap } from '../maps/ringbuf.js';
import { bpfPrintf, PrintfError, type PrintfSource } from './printf.js';
import type { HelperCall, HelperRegistry } from './registry.js';

/** MAX_BPRINTF_VARARGS. */
const MAX_VARARGS = 12;
const BPF_F_CURRENT_CPU = 0xffffffffn;
const BPF_F_CTXLEN_SHIFT = 32n;

function source(c: HelperCall, arg: (i: number) => bigint): PrintfSource {
  const mem = c.run.mem;
  return {
    arg,
    string: (address) => {
      if (address > 0xffffffffn) return undefined;
      const a = Number(address);
      let s = '';
      for (let i = a; !c.check(i, 1); i++) {
        const b = mem.u8[i]!;
        if (b === 0) return s;
        s += String.fromCharCode(b);
      }
      return s.length ? s : undefined;
    },
    bytes: (address, length) => {
      if (address > 0xffffffffn || c.check(Number(address), length)) return undefined;
      return mem.u8.slice(Number(address), Number(address) + length);
    },
  };
}

/** The format at pointer argument i: up to the first NUL within `size` bytes; undefined when there is none. */
function formatArg(c: HelperCall, i: number, size: number): string | undefined {
  const view = c.bytes(i, size);
  const end = view.indexOf(0);
  if (end < 0) return undefined;
  return String.fromCharCode(...view.subarray(0, end));
}

function printk(c: HelperCall, fmt: string | undefined, args: (i: number) => bigint, max: number): number {
  if (fmt === undefined) return -Errno.EINVAL;
  let text: string;
  try {
    text = bpfPrintf(fmt, source(c, args), max);
  } catch (e) {
    if (e instanceof PrintfError) return -Errno.EINVAL;
    throw e;
  }
  c.vm.env.trace(text.endsWith('\n') ? text.slice(0, -1) : text);
  return text.length;
}

/** Arguments packed as u64s in memory (trace_vprintk, snprintf): pointer argument `i`, `len` bytes. */
function packedArgs(c: HelperCall, i: number, len: number): ((k: number) => bigint) | number {
  if (len % 8 !== 0) return -Errno.EINVAL;
  if (len / 8 > MAX_VARARGS) return -Errno.E2BIG;
  if (len === 0) return () => 0n;
  const bytes = c.bytes(i, len);
  const dv = new DataView(bytes.buffer, bytes.byteOffset, len);
  return (k) => dv.getBigUint64(k * 8, true);
}

function ringbuf(c: HelperCall, i: number): RingBufMap {
  const m = c.map(i);
  if (!(m instanceof RingBufMap)) c.fail(`map '${m.name}' is not a ring buffer`);
  return m;
}

function commitRecord(c: HelperCall, discard: boolean): number {
  const owner = c.hi(1) === 0 ? c.vm.ringbufRecordOwner(c.u32(1)) : undefined;
  if (!owner) return c.fail(`r1 (0x${c.u64(1).toString(16)}) is not a reserved ring buffer record`);
  owner.commit(c.u32(1), discard);
  return 0;
}

export function defineOutputHelpers(r: HelperRegistry): void {
  r.define(HelperId.trace_printk, (c) => printk(c, formatArg(c, 1, c.u32(2)), (k) => c.u64(3 + k), 3));

  r.define(HelperId.trace_vprintk, (c) => {
    const args = packedArgs(c, 3, c.u32(4));
    if (typeof args === 'number') return args;
    return printk(c, formatArg(c, 1, c.u32(2)), args, c.u32(4) / 8);
  });

  r.define(HelperId.snprintf, (c) => {
    const size = c.u32(2);
    const out = c.out(1, size);
    const args = packedArgs(c, 4, c.u32(5));
    if (typeof args === 'number') return args;
    const src = source(c, args);
    const fmt = src.string(c.u64(3));
    if (fmt === undefined) return -Errno.EINVAL;
    let text: string;
    try {
      text = bpfPrintf(fmt, src, c.u32(5) / 8);
    } catch (e) {
      if (e instanceof PrintfError) return -Errno.EINVAL;
      throw e;
    }
    if (size > 0) {
      const n = Math.min(text.length, size - 1);
      for (let k = 0; k < n; k++) out[k] = text.charCodeAt(k);
      out[n] = 0;
    }
    return text.length + 1;
  });

  r.define(HelperId.ringbuf_output, (c) => {
    const m = ringbuf(c, 1);
    const size = c.u32(3);
    const data = c.bytes(2, size);
    if (c.u64(4) & ~3n) return -Errno.EINVAL;
    return -m.output(data.slice());
  });
  r.define(HelperId.ringbuf_reserve, (c) => {
    const m = ringbuf(c, 1);
    if (c.u64(3) !== 0n || c.hi(2) !== 0) return 0;
    return m.reserve(c.u32(2));
  });
  r.define(HelperId.ringbuf_submit, (c) => commitRecord(c, false));
  r.define(HelperId.ringbuf_discard, (c) => commitRecord(c, true));
  r.define(HelperId.ringbuf_query, (c) => ringbuf(c, 1).query(c.num(2)));

  // bpf_perf_event_output(ctx, map, flags, data, size): flags = CPU index (or BPF_F_CURRENT_CPU) | packet bytes to append << 32.
  r.define(HelperId.perf_event_output, (c) => {
    const m = c.map(2);
    if (!(m instanceof PerfEventArrayMap)) return c.fail(`map '${m.name}' is not a perf event array`);
    const flags = c.u64(3);
    if (flags & ~(0xffffffffn | (0xfffffn << BPF_F_CTXLEN_SHIFT))) return -Errno.EINVAL;
    const ctxLen = Number((flags >> BPF_F_CTXLEN_SHIFT) & 0xfffffn);
    const index = (flags & 0xffffffffn) === BPF_F_CURRENT_CPU ? c.vm.env.cpu : Number(flags & 0xffffffffn);
    const size = c.u32(5);
    const sample = new Uint8Array(size + ctxLen);
    sample.set(c.bytes(4, size));
    if (ctxLen > 0) {
      const packet = c.run.packet;
      if (!packet) return -Errno.EINVAL;
      const bytes = packet.slice(0, ctxLen);
      if (!bytes) return -Errno.EFAULT;
      sample.set(bytes, size);
    }
    return -m.output(index, sample);
  });
}
