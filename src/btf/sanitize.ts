/**
 * Sanitising BTF for an older kernel, as libbpf does before BPF_BTF_LOAD:
 * kinds the kernel does not know are rewritten into ones it does, keeping
 * every type id (and so every reference) and every size:
 *
 *   no DATASEC/VAR   VAR → 1-byte INT; DATASEC → STRUCT (members named after
 *                    the variables; '.' and '?' in the name become '_')
 *   no '?' DATASEC   a leading '?' of a DATASEC name becomes '_'
 *   no FUNC          FUNC → TYPEDEF; FUNC_PROTO → ENUM (one value per param)
 *   no global FUNC   global FUNC linkage → static
 *   no FLOAT         FLOAT → anonymous empty STRUCT of the same size
 *   no DECL_TAG      DECL_TAG → 1-byte INT
 *   no TYPE_TAG      TYPE_TAG → CONST
 *   no ENUM64        ENUM loses its signed flag; ENUM64 → UNION of 1-byte
 *                    INT members (a placeholder INT is appended)
 */
import { Btf } from './btf.js';
import type { BtfType, CompositeType, IntType } from './types.js';
import { LINKAGE_GLOBAL, LINKAGE_STATIC } from './types.js';

/** What the target kernel supports; anything left out counts as supported. */
export interface BtfFeatures {
  datasec?: boolean;
  qmarkDatasec?: boolean;
  func?: boolean;
  funcGlobal?: boolean;
  float?: boolean;
  declTag?: boolean;
  typeTag?: boolean;
  enum64?: boolean;
}

/** True when `btf` uses something `features` lacks. */
export function needsSanitizing(btf: Btf, features: BtfFeatures): boolean {
  for (const t of btf.ownTypes()) {
    if (rewrite(btf, t, features, 0) !== t) return true;
  }
  return false;
}

function oneByteInt(id: number, name: string): IntType {
  return { id, kind: 'int', name, size: 1, encoding: 0, bitOffset: 0, bits: 8 };
}

function rewrite(btf: Btf, t: BtfType, f: BtfFeatures, placeholder: number): BtfType {
  const { id } = t;
  switch (t.kind) {
    case 'var':
      return f.datasec === false ? oneByteInt(id, t.name) : t;
    case 'decl_tag':
      return f.declTag === false ? oneByteInt(id, t.name) : t;
    case 'datasec':
      if (f.datasec === false) {
        const s: CompositeType = {
          id,
          kind: 'struct',
          name: t.name.replace(/[.?]/g, '_'),
          size: t.size,
          kindFlag: false,
          members: t.vars.map((v) => ({ name: btf.nameOf(v.type), type: v.type, bitOffset: v.offset * 8, bitfieldSize: 0 })),
        };
        return s;
      }
      if (f.qmarkDatasec === false && t.name.startsWith('?')) return { ...t, name: `_${t.name.slice(1)}` };
      return t;
    case 'func_proto':
      if (f.func === false) {
        return { id, kind: 'enum', name: t.name, size: 4, signed: false, values: t.params.map((p) => ({ name: p.name, value: p.type })) };
      }
      return t;
    case 'func':
      if (f.func === false) return { id, kind: 'typedef', name: t.name, type: t.type };
      if (f.funcGlobal === false && t.linkage === LINKAGE_GLOBAL) return { ...t, linkage: LINKAGE_STATIC };
      return t;
    case 'float':
      return f.float === false ? { id, kind: 'struct', name: '', size: t.size, kindFlag: false, members: [] } : t;
    case 'type_tag':
      return f.typeTag === false ? { id, kind: 'const', name: '', type: t.type } : t;
    case 'enum':
      return f.enum64 === false && t.signed ? { ...t, signed: false, values: t.values.map((v) => ({ ...v, value: v.value >>> 0 })) } : t;
    case 'enum64':
      if (f.enum64 === false) {
        return {
          id,
          kind: 'union',
          name: t.name,
          size: t.size,
          kindFlag: false,
          members: t.values.map((v) => ({ name: v.name, type: placeholder, bitOffset: 0, bitfieldSize: 0 })),
        };
      }
      return t;
    default:
      return t;
  }
}

/**
 * A copy of `btf` the kernel described by `features` accepts. Type ids do
 * not change; when ENUM64s are rewritten one INT ('enum64_placeholder') is
 * appended. Returns `btf` itself when nothing needs rewriting.
 */
export function sanitizeBtf(btf: Btf, features: BtfFeatures): Btf {
  if (!needsSanitizing(btf, features)) return btf;
  const own = btf.ownTypes();
  const needPlaceholder = features.enum64 === false && own.some((t) => t.kind === 'enum64');
  const placeholder = needPlaceholder ? btf.length : 0;
  const out = own.map((t) => rewrite(btf, t, features, placeholder));
  if (needPlaceholder) out.push(oneByteInt(placeholder, 'enum64_placeholder'));
  return Btf.fromTypes(out, { base: btf.base, littleEndian: btf.littleEndian });
}
