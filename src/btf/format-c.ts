/**
 * BTF as C: a declaration for one type (`char comm[16]`, `int (*)(void *)`),
 * the definition of one type, and a whole-BTF header like `bpftool btf dump
 * file X format c` (vmlinux.h) that compiles with clang and reproduces every
 * struct's size and member offsets.
 *
 * The whole dump orders definitions so each type is complete before it is
 * used by value and declared before it is used through a pointer; gives
 * duplicate names (two different `struct foo`, an enumerator defined twice)
 * a `___N` suffix as bpftool does; prints anonymous structs/unions/enums
 * inline; marks packed structs; and adds anonymous bitfield padding
 * (`long: 64;`) wherever the natural C layout would not put a member at the
 * offset BTF records.
 */
import type { Btf } from './btf.js';
import { BtfError } from './errors.js';
import type { BtfType, CompositeType, Enum64Type, EnumType, Member } from './types.js';

const enum State {
  None = 0,
  Declared = 1,
  InProgress = 2,
  Defined = 3,
}

const MAX_DEPTH = 1024;
/** Gaps wider than this (bits) are filled with one char array. */
const HUGE_GAP_BITS = 1 << 20;
/** Typedefs the compiler provides itself. */
const BUILTIN_TYPEDEFS = new Set(['__builtin_va_list']);

export interface CDumpOptions {
  /** Wrap in the vmlinux.h guard and preserve_access_index pragma (default true). */
  header?: boolean;
  /** Guard macro name (default __VMLINUX_H__). */
  guard?: string;
}

/**
 * Prints types as C. One printer keeps the naming decisions (which duplicate
 * gets `___2`) so that every reference agrees with the definition.
 */
export class CPrinter {
  private readonly tagNames = new Map<number, string>();
  private readonly identNames = new Map<number, string>();
  private readonly enumValNames = new Map<number, string[]>();
  private readonly state: Uint8Array;
  private readonly anonEnumsPrinted = new Set<number>();
  /** A tag's forward declaration or definition is already in the output. */
  private readonly tagInText: Uint8Array;
  private readonly out: string[] = [];

  /** `rename`: give duplicate names ___N suffixes (needed for a whole dump). */
  constructor(
    readonly btf: Btf,
    rename = true,
  ) {
    this.state = new Uint8Array(btf.length);
    this.tagInText = new Uint8Array(btf.length);
    if (rename) this.assignNames();
  }

  private assignNames(): void {
    const tags = new Map<string, { kind: string; n: number }>();
    const idents = new Map<string, number>();
    const uniqueIdent = (name: string): string => {
      const n = (idents.get(name) ?? 0) + 1;
      idents.set(name, n);
      return n === 1 ? name : `${name}___${n}`;
    };
    // tags of complete types first, so a fwd shares its name with the definition
    for (const t of this.btf.types()) {
      if (t.name === '') continue;
      if (t.kind === 'struct' || t.kind === 'union' || t.kind === 'enum' || t.kind === 'enum64') {
        const kw = t.kind === 'enum64' ? 'enum' : t.kind;
        const seen = tags.get(t.name);
        if (!seen) {
          tags.set(t.name, { kind: kw, n: 1 });
          this.tagNames.set(t.id, t.name);
        } else {
          seen.n++;
          this.tagNames.set(t.id, `${t.name}___${seen.n}`);
        }
      }
    }
    for (const t of this.btf.types()) {
      if (t.kind === 'fwd' && t.name !== '') {
        const seen = tags.get(t.name);
        if (!seen) {
          tags.set(t.name, { kind: t.fwdKind, n: 1 });
          this.tagNames.set(t.id, t.name);
        } else if (seen.kind === t.fwdKind) {
          this.tagNames.set(t.id, t.name);
        } else {
          seen.n++;
          this.tagNames.set(t.id, `${t.name}___${seen.n}`);
        }
      } else if (t.kind === 'typedef') {
        this.identNames.set(t.id, uniqueIdent(t.name));
      } else if (t.kind === 'enum' || t.kind === 'enum64') {
        this.enumValNames.set(
          t.id,
          t.values.map((v) => uniqueIdent(v.name)),
        );
      }
    }
  }

  /** The tag (struct/union/enum name) this printer uses for type `id`, after de-duplication. */
  tagName(id: number): string {
    return this.tag(this.btf.type(id));
  }

