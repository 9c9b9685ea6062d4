/**
 * Pre-decoding: eBPF slots → the interpreter's compact form. Each slot becomes
 * four 32-bit words in one Int32Array:
 *
 *   [ op | dst << 16 | src << 20,  off,  imm,  aux ]
 *
 * `op` is the opcode byte, or for variants the interpreter must tell apart
 * cheaply the opcode plus 0x100 (signed division and modulo, sign-extending
 * moves, bpf-to-bpf calls, kfunc calls). `aux` holds what would otherwise be computed at
 * run time: a jump's absolute target, LDDW's high word, a movsx shift.
 *
 * Decoding refuses what the interpreter cannot run: unknown opcodes or
 * variants, registers above r10, writes to r10, jumps outside the program or
 * into the middle of an LDDW, truncated LDDW. LDDW pseudo sources (map fd,
 * map value, function) are resolved here through the caller's resolver, so
 * at run time every LDDW is a plain constant.
 */
import type { Instruction } from '../ebpf/insn.js';
import { VmLoadError } from './errors.js';

/** Internal opcodes above the opcode byte. */
export const Op = {
  SDIV32_K: 0x134,
  SDIV32_X: 0x13c,
  SMOD32_K: 0x194,
  SMOD32_X: 0x19c,
  SDIV64_K: 0x137,
  SDIV64_X: 0x13f,
  SMOD64_K: 0x197,
  SMOD64_X: 0x19f,
  MOVSX32: 0x1bc,
  MOVSX64: 0x1bf,
  CALL_LOCAL: 0x185,
  /** A kfunc call: loads, and stops the run with an error when reached (kfuncs are kernel functions). */
  CALL_KFUNC: 0x285,
} as const;

export interface Resolver {
  /** The 64-bit value of an LDDW with a pseudo source (src != 0), as [lo, hi]; throw VmLoadError when impossible. */
  lddw(src: number, imm: number, nextImm: number, pc: number): [number, number];
  /** Whether helper `id` exists (unknown helper ids are refused at load, as the kernel does). */
  hasHelper(id: number): boolean;
  /** Allow `callx` (opcode 0x8d, helper id in a register): a bpf_conformance extension. */
  callx?: boolean;
}

const ALU_OPS = new Set([0x00, 0x10, 0x20, 0x30, 0x40, 0x50, 0x60, 0x70, 0x80, 0x90, 0xa0, 0xb0, 0xc0, 0xd0]);
const JMP_CONDS = new Set([0x10, 0x20, 0x30, 0x40, 0x50, 0x60, 0x70, 0xa0, 0xb0, 0xc0, 0xd0]);

