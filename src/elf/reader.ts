/**
 * A generic ELF64 reader (both byte orders): the file header, section
 * headers, symbol tables (.symtab and .dynsym), relocations (REL and RELA),
 * notes (.note.*, e.g. .note.stapsdt for USDT) and program headers.
 *
 * Nothing here knows about BPF: the kernel engine uses it to resolve uprobe
 * symbols and USDT notes in executables and shared libraries, and
 * src/elf/object.ts builds BPF collections on top of it. Every read is
 * bounds-checked; a malformed file gives an ElfError that names the section
 * and byte offset, never an exception from a DataView or an endless loop.
 *
 * Layouts from the System V gABI (elf.h): Elf64_Ehdr, Elf64_Shdr, Elf64_Sym,
 * Elf64_Rel/Rela, Elf64_Phdr, Elf64_Nhdr.
 */
import { ElfError } from './errors.js';

export const SHT = {
  NULL: 0,
  PROGBITS: 1,
  SYMTAB: 2,
  STRTAB: 3,
  RELA: 4,
  HASH: 5,
  DYNAMIC: 6,
  NOTE: 7,
  NOBITS: 8,
  REL: 9,
  DYNSYM: 11,
  SYMTAB_SHNDX: 18,
  LLVM_ADDRSIG: 0x6fff4c03,
} as const;

export const SHF = { WRITE: 0x1, ALLOC: 0x2, EXECINSTR: 0x4, MERGE: 0x10, STRINGS: 0x20 } as const;

export const STB = { LOCAL: 0, GLOBAL: 1, WEAK: 2 } as const;
export const STT = { NOTYPE: 0, OBJECT: 1, FUNC: 2, SECTION: 3, FILE: 4 } as const;
export const STV = { DEFAULT: 0, INTERNAL: 1, HIDDEN: 2, PROTECTED: 3 } as const;
export const SHN = { UNDEF: 0, LORESERVE: 0xff00, ABS: 0xfff1, COMMON: 0xfff2, XINDEX: 0xffff } as const;
export const PT = { NULL: 0, LOAD: 1, DYNAMIC: 2, INTERP: 3, NOTE: 4, PHDR: 6 } as const;
export const ET = { NONE: 0, REL: 1, EXEC: 2, DYN: 3, CORE: 4 } as const;
export const EM = { X86_64: 62, AARCH64: 183, BPF: 247 } as const;

export interface ElfSection {
  /** Index in the section header table. */
  index: number;
  name: string;
  type: number;
  /** SHF_* bits (the low 32 bits of sh_flags). */
  flags: number;
  addr: bigint;
  /** File offset of the contents. */
  offset: number;
  size: number;
  link: number;
  info: number;
  addralign: number;
  entsize: number;
}

export interface ElfSymbol {
  /** Index in its symbol table. */
  index: number;
  name: string;
  value: bigint;
  size: bigint;
  /** STB_* */
  bind: number;
  /** STT_* */
  type: number;
  /** STV_* */
  visibility: number;
  /** Section index (SHN_UNDEF, SHN_ABS, ... or a real index, extended indices resolved). */
  shndx: number;
}

export interface ElfRelocation {
  /** r_offset: inside the target section for relocatable files, a virtual address otherwise. */
  offset: bigint;
  /** Index into the relocation section's symbol table. */
  symbol: number;
  /** Machine-specific relocation type (R_BPF_*, R_X86_64_*...). */
  type: number;
  /** RELA only. */
  addend?: bigint;
}

export interface ElfNote {
  name: string;
  type: number;
  desc: Uint8Array;
  /** Offset of the note header inside its section (or segment). */
  offset: number;
}

export interface ElfProgramHeader {
  type: number;
  flags: number;
  offset: number;
  vaddr: bigint;
  paddr: bigint;
  filesz: number;
  memsz: bigint;
  align: bigint;
}

const EHDR_SIZE = 64;
const SHDR_SIZE = 64;
const SYM_SIZE = 24;
const PHDR_SIZE = 56;

export class ElfFile {
  readonly bytes: Uint8Array;
  readonly littleEndian: boolean;
  /** ET_* */
  readonly type: number;
  /** EM_* */
  readonly machine: number;
  readonly entry: bigint;
  readonly flags: number;
  readonly sections: readonly ElfSection[];
  readonly programHeaders: readonly ElfProgramHeader[];
  private readonly view: DataView;
  private readonly byName = new Map<string, ElfSection>();
  private readonly symCache = new Map<number, ElfSymbol[]>();

