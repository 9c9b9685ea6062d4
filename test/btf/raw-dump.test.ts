/**
 * Parsing and the raw dump, with bpftool as the reference: `bpftool btf dump
 * file X` and our formatRaw must agree line for line, for the running
 * kernel's BTF and for every clang-compiled fixture (both byte orders).
 * Round trip: parse → encode → parse gives the same dump, bpftool reads our
 * encoding identically, and the kernel accepts it (BPF_BTF_LOAD).
 */
import { execFileSync } from 'node:child_process';
import { readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { Btf, btfFromElf, encodeBtf, formatRaw, parseBtf, type BtfType } from '../../src/btf/index.js';
import { IS_ROOT } from '../support/paths.js';
import { FIXTURES, OUT, compileFixture, hasTool } from './support.js';

const VMLINUX = '/sys/kernel/btf/vmlinux';

function bpftoolDump(file: string, base?: string): string {
  const args = base ? ['btf', 'dump', '-B', base, 'file', file] : ['btf', 'dump', 'file', file];
  return execFileSync('bpftool', args, { encoding: 'utf8', maxBuffer: 1 << 28 });
}

/** First differing line, for a readable failure. */
function firstDiff(a: string, b: string): string | undefined {
  const x = a.split('\n');
  const y = b.split('\n');
  for (let i = 0; i < Math.max(x.length, y.length); i++) {
    if (x[i] !== y[i]) return `line ${i + 1}:\n  bpftool: ${x[i]}\n  bpfkit:  ${y[i]}`;
  }
  return undefined;
}

const fixtures = readdirSync(FIXTURES)
  .filter((f) => f.endsWith('.bpf.c'))
  .map((f) => f.replace(/\.bpf\.c$/, ''));

describe('raw dump agrees with bpftool line for line', () => {
  it('/sys/kernel/btf/vmlinux (every line)', () => {
    const want = bpftoolDump(VMLINUX);
    const btf = parseBtf(readFileSync(VMLINUX));
    expect(btf.length).toBeGreaterThan(10_000);
    const got = formatRaw(btf);
    expect(firstDiff(want, got)).toBeUndefined();
    expect(got.length).toBe(want.length);
    // the same text from type objects (the path for BTF built in memory)
    const built = new Btf(btf.ownTypes() as BtfType[]);
    expect(built.source).toBeUndefined();
    expect(firstDiff(want, formatRaw(built))).toBeUndefined();
  });

  for (const name of fixtures) {
    const compilers = name === 'core_match' ? (hasTool('clang-19') ? ['clang-19'] : []) : ['clang', ...(hasTool('clang-19') ? ['clang-19'] : [])];
    for (const cc of compilers) {
      it(`${name}.bpf.c (${cc})`, () => {
        const obj = compileFixture(name, cc);
        const got = formatRaw(btfFromElf(readFileSync(obj)).btf);
        expect(firstDiff(bpftoolDump(obj), got)).toBeUndefined();
      });
    }
  }

  it('big-endian objects (clang -target bpfeb) parse to the same dump as bpftool', () => {
    for (const name of ['core_task', 'core_fields', 'btf_kinds']) {
      const src = join(FIXTURES, `${name}.bpf.c`);
      const obj = join(OUT, `${name}.bpfeb.o`);
      execFileSync('clang', ['-g', '-O2', '-target', 'bpfeb', '-I/usr/include/x86_64-linux-gnu', '-c', src, '-o', obj]);
      const { btf, ext } = btfFromElf(readFileSync(obj));
      expect(btf.littleEndian).toBe(false);
      expect(ext?.littleEndian).toBe(false);
      expect(firstDiff(bpftoolDump(obj), formatRaw(btf))).toBeUndefined();
    }
  });
});

describe('encode round trip', () => {
  it('vmlinux: parse → encode → parse is the same, in both byte orders, and bpftool reads our bytes identically', () => {
    const raw = readFileSync(VMLINUX);
    const btf = parseBtf(raw);
    const want = formatRaw(btf);
    for (const le of [true, false]) {
      const enc = encodeBtf(btf, { littleEndian: le });
      const again = parseBtf(enc);
      expect(again.littleEndian).toBe(le);
      expect(formatRaw(again) === want).toBe(true);
      const file = join(OUT, `vmlinux.${le ? 'le' : 'be'}.btf`);
      writeFileSync(file, enc);
      expect(firstDiff(want, bpftoolDump(file))).toBeUndefined();
    }
    // same string content, so the encoding is no bigger than the kernel's
    expect(encodeBtf(btf).length).toBeLessThanOrEqual(raw.length);
  });

  it('fixtures: every kind survives parse → encode → parse', () => {
    for (const name of fixtures) {
      const cc = name === 'core_match' ? 'clang-19' : 'clang';
      if (!hasTool(cc)) continue;
      const btf = btfFromElf(readFileSync(compileFixture(name, cc))).btf;
      const again = parseBtf(encodeBtf(btf));
      expect(formatRaw(again)).toBe(formatRaw(btf));
      expect([...again.types()]).toEqual([...btf.types()]);
    }
  });

  it('every kind is covered by the fixtures', () => {
    const kinds = new Set<string>();
    for (const name of fixtures) {
      const cc = name === 'core_match' ? 'clang-19' : 'clang';
      if (!hasTool(cc)) continue;
      for (const t of btfFromElf(readFileSync(compileFixture(name, cc))).btf.types()) kinds.add(t.kind);
    }
    for (const t of parseBtf(readFileSync(VMLINUX)).types()) kinds.add(t.kind);
    expect([...kinds].sort()).toEqual(
      ['array', 'const', 'datasec', 'decl_tag', 'enum', 'enum64', 'float', 'func', 'func_proto', 'fwd', 'int', 'ptr', 'restrict', 'struct', 'type_tag', 'typedef', 'union', 'var', 'volatile'].sort(),
    );
  });

  it.skipIf(!IS_ROOT)('the kernel accepts our encoding of vmlinux (BPF_BTF_LOAD) and rejects a corrupted one', async () => {
    const { loadBtf } = await import('../../src/kernel/btf-load.js');
    const btf = parseBtf(readFileSync(VMLINUX));
    const k = loadBtf(encodeBtf(btf));
    expect(k.id()).toBeGreaterThan(0);
    k.close();
    // a struct member pointing past the last type
    const t = btf.get('list_head', 'struct');
    const broken = new Btf(
      btf.ownTypes().map((x) => (x.id === t.id ? { ...t, members: [{ ...t.members[0]!, type: btf.length + 5 }] } : x)) as BtfType[],
    );
    expect(() => loadBtf(encodeBtf(broken))).toThrow(/type_id|Invalid|member/i);
  });

  it('split BTF on vmlinux: our encoding is read by bpftool -B with the same dump', () => {
    const base = parseBtf(readFileSync(VMLINUX));
    const task = base.get('task_struct', 'struct');
    const u32 = base.get('u32', 'typedef');
    const first = base.length;
    const types: BtfType[] = [
      { id: first, kind: 'ptr', name: '', type: task.id },
      {
        id: first + 1,
        kind: 'struct',
        name: 'bpfkit_mod_state',
        size: 16,
        kindFlag: true,
        members: [
          { name: 'owner', type: first, bitOffset: 0, bitfieldSize: 0 },
          { name: 'flags', type: u32.id, bitOffset: 64, bitfieldSize: 3 },
          { name: 'count', type: u32.id, bitOffset: 96, bitfieldSize: 0 },
        ],
      },
      { id: first + 2, kind: 'typedef', name: 'bpfkit_mod_state_t', type: first + 1 },
    ];
    const split = Btf.fromTypes(types, { base });
    const enc = encodeBtf(split);
    const file = join(OUT, 'split.btf');
    writeFileSync(file, enc);
    const again = parseBtf(enc, { base });
    expect(again.firstId).toBe(first);
    expect(again.get('bpfkit_mod_state_t', 'typedef').id).toBe(first + 2);
    expect(again.sizeOf(first + 2)).toBe(16);
    expect(firstDiff(bpftoolDump(file, VMLINUX), formatRaw(again))).toBeUndefined();
  });
});

describe('lookups', () => {
  const btf = parseBtf(readFileSync(VMLINUX));
  const dump = bpftoolDump(VMLINUX);

  it('by id, name and kind agree with the dump', () => {
    const lines = dump.split('\n').filter((l) => l.startsWith('['));
    expect(lines.length).toBe(btf.length - 1);
    for (const l of lines.filter((_, i) => i % 97 === 0)) {
      const m = /^\[(\d+)\] (\w+) '([^']*)'/.exec(l)!;
      const t = btf.type(Number(m[1]));
      expect(t.kind.toUpperCase()).toBe(m[2]);
      expect(t.name || '(anon)').toBe(m[3]);
      if (t.name) expect(btf.byName(t.name, t.kind).map((x) => x.id)).toContain(t.id);
    }
    expect(btf.find('no_such_type_anywhere')).toBeUndefined();
    expect(() => btf.get('task_struct', 'union')).toThrow(/no union named 'task_struct'/);
    expect(() => btf.type(btf.length)).toThrow(/no such type id/);
  });

  it('resolve skips typedefs and qualifiers; sizes follow arrays and pointers', () => {
    const u32 = btf.get('u32', 'typedef');
    expect(btf.resolve(u32.id)).toMatchObject({ kind: 'int', name: 'unsigned int', size: 4 });
    const task = btf.get('task_struct', 'struct');
    const comm = btf.member(task.id, 'comm')!;
    expect(btf.sizeOf(comm.type)).toBe(16);
    const mm = btf.member(task.id, 'mm')!;
    expect(btf.sizeOf(mm.type)).toBe(8);
    // libbpf's btf__align_of: the largest member alignment (pointers: 8)
    expect(btf.alignOf(task.id)).toBe(8);
    expect(btf.alignOf(comm.type)).toBe(1);
    const fn = btf.byName('bpf_map_lookup_elem', 'func')[0]!;
    expect(() => btf.sizeOf(fn.id)).toThrow(/FUNC .* has no size/);
    // anonymous members are searched the way C does
    const skb = btf.get('sk_buff', 'struct');
    const next = btf.field(skb.id, 'next')!;
    expect(next.bitOffset).toBe(0);
    expect(next.path.length).toBeGreaterThan(1);
    expect(btf.field(skb.id, 'len')!.bitOffset).toBe(btf.member(skb.id, 'len')!.bitOffset);
  });
});

describe('names', () => {
  it('non-ASCII (UTF-8) names survive parse, lookups, encode and both raw printers', () => {
    const btf = Btf.fromTypes([
      { id: 1, kind: 'int', name: 'int', size: 4, encoding: 1, bitOffset: 0, bits: 32 },
      { id: 2, kind: 'typedef', name: 'café_t', type: 1 },
      { id: 3, kind: 'struct', name: 'naïve', size: 4, kindFlag: false, members: [{ name: 'ünï', type: 2, bitOffset: 0, bitfieldSize: 0 }] },
    ]);
    const parsed = parseBtf(encodeBtf(btf));
    expect(parsed.source).toBeDefined();
    expect(parsed.get('naïve', 'struct').members[0]!.name).toBe('ünï');
    expect(parsed.resolve(parsed.get('café_t', 'typedef').id).name).toBe('int');
    expect(formatRaw(parsed)).toBe(formatRaw(btf));
    expect(formatRaw(parsed)).toContain("[3] STRUCT 'naïve' size=4 vlen=1\n\t'ünï' type_id=2 bits_offset=0\n");
  });
});
