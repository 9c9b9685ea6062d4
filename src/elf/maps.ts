/**
 * Map definitions: BTF-defined maps in `.maps` (libbpf's __uint/__type/__array
 * conventions), the legacy `maps` section (struct bpf_map_def), and the
 * one-entry array maps that hold global data (.data, .rodata, .bss and their
 * .data.*, .rodata.*, .bss.* variants).
 *
 * BTF-defined map fields: an integer `name` is `int (*name)[value]` (a pointer
 * to an array whose length is the value); `key`/`value` are `T *` (their
 * size and BTF id come from T); `values` is a zero-length array of pointers to
 * the inner map's definition (maps of maps) or to a function prototype (prog
 * arrays), and its relocations in `.rel.maps` name the initial entries.
 */
import type { Btf } from '../btf/btf.js';
import type { BtfType, CompositeType } from '../btf/types.js';
import { LINKAGE_STATIC } from '../btf/types.js';
import type { MapEntrySpec, MapSpec } from '../ebpf/spec.js';
import { MapType, nameOf } from '../ebpf/types.js';
import { ElfError, ElfRelocationError } from './errors.js';
import { isReadOnlyData, relocName, R_BPF, type BpfObject } from './object.js';
import { SHT, STT, type ElfSection } from './reader.js';

/** BPF_F_RDONLY_PROG and BPF_F_MMAPABLE. */
export const BPF_F_RDONLY_PROG = 1 << 7;
export const BPF_F_MMAPABLE = 1 << 10;

/** A map definition and where it lives in the object. */
export interface MapDef {
  spec: MapSpec;
  /** Section index and offset of the definition (for relocations against it). */
  shndx: number;
  offset: number;
  size: number;
  /** Byte offset of the `values` member inside the definition (BTF maps with initialisers). */
  valuesOffset?: number;
}

const MAP_IN_MAP = new Set<number>([MapType.ARRAY_OF_MAPS, MapType.HASH_OF_MAPS]);

/** Map types the kernel creates without BTF key/value types; libbpf drops them, and so do we. */
const NO_BTF_KV = new Set<number>([
  MapType.PERF_EVENT_ARRAY,
  MapType.CGROUP_ARRAY,
  MapType.STACK_TRACE,
  MapType.ARRAY_OF_MAPS,
  MapType.HASH_OF_MAPS,
  MapType.DEVMAP,
  MapType.DEVMAP_HASH,
  MapType.CPUMAP,
  MapType.XSKMAP,
  MapType.SOCKMAP,
  MapType.SOCKHASH,
  MapType.QUEUE,
  MapType.STACK,
]);

function skipMods(btf: Btf, id: number): BtfType {
  return btf.resolve(id);
}

/** The integer of `int (*name)[N]`. */
function uintMember(btf: Btf, mapName: string, member: string, typeId: number): number {
  const t = skipMods(btf, typeId);
  if (t.kind !== 'ptr') throw new ElfError(`map '${mapName}': field '${member}' is not a pointer (${t.kind})`, { section: '.maps', typeId });
  const a = skipMods(btf, t.type);
  if (a.kind !== 'array') throw new ElfError(`map '${mapName}': field '${member}' is not a pointer to an array`, { section: '.maps', typeId });
  return a.nelems;
}

