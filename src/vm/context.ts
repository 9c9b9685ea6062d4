/**
 * Contexts and inputs of a run, by program kind (see kinds.ts), built the
 * way BPF_PROG_TEST_RUN builds them, and what a run gives back (data_out,
 * ctx_out). Bad input is refused with the errno the kernel gives.
 */
import { errnoError } from './errors.js';
import { Errno, type TestRunOptions } from '../ebpf/engine.js';
import type { ProgKind } from './kinds.js';
import type { VmMemory } from './memory.js';
import {
  ETH_HLEN,
  NET_SKB_PAD,
  Packet,
  SKB_MAX_DATA,
  SKB_SHARED_INFO,
  XDP_FRAME_SIZE,
  XDP_MAX_DATA,
  XDP_PACKET_HEADROOM,
} from './packet.js';
import type { Region } from './regions.js';

/** Offsets in struct __sk_buff (include/uapi/linux/bpf.h). */
export const SkBuff = {
  len: 0,
  pkt_type: 4,
  mark: 8,
  queue_mapping: 12,
  protocol: 16,
  vlan_present: 20,
  vlan_tci: 24,
  vlan_proto: 28,
  priority: 32,
  ingress_ifindex: 36,
  ifindex: 40,
  tc_index: 44,
  cb: 48,
  hash: 68,
  tc_classid: 72,
  data: 76,
  data_end: 80,
  napi_id: 84,
  family: 88,
  remote_ip4: 92,
  local_ip4: 96,
  remote_ip6: 100,
  local_ip6: 116,
  remote_port: 132,
  local_port: 136,
  data_meta: 140,
  flow_keys: 144,
  tstamp: 152,
  wire_len: 160,
  gso_segs: 164,
  sk: 168,
  gso_size: 176,
  tstamp_type: 180,
  hwtstamp: 184,
  SIZE: 192,
} as const;

/** Offsets in struct xdp_md. */
export const XdpMd = { data: 0, data_end: 4, data_meta: 8, ingress_ifindex: 12, rx_queue_index: 16, egress_ifindex: 20, SIZE: 24 } as const;

/** The loopback device every test run is attached to, as in a fresh network namespace. */
const LOOPBACK_IFINDEX = 1;
const AF_INET = 2;
const AF_INET6 = 10;

/** What a run starts from and how its outputs are read back. */
export interface PreparedInput {
  r1: number;
  r2: number;
  packet?: Packet;
  /** Read data_out and ctx_out after the runs. */
  finish(): { dataOut: Uint8Array; ctxOut?: Uint8Array };
  /** Free the memory and regions. */
  dispose(): void;
}

function einval(message: string): never {
  throw errnoError('prog test run', Errno.EINVAL, message);
}

/** Fields of __sk_buff a test run's ctx_in may set; everything else must be zero. */
const SKB_CTX_IN = new Set<number>();
for (const [off, size] of [
  [SkBuff.mark, 4],
  [SkBuff.priority, 4],
  [SkBuff.ingress_ifindex, 4],
  [SkBuff.ifindex, 4],
  [SkBuff.cb, 20],
  [SkBuff.tstamp, 8],
  [SkBuff.wire_len, 4],
  [SkBuff.gso_segs, 4],
  [SkBuff.gso_size, 4],
  [SkBuff.hwtstamp, 8],
] as const) {
  for (let i = 0; i < size; i++) SKB_CTX_IN.add(off + i);
}

/** A context supplied by the caller, at most `size` bytes (longer input must be zero past it, as bpf_check_uarg_tail_zero). */
function ctxBytes(ctx: Uint8Array | undefined, size: number): Uint8Array | undefined {
  if (!ctx) return undefined;
  if (ctx.length > size && ctx.subarray(size).some((b) => b !== 0)) {
    throw errnoError('prog test run', Errno.E2BIG, `context is larger than ${size} bytes`);
  }
  const out = new Uint8Array(size);
  out.set(ctx.subarray(0, size));
  return out;
}

