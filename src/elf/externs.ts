/**
 * Externs: `.kconfig` variables (CONFIG_* options, LINUX_KERNEL_VERSION, ...)
 * laid out in a read-only `.kconfig` array map the way libbpf lays them out,
 * and `__ksym` externs: typeless ksyms (addresses from /proc/kallsyms), typed
 * ksyms (BTF ids of VARs in the kernel's BTF) and kfuncs (BTF ids of FUNCs).
 *
 * Values come from the running system where available (/proc/config.gz or
 * /boot/config-$(uname -r), /proc/kallsyms, /sys/kernel/btf/vmlinux) or from
 * what the caller passes; a strong extern that cannot be resolved is an
 * ElfExternError naming it, a weak one is zero.
 */
import { existsSync, readFileSync } from 'node:fs';
import { release } from 'node:os';
import { gunzipSync } from 'node:zlib';
import type { Btf } from '../btf/btf.js';
import type { DatasecType } from '../btf/types.js';
import { INT_BOOL, INT_SIGNED, LINKAGE_EXTERN } from '../btf/types.js';
import { ElfExternError } from './errors.js';
import type { BpfObject } from './object.js';
import { SHN, STB } from './reader.js';

export type KconfigSource = 'running' | string | Record<string, string>;

type KcfgKind = 'bool' | 'char' | 'tristate' | 'int' | 'chars';

export interface KconfigExtern {
  kind: 'kconfig';
  name: string;
  weak: boolean;
  btfId: number;
  type: KcfgKind;
  size: number;
  align: number;
  signed: boolean;
  /** Offset inside the .kconfig map value. */
  offset: number;
}

export interface KsymExtern {
  kind: 'ksym';
  name: string;
  weak: boolean;
  btfId: number;
  /** 'func' (a kfunc), 'typed' (a VAR with a type), 'typeless' (an address). */
  form: 'func' | 'typed' | 'typeless';
}

export type Extern = KconfigExtern | KsymExtern;

/** Find the externs of an object and lay out .kconfig like libbpf. */
export function collectExterns(obj: BpfObject): Extern[] {
  const syms = obj.symbols.filter((s) => s.shndx === SHN.UNDEF && s.name !== '' && (s.bind === STB.GLOBAL || s.bind === STB.WEAK));
  if (syms.length === 0) return [];
  const btf = obj.btf;
  if (!btf) throw new ElfExternError('externs need BTF, but the object has no .BTF section (compile with -g)', { symbol: syms[0]!.name });
  const kconfigSec = btf.find('.kconfig', 'datasec') as DatasecType | undefined;
  const ksymsSec = btf.find('.ksyms', 'datasec') as DatasecType | undefined;
  const out: Extern[] = [];
  for (const sym of syms) {
    const weak = sym.bind === STB.WEAK;
    const cand = btf.byName(sym.name).filter((t) => (t.kind === 'var' || t.kind === 'func') && t.linkage === LINKAGE_EXTERN);
    const t = cand[0];
    if (!t) throw new ElfExternError('extern has no BTF VAR or FUNC with extern linkage', { symbol: sym.name });
    const inSec = (ds: DatasecType | undefined) => ds?.vars.some((v) => v.type === t.id) ?? false;
    if (t.kind === 'func') {
      out.push({ kind: 'ksym', name: sym.name, weak, btfId: t.id, form: 'func' });
    } else if (inSec(kconfigSec)) {
      out.push(kconfigExtern(btf, sym.name, weak, t.id, (t as { type: number }).type));
    } else if (inSec(ksymsSec)) {
      const target = btf.skipModifiers((t as { type: number }).type);
      out.push({ kind: 'ksym', name: sym.name, weak, btfId: t.id, form: target.kind === 'void' ? 'typeless' : 'typed' });
    } else {
      throw new ElfExternError('extern is neither in .kconfig nor .ksyms (use __kconfig or __ksym)', { symbol: sym.name, typeId: t.id });
    }
  }
  // libbpf's order: kconfig first, by descending alignment, ascending size, then name; then ksyms by name.
  out.sort((a, b) => {
    if (a.kind !== b.kind) return a.kind === 'kconfig' ? -1 : 1;
    if (a.kind === 'kconfig' && b.kind === 'kconfig') {
      if (a.align !== b.align) return b.align - a.align;
      if (a.size !== b.size) return a.size - b.size;
    }
    return a.name < b.name ? -1 : a.name > b.name ? 1 : 0;
  });
  let off = 0;
  for (const e of out) {
    if (e.kind !== 'kconfig') continue;
    off = Math.ceil(off / e.align) * e.align;
    e.offset = off;
    off += e.size;
  }
  if (kconfigSec) {
    kconfigSec.size = off;
    for (const v of kconfigSec.vars) {
      const e = out.find((x) => x.btfId === v.type);
      if (e && e.kind === 'kconfig') v.offset = e.offset;
    }
    kconfigSec.vars.sort((a, b) => a.offset - b.offset);
  }
  return out;
}