  private constructor(bytes: Uint8Array) {
    this.bytes = bytes;
    this.view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    if (bytes.length < EHDR_SIZE) throw new ElfError(`file is ${bytes.length} bytes, too short for an ELF header`, { offset: 0 });
    if (bytes[0] !== 0x7f || bytes[1] !== 0x45 || bytes[2] !== 0x4c || bytes[3] !== 0x46) {
      throw new ElfError('not an ELF file (bad magic)', { offset: 0 });
    }
    if (bytes[4] !== 2) throw new ElfError(`ELF class ${bytes[4]} is not ELFCLASS64`, { offset: 4 });
    if (bytes[5] !== 1 && bytes[5] !== 2) throw new ElfError(`unknown ELF data encoding ${bytes[5]}`, { offset: 5 });
    this.littleEndian = bytes[5] === 1;
    this.type = this.u16(16);
    this.machine = this.u16(18);
    this.entry = this.u64(24);
    const phoff = this.off(32, 'e_phoff');
    const shoff = this.off(40, 'e_shoff');
    this.flags = this.u32(48);
    const phentsize = this.u16(54);
    let phnum = this.u16(56);
    const shentsize = this.u16(58);
    let shnum = this.u16(60);
    let shstrndx = this.u16(62);

    // Section headers, with the extended numbering of section 0.
    const sections: ElfSection[] = [];
    if (shoff !== 0) {
      if (shentsize !== SHDR_SIZE) throw new ElfError(`e_shentsize is ${shentsize}, expected ${SHDR_SIZE}`, { offset: 58 });
      this.need(shoff, SHDR_SIZE, 'section header 0');
      if (shnum === 0) shnum = this.checkedNumber(this.u64(shoff + 32), shoff + 32, 'section count');
      if (shstrndx === SHN.XINDEX) shstrndx = this.u32(shoff + 40);
      if (phnum === 0xffff) phnum = this.u32(shoff + 44);
      this.need(shoff, shnum * SHDR_SIZE, `section header table (${shnum} entries)`);
      for (let i = 0; i < shnum; i++) {
        const p = shoff + i * SHDR_SIZE;
        const s: ElfSection = {
          index: i,
          name: '',
          type: this.u32(p + 4),
          flags: Number(this.u64(p + 8) & 0xffffffffn),
          addr: this.u64(p + 16),
          offset: this.off(p + 24, `section ${i} sh_offset`),
          size: this.off(p + 32, `section ${i} sh_size`),
          link: this.u32(p + 40),
          info: this.u32(p + 44),
          addralign: this.off(p + 48, `section ${i} sh_addralign`),
          entsize: this.off(p + 56, `section ${i} sh_entsize`),
        };
        if (s.type !== SHT.NOBITS && s.type !== SHT.NULL && s.offset + s.size > bytes.length) {
          throw new ElfError(
            `section ${i} contents (offset ${s.offset}, size ${s.size}) run past the end of the file (${bytes.length} bytes)`,
            { offset: p + 24 },
          );
        }
        sections.push(s);
      }
      if (shnum > 0) {
        if (shstrndx >= shnum) throw new ElfError(`e_shstrndx ${shstrndx} is out of range (${shnum} sections)`, { offset: 62 });
        const strtab = sections[shstrndx]!;
        for (const s of sections) {
          const nameOff = this.u32(shoff + s.index * SHDR_SIZE);
          s.name = this.stringAt(strtab, nameOff, `name of section ${s.index}`);
        }
      }
    }
    this.sections = sections;
    for (const s of sections) if (!this.byName.has(s.name)) this.byName.set(s.name, s);

    const phdrs: ElfProgramHeader[] = [];
    if (phoff !== 0 && phnum > 0) {
      if (phentsize !== PHDR_SIZE) throw new ElfError(`e_phentsize is ${phentsize}, expected ${PHDR_SIZE}`, { offset: 54 });
      this.need(phoff, phnum * PHDR_SIZE, `program header table (${phnum} entries)`);
      for (let i = 0; i < phnum; i++) {
        const p = phoff + i * PHDR_SIZE;
        phdrs.push({
          type: this.u32(p),
          flags: this.u32(p + 4),
          offset: this.off(p + 8, `program header ${i} p_offset`),
          vaddr: this.u64(p + 16),
          paddr: this.u64(p + 24),
          filesz: this.off(p + 32, `program header ${i} p_filesz`),
          memsz: this.u64(p + 40),
          align: this.u64(p + 48),
        });
      }
    }
    this.programHeaders = phdrs;
  }

