/**
 * Finding the file a uprobe or USDT probe goes in, from what a person
 * writes: a path (`/usr/bin/bash`, `./a.out`), a shared library by name the
 * way the dynamic loader finds it (`libc`, `libc.so.6`, `libssl.so`), or a
 * program on $PATH (`bash`).
 *
 * Libraries come from the loader's cache, /etc/ld.so.cache (glibc's
 * "glibc-ld.so.cache1.1" format, alone or after the old "ld.so-1.7.0"
 * table), keeping only entries for this process's ABI (libc6 plus the
 * architecture's flag, as ldconfig records them); when the cache cannot be
 * read, `ldconfig -p`; then LD_LIBRARY_PATH and the usual directories.
 */
import { execFileSync } from 'node:child_process';
import { accessSync, constants, existsSync, readFileSync, realpathSync, statSync } from 'node:fs';
import { delimiter, isAbsolute, join, resolve } from 'node:path';
import { AttachTargetError } from './attach-errors.js';

export interface LdCacheEntry {
  /** The soname or file name the cache is keyed by (`libc.so.6`). */
  name: string;
  path: string;
  /** ldconfig's flags: FLAG_ELF_LIBC6 (3) | the ABI flag (0x0300 x86-64, 0x0a00 AArch64, ...). */
  flags: number;
}

const NEW_MAGIC = 'glibc-ld.so.cache';
const OLD_MAGIC = 'ld.so-1.7.0';
const FLAG_ELF_LIBC6 = 0x0003;
const FLAG_TYPE_MASK = 0x00ff;
const FLAG_REQUIRED_MASK = 0xff00;

/** The ABI flag ldconfig gives libraries of this architecture (what the dynamic loader accepts). */
export function abiFlag(arch: string = process.arch): number {
  switch (arch) {
    case 'x64':
      return 0x0300; // FLAG_X8664_LIB64
    case 'arm64':
      return 0x0a00; // FLAG_AARCH64_LIB64
    case 'ppc64':
      return 0x0500; // FLAG_POWERPC_LIB64
    case 's390x':
      return 0x0400; // FLAG_S390_LIB64
    case 'riscv64':
      return 0x1000; // FLAG_RISCV_FLOAT_ABI_DOUBLE
    default:
      return 0;
  }
}

/** Parse the bytes of an ld.so.cache (either layout). Throws on a file it cannot make sense of. */
export function parseLdCache(bytes: Uint8Array): LdCacheEntry[] {
  const v = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const ascii = (at: number, n: number) => String.fromCharCode(...bytes.subarray(at, at + n));
  let base = 0;
  if (ascii(0, OLD_MAGIC.length) === OLD_MAGIC) {
    // Old table (12-byte entries) first; the new layout follows, 8-aligned.
    const n = v.getUint32(12, true);
    base = 16 + 12 * n;
    base = (base + 7) & ~7;
  }
  if (ascii(base, NEW_MAGIC.length) !== NEW_MAGIC) throw new Error('not an ld.so.cache in the glibc-ld.so.cache1.1 layout');
  const nlibs = v.getUint32(base + 20, true);
  const HEADER = 48;
  const ENTRY = 24;
  if (base + HEADER + nlibs * ENTRY > bytes.length) throw new Error(`ld.so.cache says ${nlibs} entries but is only ${bytes.length} bytes`);
  const str = (off: number): string => {
    // String offsets count from the start of the new header.
    const at = base + off;
    let end = at;
    while (end < bytes.length && bytes[end] !== 0) end++;
    return new TextDecoder().decode(bytes.subarray(at, end));
  };
  const out: LdCacheEntry[] = [];
  for (let i = 0; i < nlibs; i++) {
    const e = base + HEADER + i * ENTRY;
    out.push({ flags: v.getInt32(e, true), name: str(v.getUint32(e + 4, true)), path: str(v.getUint32(e + 8, true)) });
  }
  return out;
}

/** Parse `ldconfig -p` output. */
export function parseLdconfigP(text: string): LdCacheEntry[] {
  const out: LdCacheEntry[] = [];
  for (const line of text.split('\n')) {
    const m = /^\s+(\S+) \(([^)]*)\)(?: OS ABI: [^=]*)? => (.+)$/.exec(line);
    if (!m) continue;
    const tags = m[2]!.split(',');
    let flags = tags.includes('libc6') ? FLAG_ELF_LIBC6 : 1;
    if (tags.includes('x86-64')) flags |= 0x0300;
    else if (tags.includes('AArch64')) flags |= 0x0a00;
    else if (tags.includes('64bit')) flags |= 0x0500;
    out.push({ name: m[1]!, path: m[3]!.trim(), flags });
  }
  return out;
}

