/**
 * CO-RE for a whole object, in libbpf's order: before bpf-to-bpf linking,
 * every relocation of .BTF.ext is resolved (src/btf's CoreResolver, one per
 * object so candidate caching and pruning match libbpf) and applied to the
 * section's instructions, so every program that copies a function gets the
 * relocated code.
 *
 * An unsatisfiable relocation poisons its instruction like libbpf (the kernel
 * rejects it only if reachable) and is reported as a warning, or, with
 * onFailure 'error', is an ElfRelocationError naming the program, the
 * relocation and the local type.
 */
import type { Btf } from '../btf/btf.js';
import { CoreResolver, patchInstruction } from '../btf/core.js';
import { CORE_RELO_KIND_NAMES, CoreReloKind } from '../btf/ext.js';
import { ElfError, ElfRelocationError } from './errors.js';
import type { BpfObject } from './object.js';
import { matchSection } from './sections.js';

export interface CoreOptions {
  onFailure: 'poison' | 'error';
}

export interface CoreApplyContext {
  target: () => Btf;
  onFailure: CoreOptions['onFailure'];
  warn: (message: string) => void;
}

/** How many CO-RE relocations the object has (in sections that hold programs or subprograms). */
export function countCoreRelos(obj: BpfObject): number {
  let n = 0;
  for (const sec of obj.ext?.coreRelos ?? []) n += sec.records.length;
  return n;
}

export function applyCoreToObject(obj: BpfObject, ctx: CoreApplyContext): void {
  const ext = obj.ext;
  const btf = obj.btf;
  if (!ext || !btf || countCoreRelos(obj) === 0) return;
  const onlyLocal = ext.coreRelos.every((s) => s.records.every((r) => r.kind === CoreReloKind.TYPE_ID_LOCAL));
  const resolver = new CoreResolver(btf, onlyLocal ? btf : ctx.target());
  let n = 0;
  for (const sec of ext.coreRelos) {
    const cs = [...obj.codeSections.values()].find((c) => c.name === sec.section);
    if (!cs) {
      throw new ElfError(`.BTF.ext has CO-RE relocations for section '${sec.section}', which the object does not have`, { section: '.BTF.ext' });
    }
    const skip = cs.name !== '.text' && !matchSection(cs.name.startsWith('?') ? cs.name.slice(1) : cs.name);
    for (const r of sec.records) {
      const index = n++;
      if (skip) continue;
      if (r.insnOff % 8 !== 0 || r.insnOff / 8 >= cs.insns.length) {
        throw new ElfRelocationError(`CO-RE relocation #${index} points at byte ${r.insnOff}, not an instruction of the section`, {
          section: cs.name,
          offset: r.insnOff,
        });
      }
      const insn = r.insnOff / 8;
      const fn = obj.functionAt(cs, insn);
      const program = fn?.name ?? cs.name;
      const result = resolver.resolve(r, { program, index });
      if (result.poison) {
        const kind = CORE_RELO_KIND_NAMES[r.kind] ?? `kind ${r.kind}`;
        const msg = `program '${program}': CO-RE relocation #${index} (${kind} ${result.localSpec}) has no match in the target BTF`;
        if (ctx.onFailure === 'error') {
          throw new ElfRelocationError(`${msg}`, { section: cs.name, insn: insn - (fn?.start ?? 0), typeId: r.typeId });
        }
        ctx.warn(`${msg}; instruction ${insn - (fn?.start ?? 0)} poisoned (call 0xbad2310)`);
      }
      patchInstruction(cs.insns, insn, result);
    }
  }
}
