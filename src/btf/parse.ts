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
import { btfTypeExtraBytes } from '../ebpf/types.js';
import { Btf } from './btf.js';
import { BtfError } from './errors.js';
import { StringTable } from './strings.js';
import type { BtfType, EnumValue, Enum64Value, Kind, Member, Param, VarSecInfo } from './types.js';
import { KIND_BY_NUMBER, referencedIds } from './types.js';

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

/**
 * Parse raw BTF bytes. One pass checks every type (bounds, kinds, name
 * offsets, references, per-kind rules) and records where it starts; type
 * objects are then decoded on first use (from a private copy of the bytes),
 * so opening vmlinux (~130k types) costs little more than that scan, however
 * many types are used.
 */
export function parseBtf(input: Uint8Array, options: ParseOptions = {}): Btf {
  const section = options.section ?? '.BTF';
  const base = options.base;
  const h = parseBtfHeader(input, section);
  const le = h.littleEndian;
  if (base && base.littleEndian !== le) {
    throw new BtfError('split BTF and its base have different byte orders', { section, offset: 0 });
  }

  const strStart = h.hdrLen + h.strOff;
  // Names are read lazily from these bytes: keep a private copy, so the
  // caller may reuse or change its buffer (a Buffer may even share a pool).
  const strBytes = input.slice(strStart, strStart + h.strLen);
  if (!base) {
    if (h.strLen === 0 || strBytes[0] !== 0) {
      throw new BtfError('string section must start with an empty string', { section, offset: strStart });
    }
  }
  if (h.strLen > 0 && strBytes[h.strLen - 1] !== 0) {
    throw new BtfError('string section is not NUL-terminated', { section, offset: strStart + h.strLen - 1 });
  }
  const strings = new StringTable(new Uint8Array(strBytes), base?.strings);
  const strEnd = strings.end;

  const start = h.hdrLen + h.typeOff;
  if (h.typeLen % 4 !== 0) {
    throw new BtfError(`type section length ${h.typeLen} is not a multiple of 4`, { section, offset: 12 });
  }
  // Every field of the type section is a 32-bit word: read them once, in
  // the host's order, into a private array.
  const w = typeWords(input, start, h.typeLen / 4, le);
  const nw = w.length;
  const firstId = base ? base.length : 1;
  const offsets = new Uint32Array(Math.floor(nw / 3) + 1);
  let n = 0;
  let maxRef = 0;
  let p = 0;
  const fail = (msg: string, id: number, word: number): never => {
    throw new BtfError(msg, { section, typeId: id, offset: start + word * 4 });
  };

  while (p < nw) {
    const id = firstId + n;
    const at = p;
    if (p + 3 > nw) fail('truncated type header', id, at);
    const nameOff = w[p]!;
    const info = w[p + 1]!;
    const sizeOrType = w[p + 2]!;
    p += 3;
    const vlen = info & 0xffff;
    const kindNo = (info >>> 24) & 0x1f;
    if (kindNo === 0 || kindNo > 19) fail(`unknown kind ${kindNo}`, id, at);
    const extra = btfTypeExtraBytes(kindNo, vlen) >> 2;
    if (p + extra > nw) {
      fail(`truncated ${KIND_BY_NUMBER[kindNo]!.toUpperCase()} data (needs ${extra * 4} bytes, ${(nw - p) * 4} remain)`, id, p);
    }
    if (nameOff >= strEnd) fail(`name offset ${nameOff} is outside the string section (${strEnd} bytes)`, id, at);
    switch (kindNo) {
      case 1: {
        // INT
        const x = w[p]!;
        const bits = x & 0xff;
        const off = (x >>> 16) & 0xff;
        if (sizeOrType !== 1 && sizeOrType !== 2 && sizeOrType !== 4 && sizeOrType !== 8 && sizeOrType !== 16) {
          fail(`INT size ${sizeOrType} is invalid`, id, at);
        }
        if (bits > 128 || off + bits > sizeOrType * 8) fail(`INT bits ${off}+${bits} do not fit in ${sizeOrType} bytes`, id, at);
        break;
      }
      case 2: // PTR
      case 8: // TYPEDEF
      case 9: // VOLATILE
      case 10: // CONST
      case 11: // RESTRICT
      case 18: // TYPE_TAG
        if (sizeOrType === id) fail(`${KIND_BY_NUMBER[kindNo]!.toUpperCase()} refers to itself`, id, at);
        if (sizeOrType > maxRef) maxRef = sizeOrType;
        break;
      case 3: {
        // ARRAY
        const elem = w[p]!;
        const idx = w[p + 1]!;
        if (elem === id) fail('ARRAY of itself', id, at);
        if (elem > maxRef) maxRef = elem;
        if (idx > maxRef) maxRef = idx;
        break;
      }
      case 4: // STRUCT
      case 5: // UNION
        for (let i = 0, q = p; i < vlen; i++, q += 3) {
          if (w[q]! >= strEnd) fail(`member ${i} name offset is outside the string section`, id, q);
          const r = w[q + 1]!;
          if (r > maxRef) maxRef = r;
        }
        break;
      case 6: // ENUM
      case 19: // ENUM64
        if (sizeOrType === 0 || sizeOrType > 8) fail(`${KIND_BY_NUMBER[kindNo]!.toUpperCase()} size ${sizeOrType} is invalid`, id, at);
        for (let i = 0, q = p, step = kindNo === 6 ? 2 : 3; i < vlen; i++, q += step) {
          if (w[q]! >= strEnd) fail(`enumerator ${i} name offset is outside the string section`, id, q);
        }
        break;
      case 12: // FUNC
        if (vlen > 2) fail(`FUNC linkage ${vlen} is invalid`, id, at);
        if (sizeOrType > maxRef) maxRef = sizeOrType;
        break;
      case 13: // FUNC_PROTO
        if (sizeOrType > maxRef) maxRef = sizeOrType;
        for (let i = 0, q = p; i < vlen; i++, q += 2) {
          if (w[q]! >= strEnd) fail(`parameter ${i} name offset is outside the string section`, id, q);
          const r = w[q + 1]!;
          if (r > maxRef) maxRef = r;
        }
        break;
      case 14: // VAR
        if (w[p]! > 2) fail(`VAR linkage ${w[p]} is invalid`, id, at);
        if (sizeOrType > maxRef) maxRef = sizeOrType;
        break;
      case 15: // DATASEC
        for (let i = 0, q = p; i < vlen; i++, q += 3) {
          const r = w[q]!;
          if (r > maxRef) maxRef = r;
        }
        break;
      case 17: // DECL_TAG
        if ((w[p]! | 0) < -1) fail(`DECL_TAG component_idx ${w[p]! | 0} is invalid`, id, at);
        if (sizeOrType > maxRef) maxRef = sizeOrType;
        break;
      default:
        break;
    }
    offsets[n++] = at;
    p += extra;
  }

  const src = new BtfSource(w, offsets.subarray(0, n), strings, firstId, section, start);
  const btf = new Btf(src, strings, { littleEndian: le, base });
  const total = firstId + n;
  if (maxRef >= total) {
    // find the first offender, for a precise message
    for (let id = firstId; id < total; id++) {
      for (const r of referencedIds(btf.type(id))) {
        if (r >= total) fail(`refers to type id ${r}, beyond the last id ${total - 1}`, id, offsets[id - firstId]!);
      }
    }
  }
  // kinds that must point at particular kinds
  for (let i = 0; i < n; i++) {
    const kindNo = (w[offsets[i]! + 1]! >>> 24) & 0x1f;
    if (kindNo !== 12 && kindNo !== 15) continue;
    const t = btf.type(firstId + i);
    if (t.kind === 'func') {
      const k = btf.kindOf(t.type);
      if (k !== 'func_proto') fail(`FUNC type ${t.type} is ${k.toUpperCase()}, not FUNC_PROTO`, t.id, offsets[i]!);
    } else if (t.kind === 'datasec') {
      for (const e of t.vars) {
        const k = btf.kindOf(e.type);
        if (k !== 'var' && k !== 'func') fail(`DATASEC entry refers to ${k.toUpperCase()} [${e.type}], not a VAR`, t.id, offsets[i]!);
      }
    }
  }
  return btf;
}

