/**
 * eBPF opcode fields (RFC 9669). An opcode byte is `class | op | source` for
 * arithmetic and jumps, and `class | size | mode` for loads and stores.
 */

export const Class = {
  LD: 0x00,
  LDX: 0x01,
  ST: 0x02,
  STX: 0x03,
  ALU: 0x04,
  JMP: 0x05,
  JMP32: 0x06,
  ALU64: 0x07,
} as const;

export const Source = { K: 0x00, X: 0x08 } as const;

export const AluOp = {
  ADD: 0x00,
  SUB: 0x10,
  MUL: 0x20,
  DIV: 0x30,
  OR: 0x40,
  AND: 0x50,
  LSH: 0x60,
  RSH: 0x70,
  NEG: 0x80,
  MOD: 0x90,
  XOR: 0xa0,
  MOV: 0xb0,
  ARSH: 0xc0,
  END: 0xd0,
} as const;

export const JmpOp = {
  JA: 0x00,
  JEQ: 0x10,
  JGT: 0x20,
  JGE: 0x30,
  JSET: 0x40,
  JNE: 0x50,
  JSGT: 0x60,
  JSGE: 0x70,
  CALL: 0x80,
  EXIT: 0x90,
  JLT: 0xa0,
  JLE: 0xb0,
  JSLT: 0xc0,
  JSLE: 0xd0,
} as const;

export const Size = { W: 0x00, H: 0x08, B: 0x10, DW: 0x18 } as const;

export const Mode = {
  IMM: 0x00,
  ABS: 0x20,
  IND: 0x40,
  MEM: 0x60,
  MEMSX: 0x80,
  ATOMIC: 0xc0,
} as const;

/** Byte-swap direction in the source bit of ALU|END. */
export const Endian = { TO_LE: 0x00, TO_BE: 0x08 } as const;

/** Atomic operation codes, carried in imm of STX|ATOMIC. */
export const Atomic = {
  ADD: 0x00,
  OR: 0x40,
  AND: 0x50,
  XOR: 0xa0,
  FETCH: 0x01,
  XCHG: 0xe0 | 0x01,
  CMPXCHG: 0xf0 | 0x01,
} as const;

/** src_reg values of LDDW (BPF_LD|BPF_IMM|BPF_DW): what the 64-bit immediate means. */
export const PseudoLd = {
  NONE: 0,
  MAP_FD: 1,
  MAP_VALUE: 2,
  BTF_ID: 3,
  FUNC: 4,
  MAP_IDX: 5,
  MAP_IDX_VALUE: 6,
} as const;

/** src_reg values of CALL: helper by id, bpf-to-bpf call (imm = relative offset), kfunc (imm = BTF id). */
export const PseudoCall = { HELPER: 0, CALL: 1, KFUNC: 2 } as const;

export const opClass = (code: number): number => code & 0x07;
export const opSize = (code: number): number => code & 0x18;
export const opMode = (code: number): number => code & 0xe0;
export const opSource = (code: number): number => code & 0x08;
export const opAlu = (code: number): number => code & 0xf0;

/** The LDDW opcode (BPF_LD | BPF_IMM | BPF_DW), whose instruction takes two 8-byte slots. */
export const LDDW = Class.LD | Mode.IMM | Size.DW;

export const isAlu = (code: number): boolean => {
  const c = opClass(code);
  return c === Class.ALU || c === Class.ALU64;
};
export const isJump = (code: number): boolean => {
  const c = opClass(code);
  return c === Class.JMP || c === Class.JMP32;
};

/** Bytes accessed by a load/store of the given size field. */
export function sizeBytes(size: number): 1 | 2 | 4 | 8 {
  switch (size) {
    case Size.B:
      return 1;
    case Size.H:
      return 2;
    case Size.W:
      return 4;
    default:
      return 8;
  }
}

/** Number of registers: r0..r10; r10 is the read-only frame pointer. */
export const NUM_REGS = 11;
export const FRAME_POINTER = 10;
/** Stack bytes per frame, call depth, tail-call limit, and instruction limits (as in Linux). */
export const STACK_SIZE = 512;
export const MAX_CALL_DEPTH = 8;
export const MAX_TAIL_CALLS = 33;
export const MAX_INSNS = 1_000_000;
