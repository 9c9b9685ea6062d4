/**
 * Specs: plain, deterministic data describing programs and maps before any
 * engine has made them live (cilium/ebpf's CollectionSpec is the model).
 * Front ends (the assembler, the builder, the ELF loader, the tracing
 * compiler) produce them; engines (src/vm, src/kernel) consume them.
 *
 * Only add optional fields here; every engine must keep working with specs
 * that lack them.
 */
import type { Instruction } from './insn.js';
import type { AttachType, MapType, ProgType } from './types.js';

/** A place in a program's instructions that names something to be resolved at load time. */
export type Reference =
  /** LDDW with src=PSEUDO_MAP_FD: becomes the map's fd (kernel) or handle (VM). */
  | { kind: 'map'; index: number; map: string }
  /** LDDW with src=PSEUDO_MAP_VALUE: the address of byte `offset` of the map's value 0 (global data). */
  | { kind: 'mapValue'; index: number; map: string; offset: number }
  /** CALL with src=PSEUDO_KFUNC_CALL: a kernel function by name, resolved to its BTF id. */
  | { kind: 'kfunc'; index: number; name: string }
  /** LDDW with src=PSEUDO_BTF_ID: a kernel symbol (ksym extern). */
  | { kind: 'ksym'; index: number; name: string };

export interface MapSpec {
  name: string;
  type: MapType;
  keySize: number;
  valueSize: number;
  maxEntries: number;
  /** BPF_F_* map flags. */
  flags: number;
  numaNode?: number;
  /** map_extra: bloom filter hash count, arena address, ... */
  mapExtra?: bigint;
  /** libbpf's LIBBPF_PIN_BY_NAME. */
  pinning?: 'none' | 'byName';
  /** For array/hash of maps: the template every inner map must match. */
  innerMap?: MapSpec;
  /** Initial entries, written after creation (before freezing). */
  contents?: MapEntrySpec[];
  /**
   * Global data sections (.data, .rodata, .bss, .data.*, .rodata.*): the
   * initial bytes of value 0. The map is a one-entry array.
   */
  data?: Uint8Array;
  /** Freeze after creation, so programs see it read-only (.rodata, .kconfig). */
  freeze?: boolean;
  /** BTF type ids of key and value in the collection's BTF, when known. */
  btfKeyTypeId?: number;
  btfValueTypeId?: number;
}

export interface MapEntrySpec {
  key: Uint8Array;
  /** Bytes, or for prog arrays / maps of maps the name of a program or map of the collection. */
  value: Uint8Array | { program: string } | { map: string };
}

export interface ProgramSpec {
  /** The function's symbol name. */
  name: string;
  type: ProgType;
  /** expected_attach_type. */
  attachType?: AttachType;
  /** What to attach to: a function, `category/name` tracepoint, a cgroup hook detail, ... */
  attachTo?: string;
  /** The ELF section it came from, when it came from one. */
  section?: string;
  license: string;
  kernelVersion?: number;
  /** prog_flags (BPF_F_SLEEPABLE, BPF_F_XDP_HAS_FRAGS, ...). */
  flags?: number;
  /** false for libbpf's SEC("?...") programs: not loaded with the collection unless asked for. */
  autoload?: boolean;
  /** Slots, with bpf-to-bpf callees already appended and their offsets resolved. */
  instructions: Instruction[];
  /** What must be resolved at load. */
  references: Reference[];
  /** BTF func_info (from an ELF object's .BTF.ext): where each function starts, with its FUNC type id in the collection's BTF. */
  funcInfo?: FuncInfoSpec[];
  /** BTF line_info: the source line of instructions, for disassembly and verifier logs. */
  lineInfo?: LineInfoSpec[];
}

export interface FuncInfoSpec {
  /** Slot index in `instructions`. */
  insn: number;
  /** FUNC type id in CollectionSpec.btf. */
  typeId: number;
}

export interface LineInfoSpec {
  /** Slot index in `instructions`. */
  insn: number;
  fileName: string;
  /** The source line's text. */
  line: string;
  lineNum: number;
  column: number;
}

/** A global variable of a data section (.data, .rodata, .bss, .kconfig, ...), as BTF describes it. */
export interface VariableSpec {
  name: string;
  /** The map holding it (a data-section map). */
  map: string;
  offset: number;
  size: number;
  /** The VAR's type id in CollectionSpec.btf. */
  btfTypeId?: number;
}

export interface CollectionSpec {
  programs: Record<string, ProgramSpec>;
  maps: Record<string, MapSpec>;
  /** Global variables by name (objects from clang): where they live in the data maps. */
  variables?: Record<string, VariableSpec>;
  /** Raw BTF of the collection (type ids in funcInfo, btfKeyTypeId, ... refer to it). */
  btf?: Uint8Array;
}