  /** Parse an ELF64 file held in memory. */
  static parse(bytes: Uint8Array): ElfFile {
    return new ElfFile(bytes);
  }

  /** The first section with this name. */
  section(name: string): ElfSection | undefined {
    return this.byName.get(name);
  }

  /** A section by index, with an error naming `what` when the index is bad. */
  sectionAt(index: number, what: string): ElfSection {
    const s = this.sections[index];
    if (s === undefined) throw new ElfError(`${what} refers to section index ${index}, but there are ${this.sections.length}`);
    return s;
  }

  /** The contents of a section (empty for SHT_NOBITS), as a view into the file. */
  data(s: ElfSection): Uint8Array {
    if (s.type === SHT.NOBITS || s.type === SHT.NULL) return new Uint8Array(0);
    return this.bytes.subarray(s.offset, s.offset + s.size);
  }

  /** The symbols of a SYMTAB or DYNSYM section (index 0, the null symbol, included). */
  symbols(symtab: ElfSection): ElfSymbol[] {
    const cached = this.symCache.get(symtab.index);
    if (cached) return cached;
    if (symtab.type !== SHT.SYMTAB && symtab.type !== SHT.DYNSYM) {
      throw new ElfError(`is not a symbol table (type ${symtab.type})`, { section: symtab.name });
    }
    if (symtab.entsize !== 0 && symtab.entsize !== SYM_SIZE) {
      throw new ElfError(`symbol entry size ${symtab.entsize}, expected ${SYM_SIZE}`, { section: symtab.name });
    }
    const strtab = this.sectionAt(symtab.link, `symbol table ${symtab.name}`);
    // Extended section indices, when present.
    const shndxSec = this.sections.find((s) => s.type === SHT.SYMTAB_SHNDX && s.link === symtab.index);
    const count = Math.floor(symtab.size / SYM_SIZE);
    const out: ElfSymbol[] = new Array(count);
    for (let i = 0; i < count; i++) {
      const p = symtab.offset + i * SYM_SIZE;
      const info = this.bytes[p + 4]!;
      let shndx = this.u16(p + 6);
      if (shndx === SHN.XINDEX && shndxSec && shndxSec.size >= (i + 1) * 4) shndx = this.u32(shndxSec.offset + i * 4);
      out[i] = {
        index: i,
        name: this.stringAt(strtab, this.u32(p), `name of symbol ${i} in ${symtab.name}`),
        bind: info >> 4,
        type: info & 0xf,
        visibility: this.bytes[p + 5]! & 0x3,
        shndx,
        value: this.u64(p + 8),
        size: this.u64(p + 16),
      };
    }
    this.symCache.set(symtab.index, out);
    return out;
  }

  /** The static symbol table (.symtab), or undefined when stripped. */
  symtab(): ElfSection | undefined {
    return this.sections.find((s) => s.type === SHT.SYMTAB);
  }

  /** The dynamic symbol table (.dynsym), if any. */
  dynsym(): ElfSection | undefined {
    return this.sections.find((s) => s.type === SHT.DYNSYM);
  }

  /** The entries of a REL or RELA section. */
  relocations(rel: ElfSection): ElfRelocation[] {
    const rela = rel.type === SHT.RELA;
    if (!rela && rel.type !== SHT.REL) throw new ElfError(`is not a relocation section (type ${rel.type})`, { section: rel.name });
    const size = rela ? 24 : 16;
    if (rel.entsize !== 0 && rel.entsize !== size) {
      throw new ElfError(`relocation entry size ${rel.entsize}, expected ${size}`, { section: rel.name });
    }
    if (rel.size % size !== 0) throw new ElfError(`size ${rel.size} is not a multiple of ${size}`, { section: rel.name });
    const out: ElfRelocation[] = [];
    for (let p = rel.offset; p < rel.offset + rel.size; p += size) {
      const info = this.u64(p + 8);
      const r: ElfRelocation = { offset: this.u64(p), symbol: Number(info >> 32n), type: Number(info & 0xffffffffn) };
      if (rela) r.addend = BigInt.asIntN(64, this.u64(p + 16));
      out.push(r);
    }
    return out;
  }

  /** The notes of a SHT_NOTE section. */
  notes(s: ElfSection): ElfNote[] {
    return this.parseNotes(s.offset, s.size, s.addralign === 8 ? 8 : 4, s.name);
  }

  /** The notes of a PT_NOTE segment. */
  segmentNotes(ph: ElfProgramHeader): ElfNote[] {
    this.need(ph.offset, ph.filesz, 'PT_NOTE segment');
    return this.parseNotes(ph.offset, ph.filesz, ph.align === 8n ? 8 : 4, 'PT_NOTE segment');
  }

