/**
 * USDT probes: the static probes <sys/sdt.h> puts in programs and libraries
 * (`DTRACE_PROBE2(provider, name, a, b)`), found in the `.note.stapsdt`
 * notes, each at one or more sites (the macro can be inlined), each with an
 * argument spec like `-4@%edi 8@-16(%rbp) 4@$5`, and optionally a semaphore
 * (a counter the program checks before it fires the probe) that the kernel
 * increments while a uprobe with its ref_ctr_offset exists.
 *
 * The BPF side: bpfkit fills the same spec table libbpf's
 * `<bpf/usdt.bpf.h>` reads — the `__bpf_usdt_specs` array map of
 * `struct __bpf_usdt_spec`, one entry per site, with the entry's index as the
 * uprobe's BPF cookie — so a program written with `BPF_USDT(...)` and
 * `bpf_usdt_arg()` / `bpf_usdt_arg_cnt()` / `bpf_usdt_cookie()` works
 * unchanged. Pass that map as `specs` (a collection's
 * `maps.__bpf_usdt_specs`). Without it, the program can still count the
 * probe; `cookie` is then the raw BPF cookie.
 */
import { AttachError, AttachTargetError } from './attach-errors.js';
import { hostUsdtProbes, type UsdtProbe } from './host-elf.js';
import { resolveBinary } from './ld-cache.js';
import { Link, building, type ProgramRef } from './link.js';
import { attachToPerfEvent } from './perf-link.js';
import { openUprobeEvent } from './uprobe.js';
import type { Fd } from './fd.js';

/** How an argument is found (libbpf's enum __bpf_usdt_arg_type). */
export const UsdtArgType = { CONST: 0, REG: 1, REG_DEREF: 2 } as const;

export interface UsdtArg {
  /** The spec as written: `-4@%edi`. */
  text: string;
  /** Size in bytes: 1, 2, 4 or 8. */
  size: number;
  signed: boolean;
  type: (typeof UsdtArgType)[keyof typeof UsdtArgType];
  /** CONST: the value; REG_DEREF: the offset added to the register. */
  value: bigint;
  /** The register (REG, REG_DEREF), as named in the spec. */
  register?: string;
  /** Offset of that register in the kernel's struct pt_regs. */
  regOffset: number;
}

/** libbpf's limit (BPF_USDT_MAX_ARG_CNT): what struct __bpf_usdt_spec has room for. */
export const USDT_MAX_ARGS = 12;
/** sizeof(struct __bpf_usdt_spec): 12 × 16-byte arg specs, a u64 cookie, a short count, padded to 8. */
export const USDT_SPEC_SIZE = 208;

/** struct pt_regs of x86-64 (arch/x86/include/asm/ptrace.h): offset of each 64-bit register. */
const X86_64_PT_REGS: Record<string, number> = {
  r15: 0,
  r14: 8,
  r13: 16,
  r12: 24,
  rbp: 32,
  rbx: 40,
  r11: 48,
  r10: 56,
  r9: 64,
  r8: 72,
  rax: 80,
  rcx: 88,
  rdx: 96,
  rsi: 104,
  rdi: 112,
  rip: 128,
  rsp: 152,
};

/** Every name an x86-64 register goes by in USDT specs (rax, eax, ax, al; r8, r8d, r8w, r8b; ...) → its 64-bit name. */
const X86_64_NAMES: Record<string, string> = (() => {
  const m: Record<string, string> = {};
  for (const r of ['ax', 'bx', 'cx', 'dx']) Object.assign(m, { [`r${r}`]: `r${r}`, [`e${r}`]: `r${r}`, [r]: `r${r}`, [`${r[0]}l`]: `r${r}` });
  for (const r of ['si', 'di', 'bp', 'sp']) Object.assign(m, { [`r${r}`]: `r${r}`, [`e${r}`]: `r${r}`, [r]: `r${r}`, [`${r}l`]: `r${r}` });
  for (let i = 8; i <= 15; i++) Object.assign(m, { [`r${i}`]: `r${i}`, [`r${i}d`]: `r${i}`, [`r${i}w`]: `r${i}`, [`r${i}b`]: `r${i}` });
  m.rip = 'rip';
  m.eip = 'rip';
  return m;
})();

/** struct user_pt_regs of AArch64: regs[31], sp, pc. */
function arm64RegOffset(name: string): number | undefined {
  const m = /^[xw](\d+)$/.exec(name);
  if (m && Number(m[1]) <= 30) return 8 * Number(m[1]);
  if (name === 'sp' || name === 'wsp') return 248;
  if (name === 'pc') return 256;
  return undefined;
}

/** The pt_regs offset of a register as USDT specs name it, for an architecture (default: this one). */
export function usdtRegisterOffset(name: string, arch: string = process.arch): number | undefined {
  if (arch === 'x64') {
    const full = X86_64_NAMES[name];
    return full === undefined ? undefined : X86_64_PT_REGS[full];
  }
  if (arch === 'arm64') return arm64RegOffset(name);
  return undefined;
}

