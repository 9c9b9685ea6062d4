/**
 * The BTF encoder: a Btf's own types → raw BTF bytes the kernel (BPF_BTF_LOAD)
 * and bpftool accept. Strings are written once each; for split BTF the string
 * offsets continue after the base's, as the kernel expects.
 */
import type { Btf } from './btf.js';
import { BtfError } from './errors.js';
import { BTF_HEADER_LEN, BTF_MAGIC } from './parse.js';
import { StringTableBuilder } from './strings.js';
import type { BtfType } from './types.js';
import { kindNumber } from './types.js';

export interface EncodeOptions {
  /** Byte order of the output; default the Btf's own. */
  littleEndian?: boolean;
}

/** Bytes one type takes on the wire. */
function wireSize(t: BtfType): number {
  switch (t.kind) {
    case 'int':
    case 'var':
    case 'decl_tag':
      return 16;
    case 'array':
      return 24;
    case 'struct':
    case 'union':
      return 12 + 12 * t.members.length;
    case 'enum':
      return 12 + 8 * t.values.length;
    case 'enum64':
      return 12 + 12 * t.values.length;
    case 'func_proto':
      return 12 + 8 * t.params.length;
    case 'datasec':
      return 12 + 12 * t.vars.length;
    default:
      return 12;
  }
}

function vlenOf(t: BtfType): number {
  switch (t.kind) {
    case 'struct':
    case 'union':
      return t.members.length;
    case 'enum':
    case 'enum64':
      return t.values.length;
    case 'func_proto':
      return t.params.length;
    case 'datasec':
      return t.vars.length;
    case 'func':
      return t.linkage;
    default:
      return 0;
  }
}

export function encodeBtf(btf: Btf, options: EncodeOptions = {}): Uint8Array {
  const le = options.littleEndian ?? btf.littleEndian;
  const own = btf.ownTypes();
  const strs = new StringTableBuilder(btf.base ? btf.base.strings.end : 0);
  let typeLen = 0;
  for (const t of own) typeLen += wireSize(t);
  const types = new Uint8Array(typeLen);
  const v = new DataView(types.buffer);
  let p = 0;
  const w = (x: number) => {
    v.setUint32(p, x >>> 0, le);
    p += 4;
  };
  for (const t of own) {
    if (t.kind === 'void') throw new BtfError('void cannot be encoded as a type', { typeId: t.id });
    const vlen = vlenOf(t);
    if (vlen > 0xffff) throw new BtfError(`${t.kind.toUpperCase()} has ${vlen} entries, more than 65535`, { typeId: t.id });
    let kflag = false;
    switch (t.kind) {
      case 'struct':
      case 'union':
        kflag = t.kindFlag || t.members.some((m) => m.bitfieldSize !== 0);
        break;
      case 'enum':
      case 'enum64':
        kflag = t.signed;
        break;
      case 'fwd':
        kflag = t.fwdKind === 'union';
        break;
      default:
        break;
    }
    w(strs.add(t.name));
    w(((kflag ? 1 : 0) << 31) | (kindNumber(t.kind) << 24) | vlen);
    switch (t.kind) {
      case 'int':
        w(t.size);
        w(((t.encoding & 0x0f) << 24) | ((t.bitOffset & 0xff) << 16) | (t.bits & 0xff));
        break;
      case 'ptr':
      case 'typedef':
      case 'volatile':
      case 'const':
      case 'restrict':
      case 'type_tag':
      case 'func':
        w(t.type);
        break;
      case 'array':
        w(0);
        w(t.type);
        w(t.indexType);
        w(t.nelems);
        break;
      case 'struct':
      case 'union':
        w(t.size);
        for (const m of t.members) {
          w(strs.add(m.name));
          w(m.type);
          if (kflag) {
            if (m.bitOffset > 0xffffff || m.bitfieldSize > 0xff) {
              throw new BtfError(`member '${m.name}' bit offset/size does not fit the kind_flag encoding`, {
                typeId: t.id,
              });
            }
            w((m.bitfieldSize << 24) | m.bitOffset);
          } else {
            w(m.bitOffset);
          }
        }
        break;
      case 'enum':
        w(t.size);
        for (const e of t.values) {
          w(strs.add(e.name));
          w(e.value);
        }
        break;
      case 'enum64':
        w(t.size);
        for (const e of t.values) {
          const u = BigInt.asUintN(64, e.value);
          w(strs.add(e.name));
          w(Number(u & 0xffffffffn));
          w(Number(u >> 32n));
        }
        break;
      case 'fwd':
        w(0);
        break;
      case 'func_proto':
        w(t.type);
        for (const q of t.params) {
          w(strs.add(q.name));
          w(q.type);
        }
        break;
      case 'var':
        w(t.type);
        w(t.linkage);
        break;
      case 'datasec':
        w(t.size);
        for (const s of t.vars) {
          w(s.type);
          w(s.offset);
          w(s.size);
        }
        break;
      case 'float':
        w(t.size);
        break;
      case 'decl_tag':
        w(t.type);
        w(t.componentIdx);
        break;
    }
  }
  const strBytes = strs.bytes();
  const out = new Uint8Array(BTF_HEADER_LEN + typeLen + strBytes.length);
  const h = new DataView(out.buffer);
  h.setUint16(0, BTF_MAGIC, le);
  out[2] = 1;
  out[3] = 0;
  h.setUint32(4, BTF_HEADER_LEN, le);
  h.setUint32(8, 0, le);
  h.setUint32(12, typeLen, le);
  h.setUint32(16, typeLen, le);
  h.setUint32(20, strBytes.length, le);
  out.set(types, BTF_HEADER_LEN);
  out.set(strBytes, BTF_HEADER_LEN + typeLen);
  return out;
}
