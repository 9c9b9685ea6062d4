/**
 * CO-RE relocations: given the object's (local) BTF, one core_relo record
 * and a target BTF (the running kernel's, or a file), compute what the
 * instruction must become — libbpf's algorithm (relo_core.c), step by step:
 *
 *  1. parse the access string into a spec (field path, bit offset);
 *  2. candidates: target types of a compatible kind whose essential name
 *     (without `___flavor`) equals the local one; the main target first,
 *     module BTFs only when the main one has none;
 *  3. match the spec against each candidate (named fields by name, through
 *     anonymous members; array indices within bounds; compatible types);
 *  4. compute original and new values; all matching candidates must agree
 *     (else an ambiguity error); none matching means the instruction is
 *     poisoned (or the value is 0 for *_EXISTS / type relocations);
 *  5. patch the instruction, checking it holds the value the compiler put
 *     there.
 *
 * A CoreResolver holds the per-local-type candidate cache. libbpf shares
 * that cache for a whole object and prunes a type's candidates to those that
 * matched, so feed relocations to one resolver in .BTF.ext order to get the
 * same decisions as libbpf.
 */
import type { Instruction } from '../ebpf/insn.js';
import type { Btf } from './btf.js';
import { CoreRelocationError } from './errors.js';
import { CORE_RELO_KIND_NAMES, CoreReloKind, type CoreRelo } from './ext.js';
import {
  essentialNameLength,
  fieldsCompatible,
  kindsCompatible,
  skipModsAndTypedefs,
  typesCompatible,
  typesMatch,
} from './core-match.js';
import type { BtfType } from './types.js';
import { INT_SIGNED, isEnum, kindLabel } from './types.js';

/** libbpf's limit on access-string length. */
export const CORE_SPEC_MAX_LEN = 64;
/** The imm a poisoned instruction gets: `call 0xbad2310` ("bad relo"). */
export const POISON_IMM = 195896080;

export interface CoreAccessor {
  /** For a field: the struct/union holding it; for an array index: the element type. */
  typeId: number;
  /** Member index or array index. */
  idx: number;
  /** Field or enumerator name; undefined for array indices. */
  name?: string;
}

/** A parsed (local) or matched (target) access specification. */
export interface CoreSpec {
  btf: Btf;
  rootTypeId: number;
  kind: CoreReloKind;
  /** High-level accessors: the first index, named fields, array indices. */
  spec: CoreAccessor[];
  /** Low-level access string, one entry per hop (anonymous members included). */
  raw: number[];
  bitOffset: number;
}

export interface CoreResult {
  kind: CoreReloKind;
  /** The value the compiler assumed (from the local BTF). */
  origValue: bigint;
  /** The value for the target. */
  newValue: bigint;
  /** Replace the instruction with an invalid call (no match, or unsafe resize). */
  poison: boolean;
  /** Check that the instruction currently holds origValue before patching. */
  validate: boolean;
  /** Field load/store sizes (bytes) before and after, when they matter. */
  origSize: number;
  newSize: number;
  origTypeId: number;
  newTypeId: number;
  /** Sizes differ and the access would read a wrong value: poison loads/stores. */
  failMemSizeAdjust: boolean;
  /** The local spec, formatted as libbpf logs it. */
  localSpec: string;
  /** The chosen target spec, when one matched. */
  targetSpec?: string;
  /** Candidate type ids that matched (in the BTF they came from). */
  matched: { btf: Btf; id: number }[];
}

export const isFieldRelo = (k: number): boolean => k <= CoreReloKind.FIELD_RSHIFT_U64;
export const isTypeRelo = (k: number): boolean =>
  k === CoreReloKind.TYPE_ID_LOCAL ||
  k === CoreReloKind.TYPE_ID_TARGET ||
  k === CoreReloKind.TYPE_EXISTS ||
  k === CoreReloKind.TYPE_SIZE ||
  k === CoreReloKind.TYPE_MATCHES;
export const isEnumvalRelo = (k: number): boolean =>
  k === CoreReloKind.ENUMVAL_EXISTS || k === CoreReloKind.ENUMVAL_VALUE;

const kindName = (k: number) => CORE_RELO_KIND_NAMES[k] ?? 'unknown';

function sizeOrFail(btf: Btf, id: number, what: string): number {
  try {
    return btf.sizeOf(id);
  } catch (err) {
    throw new CoreRelocationError(`${what}: ${(err as Error).message}`, { typeId: id });
  }
}

