/**
 * The raw text dump, line for line what `bpftool btf dump file X` (format
 * raw) prints: `[id] KIND 'name' fields...`, then one indented line per
 * member / value / parameter / section entry. For split BTF only the types the
 * Btf owns are printed, as bpftool does.
 */
import type { Btf } from './btf.js';
import type { StringTable } from './strings.js';
import type { BtfType } from './types.js';
import { INT_BOOL, INT_CHAR, INT_SIGNED, KIND_BY_NUMBER, kindLabel } from './types.js';

const q = (name: string): string => `'${name === '' ? '(anon)' : name}'`;

function intEncoding(e: number): string {
  switch (e) {
    case 0:
      return '(none)';
    case INT_SIGNED:
      return 'SIGNED';
    case INT_CHAR:
      return 'CHAR';
    case INT_BOOL:
      return 'BOOL';
    default:
      return 'UNKN';
  }
}

function linkage(l: number): string {
  return l === 0 ? 'static' : l === 1 ? 'global' : l === 2 ? 'extern' : '(unknown)';
}

/** One type as bpftool prints it (may span several lines, no trailing newline). */
export function formatRawType(btf: Btf, t: BtfType): string {
  let s = `[${t.id}] ${kindLabel(t.kind)} ${q(t.name)}`;
  switch (t.kind) {
    case 'void':
      break;
    case 'int':
      s += ` size=${t.size} bits_offset=${t.bitOffset} nr_bits=${t.bits} encoding=${intEncoding(t.encoding)}`;
      break;
    case 'ptr':
    case 'const':
    case 'volatile':
    case 'restrict':
    case 'typedef':
    case 'type_tag':
      s += ` type_id=${t.type}`;
      break;
    case 'array':
      s += ` type_id=${t.type} index_type_id=${t.indexType} nr_elems=${t.nelems}`;
      break;
    case 'struct':
    case 'union':
      s += ` size=${t.size} vlen=${t.members.length}`;
      for (const m of t.members) {
        s += `\n\t${q(m.name)} type_id=${m.type} bits_offset=${m.bitOffset}`;
        if (m.bitfieldSize) s += ` bitfield_size=${m.bitfieldSize}`;
      }
      break;
    case 'enum':
      s += ` encoding=${t.signed ? 'SIGNED' : 'UNSIGNED'} size=${t.size} vlen=${t.values.length}`;
      for (const v of t.values) s += `\n\t${q(v.name)} val=${v.value}`;
      break;
    case 'enum64':
      s += ` encoding=${t.signed ? 'SIGNED' : 'UNSIGNED'} size=${t.size} vlen=${t.values.length}`;
      for (const v of t.values) s += `\n\t${q(v.name)} val=${v.value}${t.signed ? 'LL' : 'ULL'}`;
      break;
    case 'fwd':
      s += ` fwd_kind=${t.fwdKind}`;
      break;
    case 'func':
      s += ` type_id=${t.type} linkage=${linkage(t.linkage)}`;
      break;
    case 'func_proto':
      s += ` ret_type_id=${t.type} vlen=${t.params.length}`;
      for (const p of t.params) s += `\n\t${q(p.name)} type_id=${p.type}`;
      break;
    case 'var':
      s += ` type_id=${t.type}, linkage=${linkage(t.linkage)}`;
      break;
    case 'datasec':
      s += ` size=${t.size} vlen=${t.vars.length}`;
      for (const v of t.vars) {
        s += `\n\ttype_id=${v.type} offset=${v.offset} size=${v.size}`;
        const vt = btf.tryType(v.type);
        if (vt) s += ` (${kindLabel(vt.kind)} ${q(vt.name)})`;
      }
      break;
    case 'float':
      s += ` size=${t.size}`;
      break;
    case 'decl_tag':
      s += ` type_id=${t.type} component_idx=${t.componentIdx}`;
      break;
  }
  return s;
}

/** The whole dump (the Btf's own types), newline-terminated. */
export function formatRaw(btf: Btf): string {
  if (btf.source) return new TextDecoder().decode(formatRawBytes(btf));
  const own = btf.ownTypes();
  const out: string[] = new Array(own.length + 1);
  for (let i = 0; i < own.length; i++) out[i] = formatRawType(btf, own[i]!);
  out[own.length] = '';
  return out.join('\n');
}

/** Appends ASCII text and numbers to a growing byte buffer. */
class ByteWriter {
  buf = new Uint8Array(1 << 20);
  len = 0;

