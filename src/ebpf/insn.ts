/**
 * The eBPF instruction as it is on the wire: one 8-byte slot, `struct bpf_insn`.
 *
 * A program is an array of slots. LDDW takes two slots: the first has
 * code 0x18 and the low 32 bits of the constant in imm, the second has code 0
 * and the high 32 bits in imm. Jump offsets, instruction indices in errors,
 * the kernel's verifier log and `bpftool prog dump xlated` all count slots, so
 * bpfkit does too. Higher layers (the builder, the ELF loader) keep symbolic
 * references beside the slots and resolve them at load.
 */
import { BpfkitError } from '../errors.js';
import { LDDW } from './opcodes.js';

export interface Instruction {
  /** The opcode byte. */
  code: number;
  /** Destination register, 0..15 as encoded (only 0..10 are valid). */
  dst: number;
  /** Source register, 0..15 as encoded; also the pseudo kind of LDDW and CALL. */
  src: number;
  /** Signed 16-bit offset. */
  off: number;
  /** Signed 32-bit immediate. */
  imm: number;
}

export class InstructionDecodeError extends BpfkitError {
  constructor(
    message: string,
    readonly byteOffset: number,
  ) {
    super('EBPF_DECODE', message);
  }
}

export function insn(code: number, dst = 0, src = 0, off = 0, imm = 0): Instruction {
  return { code, dst, src, off: (off << 16) >> 16, imm: imm | 0 };
}

/** Decode raw bytecode (a multiple of 8 bytes) into slots. */
export function decode(bytes: Uint8Array, littleEndian = true): Instruction[] {
  if (bytes.length % 8 !== 0) {
    throw new InstructionDecodeError(
      `bytecode length ${bytes.length} is not a multiple of 8`,
      bytes.length - (bytes.length % 8),
    );
  }
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const out: Instruction[] = new Array(bytes.length / 8);
  for (let i = 0, p = 0; p < bytes.length; i++, p += 8) {
    const regs = bytes[p + 1]!;
    out[i] = {
      code: bytes[p]!,
      dst: littleEndian ? regs & 0x0f : regs >> 4,
      src: littleEndian ? regs >> 4 : regs & 0x0f,
      off: view.getInt16(p + 2, littleEndian),
      imm: view.getInt32(p + 4, littleEndian),
    };
  }
  return out;
}

/** Encode slots into bytecode. */
export function encode(insns: readonly Instruction[], littleEndian = true): Uint8Array {
  const bytes = new Uint8Array(insns.length * 8);
  const view = new DataView(bytes.buffer);
  insns.forEach((ins, i) => {
    const p = i * 8;
    bytes[p] = ins.code & 0xff;
    bytes[p + 1] = littleEndian ? (ins.dst & 0x0f) | ((ins.src & 0x0f) << 4) : ((ins.dst & 0x0f) << 4) | (ins.src & 0x0f);
    view.setInt16(p + 2, ins.off, littleEndian);
    view.setInt32(p + 4, ins.imm | 0, littleEndian);
  });
  return bytes;
}

/** True for the first slot of an LDDW. */
export const isWide = (ins: Instruction): boolean => ins.code === LDDW;

/** The 64-bit constant of the LDDW starting at slot i (unsigned). */
export function wideImm(insns: readonly Instruction[], i: number): bigint {
  const lo = BigInt(insns[i]!.imm >>> 0);
  const hi = BigInt((insns[i + 1]?.imm ?? 0) >>> 0);
  return (hi << 32n) | lo;
}

/** The two slots of `LDDW dst, value` (src is the pseudo kind, see PseudoLd). */
export function lddw(dst: number, value: bigint, src = 0): [Instruction, Instruction] {
  const v = BigInt.asUintN(64, value);
  return [
    insn(LDDW, dst, src, 0, Number(v & 0xffffffffn) | 0),
    insn(0, 0, 0, 0, Number(v >> 32n) | 0),
  ];
}
