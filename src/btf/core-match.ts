/**
 * CO-RE type comparison rules, as libbpf defines them (relo_core.c): flavor
 * names (`name___suffix`), field compatibility, type compatibility (for
 * TYPE_EXISTS / TYPE_SIZE / TYPE_ID_TARGET) and the stricter type match (for
 * TYPE_MATCHES). Each function is our own rendering of the documented rules.
 */
import { essentialLength, type Btf } from './btf.js';
import { CoreRelocationError } from './errors.js';
import type { BtfType } from './types.js';
import { isEnum } from './types.js';

/** Recursion budget libbpf allows when comparing types. */
export const CORE_MAX_DEPTH = 32;

/**
 * Length of a name without its flavor: everything up to the last `X___Y`
 * (X and Y not underscores) is essential. `task_struct___old` → 11.
 */
export const essentialNameLength = essentialLength;

/** The name without its flavor suffix. */
export function essentialName(name: string): string {
  return name.slice(0, essentialNameLength(name));
}

/** Same kind, or both enums (ENUM and ENUM64 are interchangeable for CO-RE). */
export function kindsCompatible(a: BtfType, b: BtfType): boolean {
  return a.kind === b.kind || (isEnum(a) && isEnum(b));
}

const isComposite = (t: BtfType) => t.kind === 'struct' || t.kind === 'union';

/** Skip typedefs and modifiers, returning the id reached. */
export function skipModsAndTypedefs(btf: Btf, id: number): number {
  for (let depth = 0; ; depth++) {
    const t = btf.type(id);
    if (
      t.kind !== 'typedef' &&
      t.kind !== 'const' &&
      t.kind !== 'volatile' &&
      t.kind !== 'restrict' &&
      t.kind !== 'type_tag'
    ) {
      return id;
    }
    if (depth > CORE_MAX_DEPTH) throw new CoreRelocationError('typedef/modifier chain too long', { typeId: id });
    id = t.type;
  }
}

/**
 * Field compatibility (for field relocations): composites always match each
 * other; pointers and floats match; enums and forward declarations match when
 * their essential names do (or one is anonymous); ints match unless one is an
 * old-style bitfield int (non-zero bit offset); arrays compare element types.
 */
export function fieldsCompatible(local: Btf, localId: number, targ: Btf, targId: number): boolean {
  for (let depth = 0; depth <= CORE_MAX_DEPTH; depth++) {
    const lt = local.type(skipModsAndTypedefs(local, localId));
    const tt = targ.type(skipModsAndTypedefs(targ, targId));
    if (isComposite(lt) && isComposite(tt)) return true;
    if (!kindsCompatible(lt, tt)) return false;
    switch (lt.kind) {
      case 'ptr':
      case 'float':
        return true;
      case 'fwd':
      case 'enum':
      case 'enum64': {
        const ll = essentialNameLength(lt.name);
        const tl = essentialNameLength(tt.name);
        return ll === 0 || tl === 0 || (ll === tl && lt.name.slice(0, ll) === tt.name.slice(0, tl));
      }
      case 'int':
        return lt.bitOffset === 0 && (tt as typeof lt).bitOffset === 0;
      case 'array':
        localId = lt.type;
        targId = (tt as typeof lt).type;
        continue;
      default:
        return false;
    }
  }
  throw new CoreRelocationError('array nesting too deep while comparing fields', { typeId: localId });
}

/**
 * Type compatibility (TYPE_EXISTS, TYPE_SIZE, TYPE_ID_TARGET): kinds agree
 * after skipping typedefs/modifiers; composites, enums and fwds are compatible
 * without looking inside; ints unless bitfield-style; pointers and arrays
 * compare what they point at; function prototypes compare arity, each
 * parameter and the return type.
 */
export function typesCompatible(local: Btf, localId: number, targ: Btf, targId: number, level = CORE_MAX_DEPTH): boolean {
  if (!kindsCompatible(local.type(localId), targ.type(targId))) return false;
  for (let depth = CORE_MAX_DEPTH; ; ) {
    if (--depth < 0) throw new CoreRelocationError('type nesting too deep while comparing types', { typeId: localId });
    localId = skipModsAndTypedefs(local, localId);
    targId = skipModsAndTypedefs(targ, targId);
    const lt = local.type(localId);
    const tt = targ.type(targId);
    if (!kindsCompatible(lt, tt)) return false;
    switch (lt.kind) {
      case 'void':
      case 'struct':
      case 'union':
      case 'enum':
      case 'enum64':
      case 'fwd':
        return true;
      case 'int':
        return lt.bitOffset === 0 && (tt as typeof lt).bitOffset === 0;
      case 'ptr':
        localId = lt.type;
        targId = (tt as typeof lt).type;
        continue;
      case 'array':
        localId = lt.type;
        targId = (tt as typeof lt).type;
        continue;
      case 'func_proto': {
        const tp = tt as typeof lt;
        if (lt.params.length !== tp.params.length) return false;
        for (let i = 0; i < lt.params.length; i++) {
          if (level <= 0) throw new CoreRelocationError('function prototype nesting too deep', { typeId: localId });
          const ok = typesCompatible(
            local,
            skipModsAndTypedefs(local, lt.params[i]!.type),
            targ,
            skipModsAndTypedefs(targ, tp.params[i]!.type),
            level - 1,
          );
          if (!ok) return false;
        }
        localId = lt.type;
        targId = tp.type;
        continue;
      }
      default:
        return false;
    }
  }
}

