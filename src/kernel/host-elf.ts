/**
 * The executables and shared libraries uprobes and USDT probes go into, read
 * with src/elf's generic ELF reader (reader.ts, symbols.ts, usdt.ts: plain
 * ELF, no BPF and no front end). Parsed files are cached by path, size and
 * modification time.
 *
 * Symbols: a function by name (`malloc`, `main+0x10`) or every function
 * matching a glob (`bpfkit_*`), each as the file offset the kernel wants.
 */
import { readFileSync, statSync } from 'node:fs';
import { ElfError } from '../elf/errors.js';
import { ElfFile, SHN, STT } from '../elf/reader.js';
import { resolveSymbol } from '../elf/symbols.js';
import { usdtProbes, type UsdtProbe } from '../elf/usdt.js';
import { AttachTargetError } from './attach-errors.js';

const cache = new Map<string, { size: number; mtimeMs: number; elf: ElfFile }>();

/** The parsed ELF file at `path` (cached). Errors name the file. */
export function hostElf(path: string): ElfFile {
  let st;
  try {
    st = statSync(path);
  } catch {
    throw new AttachTargetError('binary', path, `no such binary or library: ${path}`);
  }
  const hit = cache.get(path);
  if (hit && hit.size === st.size && hit.mtimeMs === st.mtimeMs) return hit.elf;
  let elf: ElfFile;
  try {
    elf = ElfFile.parse(readFileSync(path));
  } catch (err) {
    if (err instanceof ElfError) throw new AttachTargetError('binary', path, `${path} is not an ELF executable or library: ${err.message}`);
    throw err;
  }
  if (cache.size >= 8) cache.delete(cache.keys().next().value!);
  cache.set(path, { size: st.size, mtimeMs: st.mtimeMs, elf });
  return elf;
}

/** Split `func+0x10` / `func+16` into name and offset. */
export function parseSymbolSpec(spec: string): { name: string; offset: number } {
  const m = /^(.*?)(?:\+(0x[0-9a-fA-F]+|\d+))?$/.exec(spec)!;
  return { name: m[1]!, offset: m[2] === undefined ? 0 : Number(m[2]) };
}

/** The file offset of function `symbol` (`name` or `name+off`) in the ELF file at `path`; an error naming both when it is not there. */
export function symbolOffset(path: string, symbol: string): number {
  const { name, offset } = parseSymbolSpec(symbol);
  if (name === '') throw new AttachTargetError('symbol', symbol, `no symbol named in '${symbol}'`);
  const elf = hostElf(path);
  try {
    return resolveSymbol(elf, name, offset).fileOffset;
  } catch (err) {
    if (err instanceof ElfError) {
      const tables = [elf.symtab() ? '.symtab' : undefined, elf.dynsym() ? '.dynsym' : undefined].filter(Boolean).join(' and ');
      throw new AttachTargetError('symbol', symbol, `no function ${name} in ${path} (${tables ? `searched ${tables}` : 'it has no symbol table'})`);
    }
    throw err;
  }
}

/** Glob (`*`, `?`) to a RegExp over whole names. */
function globRegExp(glob: string): RegExp {
  return new RegExp('^' + glob.replace(/[.+^${}()|[\]\\]/g, '\\$&').replace(/\*/g, '.*').replace(/\?/g, '.') + '$');
}

/** Every defined function whose name matches `pattern` (a glob), with its file offset, sorted by name. */
export function matchFunctions(path: string, pattern: string): { name: string; offset: number }[] {
  const elf = hostElf(path);
  const re = globRegExp(pattern);
  const seen = new Map<string, number>();
  for (const sec of [elf.symtab(), elf.dynsym()]) {
    if (!sec) continue;
    for (const sym of elf.symbols(sec)) {
      if (sym.shndx === SHN.UNDEF || sym.value === 0n || (sym.type !== STT.FUNC && sym.type !== 10)) continue;
      const name = sym.name.split('@')[0]!;
      if (!re.test(name) || seen.has(name)) continue;
      const off = elf.addressToOffset(sym.value);
      if (off !== undefined) seen.set(name, off);
    }
  }
  return [...seen].map(([name, offset]) => ({ name, offset })).sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
}

/** The USDT probes (`.note.stapsdt`) of the ELF file at `path`. */
export function hostUsdtProbes(path: string): UsdtProbe[] {
  try {
    return usdtProbes(hostElf(path));
  } catch (err) {
    if (err instanceof ElfError) throw new AttachTargetError('usdt', path, `cannot read the USDT notes of ${path}: ${err.message}`);
    throw err;
  }
}

export type { UsdtProbe };
