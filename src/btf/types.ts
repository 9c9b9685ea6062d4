/**
 * The BTF type model: one plain object per type, discriminated by `kind`.
 * Type ids index the owning Btf (id 0 is `void`). Referenced types are held
 * by id (`type`), never by object, so the graph can be cyclic (a struct that
 * points to itself) and stays cheap to build for vmlinux's ~130k types.
 *
 * Layout facts come from the kernel's UAPI header include/uapi/linux/btf.h.
 */
import { BtfKind } from '../ebpf/types.js';

/** The numeric BTF_KIND_* values as they are on the wire (src/ebpf/types.ts's table). */
export const BTF_KIND = BtfKind;

export type Kind =
  | 'void'
  | 'int'
  | 'ptr'
  | 'array'
  | 'struct'
  | 'union'
  | 'enum'
  | 'fwd'
  | 'typedef'
  | 'volatile'
  | 'const'
  | 'restrict'
  | 'func'
  | 'func_proto'
  | 'var'
  | 'datasec'
  | 'float'
  | 'decl_tag'
  | 'type_tag'
  | 'enum64';

/** Kind by wire number (index), 'void' standing in for UNKN. */
export const KIND_BY_NUMBER: readonly Kind[] = [
  'void', 'int', 'ptr', 'array', 'struct', 'union', 'enum', 'fwd', 'typedef', 'volatile',
  'const', 'restrict', 'func', 'func_proto', 'var', 'datasec', 'float', 'decl_tag', 'type_tag', 'enum64',
];

/** Wire number of a kind. */
export function kindNumber(kind: Kind): number {
  return KIND_BY_NUMBER.indexOf(kind);
}

/** The upper-case name bpftool prints (INT, FUNC_PROTO, ...). */
export function kindLabel(kind: Kind): string {
  return kind === 'void' ? 'UNKNOWN' : kind.toUpperCase();
}

/** BTF_INT_* encoding bits. */
export const INT_SIGNED = 1;
export const INT_CHAR = 2;
export const INT_BOOL = 4;

/** Linkage of FUNC (btf_func_linkage) and VAR (btf_var_linkage). */
export const LINKAGE_STATIC = 0;
export const LINKAGE_GLOBAL = 1;
export const LINKAGE_EXTERN = 2;

interface Base {
  /** Type id in its Btf. */
  id: number;
  /** Name, '' when anonymous. */
  name: string;
}

export interface VoidType extends Base {
  kind: 'void';
}
export interface IntType extends Base {
  kind: 'int';
  size: number;
  /** INT_SIGNED | INT_CHAR | INT_BOOL bits (4 bits on the wire). */
  encoding: number;
  /** BTF_INT_OFFSET: bit offset of the value inside `size` bytes (0 in practice). */
  bitOffset: number;
  /** BTF_INT_BITS: number of value bits. */
  bits: number;
}
/** PTR, TYPEDEF, VOLATILE, CONST, RESTRICT, TYPE_TAG: a reference to one type. */
export interface RefType extends Base {
  kind: 'ptr' | 'typedef' | 'volatile' | 'const' | 'restrict' | 'type_tag';
  type: number;
}
export interface ArrayType extends Base {
  kind: 'array';
  /** Element type. */
  type: number;
  indexType: number;
  nelems: number;
}
export interface Member {
  name: string;
  type: number;
  /** Bit offset from the start of the struct. */
  bitOffset: number;
  /** Bitfield size in bits, 0 when not a bitfield. */
  bitfieldSize: number;
}
export interface CompositeType extends Base {
  kind: 'struct' | 'union';
  size: number;
  /** kind_flag: member offsets carry bitfield sizes. */
  kindFlag: boolean;
  members: Member[];
}
export interface EnumValue {
  name: string;
  value: number;
}
export interface EnumType extends Base {
  kind: 'enum';
  size: number;
  /** kind_flag: values are signed. */
  signed: boolean;
  values: EnumValue[];
}
export interface Enum64Value {
  name: string;
  /** Signed when the enum is signed, else unsigned. */
  value: bigint;
}
export interface Enum64Type extends Base {
  kind: 'enum64';
  size: number;
  signed: boolean;
  values: Enum64Value[];
}
export interface FwdType extends Base {
  kind: 'fwd';
  /** kind_flag: 'union' when set. */
  fwdKind: 'struct' | 'union';
}
export interface FuncType extends Base {
  kind: 'func';
  /** The FUNC_PROTO. */
  type: number;
  /** LINKAGE_STATIC, LINKAGE_GLOBAL or LINKAGE_EXTERN (the vlen field). */
  linkage: number;
}
export interface Param {
  name: string;
  /** 0 with an empty name for a trailing `...`. */
  type: number;
}
export interface FuncProtoType extends Base {
  kind: 'func_proto';
  /** Return type (0 for void). */
  type: number;
  params: Param[];
}
export interface VarType extends Base {
  kind: 'var';
  type: number;
  /** LINKAGE_STATIC, LINKAGE_GLOBAL (allocated) or LINKAGE_EXTERN. */
  linkage: number;
}
export interface VarSecInfo {
  /** The VAR (or FUNC, for .ksyms) type id. */
  type: number;
  offset: number;
  size: number;
}
export interface DatasecType extends Base {
  kind: 'datasec';
  size: number;
  vars: VarSecInfo[];
}
export interface FloatType extends Base {
  kind: 'float';
  size: number;
}
export interface DeclTagType extends Base {
  kind: 'decl_tag';
  type: number;
  /** -1 for the type itself, else a member / parameter index. */
  componentIdx: number;
}

export type BtfType =
  | VoidType
  | IntType
  | RefType
  | ArrayType
  | CompositeType
  | EnumType
  | Enum64Type
  | FwdType
  | FuncType
  | FuncProtoType
  | VarType
  | DatasecType
  | FloatType
  | DeclTagType;

/** The kinds whose `type` field references another type (and nothing else). */
export function isRef(t: BtfType): t is RefType {
  return (
    t.kind === 'ptr' ||
    t.kind === 'typedef' ||
    t.kind === 'volatile' ||
    t.kind === 'const' ||
    t.kind === 'restrict' ||
    t.kind === 'type_tag'
  );
}

/** const, volatile, restrict, type_tag. */
export function isModifier(t: BtfType): t is RefType {
  return t.kind === 'volatile' || t.kind === 'const' || t.kind === 'restrict' || t.kind === 'type_tag';
}

export function isComposite(t: BtfType): t is CompositeType {
  return t.kind === 'struct' || t.kind === 'union';
}

export function isEnum(t: BtfType): t is EnumType | Enum64Type {
  return t.kind === 'enum' || t.kind === 'enum64';
}

/** The types a type refers to directly, in wire order. */
export function referencedIds(t: BtfType): number[] {
  switch (t.kind) {
    case 'void':
    case 'int':
    case 'fwd':
    case 'float':
    case 'enum':
    case 'enum64':
      return [];
    case 'array':
      return [t.type, t.indexType];
    case 'struct':
    case 'union':
      return t.members.map((m) => m.type);
    case 'func_proto':
      return [t.type, ...t.params.map((p) => p.type)];
    case 'datasec':
      return t.vars.map((v) => v.type);
    default:
      return [t.type];
  }
}
