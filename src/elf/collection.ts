/**
 * loadCollectionSpec: a clang-compiled BPF object → a deterministic
 * CollectionSpec, as libbpf would open and prepare it.
 *
 *  - programs: every STT_FUNC symbol of an executable section whose name
 *    matches libbpf's SEC() table (sections.ts), with bpf-to-bpf callees
 *    appended (link.ts), data relocations turned into map references, externs
 *    resolved and CO-RE relocations applied against the kernel's BTF;
 *  - maps: BTF-defined (.maps), legacy (maps), global data (.data, .rodata,
 *    .bss and variants) and .kconfig;
 *  - variables: typed, settable views of global data (variables.ts).
 *
 * Given the same object and the same kernel facts (config, BTF, kallsyms),
 * the result is the same on every machine.
 */
import { readFileSync, statSync } from 'node:fs';
import type { Btf } from '../btf/btf.js';
import { encodeBtf } from '../btf/encode.js';
import { parseBtf } from '../btf/parse.js';
import type { DatasecType } from '../btf/types.js';
import { BpfkitError } from '../errors.js';
import type { Instruction } from '../ebpf/insn.js';
import { LDDW, PseudoCall, PseudoLd } from '../ebpf/opcodes.js';
import type { CollectionSpec, FuncInfoSpec, LineInfoSpec, MapSpec, ProgramSpec, Reference } from '../ebpf/spec.js';
import { MapType } from '../ebpf/types.js';
import { btfForKernel } from './btf-for-kernel.js';
import { applyCoreToObject, type CoreOptions } from './core-apply.js';
import { ElfError, ElfExternError, ElfRelocationError, ElfSectionError } from './errors.js';
import { collectExterns, kconfigData, parseKallsyms, readKallsyms, type Extern, type KconfigExtern, type KconfigSource } from './externs.js';
import { CALL, linkProgram, type LinkedProgram } from './link.js';
import { BPF_F_MMAPABLE, BPF_F_RDONLY_PROG, btfMaps, dataMap, legacyMaps, type MapDef } from './maps.js';
import { BpfObject, isDataName, relocName, R_BPF } from './object.js';
import { SHF, SHN, SHT } from './reader.js';
import { matchSection } from './sections.js';
import { Variable } from './variables.js';

export interface LoadOptions {
  /** Executable sections whose name libbpf would not recognise: 'warn' and skip (default, like libbpf) or 'error'. */
  unknownSections?: 'warn' | 'error';
  /** Called with each warning (they are also collected in `warnings`). */
  onWarning?: (message: string) => void;
  /** The kernel's BTF for CO-RE, typed ksyms and kfuncs: a Btf, a path, or 'running' (/sys/kernel/btf/vmlinux, the default). */
  kernelBtf?: Btf | string;
  /** Kernel config for .kconfig externs: 'running' (default), config file text, or CONFIG_* → value. */
  kconfig?: KconfigSource;
  /** Kernel release for LINUX_KERNEL_VERSION (default: the running kernel's). */
  kernelRelease?: string;
  /** Kernel symbols for typeless ksyms: /proc/kallsyms text or a name → address map (default: /proc/kallsyms). */
  kallsyms?: string | Map<string, bigint>;
  /** An unsatisfiable CO-RE relocation: 'poison' the instruction like libbpf (default) or throw. */
  core?: CoreOptions['onFailure'];
}

/** A CollectionSpec from an ELF object, with its variables as typed values. */
export interface ElfCollectionSpec extends CollectionSpec {
  variables: Record<string, Variable>;
  license: string;
  kernelVersion?: number;
  /** The object's BTF (after libbpf's fixups), when it has one. */
  objectBtf?: Btf;
  /** Things skipped or worked around, in the order met. */
  warnings: string[];
}

