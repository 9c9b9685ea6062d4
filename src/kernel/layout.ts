/**
 * C struct layouts in TypeScript: fields listed in declaration order, offsets
 * computed with the C rules of x86-64/AArch64 Linux (natural alignment,
 * padding, size rounded to the largest alignment). Encoding writes a plain
 * object into bytes; decoding reads bytes back into one. No FFI here, so
 * layouts are tested against the C compiler (offsetof/sizeof) and golden
 * bytes without a kernel.
 *
 * Unions inside a struct are written as separate layouts that share the
 * leading fields (one per variant), with `at` pinning where the union starts.
 */

export type FieldType = 'u8' | 'u16' | 'u32' | 's32' | 'u64' | 's64' | `char[${number}]` | `u8[${number}]`;

/** One field: name, C type, and optionally an explicit offset (the start of a union) or a C name when it differs. */
export type FieldDef = readonly [name: string, type: FieldType, opts?: { at?: number; c?: string | null }];

export interface Field {
  readonly name: string;
  readonly type: FieldType;
  readonly offset: number;
  readonly size: number;
  /** The C designator used to check this field (`batch.count`), or null when C cannot name it (bitfields). */
  readonly c: string | null;
}

export type Value = number | bigint | string | Uint8Array;

/** The field names of a layout. */
export type FieldsOf<L> = L extends Layout<infer N> ? N : never;

function sizeOf(type: FieldType): { size: number; align: number } {
  switch (type) {
    case 'u8':
      return { size: 1, align: 1 };
    case 'u16':
      return { size: 2, align: 2 };
    case 'u32':
    case 's32':
      return { size: 4, align: 4 };
    case 'u64':
    case 's64':
      return { size: 8, align: 8 };
    default: {
      const m = /\[(\d+)\]$/.exec(type);
      return { size: Number(m![1]), align: 1 };
    }
  }
}

export class Layout<N extends string = string> {
  readonly fields: Readonly<Record<N, Field>>;
  readonly list: readonly Field[];
  /** sizeof the struct (padded to its alignment). */
  readonly size: number;
  /** Offset just past the last field (what a kernel needs to see of a partially used union). */
  readonly end: number;

  constructor(
    /** The C type this describes: `union bpf_attr`, `struct bpf_prog_info`. */
    readonly cType: string,
    /** Prefix of the C designators: '' for anonymous members, 'batch.' for a named one. */
    readonly cPrefix: string,
    defs: readonly FieldDef[],
    /** Alignment of the whole (a union member's alignment can exceed its fields'). */
    minAlign = 1,
  ) {
    const fields = {} as Record<string, Field>;
    const list: Field[] = [];
    let offset = 0;
    let align = minAlign;
    let end = 0;
    for (const [name, type, opts] of defs) {
      const s = sizeOf(type);
      if (opts?.at !== undefined) offset = opts.at;
      offset = Math.ceil(offset / s.align) * s.align;
      const c = opts?.c === null ? null : cPrefix + (opts?.c ?? name);
      const f: Field = { name, type, offset, size: s.size, c };
      fields[name] = f;
      list.push(f);
      offset += s.size;
      end = Math.max(end, offset);
      align = Math.max(align, s.align);
    }
    this.fields = fields as Record<N, Field>;
    this.list = list;
    this.end = end;
    this.size = Math.ceil(end / align) * align;
  }

  /** Write `values` into `view` at `base` (fields not given are left as they are: zero them first). */
  write(view: DataView, values: Partial<Record<N, Value>>, base = 0): void {
    for (const key in values) {
      const v = values[key];
      if (v === undefined) continue;
      const f = this.fields[key as N];
      if (!f) throw new Error(`${this.cType}: no field ${key}`);
      writeField(view, base + f.offset, f, v);
    }
  }

  /** Encode into fresh bytes of `this.size`. */
  encode(values: Partial<Record<N, Value>>): Uint8Array {
    const bytes = new Uint8Array(this.size);
    this.write(new DataView(bytes.buffer), values);
    return bytes;
  }

  /** Read every numeric field (u64 as bigint) and char arrays as strings. */
  read(view: DataView, base = 0, length = this.size): Record<N, number | bigint | string | Uint8Array> {
    const out = {} as Record<string, number | bigint | string | Uint8Array>;
    for (const f of this.list) {
      if (f.offset + f.size > length) continue;
      out[f.name] = readField(view, base + f.offset, f);
    }
    return out as Record<N, number | bigint | string | Uint8Array>;
  }

  /** The offset of a field. */
  off(name: N): number {
    return this.fields[name].offset;
  }
}

export function layout<const D extends readonly FieldDef[]>(
  cType: string,
  cPrefix: string,
  defs: D,
  minAlign = 1,
): Layout<D[number][0]> {
  return new Layout(cType, cPrefix, defs, minAlign);
}

function writeField(view: DataView, at: number, f: Field, v: Value): void {
  switch (f.type) {
    case 'u8':
      view.setUint8(at, Number(v));
      return;
    case 'u16':
      view.setUint16(at, Number(v), true);
      return;
    case 'u32':
      view.setUint32(at, Number(BigInt.asUintN(32, BigInt(v as number | bigint))), true);
      return;
    case 's32':
      view.setInt32(at, Number(v), true);
      return;
    case 'u64':
    case 's64':
      view.setBigUint64(at, BigInt.asUintN(64, BigInt(v as number | bigint)), true);
      return;
    default: {
      const bytes = typeof v === 'string' ? new TextEncoder().encode(v) : (v as Uint8Array);
      const n = Math.min(bytes.length, f.type.startsWith('char') ? f.size - 1 : f.size);
      for (let i = 0; i < n; i++) view.setUint8(at + i, bytes[i]!);
    }
  }
}

function readField(view: DataView, at: number, f: Field): number | bigint | string | Uint8Array {
  switch (f.type) {
    case 'u8':
      return view.getUint8(at);
    case 'u16':
      return view.getUint16(at, true);
    case 'u32':
      return view.getUint32(at, true);
    case 's32':
      return view.getInt32(at, true);
    case 'u64':
      return view.getBigUint64(at, true);
    case 's64':
      return view.getBigInt64(at, true);
    default: {
      const bytes = new Uint8Array(view.buffer, view.byteOffset + at, f.size);
      if (f.type.startsWith('u8')) return bytes.slice();
      const nul = bytes.indexOf(0);
      return new TextDecoder().decode(bytes.subarray(0, nul < 0 ? f.size : nul));
    }
  }
}