/** Parse one BTF map definition struct. */
function parseBtfMapDef(btf: Btf, name: string, def: CompositeType, inner: boolean): { spec: MapSpec; valuesOffset?: number; valuesTarget?: 'maps' | 'progs' } {
  const spec: MapSpec = { name, type: MapType.UNSPEC, keySize: 0, valueSize: 0, maxEntries: 0, flags: 0 };
  let keyType: number | undefined;
  let valueType: number | undefined;
  let valuesOffset: number | undefined;
  let valuesTarget: 'maps' | 'progs' | undefined;
  const where = { section: '.maps', typeId: def.id };
  for (let i = 0; i < def.members.length; i++) {
    const m = def.members[i]!;
    switch (m.name) {
      case 'type':
        spec.type = uintMember(btf, name, m.name, m.type) as MapType;
        break;
      case 'max_entries':
        spec.maxEntries = uintMember(btf, name, m.name, m.type);
        break;
      case 'map_flags':
        spec.flags = uintMember(btf, name, m.name, m.type);
        break;
      case 'numa_node':
        spec.numaNode = uintMember(btf, name, m.name, m.type);
        break;
      case 'map_extra':
        spec.mapExtra = BigInt(uintMember(btf, name, m.name, m.type));
        break;
      case 'key_size':
      case 'value_size': {
        const v = uintMember(btf, name, m.name, m.type);
        const cur = m.name === 'key_size' ? spec.keySize : spec.valueSize;
        if (cur !== 0 && cur !== v) throw new ElfError(`map '${name}': conflicting ${m.name} ${cur} and ${v}`, where);
        if (m.name === 'key_size') spec.keySize = v;
        else spec.valueSize = v;
        break;
      }
      case 'key':
      case 'value': {
        const p = skipMods(btf, m.type);
        if (p.kind !== 'ptr') throw new ElfError(`map '${name}': ${m.name} type is not a pointer (${p.kind})`, where);
        const size = btf.sizeOf(p.type);
        const cur = m.name === 'key' ? spec.keySize : spec.valueSize;
        if (cur !== 0 && cur !== size) throw new ElfError(`map '${name}': conflicting ${m.name} size ${cur} and ${size}`, where);
        if (m.name === 'key') {
          spec.keySize = size;
          keyType = p.type;
        } else {
          spec.valueSize = size;
          valueType = p.type;
        }
        break;
      }
      case 'pinning': {
        const v = uintMember(btf, name, m.name, m.type);
        if (v !== 0 && v !== 1) throw new ElfError(`map '${name}': invalid pinning value ${v} (0 none, 1 by name)`, where);
        spec.pinning = v === 1 ? 'byName' : 'none';
        break;
      }
      case 'values': {
        if (inner) throw new ElfError(`map '${name}': multi-level inner maps are not supported`, where);
        if (i !== def.members.length - 1) throw new ElfError(`map '${name}': 'values' must be the last field`, where);
        if (!MAP_IN_MAP.has(spec.type) && spec.type !== MapType.PROG_ARRAY) {
          throw new ElfError(`map '${name}': 'values' needs a map-in-map or prog array, not ${nameOf(MapType, spec.type) ?? spec.type}`, where);
        }
        if (spec.valueSize !== 0 && spec.valueSize !== 4) throw new ElfError(`map '${name}': conflicting value size ${spec.valueSize} and 4`, where);
        spec.valueSize = 4;
        const arr = skipMods(btf, m.type);
        if (arr.kind !== 'array') throw new ElfError(`map '${name}': 'values' is not an array`, where);
        const ptr = skipMods(btf, arr.type);
        if (ptr.kind !== 'ptr') throw new ElfError(`map '${name}': 'values' is not an array of pointers`, where);
        const target = skipMods(btf, ptr.type);
        valuesOffset = m.bitOffset / 8;
        if (spec.type === MapType.PROG_ARRAY) {
          if (target.kind !== 'func_proto') throw new ElfError(`map '${name}': prog array 'values' must point to a function prototype`, where);
          valuesTarget = 'progs';
        } else {
          if (target.kind !== 'struct') throw new ElfError(`map '${name}': inner map definition is not a struct (${target.kind})`, where);
          spec.innerMap = parseBtfMapDef(btf, `${name}.inner`, target, true).spec;
          valuesTarget = 'maps';
        }
        break;
      }
      default:
        throw new ElfError(`map '${name}': unknown field '${m.name}'`, where);
    }
  }
  if (spec.type === MapType.UNSPEC && !inner) throw new ElfError(`map '${name}': no map type`, where);
  if (keyType !== undefined) spec.btfKeyTypeId = keyType;
  if (valueType !== undefined) spec.btfValueTypeId = valueType;
  const out: { spec: MapSpec; valuesOffset?: number; valuesTarget?: 'maps' | 'progs' } = { spec };
  if (valuesOffset !== undefined) out.valuesOffset = valuesOffset;
  if (valuesTarget !== undefined) out.valuesTarget = valuesTarget;
  return out;
}