/** Decode and resolve a program's slots. */
export function decodeProgram(name: string, insns: readonly Instruction[], resolver: Resolver): Int32Array {
  const n = insns.length;
  if (n === 0) throw new VmLoadError(name, undefined, 'the program has no instructions');
  const out = new Int32Array(n * 4);
  // Slots that are the second half of an LDDW: no jump may land there.
  const second = new Uint8Array(n);
  const targets: Array<[number, number]> = [];
  const fail = (pc: number, msg: string): never => {
    throw new VmLoadError(name, pc, msg);
  };

  for (let pc = 0; pc < n; pc++) {
    const ins = insns[pc]!;
    const code = ins.code & 0xff;
    const dst = ins.dst;
    const src = ins.src;
    const off = ins.off;
    const imm = ins.imm | 0;
    let op = code;
    let aux = 0;
    const cls = code & 7;
    if (dst > 10) fail(pc, `invalid destination register r${dst}`);
    if (src > 10 && !(code === 0x18 || cls === 5 || cls === 6)) fail(pc, `invalid source register r${src}`);

    const noWriteR10 = (): void => {
      if (dst === 10) fail(pc, 'r10 is read-only');
    };
    const jump = (delta: number): void => {
      aux = pc + delta + 1;
      targets.push([pc, aux]);
    };

    switch (cls) {
      case 0x04: // ALU
      case 0x07: {
        // ALU64
        const aop = code & 0xf0;
        if (!ALU_OPS.has(aop)) fail(pc, `unknown ALU operation 0x${code.toString(16)}`);
        noWriteR10();
        const x = (code & 8) !== 0;
        if (aop === 0x80 && x) fail(pc, 'neg takes no source register');
        if (aop === 0xd0) {
          if (cls === 0x07 && x) fail(pc, 'unknown opcode 0x' + code.toString(16));
          if (imm !== 16 && imm !== 32 && imm !== 64) fail(pc, `byte swap width must be 16, 32 or 64, not ${imm}`);
        } else if (aop === 0x30 || aop === 0x90) {
          if (off === 1) op = code + 0x100;
          else if (off !== 0) fail(pc, `division offset must be 0 or 1, not ${off}`);
        } else if (aop === 0xb0 && x && off !== 0) {
          if (cls === 0x04 && off !== 8 && off !== 16) fail(pc, `movsx32 width must be 8 or 16, not ${off}`);
          if (cls === 0x07 && off !== 8 && off !== 16 && off !== 32) fail(pc, `movsx width must be 8, 16 or 32, not ${off}`);
          op = code + 0x100;
          aux = 32 - off;
        }
        break;
      }
      case 0x05: // JMP
      case 0x06: {
        // JMP32
        const jop = code & 0xf0;
        const x = (code & 8) !== 0;
        if (jop === 0x00) {
          if (x) fail(pc, 'unknown opcode 0x' + code.toString(16));
          op = 0x05;
          jump(cls === 0x05 ? off : imm);
        } else if (JMP_CONDS.has(jop)) {
          if (dst > 10 || (x && src > 10)) fail(pc, 'invalid register');
          jump(off);
        } else if (jop === 0x80 && cls === 0x05) {
          if (x) {
            if (!resolver.callx) fail(pc, 'callx (call by register) is not enabled');
          } else if (src === 0) {
            if (!resolver.hasHelper(imm)) fail(pc, `unknown helper id ${imm}`);
          } else if (src === 1) {
            op = Op.CALL_LOCAL;
            jump(imm);
          } else if (src === 2) {
            // Like the kernel with an unresolved weak kfunc: fine in dead code (bpf_ksym_exists), an error when run.
            op = Op.CALL_KFUNC;
          } else {
            fail(pc, `unknown call kind src=${src}`);
          }
        } else if (jop === 0x90 && cls === 0x05 && !x) {
          // exit
        } else {
          fail(pc, 'unknown opcode 0x' + code.toString(16));
        }
        break;
      }
      case 0x00: {
        // LD
        if (code === 0x18) {
          noWriteR10();
          if (pc + 1 >= n) fail(pc, 'LDDW is missing its second slot');
          const next = insns[pc + 1]!;
          if (next.code !== 0 || next.dst !== 0 || next.src !== 0 || next.off !== 0) {
            fail(pc + 1, 'the second slot of LDDW must have only imm set');
          }
          if (src === 0) {
            aux = next.imm | 0;
          } else {
            const [lo, hi] = resolver.lddw(src, imm, next.imm | 0, pc);
            out[pc * 4 + 2] = lo;
            aux = hi;
          }
          second[pc + 1] = 1;
          out[pc * 4] = op | (dst << 16);
          out[pc * 4 + 1] = 0;
          if (src === 0) out[pc * 4 + 2] = imm;
          out[pc * 4 + 3] = aux;
          pc++;
          continue;
        }
        const mode = code & 0xe0;
        const size = code & 0x18;
        if ((mode !== 0x20 && mode !== 0x40) || size === 0x18) fail(pc, 'unknown opcode 0x' + code.toString(16));
        break;
      }
      case 0x01: {
        // LDX
        const mode = code & 0xe0;
        if (mode !== 0x60 && !(mode === 0x80 && (code & 0x18) !== 0x18)) fail(pc, 'unknown opcode 0x' + code.toString(16));
        noWriteR10();
        break;
      }
      case 0x02: // ST
        if ((code & 0xe0) !== 0x60) fail(pc, 'unknown opcode 0x' + code.toString(16));
        break;
      case 0x03: {
        // STX
        const mode = code & 0xe0;
        if (mode === 0xc0) {
          if ((code & 0x18) !== 0x00 && (code & 0x18) !== 0x18) fail(pc, 'atomic operations are 32 or 64 bits wide');
          const base = imm & ~1;
          const fetch = (imm & 1) !== 0;
          const known = imm === 0xe1 || imm === 0xf1 || ((base === 0x00 || base === 0x40 || base === 0x50 || base === 0xa0) && imm === (base | (fetch ? 1 : 0)));
          if (!known) {
            fail(pc, `unknown atomic operation 0x${(imm >>> 0).toString(16)}`);
          }
        } else if (mode !== 0x60) {
          fail(pc, 'unknown opcode 0x' + code.toString(16));
        }
        break;
      }
    }
    const base = pc * 4;
    out[base] = op | (dst << 16) | (src << 20);
    out[base + 1] = off;
    out[base + 2] = imm;
    out[base + 3] = aux;
  }

  for (const [pc, target] of targets) {
    if (target < 0 || target >= n) fail(pc, `jump to ${target} is outside the program (0..${n - 1})`);
    if (second[target]) fail(pc, `jump to ${target} lands in the second slot of an LDDW`);
  }
  return out;
}
