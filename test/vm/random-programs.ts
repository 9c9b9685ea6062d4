/**
 * Random socket-filter, tc and XDP programs the kernel's verifier is likely to
 * accept, for differential tests of the VM against BPF_PROG_TEST_RUN.
 *
 * Shape: a prologue that keeps the context in r6, initialises every scalar
 * register (r0-r5, r9) and 64 bytes of stack, and (tc, XDP) loads data /
 * data_end into r7 / r8 and checks that WINDOW bytes are there; a body of
 * random blocks (ALU and ALU64 with every operation including the v4 ones,
 * LDDW, stack and packet loads and stores with sign extension, atomics,
 * forward conditional jumps, small counted loops, legacy packet loads, and
 * helpers: skb_load_bytes, skb_store_bytes, csum_diff, xdp_adjust_head /
 * _tail with the packet pointers reloaded and checked again); an epilogue
 * that stores the scalar registers where the test run reports them (packet
 * bytes, or __sk_buff.cb for socket filters) and returns a value built from
 * them. Jumps only go forward to block boundaries, loops count down a known
 * constant, scratch registers are set again after every call.
 */
import { type Instruction, insn, lddw } from '../../src/ebpf/insn.js';
import type { MapSpec, Reference } from '../../src/ebpf/spec.js';
import { MapType } from '../../src/ebpf/types.js';

export type GenKind = 'socket' | 'tc' | 'xdp';

export interface GenProgram {
  kind: GenKind;
  insns: Instruction[];
  /** References to the maps of GEN_MAPS, by name. */
  references: Reference[];
  data: Uint8Array;
  ctx?: Uint8Array;
}

/** The maps random programs use (create both in each engine and compare their contents after a run). */
export const GEN_MAPS: Record<string, MapSpec> = {
  arr: { name: 'arr', type: MapType.ARRAY, keySize: 4, valueSize: 8, maxEntries: 16, flags: 0 },
  hash: { name: 'hash', type: MapType.HASH, keySize: 4, valueSize: 8, maxEntries: 8, flags: 0 },
};

/** __sk_buff fields a program may read (offsets of u32 fields), by kind. */
const CTX_READ = {
  socket: [0, 4, 8, 12, 16, 20, 24, 28, 32, 36, 40, 48, 52, 56, 60, 64, 68],
  tc: [0, 4, 8, 12, 16, 20, 24, 28, 32, 36, 40, 44, 48, 52, 56, 60, 64, 68, 72, 84, 160, 164, 176],
};
/** __sk_buff fields a program may write. */
const CTX_WRITE = { socket: [48, 52, 56, 60, 64], tc: [8, 32, 44, 48, 52, 56, 60, 64, 72] };

/** mulberry32: a small seedable generator. */
export function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) | 0;
    let t = Math.imul(a ^ (a >>> 15), 1 | a);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const WINDOW = 48;
const SCALARS = [0, 1, 2, 3, 4, 5, 9];
const CTX = 6;
const PKT = 7;
const PKT_END = 8;

/** Ids of the helpers used. */
const H = { skb_store_bytes: 9, skb_load_bytes: 26, csum_diff: 28, xdp_adjust_head: 44, xdp_adjust_tail: 65 };

interface Block {
  insns: Instruction[];
  /** Map references: the LDDW at `at` names map `map`. */
  refs?: Array<{ at: number; map: string }>;
  /** A forward jump to the start of block `target` (resolved at layout), or to the short exit (-1). */
  jump?: { at: number; target: number };
}

class Gen {
  constructor(
    private readonly r: () => number,
    readonly kind: GenKind,
  ) {}

  int(n: number): number {
    return Math.floor(this.r() * n);
  }
  pick<T>(xs: readonly T[]): T {
    return xs[this.int(xs.length)]!;
  }
  chance(p: number): boolean {
    return this.r() < p;
  }
  imm(): number {
    switch (this.int(6)) {
      case 0:
        return this.int(16);
      case 1:
        return -this.int(16);
      case 2:
        return this.pick([0x7fffffff, -0x80000000, -1, 0xff, 0xffff, 0x80, 0x8000, 0x80000000 | 0]);
      default:
        return (this.r() * 0x1_0000_0000) | 0;
    }
  }
  scalar(): number {
    return this.pick(SCALARS);
  }