function isFlexArray(btf: Btf, parent: CoreAccessor | undefined, nelems: number): boolean {
  if (!parent || parent.name === undefined || nelems > 0) return false;
  const t = btf.type(parent.typeId);
  return (t.kind === 'struct' || t.kind === 'union') && parent.idx === t.members.length - 1;
}

/** Step 1: parse a relocation's access string against the local BTF. */
export function parseCoreSpec(btf: Btf, relo: CoreRelo): CoreSpec {
  const fail = (msg: string): never => {
    throw new CoreRelocationError(
      `${kindName(relo.kind)} relocation for [${relo.typeId}] with access string '${relo.accessStr}': ${msg}`,
      { typeId: relo.typeId },
    );
  };
  const s = relo.accessStr;
  if (s === '' || s.startsWith(':')) fail('empty or malformed access string');
  const spec: CoreSpec = { btf, rootTypeId: relo.typeId, kind: relo.kind, spec: [], raw: [], bitOffset: 0 };
  if (isTypeRelo(relo.kind)) {
    if (s !== '0') fail('type relocations need access string "0"');
    return spec;
  }
  for (const part of s.split(':')) {
    if (!/^\d+$/.test(part)) fail(`'${part}' is not an index`);
    if (spec.raw.length === CORE_SPEC_MAX_LEN) fail(`more than ${CORE_SPEC_MAX_LEN} accessors`);
    const n = Number(part);
    if (n > 0x7fffffff) fail(`index ${part} is too large`);
    spec.raw.push(n);
  }
  let id = skipModsAndTypedefs(btf, relo.typeId);
  let t: BtfType = btf.type(id);
  const first = spec.raw[0]!;
  spec.spec.push({ typeId: id, idx: first });

  if (isEnumvalRelo(relo.kind)) {
    if (!isEnum(t)) fail(`type is ${kindLabel(t.kind)}, not an enum`);
    const e = t as Extract<BtfType, { kind: 'enum' | 'enum64' }>;
    if (spec.raw.length > 1 || first >= e.values.length) fail(`enumerator index ${first} out of range (${e.values.length})`);
    spec.spec[0]!.name = e.values[first]!.name;
    return spec;
  }
  if (!isFieldRelo(relo.kind)) fail(`unknown relocation kind ${relo.kind}`);

  spec.bitOffset = first * sizeOrFail(btf, id, 'cannot size the root type') * 8;
  for (let i = 1; i < spec.raw.length; i++) {
    id = skipModsAndTypedefs(btf, id);
    t = btf.type(id);
    const idx = spec.raw[i]!;
    if (t.kind === 'struct' || t.kind === 'union') {
      if (idx >= t.members.length) fail(`member index ${idx} out of range for [${id}] (${t.members.length} members)`);
      const m = t.members[idx]!;
      spec.bitOffset += m.bitOffset;
      if (m.name !== '') spec.spec.push({ typeId: id, idx, name: m.name });
      id = m.type;
    } else if (t.kind === 'array') {
      const parent = spec.spec[spec.spec.length - 1];
      const elem = skipModsAndTypedefs(btf, t.type);
      if (!isFlexArray(btf, parent, t.nelems) && idx >= t.nelems) {
        fail(`array index ${idx} out of bounds for [${id}] (${t.nelems} elements)`);
      }
      spec.spec.push({ typeId: elem, idx });
      spec.bitOffset += idx * sizeOrFail(btf, elem, 'cannot size an array element') * 8;
      id = elem;
    } else {
      fail(`accessor ${i} reaches [${id}] ${kindLabel(t.kind)}, which has no members or elements`);
    }
  }
  return spec;
}

/** libbpf's one-line description of a spec (used in its debug log and our errors). */
export function formatCoreSpec(spec: CoreSpec): string {
  const t = spec.btf.type(spec.rootTypeId);
  let s = `<${kindName(spec.kind)}> [${spec.rootTypeId}] ${t.kind} ${t.name || '<anon>'}`;
  if (isTypeRelo(spec.kind)) return s;
  if (isEnumvalRelo(spec.kind)) {
    const e = spec.btf.type(skipModsAndTypedefs(spec.btf, spec.rootTypeId));
    if (isEnum(e) && spec.raw.length > 0) {
      const v = e.values[spec.raw[0]!];
      if (v) s += `::${v.name} = ${v.value}`;
    }
    return s;
  }
  spec.spec.forEach((a, i) => {
    if (a.name !== undefined) s += `.${a.name}`;
    else if (i > 0 || a.idx > 0) s += `[${a.idx}]`;
  });
  s += ` (${spec.raw.join(':')}`;
  s += spec.bitOffset % 8 ? ` @ offset ${Math.floor(spec.bitOffset / 8)}.${spec.bitOffset % 8})` : ` @ offset ${spec.bitOffset / 8})`;
  return s;
}

