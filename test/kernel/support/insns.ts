/**
 * A handful of eBPF instruction constructors for hand-written test programs
 * (the kernel tests must not depend on the assembler under test elsewhere).
 */
import { insn, lddw, type Instruction } from '../../../src/ebpf/insn.js';
import type { Reference } from '../../../src/ebpf/spec.js';

export const R0 = 0,
  R1 = 1,
  R2 = 2,
  R3 = 3,
  R4 = 4,
  R5 = 5,
  R6 = 6,
  R7 = 7,
  R8 = 8,
  R9 = 9,
  R10 = 10;

export const mov64 = (dst: number, imm: number) => insn(0xb7, dst, 0, 0, imm);
export const mov64r = (dst: number, src: number) => insn(0xbf, dst, src);
export const mov32 = (dst: number, imm: number) => insn(0xb4, dst, 0, 0, imm);
export const add64 = (dst: number, imm: number) => insn(0x07, dst, 0, 0, imm);
export const add64r = (dst: number, src: number) => insn(0x0f, dst, src);
export const mul64 = (dst: number, imm: number) => insn(0x27, dst, 0, 0, imm);
export const and64 = (dst: number, imm: number) => insn(0x57, dst, 0, 0, imm);
export const rsh64 = (dst: number, imm: number) => insn(0x77, dst, 0, 0, imm);
export const lsh64 = (dst: number, imm: number) => insn(0x67, dst, 0, 0, imm);
export const ldxw = (dst: number, src: number, off: number) => insn(0x61, dst, src, off);
export const ldxdw = (dst: number, src: number, off: number) => insn(0x79, dst, src, off);
export const ldxb = (dst: number, src: number, off: number) => insn(0x71, dst, src, off);
export const stw = (dst: number, off: number, imm: number) => insn(0x62, dst, 0, off, imm);
export const stdw = (dst: number, off: number, imm: number) => insn(0x7a, dst, 0, off, imm);
export const stxw = (dst: number, src: number, off: number) => insn(0x63, dst, src, off);
export const stxdw = (dst: number, src: number, off: number) => insn(0x7b, dst, src, off);
/** lock *(u64 *)(dst + off) += src */
export const xadd64 = (dst: number, src: number, off: number) => insn(0xdb, dst, src, off, 0);
/** lock *(u32 *)(dst + off) += src */
export const xadd32 = (dst: number, src: number, off: number) => insn(0xc3, dst, src, off, 0);
export const call = (helper: number) => insn(0x85, 0, 0, 0, helper);
export const exit = () => insn(0x95);
export const ja = (off: number) => insn(0x05, 0, 0, off);
export const jeq = (dst: number, imm: number, off: number) => insn(0x15, dst, 0, off, imm);
export const jne = (dst: number, imm: number, off: number) => insn(0x55, dst, 0, off, imm);
export const jlt = (dst: number, imm: number, off: number) => insn(0xa5, dst, 0, off, imm);
export const jltr = (dst: number, src: number, off: number) => insn(0xad, dst, src, off);
export const jsgt = (dst: number, imm: number, off: number) => insn(0x65, dst, 0, off, imm);
export { lddw };

/**
 * A program under construction: instructions plus map references, with
 * `ldMap(reg, name)` recording the reference at the right slot.
 */
export class Prog {
  readonly instructions: Instruction[] = [];
  readonly references: Reference[] = [];

  emit(...insns: Instruction[]): this {
    this.instructions.push(...insns);
    return this;
  }

  ldMap(dst: number, map: string): this {
    this.references.push({ kind: 'map', index: this.instructions.length, map });
    return this.emit(...lddw(dst, 0n));
  }

  ldMapValue(dst: number, map: string, offset = 0): this {
    this.references.push({ kind: 'mapValue', index: this.instructions.length, map, offset });
    return this.emit(...lddw(dst, 0n));
  }

  get length(): number {
    return this.instructions.length;
  }
}
