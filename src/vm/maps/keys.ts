/**
 * Keys of hashed maps as JavaScript strings (one char per byte), so that a
 * JS Map can index them. Cheap for the short keys maps usually have.
 */
export function keyString(bytes: Uint8Array, start = 0, length = bytes.length): string {
  if (length <= 64) {
    let s = '';
    for (let i = 0; i < length; i++) s += String.fromCharCode(bytes[start + i]!);
    return s;
  }
  let s = '';
  for (let i = 0; i < length; i += 4096) {
    s += String.fromCharCode.apply(null, Array.from(bytes.subarray(start + i, start + Math.min(length, i + 4096))));
  }
  return s;
}

export function u32Key(n: number): Uint8Array {
  const k = new Uint8Array(4);
  new DataView(k.buffer).setUint32(0, n >>> 0, true);
  return k;
}

export function readU32(bytes: Uint8Array, offset = 0): number {
  return (bytes[offset]! | (bytes[offset + 1]! << 8) | (bytes[offset + 2]! << 16) | (bytes[offset + 3]! << 24)) >>> 0;
}