  private tag(t: BtfType): string {
    return this.tagNames.get(t.id) ?? t.name;
  }
  private ident(t: BtfType): string {
    return this.identNames.get(t.id) ?? t.name;
  }
  private enumValName(t: EnumType | Enum64Type, i: number): string {
    return this.enumValNames.get(t.id)?.[i] ?? t.values[i]!.name;
  }

  // ---- declarations ------------------------------------------------------

  /**
   * The C declaration of `name` with type `id` (`name` may be empty for an
   * abstract declarator: `struct file *`). Anonymous struct/union/enum types
   * are written out inline, indented for nesting level `lvl`.
   */
  declaration(id: number, name = '', lvl = 0): string {
    return guardStack(id, () => this.decl(id, name, lvl, 0));
  }

  /**
   * A declaration is written from the BTF chain (outermost first: typedef ->
   * array -> ptr -> const -> int) by walking it back from the base type:
   * qualifiers next to the base go before it (`const char`), pointers and
   * the qualifiers above them go after (`char * const`), arrays and function
   * prototypes wrap what is above them in parentheses (`int (*fn)(void)`).
   */
  private decl(id: number, fname: string, lvl: number, depth: number): string {
    if (depth > MAX_DEPTH) throw new BtfError('type nesting too deep to print (a reference cycle?)', { typeId: id });
    const chain: BtfType[] = [];
    for (let guard = 0; ; guard++) {
      if (guard > MAX_DEPTH) throw new BtfError('declaration chain too long (a reference cycle?)', { typeId: id });
      const t = this.btf.type(id);
      if (t.kind === 'datasec' || t.kind === 'decl_tag') {
        throw new BtfError(`${t.kind.toUpperCase()} is not a C type`, { typeId: id });
      }
      if (t.kind === 'func' || t.kind === 'var') {
        id = t.type;
        continue;
      }
      if (t.kind !== 'type_tag') chain.push(t);
      if (t.kind === 'ptr' || t.kind === 'const' || t.kind === 'volatile' || t.kind === 'restrict' || t.kind === 'type_tag' || t.kind === 'func_proto' || t.kind === 'array') {
        id = t.type;
        continue;
      }
      break;
    }
    return this.emitChain(chain, fname, lvl, depth);
  }

  private emitChain(chain: BtfType[], fname: string, lvl: number, depth: number): string {
    let out = '';
    let lastWasPtr = true;
    const isQual = (t: BtfType | undefined) => t !== undefined && (t.kind === 'const' || t.kind === 'volatile' || t.kind === 'restrict');
    const mods = (): string => {
      let m = '';
      while (isQual(chain[chain.length - 1])) m += `${chain.pop()!.kind} `;
      return m;
    };
    const dropMods = () => {
      while (isQual(chain[chain.length - 1])) chain.pop();
    };
    const name = () => (fname !== '' && !lastWasPtr ? ` ${fname}` : fname);
    while (chain.length > 0) {
      const t = chain.pop()!;
      switch (t.kind) {
        case 'void':
          out += `${mods()}void`;
          break;
        case 'int':
        case 'float':
          out += `${mods()}${t.name}`;
          break;
        case 'struct':
        case 'union':
          out += mods() + (t.name === '' ? this.compositeBody(t, lvl, depth) : `${t.kind} ${this.tag(t)}`);
          break;
        case 'enum':
        case 'enum64':
          out += mods();
          if (t.name !== '') out += `enum ${this.tag(t)}`;
          else if (this.anonEnumsPrinted.has(t.id)) out += this.enumFallback(t);
          else {
            this.anonEnumsPrinted.add(t.id);
            out += this.enumBody(t, lvl);
          }
          break;
        case 'fwd':
          out += `${mods()}${t.fwdKind} ${this.tag(t)}`;
          break;
        case 'typedef':
          out += `${mods()}${this.ident(t)}`;
          break;
        case 'ptr':
          out += lastWasPtr ? '*' : ' *';
          break;
        case 'const':
        case 'volatile':
        case 'restrict':
          out += ` ${t.kind}`;
          break;
        case 'array': {
          // qualifiers on an array itself mean nothing in C
          dropMods();
          if (chain.length === 0) return `${out}${name()}[${t.nelems}]`;
          const multidim = chain[chain.length - 1]!.kind === 'array';
          if (fname !== '' && !lastWasPtr) out += ' ';
          const inner = this.emitChain(chain, fname, lvl, depth + 1);
          return multidim ? `${out}${inner}[${t.nelems}]` : `${out}(${inner})[${t.nelems}]`;
        }
        case 'func_proto': {
          dropMods();
          out += chain.length > 0 ? ` (${this.emitChain(chain, fname, lvl, depth + 1)})` : name();
          const ps = t.params;
          if (ps.length === 0 || (ps.length === 1 && ps[0]!.type === 0)) return `${out}(void)`;
          const args = ps.map((p, i) => (i === ps.length - 1 && p.type === 0 ? '...' : this.decl(p.type, p.name, lvl, depth + 1)));
          return `${out}(${args.join(', ')})`;
        }
        default:
          break;
      }
      lastWasPtr = t.kind === 'ptr';
    }
    return out + name();
  }

