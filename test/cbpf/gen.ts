/**
 * Random classic programs and packets for the property, differential and
 * fuzz tests (fast-check arbitraries and a seeded generator).
 */
import fc from 'fast-check';
import { writeFileSync } from 'node:fs';
import {
  BPF_ABS, BPF_ALU, BPF_DIV, BPF_IND, BPF_JA, BPF_JMP, BPF_LD, BPF_LDX, BPF_LSH, BPF_MEM, BPF_MOD, BPF_MSH,
  BPF_RET, BPF_RSH, BPF_ST, BPF_STX, SKF_AD_OFF, SKF_LL_OFF, SKF_NET_OFF, VALID_OPCODES, isConditionalJump,
  type CbpfInsn, type PacketMeta,
} from '../../src/cbpf/index.js';

const NON_RET = VALID_OPCODES.filter((c) => (c & 0x07) !== BPF_RET);
const RETS = [0x06, 0x16];

export interface GenOptions {
  /** Allow backward `ja` (libpcap accepts them). */
  backward?: boolean;
  /** Allow loads at ancillary / negative offsets. */
  extensions?: boolean;
  /** Maximum program length. */
  maxLength?: number;
}

/** k for an opcode, drawn from values that exercise its edge cases. */
function kFor(code: number, pick: (n: number) => number, opts: GenOptions): number {
  const cls = code & 0x07;
  const mode = code & 0xe0;
  if (code === (BPF_LD | BPF_MEM) || code === (BPF_LDX | BPF_MEM) || code === BPF_ST || code === BPF_STX) return pick(16);
  if (cls === BPF_ALU && (code & 0x08) === 0) {
    const op = code & 0xf0;
    if (op === BPF_LSH || op === BPF_RSH) return pick(32);
    const special = [1, 2, 3, 4, 7, 8, 16, 255, 0x7fffffff, 0x80000000, 0xffffffff, 0xfffffffe, 0x1fff];
    const k = pick(3) === 0 ? special[pick(special.length)]! : pick(0x100000000);
    if ((op === BPF_DIV || op === BPF_MOD) && k === 0) return 1;
    return k;
  }
  if ((cls === BPF_LD && (mode === BPF_ABS || mode === BPF_IND)) || (cls === BPF_LDX && mode === BPF_MSH)) {
    const r = pick(20);
    if (opts.extensions && r === 0) return (SKF_AD_OFF + 4 * pick(17)) >>> 0;
    if (opts.extensions && r === 1) return (SKF_NET_OFF + pick(40)) >>> 0;
    if (opts.extensions && r === 2) return (SKF_LL_OFF + pick(40)) >>> 0;
    if (r === 3) return 0xffffffff - pick(8);
    if (r === 4 && mode === BPF_IND) return 0x80000000 + pick(4);
    return pick(r < 10 ? 24 : 90);
  }
  if (cls === BPF_JMP && (code & 0x08) === 0) {
    const special = [0, 1, 2, 6, 17, 0x800, 0x86dd, 0x80000000, 0xffffffff, 0x7fffffff];
    return pick(2) === 0 ? special[pick(special.length)]! : pick(2) === 0 ? pick(256) : pick(0x100000000);
  }
  return pick(4) === 0 ? pick(0x100000000) : pick(300);
}

/** Build a valid-shaped program from a stream of random numbers. */
export function buildProgram(pick: (n: number) => number, opts: GenOptions = {}): CbpfInsn[] {
  const max = opts.maxLength ?? 32;
  const n = 1 + pick(max);
  const prog: CbpfInsn[] = [];
  for (let i = 0; i < n - 1; i++) {
    const code = NON_RET[pick(NON_RET.length)]!;
    const room = n - i - 2; // how far forward a jump may go
    let jt = 0;
    let jf = 0;
    let k = kFor(code, pick, opts);
    if (isConditionalJump(code)) {
      jt = pick(Math.min(room, 255) + 1);
      jf = pick(Math.min(room, 255) + 1);
    } else if (code === (BPF_JMP | BPF_JA)) {
      if (opts.backward && i > 0 && pick(3) === 0) {
        const target = pick(i); // an earlier instruction, never this one
        k = (target - i - 1) >>> 0;
      } else {
        k = pick(room + 1);
      }
    }
    prog.push({ code, jt, jf, k: k >>> 0 });
  }
  const rc = RETS[pick(2)]!;
  prog.push({ code: rc, jt: 0, jf: 0, k: pick(2) === 0 ? pick(3) * 0xffff : pick(0x100000000) });
  return prog;
}

