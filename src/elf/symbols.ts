/**
 * Symbols of executables and shared libraries, for uprobes: a function by
 * name from .symtab or .dynsym, with the file offset a uprobe attaches to
 * (the kernel wants an offset in the file, not a virtual address).
 */
import { ElfError } from './errors.js';
import { SHN, STT, type ElfFile, type ElfSymbol } from './reader.js';

export interface ResolvedSymbol {
  symbol: ElfSymbol;
  /** Which table it came from. */
  table: '.symtab' | '.dynsym';
  /** File offset of the symbol's address (plus the requested offset). */
  fileOffset: number;
}

/**
 * Find a defined function (or, failing that, any defined symbol) by name;
 * `offset` is added, as in "func+0x10". Versioned dynamic names ("malloc@@GLIBC_2.2.5") match their base name.
 */
export function resolveSymbol(elf: ElfFile, name: string, offset = 0): ResolvedSymbol {
  const tables: ['.symtab' | '.dynsym', ReturnType<ElfFile['symtab']>][] = [
    ['.symtab', elf.symtab()],
    ['.dynsym', elf.dynsym()],
  ];
  let fallback: ResolvedSymbol | undefined;
  for (const [table, sec] of tables) {
    if (!sec) continue;
    for (const sym of elf.symbols(sec)) {
      if (sym.shndx === SHN.UNDEF || sym.value === 0n) continue;
      const base = sym.name.split('@')[0];
      if (sym.name !== name && base !== name) continue;
      const fileOffset = elf.addressToOffset(sym.value + BigInt(offset));
      if (fileOffset === undefined) continue;
      const r: ResolvedSymbol = { symbol: sym, table, fileOffset };
      if (sym.type === STT.FUNC || (sym.type as number) === 10 /* STT_GNU_IFUNC */) return r;
      fallback ??= r;
    }
  }
  if (fallback) return fallback;
  throw new ElfError(`no defined symbol '${name}' in .symtab or .dynsym`, { symbol: name });
}