const HOST_LE = new Uint8Array(new Uint32Array([1]).buffer)[0] === 1;

/** The type section as 32-bit words in host order (a private copy). */
function typeWords(bytes: Uint8Array, start: number, count: number, le: boolean): Uint32Array {
  if (le === HOST_LE && (bytes.byteOffset + start) % 4 === 0) {
    return new Uint32Array(bytes.buffer, bytes.byteOffset + start, count).slice();
  }
  const out = new Uint32Array(count);
  const v = new DataView(bytes.buffer, bytes.byteOffset + start, count * 4);
  for (let i = 0; i < count; i++) out[i] = v.getUint32(i * 4, le);
  return out;
}

/** Decodes the types of one parsed blob on demand (the scan has validated them). */
export class BtfSource {
  constructor(
    /** The type section as 32-bit words, host order (private). */
    readonly words: Uint32Array,
    /** Word index of each own type, by position. */
    readonly offsets: Uint32Array,
    readonly strings: StringTable,
    readonly firstId: number,
    readonly section: string,
    /** Byte offset of the type section in the parsed blob (for messages). */
    readonly typeStart: number,
  ) {}

  get count(): number {
    return this.offsets.length;
  }

  /** Kind of the type at position i without decoding it. */
  kindOf(i: number): Kind {
    return KIND_BY_NUMBER[(this.words[this.offsets[i]! + 1]! >>> 24) & 0x1f]!;
  }