  /** Set r1-r5 to constants (after a call or a legacy packet load scratched them). */
  reinitScratch(): Instruction[] {
    return [1, 2, 3, 4, 5].map((r) => insn(0xb7, r, 0, 0, this.imm()));
  }

  alu(): Instruction[] {
    const wide = this.chance(0.6);
    const cls = wide ? 0x07 : 0x04;
    const width = wide ? 64 : 32;
    const d = this.scalar();
    const ops = [0x00, 0x10, 0x20, 0x30, 0x40, 0x50, 0x60, 0x70, 0x80, 0x90, 0xa0, 0xb0, 0xc0, 0xd0];
    const op = this.pick(ops);
    if (op === 0xd0) {
      // le/be (ALU) or bswap (ALU64, v4)
      const src = wide ? 0 : this.pick([0, 8]);
      return [insn(cls | op | src, d, 0, 0, this.pick([16, 32, 64]))];
    }
    if (op === 0x80) return [insn(cls | op, d, 0, 0, 0)];
    const x = this.chance(0.5);
    if (x) {
      const s = this.scalar();
      let off = 0;
      if (op === 0x30 || op === 0x90) off = this.pick([0, 1]);
      if (op === 0xb0 && this.chance(0.3)) off = this.pick(wide ? [8, 16, 32] : [8, 16]);
      return [insn(cls | op | 0x08, d, s, off, 0)];
    }
    let imm = this.imm();
    let off = 0;
    if (op === 0x60 || op === 0x70 || op === 0xc0) imm = this.int(width);
    if (op === 0x30 || op === 0x90) {
      if (imm === 0) imm = this.pick([1, -1, 7]);
      off = this.pick([0, 1]);
    }
    return [insn(cls | op, d, 0, off, imm)];
  }

  stackStore(): Instruction[] {
    const size = this.pick([1, 2, 4, 8]);
    const sz = { 1: 0x10, 2: 0x08, 4: 0x00, 8: 0x18 }[size]!;
    const off = -size * (1 + this.int(64 / size));
    return this.chance(0.3) ? [insn(0x62 | sz, 10, 0, off, this.imm())] : [insn(0x63 | sz, 10, this.scalar(), off, 0)];
  }

  stackLoad(): Instruction[] {
    const size = this.pick([1, 2, 4, 8]);
    const sz = { 1: 0x10, 2: 0x08, 4: 0x00, 8: 0x18 }[size]!;
    const off = -size * (1 + this.int(64 / size));
    const mode = size < 8 && this.chance(0.4) ? 0x80 : 0x60;
    return [insn(0x01 | mode | sz, this.scalar(), 10, off, 0)];
  }

  atomic(): Instruction[] {
    const wide = this.chance(0.5);
    const size = wide ? 8 : 4;
    const off = -size * (1 + this.int(64 / size));
    const op = this.pick([0x00, 0x01, 0x40, 0x41, 0x50, 0x51, 0xa0, 0xa1, 0xe1, 0xf1]);
    return [insn(0xc3 | (wide ? 0x18 : 0), 10, this.pick([1, 2, 3, 4, 5, 9]), off, op)];
  }

  packetAccess(): Instruction[] {
    const size = this.pick([1, 2, 4, 8]);
    const sz = { 1: 0x10, 2: 0x08, 4: 0x00, 8: 0x18 }[size]!;
    const off = this.int(WINDOW - size + 1);
    switch (this.int(3)) {
      case 0:
        return [insn(0x01 | (size < 8 && this.chance(0.4) ? 0x80 : 0x60) | sz, this.scalar(), PKT, off, 0)];
      case 1:
        return [insn(0x63 | sz, PKT, this.scalar(), off, 0)];
      default:
        return [insn(0x62 | sz, PKT, 0, off, this.imm())];
    }
  }

  /** LD_ABS / LD_IND (socket filters and tc): offsets sometimes past the packet, which ends the program with 0. */
  legacyLoad(): Instruction[] {
    const size = this.pick([0x00, 0x08, 0x10]);
    const out: Instruction[] = [];
    if (this.chance(0.5)) out.push(insn(0x20 | size, 0, 0, 0, this.int(this.chance(0.9) ? 60 : 400)));
    else {
      const s = this.pick([2, 3, 4, 5, 9]);
      out.push(insn(0xb7, s, 0, 0, this.int(40)), insn(0x40 | size, 0, s, 0, this.int(24)));
    }
    return [...out, ...this.reinitScratch()];
  }

