/**
 * Btf: a parsed (or built) set of BTF types with lookups by id, name and kind,
 * sizes and alignments the way libbpf computes them, and resolution through
 * typedefs and qualifiers. Split BTF (a kernel module's) has a base Btf: ids
 * below `firstId` and string offsets below the base's length belong to it.
 */
import { BtfError } from './errors.js';
import type { BtfSource } from './parse.js';
import { StringTable } from './strings.js';
import type { BtfType, CompositeType, Kind, Member, RefType, VoidType } from './types.js';
import { isModifier } from './types.js';

/** Length of `name` without a `___flavor` suffix (the last X___Y, X and Y not '_'). */
export function essentialLength(name: string): number {
  for (let i = name.length - 5; i >= 0; i--) {
    if (
      name.charCodeAt(i) !== 95 &&
      name.charCodeAt(i + 1) === 95 &&
      name.charCodeAt(i + 2) === 95 &&
      name.charCodeAt(i + 3) === 95 &&
      name.charCodeAt(i + 4) !== 95
    ) {
      return i + 1;
    }
  }
  return name.length;
}

/** How deep types may nest by value (structs in structs...) before we call it corrupt. */
const MAX_NESTING = 2000;
/** alignCache marker for a type whose alignment is being computed. */
const IN_PROGRESS = 255;

/** How many typedef/qualifier/array hops a resolution may take (libbpf uses 32). */
export const MAX_RESOLVE_DEPTH = 32;

/** The type interface whose `kind` includes K (CompositeType for 'struct', RefType for 'ptr', ...). */
export type TypeOfKind<K extends Kind> = BtfType extends infer T
  ? T extends { kind: infer TK }
    ? K extends TK
      ? T
      : never
    : never
  : never;

const VOID: VoidType = Object.freeze({ id: 0, kind: 'void', name: '' }) as VoidType;

export interface BtfOptions {
  littleEndian?: boolean;
  base?: Btf | undefined;
}

export class Btf {
  readonly littleEndian: boolean;
  readonly base: Btf | undefined;
  /** The first id this Btf owns: 1, or the base's length for split BTF. */
  readonly firstId: number;
  /** String section (its own part; offsets into the base resolve through it). */
  readonly strings: StringTable;
  /** Own types by position (id - firstId); undefined until decoded when parsed lazily. */
  private readonly own: (BtfType | undefined)[];
  private readonly src: BtfSource | undefined;
  private allDecoded: boolean;
  /** First own id of each name, and all ids of names that repeat. */
  private nameFirst: Map<string, number> | undefined;
  private nameIndex: Map<string, number[]> | undefined;
  private essFirst: Map<string, number> | undefined;
  private essMulti: Map<string, number[]> | undefined;
  private ptrSize: number | undefined;
  /** alignOf results by id (0 = not computed yet). */
  private alignCache: Uint8Array | undefined;

  /** From type objects (ids firstId..), or from a parser's lazy source. */
  constructor(types: BtfType[] | BtfSource, strings?: StringTable, options: BtfOptions = {}) {
    this.base = options.base;
    this.littleEndian = options.littleEndian ?? this.base?.littleEndian ?? true;
    this.firstId = this.base ? this.base.length : 1;
    this.strings = strings ?? new StringTable(new Uint8Array(this.base ? 0 : 1), this.base?.strings);
    if (!Array.isArray(types)) {
      this.src = types;
      this.own = new Array(types.count);
      this.allDecoded = types.count === 0;
      return;
    }
    this.src = undefined;
    this.own = types;
    this.allDecoded = true;
    for (let i = 0; i < types.length; i++) {
      if (types[i]!.id !== this.firstId + i) {
        throw new BtfError(`type at position ${i} has id ${types[i]!.id}, expected ${this.firstId + i}`, {
          typeId: types[i]!.id,
        });
      }
    }
  }

  /** Build a Btf from type objects (ids must run from 1, or from base.length). */
  static fromTypes(types: BtfType[], options: BtfOptions = {}): Btf {
    const b = new Btf(types, undefined, options);
    b.validate('types');
    return b;
  }

  /**
   * The parsed bytes this Btf decodes its types from, if it was parsed (not
   * built from objects). Types of a parsed Btf are read-only: build new type
   * objects and a new Btf (Btf.fromTypes) to change anything.
   */
  get source(): BtfSource | undefined {
    return this.src;
  }

  /** One past the highest type id (base included), so ids are 0 .. length-1. */
  get length(): number {
    return this.firstId + this.own.length;
  }

