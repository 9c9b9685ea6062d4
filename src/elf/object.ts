/**
 * BpfObject: a clang-compiled BPF object file read into the pieces the
 * collection builder needs: executable sections decoded into instruction
 * slots, the functions in them (from STT_FUNC symbols), each instruction's
 * relocation, the data sections, the object's BTF (its own relocations
 * applied, DATASEC sizes and global variable offsets checked against the
 * ELF symbols, as libbpf does) and BTF.ext.
 */
import { Btf } from '../btf/btf.js';
import { parseBtfExt, type BtfExt } from '../btf/ext.js';
import { parseBtf } from '../btf/parse.js';
import type { DatasecType } from '../btf/types.js';
import { LINKAGE_GLOBAL } from '../btf/types.js';
import { BpfkitError } from '../errors.js';
import { decode, type Instruction } from '../ebpf/insn.js';
import { ElfError, ElfRelocationError } from './errors.js';
import { EM, ET, ElfFile, SHF, SHN, SHT, STB, STT, type ElfSection, type ElfSymbol } from './reader.js';

/** BPF relocation types (LLVM's ELFRelocs/BPF.def). */
export const R_BPF = {
  NONE: 0,
  R_64_64: 1,
  ABS64: 2,
  ABS32: 3,
  NODYLD32: 4,
  R_64_32: 10,
} as const;

export const R_BPF_NAMES: Record<number, string> = {
  0: 'R_BPF_NONE',
  1: 'R_BPF_64_64',
  2: 'R_BPF_64_ABS64',
  3: 'R_BPF_64_ABS32',
  4: 'R_BPF_64_NODYLD32',
  10: 'R_BPF_64_32',
};

export const relocName = (type: number): string => R_BPF_NAMES[type] ?? `relocation type ${type}`;

/** A relocation against one instruction of an executable section. */
export interface InsnRelocation {
  /** Slot index inside the section. */
  insn: number;
  symbol: ElfSymbol;
  type: number;
}

export interface BpfFunction {
  name: string;
  section: CodeSection;
  /** First slot inside the section. */
  start: number;
  /** Number of slots. */
  count: number;
  global: boolean;
  /** Global but hidden or internal (STV_HIDDEN, STV_INTERNAL): not called from outside the object. */
  hidden: boolean;
}

export interface CodeSection {
  elf: ElfSection;
  name: string;
  insns: Instruction[];
  relocations: Map<number, InsnRelocation>;
  /** Functions, sorted by start. */
  functions: BpfFunction[];
}

/** Section names that are metadata, never programs or data. */
function isDebugOrMeta(name: string): boolean {
  return name.startsWith('.debug') || name === '.BTF' || name === '.BTF.ext' || name.startsWith('.llvm') || name === '.eh_frame';
}

export class BpfObject {
  readonly elf: ElfFile;
  readonly littleEndian: boolean;
  readonly symbols: ElfSymbol[];
  readonly codeSections = new Map<number, CodeSection>();
  /** Functions by name (programs and subprograms). */
  readonly functions = new Map<string, BpfFunction>();
  readonly btf: Btf | undefined;
  readonly ext: BtfExt | undefined;
  readonly license: string;
  readonly kernelVersion: number | undefined;
  readonly warnings: string[] = [];

