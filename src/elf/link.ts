/**
 * bpf-to-bpf linking: one program's instructions with every subprogram it
 * calls (transitively) appended, in the order libbpf appends them: depth
 * first, a callee placed the first time a call to it is met, then scanned
 * before the caller's scan goes on. Call offsets (CALL src=1 and LDDW
 * src=PSEUDO_FUNC, for callbacks) are rewritten to point at the copies.
 *
 * The result keeps, for every slot, the ELF relocation that applied to it,
 * and where each function landed, so that data relocations, CO-RE
 * relocations, func_info and line_info can be mapped onto the linked program.
 */
import type { Instruction } from '../ebpf/insn.js';
import { LDDW, PseudoCall, PseudoLd } from '../ebpf/opcodes.js';
import { ElfRelocationError } from './errors.js';
import { relocName, R_BPF, type BpfFunction, type BpfObject, type CodeSection, type InsnRelocation } from './object.js';
import { SHN } from './reader.js';

export const CALL = 0x85;

export interface PlacedRelocation {
  /** Slot in the linked program. */
  at: number;
  relo: InsnRelocation;
  /** The function the slot belongs to. */
  fn: BpfFunction;
}

export interface LinkedProgram {
  entry: BpfFunction;
  insns: Instruction[];
  relocations: PlacedRelocation[];
  /** Where each function starts in `insns`, in placement order. */
  placed: { fn: BpfFunction; at: number }[];
}

export function isSubprogCall(ins: Instruction): boolean {
  return ins.code === CALL && ins.src === PseudoCall.CALL;
}

export function isPseudoFunc(ins: Instruction): boolean {
  return ins.code === LDDW && ins.src === PseudoLd.FUNC;
}

export function linkProgram(obj: BpfObject, entry: BpfFunction): LinkedProgram {
  const insns: Instruction[] = [];
  const relocations: PlacedRelocation[] = [];
  const placedAt = new Map<BpfFunction, number>();
  const placed: { fn: BpfFunction; at: number }[] = [];

  const place = (fn: BpfFunction): number => {
    const at = insns.length;
    placedAt.set(fn, at);
    placed.push({ fn, at });
    const cs = fn.section;
    for (let i = 0; i < fn.count; i++) {
      const src = cs.insns[fn.start + i]!;
      insns.push({ code: src.code, dst: src.dst, src: src.src, off: src.off, imm: src.imm });
      const r = cs.relocations.get(fn.start + i);
      if (r) relocations.push({ at: at + i, relo: r, fn });
    }
    scan(fn, at);
    return at;
  };

  const scan = (fn: BpfFunction, at: number): void => {
    const cs = fn.section;
    for (let i = 0; i < fn.count; i++) {
      const ins = insns[at + i]!;
      const call = isSubprogCall(ins);
      const relo = cs.relocations.get(fn.start + i);
      // clang leaves src_reg 0 on `r2 = callback ll`; a relocation against code makes it a function address.
      const func = !call && ins.code === LDDW && (ins.src === PseudoLd.FUNC || (relo !== undefined && obj.codeSections.has(relo.symbol.shndx)));
      if (!call && !func) continue;
      if (relo && relo.symbol.shndx === SHN.UNDEF) continue; // an extern: a kfunc call
      if (func) ins.src = PseudoLd.FUNC;
      let targetSection: CodeSection = cs;
      let targetInsn: number;
      if (relo) {
        const want = call ? R_BPF.R_64_32 : R_BPF.R_64_64;
        if (relo.type !== want) {
          throw new ElfRelocationError(`${relocName(relo.type)} cannot relocate a ${call ? 'call' : 'function address (ld_imm64)'}`, {
            section: cs.name,
            symbol: relo.symbol.name,
            offset: (fn.start + i) * 8,
          });
        }
        const tcs = obj.codeSections.get(relo.symbol.shndx);
        if (!tcs) {
          throw new ElfRelocationError('call target is not in an executable section', {
            section: cs.name,
            symbol: relo.symbol.name,
            offset: (fn.start + i) * 8,
          });
        }
        targetSection = tcs;
        const symInsn = Number(relo.symbol.value) / 8;
        // Calls count in slots (imm = slot - 1 relative to the symbol); ld_imm64 counts in bytes.
        targetInsn = call ? symInsn + ins.imm + 1 : symInsn + ins.imm / 8;
      } else {
        targetInsn = fn.start + i + ins.imm + 1;
      }
      const target = obj.functionAt(targetSection, targetInsn);
      if (!target || target.start !== targetInsn) {
        throw new ElfRelocationError(`${call ? 'call' : 'function address'} targets slot ${targetInsn} of ${targetSection.name}, which starts no function`, {
          section: cs.name,
          offset: (fn.start + i) * 8,
          ...(relo ? { symbol: relo.symbol.name } : {}),
        });
      }
      const tAt = placedAt.get(target) ?? place(target);
      // place() may have grown `insns`, but slot objects are stable.
      ins.imm = tAt - (at + i) - 1;
    }
  };

  place(entry);
  return { entry, insns, relocations, placed };
}