/** Open a BPF object from bytes or a file path. */
export function loadCollectionSpec(input: Uint8Array | string, options: LoadOptions = {}): ElfCollectionSpec {
  let bytes: Uint8Array;
  if (typeof input === 'string') {
    try {
      bytes = readFileSync(input);
    } catch (e) {
      throw new ElfError(`cannot read ${input}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`);
    }
  } else bytes = input;
  try {
    return new Builder(new BpfObject(bytes), options).build();
  } catch (e) {
    if (e instanceof BpfkitError) throw e;
    // A malformed object that slipped past a check: still a typed error, never a crash.
    if (e instanceof RangeError || e instanceof TypeError) {
      throw new ElfError(`malformed object: ${e.message}`);
    }
    throw e;
  }
}

const kernelBtfCache = new Map<string, { mtimeMs: number; btf: Btf }>();

/** Parse (and cache) a kernel BTF file. */
export function kernelBtfFromFile(path: string): Btf {
  let st;
  try {
    st = statSync(path);
  } catch {
    throw new ElfError(`kernel BTF ${path} is not available (CO-RE, typed ksyms and kfuncs need it; pass kernelBtf)`);
  }
  const hit = kernelBtfCache.get(path);
  if (hit && hit.mtimeMs === st.mtimeMs) return hit.btf;
  const btf = parseBtf(readFileSync(path), { section: path });
  kernelBtfCache.set(path, { mtimeMs: st.mtimeMs, btf });
  return btf;
}

class Builder {
  private readonly warnings: string[];
  private readonly mapDefs: MapDef[] = [];
  private readonly maps: Record<string, MapSpec> = {};
  private readonly dataMapBySection = new Map<number, MapSpec>();
  private externs: Extern[] = [];
  private kernelBtfValue: Btf | undefined;
  private kallsymsValue: Map<string, bigint> | undefined;

  constructor(
    private readonly obj: BpfObject,
    private readonly options: LoadOptions,
  ) {
    this.warnings = [];
    for (const w of obj.warnings) this.warn(w);
  }

  private warn(msg: string): void {
    this.warnings.push(msg);
    this.options.onWarning?.(msg);
  }

  kernelBtf(): Btf {
    if (!this.kernelBtfValue) {
      const k = this.options.kernelBtf ?? 'running';
      this.kernelBtfValue = typeof k === 'string' ? kernelBtfFromFile(k === 'running' ? '/sys/kernel/btf/vmlinux' : k) : k;
    }
    return this.kernelBtfValue;
  }

  private kallsyms(): Map<string, bigint> {
    if (!this.kallsymsValue) {
      const k = this.options.kallsyms;
      if (k === undefined) this.kallsymsValue = readKallsyms();
      else if (typeof k === 'string') this.kallsymsValue = parseKallsyms(k);
      else this.kallsymsValue = k;
    }
    return this.kallsymsValue;
  }