class Allocations {
  private readonly blocks: number[] = [];
  private readonly regions: Region[] = [];
  constructor(private readonly mem: VmMemory) {}
  block(size: number): number {
    const a = this.mem.alloc(size);
    this.blocks.push(a);
    return a;
  }
  region(r: Region): Region {
    this.regions.push(this.mem.regions.add(r));
    return r;
  }
  dispose(): void {
    for (const r of this.regions) this.mem.regions.remove(r);
    for (const b of this.blocks) this.mem.release(b);
  }
}

export function prepareInput(mem: VmMemory, kind: ProgKind, options: TestRunOptions): PreparedInput {
  switch (kind) {
    case 'raw':
      return prepareRaw(mem, options);
    case 'tracing':
      return prepareTracing(mem, options);
    case 'xdp':
      return prepareXdp(mem, options);
    default:
      return prepareSkb(mem, kind, options);
  }
}

/** Copy `bytes` into a fresh block that is one region of the given kind; its address, or 0 when there are none. */
function placeBytes(a: Allocations, mem: VmMemory, bytes: Uint8Array, kind: 'mem' | 'ctx', name: string, writable: boolean): number {
  if (bytes.length === 0) return 0;
  const addr = a.block(bytes.length);
  mem.u8.set(bytes, addr);
  a.region({ start: addr, end: addr + bytes.length, kind, name, writable });
  return addr;
}

function prepareRaw(mem: VmMemory, options: TestRunOptions): PreparedInput {
  if (options.ctx?.length) einval('raw programs take memory (data), not a context');
  const a = new Allocations(mem);
  const data = options.data ?? new Uint8Array(0);
  const addr = placeBytes(a, mem, data, 'mem', 'memory', true);
  return {
    r1: addr,
    r2: data.length,
    finish: () => ({ dataOut: addr ? mem.read(addr, data.length) : new Uint8Array(0) }),
    dispose: () => a.dispose(),
  };
}

function prepareTracing(mem: VmMemory, options: TestRunOptions): PreparedInput {
  if (options.data?.length) einval('tracing programs take a context, not packet data');
  const a = new Allocations(mem);
  const addr = placeBytes(a, mem, options.ctx ?? new Uint8Array(0), 'ctx', 'context', false);
  return { r1: addr, r2: 0, finish: () => ({ dataOut: new Uint8Array(0) }), dispose: () => a.dispose() };
}