  private skipQualifiers(id: number): BtfType {
    let t = this.btf.type(id);
    for (let i = 0; i < 64 && (t.kind === 'const' || t.kind === 'volatile' || t.kind === 'restrict' || t.kind === 'type_tag'); i++) {
      t = this.btf.type(t.type);
    }
    return t;
  }

  /** An integer type of the same size and signedness, for an anonymous enum printed a second time. */
  private enumFallback(t: EnumType | Enum64Type): string {
    const u = t.signed ? '' : 'unsigned ';
    switch (t.size) {
      case 1:
        return `${u}char`;
      case 2:
        return `${u}short`;
      case 8:
        return `${u}long long`;
      default:
        return `${u}int`;
    }
  }

  private enumBody(t: EnumType | Enum64Type, lvl: number): string {
    const ind = '\t'.repeat(lvl + 1);
    const lines = t.values.map((v, i) => `${ind}${this.enumValName(t, i)} = ${enumLiteral(t, v.value)},`);
    if (lines.length === 0) return 'enum';
    return `enum {\n${lines.join('\n')}\n${'\t'.repeat(lvl)}}${enumAttr(t)}`;
  }

  /** `struct {...}` / `union {...}` body (no name), members at lvl+1. */
  private compositeBody(t: CompositeType, lvl: number, depth: number): string {
    const head = t.name === '' ? t.kind : `${t.kind} ${this.tag(t)}`;
    const isP = t.kind === 'struct' && isPacked(this.btf, t);
    const lines = this.memberLines(t, lvl + 1, depth, isP);
    const packed = isP ? ' __attribute__((packed))' : '';
    if (lines.length === 0) return t.size > 0 ? `${head} {\n${'\t'.repeat(lvl)}}${packed}` : `${head} {}${packed}`;
    return `${head} {\n${lines.join('\n')}\n${'\t'.repeat(lvl)}}${packed}`;
  }

  private memberLines(t: CompositeType, lvl: number, depth: number, packed: boolean): string[] {
    const ind = '\t'.repeat(lvl);
    const out: string[] = [];
    const isStruct = t.kind === 'struct';
    let off = 0;
    let prevBitfield = false;
    for (const m of t.members) {
      const align = packed ? 1 : this.safeAlign(m.type);
      if (isStruct) this.padding(out, ind, off, m.bitOffset, align, prevBitfield && m.bitfieldSize !== 0);
      let d = this.decl(m.type, m.name, lvl, depth + 1);
      if (m.bitfieldSize) {
        d += `: ${m.bitfieldSize}`;
        off = m.bitOffset + m.bitfieldSize;
        prevBitfield = true;
      } else {
        off = m.bitOffset + this.memberBits(m);
        prevBitfield = false;
      }
      out.push(`${ind}${d};`);
    }
    if (isStruct) this.padding(out, ind, off, t.size * 8, this.safeAlign(t.id), false);
    return out;
  }

