/**
 * Names to type ids in the running kernel's BTF (/sys/kernel/btf/vmlinux):
 * what kfunc calls, ksym externs, tp_btf/fentry/lsm attach targets and
 * struct_ops maps need at load. Only the type headers are walked (no type
 * graph: that is src/btf's business); the index is built once, on first use.
 */
import { readFileSync } from 'node:fs';
import { BtfKind, btfTypeExtraBytes } from '../ebpf/types.js';
import { UsageError } from '../errors.js';

export { BtfKind };

export interface BtfNameIndex {
  /** Type id of the first type with this name and kind. */
  find(name: string, kind: number): number | undefined;
  /** Byte size of a struct, union, enum or int type (by id). */
  size(id: number): number | undefined;
}

/** Index the named types of a (little-endian, non-split) BTF blob. */
export function indexBtf(bytes: Uint8Array): BtfNameIndex {
  const v = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  if (v.getUint16(0, true) !== 0xeb9f) throw new UsageError('not little-endian BTF');
  const hdrLen = v.getUint32(4, true);
  const typeOff = hdrLen + v.getUint32(8, true);
  const typeEnd = typeOff + v.getUint32(12, true);
  const strOff = hdrLen + v.getUint32(16, true);
  const dec = new TextDecoder();
  const byKey = new Map<string, number>();
  const sizes = new Map<number, number>();
  let p = typeOff;
  let id = 1;
  while (p + 12 <= typeEnd) {
    const nameOff = v.getUint32(p, true);
    const info = v.getUint32(p + 4, true);
    const kind = (info >>> 24) & 0x1f;
    const vlen = info & 0xffff;
    if (kind === BtfKind.STRUCT || kind === BtfKind.UNION || kind === BtfKind.INT || kind === BtfKind.ENUM || kind === BtfKind.ENUM64) {
      sizes.set(id, v.getUint32(p + 8, true));
    }
    if (nameOff !== 0) {
      const s = strOff + nameOff;
      let e = s;
      while (bytes[e] !== 0 && e < bytes.length) e++;
      const key = `${kind}:${dec.decode(bytes.subarray(s, e))}`;
      if (!byKey.has(key)) byKey.set(key, id);
    }
    p += 12 + btfTypeExtraBytes(kind, vlen);
    id++;
  }
  return { find: (name, kind) => byKey.get(`${kind}:${name}`), size: (id) => sizes.get(id) };
}

let vmlinux: BtfNameIndex | undefined;

/** The running kernel's BTF, indexed by name (throws when the kernel has none). */
export function vmlinuxBtf(): BtfNameIndex {
  if (!vmlinux) {
    let bytes: Uint8Array;
    try {
      bytes = readFileSync('/sys/kernel/btf/vmlinux');
    } catch {
      throw new UsageError('this kernel has no BTF (/sys/kernel/btf/vmlinux is missing; CONFIG_DEBUG_INFO_BTF)');
    }
    vmlinux = indexBtf(bytes);
  }
  return vmlinux;
}

/** BTF id of a kernel function (kfunc, fentry/fexit/lsm target) or variable (ksym). */
export function kernelSymbolId(name: string, kind: 'kfunc' | 'ksym' | 'func'): number {
  const btf = vmlinuxBtf();
  const id = kind === 'ksym' ? btf.find(name, BtfKind.VAR) : btf.find(name, BtfKind.FUNC);
  if (id === undefined) {
    throw new UsageError(`the kernel's BTF has no ${kind === 'ksym' ? 'variable' : 'function'} named ${name}`);
  }
  return id;
}