function prepareSkb(mem: VmMemory, kind: ProgKind, options: TestRunOptions): PreparedInput {
  const frame = options.data ?? new Uint8Array(0);
  if (frame.length < ETH_HLEN || frame.length > SKB_MAX_DATA) {
    einval(`packet data must be ${ETH_HLEN}..${SKB_MAX_DATA} bytes, got ${frame.length}`);
  }
  if (options.flags) einval('socket filter and tc test runs take no flags');
  const ctxIn = ctxBytes(options.ctx, SkBuff.SIZE);
  const dvIn = ctxIn ? new DataView(ctxIn.buffer) : undefined;
  if (ctxIn) {
    for (let i = 0; i < SkBuff.SIZE; i++) if (ctxIn[i] !== 0 && !SKB_CTX_IN.has(i)) einval(`__sk_buff byte ${i} of the context may not be set`);
    const ifindex = dvIn!.getUint32(SkBuff.ifindex, true);
    if (ifindex > LOOPBACK_IFINDEX) throw errnoError('prog test run', Errno.ENODEV, `no interface ${ifindex} (the VM has only loopback)`);
  }
  const l2 = kind === 'tc';
  const a = new Allocations(mem);
  const block = a.block(NET_SKB_PAD + frame.length + SKB_SHARED_INFO);
  const mac = block + NET_SKB_PAD;
  mem.u8.set(frame, mac);
  const net = mac + ETH_HLEN;
  const end = mac + frame.length;
  // eth_type_trans on the loopback device (address 00:00:00:00:00:00).
  const proto = frame[12]! * 256 + frame[13]!;
  let protocol = proto;
  if (proto < 0x600) protocol = frame.length >= ETH_HLEN + 2 && frame[14] === 0xff && frame[15] === 0xff ? 0x0001 : 0x0004;
  // The loopback device's address and broadcast address are both 00:00:00:00:00:00, so any group
  // address is PACKET_MULTICAST, any other address but its own PACKET_OTHERHOST.
  const dest = frame.subarray(0, 6);
  const pktType = dest.every((b) => b === 0) ? 0 : dest[0]! & 1 ? 2 : 3;
  if (protocol === 0x0800 && frame.length - ETH_HLEN < 20) einval('an IPv4 packet needs at least a 20-byte header');
  if (protocol === 0x86dd && frame.length - ETH_HLEN < 40) einval('an IPv6 packet needs at least a 40-byte header');
  const data = l2 ? mac : net;
  const packet = new Packet(mem, { kind: 'skb', block, blockEnd: end + SKB_SHARED_INFO, limit: end, meta: data, data, end, mac, net });
  const ctx = a.block(SkBuff.SIZE);
  a.region({ start: ctx, end: ctx + SkBuff.SIZE, kind: 'ctx', name: 'context (__sk_buff)', writable: true });
  if (ctxIn) mem.u8.set(ctxIn, ctx);
  const dv = mem.dv;
  const len = end - data;
  dv.setUint32(ctx + SkBuff.len, len, true);
  dv.setUint32(ctx + SkBuff.pkt_type, pktType, true);
  // __sk_buff.protocol holds the __be16 as stored in memory.
  dv.setUint32(ctx + SkBuff.protocol, ((protocol & 0xff) << 8) | (protocol >> 8), true);
  dv.setUint32(ctx + SkBuff.ifindex, LOOPBACK_IFINDEX, true);
  if (protocol === 0x0800) {
    dv.setUint32(ctx + SkBuff.family, AF_INET, true);
    mem.u8.copyWithin(ctx + SkBuff.local_ip4, net + 12, net + 16);
    mem.u8.copyWithin(ctx + SkBuff.remote_ip4, net + 16, net + 20);
  } else if (protocol === 0x86dd) {
    dv.setUint32(ctx + SkBuff.family, AF_INET6, true);
    mem.u8.copyWithin(ctx + SkBuff.local_ip6, net + 8, net + 24);
    mem.u8.copyWithin(ctx + SkBuff.remote_ip6, net + 24, net + 40);
  }
  if (ctxIn) {
    const wire = dvIn!.getUint32(SkBuff.wire_len, true);
    if (wire !== 0 && (wire < len || wire > 65536)) einval(`wire_len ${wire} is out of range`);
    if (dvIn!.getUint32(SkBuff.gso_segs, true) > 65535) einval('gso_segs is out of range');
    dv.setUint32(ctx + SkBuff.wire_len, wire || len, true);
  }
  packet.ctx = ctx;
  packet.ctxFields = [SkBuff.data, SkBuff.data_end, SkBuff.data_meta];
  packet.syncContext();
  const outFields: Array<[number, number]> = [
    [SkBuff.mark, 4],
    [SkBuff.priority, 4],
    [SkBuff.ingress_ifindex, 4],
    [SkBuff.ifindex, 4],
    [SkBuff.cb, 20],
    [SkBuff.tstamp, 8],
    [SkBuff.wire_len, 4],
    [SkBuff.gso_segs, 4],
    [SkBuff.hwtstamp, 8],
  ];
  return {
    r1: ctx,
    r2: 0,
    packet,
    finish: () => {
      // A socket filter's Ethernet header comes back zeroed, as the kernel pushes it back with memset.
      const dataOut = mem.read(l2 ? packet.data : packet.data - ETH_HLEN, packet.end - packet.data + (l2 ? 0 : ETH_HLEN));
      if (!l2) dataOut.fill(0, 0, ETH_HLEN);
      if (!ctxIn) return { dataOut };
      const ctxOut = ctxIn.slice();
      for (const [off, size] of outFields) ctxOut.set(mem.u8.subarray(ctx + off, ctx + off + size), off);
      return { dataOut, ctxOut };
    },
    dispose: () => {
      packet.dispose();
      a.dispose();
    },
  };
}