/** BTF-defined maps from the `.maps` section, in definition order (by offset). */
export function btfMaps(obj: BpfObject): MapDef[] {
  const sec = obj.elf.section('.maps');
  if (!sec) return [];
  const btf = obj.btf;
  if (!btf) throw new ElfError('BTF-defined maps need BTF, but the object has no .BTF section (compile with -g)', { section: '.maps' });
  const ds = btf.find('.maps', 'datasec');
  if (!ds || ds.kind !== 'datasec') throw new ElfError('has no BTF DATASEC describing it', { section: '.maps' });
  const defs: MapDef[] = [];
  for (const v of ds.vars) {
    const vt = btf.type(v.type);
    if (vt.kind !== 'var') throw new ElfError(`DATASEC entry is a ${vt.kind}, not a VAR`, { section: '.maps', typeId: v.type });
    const st = btf.resolve(vt.type);
    if (st.kind !== 'struct') throw new ElfError(`map '${vt.name}': definition is a ${st.kind}, not a struct`, { section: '.maps', typeId: vt.type });
    const parsed = parseBtfMapDef(btf, vt.name, st, false);
    const def: MapDef = { spec: parsed.spec, shndx: sec.index, offset: v.offset, size: v.size };
    if (parsed.valuesOffset !== undefined) def.valuesOffset = parsed.valuesOffset;
    defs.push(def);
  }
  defs.sort((a, b) => a.offset - b.offset);
  for (const d of defs) {
    if (NO_BTF_KV.has(d.spec.type)) {
      delete d.spec.btfKeyTypeId;
      delete d.spec.btfValueTypeId;
    }
  }
  applyMapInitialisers(obj, sec, defs);
  return defs;
}

/** `.values = { [i] = &map_or_prog }`: relocations in .rel.maps become initial entries. */
function applyMapInitialisers(obj: BpfObject, sec: ElfSection, defs: MapDef[]): void {
  const rel = obj.elf.sections.find((s) => (s.type === SHT.REL || s.type === SHT.RELA) && s.info === sec.index);
  if (!rel) return;
  for (const r of obj.elf.relocations(rel)) {
    const off = Number(r.offset);
    const sym = obj.symbols[r.symbol];
    if (!sym) throw new ElfRelocationError(`symbol index ${r.symbol} is out of range`, { section: rel.name, offset: off });
    if (r.type !== R_BPF.ABS64 && r.type !== R_BPF.R_64_64) {
      throw new ElfRelocationError(`${relocName(r.type)} is not supported in .maps (want R_BPF_64_ABS64)`, { section: rel.name, symbol: sym.name, offset: off });
    }
    const def = defs.find((d) => off >= d.offset && off < d.offset + d.size);
    if (!def || def.valuesOffset === undefined || off < def.offset + def.valuesOffset) {
      throw new ElfRelocationError(`relocation at offset ${off} is not inside a map's 'values'`, { section: '.maps', symbol: sym.name, offset: off });
    }
    const rel8 = off - def.offset - def.valuesOffset;
    if (rel8 % 8 !== 0) throw new ElfRelocationError('misaligned values entry', { section: '.maps', symbol: sym.name, offset: off });
    const index = rel8 / 8;
    if (index >= def.spec.maxEntries) {
      throw new ElfError(`map '${def.spec.name}': initial value at index ${index} is past max_entries ${def.spec.maxEntries}`, { section: '.maps', symbol: sym.name });
    }
    let value: MapEntrySpec['value'];
    if (def.spec.type === MapType.PROG_ARRAY) {
      if (sym.type !== STT.FUNC || !obj.codeSections.has(sym.shndx)) {
        throw new ElfError(`map '${def.spec.name}': initial value '${sym.name}' is not a program`, { section: '.maps', symbol: sym.name });
      }
      value = { program: sym.name };
    } else {
      if (sym.shndx !== sec.index) throw new ElfError(`map '${def.spec.name}': initial value '${sym.name}' is not a map`, { section: '.maps', symbol: sym.name });
      const target = defs.find((d) => d.offset === Number(sym.value));
      if (!target) throw new ElfError(`map '${def.spec.name}': initial value '${sym.name}' is not a map definition`, { section: '.maps', symbol: sym.name });
      value = { map: target.spec.name };
    }
    const key = new Uint8Array(4);
    new DataView(key.buffer).setUint32(0, index, obj.littleEndian);
    (def.spec.contents ??= []).push({ key, value });
  }
  for (const d of defs) d.spec.contents?.sort((a, b) => compareBytes(a.key, b.key, obj.littleEndian));
}