  build(): ElfCollectionSpec {
    const obj = this.obj;
    this.checkSections();

    // Maps: BTF-defined, legacy, global data, .kconfig.
    for (const d of [...btfMaps(obj), ...legacyMaps(obj)]) this.addMap(d);
    for (const sec of obj.dataSections()) {
      const d = dataMap(obj, sec);
      this.addMap(d);
      this.dataMapBySection.set(sec.index, d.spec);
    }
    this.externs = collectExterns(obj);
    const kcfg = this.externs.filter((e): e is KconfigExtern => e.kind === 'kconfig');
    if (kcfg.length > 0) {
      const last = kcfg.reduce((m, e) => Math.max(m, e.offset + e.size), 0);
      const data = kconfigData(kcfg, last, obj.littleEndian, this.options);
      const spec: MapSpec = {
        name: '.kconfig',
        type: MapType.ARRAY,
        keySize: 4,
        valueSize: last,
        maxEntries: 1,
        flags: BPF_F_RDONLY_PROG | BPF_F_MMAPABLE,
        data,
        freeze: true,
      };
      const ds = obj.btf?.find('.kconfig', 'datasec');
      if (ds) {
        spec.btfKeyTypeId = 0;
        spec.btfValueTypeId = ds.id;
      }
      this.addMap({ spec, shndx: -1, offset: 0, size: last });
    }

    // CO-RE first (on the sections' code, like libbpf), then link and relocate each program.
    applyCoreToObject(obj, { target: () => this.kernelBtf(), onFailure: this.options.core ?? 'poison', warn: (m) => this.warn(m) });

    // Programs, in section order then by offset.
    const programs: Record<string, ProgramSpec> = {};
    for (const cs of obj.codeSections.values()) {
      if (cs.name === '.text') continue;
      // libbpf's SEC("?name"): like SEC("name"), but not loaded automatically.
      const optional = cs.name.startsWith('?');
      const secName = optional ? cs.name.slice(1) : cs.name;
      const m = matchSection(secName);
      if (!m) continue; // reported by checkSections
      for (const fn of cs.functions) {
        if (!fn.global) throw new ElfError(`program '${fn.name}' is static; programs must be global functions`, { section: cs.name, symbol: fn.name });
        const linked = linkProgram(obj, fn);
        const references = this.relocate(linked);
        const prog: ProgramSpec = {
          name: fn.name,
          type: m.def.type,
          section: secName,
          license: obj.license,
          instructions: linked.insns,
          references,
        };
        if (m.def.attachType !== undefined) prog.attachType = m.def.attachType;
        if (m.attachTo !== undefined) prog.attachTo = m.attachTo;
        if (m.def.flags !== 0) prog.flags = m.def.flags;
        if (optional) prog.autoload = false;
        if (obj.kernelVersion !== undefined) prog.kernelVersion = obj.kernelVersion;
        this.attachBtfInfo(linked, prog);
        if (programs[fn.name]) throw new ElfError('program defined twice', { symbol: fn.name });
        programs[fn.name] = prog;
      }
    }

    const out: ElfCollectionSpec = {
      programs,
      maps: this.maps,
      variables: this.variables(),
      license: obj.license,
      warnings: this.warnings,
    };
    if (obj.kernelVersion !== undefined) out.kernelVersion = obj.kernelVersion;
    if (obj.btf) {
      out.objectBtf = obj.btf;
      const hidden = new Set([...obj.functions.values()].filter((f) => f.hidden).map((f) => f.name));
      out.btf = encodeBtf(btfForKernel(obj.btf, hidden));
    }
    return out;
  }

  private addMap(d: MapDef): void {
    if (this.maps[d.spec.name]) throw new ElfError(`map '${d.spec.name}' is defined twice`, { symbol: d.spec.name });
    this.mapDefs.push(d);
    this.maps[d.spec.name] = d.spec;
  }

  /** Unknown sections: warn like libbpf, or fail when asked to. */
  private checkSections(): void {
    for (const s of this.obj.elf.sections) {
      const exec = s.type === SHT.PROGBITS && (s.flags & SHF.EXECINSTR) !== 0;
      if (exec) {
        if (s.name === '.text' || s.size === 0 || matchSection(s.name.startsWith('?') ? s.name.slice(1) : s.name)) continue;
        const msg = `section '${s.name}': no libbpf SEC() convention matches this name; its programs are skipped`;
        if (this.options.unknownSections === 'error') throw new ElfSectionError('no libbpf SEC() convention matches this section name', { section: s.name });
        this.warn(msg);
        continue;
      }
      if ((s.flags & SHF.ALLOC) === 0 || (s.type !== SHT.PROGBITS && s.type !== SHT.NOBITS) || s.size === 0) continue;
      if (isDataName(s.name) || s.name === '.bss' || s.name.startsWith('.bss.') || ['.maps', 'maps', 'license', 'version'].includes(s.name)) continue;
      if (this.options.unknownSections === 'error') throw new ElfSectionError('unrecognised data section', { section: s.name });
      this.warn(`section '${s.name}': unrecognised data section, skipped`);
    }
  }