  constructor(bytes: Uint8Array) {
    this.elf = ElfFile.parse(bytes);
    const elf = this.elf;
    this.littleEndian = elf.littleEndian;
    if (elf.machine !== EM.BPF) throw new ElfError(`e_machine is ${elf.machine}, not EM_BPF (${EM.BPF}): not a BPF object`, { offset: 18 });
    if (elf.type !== ET.REL) throw new ElfError(`e_type is ${elf.type}, not ET_REL: a BPF object is a relocatable file`, { offset: 16 });
    const symtab = elf.symtab();
    if (!symtab) throw new ElfError('has no symbol table (.symtab); was it stripped?');
    this.symbols = elf.symbols(symtab);

    // License and version.
    const lic = elf.section('license');
    this.license = lic ? cString(elf.data(lic)) : '';
    const ver = elf.section('version');
    if (ver) {
      const d = elf.data(ver);
      if (d.length !== 4) throw new ElfError(`must be 4 bytes, is ${d.length}`, { section: 'version' });
      this.kernelVersion = new DataView(d.buffer, d.byteOffset, 4).getUint32(0, this.littleEndian);
    }

    // BTF and BTF.ext, with their relocations applied (R_BPF_64_NODYLD32 / ABS32 fill in variable offsets).
    const btfSec = elf.section('.BTF');
    let btf: Btf | undefined;
    if (btfSec) {
      const bytes = this.relocatedData(btfSec);
      btf = wrapBtf(() => parseBtf(bytes, { section: '.BTF' }));
      this.fixupDatasecs(btf);
    }
    this.btf = btf;
    const extSec = elf.section('.BTF.ext');
    if (extSec && btf) {
      const b = btf;
      const bytes = this.relocatedData(extSec);
      this.ext = wrapBtf(() => parseBtfExt(bytes, b));
    }

    // Executable sections: decode, collect functions.
    for (const s of elf.sections) {
      if (s.type !== SHT.PROGBITS || (s.flags & SHF.EXECINSTR) === 0 || s.size === 0) continue;
      const data = elf.data(s);
      if (data.length % 8 !== 0) throw new ElfError(`size ${data.length} is not a multiple of 8 (an instruction slot)`, { section: s.name });
      const cs: CodeSection = { elf: s, name: s.name, insns: decode(data, this.littleEndian), relocations: new Map(), functions: [] };
      this.codeSections.set(s.index, cs);
    }
    for (const sym of this.symbols) {
      if (sym.type !== STT.FUNC) continue;
      const cs = this.codeSections.get(sym.shndx);
      if (!cs) continue;
      const start = Number(sym.value);
      const size = Number(sym.size);
      if (start % 8 !== 0 || size % 8 !== 0 || start + size > cs.elf.size || size === 0) {
        throw new ElfError(`function at offset ${start}, size ${size} is not made of whole instructions inside the section`, {
          section: cs.name,
          symbol: sym.name,
        });
      }
      const global = sym.bind !== STB.LOCAL;
      // STV_INTERNAL (1) or STV_HIDDEN (2).
      const hidden = global && (sym.visibility === 1 || sym.visibility === 2);
      const fn: BpfFunction = { name: sym.name, section: cs, start: start / 8, count: size / 8, global, hidden };
      cs.functions.push(fn);
      if (this.functions.has(sym.name)) throw new ElfError('is defined twice', { symbol: sym.name, section: cs.name });
      this.functions.set(sym.name, fn);
    }
    for (const cs of this.codeSections.values()) cs.functions.sort((a, b) => a.start - b.start);

    // Relocations of executable sections.
    for (const rs of elf.sections) {
      if (rs.type !== SHT.REL && rs.type !== SHT.RELA) continue;
      const cs = this.codeSections.get(rs.info);
      if (!cs) continue;
      if (rs.link !== symtab.index) throw new ElfError('refers to a symbol table other than .symtab', { section: rs.name });
      for (const r of elf.relocations(rs)) {
        const off = Number(r.offset);
        const sym = this.symbols[r.symbol];
        if (!sym) throw new ElfRelocationError(`symbol index ${r.symbol} is out of range`, { section: rs.name, offset: off });
        if (r.type === R_BPF.NONE) continue;
        if (off % 8 !== 0 || off >= cs.elf.size) {
          throw new ElfRelocationError(`${relocName(r.type)} at offset ${off} is not at an instruction inside ${cs.name}`, {
            section: rs.name,
            symbol: sym.name,
            offset: off,
          });
        }
        cs.relocations.set(off / 8, { insn: off / 8, symbol: sym, type: r.type });
      }
    }
    this.checkOtherRelocations();
  }

  /**
   * A copy of a non-code section's contents with its REL relocations applied:
   * R_BPF_64_ABS32 and R_BPF_64_NODYLD32 add the symbol's value to the 32-bit
   * word at the offset, R_BPF_64_ABS64 to the 64-bit word (the word itself is
   * the implicit addend). This is how clang's .BTF gets the offsets of global
   * variables inside their DATASECs.
   */
  relocatedData(sec: ElfSection): Uint8Array {
    const out = this.elf.data(sec).slice();
    const rel = this.elf.sections.find((s) => (s.type === SHT.REL || s.type === SHT.RELA) && s.info === sec.index && s.index !== sec.index);
    if (!rel) return out;
    const view = new DataView(out.buffer, out.byteOffset, out.byteLength);
    const le = this.littleEndian;
    for (const r of this.elf.relocations(rel)) {
      const off = Number(r.offset);
      const sym = this.symbols[r.symbol];
      if (!sym) throw new ElfRelocationError(`symbol index ${r.symbol} is out of range`, { section: rel.name, offset: off });
      const where = { section: rel.name, symbol: sym.name, offset: off };
      const add = sym.value + (r.addend ?? 0n);
      switch (r.type) {
        case R_BPF.NONE:
          break;
        case R_BPF.ABS32:
        case R_BPF.NODYLD32:
          if (off + 4 > out.length) throw new ElfRelocationError(`${relocName(r.type)} runs past the end of ${sec.name}`, where);
          view.setUint32(off, Number(BigInt.asUintN(32, BigInt(view.getUint32(off, le)) + add)), le);
          break;
        case R_BPF.ABS64:
          if (off + 8 > out.length) throw new ElfRelocationError(`${relocName(r.type)} runs past the end of ${sec.name}`, where);
          view.setBigUint64(off, BigInt.asUintN(64, view.getBigUint64(off, le) + add), le);
          break;
        default:
          throw new ElfRelocationError(`${relocName(r.type)} is not supported in ${sec.name}`, where);
      }
    }
    return out;
  }

