/**
 * The classic BPF interpreter, with libpcap's semantics (bpf_filter.c,
 * pcap_offline_filter()):
 *
 * - A and X start at 0, the 16 scratch words at 0.
 * - A load that does not fit in the captured bytes makes the filter return 0.
 * - Division or modulo by X = 0 returns 0; so does a constant 0 (which the
 *   validator refuses anyway).
 * - Arithmetic wraps at 32 bits; shifts by 32 or more give 0.
 * - `len` (ld #pktlen) is the wire length; loads are bounded by the captured
 *   length (the buffer's length).
 * - `ja` may jump backwards (libpcap's protochain does). libpcap 1.10 follows
 *   backward jumps without limit, so a looping program would hang it; here a
 *   run may take at most max(64, captured length) backward jumps, then (or on
 *   a jump to itself) the filter returns 0. No protochain walk reaches the
 *   limit (each IPv6/IPv4 extension header it steps over is at least 8
 *   bytes long), so verdicts equal libpcap's while no program can hang.
 * - A jump out of the program, an unknown opcode or M[k >= 16] returns 0.
 *
 * The interpreter accepts any program, validated or not, and never throws.
 * With a PacketMeta (see meta.ts) the program runs as a Linux socket filter
 * instead: ancillary and negative-offset loads follow the kernel, and so does
 * a shift by X >= 32 (the kernel shifts by X & 31).
 *
 * The switch runs on dense opcode indexes (OPS, with each opcode's name in a
 * comment), literal numbers so that the cases stay compile-time constants
 * whatever a bundler does to imports.
 */
import type { CbpfProgram } from './insn.js';
import { LOAD_EXIT_A, LOAD_FAIL, loadExtension, loadNegative, type PacketMeta } from './meta.js';

/**
 * The least number of backward jumps a run may take before the filter gives
 * up and returns 0; the limit is this or the captured length, whichever is
 * larger (see backwardJumpLimit()).
 */
export const MAX_BACKWARD_JUMPS = 64;

/** How many backward jumps a run over a packet of `caplen` bytes may take. */
export function backwardJumpLimit(caplen: number): number {
  return caplen > MAX_BACKWARD_JUMPS ? caplen : MAX_BACKWARD_JUMPS;
}

/** A program decoded into typed arrays, ready to run many times. */
export interface DecodedProgram {
  /** The opcode as a dense index (see OPS), for a compact switch; 0 = not a valid opcode. */
  readonly op: Uint8Array;
  readonly code: Uint16Array;
  readonly jt: Uint8Array;
  readonly jf: Uint8Array;
  /** k as int32 (the same 32 bits): small integers keep the interpreter in int32 arithmetic. */
  readonly k: Int32Array;
  /** Whether the program touches scratch memory (which then starts zeroed). */
  readonly usesMemory: boolean;
}

/** The valid opcodes in the order of the interpreter's switch; OPS[i] has dense index i + 1. */
const OPS = [
  0x06, 0x16, 0x20, 0x28, 0x30, 0x40, 0x48, 0x50, 0xb1, 0x80, 0x81, 0x00, 0x01, 0x60, 0x61, 0x02, 0x03, 0x05,
  0x25, 0x35, 0x15, 0x45, 0x2d, 0x3d, 0x1d, 0x4d, 0x0c, 0x1c, 0x2c, 0x3c, 0x9c, 0x5c, 0x4c, 0xac, 0x6c, 0x7c,
  0x04, 0x14, 0x24, 0x34, 0x94, 0x54, 0x44, 0xa4, 0x64, 0x74, 0x84, 0x07, 0x87,
];
/** Every classic opcode is below 0x100: a 256-entry table (small in the CLI's start-up snapshot too). */
const DENSE = new Uint8Array(0x100);
OPS.forEach((code, i) => {
  DENSE[code] = i + 1;
});

