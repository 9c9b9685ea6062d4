/**
 * Packet helpers, with the kernel's bounds rules and return codes:
 * bpf_skb_load_bytes, bpf_skb_store_bytes, bpf_xdp_load_bytes,
 * bpf_xdp_store_bytes, bpf_xdp_get_buff_len, bpf_xdp_adjust_head / _tail /
 * _meta, bpf_csum_diff, and bpf_redirect / bpf_redirect_map (the VM has no
 * devices: the target is recorded as the run's verdict).
 */
import { Errno } from '../../ebpf/engine.js';
import { HelperId } from '../../ebpf/helper-ids.js';
import { u32Key } from '../maps/keys.js';
import { ETH_HLEN, XDP_FRAME_HEADER, type Packet } from '../packet.js';
import type { HelperCall, HelperRegistry } from './registry.js';

const XDP_ABORTED = 0;
const XDP_REDIRECT = 4;
const TC_ACT_SHOT = 2;
const TC_ACT_REDIRECT = 7;
const BPF_F_INGRESS = 1;
const BPF_F_RECOMPUTE_CSUM = 1;
const BPF_F_INVALIDATE_HASH = 2;

function packet(c: HelperCall): Packet {
  const p = c.run.packet;
  if (!p) c.fail('the program has no packet');
  return p;
}

/** xdp_metalen_invalid: metadata is a multiple of 4 bytes, at most 255 (skb_shared_info.meta_len is a u8). */
const metaInvalid = (len: number): boolean => len % 4 !== 0 || len > 255;

/**
 * x86-64's csum_partial: the 32-bit ones' complement sum of the bytes (read as
 * 64-bit little-endian words, the tail zero-padded, accumulated with
 * end-around carry from `seed`, then the two halves added with carry). The
 * value is the one the kernel computes, zero representation included.
 */
export function csumPartial(bytes: Uint8Array, seed: number): number {
  let total = BigInt(seed >>> 0);
  const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  let i = 0;
  for (; i + 8 <= bytes.length; i += 8) total += dv.getBigUint64(i, true);
  if (i < bytes.length) {
    let tail = 0n;
    for (let k = bytes.length - 1; k >= i; k--) tail = (tail << 8n) | BigInt(bytes[k]!);
    total += tail;
  }
  // End-around carry: zero only when every addend is, otherwise congruent to the total modulo 2^n - 1.
  const fold = (v: bigint, bits: bigint): bigint => (v === 0n ? 0n : ((v - 1n) % ((1n << bits) - 1n)) + 1n);
  const r64 = fold(total, 64n);
  return Number(fold((r64 >> 32n) + (r64 & 0xffffffffn), 32n));
}

/** csum_add / csum_sub: 32-bit ones' complement addition with end-around carry. */
const csumAdd = (a: number, b: number): number => {
  const r = (a + b) >>> 0;
  return r < b >>> 0 ? (r + 1) >>> 0 : r;
};
const csumSub = (a: number, b: number): number => csumAdd(a, ~b >>> 0);

/** csum_from32to16: fold a 32-bit sum to 16 bits. */
const from32to16 = (sum: number): number => (((sum + (((sum >>> 16) | (sum << 16)) >>> 0)) >>> 16) & 0xffff) >>> 0;

/**
 * bpf_csum_diff as Linux 6.18 computes it: the checksum of `to` minus that of
 * `from`, plus the seed, folded to 16 bits (the folded seed when both are empty).
 */
export function csumDiff(from: Uint8Array, to: Uint8Array, seed: number): number {
  if (from.length && to.length) return from32to16(csumSub(csumPartial(to, seed), csumPartial(from, 0)));
  if (to.length) return from32to16(csumPartial(to, seed));
  if (from.length) return from32to16(~csumPartial(from, ~seed >>> 0) >>> 0);
  return from32to16(seed >>> 0);
}