function kconfigExtern(btf: Btf, name: string, weak: boolean, btfId: number, typeId: number): KconfigExtern {
  const t = btf.skipModifiers(typeId);
  const base = { kind: 'kconfig' as const, name, weak, btfId, offset: 0 };
  if (t.kind === 'int') {
    if (t.encoding & INT_BOOL) {
      if (t.size !== 1) throw new ElfExternError(`kconfig extern is a ${t.size}-byte bool`, { symbol: name, typeId });
      return { ...base, type: 'bool', size: 1, align: 1, signed: false };
    }
    // Like libbpf, any one-byte integer is a char: it takes y/m/n as a character or a number.
    if (t.size === 1) return { ...base, type: 'char', size: 1, align: 1, signed: (t.encoding & INT_SIGNED) !== 0 };
    if (![1, 2, 4, 8].includes(t.size) || t.bits !== t.size * 8) {
      throw new ElfExternError(`kconfig extern has an unsupported integer type (${t.size} bytes, ${t.bits} bits)`, { symbol: name, typeId });
    }
    return { ...base, type: 'int', size: t.size, align: t.size, signed: (t.encoding & INT_SIGNED) !== 0 };
  }
  if (t.kind === 'enum' && t.name === 'libbpf_tristate') return { ...base, type: 'tristate', size: 4, align: 4, signed: false };
  if (t.kind === 'array' && t.nelems > 0) {
    const el = btf.skipModifiers(t.type);
    if (t.nelems > 4096) throw new ElfExternError(`kconfig string of ${t.nelems} bytes is too long`, { symbol: name, typeId });
    if (el.kind === 'int' && el.size === 1 && (el.encoding & INT_BOOL) === 0) return { ...base, type: 'chars', size: t.nelems, align: 1, signed: false };
  }
  throw new ElfExternError(`kconfig extern has an unsupported type (${t.kind}); use bool, char, an integer, enum libbpf_tristate or char[]`, {
    symbol: name,
    typeId,
  });
}

/** Parse kernel config text ("CONFIG_X=y", "# CONFIG_Y is not set"). */
export function parseKconfig(text: string): Map<string, string> {
  const out = new Map<string, string>();
  for (const raw of text.split('\n')) {
    const line = raw.trim();
    // Like libbpf, only CONFIG_X=... lines count: "# CONFIG_X is not set" leaves X unset (declare such externs __weak).
    if (!line.startsWith('CONFIG_')) continue;
    const eq = line.indexOf('=');
    if (eq <= 0) continue;
    out.set(line.slice(0, eq), line.slice(eq + 1));
  }
  return out;
}

/** The running kernel's config, or undefined with the places looked at. */
export function readRunningKconfig(): { values: Map<string, string>; source: string } | { error: string } {
  const tried: string[] = [];
  const proc = '/proc/config.gz';
  if (existsSync(proc)) {
    try {
      return { values: parseKconfig(gunzipSync(readFileSync(proc)).toString('utf8')), source: proc };
    } catch (e) {
      tried.push(`${proc} (${(e as Error).message})`);
    }
  } else tried.push(`${proc} (absent)`);
  const boot = `/boot/config-${release()}`;
  if (existsSync(boot)) return { values: parseKconfig(readFileSync(boot, 'utf8')), source: boot };
  tried.push(`${boot} (absent)`);
  return { error: `no kernel config found: looked at ${tried.join(', ')}` };
}

/** KERNEL_VERSION(a, b, c) of a release string like "6.18.44-fc". */
export function kernelVersionCode(rel: string): number {
  const m = /^(\d+)\.(\d+)(?:\.(\d+))?/.exec(rel);
  if (!m) throw new ElfExternError(`cannot read a kernel version from release '${rel}'`, { symbol: 'LINUX_KERNEL_VERSION' });
  return (Number(m[1]) << 16) + (Number(m[2]) << 8) + Math.min(Number(m[3] ?? 0), 255);
}

export interface KconfigOptions {
  kconfig?: KconfigSource;
  kernelRelease?: string;
}

