/**
 * The classic opcode table: the 49 opcodes that both the Linux kernel
 * (`chk_code_allowed()`) and libpcap's interpreter accept, and the names of
 * the Linux ancillary fields (as libpcap's `bpf_image()` prints them).
 */
import {
  BPF_A, BPF_ABS, BPF_ADD, BPF_ALU, BPF_AND, BPF_B, BPF_DIV, BPF_H, BPF_IMM, BPF_IND, BPF_JA, BPF_JEQ,
  BPF_JGE, BPF_JGT, BPF_JMP, BPF_JSET, BPF_K, BPF_LD, BPF_LDX, BPF_LEN, BPF_LSH, BPF_MEM, BPF_MISC,
  BPF_MOD, BPF_MSH, BPF_MUL, BPF_NEG, BPF_OR, BPF_RET, BPF_RSH, BPF_ST, BPF_STX, BPF_SUB, BPF_TAX,
  BPF_TXA, BPF_W, BPF_X, BPF_XOR, SKF_AD, SKF_AD_OFF,
} from './insn.js';

const ALU_OPS = [BPF_ADD, BPF_SUB, BPF_MUL, BPF_DIV, BPF_MOD, BPF_AND, BPF_OR, BPF_XOR, BPF_LSH, BPF_RSH];
const JMP_OPS = [BPF_JEQ, BPF_JGT, BPF_JGE, BPF_JSET];

/** Every valid classic opcode, in ascending order. */
export const VALID_OPCODES: readonly number[] = (() => {
  const codes = new Set<number>();
  for (const op of ALU_OPS) {
    codes.add(BPF_ALU | op | BPF_K);
    codes.add(BPF_ALU | op | BPF_X);
  }
  codes.add(BPF_ALU | BPF_NEG);
  for (const size of [BPF_W, BPF_H, BPF_B]) {
    codes.add(BPF_LD | size | BPF_ABS);
    codes.add(BPF_LD | size | BPF_IND);
  }
  codes.add(BPF_LD | BPF_W | BPF_LEN);
  codes.add(BPF_LD | BPF_IMM);
  codes.add(BPF_LD | BPF_MEM);
  codes.add(BPF_LDX | BPF_W | BPF_LEN);
  codes.add(BPF_LDX | BPF_B | BPF_MSH);
  codes.add(BPF_LDX | BPF_IMM);
  codes.add(BPF_LDX | BPF_MEM);
  codes.add(BPF_ST);
  codes.add(BPF_STX);
  codes.add(BPF_MISC | BPF_TAX);
  codes.add(BPF_MISC | BPF_TXA);
  codes.add(BPF_RET | BPF_K);
  codes.add(BPF_RET | BPF_A);
  codes.add(BPF_JMP | BPF_JA);
  for (const op of JMP_OPS) {
    codes.add(BPF_JMP | op | BPF_K);
    codes.add(BPF_JMP | op | BPF_X);
  }
  return [...codes].sort((a, b) => a - b);
})();

/** Every classic opcode is below 0x100 (the table stays small in the CLI's start-up snapshot). */
const validTable = new Uint8Array(0x100);
for (const c of VALID_OPCODES) validTable[c] = 1;

/** True when `code` is one of the 49 classic opcodes. */
export function isValidOpcode(code: number): boolean {
  return code >= 0 && code < 0x100 && validTable[code] === 1;
}

/** True for the conditional jumps (jeq, jgt, jge, jset with K or X). */
export function isConditionalJump(code: number): boolean {
  return (code & 0x07) === BPF_JMP && (code & 0xf0) !== BPF_JA;
}

/**
 * Linux ancillary field names, by offset from SKF_AD_OFF, as libpcap's
 * bpf_image() prints them (`ld [ifidx]`).
 */
export const ANCILLARY_NAMES: ReadonlyMap<number, string> = new Map([
  [SKF_AD.PROTOCOL, 'proto'],
  [SKF_AD.PKTTYPE, 'type'],
  [SKF_AD.IFINDEX, 'ifidx'],
  [SKF_AD.NLATTR, 'nla'],
  [SKF_AD.NLATTR_NEST, 'nlan'],
  [SKF_AD.MARK, 'mark'],
  [SKF_AD.QUEUE, 'queue'],
  [SKF_AD.HATYPE, 'hatype'],
  [SKF_AD.RXHASH, 'rxhash'],
  [SKF_AD.CPU, 'cpu'],
  [SKF_AD.ALU_XOR_X, 'xor_x'],
  [SKF_AD.VLAN_TAG, 'vlan_tci'],
  [SKF_AD.VLAN_TAG_PRESENT, 'vlanp'],
  [SKF_AD.PAY_OFFSET, 'poff'],
  [SKF_AD.RANDOM, 'random'],
  [SKF_AD.VLAN_TPID, 'vlan_tpid'],
]);

/** k of the first ancillary load, as an unsigned 32-bit number (0xfffff000). */
export const SKF_AD_OFF_U32 = SKF_AD_OFF >>> 0;

/** The ancillary field offset (SKF_AD.*) addressed by an absolute load's k, or undefined. */
export function ancillaryField(k: number): number | undefined {
  const u = k >>> 0;
  if (u < SKF_AD_OFF_U32) return undefined;
  const off = u - SKF_AD_OFF_U32;
  return ANCILLARY_NAMES.has(off) ? off : undefined;
}

/** True when the opcode's behaviour does not depend on k (ret a, tax, txa, neg, len loads, X operands). */
export function ignoresK(code: number): boolean {
  const cls = code & 0x07;
  if (code === 0x16 || code === 0x80 || code === 0x81 || code === 0x84 || code === 0x07 || code === 0x87) return true;
  return (cls === 0x04 || cls === 0x05) && (code & 0x08) !== 0;
}

/**
 * The instruction with the fields its opcode ignores set to 0: k where
 * ignoresK(), jt/jf for everything but conditional jumps. Two programs that
 * differ only in ignored fields behave identically; the -d text and bpf_asm
 * show only the fields that matter, so their parsers give canonical
 * instructions.
 */
export function canonicalInsn(insn: { code: number; jt: number; jf: number; k: number }): { code: number; jt: number; jf: number; k: number } {
  const cond = isConditionalJump(insn.code);
  return {
    code: insn.code,
    jt: cond ? insn.jt : 0,
    jf: cond ? insn.jf : 0,
    k: ignoresK(insn.code) ? 0 : insn.k >>> 0,
  };
}