/** Names match modulo flavor; an anonymous target only matches an anonymous local. */
function namesMatch(localName: string, targName: string): boolean {
  if (targName === '') return localName === '';
  const tl = essentialNameLength(targName);
  const ll = essentialNameLength(localName);
  return tl === ll && localName.slice(0, ll) === targName.slice(0, tl);
}

function enumsMatch(lt: BtfType, tt: BtfType): boolean {
  if (!isEnum(lt) || !isEnum(tt)) return false;
  if (lt.size !== tt.size) return false;
  if (lt.values.length > tt.values.length) return false;
  for (const lv of lt.values) {
    if (!tt.values.some((tv) => namesMatch(lv.name, tv.name))) return false;
  }
  return true;
}

/**
 * The TYPE_MATCHES relation: after skipping typedefs/modifiers names must
 * match (modulo flavor) and kinds agree (a struct/union behind a pointer may
 * match a fwd of the same kind, enum may match enum64); ints by size and
 * signedness; arrays by length and element; pointers by pointee; composites
 * need every local member in the target (by name) with a matching type;
 * enums need every local enumerator name in the target and equal size;
 * function prototypes by arity, parameters and return type.
 */
export function typesMatch(
  local: Btf,
  localId: number,
  targ: Btf,
  targId: number,
  behindPtr = false,
  level = CORE_MAX_DEPTH,
): boolean {
  if (level <= 0) throw new CoreRelocationError('type nesting too deep while matching types', { typeId: localId });
  for (let depth = CORE_MAX_DEPTH; ; ) {
    if (--depth < 0) throw new CoreRelocationError('type nesting too deep while matching types', { typeId: localId });
    localId = skipModsAndTypedefs(local, localId);
    targId = skipModsAndTypedefs(targ, targId);
    const lt = local.type(localId);
    const tt = targ.type(targId);
    if (!namesMatch(lt.name, tt.name)) return false;
    switch (lt.kind) {
      case 'void':
        return tt.kind === 'void';
      case 'fwd': {
        const lUnion = lt.fwdKind === 'union';
        if (behindPtr) {
          if (tt.kind === 'fwd') return lUnion === (tt.fwdKind === 'union');
          return (tt.kind === 'struct' && !lUnion) || (tt.kind === 'union' && lUnion);
        }
        return tt.kind === 'fwd' && lUnion === (tt.fwdKind === 'union');
      }
      case 'enum':
      case 'enum64':
        return enumsMatch(lt, tt);
      case 'struct':
      case 'union':
        if (behindPtr) {
          if (lt.kind === tt.kind) return true;
          if (tt.kind !== 'fwd') return false;
          return (lt.kind === 'union') === (tt.fwdKind === 'union');
        } else {
          if (lt.kind !== tt.kind) return false;
          const tm = (tt as typeof lt).members;
          if (lt.members.length > tm.length) return false;
          for (const m of lt.members) {
            let matched = false;
            for (const n of tm) {
              if (!namesMatch(m.name, n.name)) continue;
              if (typesMatch(local, m.type, targ, n.type, behindPtr, level - 1)) {
                matched = true;
                break;
              }
            }
            if (!matched) return false;
          }
          return true;
        }
      case 'int':
        if (tt.kind !== 'int') return false;
        return lt.size === tt.size && (lt.encoding & 1) === (tt.encoding & 1);
      case 'ptr':
        if (tt.kind !== 'ptr') return false;
        behindPtr = true;
        localId = lt.type;
        targId = tt.type;
        continue;
      case 'array':
        if (tt.kind !== 'array' || lt.nelems !== tt.nelems) return false;
        localId = lt.type;
        targId = tt.type;
        continue;
      case 'func_proto': {
        if (tt.kind !== 'func_proto' || lt.params.length !== tt.params.length) return false;
        for (let i = 0; i < lt.params.length; i++) {
          if (!typesMatch(local, lt.params[i]!.type, targ, tt.params[i]!.type, behindPtr, level - 1)) return false;
        }
        localId = lt.type;
        targId = tt.type;
        continue;
      }
      default:
        return false;
    }
  }
}
