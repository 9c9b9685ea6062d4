/**
 * A minimal BTF writer for kernel tests (INT and STRUCT kinds): enough to
 * give maps typed keys and values. Written here so the kernel tests do not
 * depend on the BTF layer's encoder.
 */
export type TestType =
  | { kind: 'int'; name: string; size: number; signed?: boolean }
  | { kind: 'struct'; name: string; size: number; members: { name: string; type: number; bitOffset: number }[] };

export function encodeBtf(types: TestType[]): Uint8Array {
  const strs: string[] = [''];
  const strOff = new Map<string, number>([['', 0]]);
  let strLen = 1;
  const str = (s: string) => {
    if (!strOff.has(s)) {
      strOff.set(s, strLen);
      strs.push(s);
      strLen += new TextEncoder().encode(s).length + 1;
    }
    return strOff.get(s)!;
  };
  const words: number[] = [];
  for (const t of types) {
    if (t.kind === 'int') {
      words.push(str(t.name), (1 << 24) >>> 0, t.size, ((t.signed ? 1 : 0) << 24) | (t.size * 8));
    } else {
      words.push(str(t.name), ((4 << 24) | t.members.length) >>> 0, t.size);
      for (const m of t.members) words.push(str(m.name), m.type, m.bitOffset);
    }
  }
  const typeLen = words.length * 4;
  const strBytes = new TextEncoder().encode(strs.join('\0') + '\0');
  const out = new Uint8Array(24 + typeLen + strBytes.length);
  const v = new DataView(out.buffer);
  v.setUint16(0, 0xeb9f, true);
  v.setUint8(2, 1);
  v.setUint32(4, 24, true);
  v.setUint32(8, 0, true);
  v.setUint32(12, typeLen, true);
  v.setUint32(16, typeLen, true);
  v.setUint32(20, strBytes.length, true);
  words.forEach((w, i) => v.setUint32(24 + 4 * i, w >>> 0, true));
  out.set(strBytes, 24 + typeLen);
  return out;
}

/** [1] int, [2] long long, [3] struct val { long long v; }: key type 1, value type 3. */
export function intKeyStructValueBtf(): Uint8Array {
  return encodeBtf([
    { kind: 'int', name: 'int', size: 4, signed: true },
    { kind: 'int', name: 'long long', size: 8, signed: true },
    { kind: 'struct', name: 'val', size: 8, members: [{ name: 'v', type: 2, bitOffset: 0 }] },
  ]);
}