export function definePacketHelpers(r: HelperRegistry): void {
  const skb = ['socket', 'tc'] as const;
  const tc = ['tc'] as const;
  const xdp = ['xdp'] as const;

  r.define(
    HelperId.skb_load_bytes,
    (c) => {
      const len = c.u32(4);
      const to = c.out(3, len);
      const bytes = c.hi(2) === 0 && c.u32(2) <= 0x7fffffff ? packet(c).slice(c.u32(2), len) : undefined;
      if (!bytes) {
        to.fill(0);
        return -Errno.EFAULT;
      }
      to.set(bytes);
      return 0;
    },
    { kinds: skb },
  );

  r.define(
    HelperId.skb_store_bytes,
    (c) => {
      const len = c.u32(4);
      const from = c.bytes(3, len);
      if (c.u64(5) & ~BigInt(BPF_F_RECOMPUTE_CSUM | BPF_F_INVALIDATE_HASH)) return -Errno.EINVAL;
      if (c.hi(2) !== 0 || c.u32(2) > 0x7fffffff) return -Errno.EFAULT;
      const to = packet(c).slice(c.u32(2), len);
      if (!to) return -Errno.EFAULT;
      to.set(from.slice());
      return 0;
    },
    { kinds: tc },
  );

  r.define(
    HelperId.xdp_load_bytes,
    (c) => {
      const len = c.u32(4);
      const to = c.out(3, len);
      if (c.u32(2) > 0xffff || len > 0xffff || c.hi(2) !== 0) return -Errno.EFAULT;
      const bytes = packet(c).slice(c.u32(2), len);
      if (!bytes) return -Errno.EINVAL;
      to.set(bytes);
      return 0;
    },
    { kinds: xdp },
  );

  r.define(
    HelperId.xdp_store_bytes,
    (c) => {
      const len = c.u32(4);
      const from = c.bytes(3, len);
      if (c.u32(2) > 0xffff || len > 0xffff || c.hi(2) !== 0) return -Errno.EFAULT;
      const to = packet(c).slice(c.u32(2), len);
      if (!to) return -Errno.EINVAL;
      to.set(from.slice());
      return 0;
    },
    { kinds: xdp },
  );

  r.define(HelperId.xdp_get_buff_len, (c) => packet(c).length, { kinds: xdp });

  r.define(
    HelperId.xdp_adjust_head,
    (c) => {
      const p = packet(c);
      const delta = c.i32(2);
      const metalen = p.data - p.meta;
      const data = p.data + delta;
      if (data < p.block + XDP_FRAME_HEADER + metalen || data > p.end - ETH_HLEN) return -Errno.EINVAL;
      if (metalen) c.run.mem.u8.copyWithin(p.meta + delta, p.meta, p.data);
      p.setBounds(p.meta + delta, data, p.end);
      return 0;
    },
    { kinds: xdp },
  );

  r.define(
    HelperId.xdp_adjust_tail,
    (c) => {
      const p = packet(c);
      const delta = c.i32(2);
      const end = p.end + delta;
      if (end > p.limit || end < p.data + ETH_HLEN) return -Errno.EINVAL;
      if (delta > 0) c.run.mem.u8.fill(0, p.end, end);
      p.setBounds(p.meta, p.data, end);
      return 0;
    },
    { kinds: xdp },
  );

  r.define(
    HelperId.xdp_adjust_meta,
    (c) => {
      const p = packet(c);
      const meta = p.meta + c.i32(2);
      if (meta < p.block + XDP_FRAME_HEADER || meta > p.data) return -Errno.EINVAL;
      if (metaInvalid(p.data - meta)) return -Errno.EACCES;
      p.setBounds(meta, p.data, p.end);
      return 0;
    },
    { kinds: xdp },
  );

  // bpf_csum_diff(from, from_size, to, to_size, seed): sizes are multiples of 4.
  r.define(HelperId.csum_diff, (c) => {
    const fromSize = c.u32(2);
    const toSize = c.u32(4);
    if ((fromSize | toSize) % 4 !== 0) return -Errno.EINVAL;
    return csumDiff(c.bytes(1, fromSize), c.bytes(3, toSize), c.u32(5));
  });

  r.define(
    HelperId.redirect,
    (c) => {
      const flags = c.u64(2);
      if (c.run.kind === 'xdp') {
        if (flags !== 0n) return XDP_ABORTED;
        c.run.redirect = { ifindex: c.u32(1), flags: 0 };
        return XDP_REDIRECT;
      }
      if (flags & ~BigInt(BPF_F_INGRESS)) return TC_ACT_SHOT;
      c.run.redirect = { ifindex: c.u32(1), flags: Number(flags) };
      return TC_ACT_REDIRECT;
    },
    { kinds: ['tc', 'xdp'] },
  );

  // bpf_redirect_map(map, key, flags): the low two bits of flags are the action when the key is absent.
  r.define(
    HelperId.redirect_map,
    (c) => {
      const m = c.map(1);
      const flags = c.u64(3);
      if (flags & ~3n) return XDP_ABORTED;
      const key = c.u32(2);
      if (c.hi(2) !== 0 || m.spec.keySize !== 4 || m.progLookup(u32Key(key)) === 0) return Number(flags & 3n);
      c.run.redirect = { map: m.name, key, flags: Number(flags) };
      return XDP_REDIRECT;
    },
    { kinds: xdp },
  );
}