function compareBytes(a: Uint8Array, b: Uint8Array, le: boolean): number {
  const va = new DataView(a.buffer, a.byteOffset).getUint32(0, le);
  const vb = new DataView(b.buffer, b.byteOffset).getUint32(0, le);
  return va - vb;
}

/** Legacy `struct bpf_map_def` maps in the `maps` section (one per symbol). */
export function legacyMaps(obj: BpfObject): MapDef[] {
  const sec = obj.elf.section('maps');
  if (!sec) return [];
  const data = obj.elf.data(sec);
  const syms = obj.symbols
    .filter((s) => s.shndx === sec.index && s.type !== STT.SECTION && s.name !== '' && s.type !== STT.FILE)
    .sort((a, b) => Number(a.value - b.value));
  if (syms.length === 0) return [];
  const defSize = Math.floor(sec.size / syms.length);
  if (defSize < 20 || sec.size % syms.length !== 0) {
    throw new ElfError(`${syms.length} map symbols in ${sec.size} bytes: not whole struct bpf_map_def entries`, { section: 'maps' });
  }
  const view = new DataView(data.buffer, data.byteOffset, data.byteLength);
  return syms.map((sym) => {
    const off = Number(sym.value);
    if (off % defSize !== 0 || off + defSize > sec.size) throw new ElfError(`map definition at offset ${off} is misplaced`, { section: 'maps', symbol: sym.name });
    for (let i = 20; i < defSize; i++) {
      if (data[off + i] !== 0) throw new ElfError(`map '${sym.name}': unsupported non-zero fields past struct bpf_map_def`, { section: 'maps', symbol: sym.name, offset: off + i });
    }
    const u = (i: number) => view.getUint32(off + i * 4, obj.littleEndian);
    const spec: MapSpec = { name: sym.name, type: u(0) as MapType, keySize: u(1), valueSize: u(2), maxEntries: u(3), flags: u(4) };
    return { spec, shndx: sec.index, offset: off, size: defSize };
  });
}

/** The global-data map for a data section. */
/** Larger than any array map value the kernel accepts (KMALLOC_MAX_SIZE is a few MiB). */
export const MAX_DATA_SECTION = 1 << 26;

export function dataMap(obj: BpfObject, sec: ElfSection): MapDef {
  if (sec.size > MAX_DATA_SECTION) throw new ElfError(`${sec.size} bytes of global data is more than a map value can hold`, { section: sec.name });
  const ro = isReadOnlyData(sec.name);
  const data = sec.type === SHT.NOBITS ? new Uint8Array(sec.size) : obj.elf.data(sec).slice();
  const ds = obj.btf?.find(sec.name, 'datasec');
  // Like libbpf, mmapable only when BTF describes at least one non-static variable (not for .rodata.str1.1).
  const mmapable =
    ds?.kind === 'datasec' &&
    ds.vars.some((v) => {
      const t = obj.btf!.tryType(v.type);
      return t?.kind === 'var' && t.linkage !== LINKAGE_STATIC;
    });
  const spec: MapSpec = {
    name: sec.name,
    type: MapType.ARRAY,
    keySize: 4,
    valueSize: sec.size,
    maxEntries: 1,
    flags: (ro ? BPF_F_RDONLY_PROG : 0) | (mmapable ? BPF_F_MMAPABLE : 0),
    data,
  };
  if (ro) spec.freeze = true;
  if (ds) {
    spec.btfKeyTypeId = 0;
    spec.btfValueTypeId = ds.id;
  }
  return { spec, shndx: sec.index, offset: 0, size: sec.size };
}

