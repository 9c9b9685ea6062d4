/**
 * ElfError: every failure caused by a bad ELF file or a BPF object that cannot
 * be turned into a CollectionSpec. The message says what went wrong and where:
 * the section, the symbol, the byte offset (in the file, or inside the named
 * section when `inSection` is set) and, for BPF objects, the relocation or
 * BTF type id concerned.
 */
import { BpfkitError } from '../errors.js';

export interface ElfErrorWhere {
  /** The section concerned, e.g. '.text', 'xdp', '.rel.text'. */
  section?: string;
  /** The symbol concerned. */
  symbol?: string;
  /** Byte offset: in the file, or inside `section` when one is named. */
  offset?: number;
  /** A BTF type id. */
  typeId?: number;
  /** An instruction index (slot) inside a program. */
  insn?: number;
}

export class ElfError extends BpfkitError {
  readonly section: string | undefined;
  readonly symbol: string | undefined;
  readonly offset: number | undefined;
  readonly typeId: number | undefined;
  readonly insn: number | undefined;

  constructor(message: string, where: ElfErrorWhere = {}, code = 'EELF') {
    const parts: string[] = [];
    if (where.section !== undefined) parts.push(`section ${where.section}`);
    if (where.symbol !== undefined) parts.push(`symbol ${where.symbol}`);
    if (where.insn !== undefined) parts.push(`insn ${where.insn}`);
    if (where.offset !== undefined) parts.push(`offset ${where.offset}`);
    if (where.typeId !== undefined) parts.push(`type [${where.typeId}]`);
    super(code, parts.length > 0 ? `${parts.join(', ')}: ${message}` : message);
    this.section = where.section;
    this.symbol = where.symbol;
    this.offset = where.offset;
    this.typeId = where.typeId;
    this.insn = where.insn;
  }
}

/** A relocation type or target bpfkit does not support. */
export class ElfRelocationError extends ElfError {
  constructor(message: string, where: ElfErrorWhere = {}) {
    super(message, where, 'EELF_RELOC');
  }
}

/** An extern (.kconfig or __ksym) that cannot be resolved. */
export class ElfExternError extends ElfError {
  constructor(message: string, where: ElfErrorWhere = {}) {
    super(message, where, 'EELF_EXTERN');
  }
}

/** A section whose name matches none of libbpf's SEC() conventions (strict mode only). */
export class ElfSectionError extends ElfError {
  constructor(message: string, where: ElfErrorWhere = {}) {
    super(message, where, 'EELF_SECTION');
  }
}
