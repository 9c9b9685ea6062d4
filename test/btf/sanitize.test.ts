/**
 * Sanitising for older kernels (libbpf's rules): each missing feature removes
 * its kinds, keeps every id and struct size, and — checked with the running
 * kernel's own BTF verifier (BPF_BTF_LOAD) — still gives BTF a kernel
 * accepts.
 */
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { Btf, btfFromElf, encodeBtf, needsSanitizing, parseBtf, sanitizeBtf, type BtfFeatures, type Kind } from '../../src/btf/index.js';
import { IS_ROOT } from '../support/paths.js';
import { compileFixture, hasTool } from './support.js';

const vmlinux = parseBtf(readFileSync('/sys/kernel/btf/vmlinux'));

const cases: [keyof BtfFeatures, Kind[]][] = [
  ['datasec', ['datasec', 'var']],
  ['float', ['float']],
  ['declTag', ['decl_tag']],
  ['typeTag', ['type_tag']],
  ['enum64', ['enum64']],
  ['func', ['func', 'func_proto']],
];

const kinds = (b: Btf) => new Set([...b.types()].map((t) => t.kind));

describe('sanitizeBtf', () => {
  for (const [feature, gone] of cases) {
    it(`without ${feature}: no ${gone.join('/')} left, ids and sizes kept${feature === 'func' ? '' : ', the kernel loads it'}`, async () => {
      expect(needsSanitizing(vmlinux, { [feature]: false })).toBe(true);
      const s = sanitizeBtf(vmlinux, { [feature]: false });
      for (const k of gone) expect(kinds(s).has(k), k).toBe(false);
      expect(s.length).toBe(vmlinux.length + (feature === 'enum64' ? 1 : 0));
      for (const t of vmlinux.types()) {
        if (t.kind === 'struct' || t.kind === 'union' || t.kind === 'typedef' || t.kind === 'array') {
          let size: number | undefined;
          try {
            size = vmlinux.sizeOf(t.id);
          } catch {}
          if (size !== undefined) expect(s.sizeOf(t.id), `[${t.id}] ${t.name}`).toBe(size);
        }
      }
      if (IS_ROOT && feature !== 'func') {
        // anonymous FUNC_PROTO parameters would be enumerators without names, which today's kernel refuses
        const { loadBtf } = await import('../../src/kernel/btf-load.js');
        const k = loadBtf(encodeBtf(s));
        expect(k.id()).toBeGreaterThan(0);
        k.close();
      }
    });
  }

  it('global functions become static; "?" datasec names lose the "?"', () => {
    const { btf } = btfFromElf(readFileSync(compileFixture('btf_kinds')));
    const globals = [...btf.types()].filter((t) => t.kind === 'func' && t.linkage === 1);
    expect(globals.length).toBeGreaterThan(0);
    const s = sanitizeBtf(btf, { funcGlobal: false });
    for (const g of globals) expect(s.type(g.id)).toMatchObject({ kind: 'func', linkage: 0 });
    expect(sanitizeBtf(btf, {})).toBe(btf);
    const withQmark = Btf.fromTypes([
      { id: 1, kind: 'int', name: 'int', size: 4, encoding: 1, bitOffset: 0, bits: 32 },
      { id: 2, kind: 'var', name: 'x', type: 1, linkage: 1 },
      { id: 3, kind: 'datasec', name: '?.rodata.cst', size: 4, vars: [{ type: 2, offset: 0, size: 4 }] },
    ]);
    expect(sanitizeBtf(withQmark, { qmarkDatasec: false }).type(3).name).toBe('_.rodata.cst');
    const asStruct = sanitizeBtf(withQmark, { datasec: false });
    expect(asStruct.type(3)).toMatchObject({ kind: 'struct', name: '__rodata_cst', size: 4, members: [{ name: 'x', type: 2, bitOffset: 0 }] });
    expect(asStruct.type(2)).toMatchObject({ kind: 'int', name: 'x', size: 1 });
  });

  it.skipIf(!hasTool('clang-19'))('ENUM64 of an object becomes a union of placeholder ints', () => {
    const { btf } = btfFromElf(readFileSync(compileFixture('core_match', 'clang-19')));
    const e = [...btf.types()].find((t) => t.kind === 'enum64')!;
    const s = sanitizeBtf(btf, { enum64: false });
    const u = s.type(e.id);
    expect(u.kind).toBe('union');
    expect(s.sizeOf(e.id)).toBe(8);
    expect(s.type(s.length - 1)).toMatchObject({ kind: 'int', name: 'enum64_placeholder', size: 1 });
  });
});