  /**
   * Unnamed bitfields that move the C layout from bit `cur` to bit `next`
   * (bpftool's convention): a `T: 0;` or partial marker to reach a natural
   * boundary when the compiler would not get there by itself, then
   * `long: 64;` steps, then the smallest type that holds the remainder.
   */
  private padding(out: string[], ind: string, cur: number, next: number, nextAlign: number, inBitfield: boolean): void {
    if (cur >= next) return;
    if (next - cur > HUGE_GAP_BITS && cur % 8 === 0 && next % 8 === 0) {
      // a gap of megabytes: one array instead of millions of `long: 64;` lines
      out.push(`${ind}char __pad_${cur / 8}[${(next - cur) / 8}];`);
      return;
    }
    const pads: [string, number][] = [
      ['long', this.btf.pointerSize * 8],
      ['int', 32],
      ['short', 16],
      ['char', 8],
    ];
    let [padType, padBits] = pads[pads.length - 1]!;
    let newOff = 0;
    for (const [name, bits] of pads) {
      padType = name;
      padBits = bits;
      newOff = alignUp(cur, bits);
      if (newOff <= next) break;
    }
    if (newOff > cur && newOff <= next) {
      if (
        inBitfield ||
        (newOff === next && alignUp(cur, nextAlign * 8) !== newOff) ||
        (newOff !== next && next - newOff <= newOff - cur)
      ) {
        out.push(`${ind}${padType}: ${inBitfield ? newOff - cur : 0};`);
      }
      cur = newOff;
    }
    while (cur !== next) {
      const bits = Math.min(next - cur, padBits);
      if (bits === padBits) {
        out.push(`${ind}${padType}: ${padBits};`);
        cur += bits;
        continue;
      }
      for (let i = pads.length - 1; i >= 0; i--) {
        const [name, size] = pads[i]!;
        if (size < bits) continue;
        out.push(`${ind}${name}: ${bits};`);
        cur += bits;
        break;
      }
    }
  }

  private memberBits(m: Member): number {
    if (m.bitfieldSize) return m.bitfieldSize;
    try {
      return this.btf.sizeOf(m.type) * 8;
    } catch {
      return 0;
    }
  }

  private safeAlign(id: number): number {
    try {
      return this.btf.alignOf(id);
    } catch {
      return 1;
    }
  }

  // ---- definitions -------------------------------------------------------

  /** The definition of one named struct/union/enum, or a typedef, as C (no trailing newline). */
  definition(id: number): string {
    return guardStack(id, () => this.definitionOf(id));
  }

  private definitionOf(id: number): string {
    const t = this.btf.type(id);
    switch (t.kind) {
      case 'struct':
      case 'union':
        return `${this.compositeBody(t, 0, 0)};`;
      case 'enum':
      case 'enum64': {
        if (t.name === '') return `${this.enumBody(t, 0)};`;
        const body = this.enumBody(t, 0);
        return `enum ${this.tag(t)}${body.slice('enum'.length)};`;
      }
      case 'typedef':
        return `typedef ${this.decl(t.type, this.ident(t), 0, 0)};`;
      case 'fwd':
        return `${t.fwdKind} ${this.tag(t)};`;
      case 'func': {
        return `${this.decl(t.type, t.name, 0, 0)};`;
      }
      case 'var':
        return `${t.linkage === 2 ? 'extern ' : t.linkage === 0 ? 'static ' : ''}${this.decl(t.type, t.name, 0, 0)};`;
      default:
        return `${this.declaration(id)};`;
    }
  }

  // ---- whole dump --------------------------------------------------------

  private emit(s: string): void {
    this.out.push(s + '\n\n');
  }

  /**
   * Make `id` usable through a pointer: a forward declaration for a named
   * struct/union (unless it is `cont`, the struct whose body is being
   * written, which declares itself), definitions for what must be complete.
   */
  private declare(id: number, depth: number, cont: number): void {
    if (depth > MAX_DEPTH) throw new BtfError('type dependencies too deep (a reference cycle?)', { typeId: id });
    const t = this.btf.type(id);
    switch (t.kind) {
      case 'ptr':
      case 'const':
      case 'volatile':
      case 'restrict':
      case 'type_tag':
        return this.declare(t.type, depth + 1, cont);
      case 'array':
        return this.define(t.type, depth + 1, cont);
      case 'struct':
      case 'union':
        if (t.name === '') return this.defineMembers(t, depth + 1, cont);
        if (this.state[id] === State.None) this.state[id] = State.Declared;
        if (!this.tagInText[id] && id !== cont) {
          this.tagInText[id] = 1;
          this.emit(`${t.kind} ${this.tag(t)};`);
        }
        return;
      case 'fwd':
        if (this.state[id] === State.None) {
          this.state[id] = State.Defined;
          this.emit(`${t.fwdKind} ${this.tag(t)};`);
        }
        return;
      case 'enum':
      case 'enum64':
        return this.define(id, depth + 1, cont);
      case 'typedef':
        return this.defineTypedef(id, depth + 1);
      case 'func_proto':
        this.declare(t.type, depth + 1, cont);
        for (const p of t.params) this.declare(p.type, depth + 1, cont);
        return;
      case 'func':
      case 'var':
        return this.declare(t.type, depth + 1, cont);
      default:
        return;
    }
  }