  /** The types this Btf owns (not the base's), in id order. */
  ownTypes(): readonly BtfType[] {
    if (!this.allDecoded) {
      for (let i = 0; i < this.own.length; i++) if (this.own[i] === undefined) this.own[i] = this.src!.decode(i);
      this.allDecoded = true;
    }
    return this.own as BtfType[];
  }

  /** Every type from id 1 (base first), in id order. */
  *types(): Generator<BtfType> {
    if (this.base) yield* this.base.types();
    for (let i = 0; i < this.own.length; i++) yield this.own[i] ?? (this.own[i] = this.src!.decode(i));
  }

  /** A type's kind without decoding it. */
  kindOf(id: number): Kind {
    if (id === 0) return 'void';
    if (id < this.firstId) {
      if (this.base) return this.base.kindOf(id);
    } else if (id < this.length) {
      const t = this.own[id - this.firstId];
      return t ? t.kind : this.src!.kindOf(id - this.firstId);
    }
    throw new BtfError(`no such type id (BTF has ids 0..${this.length - 1})`, { typeId: id });
  }

  /** A type's name without decoding it ('' when anonymous). */
  nameOf(id: number): string {
    if (id === 0) return '';
    if (id < this.firstId) {
      if (this.base) return this.base.nameOf(id);
    } else if (id < this.length) {
      const t = this.own[id - this.firstId];
      return t ? t.name : this.src!.nameOf(id - this.firstId);
    }
    throw new BtfError(`no such type id (BTF has ids 0..${this.length - 1})`, { typeId: id });
  }

  /** The type with this id (0 is void). Throws BtfError when out of range. */
  type(id: number): BtfType {
    if (id === 0) return VOID;
    if (id >= this.firstId) {
      const i = id - this.firstId;
      const t = this.own[i];
      if (t) return t;
      if (this.src && i < this.own.length) return (this.own[i] = this.src.decode(i));
    } else if (this.base) {
      return this.base.type(id);
    }
    throw new BtfError(`no such type id (BTF has ids 0..${this.length - 1})`, { typeId: id });
  }

  /** Like type(), but undefined when out of range. */
  tryType(id: number): BtfType | undefined {
    if (!Number.isInteger(id) || id < 0 || id >= this.length) return undefined;
    return this.type(id);
  }

  /** All types with this name (base first), optionally of one kind. */
  byName(name: string, kind?: Kind): BtfType[] {
    if (!this.nameIndex) {
      // one id per name is the rule; arrays only where names repeat
      const first = new Map<string, number>();
      const dups = new Map<string, number[]>();
      for (let i = 0; i < this.own.length; i++) {
        const id = this.firstId + i;
        const n = this.nameOf(id);
        if (n === '') continue;
        const f = first.get(n);
        if (f === undefined) first.set(n, id);
        else {
          const l = dups.get(n);
          if (l) l.push(id);
          else dups.set(n, [f, id]);
        }
      }
      this.nameFirst = first;
      this.nameIndex = dups;
    }
    const out = this.base ? this.base.byName(name, kind) : [];
    const one = this.nameFirst!.get(name);
    if (one === undefined) return out;
    for (const id of this.nameIndex.get(name) ?? [one]) {
      if (kind === undefined || this.kindOf(id) === kind) out.push(this.type(id));
    }
    return out;
  }

  /**
   * Own type ids whose essential name (the name without a CO-RE `___flavor`
   * suffix) is `essential`, ascending: CO-RE's candidates. The index behind
   * it is built once per Btf.
   */
  idsWithEssentialName(essential: string): readonly number[] {
    if (!this.essFirst) {
      this.byName('');
      const first = new Map<string, number>();
      const multi = new Map<string, number[]>();
      for (const [name, id] of this.nameFirst!) {
        const ids = this.nameIndex!.get(name);
        const e = name.includes('___') ? name.slice(0, essentialLength(name)) : name;
        const f = first.get(e);
        if (f === undefined) {
          first.set(e, id);
          if (ids) multi.set(e, [...ids]);
        } else {
          let l = multi.get(e);
          if (!l) multi.set(e, (l = [f]));
          for (const x of ids ?? [id]) l.push(x);
        }
      }
      for (const l of multi.values()) l.sort((x, y) => x - y);
      this.essFirst = first;
      this.essMulti = multi;
    }
    const m = this.essMulti!.get(essential);
    if (m) return m;
    const f = this.essFirst.get(essential);
    return f === undefined ? [] : [f];
  }

  /** The first type with this name (and kind), or undefined. */
  find(name: string, kind?: Kind): BtfType | undefined {
    return this.byName(name, kind)[0];
  }