  ensure(n: number): void {
    if (this.len + n <= this.buf.length) return;
    let size = this.buf.length * 2;
    while (size < this.len + n) size *= 2;
    const next = new Uint8Array(size);
    next.set(this.buf.subarray(0, this.len));
    this.buf = next;
  }

  lit(b: Uint8Array): void {
    this.ensure(b.length);
    this.buf.set(b, this.len);
    this.len += b.length;
  }

  text(s: string): void {
    this.ensure(s.length * 3);
    for (let i = 0; i < s.length; i++) {
      const c = s.charCodeAt(i);
      if (c < 0x80) this.buf[this.len++] = c;
      else {
        const b = new TextEncoder().encode(s.slice(i, i + 1 + (c >= 0xd800 && c < 0xdc00 ? 1 : 0)));
        this.buf.set(b, this.len);
        this.len += b.length;
        if (c >= 0xd800 && c < 0xdc00) i++;
      }
    }
  }

  uint(x: number): void {
    this.ensure(11);
    if (x === 0) {
      this.buf[this.len++] = 48;
      return;
    }
    const digits = x < 10 ? 1 : x < 100 ? 2 : x < 1000 ? 3 : x < 10000 ? 4 : x < 100000 ? 5 : x < 1e6 ? 6 : x < 1e7 ? 7 : x < 1e8 ? 8 : x < 1e9 ? 9 : 10;
    let p = this.len + digits;
    this.len = p;
    for (let y = x; y > 0; y = Math.floor(y / 10)) this.buf[--p] = 48 + (y % 10);
  }

  int(x: number): void {
    if (x < 0) {
      this.ensure(1);
      this.buf[this.len++] = 45;
      this.uint(-x);
    } else this.uint(x);
  }

  /** Copy a NUL-terminated name from a string table, or '(anon)' for an empty one. */
  name(strings: StringTable, off: number): void {
    let t: StringTable | undefined = strings;
    while (t && off < t.start) t = t.base;
    if (!t) return;
    const rel = off - t.start;
    let end = rel;
    const b = t.bytes;
    while (end < b.length && b[end] !== 0) end++;
    if (end === rel) {
      this.text('(anon)');
      return;
    }
    this.ensure(end - rel);
    this.buf.set(b.subarray(rel, end), this.len);
    this.len += end - rel;
  }

  bytes(): Uint8Array {
    return this.buf.subarray(0, this.len);
  }
}

const KIND_LABELS = KIND_BY_NUMBER.map((k) => new TextEncoder().encode(kindLabel(k)));
const QUOTE = new TextEncoder().encode("'");

/**
 * The raw dump of a parsed Btf straight from its bytes (no type objects,
 * names copied as stored): the same text as formatRaw, as UTF-8 bytes, for
 * vmlinux-sized dumps. Falls back to formatting type objects for a Btf built
 * from objects.
 */
const enc = (s: string): Uint8Array => new TextEncoder().encode(s);
const L0 = enc('[');
const L1 = enc('] ');
const L2 = enc(' ');
const L3 = enc(' size=');
const L4 = enc(' bits_offset=');
const L5 = enc(' nr_bits=');
const L6 = enc(' encoding=');
const L7 = enc(' type_id=');
const L8 = enc(' index_type_id=');
const L9 = enc(' nr_elems=');
const L10 = enc(' vlen=');
const L11 = enc('\n\t');
const L12 = enc(' bitfield_size=');
const L13 = enc(' val=');
const L14 = enc(' linkage=');
const L15 = enc(' ret_type_id=');
const L16 = enc(', linkage=');
const L17 = enc('\n\ttype_id=');
const L18 = enc(' offset=');
const L19 = enc(' (');
const L20 = enc(')');
const L21 = enc(' component_idx=');
const L22 = enc('\n');
const L23 = enc(' encoding=SIGNED size=');
const L24 = enc(' encoding=UNSIGNED size=');
const L25 = enc(' fwd_kind=union');
const L26 = enc(' fwd_kind=struct');

