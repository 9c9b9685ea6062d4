/**
 * 64-bit arithmetic on registers kept as pairs of 32-bit halves (lo in L[r],
 * hi in H[r], both Int32Array). The interpreter does the common operations
 * inline; these are the ones too long to inline. Semantics are the kernel's
 * (see ../shared/ebpf-semantics.md): division by zero gives 0, modulo by zero
 * leaves the dividend, signed overflow wraps.
 */

const TWO32 = 4294967296;

/** High 32 bits of the unsigned 64-bit product of two u32 (Hacker's Delight mulhu). */
function mulhu(a: number, b: number): number {
  const a0 = a & 0xffff;
  const a1 = a >>> 16;
  const b0 = b & 0xffff;
  const b1 = b >>> 16;
  const t = a1 * b0 + ((a0 * b0) >>> 16);
  const w1 = (t & 0xffff) + a0 * b1;
  return a1 * b1 + (t >>> 16) + Math.floor(w1 / 65536);
}

/** r[d] *= (bl, bh). */
export function mul64(L: Int32Array, H: Int32Array, d: number, bl: number, bh: number): void {
  const al = L[d]!;
  const ah = H[d]!;
  H[d] = mulhu(al >>> 0, bl >>> 0) + Math.imul(al, bh) + Math.imul(ah, bl);
  L[d] = Math.imul(al, bl);
}

function big(lo: number, hi: number): bigint {
  return (BigInt(hi >>> 0) << 32n) | BigInt(lo >>> 0);
}

function setBig(L: Int32Array, H: Int32Array, d: number, v: bigint): void {
  L[d] = Number(BigInt.asIntN(32, v));
  H[d] = Number(BigInt.asIntN(32, v >> 32n));
}

/** Set r[d] to a safe integer (negative values in two's complement). */
export function setNum(L: Int32Array, H: Int32Array, d: number, v: number): void {
  L[d] = v;
  H[d] = Math.floor(v / TWO32);
}

/** Unsigned r[d] /= b (or %= when mod); b = 0 gives 0 (div) or leaves r[d] (mod). */
export function udiv64(L: Int32Array, H: Int32Array, d: number, bl: number, bh: number, mod: boolean): void {
  if (bl === 0 && bh === 0) {
    if (!mod) L[d] = H[d] = 0;
    return;
  }
  if (H[d] === 0 && bh === 0) {
    const a = L[d]! >>> 0;
    const b = bl >>> 0;
    L[d] = mod ? a % b : Math.floor(a / b);
    return;
  }
  const a = big(L[d]!, H[d]!);
  const b = big(bl, bh);
  setBig(L, H, d, mod ? a % b : a / b);
}

/** Signed r[d] /= b (or %= when mod): INT64_MIN / -1 = INT64_MIN, x % -1 = 0, the remainder has the dividend's sign. */
export function sdiv64(L: Int32Array, H: Int32Array, d: number, bl: number, bh: number, mod: boolean): void {
  if (bl === 0 && bh === 0) {
    if (!mod) L[d] = H[d] = 0;
    return;
  }
  const al = L[d]!;
  const ah = H[d]!;
  if (ah === al >> 31 && bh === bl >> 31) {
    // Both fit in int32: exact in doubles.
    setNum(L, H, d, mod ? al % bl : Math.trunc(al / bl));
    return;
  }
  const a = BigInt.asIntN(64, big(al, ah));
  const b = BigInt.asIntN(64, big(bl, bh));
  setBig(L, H, d, mod ? a % b : a / b);
}

/** 32-bit signed division/modulo of two int32 values; the result's low word (the caller clears the upper half). */
export function sdiv32(a: number, b: number, mod: boolean): number {
  if (b === 0) return mod ? a : 0;
  if (b === -1) return mod ? 0 : -a | 0;
  return mod ? a % b | 0 : (a / b) | 0;
}

export function shl64(L: Int32Array, H: Int32Array, d: number, n: number): void {
  if (n === 0) return;
  if (n < 32) {
    H[d] = (H[d]! << n) | (L[d]! >>> (32 - n));
    L[d] = L[d]! << n;
  } else {
    H[d] = L[d]! << (n - 32);
    L[d] = 0;
  }
}

export function shr64(L: Int32Array, H: Int32Array, d: number, n: number): void {
  if (n === 0) return;
  if (n < 32) {
    L[d] = (L[d]! >>> n) | (H[d]! << (32 - n));
    H[d] = H[d]! >>> n;
  } else {
    L[d] = H[d]! >>> (n - 32);
    H[d] = 0;
  }
}

export function sar64(L: Int32Array, H: Int32Array, d: number, n: number): void {
  if (n === 0) return;
  if (n < 32) {
    L[d] = (L[d]! >>> n) | (H[d]! << (32 - n));
    H[d] = H[d]! >> n;
  } else {
    L[d] = H[d]! >> (n - 32);
    H[d] = H[d]! >> 31;
  }
}

export function bswap16(x: number): number {
  return ((x & 0xff) << 8) | ((x >>> 8) & 0xff);
}

export function bswap32(x: number): number {
  return ((x & 0xff) << 24) | ((x & 0xff00) << 8) | ((x >>> 8) & 0xff00) | (x >>> 24);
}

/** to-big-endian / bswap of r[d] at width 16, 32 or 64; the result is zero-extended. */
export function swap(L: Int32Array, H: Int32Array, d: number, width: number): void {
  if (width === 16) {
    L[d] = bswap16(L[d]!);
    H[d] = 0;
  } else if (width === 32) {
    L[d] = bswap32(L[d]!);
    H[d] = 0;
  } else {
    const lo = L[d]!;
    L[d] = bswap32(H[d]!);
    H[d] = bswap32(lo);
  }
}

/** The value of (lo, hi) as an unsigned bigint. */
export function u64(lo: number, hi: number): bigint {
  return big(lo, hi);
}