/** Build the bytes of the .kconfig map. */
export function kconfigData(externs: KconfigExtern[], size: number, littleEndian: boolean, options: KconfigOptions): Uint8Array {
  const data = new Uint8Array(size);
  const view = new DataView(data.buffer);
  let values: Map<string, string> | undefined;
  let source = 'the given kconfig';
  const needsConfig = externs.some((e) => e.name.startsWith('CONFIG_'));
  if (needsConfig) {
    const k = options.kconfig ?? 'running';
    if (k === 'running') {
      const r = readRunningKconfig();
      if ('error' in r) {
        const strong = externs.find((e) => e.name.startsWith('CONFIG_') && !e.weak);
        if (strong) throw new ElfExternError(`cannot resolve kconfig extern: ${r.error}`, { symbol: strong.name });
        values = new Map();
      } else {
        values = r.values;
        source = r.source;
      }
    } else if (typeof k === 'string') {
      values = parseKconfig(k);
    } else {
      values = new Map(Object.entries(k));
    }
  }
  for (const e of externs) {
    let v: string | undefined;
    if (e.name === 'LINUX_KERNEL_VERSION') v = String(kernelVersionCode(options.kernelRelease ?? release()));
    else if (e.name === 'LINUX_HAS_BPF_COOKIE' || e.name === 'LINUX_HAS_SYSCALL_WRAPPER') v = 'y';
    else if (e.name.startsWith('CONFIG_')) v = values?.get(e.name);
    else throw new ElfExternError('unrecognised kconfig extern (expected CONFIG_* or LINUX_*)', { symbol: e.name, section: '.kconfig' });
    if (v === undefined) {
      if (e.weak) continue;
      throw new ElfExternError(`kconfig option is not set in ${source} (declare it __weak to default to 0)`, { symbol: e.name, section: '.kconfig' });
    }
    writeKconfig(view, data, e, v, littleEndian);
  }
  return data;
}

function writeKconfig(view: DataView, data: Uint8Array, e: KconfigExtern, v: string, le: boolean): void {
  const where = { symbol: e.name, section: '.kconfig' };
  const tri = v === 'y' || v === 'm' || v === 'n';
  switch (e.type) {
    case 'bool':
      if (v === 'm') throw new ElfExternError(`is a module (m) and cannot be a bool; use enum libbpf_tristate`, where);
      if (!tri) throw new ElfExternError(`value '${v}' is not a bool`, where);
      data[e.offset] = v === 'y' ? 1 : 0;
      return;
    case 'tristate':
      if (!tri) throw new ElfExternError(`value '${v}' is not a tristate`, where);
      view.setUint32(e.offset, v === 'y' ? 1 : v === 'm' ? 2 : 0, le);
      return;
    case 'char':
      if (tri) {
        data[e.offset] = v.charCodeAt(0);
        return;
      }
      writeNumber(data, e, v, le, where);
      return;
    case 'chars': {
      if (!(v.length >= 2 && v.startsWith('"') && v.endsWith('"'))) throw new ElfExternError(`value ${v} is not a string`, where);
      const bytes = new TextEncoder().encode(v.slice(1, -1));
      const n = Math.min(bytes.length, e.size - 1);
      data.set(bytes.subarray(0, n), e.offset);
      return;
    }
    case 'int':
      if (tri) throw new ElfExternError(`value '${v}' implies a tristate or char type, not an integer`, where);
      writeNumber(data, e, v, le, where);
      return;
  }
}

function writeNumber(data: Uint8Array, e: KconfigExtern, v: string, le: boolean, where: { symbol: string; section: string }): void {
  if (v.startsWith('"')) throw new ElfExternError(`value ${v} is a string; declare the extern as char[]`, where);
  let n: bigint;
  try {
    n = BigInt(v.trim());
  } catch {
    throw new ElfExternError(`value '${v}' is not a number`, where);
  }
  const bits = e.size * 8;
  const fits = e.signed ? BigInt.asIntN(bits, n) === n : BigInt.asUintN(bits, n) === n;
  if (!fits) throw new ElfExternError(`value ${v} does not fit in ${e.size} bytes`, where);
  const u = BigInt.asUintN(64, n);
  for (let i = 0; i < e.size; i++) data[e.offset + (le ? i : e.size - 1 - i)] = Number((u >> BigInt(8 * i)) & 0xffn);
}

/** /proc/kallsyms as a name → address map (first occurrence wins). */
export function parseKallsyms(text: string): Map<string, bigint> {
  const out = new Map<string, bigint>();
  for (const line of text.split('\n')) {
    const parts = line.split(/\s+/);
    if (parts.length < 3) continue;
    const name = parts[2]!;
    if (!out.has(name)) out.set(name, BigInt('0x' + parts[0]!));
  }
  return out;
}

export function readKallsyms(): Map<string, bigint> {
  const path = '/proc/kallsyms';
  if (!existsSync(path)) throw new ElfExternError(`${path} is not available to resolve typeless ksyms`);
  return parseKallsyms(readFileSync(path, 'utf8'));
}
