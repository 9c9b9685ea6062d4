/**
 * USDT probes of an executable or shared library: the `.note.stapsdt` notes
 * that <sys/sdt.h> emits (owner "stapsdt", type 3). Each note holds the probe
 * address, the address `.stapsdt.base` had at link time, the semaphore
 * address (0 when none), then provider, name and the argument spec as
 * NUL-terminated strings. If the file was prelinked the addresses moved
 * with `.stapsdt.base`; like libbpf we shift them by the difference.
 */
import { ElfError } from './errors.js';
import type { ElfFile } from './reader.js';

const utf8 = new TextDecoder();

export const NT_STAPSDT = 3;

export interface UsdtProbe {
  provider: string;
  name: string;
  /** Probe address (virtual), adjusted for prelinking. */
  address: bigint;
  /** File offset of the probe instruction (what a uprobe attaches to), when mapped. */
  fileOffset?: number;
  /** Semaphore address (virtual), 0n when the probe has none. */
  semaphore: bigint;
  /** File offset of the semaphore (for reference counting), when mapped. */
  semaphoreOffset?: number;
  /** Argument spec, e.g. "-4@%edi 8@-16(%rbp)". */
  args: string;
}

export function usdtProbes(elf: ElfFile): UsdtProbe[] {
  const sec = elf.section('.note.stapsdt');
  if (!sec) return [];
  const base = elf.section('.stapsdt.base');
  const out: UsdtProbe[] = [];
  for (const note of elf.notes(sec)) {
    if (note.name !== 'stapsdt' || note.type !== NT_STAPSDT) continue;
    const d = note.desc;
    if (d.length < 24) throw new ElfError(`USDT note is ${d.length} bytes, too short`, { section: sec.name, offset: note.offset });
    const view = new DataView(d.buffer, d.byteOffset, d.byteLength);
    const rd = (i: number) => view.getBigUint64(i, elf.littleEndian);
    let pc = rd(0);
    const noteBase = rd(8);
    const semaphore = rd(16);
    const strings: string[] = [];
    let p = 24;
    for (let k = 0; k < 3; k++) {
      const end = d.indexOf(0, p);
      if (end < 0) throw new ElfError('USDT note strings are not NUL-terminated', { section: sec.name, offset: note.offset });
      strings.push(utf8.decode(d.subarray(p, end)));
      p = end + 1;
    }
    if (base && noteBase !== 0n) pc += base.addr - noteBase;
    const probe: UsdtProbe = { provider: strings[0]!, name: strings[1]!, address: pc, semaphore, args: strings[2]! };
    const off = elf.addressToOffset(pc);
    if (off !== undefined) probe.fileOffset = off;
    if (semaphore !== 0n) {
      const so = semaphoreFileOffset(elf, semaphore);
      if (so !== undefined) probe.semaphoreOffset = so;
    }
    out.push(probe);
  }
  return out;
}

/** Semaphores live in .probes (often in a writable, file-backed segment): map through its section. */
function semaphoreFileOffset(elf: ElfFile, addr: bigint): number | undefined {
  for (const s of elf.sections) {
    if (s.addr === 0n || s.size === 0) continue;
    if (addr >= s.addr && addr < s.addr + BigInt(s.size)) return s.offset + Number(addr - s.addr);
  }
  return undefined;
}
