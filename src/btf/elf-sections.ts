/**
 * Just enough ELF64 to find an object's .BTF and .BTF.ext sections (for
 * `bpfkit btf dump file.o` and tests), so this layer does not depend on
 * src/elf. Both byte orders; every read bounds-checked.
 */
import { BtfError } from './errors.js';

export interface ElfSection {
  name: string;
  type: number;
  offset: number;
  size: number;
  bytes: Uint8Array;
}

const SHT_NOBITS = 8;

/** True when the bytes start with the ELF magic. */
export function isElf(bytes: Uint8Array): boolean {
  return bytes.length >= 4 && bytes[0] === 0x7f && bytes[1] === 0x45 && bytes[2] === 0x4c && bytes[3] === 0x46;
}

/** The sections of an ELF64 file by name. */
export function elfSections(bytes: Uint8Array, file = 'ELF'): Map<string, ElfSection> {
  const fail = (msg: string, offset: number): never => {
    throw new BtfError(msg, { section: file, offset }, 'EBTF_ELF');
  };
  if (!isElf(bytes)) fail('not an ELF file (bad magic)', 0);
  if (bytes.length < 64) fail(`truncated ELF header (${bytes.length} bytes)`, 0);
  if (bytes[4] !== 2) fail(`only 64-bit ELF is supported (EI_CLASS ${bytes[4]})`, 4);
  const le = bytes[5] === 1 ? true : bytes[5] === 2 ? false : fail(`bad EI_DATA ${bytes[5]}`, 5);
  const v = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const u16 = (o: number) => v.getUint16(o, le);
  const u32 = (o: number) => v.getUint32(o, le);
  const u64 = (o: number) => {
    const x = v.getBigUint64(o, le);
    if (x > BigInt(Number.MAX_SAFE_INTEGER)) fail(`offset ${x} too large`, o);
    return Number(x);
  };
  const shoff = u64(0x28);
  const shentsize = u16(0x3a);
  let shnum = u16(0x3c);
  let shstrndx = u16(0x3e);
  if (shoff === 0) return new Map();
  if (shentsize < 64) fail(`bad section header size ${shentsize}`, 0x3a);
  if (shoff + 64 > bytes.length) fail(`section headers at ${shoff} are past the end`, 0x28);
  if (shnum === 0) shnum = u64(shoff + 0x20); // extended numbering: sh_size of section 0
  if (shstrndx === 0xffff) shstrndx = u32(shoff + 0x28); // sh_link of section 0
  if (shoff + shnum * shentsize > bytes.length) fail(`${shnum} section headers at ${shoff} run past the end`, 0x3c);
  const raw: { nameOff: number; type: number; offset: number; size: number; at: number }[] = [];
  for (let i = 0; i < shnum; i++) {
    const p = shoff + i * shentsize;
    raw.push({ nameOff: u32(p), type: u32(p + 4), offset: u64(p + 0x18), size: u64(p + 0x20), at: p });
  }
  const strtab = raw[shstrndx];
  if (!strtab) fail(`section name table index ${shstrndx} is out of range`, 0x3e);
  if (strtab!.offset + strtab!.size > bytes.length) fail('section name table runs past the end', strtab!.at);
  const names = bytes.subarray(strtab!.offset, strtab!.offset + strtab!.size);
  const dec = new TextDecoder();
  const out = new Map<string, ElfSection>();
  for (const s of raw) {
    if (s.nameOff >= names.length) fail(`section name offset ${s.nameOff} is out of range`, s.at);
    const end = names.indexOf(0, s.nameOff);
    if (end < 0) fail('unterminated section name', s.at);
    const name = dec.decode(names.subarray(s.nameOff, end));
    let data: Uint8Array = new Uint8Array(0);
    if (s.type !== SHT_NOBITS && s.size > 0) {
      if (s.offset + s.size > bytes.length) fail(`section '${name}' (${s.offset}+${s.size}) runs past the end`, s.at);
      data = bytes.subarray(s.offset, s.offset + s.size);
    }
    if (!out.has(name)) out.set(name, { name, type: s.type, offset: s.offset, size: s.size, bytes: data });
  }
  return out;
}
