/**
 * The collection's BTF as the kernel will accept it, made the way libbpf
 * makes it when it collects externs: the kernel refuses extern FUNCs and
 * extern VARs, so
 *  - in `.ksyms`, every kfunc entry points at one added `dummy_ksym` int VAR
 *    and the FUNC itself becomes global (its unnamed parameters take the
 *    dummy's name), and every ksym VAR becomes a global int; each entry is
 *    4 bytes at offset 4*i;
 *  - in `.kconfig`, every VAR becomes global (offsets are the map layout).
 * Type ids are unchanged (the dummy is appended), so func_info, map BTF ids
 * and CO-RE results stay valid. The object's own Btf is left as parsed.
 *
 * And, as libbpf does, a global function the ELF symbol table marks hidden
 * (`__hidden`, visibility("hidden")) is sent as a static FUNC: nothing outside
 * the object calls it, so the verifier may check it in its callers' context
 * (argument and return values known) instead of on its own.
 */
import { Btf } from '../btf/btf.js';
import type { BtfType, DatasecType, VarType } from '../btf/types.js';
import { LINKAGE_GLOBAL, LINKAGE_STATIC } from '../btf/types.js';
import { ElfExternError } from './errors.js';

const DUMMY_KSYM = 'dummy_ksym';

export function btfForKernel(btf: Btf, hiddenFunctions: ReadonlySet<string> = new Set()): Btf {
  const own = btf.ownTypes() as BtfType[];
  const hides = (t: BtfType): boolean => t.kind === 'func' && t.linkage === LINKAGE_GLOBAL && hiddenFunctions.has(t.name);
  const hasSec = (name: string): boolean => own.some((t) => t.kind === 'datasec' && t.name === name);
  if (!hasSec('.ksyms') && !hasSec('.kconfig') && !own.some(hides)) return btf;
  const types = structuredClone(own);
  const byId = (id: number) => types[id - 1];
  for (const t of types) if (t.kind === 'func' && hides(t)) t.linkage = LINKAGE_STATIC;
  const ksyms = types.find((t): t is DatasecType => t.kind === 'datasec' && t.name === '.ksyms');
  const kconfig = types.find((t): t is DatasecType => t.kind === 'datasec' && t.name === '.kconfig');
  const intId = types.find((t) => t.kind === 'int' && t.bits === 32)?.id ?? 0;
  if (ksyms) {
    let dummyId = 0;
    if (ksyms.vars.some((v) => byId(v.type)?.kind === 'func')) {
      if (intId === 0) throw new ElfExternError('the object BTF has no 32-bit int to stand in for kfunc externs', { section: '.ksyms' });
      dummyId = types.length + 1;
      const dummy: VarType = { id: dummyId, kind: 'var', name: DUMMY_KSYM, type: intId, linkage: LINKAGE_GLOBAL };
      types.push(dummy);
    }
    ksyms.vars.forEach((v, i) => {
      const t = byId(v.type);
      if (t?.kind === 'func') {
        const proto = byId(t.type);
        if (proto?.kind === 'func_proto') for (const p of proto.params) if (p.type !== 0 && p.name === '') p.name = DUMMY_KSYM;
        t.linkage = LINKAGE_GLOBAL;
        v.type = dummyId;
      } else if (t?.kind === 'var') {
        t.linkage = LINKAGE_GLOBAL;
        t.type = intId;
      }
      v.offset = 4 * i;
      v.size = 4;
    });
    ksyms.size = 4 * ksyms.vars.length;
  }
  if (kconfig) {
    for (const v of kconfig.vars) {
      const t = byId(v.type);
      if (t?.kind === 'var') t.linkage = LINKAGE_GLOBAL;
    }
  }
  return new Btf(types, undefined, { littleEndian: btf.littleEndian });
}