  /** Relocations of sections bpfkit does not apply (debug info, global data): check their types, warn where it matters. */
  private checkOtherRelocations(): void {
    const known = new Set<number>(Object.values(R_BPF));
    for (const rel of this.elf.sections) {
      if (rel.type !== SHT.REL && rel.type !== SHT.RELA) continue;
      const target = this.elf.sections[rel.info];
      if (!target) throw new ElfError(`applies to section index ${rel.info}, which does not exist`, { section: rel.name });
      if (this.codeSections.has(target.index)) continue; // checked instruction by instruction when programs are built
      if (isDebugOrMeta(target.name)) continue; // .debug_*: never applied (libbpf ignores them too); .BTF*: applied above
      for (const r of this.elf.relocations(rel)) {
        if (!known.has(r.type)) {
          throw new ElfRelocationError(`${relocName(r.type)} is not a BPF relocation bpfkit supports`, {
            section: rel.name,
            symbol: this.symbols[r.symbol]?.name ?? `#${r.symbol}`,
            offset: Number(r.offset),
          });
        }
      }
      if (isDataName(target.name) || target.name === '.bss' || target.name.startsWith('.bss.')) {
        // libbpf skips these too: a pointer initialiser in global data is not relocated.
        this.warnings.push(`section '${rel.name}': relocations in global data (pointer initialisers) are not applied, like libbpf`);
      }
    }
  }

  /** The section a symbol is defined in, or undefined for SHN_UNDEF/ABS/COMMON. */
  symbolSection(sym: ElfSymbol): ElfSection | undefined {
    if (sym.shndx === SHN.UNDEF || sym.shndx >= SHN.LORESERVE) return undefined;
    return this.elf.sections[sym.shndx];
  }

  /** The function containing slot `insn` of a code section. */
  functionAt(cs: CodeSection, insn: number): BpfFunction | undefined {
    for (const fn of cs.functions) if (insn >= fn.start && insn < fn.start + fn.count) return fn;
    return undefined;
  }

  /**
   * clang leaves DATASEC sizes and variable offsets at 0; the ELF has them
   * (section sizes, symbol values). Fill them in and sort variables by
   * offset, like libbpf's btf_fixup_datasec.
   */
  private fixupDatasecs(btf: Btf): void {
    for (const t of btf.ownTypes()) {
      if (t.kind !== 'datasec') continue;
      const ds = t as DatasecType;
      const sec = this.elf.section(ds.name);
      if (!sec) {
        // .kconfig and .ksyms have no ELF section: their layout is computed when externs are resolved.
        continue;
      }
      if (ds.size === 0) ds.size = sec.size;
      for (const v of ds.vars) {
        const vt = btf.type(v.type);
        if (vt.kind !== 'var') continue;
        if (vt.linkage !== LINKAGE_GLOBAL) continue; // static: clang wrote the offset
        const sym = this.symbols.find((s) => s.name === vt.name && s.shndx === sec.index && s.bind !== STB.LOCAL && (s.type === STT.OBJECT || s.type === STT.NOTYPE));
        if (!sym) throw new ElfError(`BTF variable '${vt.name}' has no global ELF symbol in ${ds.name}`, { section: ds.name, symbol: vt.name, typeId: vt.id });
        v.offset = Number(sym.value);
      }
      ds.vars.sort((a, b) => a.offset - b.offset);
    }
  }

  /** Data sections that become global-data maps, in section order. */
  dataSections(): ElfSection[] {
    return this.elf.sections.filter((s) => {
      if (s.size === 0 || isDebugOrMeta(s.name)) return false;
      if (s.type === SHT.PROGBITS && (s.flags & SHF.EXECINSTR) === 0) return isDataName(s.name);
      if (s.type === SHT.NOBITS) return s.name === '.bss' || s.name.startsWith('.bss.');
      return false;
    });
  }
}

export function isDataName(name: string): boolean {
  return name === '.data' || name.startsWith('.data.') || name === '.rodata' || name.startsWith('.rodata.');
}

export function isReadOnlyData(name: string): boolean {
  return name === '.rodata' || name.startsWith('.rodata.');
}

const utf8 = new TextDecoder();

function cString(d: Uint8Array): string {
  const end = d.indexOf(0);
  return utf8.decode(end >= 0 ? d.subarray(0, end) : d);
}

/** BTF errors keep their own type (they name the section, offset and type id). */
function wrapBtf<T>(f: () => T): T {
  try {
    return f();
  } catch (e) {
    if (e instanceof BpfkitError) throw e;
    throw new ElfError(`cannot parse BTF: ${(e as Error).message}`, { section: '.BTF' });
  }
}
