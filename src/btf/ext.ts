/**
 * BTF.ext: per-ELF-section tables of func_info, line_info and CO-RE
 * relocations, as clang emits them in an object's .BTF.ext section. Names
 * (section names, file names, source lines, access strings) are offsets into
 * the .BTF string section, so parsing needs the object's Btf.
 *
 * Wire layout (libbpf's btf_ext_header / bpf_func_info / bpf_line_info /
 * bpf_core_relo):
 *   header: u16 magic, u8 version, u8 flags, u32 hdr_len,
 *           u32 func_info_off, u32 func_info_len, u32 line_info_off, u32 line_info_len,
 *           [u32 core_relo_off, u32 core_relo_len]   (when hdr_len >= 32)
 *   each info block: u32 record_size, then per section:
 *           u32 sec_name_off, u32 num_info, num_info records of record_size bytes.
 *
 * insn offsets are kept as they are in the file: BYTE offsets from the start of
 * the ELF section (libbpf divides by 8 when it loads). `insnIndex` gives slots.
 */
import type { Btf } from './btf.js';
import { BtfError } from './errors.js';
import { BTF_MAGIC } from './parse.js';

export interface FuncInfo {
  /** Byte offset of the function's first instruction in its ELF section. */
  insnOff: number;
  /** The FUNC type id. */
  typeId: number;
}

export interface LineInfo {
  insnOff: number;
  fileNameOff: number;
  lineOff: number;
  /** Decoded file name and source line text. */
  fileName: string;
  line: string;
  lineNum: number;
  /** Column (10 bits on the wire). */
  column: number;
}

/** bpf_core_relo_kind. */
export const CoreReloKind = {
  FIELD_BYTE_OFFSET: 0,
  FIELD_BYTE_SIZE: 1,
  FIELD_EXISTS: 2,
  FIELD_SIGNED: 3,
  FIELD_LSHIFT_U64: 4,
  FIELD_RSHIFT_U64: 5,
  TYPE_ID_LOCAL: 6,
  TYPE_ID_TARGET: 7,
  TYPE_EXISTS: 8,
  TYPE_SIZE: 9,
  ENUMVAL_EXISTS: 10,
  ENUMVAL_VALUE: 11,
  TYPE_MATCHES: 12,
} as const;
export type CoreReloKind = (typeof CoreReloKind)[keyof typeof CoreReloKind];

export const CORE_RELO_KIND_NAMES: readonly string[] = [
  'byte_off',
  'byte_sz',
  'field_exists',
  'signed',
  'lshift_u64',
  'rshift_u64',
  'local_type_id',
  'target_type_id',
  'type_exists',
  'type_size',
  'enumval_exists',
  'enumval_value',
  'type_matches',
];

export interface CoreRelo {
  insnOff: number;
  /** Local (object) type id the access string starts from. */
  typeId: number;
  /** Access string, e.g. "0:1:2" (field indices) or "0" / enumerator index. */
  accessStr: string;
  kind: CoreReloKind;
}

export interface ExtSection<R> {
  /** ELF section name, e.g. 'tracepoint/syscalls/sys_enter_openat' or '.text'. */
  section: string;
  records: R[];
}

export interface BtfExt {
  littleEndian: boolean;
  funcInfo: ExtSection<FuncInfo>[];
  lineInfo: ExtSection<LineInfo>[];
  coreRelos: ExtSection<CoreRelo>[];
  /** Record sizes as found (bigger than ours when a newer compiler added fields). */
  funcInfoRecSize: number;
  lineInfoRecSize: number;
  coreReloRecSize: number;
}

/** Instruction slot index of a byte offset. */
export const insnIndex = (insnOff: number): number => insnOff / 8;

const EXT_HEADER_MIN = 24;

