/**
 * Bob Jenkins' lookup3 hash as the kernel uses it (jhash over bytes, jhash2
 * over u32 words read little-endian), so that a bloom filter created with
 * BPF_F_ZERO_SEED answers exactly as the kernel's does.
 */
const INITVAL = 0xdeadbeef;

const rol = (x: number, k: number): number => (x << k) | (x >>> (32 - k));

interface Abc {
  a: number;
  b: number;
  c: number;
}

function mix(s: Abc): void {
  let { a, b, c } = s;
  a = (a - c) | 0;
  a ^= rol(c, 4);
  c = (c + b) | 0;
  b = (b - a) | 0;
  b ^= rol(a, 6);
  a = (a + c) | 0;
  c = (c - b) | 0;
  c ^= rol(b, 8);
  b = (b + a) | 0;
  a = (a - c) | 0;
  a ^= rol(c, 16);
  c = (c + b) | 0;
  b = (b - a) | 0;
  b ^= rol(a, 19);
  a = (a + c) | 0;
  c = (c - b) | 0;
  c ^= rol(b, 4);
  b = (b + a) | 0;
  s.a = a;
  s.b = b;
  s.c = c;
}

function final(s: Abc): void {
  let { a, b, c } = s;
  c ^= b;
  c = (c - rol(b, 14)) | 0;
  a ^= c;
  a = (a - rol(c, 11)) | 0;
  b ^= a;
  b = (b - rol(a, 25)) | 0;
  c ^= b;
  c = (c - rol(b, 16)) | 0;
  a ^= c;
  a = (a - rol(c, 4)) | 0;
  b ^= a;
  b = (b - rol(a, 14)) | 0;
  c ^= b;
  c = (c - rol(b, 24)) | 0;
  s.a = a;
  s.b = b;
  s.c = c;
}

const u32le = (k: Uint8Array, i: number): number => k[i]! | (k[i + 1]! << 8) | (k[i + 2]! << 16) | (k[i + 3]! << 24);

/** jhash(key, length, initval). */
export function jhash(key: Uint8Array, initval: number): number {
  let length = key.length;
  const v = (INITVAL + length + initval) | 0;
  const s: Abc = { a: v, b: v, c: v };
  let k = 0;
  while (length > 12) {
    s.a = (s.a + u32le(key, k)) | 0;
    s.b = (s.b + u32le(key, k + 4)) | 0;
    s.c = (s.c + u32le(key, k + 8)) | 0;
    mix(s);
    length -= 12;
    k += 12;
  }
  if (length === 0) return s.c >>> 0;
  // The tail: bytes 8..11 go to c, 4..7 to b, 0..3 to a, each little-endian.
  for (let i = length - 1; i >= 0; i--) {
    const byte = key[k + i]! << ((i % 4) * 8);
    if (i >= 8) s.c = (s.c + byte) | 0;
    else if (i >= 4) s.b = (s.b + byte) | 0;
    else s.a = (s.a + byte) | 0;
  }
  final(s);
  return s.c >>> 0;
}

/** jhash2(words, length in words, initval) over a byte array whose length is a multiple of 4. */
export function jhash2(key: Uint8Array, initval: number): number {
  let length = key.length / 4;
  const v = (INITVAL + (length << 2) + initval) | 0;
  const s: Abc = { a: v, b: v, c: v };
  let k = 0;
  while (length > 3) {
    s.a = (s.a + u32le(key, k)) | 0;
    s.b = (s.b + u32le(key, k + 4)) | 0;
    s.c = (s.c + u32le(key, k + 8)) | 0;
    mix(s);
    length -= 3;
    k += 12;
  }
  if (length === 0) return s.c >>> 0;
  if (length === 3) s.c = (s.c + u32le(key, k + 8)) | 0;
  if (length >= 2) s.b = (s.b + u32le(key, k + 4)) | 0;
  s.a = (s.a + u32le(key, k)) | 0;
  final(s);
  return s.c >>> 0;
}
