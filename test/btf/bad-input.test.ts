/**
 * Bad input: truncated, corrupted and adversarial BTF / BTF.ext give a
 * BtfError that names the section, type id or offset — never another
 * exception, never a hang. Every truncation of a real object's sections is
 * tried, then thousands of random mutations (fast-check), then hand-made
 * reference cycles and huge counts.
 */
import fc from 'fast-check';
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import {
  Btf,
  BtfError,
  CPrinter,
  CoreRelocationError,
  CoreResolver,
  CoreReloKind,
  btfFromElf,
  elfSections,
  encodeBtf,
  formatRaw,
  parseBtf,
  parseBtfExt,
  type BtfType,
} from '../../src/btf/index.js';
import { compileFixture } from './support.js';

const obj = readFileSync(compileFixture('btf_kinds'));
const secs = elfSections(obj);
/** A private copy (Buffer.slice would share memory). */
const copy = (u: Uint8Array): Uint8Array => new Uint8Array(u);
const dv = (u: Uint8Array) => new DataView(u.buffer, u.byteOffset, u.byteLength);
const BTF = copy(secs.get('.BTF')!.bytes);
const EXT = copy(secs.get('.BTF.ext')!.bytes);
const good = parseBtf(BTF);
const coreObj = readFileSync(compileFixture('core_local'));
const coreSecs = elfSections(coreObj);
const CORE_BTF = copy(coreSecs.get('.BTF')!.bytes);
const CORE_EXT = copy(coreSecs.get('.BTF.ext')!.bytes);
const target = btfFromElf(readFileSync(compileFixture('core_target'))).btf;

/** Run f; only a BtfError may escape. */
function onlyBtfErrors(f: () => void): 'ok' | 'error' {
  try {
    f();
    return 'ok';
  } catch (e) {
    if (e instanceof BtfError) return 'error';
    throw e;
  }
}

/** Everything a user can do with a parsed Btf: none of it may crash or hang. */
function exercise(btf: Btf): void {
  formatRaw(btf);
  for (let id = 1; id < btf.length; id++) {
    for (const f of [() => btf.sizeOf(id), () => btf.alignOf(id), () => btf.resolve(id), () => new CPrinter(btf, false).definition(id)]) {
      onlyBtfErrors(f);
    }
  }
  onlyBtfErrors(() => new CPrinter(btf).dump());
  const again = parseBtf(encodeBtf(btf));
  expect(formatRaw(again)).toBe(formatRaw(btf));
}

describe('truncation', () => {
  it('every prefix of a .BTF section is a BtfError naming .BTF and an offset', () => {
    for (let n = 0; n < BTF.length; n++) {
      let err: unknown;
      try {
        parseBtf(BTF.subarray(0, n));
      } catch (e) {
        err = e;
      }
      expect(err, `prefix ${n}`).toBeInstanceOf(BtfError);
      expect((err as BtfError).message).toMatch(/^\.BTF(, type \[\d+\])?, offset \d+: /);
    }
  });

  it('every prefix of a .BTF.ext section is a BtfError naming .BTF.ext', () => {
    for (let n = 0; n < EXT.length; n++) {
      let err: unknown;
      try {
        parseBtfExt(EXT.subarray(0, n), good);
      } catch (e) {
        err = e;
      }
      expect(err, `prefix ${n}`).toBeInstanceOf(BtfError);
      expect((err as BtfError).message).toMatch(/^\.BTF\.ext/);
    }
  });

  it('a type cut in the middle names its id and offset', () => {
    // shrink type_len by 4: the last type loses its tail
    const b = BTF.slice();
    const v = dv(b);
    v.setUint32(12, v.getUint32(12, true) - 4, true);
    expect(() => parseBtf(b)).toThrow(/type \[\d+\], offset \d+: truncated/);
  });
});

describe('random corruption (fast-check)', () => {
  const mutate = (base: Uint8Array) =>
    fc.array(fc.tuple(fc.nat(base.length - 1), fc.integer({ min: 0, max: 255 })), { minLength: 1, maxLength: 8 }).map((muts) => {
      const b = base.slice();
      for (const [i, x] of muts) b[i] = x;
      return b;
    });

  it('mutated .BTF: parses or fails with BtfError; what parses can be printed, sized and re-encoded', () => {
    let parsed = 0;
    fc.assert(
      fc.property(mutate(BTF), (b) => {
        let btf: Btf | undefined;
        if (onlyBtfErrors(() => (btf = parseBtf(b))) === 'ok') {
          parsed++;
          exercise(btf!);
        }
      }),
      { numRuns: 1500, seed: 5 },
    );
    expect(parsed).toBeGreaterThan(50);
  });

  it('mutated .BTF.ext: parses or fails with BtfError', () => {
    fc.assert(
      fc.property(mutate(EXT), (b) => {
        onlyBtfErrors(() => parseBtfExt(b, good));
      }),
      { numRuns: 1500, seed: 6 },
    );
  });

  it('mutated CO-RE objects: relocations resolve or fail with BtfError', () => {
    fc.assert(
      fc.property(mutate(CORE_BTF), mutate(CORE_EXT), (b, e) => {
        onlyBtfErrors(() => {
          const local = parseBtf(b);
          const ext = parseBtfExt(e, local);
          const r = new CoreResolver(local, target);
          for (const s of ext.coreRelos) for (const rec of s.records) onlyBtfErrors(() => r.resolve(rec));
        });
      }),
      { numRuns: 400, seed: 7 },
    );
  });
});

