/**
 * Parsing raw BTF (the .BTF section of an object, /sys/kernel/btf/vmlinux, a
 * module's split BTF) into a Btf. Both byte orders; every kind up to ENUM64.
 * Every read is bounds-checked and every reference validated, so corrupt
 * input gives a BtfError naming the type id and byte offset, never a crash.
 *
 * Wire layout (include/uapi/linux/btf.h):
 *   header: u16 magic 0xeB9F, u8 version 1, u8 flags, u32 hdr_len,
 *           u32 type_off, u32 type_len, u32 str_off, u32 str_len
 *           (offsets are from the end of the header)
 *   type:   u32 name_off, u32 info (vlen 0-15, kind 24-28, kind_flag 31),
 *           u32 size|type, then kind-specific data.
 */
import { Btf } from './btf.js';
import { BtfError } from './errors.js';
import { StringTable } from './strings.js';
import type { BtfType, EnumValue, Enum64Value, Member, Param, VarSecInfo } from './types.js';
import { KIND_BY_NUMBER } from './types.js';

export const BTF_MAGIC = 0xeb9f;
export const BTF_HEADER_LEN = 24;

export interface ParseOptions {
  /** For split BTF (a kernel module's): the BTF it extends. */
  base?: Btf;
  /** Name of where the bytes came from, for error messages (default '.BTF'). */
  section?: string;
}

export interface BtfHeader {
  littleEndian: boolean;
  version: number;
  flags: number;
  hdrLen: number;
  typeOff: number;
  typeLen: number;
  strOff: number;
  strLen: number;
}

/** Detects the byte order from the magic; undefined when it is not BTF. */
export function btfByteOrder(bytes: Uint8Array): boolean | undefined {
  if (bytes.length < 2) return undefined;
  if (bytes[0] === 0x9f && bytes[1] === 0xeb) return true;
  if (bytes[0] === 0xeb && bytes[1] === 0x9f) return false;
  return undefined;
}

/** Reads and checks the header. */
export function parseBtfHeader(bytes: Uint8Array, section = '.BTF'): BtfHeader {
  if (bytes.length < BTF_HEADER_LEN) {
    throw new BtfError(`truncated: ${bytes.length} bytes, the header alone needs ${BTF_HEADER_LEN}`, {
      section,
      offset: 0,
    });
  }
  const le = btfByteOrder(bytes);
  if (le === undefined) {
    const got = ((bytes[0]! << 8) | bytes[1]!).toString(16).padStart(4, '0');
    throw new BtfError(`bad magic 0x${got} (expected 0xeb9f in either byte order)`, { section, offset: 0 });
  }
  const v = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const h: BtfHeader = {
    littleEndian: le,
    version: bytes[2]!,
    flags: bytes[3]!,
    hdrLen: v.getUint32(4, le),
    typeOff: v.getUint32(8, le),
    typeLen: v.getUint32(12, le),
    strOff: v.getUint32(16, le),
    strLen: v.getUint32(20, le),
  };
  if (h.version !== 1) throw new BtfError(`unsupported version ${h.version} (expected 1)`, { section, offset: 2 });
  if (h.flags !== 0) throw new BtfError(`unsupported flags 0x${h.flags.toString(16)}`, { section, offset: 3 });
  if (h.hdrLen < BTF_HEADER_LEN || h.hdrLen > bytes.length) {
    throw new BtfError(`bad header length ${h.hdrLen} (blob is ${bytes.length} bytes)`, { section, offset: 4 });
  }
  // A longer header (from a newer kernel) is fine only if the extra bytes are zero.
  for (let i = BTF_HEADER_LEN; i < h.hdrLen; i++) {
    if (bytes[i] !== 0) throw new BtfError(`unknown non-zero header field at byte ${i}`, { section, offset: i });
  }
  const body = bytes.length - h.hdrLen;
  if (h.typeOff % 4 !== 0) throw new BtfError(`type section offset ${h.typeOff} is not 4-byte aligned`, { section, offset: 8 });
  if (h.typeOff + h.typeLen > body) {
    throw new BtfError(`type section (${h.typeOff}+${h.typeLen}) runs past the end (${body} bytes after the header)`, {
      section,
      offset: 12,
    });
  }
  if (h.strOff + h.strLen > body) {
    throw new BtfError(`string section (${h.strOff}+${h.strLen}) runs past the end (${body} bytes after the header)`, {
      section,
      offset: 20,
    });
  }
  if (h.typeOff < h.strOff ? h.typeOff + h.typeLen > h.strOff : h.strOff + h.strLen > h.typeOff) {
    throw new BtfError('type and string sections overlap', { section, offset: 8 });
  }
  return h;
}

