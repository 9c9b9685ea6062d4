/**
 * CO-RE pieces that the libbpf-oracle tests cannot reach on this machine:
 * flavor names, module BTF searched only when the main target has no
 * candidate (there are no module BTFs here, so one is built), and patching
 * rules for each instruction class.
 */
import { describe, expect, it } from 'vitest';
import {
  Btf,
  CoreResolver,
  CoreReloKind,
  POISON_IMM,
  essentialName,
  patchInstruction,
  type BtfType,
  type CoreResult,
} from '../../src/btf/index.js';
import type { Instruction } from '../../src/ebpf/insn.js';

const int: BtfType = { id: 1, kind: 'int', name: 'int', size: 4, encoding: 1, bitOffset: 0, bits: 32 };

describe('flavors', () => {
  it('the essential name ends before the last X___Y', () => {
    expect(essentialName('task_struct___old')).toBe('task_struct');
    expect(essentialName('a___b___c')).toBe('a___b');
    expect(essentialName('x____y')).toBe('x____y');
    expect(essentialName('___x')).toBe('___x');
    expect(essentialName('plain')).toBe('plain');
  });
});

describe('module BTF', () => {
  const local = Btf.fromTypes([
    int,
    { id: 2, kind: 'struct', name: 'mod_state___v1', size: 4, kindFlag: false, members: [{ name: 'count', type: 1, bitOffset: 0, bitfieldSize: 0 }] },
  ]);
  const vmlinux = Btf.fromTypes([int, { id: 2, kind: 'struct', name: 'other', size: 4, kindFlag: false, members: [] }]);
  const module = Btf.fromTypes(
    [{ id: 3, kind: 'struct', name: 'mod_state', size: 16, kindFlag: false, members: [{ name: 'pad', type: 1, bitOffset: 0, bitfieldSize: 0 }, { name: 'count', type: 1, bitOffset: 64, bitfieldSize: 0 }] }],
    { base: vmlinux },
  );
  const relo = { insnOff: 0, typeId: 2, accessStr: '0:0', kind: CoreReloKind.FIELD_BYTE_OFFSET };

  it('is searched when vmlinux has no candidate', () => {
    const r = new CoreResolver(local, vmlinux, { modules: [module] }).resolve(relo);
    expect([r.poison, r.newValue, r.matched[0]!.btf === module, r.matched[0]!.id]).toEqual([false, 8n, true, 3]);
  });

  it('is not searched when vmlinux has one, even if it does not match', () => {
    const withCand = Btf.fromTypes([int, { id: 2, kind: 'struct', name: 'mod_state', size: 4, kindFlag: false, members: [] }]);
    const r = new CoreResolver(local, withCand, { modules: [module] }).resolve(relo);
    expect(r.poison).toBe(true);
  });
});

describe('patching', () => {
  const res = (o: Partial<CoreResult>): CoreResult => ({
    kind: CoreReloKind.FIELD_BYTE_OFFSET,
    origValue: 8n,
    newValue: 24n,
    poison: false,
    validate: true,
    origSize: 0,
    newSize: 0,
    origTypeId: 0,
    newTypeId: 0,
    failMemSizeAdjust: false,
    localSpec: '',
    matched: [],
    ...o,
  });
  const ins = (code: number, off: number, imm: number): Instruction => ({ code, dst: 1, src: 0, off, imm });

  it('ALU immediates, load offsets (with resizing) and LDDW are patched after checking the old value', () => {
    const p = [ins(0x07, 0, 8)];
    expect(patchInstruction(p, 0, res({}))).toMatchObject({ action: 'imm', from: 8n, to: 24n });
    expect(p[0]!.imm).toBe(24);
    const l = [{ code: 0x79, dst: 1, src: 2, off: 8, imm: 0 }]; // r1 = *(u64 *)(r2 + 8)
    expect(patchInstruction(l, 0, res({ origSize: 8, newSize: 4 }))).toMatchObject({ action: 'off', resized: { from: 8, to: 4 } });
    expect(l[0]).toMatchObject({ code: 0x61, off: 24 });
    const d = [ins(0x18, 0, 8), { code: 0, dst: 0, src: 0, off: 0, imm: 0 }];
    d[0]!.dst = 1;
    patchInstruction(d, 0, res({ newValue: 0xfffffffffffffff0n }));
    expect([d[0]!.imm, d[1]!.imm]).toEqual([-16, -1]);
  });

  it('a mismatch with the compiled value is an error; poison replaces the instruction (both LDDW slots)', () => {
    expect(() => patchInstruction([ins(0x07, 0, 9)], 0, res({}))).toThrow(/insn #0: unexpected ALU immediate: got 9, expected 8/);
    expect(() => patchInstruction([ins(0x0f, 0, 8)], 0, res({}))).toThrow(/register source/);
    expect(() => patchInstruction([{ code: 0x79, dst: 1, src: 2, off: 8, imm: 0 }], 0, res({ newValue: 40000n }))).toThrow(/does not fit in 16 bits/);
    const d = [ins(0x18, 0, 8), { code: 0, dst: 0, src: 0, off: 0, imm: 0 }];
    patchInstruction(d, 0, res({ poison: true }));
    expect(d.map((x) => [x.code, x.imm])).toEqual([
      [0x85, POISON_IMM],
      [0x85, POISON_IMM],
    ]);
    const bad = [{ code: 0x79, dst: 1, src: 2, off: 8, imm: 0 }];
    expect(patchInstruction(bad, 0, res({ failMemSizeAdjust: true, origSize: 8, newSize: 4 })).action).toBe('poisoned');
    expect(() => patchInstruction([ins(0x95, 0, 0)], 0, res({}))).toThrow(/cannot relocate instruction with opcode 0x95/);
  });
});