function prepareXdp(mem: VmMemory, options: TestRunOptions): PreparedInput {
  const input = options.data ?? new Uint8Array(0);
  if (options.flags) einval('XDP live-frame mode is not supported by the VM');
  const ctxIn = ctxBytes(options.ctx, XdpMd.SIZE);
  let metaLen = 0;
  if (ctxIn) {
    const dv = new DataView(ctxIn.buffer);
    metaLen = dv.getUint32(XdpMd.data, true);
    const dataEnd = dv.getUint32(XdpMd.data_end, true);
    if (dv.getUint32(XdpMd.data_meta, true) !== 0 || dataEnd !== input.length || metaLen > dataEnd || metaLen % 4 !== 0 || metaLen > 255) {
      einval('xdp_md context: data_meta must be 0, data_end the data length, data a metadata length of 0..255 (multiple of 4)');
    }
    if (dv.getUint32(XdpMd.egress_ifindex, true) !== 0) einval('xdp_md egress_ifindex must be 0');
    const ifindex = dv.getUint32(XdpMd.ingress_ifindex, true);
    if (ifindex === 0 && dv.getUint32(XdpMd.rx_queue_index, true) !== 0) einval('rx_queue_index needs an ingress_ifindex');
    if (ifindex > LOOPBACK_IFINDEX) throw errnoError('prog test run', Errno.ENODEV, `no interface ${ifindex} (the VM has only loopback)`);
    if (ifindex !== 0) einval(`interface ${ifindex} has no XDP receive queue`);
  }
  const size = input.length - metaLen;
  if (input.length < ETH_HLEN || size > XDP_MAX_DATA) {
    einval(`XDP data must be ${ETH_HLEN}..${XDP_MAX_DATA} bytes (fragments are not supported), got ${input.length}`);
  }
  const a = new Allocations(mem);
  const block = a.block(XDP_FRAME_SIZE);
  const data = block + XDP_PACKET_HEADROOM;
  mem.u8.set(input, data - metaLen);
  const packet = new Packet(mem, {
    kind: 'xdp',
    block,
    blockEnd: block + XDP_FRAME_SIZE,
    limit: block + XDP_FRAME_SIZE - SKB_SHARED_INFO,
    meta: data - metaLen,
    data,
    end: data + size,
    mac: data,
    net: data + ETH_HLEN,
  });
  const ctx = a.block(XdpMd.SIZE);
  a.region({ start: ctx, end: ctx + XdpMd.SIZE, kind: 'ctx', name: 'context (xdp_md)', writable: true });
  mem.dv.setUint32(ctx + XdpMd.ingress_ifindex, LOOPBACK_IFINDEX, true);
  packet.ctx = ctx;
  packet.ctxFields = [XdpMd.data, XdpMd.data_end, XdpMd.data_meta];
  packet.syncContext();
  return {
    r1: ctx,
    r2: 0,
    packet,
    finish: () => {
      const dataOut = mem.read(packet.meta, packet.end - packet.meta);
      if (!ctxIn) return { dataOut };
      const ctxOut = ctxIn.slice();
      const dv = new DataView(ctxOut.buffer);
      dv.setUint32(XdpMd.data, packet.data - packet.meta, true);
      dv.setUint32(XdpMd.data_end, packet.end - packet.meta, true);
      return { dataOut, ctxOut };
    },
    dispose: () => {
      packet.dispose();
      a.dispose();
    },
  };
}