  /** The first type with this name and kind; a BtfError naming it when there is none. */
  get<K extends Kind>(name: string, kind: K): TypeOfKind<K> {
    const t = this.find(name, kind);
    if (!t) throw new BtfError(`no ${kind} named '${name}'`);
    return t as TypeOfKind<K>;
  }

  /** Skip const/volatile/restrict/type_tag. */
  skipModifiers(id: number): BtfType {
    let t = this.type(id);
    for (let depth = 0; isModifier(t); depth++) {
      if (depth >= MAX_RESOLVE_DEPTH) throw new BtfError('modifier chain too long (a reference cycle?)', { typeId: id });
      t = this.type(t.type);
    }
    return t;
  }

  /** Skip typedefs and qualifiers to the underlying type. */
  resolve(id: number): BtfType {
    let t = this.type(id);
    for (let depth = 0; isModifier(t) || (t as BtfType).kind === 'typedef'; depth++) {
      if (depth >= MAX_RESOLVE_DEPTH) throw new BtfError('typedef/modifier chain too long (a reference cycle?)', { typeId: id });
      t = this.type((t as RefType).type);
    }
    return t;
  }

  /** Pointer size in bytes: from the size of `long`, else 8 (BPF). */
  get pointerSize(): number {
    if (this.ptrSize === undefined) {
      this.ptrSize = 8;
      const longs = ['long int', 'long unsigned int', 'unsigned long', 'long'];
      for (let id = 1; id < this.length; id++) {
        if (this.kindOf(id) !== 'int' || !longs.includes(this.nameOf(id))) continue;
        const t = this.type(id);
        if (t.kind === 'int' && (t.size === 4 || t.size === 8)) {
          this.ptrSize = t.size;
          break;
        }
      }
    }
    return this.ptrSize;
  }

  /** Size in bytes (libbpf's btf__resolve_size). BtfError for void, fwd, func, func_proto. */
  sizeOf(id: number): number {
    let t = this.type(id);
    let mult = 1;
    for (let depth = 0; depth <= MAX_RESOLVE_DEPTH; depth++) {
      switch (t.kind) {
        case 'int':
        case 'struct':
        case 'union':
        case 'enum':
        case 'enum64':
        case 'datasec':
        case 'float': {
          const n = mult * t.size;
          if (n > 0xffffffff) throw new BtfError('size overflows 32 bits', { typeId: id });
          return n;
        }
        case 'ptr':
          return mult * this.pointerSize;
        case 'typedef':
        case 'volatile':
        case 'const':
        case 'restrict':
        case 'var':
        case 'decl_tag':
        case 'type_tag':
          t = this.type(t.type);
          break;
        case 'array':
          mult *= t.nelems;
          if (mult > 0xffffffff) throw new BtfError('array size overflows 32 bits', { typeId: id });
          t = this.type(t.type);
          break;
        default:
          throw new BtfError(`${t.kind === 'void' ? 'void' : t.kind.toUpperCase()} [${t.id}] has no size`, { typeId: id });
      }
    }
    throw new BtfError('type chain too long (a reference cycle?)', { typeId: id });
  }

  /** Alignment in bytes (libbpf's btf__align_of): 1 for packed structs. */
  alignOf(id: number, depth = 0): number {
    if (depth > MAX_NESTING) throw new BtfError('type nesting too deep', { typeId: id });
    const cache = (this.alignCache ??= new Uint8Array(this.length));
    const hit = cache[id];
    if (hit && hit !== IN_PROGRESS) return hit;
    if (hit === IN_PROGRESS) throw new BtfError('type contains itself (a reference cycle)', { typeId: id });
    cache[id] = IN_PROGRESS;
    let a: number;
    try {
      a = this.computeAlign(id, depth);
    } finally {
      cache[id] = 0;
    }
    if (a < IN_PROGRESS) cache[id] = a;
    return a;
  }

  private computeAlign(id: number, depth: number): number {
    const t = this.type(id);
    switch (t.kind) {
      case 'int':
      case 'enum':
      case 'enum64':
      case 'float':
        return Math.max(1, Math.min(this.pointerSize, t.size));
      case 'ptr':
        return this.pointerSize;
      case 'typedef':
      case 'volatile':
      case 'const':
      case 'restrict':
      case 'type_tag':
      case 'array':
        return this.alignOf(t.type, depth + 1);
      case 'struct':
      case 'union': {
        let max = 1;
        for (const m of t.members) {
          const a = this.alignOf(m.type, depth + 1);
          if (a > max) max = a;
          if (m.bitfieldSize === 0 && m.bitOffset % (8 * a) !== 0) return 1;
        }
        if (t.size % max !== 0) return 1;
        return max;
      }
      default:
        throw new BtfError(`${t.kind === 'void' ? 'void' : t.kind.toUpperCase()} [${t.id}] has no alignment`, {
          typeId: id,
        });
    }
  }