describe('adversarial graphs', () => {
  const int: BtfType = { id: 1, kind: 'int', name: 'int', size: 4, encoding: 1, bitOffset: 0, bits: 32 };

  it('typedef and qualifier cycles: lookups fail with BtfError, dumps do not hang', () => {
    const btf = new Btf([
      int,
      { id: 2, kind: 'typedef', name: 'a_t', type: 3 },
      { id: 3, kind: 'typedef', name: 'b_t', type: 4 },
      { id: 4, kind: 'const', name: '', type: 2 },
      { id: 5, kind: 'array', name: '', type: 6, indexType: 1, nelems: 2 },
      { id: 6, kind: 'array', name: '', type: 5, indexType: 1, nelems: 2 },
    ]);
    for (const id of [2, 3, 4, 5, 6]) {
      expect(() => btf.sizeOf(id)).toThrow(BtfError);
      expect(() => btf.alignOf(id)).toThrow(BtfError);
    }
    expect(() => btf.resolve(2)).toThrow(/cycle/);
    expect(formatRaw(btf)).toContain("[2] TYPEDEF 'a_t' type_id=3");
    expect(() => new CPrinter(btf).dump()).toThrow(BtfError);
    // and it survives an encode/parse round trip as data
    expect(formatRaw(parseBtf(encodeBtf(btf)))).toBe(formatRaw(btf));
  });

  it('a struct containing itself by value', () => {
    const btf = new Btf([
      int,
      { id: 2, kind: 'struct', name: 'loop', size: 8, kindFlag: false, members: [{ name: 'self', type: 2, bitOffset: 0, bitfieldSize: 0 }] },
    ]);
    expect(() => btf.alignOf(2)).toThrow(BtfError);
    expect(() => new CPrinter(btf).dump()).toThrow(/contains itself by value/);
  });

  it('deep nesting: legitimate depths work, absurd ones are BtfErrors, never a stack overflow', () => {
    const chain = (n: number) => {
      const types: BtfType[] = [int];
      for (let i = 0; i < n; i++) {
        types.push({ id: i + 2, kind: 'struct', name: `s${i}`, size: 4, kindFlag: false, members: [{ name: 'm', type: i === 0 ? 1 : i + 1, bitOffset: 0, bitfieldSize: 0 }] });
      }
      return new Btf(types);
    };
    const b100 = chain(100);
    expect(b100.alignOf(101)).toBe(4);
    expect(b100.sizeOf(101)).toBe(4);
    const deep = chain(5000);
    expect(() => deep.alignOf(5001)).toThrow(/nesting too deep/);
    expect(onlyBtfErrors(() => new CPrinter(deep).dump())).toBe('ok');
    // anonymous structs nested 20,000 deep are printed inline: too deep to print
    const anon: BtfType[] = [int];
    for (let i = 0; i < 20000; i++) {
      anon.push({ id: i + 2, kind: 'struct', name: i === 19999 ? 'top' : '', size: 4, kindFlag: false, members: [{ name: 'm', type: i === 0 ? 1 : i + 1, bitOffset: 0, bitfieldSize: 0 }] });
    }
    expect(() => new CPrinter(new Btf(anon)).dump()).toThrow(BtfError);
  });

  it('pointer cycles are fine', () => {
    const btf = Btf.fromTypes([
      { id: 1, kind: 'struct', name: 'node', size: 8, kindFlag: false, members: [{ name: 'next', type: 2, bitOffset: 0, bitfieldSize: 0 }] },
      { id: 2, kind: 'ptr', name: '', type: 1 },
    ]);
    expect(btf.sizeOf(1)).toBe(8);
    expect(new CPrinter(btf).dump({ header: false })).toBe('struct node {\n\tstruct node *next;\n};\n\n');
  });

  it('self references and references past the end are rejected at parse time', () => {
    const self = encodeBtf(new Btf([int, { id: 2, kind: 'ptr', name: '', type: 1 }]));
    dv(self).setUint32(24 + 16 + 8, 2, true); // PTR [2] -> [2]
    expect(() => parseBtf(self)).toThrow(/type \[2\], offset \d+: PTR refers to itself/);
    const past = encodeBtf(new Btf([int, { id: 2, kind: 'ptr', name: '', type: 1 }]));
    dv(past).setUint32(24 + 16 + 8, 99, true);
    expect(() => parseBtf(past)).toThrow(/type \[2\].*refers to type id 99/);
    expect(() => Btf.fromTypes([{ id: 1, kind: 'func', name: 'f', type: 0, linkage: 0 }])).toThrow(/FUNC type 0 is VOID/);
  });

  it('huge counts are bounded by the bytes present', () => {
    const b = BTF.slice();
    const v = dv(b);
    v.setUint32(12, 0xfffffff0, true); // type_len
    expect(() => parseBtf(b)).toThrow(/type section .* runs past the end/);
    // a struct claiming 65535 members
    const s = encodeBtf(new Btf([int, { id: 2, kind: 'struct', name: 's', size: 4, kindFlag: false, members: [{ name: 'x', type: 1, bitOffset: 0, bitfieldSize: 0 }] }]));
    const sv = dv(s);
    const info = 24 + 16 + 4;
    sv.setUint32(info, (sv.getUint32(info, true) & ~0xffff) | 0xffff, true);
    expect(() => parseBtf(s)).toThrow(/type \[2\], offset \d+: truncated STRUCT data/);
    // .BTF.ext claiming 2^31 records
    const e = EXT.slice();
    const ev = dv(e);
    const fiOff = ev.getUint32(4, true) + ev.getUint32(8, true);
    ev.setUint32(fiOff + 4 + 4, 0x7fffffff, true);
    expect(() => parseBtfExt(e, good)).toThrow(/\.BTF\.ext func_info, offset \d+: section .* claims 2147483647 records/);
  });

  it('bad magic, version and header length', () => {
    expect(() => parseBtf(new Uint8Array(24))).toThrow(/bad magic 0x0000/);
    const b = BTF.slice();
    b[2] = 2;
    expect(() => parseBtf(b)).toThrow(/unsupported version 2/);
    const c = BTF.slice();
    dv(c).setUint32(4, 9999, true);
    expect(() => parseBtf(c)).toThrow(/bad header length 9999/);
  });
});