/** Parse .BTF.ext bytes against the object's Btf (for its strings). */
export function parseBtfExt(bytes: Uint8Array, btf: Btf, section = '.BTF.ext'): BtfExt {
  if (bytes.length < 8) {
    throw new BtfError(`truncated: ${bytes.length} bytes, the header needs at least ${EXT_HEADER_MIN}`, {
      section,
      offset: 0,
    });
  }
  let le: boolean;
  if (bytes[0] === 0x9f && bytes[1] === 0xeb) le = true;
  else if (bytes[0] === 0xeb && bytes[1] === 0x9f) le = false;
  else {
    throw new BtfError(
      `bad magic 0x${((bytes[0]! << 8) | bytes[1]!).toString(16).padStart(4, '0')} (expected 0x${BTF_MAGIC.toString(16)})`,
      { section, offset: 0 },
    );
  }
  if (le !== btf.littleEndian) throw new BtfError('byte order differs from the .BTF section', { section, offset: 0 });
  const v = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  if (bytes[2] !== 1) throw new BtfError(`unsupported version ${bytes[2]}`, { section, offset: 2 });
  if (bytes[3] !== 0) throw new BtfError(`unsupported flags 0x${bytes[3]!.toString(16)}`, { section, offset: 3 });
  const hdrLen = v.getUint32(4, le);
  if (hdrLen < EXT_HEADER_MIN || hdrLen > bytes.length) {
    throw new BtfError(`bad header length ${hdrLen} (blob is ${bytes.length} bytes)`, { section, offset: 4 });
  }
  const u32 = (o: number) => v.getUint32(o, le);

  const str = (off: number, at: number, what: string): string => {
    const s = btf.strings.get(off);
    if (s === undefined) {
      throw new BtfError(`${what} offset ${off} is outside the .BTF string section`, { section, offset: at });
    }
    return s;
  };

  function block<R>(
    name: string,
    hdrField: number,
    minRec: number,
    read: (p: number) => R,
  ): { sections: ExtSection<R>[]; recSize: number } {
    const off = u32(hdrField);
    const len = u32(hdrField + 4);
    const sub = `${section} ${name}`;
    if (len === 0) return { sections: [], recSize: 0 };
    const start = hdrLen + off;
    const end = start + len;
    if (start > bytes.length || end > bytes.length || end < start) {
      throw new BtfError(`${name} (${off}+${len}) runs past the end (${bytes.length - hdrLen} bytes after the header)`, {
        section: sub,
        offset: hdrField,
      });
    }
    if (len < 4) throw new BtfError(`${name} too short for its record size`, { section: sub, offset: start });
    const recSize = u32(start);
    if (recSize < minRec || recSize % 4 !== 0) {
      throw new BtfError(`record size ${recSize} is invalid (at least ${minRec}, a multiple of 4)`, {
        section: sub,
        offset: start,
      });
    }
    const sections: ExtSection<R>[] = [];
    let p = start + 4;
    while (p < end) {
      if (p + 8 > end) throw new BtfError('truncated section header', { section: sub, offset: p });
      const secName = str(u32(p), p, 'section name');
      const num = u32(p + 4);
      p += 8;
      if (num === 0) throw new BtfError(`section '${secName}' has zero records`, { section: sub, offset: p - 4 });
      if (num > (end - p) / recSize) {
        throw new BtfError(`section '${secName}' claims ${num} records of ${recSize} bytes, more than remain (${end - p})`, {
          section: sub,
          offset: p - 4,
        });
      }
      const records: R[] = new Array(num);
      for (let i = 0; i < num; i++, p += recSize) records[i] = read(p);
      sections.push({ section: secName, records });
    }
    return { sections, recSize };
  }

  const fi = block<FuncInfo>('func_info', 8, 8, (p) => {
    const r = { insnOff: u32(p), typeId: u32(p + 4) };
    if (r.typeId >= btf.length || btf.type(r.typeId).kind !== 'func') {
      throw new BtfError(`func_info type id ${r.typeId} is not a FUNC`, { section: `${section} func_info`, offset: p + 4 });
    }
    return r;
  });
  const li = block<LineInfo>('line_info', 16, 16, (p) => {
    const lc = u32(p + 12);
    const fileNameOff = u32(p + 4);
    const lineOff = u32(p + 8);
    return {
      insnOff: u32(p),
      fileNameOff,
      lineOff,
      fileName: str(fileNameOff, p + 4, 'file name'),
      line: str(lineOff, p + 8, 'line'),
      lineNum: lc >>> 10,
      column: lc & 0x3ff,
    };
  });
  let cr: { sections: ExtSection<CoreRelo>[]; recSize: number } = { sections: [], recSize: 0 };
  if (hdrLen >= 32) {
    cr = block<CoreRelo>('core_relo', 24, 16, (p) => {
      const kind = u32(p + 12);
      const typeId = u32(p + 4);
      const where = { section: `${section} core_relo`, offset: p };
      if (kind > 12) throw new BtfError(`unknown CO-RE relocation kind ${kind}`, where);
      if (typeId >= btf.length) throw new BtfError(`CO-RE relocation type id ${typeId} does not exist`, where);
      return { insnOff: u32(p), typeId, accessStr: str(u32(p + 8), p + 8, 'access string'), kind: kind as CoreReloKind };
    });
  }
  return {
    littleEndian: le,
    funcInfo: fi.sections,
    lineInfo: li.sections,
    coreRelos: cr.sections,
    funcInfoRecSize: fi.recSize,
    lineInfoRecSize: li.recSize,
    coreReloRecSize: cr.recSize,
  };
}