  /** The member of a struct/union by name (not looking into anonymous members). */
  member(id: number, name: string): Member | undefined {
    const t = this.resolve(id);
    if (t.kind !== 'struct' && t.kind !== 'union') return undefined;
    return t.members.find((m) => m.name === name);
  }

  /**
   * Find a field by name, descending into anonymous struct/union members the
   * way C does. Returns the path of members and the total bit offset.
   */
  field(id: number, name: string): { path: Member[]; bitOffset: number } | undefined {
    const walk = (t: CompositeType, depth: number): { path: Member[]; bitOffset: number } | undefined => {
      if (depth > MAX_RESOLVE_DEPTH) return undefined;
      for (const m of t.members) {
        if (m.name === name) return { path: [m], bitOffset: m.bitOffset };
        if (m.name === '') {
          const inner = this.resolve(m.type);
          if (inner.kind === 'struct' || inner.kind === 'union') {
            const r = walk(inner, depth + 1);
            if (r) return { path: [m, ...r.path], bitOffset: m.bitOffset + r.bitOffset };
          }
        }
      }
      return undefined;
    };
    const t = this.resolve(id);
    if (t.kind !== 'struct' && t.kind !== 'union') return undefined;
    return walk(t, 0);
  }

  /**
   * Check every reference and per-kind invariant. parseBtf calls it; call it
   * yourself after building or editing types.
   */
  validate(section = '.BTF'): void {
    const n = this.length;
    const bad = (t: BtfType, r: number) =>
      new BtfError(`refers to type id ${r}, beyond the last id ${n - 1}`, { section, typeId: t.id });
    for (const t of this.ownTypes()) {
      const where = { section, typeId: t.id };
      switch (t.kind) {
        case 'struct':
        case 'union':
          for (const m of t.members) if (m.type >= n) throw bad(t, m.type);
          break;
        case 'func_proto':
          if (t.type >= n) throw bad(t, t.type);
          for (const p of t.params) if (p.type >= n) throw bad(t, p.type);
          break;
        case 'datasec':
          for (const v of t.vars) if (v.type >= n) throw bad(t, v.type);
          break;
        case 'array':
          if (t.type >= n) throw bad(t, t.type);
          if (t.indexType >= n) throw bad(t, t.indexType);
          break;
        case 'ptr':
        case 'typedef':
        case 'volatile':
        case 'const':
        case 'restrict':
        case 'type_tag':
        case 'func':
        case 'var':
        case 'decl_tag':
          if (t.type >= n) throw bad(t, t.type);
          break;
        default:
          break;
      }
      switch (t.kind) {
        case 'int':
          if (![1, 2, 4, 8, 16].includes(t.size)) throw new BtfError(`INT size ${t.size} is invalid`, where);
          if (t.bits > 128 || t.bitOffset + t.bits > t.size * 8) {
            throw new BtfError(`INT bits ${t.bitOffset}+${t.bits} do not fit in ${t.size} bytes`, where);
          }
          break;
        case 'ptr':
        case 'typedef':
        case 'volatile':
        case 'const':
        case 'restrict':
        case 'type_tag':
          if (t.type === t.id) throw new BtfError(`${t.kind.toUpperCase()} refers to itself`, where);
          break;
        case 'array':
          if (t.type === t.id) throw new BtfError('ARRAY of itself', where);
          break;
        case 'func': {
          const p = this.type(t.type);
          if (p.kind !== 'func_proto') throw new BtfError(`FUNC type ${t.type} is ${p.kind.toUpperCase()}, not FUNC_PROTO`, where);
          if (t.linkage > 2) throw new BtfError(`FUNC linkage ${t.linkage} is invalid`, where);
          break;
        }
        case 'var':
          if (t.linkage > 2) throw new BtfError(`VAR linkage ${t.linkage} is invalid`, where);
          break;
        case 'datasec':
          for (const v of t.vars) {
            const k = this.type(v.type).kind;
            if (k !== 'var' && k !== 'func') {
              throw new BtfError(`DATASEC entry refers to ${k.toUpperCase()} [${v.type}], not a VAR`, where);
            }
          }
          break;
        case 'decl_tag':
          if (t.componentIdx < -1) throw new BtfError(`DECL_TAG component_idx ${t.componentIdx} is invalid`, where);
          break;
        case 'enum':
        case 'enum64':
          if (t.size === 0 || t.size > 8) throw new BtfError(`${t.kind.toUpperCase()} size ${t.size} is invalid`, where);
          break;
        default:
          break;
      }
    }
  }
}
