/**
 * String helpers: bpf_strtol, bpf_strtoul (the kernel's rules: leading
 * white space, one '-', base 0/8/10/16 with 0x/0 prefixes, at most 63
 * characters looked at, -ERANGE on overflow, -EINVAL without digits; the
 * result is the number of characters consumed, and on an error the output
 * is zeroed, as Linux does since 6.12) and bpf_strncmp.
 */
import { Errno } from '../../ebpf/engine.js';
import { HelperId } from '../../ebpf/helper-ids.js';
import type { HelperCall, HelperRegistry } from './registry.js';

const BASE_MASK = 0x1f;
const U64_MAX = (1n << 64n) - 1n;

function digit(ch: number): number {
  if (ch >= 0x30 && ch <= 0x39) return ch - 0x30;
  const l = ch | 0x20;
  if (l >= 0x61 && l <= 0x66) return l - 0x61 + 10;
  return 99;
}

const isSpace = (ch: number): boolean => ch === 0x20 || (ch >= 0x09 && ch <= 0x0d);

/** [consumed, value, negative] or a negative errno. */
export function parseUnsigned(buf: Uint8Array, flags: bigint): [number, bigint, boolean] | number {
  let base = Number(flags & BigInt(BASE_MASK));
  if (buf.length === 0) return -Errno.EINVAL;
  if (base !== 0 && base !== 8 && base !== 10 && base !== 16) return -Errno.EINVAL;
  if (flags & ~BigInt(BASE_MASK)) return -Errno.EINVAL;
  let i = 0;
  while (i < buf.length && isSpace(buf[i]!)) i++;
  const negative = i < buf.length && buf[i] === 0x2d;
  if (negative) i++;
  const consumed = i;
  if (consumed === buf.length) return -Errno.EINVAL;
  // The kernel copies at most 63 characters into a NUL-terminated buffer.
  const str = buf.subarray(i, i + Math.min(buf.length - i, 63));
  const at = (k: number): number => (k < str.length ? str[k]! : 0);
  let k = 0;
  if (base === 0) {
    if (at(0) === 0x30) {
      if ((at(1) | 0x20) === 0x78 && digit(at(2)) < 16) base = 16;
      else base = 8;
    } else base = 10;
  }
  if (base === 16 && at(0) === 0x30 && (at(1) | 0x20) === 0x78) k = 2;
  let value = 0n;
  let digits = 0;
  let overflow = false;
  for (;;) {
    const d = digit(at(k + digits));
    if (d >= base) break;
    value = value * BigInt(base) + BigInt(d);
    if (value > U64_MAX) overflow = true;
    digits++;
  }
  if (overflow) return -Errno.ERANGE;
  if (digits === 0) return -Errno.EINVAL;
  return [consumed + k + digits, value, negative];
}

function writeResult(c: HelperCall, v: bigint): void {
  const out = c.out(4, 8);
  new DataView(out.buffer, out.byteOffset, 8).setBigUint64(0, BigInt.asUintN(64, v), true);
}

export function defineStringHelpers(r: HelperRegistry): void {
  /** The result, or an errno after which the output is zeroed. */
  const finish = (c: HelperCall, r: [number, bigint] | number): number => {
    if (typeof r === 'number') {
      writeResult(c, 0n);
      return r;
    }
    writeResult(c, r[1]);
    return r[0];
  };

  r.define(HelperId.strtol, (c) => {
    const buf = c.bytes(1, c.u32(2));
    c.out(4, 8);
    const p = parseUnsigned(buf, c.u64(3));
    if (typeof p === 'number') return finish(c, p);
    const [n, v, neg] = p;
    if (neg) return finish(c, v > 1n << 63n ? -Errno.ERANGE : [n, -v]);
    return finish(c, v >= 1n << 63n ? -Errno.ERANGE : [n, v]);
  });

  r.define(HelperId.strtoul, (c) => {
    const buf = c.bytes(1, c.u32(2));
    c.out(4, 8);
    const p = parseUnsigned(buf, c.u64(3));
    if (typeof p === 'number') return finish(c, p);
    const [n, v, neg] = p;
    return finish(c, neg ? -Errno.EINVAL : [n, v]);
  });

  // bpf_strncmp(s1, s1_sz, s2): strncmp(s1, s2, s1_sz), giving -1, 0 or 1.
  r.define(HelperId.strncmp, (c) => {
    const n = c.u32(2);
    const s1 = c.bytes(1, n);
    const mem = c.run.mem;
    const s2 = c.hi(3) === 0 ? c.u32(3) : -1;
    for (let i = 0; i < n; i++) {
      if (s2 < 0 || c.check(s2 + i, 1)) c.fail('r3 is not a readable string');
      const a = s1[i]!;
      const b = mem.u8[s2 + i]!;
      if (a !== b) return a < b ? -1 : 1;
      if (a === 0) return 0;
    }
    return 0;
  });
}