/** Find the named local member among the target struct's members, descending into anonymous ones. */
function matchMember(
  localSpec: CoreSpec,
  localAcc: CoreAccessor,
  targ: Btf,
  targId: number,
  out: CoreSpec,
): number | false {
  targId = skipModsAndTypedefs(targ, targId);
  const tt = targ.type(targId);
  if (tt.kind !== 'struct' && tt.kind !== 'union') return false;
  const lt = localSpec.btf.type(localAcc.typeId) as Extract<BtfType, { kind: 'struct' | 'union' }>;
  const lm = lt.members[localAcc.idx]!;
  for (let i = 0; i < tt.members.length; i++) {
    const m = tt.members[i]!;
    if (out.raw.length === CORE_SPEC_MAX_LEN) {
      throw new CoreRelocationError(`target access path longer than ${CORE_SPEC_MAX_LEN}`, { typeId: targId });
    }
    out.bitOffset += m.bitOffset;
    out.raw.push(i);
    if (m.name === '') {
      const found = matchMember(localSpec, localAcc, targ, m.type, out);
      if (found !== false) return found;
    } else if (m.name === lm.name) {
      out.spec.push({ typeId: targId, idx: i, name: m.name });
      if (fieldsCompatible(localSpec.btf, lm.type, targ, m.type)) return m.type;
      out.spec.pop();
      return false;
    }
    out.bitOffset -= m.bitOffset;
    out.raw.pop();
  }
  return false;
}

/** Step 3: match a local spec against one candidate; undefined when it does not match. */
export function matchCoreSpec(local: CoreSpec, targ: Btf, targId: number): CoreSpec | undefined {
  const out: CoreSpec = { btf: targ, rootTypeId: targId, kind: local.kind, spec: [], raw: [], bitOffset: 0 };
  if (isTypeRelo(local.kind)) {
    const ok =
      local.kind === CoreReloKind.TYPE_MATCHES
        ? typesMatch(local.btf, local.rootTypeId, targ, targId)
        : typesCompatible(local.btf, local.rootTypeId, targ, targId);
    return ok ? out : undefined;
  }
  if (isEnumvalRelo(local.kind)) {
    const id = skipModsAndTypedefs(targ, targId);
    const tt = targ.type(id);
    if (!isEnum(tt)) return undefined;
    const ln = local.spec[0]!.name!;
    const ll = essentialNameLength(ln);
    for (let i = 0; i < tt.values.length; i++) {
      const tn = tt.values[i]!.name;
      if (essentialNameLength(tn) !== ll) continue;
      if (ln.slice(0, ll) === tn.slice(0, ll)) {
        out.spec.push({ typeId: id, idx: i, name: tn });
        out.raw.push(i);
        return out;
      }
    }
    return undefined;
  }
  let id = targId;
  for (let i = 0; i < local.spec.length; i++) {
    const la = local.spec[i]!;
    id = skipModsAndTypedefs(targ, id);
    const tt = targ.type(id);
    if (la.name !== undefined) {
      const next = matchMember(local, la, targ, id, out);
      if (next === false) return undefined;
      id = next;
    } else {
      if (i > 0) {
        if (tt.kind !== 'array') return undefined;
        const parent = out.spec[out.spec.length - 1];
        if (!isFlexArray(targ, parent, tt.nelems) && la.idx >= tt.nelems) return undefined;
        id = skipModsAndTypedefs(targ, tt.type);
      }
      if (out.raw.length === CORE_SPEC_MAX_LEN) {
        throw new CoreRelocationError(`target access path longer than ${CORE_SPEC_MAX_LEN}`, { typeId: targId });
      }
      out.spec.push({ typeId: id, idx: la.idx });
      out.raw.push(la.idx);
      out.bitOffset += la.idx * sizeOrFail(targ, id, 'cannot size a target array element') * 8;
    }
  }
  return out;
}