  /** Make `id` usable by value: complete definitions of everything it embeds. */
  private define(id: number, depth: number, cont: number): void {
    if (depth > MAX_DEPTH) throw new BtfError('type dependencies too deep (a reference cycle?)', { typeId: id });
    const t = this.btf.type(id);
    switch (t.kind) {
      case 'struct':
      case 'union': {
        if (t.name === '') return this.defineMembers(t, depth + 1, cont);
        const s = this.state[id];
        if (s === State.Defined) return;
        if (s === State.InProgress) {
          throw new BtfError(`${t.kind} '${t.name}' contains itself by value`, { typeId: id });
        }
        this.state[id] = State.InProgress;
        this.defineMembers(t, depth + 1, id);
        this.state[id] = State.Defined;
        this.tagInText[id] = 1;
        this.emit(`${this.compositeBody(t, 0, 0)};`);
        return;
      }
      case 'enum':
      case 'enum64':
        if (t.name === '') return;
        if (this.state[id] !== State.Defined) {
          this.state[id] = State.Defined;
          this.emit(this.definition(id));
        }
        return;
      case 'typedef':
        this.defineTypedef(id, depth + 1);
        return this.define(t.type, depth + 1, 0);
      case 'array':
      case 'const':
      case 'volatile':
      case 'restrict':
      case 'type_tag':
        return this.define(t.type, depth + 1, cont);
      default:
        return this.declare(id, depth + 1, cont);
    }
  }

  private defineMembers(t: CompositeType, depth: number, cont: number): void {
    for (const m of t.members) this.define(m.type, depth + 1, cont);
  }

  private defineTypedef(id: number, depth: number): void {
    const t = this.btf.type(id);
    if (t.kind !== 'typedef') return;
    const s = this.state[id];
    if (s === State.Defined) return;
    if (s === State.InProgress) throw new BtfError(`typedef '${t.name}' refers to itself`, { typeId: id });
    this.state[id] = State.InProgress;
    if (BUILTIN_TYPEDEFS.has(t.name)) {
      this.state[id] = State.Defined;
      return;
    }
    const target = this.skipQualifiers(t.type);
    if ((target.kind === 'struct' || target.kind === 'union') && target.name === '') this.defineMembers(target, depth + 1, 0);
    else this.declare(t.type, depth + 1, 0);
    this.state[id] = State.Defined;
    this.emit(this.definition(id));
  }

  /** Every type, ordered for C (a vmlinux.h). */
  dump(options: CDumpOptions = {}): string {
    return guardStack(0, () => this.dumpAll(options));
  }