  /** Check WINDOW bytes of packet after r7, else take the short exit. */
  packetCheck(loadPointers: boolean): Block[] {
    const [dataOff, endOff] = this.kind === 'xdp' ? [0, 4] : [76, 80];
    const pre: Instruction[] = [];
    if (loadPointers) pre.push(insn(0x61, PKT, CTX, dataOff, 0), insn(0x61, PKT_END, CTX, endOff, 0));
    pre.push(insn(0xbf, 1, PKT, 0, 0), insn(0x07, 1, 0, 0, WINDOW));
    return [
      { insns: [...pre, insn(0x2d, 1, PKT_END, 0, 0)], jump: { at: pre.length, target: -1 } },
      { insns: [insn(0xb7, 1, 0, 0, this.imm())] },
    ];
  }

  helper(): Block[] {
    const k = this.kind;
    // Socket filters may not call csum_diff.
    const choices: string[] = k === 'socket' ? [] : ['csum'];
    if (k !== 'xdp') choices.push('load');
    if (k === 'tc') choices.push('store');
    if (k === 'xdp') choices.push('head', 'tail');
    const which = this.pick(choices);
    const stack = (r: number, off: number): Instruction[] => [insn(0xbf, r, 10, 0, 0), insn(0x07, r, 0, 0, off)];
    let call: Instruction[];
    switch (which) {
      case 'csum':
        call = [
          ...stack(1, -16),
          insn(0xb7, 2, 0, 0, this.pick([0, 4, 8, 16])),
          ...stack(3, -40),
          insn(0xb7, 4, 0, 0, this.pick([0, 4, 8])),
          insn(0xb7, 5, 0, 0, this.imm()),
          insn(0x85, 0, 0, 0, H.csum_diff),
        ];
        break;
      case 'load':
        call = [
          insn(0xbf, 1, CTX, 0, 0),
          insn(0xb7, 2, 0, 0, this.int(this.chance(0.9) ? 64 : 300)),
          ...stack(3, -32),
          insn(0xb7, 4, 0, 0, 1 + this.int(16)),
          insn(0x85, 0, 0, 0, H.skb_load_bytes),
        ];
        break;
      case 'store':
        call = [
          insn(0xbf, 1, CTX, 0, 0),
          insn(0xb7, 2, 0, 0, this.int(this.chance(0.9) ? 64 : 300)),
          ...stack(3, -24),
          insn(0xb7, 4, 0, 0, 1 + this.int(16)),
          insn(0xb7, 5, 0, 0, this.pick([0, 1, 2, 3, 4])),
          insn(0x85, 0, 0, 0, H.skb_store_bytes),
        ];
        break;
      default: {
        const delta = which === 'head' ? this.pick([-32, -8, -4, 0, 4, 8, 14, 20, -300, 3000]) : this.pick([-20, -8, -1, 0, 1, 8, 100, 4000, -4000]);
        call = [insn(0xbf, 1, CTX, 0, 0), insn(0xb7, 2, 0, 0, delta), insn(0x85, 0, 0, 0, which === 'head' ? H.xdp_adjust_head : H.xdp_adjust_tail)];
      }
    }
    const blocks: Block[] = [{ insns: [...call, ...this.reinitScratch()] }];
    if (k === 'tc' && which === 'store') blocks.push(...this.packetCheck(true));
    if (k === 'xdp' && (which === 'head' || which === 'tail')) blocks.push(...this.packetCheck(true));
    return blocks;
  }