interface FieldValue {
  value: bigint;
  size: number;
  typeId: number;
  validate: boolean;
}

const POISON = Symbol('poison');

function fieldValue(relo: CoreRelo, spec: CoreSpec | undefined): FieldValue | typeof POISON {
  if (relo.kind === CoreReloKind.FIELD_EXISTS) return { value: spec ? 1n : 0n, size: 0, typeId: 0, validate: true };
  if (!spec) return POISON;
  const btf = spec.btf;
  const acc = spec.spec[spec.spec.length - 1]!;
  if (acc.name === undefined) {
    // a[n]: only the offset and the size make sense
    const sz = sizeOrFail(btf, acc.typeId, 'cannot size an array element');
    if (relo.kind === CoreReloKind.FIELD_BYTE_OFFSET) {
      return { value: BigInt(Math.floor(spec.bitOffset / 8)), size: sz, typeId: acc.typeId, validate: true };
    }
    if (relo.kind === CoreReloKind.FIELD_BYTE_SIZE) return { value: BigInt(sz), size: 0, typeId: 0, validate: true };
    throw new CoreRelocationError(`${kindName(relo.kind)} relocation cannot apply to an array element access`, {
      typeId: relo.typeId,
      offset: relo.insnOff,
    });
  }
  const t = btf.type(acc.typeId) as Extract<BtfType, { kind: 'struct' | 'union' }>;
  const m = t.members[acc.idx]!;
  const fieldTypeId = skipModsAndTypedefs(btf, m.type);
  const mt = btf.type(fieldTypeId);
  const bitOff = spec.bitOffset;
  let bitSz = m.bitfieldSize;
  const bitfield = bitSz > 0;
  let byteSz: number;
  let byteOff: number;
  if (bitfield) {
    byteSz = 'size' in mt ? (mt as { size: number }).size : 0;
    if (byteSz <= 0) {
      throw new CoreRelocationError(`bitfield '${m.name}' has a type without size`, { typeId: acc.typeId });
    }
    byteOff = Math.floor(bitOff / 8 / byteSz) * byteSz;
    while (bitOff + bitSz - byteOff * 8 > byteSz * 8) {
      if (byteSz >= 8) {
        throw new CoreRelocationError(`bitfield '${m.name}' cannot be read with a 64-bit load`, {
          typeId: acc.typeId,
          offset: relo.insnOff,
        });
      }
      byteSz *= 2;
      byteOff = Math.floor(bitOff / 8 / byteSz) * byteSz;
    }
  } else {
    byteSz = sizeOrFail(btf, fieldTypeId, `cannot size field '${m.name}'`);
    byteOff = Math.floor(bitOff / 8);
    bitSz = byteSz * 8;
  }
  switch (relo.kind) {
    case CoreReloKind.FIELD_BYTE_OFFSET:
      return { value: BigInt(byteOff), size: bitfield ? 0 : byteSz, typeId: bitfield ? 0 : fieldTypeId, validate: !bitfield };
    case CoreReloKind.FIELD_BYTE_SIZE:
      return { value: BigInt(byteSz), size: 0, typeId: 0, validate: !bitfield };
    case CoreReloKind.FIELD_SIGNED: {
      const signed = (isEnum(mt) && mt.signed) || (mt.kind === 'int' && (mt.encoding & INT_SIGNED) !== 0);
      return { value: signed ? 1n : 0n, size: 0, typeId: 0, validate: true };
    }
    case CoreReloKind.FIELD_LSHIFT_U64: {
      const v = btf.littleEndian ? 64 - (bitOff + bitSz - byteOff * 8) : (8 - byteSz) * 8 + (bitOff - byteOff * 8);
      return { value: BigInt(v), size: 0, typeId: 0, validate: !bitfield };
    }
    case CoreReloKind.FIELD_RSHIFT_U64:
      return { value: BigInt(64 - bitSz), size: 0, typeId: 0, validate: true };
    default:
      throw new CoreRelocationError(`unsupported field relocation kind ${relo.kind}`, { typeId: relo.typeId });
  }
}