/** A seeded xorshift generator returning pick(n) in [0, n). */
export function seeded(seed: number): (n: number) => number {
  let s = seed >>> 0 || 0x9e3779b9;
  return (n: number) => {
    s ^= s << 13;
    s >>>= 0;
    s ^= s >>> 17;
    s ^= s << 5;
    s >>>= 0;
    return n <= 1 ? 0 : Math.floor((s / 0x100000000) * n);
  };
}

/** fast-check arbitrary of programs shaped like valid ones (validate them before use in the JIT). */
export function programArb(opts: GenOptions = {}): fc.Arbitrary<CbpfInsn[]> {
  return fc.integer({ min: 1, max: 0x7fffffff }).map((seed) => buildProgram(seeded(seed), opts));
}

/** Packets of 0..120 bytes; half of them look like Ethernet/IPv4 to make filters take their paths. */
export function packetArb(): fc.Arbitrary<Uint8Array> {
  return fc.tuple(fc.uint8Array({ minLength: 0, maxLength: 120 }), fc.boolean()).map(([bytes, eth]) => {
    if (eth && bytes.length >= 34) {
      bytes[12] = 0x08;
      bytes[13] = 0x00;
      bytes[14] = 0x45;
    }
    return bytes;
  });
}

/** Optional Linux metadata, with a deterministic random source. */
export function metaArb(): fc.Arbitrary<PacketMeta | undefined> {
  const meta = fc.record(
    {
      protocol: fc.constantFrom(0x0800, 0x86dd, 0x0806, 0),
      pktType: fc.integer({ min: 0, max: 7 }),
      ifindex: fc.option(fc.integer({ min: 1, max: 100 }), { nil: undefined }),
      hatype: fc.option(fc.constantFrom(1, 772, 65534), { nil: undefined }),
      mark: fc.nat(),
      queue: fc.integer({ min: 0, max: 0xffff }),
      rxhash: fc.nat(),
      cpu: fc.integer({ min: 0, max: 3 }),
      vlanTci: fc.integer({ min: 0, max: 0xffff }),
      vlanPresent: fc.boolean(),
      vlanTpid: fc.constantFrom(0x8100, 0x88a8, 0),
      payloadOffset: fc.integer({ min: 0, max: 80 }),
      networkOffset: fc.option(fc.integer({ min: 0, max: 30 }), { nil: undefined }),
      linkOffset: fc.option(fc.integer({ min: 0, max: 4 }), { nil: undefined }),
      randomValue: fc.nat(),
    },
    { requiredKeys: ['protocol', 'pktType', 'randomValue'] },
  ).map(({ randomValue, ...m }): PacketMeta => ({ ...m, random: () => randomValue }));
  return fc.option(meta, { nil: undefined, freq: 2 });
}

/** Write a classic pcap file (microseconds, little-endian) holding the given packets. */
export function writePcap(path: string, linkType: number, packets: readonly { data: Uint8Array; wireLength?: number }[], snaplen = 262144): void {
  let size = 24;
  for (const p of packets) size += 16 + p.data.length;
  const buf = Buffer.alloc(size);
  buf.writeUInt32LE(0xa1b2c3d4, 0);
  buf.writeUInt16LE(2, 4);
  buf.writeUInt16LE(4, 6);
  buf.writeUInt32LE(snaplen, 16);
  buf.writeUInt32LE(linkType, 20);
  let off = 24;
  packets.forEach((p, i) => {
    buf.writeUInt32LE(1_700_000_000 + i, off);
    buf.writeUInt32LE(i, off + 4);
    buf.writeUInt32LE(p.data.length, off + 8);
    buf.writeUInt32LE(p.wireLength ?? p.data.length, off + 12);
    buf.set(p.data, off + 16);
    off += 16 + p.data.length;
  });
  writeFileSync(path, buf);
}