/** Parse raw BTF bytes. */
export function parseBtf(bytes: Uint8Array, options: ParseOptions = {}): Btf {
  const section = options.section ?? '.BTF';
  const base = options.base;
  const h = parseBtfHeader(bytes, section);
  const le = h.littleEndian;
  if (base && base.littleEndian !== le) {
    throw new BtfError('split BTF and its base have different byte orders', { section, offset: 0 });
  }

  const strStart = h.hdrLen + h.strOff;
  const strBytes = bytes.subarray(strStart, strStart + h.strLen);
  if (!base) {
    if (h.strLen === 0 || strBytes[0] !== 0) {
      throw new BtfError('string section must start with an empty string', { section, offset: strStart });
    }
  }
  if (h.strLen > 0 && strBytes[h.strLen - 1] !== 0) {
    throw new BtfError('string section is not NUL-terminated', { section, offset: strStart + h.strLen - 1 });
  }
  const strings = new StringTable(strBytes, base?.strings);

  const v = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const firstId = base ? base.length : 1;
  const types: BtfType[] = [];
  let p = h.hdrLen + h.typeOff;
  const end = p + h.typeLen;
  const u32 = (o: number) => v.getUint32(o, le);
  const s32 = (o: number) => v.getInt32(o, le);

  const name = (off: number, id: number, at: number): string => {
    const s = strings.get(off);
    if (s === undefined) {
      throw new BtfError(`name offset ${off} is outside the string section (${strings.end} bytes)`, {
        section,
        typeId: id,
        offset: at,
      });
    }
    return s;
  };

  while (p < end) {
    const id = firstId + types.length;
    const at = p;
    if (p + 12 > end) throw new BtfError('truncated type header', { section, typeId: id, offset: at });
    const nameOff = u32(p);
    const info = u32(p + 4);
    const sizeOrType = u32(p + 8);
    p += 12;
    const vlen = info & 0xffff;
    const kindNo = (info >>> 24) & 0x1f;
    const kflag = info >>> 31 === 1;
    const kind = KIND_BY_NUMBER[kindNo];
    if (kind === undefined || kindNo === 0) {
      throw new BtfError(`unknown kind ${kindNo}`, { section, typeId: id, offset: at });
    }
    const need = (n: number) => {
      if (p + n > end) {
        throw new BtfError(`truncated ${kind.toUpperCase()} data (needs ${n} more bytes)`, {
          section,
          typeId: id,
          offset: p,
        });
      }
    };
    const nm = name(nameOff, id, at);
    let t: BtfType;
    switch (kind) {
      case 'int': {
        need(4);
        const x = u32(p);
        p += 4;
        t = { id, kind, name: nm, size: sizeOrType, encoding: (x >>> 24) & 0x0f, bitOffset: (x >>> 16) & 0xff, bits: x & 0xff };
        break;
      }
      case 'ptr':
      case 'typedef':
      case 'volatile':
      case 'const':
      case 'restrict':
      case 'type_tag':
        t = { id, kind, name: nm, type: sizeOrType };
        break;
      case 'array':
        need(12);
        t = { id, kind, name: nm, type: u32(p), indexType: u32(p + 4), nelems: u32(p + 8) };
        p += 12;
        break;
      case 'struct':
      case 'union': {
        need(12 * vlen);
        const members: Member[] = new Array(vlen);
        for (let i = 0; i < vlen; i++, p += 12) {
          const off = u32(p + 8);
          members[i] = {
            name: name(u32(p), id, p),
            type: u32(p + 4),
            bitOffset: kflag ? off & 0xffffff : off,
            bitfieldSize: kflag ? off >>> 24 : 0,
          };
        }
        t = { id, kind, name: nm, size: sizeOrType, kindFlag: kflag, members };
        break;
      }
      case 'enum': {
        need(8 * vlen);
        const values: EnumValue[] = new Array(vlen);
        for (let i = 0; i < vlen; i++, p += 8) {
          values[i] = { name: name(u32(p), id, p), value: kflag ? s32(p + 4) : u32(p + 4) };
        }
        t = { id, kind, name: nm, size: sizeOrType, signed: kflag, values };
        break;
      }
      case 'enum64': {
        need(12 * vlen);
        const values: Enum64Value[] = new Array(vlen);
        for (let i = 0; i < vlen; i++, p += 12) {
          const lo = BigInt(u32(p + 4));
          const hi = BigInt(u32(p + 8));
          let value = (hi << 32n) | lo;
          if (kflag) value = BigInt.asIntN(64, value);
          values[i] = { name: name(u32(p), id, p), value };
        }
        t = { id, kind, name: nm, size: sizeOrType, signed: kflag, values };
        break;
      }
      case 'fwd':
        t = { id, kind, name: nm, fwdKind: kflag ? 'union' : 'struct' };
        break;
      case 'func':
        t = { id, kind, name: nm, type: sizeOrType, linkage: vlen };
        break;
      case 'func_proto': {
        need(8 * vlen);
        const params: Param[] = new Array(vlen);
        for (let i = 0; i < vlen; i++, p += 8) {
          params[i] = { name: name(u32(p), id, p), type: u32(p + 4) };
        }
        t = { id, kind, name: nm, type: sizeOrType, params };
        break;
      }
      case 'var':
        need(4);
        t = { id, kind, name: nm, type: sizeOrType, linkage: u32(p) };
        p += 4;
        break;
      case 'datasec': {
        need(12 * vlen);
        const vars: VarSecInfo[] = new Array(vlen);
        for (let i = 0; i < vlen; i++, p += 12) {
          vars[i] = { type: u32(p), offset: u32(p + 4), size: u32(p + 8) };
        }
        t = { id, kind, name: nm, size: sizeOrType, vars };
        break;
      }
      case 'float':
        t = { id, kind, name: nm, size: sizeOrType };
        break;
      case 'decl_tag':
        need(4);
        t = { id, kind, name: nm, type: sizeOrType, componentIdx: s32(p) };
        p += 4;
        break;
      default:
        throw new BtfError(`unknown kind ${kindNo}`, { section, typeId: id, offset: at });
    }
    types.push(t);
  }

  const btf = new Btf(types, strings, { littleEndian: le, base });
  btf.validate(section);
  return btf;
}