function typeValue(relo: CoreRelo, spec: CoreSpec | undefined): bigint {
  if (!spec) return 0n;
  switch (relo.kind) {
    case CoreReloKind.TYPE_ID_TARGET:
      return BigInt(spec.rootTypeId);
    case CoreReloKind.TYPE_EXISTS:
    case CoreReloKind.TYPE_MATCHES:
      return 1n;
    case CoreReloKind.TYPE_SIZE:
      return BigInt(sizeOrFail(spec.btf, spec.rootTypeId, 'cannot size the type'));
    default:
      throw new CoreRelocationError(`unsupported type relocation kind ${relo.kind}`, { typeId: relo.typeId });
  }
}

function enumValue(relo: CoreRelo, spec: CoreSpec | undefined): bigint | typeof POISON {
  if (relo.kind === CoreReloKind.ENUMVAL_EXISTS) return spec ? 1n : 0n;
  if (!spec) return POISON;
  const t = spec.btf.type(spec.spec[0]!.typeId);
  const v = isEnum(t) ? t.values[spec.spec[0]!.idx]!.value : 0;
  // A 32-bit enumerator is sign-extended to 64 bits, as libbpf stores it.
  return typeof v === 'bigint' ? BigInt.asUintN(64, v) : BigInt.asUintN(64, BigInt(v | 0));
}

/** Step 4: the values for one (local, target-or-none) pair. */
export function calcCoreResult(relo: CoreRelo, local: CoreSpec, targ: CoreSpec | undefined): CoreResult {
  const res: CoreResult = {
    kind: relo.kind,
    origValue: 0n,
    newValue: 0n,
    poison: false,
    validate: true,
    origSize: 0,
    newSize: 0,
    origTypeId: 0,
    newTypeId: 0,
    failMemSizeAdjust: false,
    localSpec: formatCoreSpec(local),
    targetSpec: targ ? formatCoreSpec(targ) : undefined,
    matched: [],
  };
  if (isFieldRelo(relo.kind)) {
    const o = fieldValue(relo, local);
    if (o === POISON) throw new CoreRelocationError('local spec missing', { typeId: relo.typeId });
    res.origValue = o.value;
    res.origSize = o.size;
    res.origTypeId = o.typeId;
    res.validate = o.validate;
    const n = fieldValue(relo, targ);
    if (n === POISON) {
      res.poison = true;
      return res;
    }
    res.newValue = n.value;
    res.newSize = n.size;
    res.newTypeId = n.typeId;
    if (res.origSize !== res.newSize && targ) {
      const ot = local.btf.type(res.origTypeId);
      const nt = targ.btf.type(res.newTypeId);
      const unsignedInt = (t: BtfType) => t.kind === 'int' && t.encoding !== INT_SIGNED;
      if (!((ot.kind === 'ptr' && nt.kind === 'ptr') || (unsignedInt(ot) && unsignedInt(nt)))) {
        res.failMemSizeAdjust = true;
      }
    }
  } else if (isTypeRelo(relo.kind)) {
    res.origValue = typeValue(relo, local);
    res.validate = relo.kind !== CoreReloKind.TYPE_ID_TARGET;
    res.newValue = typeValue(relo, targ);
  } else if (isEnumvalRelo(relo.kind)) {
    const o = enumValue(relo, local);
    if (o === POISON) throw new CoreRelocationError('local spec missing', { typeId: relo.typeId });
    res.origValue = o;
    const n = enumValue(relo, targ);
    if (n === POISON) res.poison = true;
    else res.newValue = n;
  } else {
    throw new CoreRelocationError(`unknown CO-RE relocation kind ${relo.kind}`, { typeId: relo.typeId });
  }
  return res;
}

export interface CoreResolverOptions {
  /** Module BTFs (split on the target) searched when the target has no candidate. */
  modules?: Btf[];
}

interface Candidate {
  btf: Btf;
  id: number;
}

/**
 * Resolves CO-RE relocations of one object against one target, caching (and
 * pruning) candidates per local type like libbpf.
 */
export class CoreResolver {
  private readonly cands = new Map<number, Candidate[]>();

  constructor(
    readonly local: Btf,
    readonly target: Btf,
    private readonly options: CoreResolverOptions = {},
  ) {}

  /** Step 2: target types that could correspond to local type `id`. */
  candidates(localId: number): Candidate[] {
    const lt = this.local.type(localId);
    if (lt.name === '') {
      throw new CoreRelocationError('CO-RE relocations do not support anonymous types (no candidates can be searched)', {
        typeId: localId,
      });
    }
    const ess = lt.name.slice(0, essentialNameLength(lt.name));
    const search = (btf: Btf): Candidate[] =>
      btf.idsWithEssentialName(ess).filter((id) => kindsCompatible(btf.type(id), lt)).map((id) => ({ btf, id }));
    let out = search(this.target);
    if (out.length === 0) {
      for (const m of this.options.modules ?? []) {
        out = out.concat(search(m));
      }
    }
    return out;
  }