  /** Look up, update or delete a key of one of GEN_MAPS; a looked-up value is read and written. */
  mapOp(): Block {
    const map = this.pick(Object.keys(GEN_MAPS));
    const setKey = insn(0x62, 10, 0, -72, this.int(20));
    const load = lddw(1, 0n, 1);
    const keyPtr = [insn(0xbf, 2, 10, 0, 0), insn(0x07, 2, 0, 0, -72)];
    let call: Instruction[];
    switch (this.int(3)) {
      case 0:
        call = [
          insn(0x85, 0, 0, 0, 1),
          insn(0x15, 0, 0, 3, 0),
          insn(0x79, 1, 0, 0, 0),
          insn(0xaf, 9, 1, 0, 0),
          insn(0x7b, 0, this.pick([9, 1]), 0, 0),
          insn(0xb7, 0, 0, 0, this.imm()),
        ];
        break;
      case 1:
        call = [insn(0xbf, 3, 10, 0, 0), insn(0x07, 3, 0, 0, -80), insn(0xb7, 4, 0, 0, this.pick([0, 0, 1, 2])), insn(0x85, 0, 0, 0, 2)];
        break;
      default:
        call = [insn(0x85, 0, 0, 0, 3)];
    }
    return { insns: [setKey, ...load, ...keyPtr, ...call, ...this.reinitScratch()], refs: [{ at: 1, map }] };
  }

  ctxRead(): Instruction[] {
    const off = this.pick(CTX_READ[this.kind as 'socket' | 'tc']);
    const size = this.chance(0.8) ? 4 : this.pick([1, 2]);
    const sz = { 1: 0x10, 2: 0x08, 4: 0x00 }[size]!;
    const sub = size === 4 ? 0 : size * this.int(4 / size);
    return [insn(0x61 | sz, this.scalar(), CTX, off + sub, 0)];
  }

  ctxWrite(): Instruction[] {
    return [insn(0x63, CTX, this.scalar(), this.pick(CTX_WRITE[this.kind as 'socket' | 'tc']), 0)];
  }

  condJump(): Block {
    const jmp32 = this.chance(0.35);
    const op = this.pick([0x10, 0x20, 0x30, 0x40, 0x50, 0x60, 0x70, 0xa0, 0xb0, 0xc0, 0xd0]);
    const x = this.chance(0.4);
    const ins = insn((jmp32 ? 0x06 : 0x05) | op | (x ? 0x08 : 0), this.scalar(), x ? this.scalar() : 0, 0, x ? 0 : this.imm());
    return { insns: [ins], jump: { at: 0, target: 0 } };
  }

  loop(): Instruction[] {
    const body: Instruction[] = [];
    const n = 1 + this.int(3);
    for (let i = 0; i < n; i++) {
      let a = this.alu();
      while (a.some((x) => x.dst === 9)) a = this.alu();
      body.push(...a);
    }
    return [insn(0xb7, 9, 0, 0, 1 + this.int(6)), ...body, insn(0x17, 9, 0, 0, 1), insn(0x55, 9, 0, -(body.length + 2), 0)];
  }

