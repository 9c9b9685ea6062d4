/**
 * Batch operations on a map (BPF_MAP_*_BATCH): many keys and values in one
 * system call, packed into native memory; reads walk the map with the
 * kernel's opaque in/out batch tokens until it says ENOENT.
 */
import { BpfCmd } from '../ebpf/types.js';
import { UsageError } from '../errors.js';
import { MapBatchAttr } from './attr.js';
import * as sys from './sys.js';

/** What the batch functions need of a map. */
export interface BatchTarget {
  fd: number;
  keySize: number;
  valueSlotSize: number;
  subject: string;
  fail(op: string, result: number): Error;
}

const ENOENT = -2;

function batch(
  m: BatchTarget,
  cmd: number,
  op: string,
  keys: sys.NativeBuffer,
  values: sys.NativeBuffer | undefined,
  count: number,
  tokens?: { inAddr: number; outAddr: number },
  elemFlags = 0,
): { result: number; count: number } {
  const attr = new sys.NativeBuffer(MapBatchAttr.size);
  try {
    MapBatchAttr.write(attr.view, {
      in_batch: tokens?.inAddr ?? 0,
      out_batch: tokens?.outAddr ?? 0,
      keys: keys.addr,
      values: values?.addr ?? 0,
      count,
      map_fd: m.fd,
      elem_flags: elemFlags,
    });
    const r = sys.bpf(cmd, attr.addr, MapBatchAttr.size);
    const done = attr.view.getUint32(MapBatchAttr.off('count'), true);
    if (r < 0 && r !== ENOENT) throw m.fail(op, r);
    return { result: r, count: done };
  } finally {
    attr.free();
  }
}

/** Every entry, `batchSize` at a time (lookup, or lookup-and-delete). */
export function batchReadAll(m: BatchTarget, cmd: number, op: string, batchSize: number): [Uint8Array, Uint8Array][] {
  const ks = m.keySize;
  const vs = m.valueSlotSize;
  const n = Math.max(1, batchSize);
  const bufs: sys.NativeBuffer[] = [];
  const alloc = (size: number) => {
    const b = new sys.NativeBuffer(size);
    bufs.push(b);
    return b;
  };
  const out: [Uint8Array, Uint8Array][] = [];
  try {
    const keys = alloc(ks * n);
    const values = alloc(vs * n);
    // The tokens are the kernel's: a bucket number for hashes, a key for arrays.
    const tokenA = alloc(Math.max(ks, 8));
    const tokenB = alloc(Math.max(ks, 8));
    let inTok: sys.NativeBuffer | undefined;
    let outTok = tokenA;
    for (;;) {
      const { result, count } = batch(m, cmd, op, keys, values, n, { inAddr: inTok?.addr ?? 0, outAddr: outTok.addr });
      for (let i = 0; i < count; i++) {
        out.push([keys.bytes.slice(i * ks, (i + 1) * ks), values.bytes.slice(i * vs, (i + 1) * vs)]);
      }
      if (result === ENOENT) break;
      inTok = outTok;
      outTok = outTok === tokenA ? tokenB : tokenA;
    }
    return out;
  } finally {
    for (const b of bufs) b.free();
  }
}

function packed(m: BatchTarget, list: readonly Uint8Array[], size: number, what: string): sys.NativeBuffer {
  const buf = new sys.NativeBuffer(size * list.length);
  list.forEach((b, i) => {
    if (b.length !== size) {
      buf.free();
      throw new UsageError(`${m.subject}: ${what} ${i} must be ${size} bytes, got ${b.length}`);
    }
    buf.bytes.set(b, i * size);
  });
  return buf;
}

/** BPF_MAP_UPDATE_BATCH: returns how many entries were written. */
export function batchUpdate(m: BatchTarget, keys: readonly Uint8Array[], values: readonly Uint8Array[], elemFlags = 0): number {
  if (keys.length !== values.length) throw new UsageError(`${m.subject}: ${keys.length} keys but ${values.length} values`);
  if (keys.length === 0) return 0;
  const k = packed(m, keys, m.keySize, 'key');
  let v: sys.NativeBuffer | undefined;
  try {
    v = packed(m, values, m.valueSlotSize, 'value');
    const { result, count } = batch(m, BpfCmd.MAP_UPDATE_BATCH, 'map update batch', k, v, keys.length, undefined, elemFlags);
    if (result < 0) throw m.fail('map update batch', result);
    return count;
  } finally {
    k.free();
    v?.free();
  }
}

/** BPF_MAP_DELETE_BATCH: returns how many keys were deleted. */
export function batchDelete(m: BatchTarget, keys: readonly Uint8Array[]): number {
  if (keys.length === 0) return 0;
  const k = packed(m, keys, m.keySize, 'key');
  try {
    const { result, count } = batch(m, BpfCmd.MAP_DELETE_BATCH, 'map delete batch', k, undefined, keys.length);
    if (result < 0) throw m.fail('map delete batch', result);
    return count;
  } finally {
    k.free();
  }
}