  /** Turn relocations into map references, resolve externs. */
  private relocate(linked: LinkedProgram): Reference[] {
    const refs: Reference[] = [];
    const insns = linked.insns;
    for (const pr of linked.relocations) {
      const { at, relo } = pr;
      const ins = insns[at]!;
      const sym = relo.symbol;
      const where = { section: pr.fn.section.name, symbol: sym.name, offset: relo.insn * 8 };
      if (relo.type !== R_BPF.R_64_64 && relo.type !== R_BPF.R_64_32) {
        throw new ElfRelocationError(`${relocName(relo.type)} is not supported on an instruction`, where);
      }
      if (ins.code === CALL) {
        if (relo.type !== R_BPF.R_64_32) throw new ElfRelocationError(`${relocName(relo.type)} cannot relocate a call`, where);
        if (sym.shndx === SHN.UNDEF) this.externCall(ins, at, sym.name, refs, where);
        continue; // bpf-to-bpf calls were linked
      }
      if (ins.code !== LDDW) {
        throw new ElfRelocationError(`${relocName(relo.type)} against an instruction that is neither ld_imm64 nor call (opcode 0x${ins.code.toString(16)})`, where);
      }
      if (relo.type !== R_BPF.R_64_64) throw new ElfRelocationError(`${relocName(relo.type)} cannot relocate ld_imm64`, where);
      if (ins.src === PseudoLd.FUNC) continue; // linked
      const hi = insns[at + 1];
      if (!hi || hi.code !== 0) throw new ElfRelocationError('ld_imm64 is missing its second slot', where);
      if (sym.shndx === SHN.UNDEF) {
        this.externLoad(ins, hi, at, sym.name, refs, where);
        continue;
      }
      const sec = this.obj.symbolSection(sym);
      if (!sec) throw new ElfRelocationError(`symbol is in special section ${sym.shndx}`, where);
      const def = this.mapDefs.find((d) => d.shndx === sec.index && d.offset === Number(sym.value) && (sec.name === '.maps' || sec.name === 'maps'));
      if (def) {
        ins.src = PseudoLd.MAP_FD;
        ins.imm = 0;
        refs.push({ kind: 'map', index: at, map: def.spec.name });
        continue;
      }
      if (sec.name === '.maps' || sec.name === 'maps') throw new ElfRelocationError(`no map definition at offset ${sym.value} of ${sec.name}`, where);
      const data = this.dataMapBySection.get(sec.index);
      if (data) {
        const off = ins.imm + Number(sym.value);
        if (off < 0 || off > data.valueSize) throw new ElfRelocationError(`offset ${off} is outside ${sec.name} (${data.valueSize} bytes)`, where);
        ins.src = PseudoLd.MAP_VALUE;
        ins.imm = 0;
        hi.imm = off;
        refs.push({ kind: 'mapValue', index: at, map: data.name, offset: off });
        continue;
      }
      if (this.obj.codeSections.has(sec.index)) {
        throw new ElfRelocationError('ld_imm64 of a function address must have src_reg BPF_PSEUDO_FUNC', where);
      }
      throw new ElfRelocationError(`relocation against section '${sec.name}', which holds neither maps nor global data`, where);
    }
    return refs;
  }

  private extern(name: string, where: { section: string; symbol: string; offset: number }): Extern {
    const e = this.externs.find((x) => x.name === name);
    if (!e) throw new ElfExternError('undefined symbol is not a known extern', where);
    return e;
  }