export function formatRawBytes(btf: Btf): Uint8Array {
  const src = btf.source;
  if (!src) return new TextEncoder().encode(formatRaw(btf));
  const { words, offsets, strings, firstId } = src;
  const w = new ByteWriter();
  const u32 = (o: number) => words[o]!;
  const s32 = (o: number) => words[o]! | 0;
  const q = (off: number) => {
    w.lit(QUOTE);
    w.name(strings, off);
    w.lit(QUOTE);
  };
  for (let i = 0; i < offsets.length; i++) {
    let p = offsets[i]!;
    const nameOff = u32(p);
    const info = u32(p + 1);
    const st = u32(p + 2);
    p += 3;
    const vlen = info & 0xffff;
    const kindNo = (info >>> 24) & 0x1f;
    const kflag = info >>> 31 === 1;
    w.lit(L0);
    w.uint(firstId + i);
    w.lit(L1);
    w.lit(KIND_LABELS[kindNo]!);
    w.lit(L2);
    q(nameOff);
    switch (kindNo) {
      case 1: {
        const x = u32(p);
        w.lit(L3);
        w.uint(st);
        w.lit(L4);
        w.uint((x >>> 16) & 0xff);
        w.lit(L5);
        w.uint(x & 0xff);
        w.lit(L6);
        w.text(intEncoding((x >>> 24) & 0x0f));
        break;
      }
      case 2:
      case 8:
      case 9:
      case 10:
      case 11:
      case 18:
        w.lit(L7);
        w.uint(st);
        break;
      case 3:
        w.lit(L7);
        w.uint(u32(p));
        w.lit(L8);
        w.uint(u32(p + 1));
        w.lit(L9);
        w.uint(u32(p + 2));
        break;
      case 4:
      case 5:
        w.lit(L3);
        w.uint(st);
        w.lit(L10);
        w.uint(vlen);
        for (let k = 0; k < vlen; k++, p += 3) {
          const off = u32(p + 2);
          w.lit(L11);
          q(u32(p));
          w.lit(L7);
          w.uint(u32(p + 1));
          w.lit(L4);
          w.uint(kflag ? off & 0xffffff : off);
          if (kflag && off >>> 24) {
            w.lit(L12);
            w.uint(off >>> 24);
          }
        }
        break;
      case 6:
        w.lit(kflag ? L23 : L24);
        w.uint(st);
        w.lit(L10);
        w.uint(vlen);
        for (let k = 0; k < vlen; k++, p += 2) {
          w.lit(L11);
          q(u32(p));
          w.lit(L13);
          if (kflag) w.int(s32(p + 1));
          else w.uint(u32(p + 1));
        }
        break;
      case 19:
        w.lit(kflag ? L23 : L24);
        w.uint(st);
        w.lit(L10);
        w.uint(vlen);
        for (let k = 0; k < vlen; k++, p += 3) {
          const val = (BigInt(u32(p + 2)) << 32n) | BigInt(u32(p + 1));
          w.lit(L11);
          q(u32(p));
          w.lit(L13);
          w.text(kflag ? `${BigInt.asIntN(64, val)}LL` : `${val}ULL`);
        }
        break;
      case 7:
        w.lit(kflag ? L25 : L26);
        break;
      case 12:
        w.lit(L7);
        w.uint(st);
        w.lit(L14);
        w.text(linkage(vlen));
        break;
      case 13:
        w.lit(L15);
        w.uint(st);
        w.lit(L10);
        w.uint(vlen);
        for (let k = 0; k < vlen; k++, p += 2) {
          w.lit(L11);
          q(u32(p));
          w.lit(L7);
          w.uint(u32(p + 1));
        }
        break;
      case 14:
        w.lit(L7);
        w.uint(st);
        w.lit(L16);
        w.text(linkage(u32(p)));
        break;
      case 15:
        w.lit(L3);
        w.uint(st);
        w.lit(L10);
        w.uint(vlen);
        for (let k = 0; k < vlen; k++, p += 3) {
          const ref = u32(p);
          w.lit(L17);
          w.uint(ref);
          w.lit(L18);
          w.uint(u32(p + 1));
          w.lit(L3);
          w.uint(u32(p + 2));
          if (ref < btf.length) {
            w.lit(L19);
            w.text(kindLabel(btf.kindOf(ref)));
            w.lit(L2);
            if (ref >= firstId) q(u32(offsets[ref - firstId]!));
            else w.text(`'${btf.nameOf(ref) || '(anon)'}'`);
            w.lit(L20);
          }
        }
        break;
      case 16:
        w.lit(L3);
        w.uint(st);
        break;
      case 17:
        w.lit(L7);
        w.uint(st);
        w.lit(L21);
        w.int(s32(p));
        break;
      default:
        break;
    }
    w.lit(L22);
  }
  return w.bytes();
}