/** Decode a program once (interpreter() does this for you). */
export function decodeProgram(prog: CbpfProgram): DecodedProgram {
  const n = prog.length;
  const d = { op: new Uint8Array(n), code: new Uint16Array(n), jt: new Uint8Array(n), jf: new Uint8Array(n), k: new Int32Array(n), usesMemory: false };
  for (let i = 0; i < n; i++) {
    const insn = prog[i]!;
    const code = insn.code & 0xffff;
    d.op[i] = insn.code === code && code < 0x100 ? DENSE[code]! : 0;
    d.code[i] = code;
    d.jt[i] = insn.jt;
    d.jf[i] = insn.jf;
    d.k[i] = insn.k | 0;
    if (code === 0x60 || code === 0x61 || code === 0x02 || code === 0x03) d.usesMemory = true;
  }
  return d;
}

const NO_MEMORY: number[] = [];

/** A big-endian load as int32 (the same bits as the unsigned value). */
function load(p: Uint8Array, off: number, size: number): number {
  if (size === 4) return (p[off]! << 24) | (p[off + 1]! << 16) | (p[off + 2]! << 8) | p[off + 3]!;
  if (size === 2) return (p[off]! << 8) | p[off + 1]!;
  return p[off]!;
}

/**
 * Run a classic program on one packet and return what the filter returns
 * (0 = drop; otherwise the number of bytes to keep), as an unsigned 32-bit
 * number.
 *
 * @param packet the captured bytes (caplen = packet.length)
 * @param wireLength the length on the wire (`ld #pktlen`), default packet.length
 * @param meta Linux packet metadata; when given, the program runs as a Linux
 *   socket filter (see meta.ts); when absent, with libpcap's semantics.
 */
export function interpret(prog: CbpfProgram, packet: Uint8Array, wireLength: number = packet.length, meta?: PacketMeta): number {
  return run(decodeProgram(prog), packet, wireLength, meta);
}

/** The interpreter bound to one program, decoded once: `(packet, wireLength?, meta?) => verdict`. */
export function interpreter(prog: CbpfProgram): (packet: Uint8Array, wireLength?: number, meta?: PacketMeta) => number {
  const d = decodeProgram(prog);
  return (packet, wireLength = packet.length, meta) => run(d, packet, wireLength, meta);
}

/** Run a decoded program (see interpret()). */
export function run(d: DecodedProgram, packet: Uint8Array, wireLength: number, meta?: PacketMeta): number {
  // Fresh zeroed scratch words for each run (a small-integer array is cheap to make).
  const mem = d.usesMemory ? [0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0] : NO_MEMORY;
  return exec(d, mem, packet, wireLength, meta);
}

/*
 * The registers hold int32 values (the bits of the unsigned registers), so
 * that V8 keeps them in small-integer arithmetic; comparisons, division and
 * the result convert with >>> 0.
 */