  /**
   * Compute the result for one relocation. `where` only labels errors.
   * Throws CoreRelocationError where libbpf would fail the load (bad access
   * string, anonymous root type, ambiguity, unsatisfiable bitfield).
   */
  resolve(relo: CoreRelo, where: { program?: string; index?: number } = {}): CoreResult {
    const label = `${where.program ? `program '${where.program}' ` : ''}CO-RE relocation${where.index !== undefined ? ` #${where.index}` : ''} at insn #${relo.insnOff / 8}`;
    try {
      return this.resolveInner(relo);
    } catch (err) {
      if (err instanceof CoreRelocationError) {
        throw new CoreRelocationError(`${label}: ${err.reason}`, {
          section: '.BTF.ext core_relo',
          typeId: err.typeId ?? relo.typeId,
        });
      }
      throw err;
    }
  }

  private resolveInner(relo: CoreRelo): CoreResult {
    if (relo.typeId >= this.local.length) {
      throw new CoreRelocationError(`local type id ${relo.typeId} does not exist`, { typeId: relo.typeId });
    }
    const localSpec = parseCoreSpec(this.local, relo);
    if (relo.kind === CoreReloKind.TYPE_ID_LOCAL) {
      const id = BigInt(localSpec.rootTypeId);
      return {
        kind: relo.kind,
        origValue: id,
        newValue: id,
        poison: false,
        validate: false,
        origSize: 0,
        newSize: 0,
        origTypeId: 0,
        newTypeId: 0,
        failMemSizeAdjust: false,
        localSpec: formatCoreSpec(localSpec),
        matched: [],
      };
    }
    let cands = this.cands.get(relo.typeId);
    if (!cands) {
      cands = this.candidates(relo.typeId);
      this.cands.set(relo.typeId, cands);
    }
    let best: { res: CoreResult; spec: CoreSpec } | undefined;
    const kept: Candidate[] = [];
    for (const c of cands) {
      const spec = matchCoreSpec(localSpec, c.btf, c.id);
      if (!spec) continue;
      const res = calcCoreResult(relo, localSpec, spec);
      if (!best) {
        best = { res, spec };
      } else if (spec.bitOffset !== best.spec.bitOffset) {
        throw new CoreRelocationError(
          `field offset ambiguity: candidates [${c.id}] and [${best.spec.rootTypeId}] put it at bit ${spec.bitOffset} and ${best.spec.bitOffset}`,
          { typeId: relo.typeId },
        );
      } else if (res.poison !== best.res.poison || res.newValue !== best.res.newValue) {
        throw new CoreRelocationError(
          `relocation decision ambiguity: candidate [${c.id}] gives ${res.poison ? 'failure' : 'success'} ${res.newValue}, [${best.spec.rootTypeId}] gives ${best.res.poison ? 'failure' : 'success'} ${best.res.newValue}`,
          { typeId: relo.typeId },
        );
      }
      kept.push(c);
    }
    if (kept.length > 0) {
      this.cands.set(relo.typeId, kept);
      best!.res.matched = kept.map((c) => ({ btf: c.btf, id: c.id }));
      return best!.res;
    }
    return calcCoreResult(relo, localSpec, undefined);
  }
}

/** Make an instruction the poison call (`call 0xbad2310`). */
function poisonInsn(ins: Instruction): void {
  ins.code = 0x85; // BPF_JMP | BPF_CALL
  ins.dst = 0;
  ins.src = 0;
  ins.off = 0;
  ins.imm = POISON_IMM;
}

const SIZE_BYTES: Record<number, number> = { 0x18: 8, 0x00: 4, 0x08: 2, 0x10: 1 };
const BYTES_SIZE: Record<number, number> = { 8: 0x18, 4: 0x00, 2: 0x08, 1: 0x10 };

/** What patchInstruction did, for logs and disassembly notes. */
export interface CorePatch {
  action: 'poisoned' | 'imm' | 'off' | 'imm64';
  from: bigint;
  to: bigint;
  /** New load/store size in bytes when it changed. */
  resized?: { from: number; to: number };
}