  /** Name of the type at position i without decoding it. */
  nameOf(i: number): string {
    return this.strings.get(this.words[this.offsets[i]!]!) ?? '';
  }

  decode(i: number): BtfType {
    const w = this.words;
    const strings = this.strings;
    const id = this.firstId + i;
    let p = this.offsets[i]!;
    const nm = strings.get(w[p]!) ?? '';
    const info = w[p + 1]!;
    const sizeOrType = w[p + 2]!;
    p += 3;
    const vlen = info & 0xffff;
    const kflag = info >>> 31 === 1;
    const kind = KIND_BY_NUMBER[(info >>> 24) & 0x1f]!;
    switch (kind) {
      case 'int': {
        const x = w[p]!;
        return { id, kind, name: nm, size: sizeOrType, encoding: (x >>> 24) & 0x0f, bitOffset: (x >>> 16) & 0xff, bits: x & 0xff };
      }
      case 'ptr':
      case 'typedef':
      case 'volatile':
      case 'const':
      case 'restrict':
      case 'type_tag':
        return { id, kind, name: nm, type: sizeOrType };
      case 'array':
        return { id, kind, name: nm, type: w[p]!, indexType: w[p + 1]!, nelems: w[p + 2]! };
      case 'struct':
      case 'union': {
        const members: Member[] = new Array(vlen);
        for (let k = 0; k < vlen; k++, p += 3) {
          const off = w[p + 2]!;
          members[k] = {
            name: strings.get(w[p]!) ?? '',
            type: w[p + 1]!,
            bitOffset: kflag ? off & 0xffffff : off,
            bitfieldSize: kflag ? off >>> 24 : 0,
          };
        }
        return { id, kind, name: nm, size: sizeOrType, kindFlag: kflag, members };
      }
      case 'enum': {
        const values: EnumValue[] = new Array(vlen);
        for (let k = 0; k < vlen; k++, p += 2) {
          values[k] = { name: strings.get(w[p]!) ?? '', value: kflag ? w[p + 1]! | 0 : w[p + 1]! };
        }
        return { id, kind, name: nm, size: sizeOrType, signed: kflag, values };
      }
      case 'enum64': {
        const values: Enum64Value[] = new Array(vlen);
        for (let k = 0; k < vlen; k++, p += 3) {
          let value = (BigInt(w[p + 2]!) << 32n) | BigInt(w[p + 1]!);
          if (kflag) value = BigInt.asIntN(64, value);
          values[k] = { name: strings.get(w[p]!) ?? '', value };
        }
        return { id, kind, name: nm, size: sizeOrType, signed: kflag, values };
      }
      case 'fwd':
        return { id, kind, name: nm, fwdKind: kflag ? 'union' : 'struct' };
      case 'func':
        return { id, kind, name: nm, type: sizeOrType, linkage: vlen };
      case 'func_proto': {
        const params: Param[] = new Array(vlen);
        for (let k = 0; k < vlen; k++, p += 2) params[k] = { name: strings.get(w[p]!) ?? '', type: w[p + 1]! };
        return { id, kind, name: nm, type: sizeOrType, params };
      }
      case 'var':
        return { id, kind, name: nm, type: sizeOrType, linkage: w[p]! };
      case 'datasec': {
        const vars: VarSecInfo[] = new Array(vlen);
        for (let k = 0; k < vlen; k++, p += 3) vars[k] = { type: w[p]!, offset: w[p + 1]!, size: w[p + 2]! };
        return { id, kind, name: nm, size: sizeOrType, vars };
      }
      case 'float':
        return { id, kind, name: nm, size: sizeOrType };
      case 'decl_tag':
        return { id, kind, name: nm, type: sizeOrType, componentIdx: w[p]! | 0 };
      default:
        throw new BtfError(`unknown kind`, { section: this.section, typeId: id, offset: this.typeStart + this.offsets[i]! * 4 });
    }
  }
}