let cache: LdCacheEntry[] | undefined;

/** The loader's libraries for this process's ABI (read once). */
export function ldCache(): LdCacheEntry[] {
  if (cache) return cache;
  let all: LdCacheEntry[] = [];
  try {
    all = parseLdCache(readFileSync('/etc/ld.so.cache'));
  } catch {
    try {
      all = parseLdconfigP(execFileSync('ldconfig', ['-p'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }));
    } catch {
      all = [];
    }
  }
  const want = abiFlag();
  cache = all.filter((e) => (e.flags & FLAG_TYPE_MASK) === FLAG_ELF_LIBC6 && (e.flags & FLAG_REQUIRED_MASK) === want);
  return cache;
}

const LIB_DIRS = ['/lib', '/usr/lib', '/lib64', '/usr/lib64', '/usr/local/lib'];
function multiarchDirs(): string[] {
  const triple = process.arch === 'x64' ? 'x86_64-linux-gnu' : process.arch === 'arm64' ? 'aarch64-linux-gnu' : undefined;
  return triple ? [`/lib/${triple}`, `/usr/lib/${triple}`] : [];
}

function isFile(p: string): boolean {
  try {
    return statSync(p).isFile();
  } catch {
    return false;
  }
}

/** Is `name` a library name (libX, libX.so, libX.so.N) rather than a program? */
const looksLikeLibrary = (name: string) => /^lib[^/]*$/.test(name) || /\.so(\.|$)/.test(name);

/**
 * The absolute path of a binary or library to probe. Paths are taken as
 * they are (relative ones from the current directory); bare names are
 * looked up as libraries (ld.so.cache, LD_LIBRARY_PATH, the usual
 * directories), then as programs on $PATH. Symbolic links are resolved (the
 * kernel probes the inode). Throws an error naming the binary and where it
 * was looked for.
 */
export function resolveBinary(name: string): string {
  if (name === '') throw new AttachTargetError('binary', name, 'no binary or library named (empty name)');
  if (name.includes('/')) {
    const p = isAbsolute(name) ? name : resolve(name);
    if (!existsSync(p)) throw new AttachTargetError('binary', name, `no such binary or library: ${name}`);
    if (!isFile(p)) throw new AttachTargetError('binary', name, `${name} is not a regular file`);
    return realpathSync(p);
  }
  const searched: string[] = [];
  // Libraries: exact soname/file name first, then "libc" / "libc.so" as prefixes of a versioned soname.
  const candidates = name.startsWith('lib') ? [name] : [`lib${name}`, name];
  const entries = ldCache();
  for (const c of candidates) {
    const exact = entries.find((e) => e.name === c);
    if (exact && isFile(exact.path)) return realpathSync(exact.path);
    const stem = c.endsWith('.so') ? c : `${c}.so`;
    const prefixed = entries.filter((e) => e.name === stem || e.name.startsWith(`${stem}.`)).sort((a, b) => a.name.length - b.name.length);
    for (const e of prefixed) if (isFile(e.path)) return realpathSync(e.path);
  }
  searched.push('/etc/ld.so.cache');
  const dirs = [...(process.env.LD_LIBRARY_PATH ?? '').split(':').filter(Boolean), ...multiarchDirs(), ...LIB_DIRS];
  if (looksLikeLibrary(name) || !name.includes('.')) {
    for (const dir of dirs) {
      for (const c of candidates) {
        for (const f of [c, c.endsWith('.so') || /\.so\./.test(c) ? undefined : `${c}.so`]) {
          if (f && isFile(join(dir, f))) return realpathSync(join(dir, f));
        }
      }
    }
    searched.push(dirs.join(':'));
  }
  if (!looksLikeLibrary(name)) {
    const path = (process.env.PATH ?? '').split(delimiter).filter(Boolean);
    for (const dir of path) {
      const p = join(dir, name);
      try {
        accessSync(p, constants.X_OK);
        if (isFile(p)) return realpathSync(p);
      } catch {
        // not here
      }
    }
    searched.push('$PATH');
  }
  throw new AttachTargetError('binary', name, `no binary or library named ${name} (searched ${searched.join(', ')})`);
}