  /** Map a virtual address to a file offset through the PT_LOAD segments (or sections, for relocatable files). */
  addressToOffset(addr: bigint): number | undefined {
    for (const ph of this.programHeaders) {
      if (ph.type !== PT.LOAD) continue;
      if (addr >= ph.vaddr && addr < ph.vaddr + BigInt(ph.filesz)) return ph.offset + Number(addr - ph.vaddr);
    }
    for (const s of this.sections) {
      if (s.addr === 0n || s.type === SHT.NOBITS || (s.flags & SHF.ALLOC) === 0) continue;
      if (addr >= s.addr && addr < s.addr + BigInt(s.size)) return s.offset + Number(addr - s.addr);
    }
    return undefined;
  }

  private parseNotes(start: number, size: number, align: number, where: string): ElfNote[] {
    const out: ElfNote[] = [];
    const end = start + size;
    const pad = (n: number) => (n + align - 1) & ~(align - 1);
    let p = start;
    while (p + 12 <= end) {
      const namesz = this.u32(p);
      const descsz = this.u32(p + 4);
      const type = this.u32(p + 8);
      const nameStart = p + 12;
      // Name and descriptor are each padded to the note alignment, counted from the start of the notes.
      const descStart = start + pad(nameStart - start + namesz);
      const next = start + pad(descStart - start + descsz);
      if (descStart + descsz > end || next < p) {
        throw new ElfError(`note (name ${namesz} bytes, desc ${descsz} bytes) runs past the end`, { section: where, offset: p - start });
      }
      let name = '';
      for (let i = 0; i < namesz; i++) {
        const c = this.bytes[nameStart + i]!;
        if (c === 0) break;
        name += String.fromCharCode(c);
      }
      out.push({ name, type, desc: this.bytes.subarray(descStart, descStart + descsz), offset: p - start });
      p = next;
    }
    return out;
  }

  /** The NUL-terminated string at `off` inside a string table. */
  stringAt(strtab: ElfSection, off: number, what: string): string {
    if (off === 0) return '';
    if (strtab.type !== SHT.STRTAB) throw new ElfError(`${what}: section ${strtab.index} is not a string table`, { section: strtab.name });
    if (off >= strtab.size) {
      throw new ElfError(`${what}: string offset ${off} is past the end of the string table (${strtab.size} bytes)`, { section: strtab.name });
    }
    const start = strtab.offset + off;
    const end = strtab.offset + strtab.size;
    let i = start;
    while (i < end && this.bytes[i] !== 0) i++;
    if (i === end) throw new ElfError(`${what}: string at offset ${off} is not NUL-terminated`, { section: strtab.name });
    return decodeName(this.bytes, start, i);
  }

  u16(p: number): number {
    this.need(p, 2, 'a 16-bit field');
    return this.view.getUint16(p, this.littleEndian);
  }
  u32(p: number): number {
    this.need(p, 4, 'a 32-bit field');
    return this.view.getUint32(p, this.littleEndian);
  }
  u64(p: number): bigint {
    this.need(p, 8, 'a 64-bit field');
    return this.view.getBigUint64(p, this.littleEndian);
  }

  private off(p: number, what: string): number {
    return this.checkedNumber(this.u64(p), p, what);
  }

  private checkedNumber(v: bigint, p: number, what: string): number {
    if (v > BigInt(Number.MAX_SAFE_INTEGER) || v > BigInt(this.bytes.length) * 64n + 0x10000n) {
      // Offsets and sizes larger than the file cannot be real (NOBITS sizes aside, which are bounded loosely).
      if (v > 0xffffffffffffn) throw new ElfError(`${what} ${v} is implausibly large`, { offset: p });
    }
    return Number(v);
  }

  private need(p: number, n: number, what: string): void {
    if (p < 0 || n < 0 || p + n > this.bytes.length) {
      throw new ElfError(`${what} (${n} bytes at offset ${p}) runs past the end of the file (${this.bytes.length} bytes)`, { offset: p });
    }
  }
}

const utf8 = new TextDecoder('utf-8');

function decodeName(bytes: Uint8Array, start: number, end: number): string {
  // Symbol and section names are bytes; almost always ASCII. Decode as UTF-8, which is what every tool prints.
  let ascii = '';
  for (let i = start; i < end; i++) {
    const c = bytes[i]!;
    if (c >= 0x80) return utf8.decode(bytes.subarray(start, end));
    ascii += String.fromCharCode(c);
  }
  return ascii;
}
