/**
 * Global variables of a BPF object (.data, .rodata, .bss, their .data.* /
 * .rodata.* variants and .kconfig) as typed, settable values. A Variable
 * reads and writes the initial bytes of its data-section map (MapSpec.data),
 * so setting it before load changes what the program sees: rewriting a
 * `const volatile` in .rodata is how a loader specialises a program.
 *
 * get() gives a number for integers and enums up to 32 bits, a bigint for
 * 64-bit integers and pointers, a boolean for _Bool, a string for char
 * arrays, and the raw bytes otherwise; set() accepts the same (or raw bytes
 * of the right length) and checks ranges.
 */
import type { Btf } from '../btf/btf.js';
import { INT_BOOL, INT_SIGNED } from '../btf/types.js';
import { UsageError } from '../errors.js';
import type { MapSpec, VariableSpec } from '../ebpf/spec.js';

const utf8 = new TextDecoder();

export type VariableValue = number | bigint | boolean | string | Uint8Array;

type Shape =
  | { kind: 'int'; size: number; signed: boolean }
  | { kind: 'bool' }
  | { kind: 'chars'; size: number }
  | { kind: 'bytes'; size: number };

export class Variable implements VariableSpec {
  readonly name: string;
  readonly map: string;
  readonly offset: number;
  readonly size: number;
  readonly btfTypeId?: number;
  private readonly spec: MapSpec;
  private readonly le: boolean;
  private readonly shape: Shape;

  constructor(name: string, mapSpec: MapSpec, offset: number, size: number, littleEndian: boolean, btf?: Btf, typeId?: number) {
    this.name = name;
    this.map = mapSpec.name;
    this.offset = offset;
    this.size = size;
    if (typeId !== undefined) this.btfTypeId = typeId;
    this.spec = mapSpec;
    this.le = littleEndian;
    this.shape = shapeOf(btf, typeId, size);
  }

  /** The C type as BTF describes it ('int', 'bool', 'char[]', 'bytes'). */
  get kind(): Shape['kind'] {
    return this.shape.kind;
  }

  /** True for .rodata and .kconfig variables (read-only to programs; still settable before load). */
  get readOnlyForPrograms(): boolean {
    return this.spec.freeze === true;
  }

  private data(): Uint8Array {
    const d = this.spec.data;
    if (!d || d.length < this.offset + this.size) {
      throw new UsageError(`variable '${this.name}' lies outside the data of map '${this.map}'`);
    }
    return d;
  }

  /** A copy of the variable's bytes. */
  bytes(): Uint8Array {
    return this.data().slice(this.offset, this.offset + this.size);
  }

  get(): VariableValue {
    const b = this.data().subarray(this.offset, this.offset + this.size);
    const s = this.shape;
    switch (s.kind) {
      case 'bool':
        return b[0] !== 0;
      case 'chars': {
        const end = b.indexOf(0);
        return utf8.decode(end >= 0 ? b.subarray(0, end) : b);
      }
      case 'int': {
        const u = readUint(b, this.le);
        if (s.size === 8) return s.signed ? BigInt.asIntN(64, u) : u;
        const n = Number(u);
        return s.signed ? Number(BigInt.asIntN(s.size * 8, u)) : n;
      }
      default:
        return b.slice();
    }
  }

  set(value: VariableValue): void {
    const d = this.data();
    const at = this.offset;
    const fail = (why: string) => new UsageError(`variable '${this.name}': ${why}`);
    if (value instanceof Uint8Array) {
      if (value.length !== this.size) throw fail(`needs ${this.size} bytes, got ${value.length}`);
      d.set(value, at);
      return;
    }
    const s = this.shape;
    if (s.kind === 'bool') {
      if (typeof value !== 'boolean' && value !== 0 && value !== 1) throw fail('is a bool');
      d[at] = value === true || value === 1 ? 1 : 0;
      return;
    }
    if (s.kind === 'chars') {
      if (typeof value !== 'string') throw fail('is a char array; set a string or bytes');
      const enc = new TextEncoder().encode(value);
      if (enc.length > s.size) throw fail(`string of ${enc.length} bytes does not fit in char[${s.size}]`);
      d.fill(0, at, at + s.size);
      d.set(enc, at);
      return;
    }
    if (s.kind === 'int') {
      let n: bigint;
      if (typeof value === 'bigint') n = value;
      else if (typeof value === 'number' && Number.isInteger(value)) n = BigInt(value);
      else if (typeof value === 'boolean') n = value ? 1n : 0n;
      else throw fail(`is a ${s.size * 8}-bit integer; got ${typeof value}`);
      const bits = s.size * 8;
      const ok = s.signed ? BigInt.asIntN(bits, n) === n : BigInt.asUintN(bits, n) === n;
      if (!ok) throw fail(`${n} does not fit in a ${s.signed ? 'signed' : 'unsigned'} ${bits}-bit integer`);
      writeUint(d.subarray(at, at + s.size), BigInt.asUintN(bits, n), this.le);
      return;
    }
    throw fail(`has no scalar type; set ${this.size} raw bytes`);
  }
}

function readUint(b: Uint8Array, le: boolean): bigint {
  let v = 0n;
  for (let i = 0; i < b.length; i++) v |= BigInt(b[le ? i : b.length - 1 - i]!) << BigInt(8 * i);
  return v;
}

function writeUint(b: Uint8Array, v: bigint, le: boolean): void {
  for (let i = 0; i < b.length; i++) b[le ? i : b.length - 1 - i] = Number((v >> BigInt(8 * i)) & 0xffn);
}

function shapeOf(btf: Btf | undefined, typeId: number | undefined, size: number): Shape {
  if (!btf || typeId === undefined) return { kind: 'bytes', size };
  let t;
  try {
    t = btf.resolve(typeId);
  } catch {
    return { kind: 'bytes', size };
  }
  if (t.kind === 'var') t = btf.resolve(t.type);
  if (t.kind === 'int') {
    if (t.encoding & INT_BOOL && t.size === 1) return { kind: 'bool' };
    if ([1, 2, 4, 8].includes(t.size) && t.size === size) return { kind: 'int', size: t.size, signed: (t.encoding & INT_SIGNED) !== 0 };
  }
  if ((t.kind === 'enum' || t.kind === 'enum64') && [1, 2, 4, 8].includes(t.size)) return { kind: 'int', size: t.size, signed: t.signed };
  if (t.kind === 'ptr' && size === 8) return { kind: 'int', size: 8, signed: false };
  if (t.kind === 'array') {
    const el = btf.resolve(t.type);
    if (el.kind === 'int' && el.size === 1 && t.nelems === size) return { kind: 'chars', size };
  }
  return { kind: 'bytes', size };
}