  private dumpAll(options: CDumpOptions): string {
    const referenced = new Uint8Array(this.btf.length);
    for (const t of this.btf.types()) {
      if (t.kind === 'var' || t.kind === 'datasec' || t.kind === 'func' || t.kind === 'decl_tag') continue;
      switch (t.kind) {
        case 'struct':
        case 'union':
          for (const m of t.members) referenced[m.type] = 1;
          break;
        case 'func_proto':
          referenced[t.type] = 1;
          for (const p of t.params) referenced[p.type] = 1;
          break;
        case 'array':
          referenced[t.type] = 1;
          break;
        case 'ptr':
        case 'typedef':
        case 'const':
        case 'volatile':
        case 'restrict':
        case 'type_tag':
          referenced[t.type] = 1;
          break;
        default:
          break;
      }
    }
    for (const t of this.btf.types()) {
      switch (t.kind) {
        case 'struct':
        case 'union':
          if (t.name !== '') this.define(t.id, 0, 0);
          break;
        case 'enum':
        case 'enum64':
          if (t.name !== '') this.define(t.id, 0, 0);
          else if (!referenced[t.id] && !this.anonEnumsPrinted.has(t.id) && t.values.length > 0) {
            this.anonEnumsPrinted.add(t.id);
            this.emit(`${this.enumBody(t, 0)};`);
          }
          break;
        case 'typedef':
          this.defineTypedef(t.id, 0);
          break;
        case 'fwd':
          this.declare(t.id, 0, 0);
          break;
        default:
          break;
      }
    }
    const body = this.out.join('');
    this.out.length = 0;
    if (options.header === false) return body;
    const guard = options.guard ?? '__VMLINUX_H__';
    return (
      `#ifndef ${guard}\n#define ${guard}\n\n` +
      '#ifndef BPF_NO_PRESERVE_ACCESS_INDEX\n' +
      '#pragma clang attribute push (__attribute__((preserve_access_index)), apply_to = record)\n' +
      '#endif\n\n' +
      body +
      '#ifndef BPF_NO_PRESERVE_ACCESS_INDEX\n#pragma clang attribute pop\n#endif\n\n' +
      `#endif /* ${guard} */\n`
    );
  }
}

/** Very deep (corrupt) type graphs can exhaust the JS stack: report them as BtfError. */
function guardStack<T>(id: number, f: () => T): T {
  try {
    return f();
  } catch (e) {
    if (e instanceof RangeError) throw new BtfError('types nest too deeply to print as C', { typeId: id });
    throw e;
  }
}

const alignUp = (x: number, a: number): number => (a <= 1 ? x : Math.ceil(x / a) * a);

/** A struct whose members or size break natural alignment was declared packed. */
export function isPacked(btf: Btf, t: CompositeType): boolean {
  if (t.kind !== 'struct' || t.members.length === 0) return false;
  let max = 1;
  for (const m of t.members) {
    let a: number;
    try {
      a = btf.alignOf(m.type);
    } catch {
      continue;
    }
    if (a > max) max = a;
    if (m.bitfieldSize === 0) {
      if (m.bitOffset % (8 * a) !== 0) return true;
    } else {
      let unit = 0;
      try {
        unit = btf.sizeOf(m.type) * 8;
      } catch {}
      if (unit > 0 && Math.floor(m.bitOffset / unit) !== Math.floor((m.bitOffset + m.bitfieldSize - 1) / unit)) return true;
    }
  }
  return t.size % max !== 0;
}

function enumLiteral(t: EnumType | Enum64Type, v: number | bigint): string {
  if (t.kind === 'enum') return String(v);
  const b = v as bigint;
  if (t.signed) {
    if (b === -(1n << 63n)) return '(-9223372036854775807LL - 1)';
    return `${b}LL`;
  }
  return `${b}ULL`;
}

/**
 * Enums whose BTF size is not what C would give them: one byte via
 * mode(byte), two via mode(HI), eight via mode(word) unless a value already
 * needs 64 bits.
 */
function enumAttr(t: EnumType | Enum64Type): string {
  if (t.size === 1) return ' __attribute__((mode(byte)))';
  if (t.size === 2) return ' __attribute__((mode(HI)))';
  if (t.size === 8) {
    const wide = t.values.some((v) => {
      const b = BigInt.asUintN(64, BigInt(v.value));
      return b >> 32n !== 0n;
    });
    if (t.kind === 'enum' || !wide) return ' __attribute__((mode(word)))';
  }
  return '';
}

/** The whole BTF as a C header (bpftool's `format c`). */
export function formatC(btf: Btf, options: CDumpOptions = {}): string {
  return new CPrinter(btf).dump(options);
}

/** One type as it appears in a declaration: `struct task_struct *`, `char [16]`, `int (*)(void *)`. */
export function typeToC(btf: Btf, id: number): string {
  return new CPrinter(btf, false).declaration(id);
}

/** `name` declared with type `id`: `char comm[16]`. */
export function declarationToC(btf: Btf, id: number, name: string): string {
  return new CPrinter(btf, false).declaration(id, name);
}

/** The definition of a struct/union/enum/typedef (or declaration of a func/var) as C. */
export function definitionToC(btf: Btf, id: number): string {
  return new CPrinter(btf, false).definition(id);
}

