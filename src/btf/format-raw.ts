/**
 * The raw text dump, line for line what `bpftool btf dump file X` (format
 * raw) prints: `[id] KIND 'name' fields...`, then one indented line per
 * member / value / parameter / section entry. For split BTF only the types the
 * Btf owns are printed, as bpftool does.
 */
import type { Btf } from './btf.js';
import type { BtfType } from './types.js';
import { INT_BOOL, INT_CHAR, INT_SIGNED, kindLabel } from './types.js';

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
  const own = btf.ownTypes();
  const out: string[] = new Array(own.length + 1);
  for (let i = 0; i < own.length; i++) out[i] = formatRawType(btf, own[i]!);
  out[own.length] = '';
  return out.join('\n');
}