/**
 * Step 5: apply a result to insns[index] (and index+1 for LDDW) in place, as
 * libbpf's bpf_core_patch_insn does. Throws CoreRelocationError when the
 * instruction does not hold the expected value or cannot carry the new one.
 */
export function patchInstruction(insns: Instruction[], index: number, res: CoreResult): CorePatch {
  const ins = insns[index];
  const fail = (msg: string): never => {
    throw new CoreRelocationError(`insn #${index}: ${msg}`, { section: '.BTF.ext core_relo' });
  };
  if (!ins) return fail('no such instruction');
  const cls = ins.code & 0x07;
  const isLddw = ins.code === 0x18;
  if (res.poison) {
    if (isLddw && insns[index + 1]) poisonInsn(insns[index + 1]!);
    poisonInsn(ins);
    return { action: 'poisoned', from: 0n, to: BigInt(POISON_IMM) };
  }
  const { origValue, newValue } = res;
  switch (cls) {
    case 0x04: // ALU
    case 0x07: {
      // ALU64
      if ((ins.code & 0x08) !== 0) fail('ALU instruction with a register source cannot be relocated');
      const cur = BigInt.asUintN(64, BigInt(ins.imm | 0));
      if (res.validate && cur !== origValue) {
        fail(`unexpected ALU immediate: got ${ins.imm >>> 0}, expected ${origValue} (-> ${newValue})`);
      }
      ins.imm = Number(BigInt.asIntN(32, newValue));
      return { action: 'imm', from: cur, to: newValue };
    }
    case 0x01: // LDX
    case 0x02: // ST
    case 0x03: {
      // STX
      const cur = BigInt.asUintN(64, BigInt(ins.off));
      if (res.validate && cur !== origValue) {
        fail(`unexpected load/store offset: got ${ins.off}, expected ${origValue} (-> ${newValue})`);
      }
      if (newValue > 0x7fffn) fail(`offset ${newValue} does not fit in 16 bits`);
      if (res.failMemSizeAdjust) {
        poisonInsn(ins);
        return { action: 'poisoned', from: cur, to: BigInt(POISON_IMM) };
      }
      ins.off = Number(newValue);
      const patch: CorePatch = { action: 'off', from: cur, to: newValue };
      if (res.newSize !== res.origSize) {
        const have = SIZE_BYTES[ins.code & 0x18]!;
        if (have !== res.origSize) fail(`unexpected memory access size: got ${have}, expected ${res.origSize}`);
        const sz = BYTES_SIZE[res.newSize];
        if (sz === undefined) fail(`invalid new memory access size ${res.newSize}`);
        ins.code = (ins.code & 0xe0) | sz! | cls;
        patch.resized = { from: res.origSize, to: res.newSize };
      }
      return patch;
    }
    case 0x00: {
      // LD
      const hi = insns[index + 1];
      if (!isLddw || !hi || ins.src !== 0 || ins.off !== 0 || hi.code !== 0 || hi.dst !== 0 || hi.src !== 0 || hi.off !== 0) {
        fail('LDDW has an unexpected form');
      }
      const cur = (BigInt(hi!.imm >>> 0) << 32n) | BigInt(ins.imm >>> 0);
      if (res.validate && cur !== origValue) fail(`unexpected LDDW value: got ${cur}, expected ${origValue} (-> ${newValue})`);
      const v = BigInt.asUintN(64, newValue);
      ins.imm = Number(BigInt.asIntN(32, v));
      hi!.imm = Number(BigInt.asIntN(32, v >> 32n));
      return { action: 'imm64', from: cur, to: v };
    }
    default:
      return fail(`cannot relocate instruction with opcode 0x${ins.code.toString(16)}`);
  }
}

/** Resolve and apply in one step. */
export function applyCoreRelocation(
  resolver: CoreResolver,
  relo: CoreRelo,
  insns: Instruction[],
  index: number,
  where: { program?: string; index?: number } = {},
): { result: CoreResult; patch: CorePatch } {
  const result = resolver.resolve(relo, where);
  try {
    return { result, patch: patchInstruction(insns, index, result) };
  } catch (err) {
    if (err instanceof CoreRelocationError && where.program) {
      throw new CoreRelocationError(`program '${where.program}' ${err.message}`, { section: '.BTF.ext core_relo' });
    }
    throw err;
  }
}