function exec(d: DecodedProgram, mem: number[], packet: Uint8Array, wireLength: number, meta: PacketMeta | undefined): number {
  const { op: ops, code: codes, jt: jts, jf: jfs, k: ks } = d;
  const n = codes.length;
  const buflen = packet.length;
  let A = 0;
  let X = 0;
  let backward = 0;
  let pc = 0;
  for (;;) {
    if (pc >= n) return 0;
    const k = ks[pc]!;
    switch (ops[pc]!) {
      case 1: // 0x06 BPF_RET | BPF_K
        return k >>> 0;
      case 2: // 0x16 BPF_RET | BPF_A
        return A >>> 0;
      case 3: // 0x20 BPF_LD | BPF_W | BPF_ABS
      case 4: // 0x28 BPF_LD | BPF_H | BPF_ABS
      case 5: { // 0x30 BPF_LD | BPF_B | BPF_ABS
        const size = (codes[pc]! & 0x18) === 0x00 ? 4 : (codes[pc]! & 0x18) === 0x08 ? 2 : 1;
        if (k < 0) {
          // k >= 2^31: never inside a packet; Linux ancillary data or header-relative with a PacketMeta.
          if (meta === undefined) return 0;
          const v = loadExtension(packet, meta, k >>> 0, size, A >>> 0, X >>> 0);
          if (v === LOAD_FAIL) return 0;
          if (v === LOAD_EXIT_A) return A >>> 0;
          A = v | 0;
        } else {
          if (k + size > buflen) return 0;
          A = load(packet, k, size);
        }
        break;
      }
      case 6: // 0x40 BPF_LD | BPF_W | BPF_IND
      case 7: // 0x48 BPF_LD | BPF_H | BPF_IND
      case 8: { // 0x50 BPF_LD | BPF_B | BPF_IND
        const size = (codes[pc]! & 0x18) === 0x00 ? 4 : (codes[pc]! & 0x18) === 0x08 ? 2 : 1;
        const off = (X >>> 0) + (k >>> 0); // exact: both are below 2^32
        if (off + size <= buflen) {
          A = load(packet, off, size);
        } else if (meta !== undefined) {
          // The kernel adds in 32 bits and reads the sum as a signed offset.
          const s = off | 0;
          const v = s < 0 ? loadNegative(packet, meta, s, size) : s + size <= buflen ? load(packet, s, size) >>> 0 : LOAD_FAIL;
          if (v === LOAD_FAIL) return 0;
          A = v | 0;
        } else {
          return 0;
        }
        break;
      }
      case 9: { // 0xb1 BPF_LDX | BPF_MSH | BPF_B
        let b: number;
        if (k < 0) {
          if (meta === undefined) return 0;
          b = loadNegative(packet, meta, k, 1);
          if (b === LOAD_FAIL) return 0;
        } else {
          if (k >= buflen) return 0;
          b = packet[k]!;
        }
        X = (b & 0xf) << 2;
        break;
      }
      case 10: // 0x80 BPF_LD | BPF_W | BPF_LEN
        A = wireLength | 0;
        break;
      case 11: // 0x81 BPF_LDX | BPF_W | BPF_LEN
        X = wireLength | 0;
        break;
      case 12: // 0x00 BPF_LD | BPF_IMM
        A = k;
        break;
      case 13: // 0x01 BPF_LDX | BPF_IMM
        X = k;
        break;
      case 14: // 0x60 BPF_LD | BPF_MEM
        if (k < 0 || k >= 16) return 0;
        A = mem[k]!;
        break;
      case 15: // 0x61 BPF_LDX | BPF_MEM
        if (k < 0 || k >= 16) return 0;
        X = mem[k]!;
        break;
      case 16: // 0x02 BPF_ST
        if (k < 0 || k >= 16) return 0;
        mem[k] = A;
        break;
      case 17: // 0x03 BPF_STX
        if (k < 0 || k >= 16) return 0;
        mem[k] = X;
        break;
      case 18: { // 0x05 BPF_JMP | BPF_JA
        if (((pc + 1 + (k >>> 0)) >>> 0) >= n) return 0;
        if (k < 0) {
          if (k === -1 || backward++ >= backwardJumpLimit(buflen)) return 0;
        }
        pc += k;
        break;
      }
      case 19: // 0x25 BPF_JMP | BPF_JGT | BPF_K
        pc += A >>> 0 > k >>> 0 ? jts[pc]! : jfs[pc]!;
        break;
      case 20: // 0x35 BPF_JMP | BPF_JGE | BPF_K
        pc += A >>> 0 >= k >>> 0 ? jts[pc]! : jfs[pc]!;
        break;
      case 21: // 0x15 BPF_JMP | BPF_JEQ | BPF_K
        pc += A === k ? jts[pc]! : jfs[pc]!;
        break;
      case 22: // 0x45 BPF_JMP | BPF_JSET | BPF_K
        pc += (A & k) !== 0 ? jts[pc]! : jfs[pc]!;
        break;
      case 23: // 0x2d BPF_JMP | BPF_JGT | BPF_X
        pc += A >>> 0 > X >>> 0 ? jts[pc]! : jfs[pc]!;
        break;
      case 24: // 0x3d BPF_JMP | BPF_JGE | BPF_X
        pc += A >>> 0 >= X >>> 0 ? jts[pc]! : jfs[pc]!;
        break;
      case 25: // 0x1d BPF_JMP | BPF_JEQ | BPF_X
        pc += A === X ? jts[pc]! : jfs[pc]!;
        break;
      case 26: // 0x4d BPF_JMP | BPF_JSET | BPF_X
        pc += (A & X) !== 0 ? jts[pc]! : jfs[pc]!;
        break;
      case 27: // 0x0c BPF_ALU | BPF_ADD | BPF_X
        A = (A + X) | 0;
        break;
      case 28: // 0x1c BPF_ALU | BPF_SUB | BPF_X
        A = (A - X) | 0;
        break;
      case 29: // 0x2c BPF_ALU | BPF_MUL | BPF_X
        A = Math.imul(A, X);
        break;
      case 30: // 0x3c BPF_ALU | BPF_DIV | BPF_X
        if (X === 0) return 0;
        A = (A >>> 0) / (X >>> 0) | 0;
        break;
      case 31: // 0x9c BPF_ALU | BPF_MOD | BPF_X
        if (X === 0) return 0;
        A = (A >>> 0) % (X >>> 0) | 0;
        break;
      case 32: // 0x5c BPF_ALU | BPF_AND | BPF_X
        A = A & X;
        break;
      case 33: // 0x4c BPF_ALU | BPF_OR | BPF_X
        A = A | X;
        break;
      case 34: // 0xac BPF_ALU | BPF_XOR | BPF_X
        A = A ^ X;
        break;
      case 35: // 0x6c BPF_ALU | BPF_LSH | BPF_X (JS masks the count to 5 bits, as the kernel does)
        A = X >>> 0 < 32 || meta !== undefined ? A << X : 0;
        break;
      case 36: // 0x7c BPF_ALU | BPF_RSH | BPF_X
        A = X >>> 0 < 32 || meta !== undefined ? (A >>> X) | 0 : 0;
        break;
      case 37: // 0x04 BPF_ALU | BPF_ADD | BPF_K
        A = (A + k) | 0;
        break;
      case 38: // 0x14 BPF_ALU | BPF_SUB | BPF_K
        A = (A - k) | 0;
        break;
      case 39: // 0x24 BPF_ALU | BPF_MUL | BPF_K
        A = Math.imul(A, k);
        break;
      case 40: // 0x34 BPF_ALU | BPF_DIV | BPF_K
        if (k === 0) return 0;
        A = (A >>> 0) / (k >>> 0) | 0;
        break;
      case 41: // 0x94 BPF_ALU | BPF_MOD | BPF_K
        if (k === 0) return 0;
        A = (A >>> 0) % (k >>> 0) | 0;
        break;
      case 42: // 0x54 BPF_ALU | BPF_AND | BPF_K
        A = A & k;
        break;
      case 43: // 0x44 BPF_ALU | BPF_OR | BPF_K
        A = A | k;
        break;
      case 44: // 0xa4 BPF_ALU | BPF_XOR | BPF_K
        A = A ^ k;
        break;
      case 45: // 0x64 BPF_ALU | BPF_LSH | BPF_K
        A = k >>> 0 < 32 ? A << k : 0;
        break;
      case 46: // 0x74 BPF_ALU | BPF_RSH | BPF_K
        A = k >>> 0 < 32 ? (A >>> k) | 0 : 0;
        break;
      case 47: // 0x84 BPF_ALU | BPF_NEG
        A = -A | 0;
        break;
      case 48: // 0x07 BPF_MISC | BPF_TAX
        X = A;
        break;
      case 49: // 0x87 BPF_MISC | BPF_TXA
        A = X;
        break;
      default:
        return 0;
    }
    pc++;
  }
}
