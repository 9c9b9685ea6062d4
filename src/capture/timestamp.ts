/**
 * pcapng timestamps: a 64-bit count of 10^-n or 2^-n second units (given as
 * two 32-bit halves), turned into whole seconds and nanoseconds exactly,
 * without BigInt on the common resolutions.
 */
import type { TimestampResolution } from './interface.js';

/** A converter for one interface's resolution; writes into `seconds` / `nanos`. */
export class TimestampConverter {
  seconds = 0;
  nanos = 0;
  private readonly units: number;
  private readonly unitsBig: bigint;
  /** Exact 16-bit long division works when units * 65536 stays below 2^53. */
  private readonly fast: boolean;
  /** nanos = frac * mul / div, exact in doubles when `fastFrac`. */
  private readonly mul: number;
  private readonly div: number;
  private readonly fastFrac: boolean;

  constructor(resolution: TimestampResolution) {
    const { base, exponent } = resolution;
    this.unitsBig = BigInt(base) ** BigInt(exponent);
    this.units = Number(this.unitsBig);
    this.fast = this.units <= 2 ** 37;
    if (base === 10) {
      this.mul = exponent <= 9 ? 10 ** (9 - exponent) : 1;
      this.div = exponent <= 9 ? 1 : 10 ** (exponent - 9);
      this.fastFrac = this.fast;
    } else {
      this.mul = 1e9;
      this.div = this.units;
      this.fastFrac = exponent <= 23;
    }
  }

  /** Convert the count hi * 2^32 + lo (both unsigned 32-bit). */
  convert(hi: number, lo: number): void {
    if (this.fast) {
      const r = this.units;
      const d3 = hi >>> 16;
      const d2 = hi & 0xffff;
      const d1 = lo >>> 16;
      const d0 = lo & 0xffff;
      const q3 = Math.floor(d3 / r);
      let rem = d3 - q3 * r;
      let cur = rem * 65536 + d2;
      const q2 = Math.floor(cur / r);
      rem = cur - q2 * r;
      cur = rem * 65536 + d1;
      const q1 = Math.floor(cur / r);
      rem = cur - q1 * r;
      cur = rem * 65536 + d0;
      const q0 = Math.floor(cur / r);
      rem = cur - q0 * r;
      this.seconds = ((q3 * 65536 + q2) * 65536 + q1) * 65536 + q0;
      if (this.fastFrac) {
        this.nanos = this.div === 1 ? rem * this.mul : Math.floor((rem * this.mul) / this.div);
        return;
      }
      this.nanos = Number((BigInt(rem) * 1_000_000_000n) / this.unitsBig);
      return;
    }
    const t = (BigInt(hi) << 32n) | BigInt(lo);
    this.seconds = Number(t / this.unitsBig);
    this.nanos = Number(((t % this.unitsBig) * 1_000_000_000n) / this.unitsBig);
  }
}

/** seconds/nanos → the 64-bit count in units of `resolution`, as [hi, lo] (truncating finer digits). */
export function encodeTimestamp(seconds: number, nanos: number, resolution: TimestampResolution): [number, number] {
  const { base, exponent } = resolution;
  if (base === 10 && exponent <= 9 && seconds >= 0 && seconds < 2 ** 36 && Number.isInteger(seconds)) {
    // t = seconds * units + frac, in exact double arithmetic on 16-bit pieces.
    const units = 10 ** exponent;
    const frac = Math.floor(nanos / 10 ** (9 - exponent));
    const sh = Math.floor(seconds / 65536);
    const sl = seconds - sh * 65536;
    const low = sl * units + frac; // < 2^47
    const high = sh * units; // < 2^50; contributes high * 2^16
    const highLo = high % 65536;
    const highHi = (high - highLo) / 65536;
    let lo32 = (low % 4294967296) + highLo * 65536;
    let hi32 = Math.floor(low / 4294967296) + highHi;
    if (lo32 >= 4294967296) {
      lo32 -= 4294967296;
      hi32 += 1;
    }
    return [hi32 >>> 0, lo32 >>> 0];
  }
  let t: bigint;
  if (base === 10 && exponent === 9) {
    t = BigInt(seconds) * 1_000_000_000n + BigInt(nanos);
  } else {
    const units = BigInt(base) ** BigInt(exponent);
    t = BigInt(seconds) * units + (BigInt(nanos) * units) / 1_000_000_000n;
  }
  return [Number((t >> 32n) & 0xffffffffn), Number(t & 0xffffffffn)];
}
