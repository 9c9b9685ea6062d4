/**
 * Convenience loaders: BTF from an ELF object (its .BTF and .BTF.ext), from
 * raw bytes of either kind, and the running kernel's BTF.
 */
import { Btf } from './btf.js';
import { BtfError } from './errors.js';
import { parseBtfExt, type BtfExt } from './ext.js';
import { elfSections, isElf } from './elf-sections.js';
import { parseBtf } from './parse.js';

export interface LoadedBtf {
  btf: Btf;
  /** Present for ELF objects that have a .BTF.ext section. */
  ext?: BtfExt;
}

/** Parse an ELF object's .BTF (required) and .BTF.ext (optional). */
export function btfFromElf(bytes: Uint8Array, file = 'ELF', base?: Btf): LoadedBtf {
  const secs = elfSections(bytes, file);
  const b = secs.get('.BTF');
  if (!b) throw new BtfError('has no .BTF section (compile with -g)', { section: file }, 'EBTF_MISSING');
  const btf = parseBtf(b.bytes, { section: '.BTF', base });
  const e = secs.get('.BTF.ext');
  return e ? { btf, ext: parseBtfExt(e.bytes, btf) } : { btf };
}

/** Raw BTF or an ELF object, told apart by their magic. */
export function loadBtf(bytes: Uint8Array, file = 'BTF', base?: Btf): LoadedBtf {
  if (isElf(bytes)) return btfFromElf(bytes, file, base);
  return { btf: parseBtf(bytes, { section: file, base }) };
}

export const KERNEL_BTF_PATH = '/sys/kernel/btf/vmlinux';

let kernelBtf: Btf | undefined;

/** The running kernel's BTF (/sys/kernel/btf/vmlinux), parsed once and cached. */
export async function loadKernelBtf(): Promise<Btf> {
  if (kernelBtf) return kernelBtf;
  const { readFile } = await import('node:fs/promises');
  let bytes: Uint8Array;
  try {
    bytes = await readFile(KERNEL_BTF_PATH);
  } catch (err) {
    throw new BtfError(`cannot read the kernel's BTF: ${(err as Error).message}`, { section: KERNEL_BTF_PATH }, 'EBTF_MISSING');
  }
  kernelBtf = parseBtf(bytes, { section: KERNEL_BTF_PATH });
  return kernelBtf;
}

/** A kernel module's split BTF (/sys/kernel/btf/<module>) on the vmlinux base. */
export async function loadKernelModuleBtf(module: string): Promise<Btf> {
  const base = await loadKernelBtf();
  const { readFile } = await import('node:fs/promises');
  const path = `/sys/kernel/btf/${module}`;
  let bytes: Uint8Array;
  try {
    bytes = await readFile(path);
  } catch (err) {
    throw new BtfError(`cannot read module BTF: ${(err as Error).message}`, { section: path }, 'EBTF_MISSING');
  }
  return parseBtf(bytes, { section: path, base });
}
