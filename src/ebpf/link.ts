/**
 * Resolving a program's references at load time: each engine knows what a
 * map name becomes (a kernel fd, a VM handle) and what a kfunc or kernel
 * symbol name becomes (a BTF id), and passes that in; this writes the
 * numbers into a copy of the slots, checking that each reference points at
 * an instruction of the right kind.
 */
import { BpfkitError } from '../errors.js';
import type { Instruction } from './insn.js';
import { Class, JmpOp, LDDW, PseudoCall, PseudoLd } from './opcodes.js';
import type { Reference } from './spec.js';

/** A reference that could not be resolved, or that points at the wrong kind of instruction. */
export class LinkError extends BpfkitError {
  constructor(
    message: string,
    /** The slot index of the reference. */
    readonly index: number,
  ) {
    super('EBPF_LINK', `instruction ${index}: ${message}`);
  }
}

export interface ReferenceResolver {
  /** The number an LDDW of the map names (src MAP_FD): a kernel fd, a VM handle. */
  map?(name: string): number | undefined;
  /** For LDDW src MAP_VALUE: the map's number; the offset is kept from the reference. */
  mapValue?(name: string): number | undefined;
  /** A kfunc's BTF id, and the index of its module BTF in fd_array (0: vmlinux). */
  kfunc?(name: string): { btfId: number; btfFdIndex?: number } | undefined;
  /** A kernel symbol's BTF id, and the fd of its module BTF (0: vmlinux). */
  ksym?(name: string): { btfId: number; btfFd?: number } | undefined;
}

/** A copy of `insns` with every reference resolved. Throws LinkError. */
export function resolveReferences(insns: readonly Instruction[], refs: readonly Reference[], resolver: ReferenceResolver): Instruction[] {
  const out = insns.map((i) => ({ ...i }));
  for (const r of refs) {
    const at = out[r.index];
    const fail = (msg: string): never => {
      throw new LinkError(msg, r.index);
    };
    if (!at) fail(`the reference to ${describe(r)} is outside the program (${out.length} slots)`);
    const ins = at!;
    switch (r.kind) {
      case 'map':
      case 'mapValue': {
        const src = r.kind === 'map' ? PseudoLd.MAP_FD : PseudoLd.MAP_VALUE;
        if (ins.code !== LDDW || !out[r.index + 1]) fail(`the reference to ${describe(r)} is not on an lddw`);
        const n = r.kind === 'map' ? resolver.map?.(r.map) : resolver.mapValue?.(r.map) ?? resolver.map?.(r.map);
        if (n === undefined) fail(`no map named '${r.map}'`);
        ins.src = src;
        ins.imm = n! | 0;
        out[r.index + 1]!.imm = r.kind === 'mapValue' ? r.offset | 0 : 0;
        break;
      }
      case 'kfunc': {
        if (ins.code !== (Class.JMP | JmpOp.CALL)) fail(`the reference to ${describe(r)} is not on a call`);
        const k = resolver.kfunc?.(r.name);
        if (!k) fail(`unknown kfunc '${r.name}'`);
        ins.src = PseudoCall.KFUNC;
        ins.imm = k!.btfId | 0;
        ins.off = k!.btfFdIndex ?? 0;
        break;
      }
      case 'ksym': {
        if (ins.code !== LDDW || !out[r.index + 1]) fail(`the reference to ${describe(r)} is not on an lddw`);
        const k = resolver.ksym?.(r.name);
        if (!k) fail(`unknown kernel symbol '${r.name}'`);
        ins.src = PseudoLd.BTF_ID;
        ins.imm = k!.btfId | 0;
        out[r.index + 1]!.imm = k!.btfFd ?? 0;
        break;
      }
    }
  }
  return out;
}

function describe(r: Reference): string {
  switch (r.kind) {
    case 'map':
      return `map '${r.map}'`;
    case 'mapValue':
      return `map value '${r.map}'+${r.offset}`;
    case 'kfunc':
      return `kfunc '${r.name}'`;
    case 'ksym':
      return `kernel symbol '${r.name}'`;
  }
}