  private externCall(ins: Instruction, at: number, name: string, refs: Reference[], where: { section: string; symbol: string; offset: number }): void {
    const e = this.extern(name, where);
    if (e.kind !== 'ksym' || e.form !== 'func') throw new ElfExternError('called, but is not an extern function (__ksym)', where);
    const target = this.kernelBtf().byName(name, 'func')[0];
    ins.src = PseudoCall.KFUNC;
    ins.off = 0;
    if (!target) {
      if (!e.weak) throw new ElfExternError('kfunc not found in the kernel BTF', where);
      ins.imm = 0; // weak and absent (as libbpf leaves it): the program must not reach this call; nothing to resolve
      return;
    }
    ins.imm = target.id;
    refs.push({ kind: 'kfunc', index: at, name });
  }

  private externLoad(ins: Instruction, hi: Instruction, at: number, name: string, refs: Reference[], where: { section: string; symbol: string; offset: number }): void {
    const e = this.extern(name, where);
    if (e.kind === 'kconfig') {
      ins.src = PseudoLd.MAP_VALUE;
      ins.imm = 0;
      hi.imm = e.offset;
      refs.push({ kind: 'mapValue', index: at, map: '.kconfig', offset: e.offset });
      return;
    }
    if (e.form === 'func') throw new ElfExternError('address of a kfunc is not supported', where);
    if (e.form === 'typed') {
      const target = this.kernelBtf().byName(name, 'var')[0];
      if (!target) {
        if (!e.weak) throw new ElfExternError('typed ksym not found as a VAR in the kernel BTF', where);
        ins.src = 0;
        ins.imm = 0;
        hi.imm = 0;
        return;
      }
      ins.src = PseudoLd.BTF_ID;
      ins.imm = target.id;
      hi.imm = 0;
      refs.push({ kind: 'ksym', index: at, name });
      return;
    }
    const addr = this.kallsyms().get(name);
    if (addr === undefined && !e.weak) throw new ElfExternError('typeless ksym not found in /proc/kallsyms', where);
    const v = addr ?? 0n;
    ins.src = 0;
    ins.imm = Number(BigInt.asIntN(32, v & 0xffffffffn));
    hi.imm = Number(BigInt.asIntN(32, v >> 32n));
  }

  private attachBtfInfo(linked: LinkedProgram, prog: ProgramSpec): void {
    const ext = this.obj.ext;
    if (!ext) return;
    const funcInfo: FuncInfoSpec[] = [];
    const lineInfo: LineInfoSpec[] = [];
    for (const { fn, at } of linked.placed) {
      const fi = ext.funcInfo.find((s) => s.section === fn.section.name);
      for (const r of fi?.records ?? []) {
        const idx = r.insnOff / 8;
        if (idx >= fn.start && idx < fn.start + fn.count) funcInfo.push({ insn: at + idx - fn.start, typeId: r.typeId });
      }
      const li = ext.lineInfo.find((s) => s.section === fn.section.name);
      for (const r of li?.records ?? []) {
        const idx = r.insnOff / 8;
        if (idx >= fn.start && idx < fn.start + fn.count) {
          lineInfo.push({ insn: at + idx - fn.start, fileName: r.fileName, line: r.line, lineNum: r.lineNum, column: r.column });
        }
      }
    }
    if (funcInfo.length > 0) prog.funcInfo = funcInfo;
    if (lineInfo.length > 0) prog.lineInfo = lineInfo;
  }

  private variables(): Record<string, Variable> {
    const out: Record<string, Variable> = {};
    const btf = this.obj.btf;
    if (!btf) return out;
    for (const t of btf.ownTypes()) {
      if (t.kind !== 'datasec') continue;
      const ds = t as DatasecType;
      const spec = this.maps[ds.name];
      if (!spec || !spec.data) continue;
      for (const v of ds.vars) {
        const vt = btf.type(v.type);
        if (vt.kind !== 'var') continue;
        if (out[vt.name]) {
          this.warn(`variable '${vt.name}' appears in more than one data section; keeping the one in ${out[vt.name]!.map}`);
          continue;
        }
        out[vt.name] = new Variable(vt.name, spec, v.offset, v.size, this.obj.littleEndian, btf, vt.type);
      }
    }
    return out;
  }
}