function parseInteger(text: string, spec: string): bigint {
  const m = /^([+-])?(0x[0-9a-fA-F]+|\d+)$/.exec(text.trim());
  if (!m) throw new AttachError(`USDT argument '${spec}': '${text}' is not a number`);
  const v = BigInt(m[2]!);
  return m[1] === '-' ? -v : v;
}

/** Parse one argument spec (`-4@%edi`, `8@-16(%rbp)`, `4@$5`; on AArch64 `-4@x0`, `8@[sp, 16]`, `4@5`). */
export function parseUsdtArg(text: string, arch: string = process.arch): UsdtArg {
  const at = text.indexOf('@');
  let size = 8;
  let signed = false;
  let loc = text;
  if (at >= 0) {
    const sz = Number(text.slice(0, at));
    if (!Number.isInteger(sz) || ![1, 2, 4, 8].includes(Math.abs(sz))) {
      throw new AttachError(`USDT argument '${text}': size ${text.slice(0, at)} is not 1, 2, 4 or 8 (negative for signed)`);
    }
    size = Math.abs(sz);
    signed = sz < 0;
    loc = text.slice(at + 1);
  }
  const reg = (name: string): number => {
    const off = usdtRegisterOffset(name, arch);
    if (off === undefined) throw new AttachError(`USDT argument '${text}': register ${name} is not supported on ${arch}`);
    return off;
  };
  const base = { text, size, signed };
  if (arch === 'x64') {
    let m: RegExpExecArray | null;
    if ((m = /^\$(.+)$/.exec(loc))) return { ...base, type: UsdtArgType.CONST, value: parseInteger(m[1]!, text), regOffset: 0 };
    if ((m = /^%([a-z0-9]+)$/.exec(loc))) return { ...base, type: UsdtArgType.REG, value: 0n, register: m[1]!, regOffset: reg(m[1]!) };
    if ((m = /^([+-]?(?:0x[0-9a-fA-F]+|\d+))?\(%([a-z0-9]+)\)$/.exec(loc))) {
      return { ...base, type: UsdtArgType.REG_DEREF, value: m[1] ? parseInteger(m[1], text) : 0n, register: m[2]!, regOffset: reg(m[2]!) };
    }
    throw new AttachError(`USDT argument '${text}': unsupported location '${loc}' (expected $imm, %reg or off(%reg))`);
  }
  if (arch === 'arm64') {
    let m: RegExpExecArray | null;
    if ((m = /^[+-]?(?:0x[0-9a-fA-F]+|\d+)$/.exec(loc))) return { ...base, type: UsdtArgType.CONST, value: parseInteger(m[0], text), regOffset: 0 };
    if ((m = /^([a-z]+\d*)$/.exec(loc))) return { ...base, type: UsdtArgType.REG, value: 0n, register: m[1]!, regOffset: reg(m[1]!) };
    if ((m = /^\[([a-z]+\d*)(?:\s*,\s*#?([+-]?(?:0x[0-9a-fA-F]+|\d+)))?\]$/.exec(loc))) {
      return { ...base, type: UsdtArgType.REG_DEREF, value: m[2] ? parseInteger(m[2], text) : 0n, register: m[1]!, regOffset: reg(m[1]!) };
    }
    throw new AttachError(`USDT argument '${text}': unsupported location '${loc}' (expected imm, reg or [reg, off])`);
  }
  throw new AttachError(`USDT arguments on ${arch} are not supported`);
}

/** Parse a probe's whole argument string (space-separated specs; empty for none). */
export function parseUsdtArgs(text: string, arch: string = process.arch): UsdtArg[] {
  const parts = text.trim() === '' ? [] : text.trim().split(/\s+/);
  if (parts.length > USDT_MAX_ARGS) throw new AttachError(`USDT probe has ${parts.length} arguments; at most ${USDT_MAX_ARGS} are supported`);
  return parts.map((p) => parseUsdtArg(p, arch));
}

/** The bytes of libbpf's `struct __bpf_usdt_spec` for a probe site's arguments and a user cookie. */
export function encodeUsdtSpec(args: readonly UsdtArg[], cookie = 0n): Uint8Array {
  if (args.length > USDT_MAX_ARGS) throw new AttachError(`at most ${USDT_MAX_ARGS} USDT arguments, not ${args.length}`);
  const out = new Uint8Array(USDT_SPEC_SIZE);
  const v = new DataView(out.buffer);
  args.forEach((a, i) => {
    const p = 16 * i;
    v.setBigUint64(p, BigInt.asUintN(64, a.value), true); // val_off
    v.setUint32(p + 8, a.type, true); // arg_type
    v.setInt16(p + 12, a.regOffset, true); // reg_off
    v.setUint8(p + 14, a.signed ? 1 : 0); // arg_signed
    v.setInt8(p + 15, 64 - 8 * a.size); // arg_bitshift
  });
  v.setBigUint64(192, BigInt.asUintN(64, cookie), true); // usdt_cookie
  v.setInt16(200, args.length, true); // arg_cnt
  return out;
}

/** A map that holds spec entries: what KernelMap offers. */
export interface UsdtSpecMap {
  readonly spec: { readonly name: string; readonly valueSize: number; readonly keySize: number; readonly maxEntries: number };
  update(key: Uint8Array, value: Uint8Array): void;
}

const allocated = new WeakMap<UsdtSpecMap, Set<number>>();

function allocateSpecId(map: UsdtSpecMap): number {
  let used = allocated.get(map);
  if (!used) allocated.set(map, (used = new Set()));
  for (let id = 0; id < map.spec.maxEntries; id++) {
    if (!used.has(id)) {
      used.add(id);
      return id;
    }
  }
  throw new AttachError(`USDT spec map ${map.spec.name} is full (${map.spec.maxEntries} entries in use; raise BPF_USDT_MAX_SPEC_CNT)`);
}

export interface UsdtOptions {
  /** The binary or library (path, library name, program on $PATH). */
  binary: string;
  provider: string;
  name: string;
  /** Only in this process. */
  pid?: number;
  /** The `__bpf_usdt_specs` map of the program's collection, for bpf_usdt_arg() and friends. */
  specs?: UsdtSpecMap;
  /** With `specs`: what bpf_usdt_cookie() returns. Without: the raw BPF cookie. */
  cookie?: bigint;
  /** How the uprobes are made: 'auto' (PMU when there is one), 'pmu', 'tracefs'. */
  mode?: 'auto' | 'pmu' | 'tracefs';
}

/** The sites of USDT probe provider:name in a binary; an error that names what the binary has when there is none. */
export function usdtSites(path: string, provider: string, name: string): UsdtProbe[] {
  const all = hostUsdtProbes(path);
  const sites = all.filter((p) => p.provider === provider && p.name === name);
  if (sites.length === 0) {
    const have = [...new Set(all.map((p) => `${p.provider}:${p.name}`))];
    const list = have.length === 0 ? 'it has no USDT probes' : `it has ${have.slice(0, 10).join(', ')}${have.length > 10 ? `, ... (${have.length})` : ''}`;
    throw new AttachTargetError('usdt', `${provider}:${name}`, `no USDT probe ${provider}:${name} in ${path} (${list})`);
  }
  for (const s of sites) {
    if (s.fileOffset === undefined) throw new AttachError(`USDT probe ${provider}:${name} in ${path} is at 0x${s.address.toString(16)}, outside every loaded segment`);
    if (s.semaphore !== 0n && s.semaphoreOffset === undefined) {
      throw new AttachError(`USDT probe ${provider}:${name} in ${path}: its semaphore at 0x${s.semaphore.toString(16)} is in no section of the file`);
    }
  }
  return sites;
}

/**
 * Attach `prog` (a KPROBE-type program, e.g. libbpf's SEC("usdt")) to every
 * site of USDT probe provider:name: one uprobe per site, with the site's
 * semaphore (ref_ctr_offset) and, with `specs`, its argument spec.
 */
export function attachUsdt(prog: ProgramRef, options: UsdtOptions): Link & { sites: UsdtProbe[] } {
  const path = resolveBinary(options.binary);
  const sites = usdtSites(path, options.provider, options.name);
  const specs = options.specs;
  if (specs && specs.spec.valueSize !== USDT_SPEC_SIZE) {
    throw new AttachError(
      `map ${specs.spec.name} has values of ${specs.spec.valueSize} bytes; USDT specs are libbpf's struct __bpf_usdt_spec (${USDT_SPEC_SIZE} bytes)`,
    );
  }
  const argSpecs = sites.map((s) => parseUsdtArgs(s.args));
  const target = `${path}:${options.provider}:${options.name}`;
  return building((parts) => {
    let first: Fd | undefined;
    sites.forEach((site, i) => {
      let cookie = options.cookie ?? 0n;
      if (specs) {
        const id = allocateSpecId(specs);
        parts.undo(`usdt spec ${id}`, () => allocated.get(specs)?.delete(id));
        const key = new Uint8Array(specs.spec.keySize);
        new DataView(key.buffer).setUint32(0, id, true);
        specs.update(key, encodeUsdtSpec(argSpecs[i]!, options.cookie ?? 0n));
        cookie = BigInt(id);
      }
      const label = `usdt ${target} site ${i} (0x${site.address.toString(16)})`;
      const perf = openUprobeEvent(
        parts,
        { path, offset: site.fileOffset!, label: `${path}:${options.provider}_${options.name}` },
        { pid: options.pid, refCtrOffset: site.semaphoreOffset, mode: options.mode },
      );
      const link = attachToPerfEvent(parts, prog, perf, label, { cookie });
      first ??= link;
    });
    return Object.assign(new Link('usdt', target, parts, first), { sites });
  });
}