describe('CO-RE failures', () => {
  const { btf: local, ext } = btfFromElf(coreObj);
  const relo = ext!.coreRelos[0]!.records[0]!;

  it('a bad access string names the relocation and type', () => {
    const r = new CoreResolver(local, target);
    expect(() => r.resolve({ ...relo, accessStr: '0:99' }, { program: 'p', index: 3 })).toThrow(CoreRelocationError);
    expect(() => r.resolve({ ...relo, accessStr: '0:99' }, { program: 'p', index: 3 })).toThrow(
      /^\.BTF\.ext core_relo, type \[\d+\]: program 'p' CO-RE relocation #3 at insn #\d+: byte_off relocation for \[\d+\] with access string '0:99': member index 99 out of range/,
    );
    expect(() => r.resolve({ ...relo, accessStr: 'x' })).toThrow(/'x' is not an index/);
    expect(() => r.resolve({ ...relo, accessStr: '1', kind: CoreReloKind.TYPE_SIZE })).toThrow(/need access string "0"/);
  });

  it('anonymous local types cannot be relocated', () => {
    const anon = [...target.types()].find((t) => t.kind === 'struct' && t.name === '')!;
    expect(anon).toBeDefined();
    expect(() => new CoreResolver(target, target).resolve({ insnOff: 0, typeId: anon.id, accessStr: '0:0', kind: CoreReloKind.FIELD_BYTE_OFFSET })).toThrow(
      /anonymous types/,
    );
  });

  it('a type missing from the target poisons (or yields 0 for existence checks), it is not an error', () => {
    const missing = local.get('missing', 'struct');
    const r = new CoreResolver(local, target);
    expect(r.resolve({ insnOff: 0, typeId: missing.id, accessStr: '0:0', kind: CoreReloKind.FIELD_BYTE_OFFSET }).poison).toBe(true);
    const ex = r.resolve({ insnOff: 0, typeId: missing.id, accessStr: '0:0', kind: CoreReloKind.FIELD_EXISTS });
    expect([ex.poison, ex.newValue]).toEqual([false, 0n]);
  });
});

describe('ELF section reader', () => {
  it('corrupt ELF headers give BtfError (EBTF_ELF)', () => {
    for (const n of [3, 10, 63, 64, 200]) {
      const e = onlyBtfErrors(() => elfSections(obj.subarray(0, n)));
      expect(e).toBe('error');
    }
    const b = copy(obj);
    dv(b).setBigUint64(0x28, 1n << 40n, true);
    let err: unknown;
    try {
      elfSections(b);
    } catch (x) {
      err = x;
    }
    expect(err).toBeInstanceOf(BtfError);
    expect((err as BtfError).code).toBe('EBTF_ELF');
  });
});