  program(data: Uint8Array): GenProgram {
    const k = this.kind;
    const pre: Block[] = [{ insns: [insn(0xbf, CTX, 1, 0, 0)] }];
    const init: Instruction[] = [];
    for (const r of SCALARS) {
      if (this.chance(0.25)) init.push(...lddw(r, BigInt.asUintN(64, BigInt(this.imm()) * 0x1_0000_0001n + BigInt(this.int(1 << 30)))));
      else init.push(insn(0xb7, r, 0, 0, this.imm()));
    }
    for (let off = -8; off >= -80; off -= 8) init.push(insn(0x7b, 10, this.scalar(), off, 0));
    pre.push({ insns: init });
    if (k !== 'socket') pre.push(...this.packetCheck(true));

    const body: Block[] = [];
    const nblocks = 8 + this.int(24);
    let jumps = 0;
    for (let i = 0; i < nblocks; i++) {
      const roll = this.r();
      if (roll < 0.35) body.push({ insns: this.alu() });
      else if (roll < 0.42) body.push({ insns: lddw(this.scalar(), BigInt.asUintN(64, BigInt(this.imm()) << BigInt(this.int(33)))) });
      else if (roll < 0.5) body.push({ insns: this.stackStore() });
      else if (roll < 0.57) body.push({ insns: this.stackLoad() });
      else if (roll < 0.62) body.push({ insns: this.atomic() });
      else if (roll < 0.72 && k !== 'socket') body.push({ insns: this.packetAccess() });
      else if (roll < 0.72 && k !== 'xdp') body.push({ insns: this.legacyLoad() });
      else if (roll < 0.8 && jumps < 8) {
        body.push(this.condJump());
        jumps++;
      } else if (roll < 0.84) body.push({ insns: this.loop() });
      else if (roll < 0.9) body.push(...this.helper());
      else body.push({ insns: this.alu() });
    }

    const epi: Instruction[] = [];
    if (k === 'socket') {
      // Report registers in __sk_buff.cb[0..4] and a value mixed from all of them.
      [0, 2, 3, 4, 5].forEach((r, i) => epi.push(insn(0x63, CTX, r, 48 + 4 * i, 0)));
      epi.push(insn(0xaf, 0, 9, 0, 0), insn(0xaf, 0, 1, 0, 0));
    } else {
      [0, 1, 2, 3, 4, 5].forEach((r, i) => epi.push(insn(0x7b, PKT, r, 8 * i, 0)));
      epi.push(insn(0xaf, 0, 9, 0, 0));
      if (k === 'xdp') epi.push(insn(0x57, 0, 0, 0, 3));
    }
    epi.push(insn(0x95));
    const shortExit = [insn(0xb7, 0, 0, 0, 2), insn(0x95)];

    // Layout: resolve forward jumps to block starts (or the short exit).
    const blocks = [...pre, ...body, { insns: epi }];
    const starts: number[] = [];
    let pc = 0;
    for (const b of blocks) {
      starts.push(pc);
      pc += b.insns.length;
    }
    const exitAt = pc;
    const out: Instruction[] = [];
    const references: Reference[] = [];
    blocks.forEach((b, bi) => {
      const ins = b.insns.map((x) => ({ ...x }));
      for (const r of b.refs ?? []) references.push({ kind: 'map', index: starts[bi]! + r.at, map: r.map });
      if (b.jump) {
        const from = starts[bi]! + b.jump.at;
        let target = exitAt;
        if (b.jump.target === 0) {
          // A forward jump over 1..6 following blocks, never past the epilogue.
          const tb = Math.min(blocks.length - 1, bi + 1 + this.int(6));
          target = starts[tb]!;
        }
        ins[b.jump.at] = { ...ins[b.jump.at]!, off: target - from - 1 };
      }
      out.push(...ins);
    });
    // The short exit only exists where a packet check can jump to it (the kernel refuses unreachable code).
    if (k !== 'socket') out.push(...shortExit);
    return { kind: k, insns: out, references, data, ...(k === 'xdp' ? {} : { ctx: this.skbContext() }) };
  }

  /** An __sk_buff for ctx_in: zero but for the fields a test run accepts (mark, priority, cb). */
  skbContext(): Uint8Array {
    const ctx = new Uint8Array(192);
    const dv = new DataView(ctx.buffer);
    if (this.chance(0.5)) dv.setUint32(8, this.imm(), true);
    if (this.chance(0.5)) dv.setUint32(32, this.imm(), true);
    for (let i = 0; i < 5; i++) if (this.chance(0.3)) dv.setUint32(48 + 4 * i, this.imm(), true);
    return ctx;
  }
}

/** A random packet: Ethernet with an IPv4, IPv6 or other EtherType, of random length. */
export function randomPacket(r: () => number, kind: GenKind): Uint8Array {
  const t = r();
  const proto = t < 0.5 ? 0x0800 : t < 0.7 ? 0x86dd : t < 0.8 ? 0x0806 : Math.floor(r() * 0x10000);
  // Mostly long enough for the network header (shorter ones test the kernel's EINVAL).
  const min = r() < 0.9 ? (proto === 0x0800 ? 34 : proto === 0x86dd ? 54 : 14) : 14;
  const len = min + Math.floor(r() * (kind === 'xdp' ? 200 : 180));
  const b = new Uint8Array(len);
  for (let i = 0; i < len; i++) b[i] = Math.floor(r() * 256);
  b[12] = proto >> 8;
  b[13] = proto & 0xff;
  if (r() < 0.3) b.fill(0, 0, 6);
  return b;
}

export function randomProgram(seed: number, kind: GenKind): GenProgram {
  const r = rng(seed);
  const g = new Gen(r, kind);
  return g.program(randomPacket(r, kind));
}
