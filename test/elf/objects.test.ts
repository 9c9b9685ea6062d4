/**
 * Whole objects: legacy `maps` against their BTF-defined equivalent (which the
 * kernel loads through libbpf), big-endian objects against little-endian
 * ones, determinism, typed global variables, and bpftool's own view of the
 * loaded object (prog loadall into a private bpffs).
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { UsageError } from '../../src/errors.js';
import { MapType } from '../../src/ebpf/types.js';
import { ElfFile, loadCollectionSpec } from '../../src/elf/index.js';
import { expectSameMaps, expectSamePrograms } from './compare.js';
import { compileFixture, HAVE_BPFTOOL, HAVE_CLANG, IS_ROOT, runOracle } from './support.js';

describe.skipIf(!HAVE_CLANG)('objects', () => {
  it('legacy maps section gives the same collection as BTF-defined maps (which libbpf and the kernel load)', () => {
    const legacy = loadCollectionSpec(compileFixture('legacy', { variant: 'legacy', flags: ['-DLEGACY'] }));
    const btfObj = compileFixture('legacy');
    const modern = loadCollectionSpec(btfObj);
    if (IS_ROOT) {
      const o = runOracle(btfObj);
      expect(o.loaded).toBe(true);
      expectSameMaps(modern, o);
      expectSamePrograms(modern, o);
    }
    expect(legacy.programs.count_lengths!.instructions).toEqual(modern.programs.count_lengths!.instructions);
    expect(legacy.programs.count_lengths!.references).toEqual(modern.programs.count_lengths!.references);
    for (const name of ['lengths', 'totals']) {
      const { btfKeyTypeId: _k, btfValueTypeId: _v, ...rest } = modern.maps[name]!;
      expect(legacy.maps[name]).toEqual(rest);
    }
    expect(legacy.maps.lengths).toMatchObject({ type: MapType.HASH, keySize: 4, valueSize: 8, maxEntries: 32, flags: 1 });
    expect(legacy.kernelVersion).toBe(0x050f00);
    expect(legacy.programs.count_lengths!.kernelVersion).toBe(0x050f00);
    expect(legacy.license).toBe('Dual BSD/GPL');
  });

  it('big-endian objects (clang -target bpfeb) give the same collection', () => {
    const le = loadCollectionSpec(compileFixture('net'));
    const beObj = compileFixture('net', { variant: 'eb', target: 'bpfeb' });
    expect(ElfFile.parse(readFileSync(beObj)).littleEndian).toBe(false);
    const be = loadCollectionSpec(beObj);
    expect(Object.keys(be.programs)).toEqual(Object.keys(le.programs));
    for (const name of Object.keys(le.programs)) {
      if (name === 'xdp_count') continue; // bpf_ntohs() is a no-op on big-endian: different code
      expect(be.programs[name]!.instructions, name).toEqual(le.programs[name]!.instructions);
      expect(be.programs[name]!.references, name).toEqual(le.programs[name]!.references);
    }
    for (const [name, m] of Object.entries(le.maps)) {
      const { data: _d, contents: _c, ...rest } = m;
      const { data: _d2, contents: _c2, ...rest2 } = be.maps[name]!;
      expect(rest2, name).toEqual(rest);
    }
    for (const [name, v] of Object.entries(le.variables)) expect(be.variables[name]!.get(), name).toEqual(v.get());
    expect(Buffer.from(be.maps['.data']!.data!.subarray(0, 8)).toString('hex')).toBe('0000000000000007');
  });

  it('is deterministic', () => {
    const obj = readFileSync(compileFixture('net'));
    const a = loadCollectionSpec(obj);
    const b = loadCollectionSpec(obj.slice());
    expect(JSON.stringify(a.programs)).toBe(JSON.stringify(b.programs));
    expect(Object.keys(a.maps)).toEqual(Object.keys(b.maps));
    expect(a.btf).toEqual(b.btf);
  });

  it('global variables are typed and settable before load', () => {
    const spec = loadCollectionSpec(compileFixture('net'));
    const v = spec.variables;
    expect(Object.keys(v).sort()).toEqual(['custom_data', 'custom_ro', 'greeting', 'last_len', 'min_len', 'packets_seen', 'sock_all.____fmt', 'sock_all.calls', 'verdict_drop']);
    expect(v['sock_all.____fmt']!.get()).toBe('sock_all %u');
    expect(v.min_len!.get()).toBe(14);
    expect(v.min_len!.readOnlyForPrograms).toBe(true);
    v.min_len!.set(60);
    expect(Buffer.from(spec.maps['.rodata']!.data!.subarray(0, 4)).toString('hex')).toBe('3c000000');
    v.packets_seen!.set(2n ** 40n);
    expect(v.packets_seen!.get()).toBe(2n ** 40n);
    v.greeting!.set('bye');
    expect(v.greeting!.get()).toBe('bye');
    expect(Buffer.from(spec.maps['.data']!.data!.subarray(8, 16)).toString('hex')).toBe('6279650000000000');
    v.last_len!.set(5); // .bss
    expect(spec.maps['.bss']!.data![0]).toBe(5);
    expect(() => v.verdict_drop!.set(256)).toThrow(UsageError);
    expect(() => v.min_len!.set(-1)).toThrow(/does not fit/);
    expect(() => v.greeting!.set('x'.repeat(17))).toThrow(/does not fit/);
    expect(() => v.custom_ro!.set(new Uint8Array(3))).toThrow(/needs 2 bytes/);
    // The program reads it through a map-value reference at the variable's offset.
    const ref = spec.programs.xdp_count!.references.find((r) => r.kind === 'mapValue' && r.map === '.rodata');
    expect(ref).toMatchObject({ offset: v.verdict_drop!.offset });
  });

  // (net.bpf.c is left out: bpftool would auto-pin its LIBBPF_PIN_BY_NAME map under /sys/fs/bpf.)
  it.skipIf(!IS_ROOT || !HAVE_BPFTOOL).each(['legacy', 'core', 'externs'])('bpftool prog loadall agrees on programs and maps (%s.bpf.c)', (fixture) => {
    const obj = compileFixture(fixture);
    const spec = loadCollectionSpec(obj);
    const dir = mkdtempSync(join(tmpdir(), 'bpfkit-elf-loadall-')); // no '.' in the path: libbpf rewrites it in pin paths
    execFileSync('mount', ['-t', 'bpf', 'bpf', dir]);
    try {
      execFileSync('bpftool', ['prog', 'loadall', obj, join(dir, 'progs'), 'pinmaps', join(dir, 'maps')]);
      for (const [name, p] of Object.entries(spec.programs)) {
        const info = JSON.parse(execFileSync('bpftool', ['-j', 'prog', 'show', 'pinned', join(dir, 'progs', name)], { encoding: 'utf8' }));
        expect(info.name, name).toBe(name.slice(0, 15));
        const mapNames = (info.map_ids as number[]).map((id) => JSON.parse(execFileSync('bpftool', ['-j', 'map', 'show', 'id', String(id)], { encoding: 'utf8' })).name as string);
        const ours = new Set(p.references.filter((r) => r.kind === 'map' || r.kind === 'mapValue').map((r) => (r as { map: string }).map));
        expect(mapNames.length, `${name} uses ${[...ours].join(',')}`).toBe(ours.size);
      }
      if (fixture === 'core') {
        // The libbpf-loaded copy, as the kernel translated it: every CO-RE field offset and size
        // bpfkit computed (the `rX = imm` before each bpf_probe_read_kernel) is in the xlated code too.
        const xlated = execFileSync('bpftool', ['prog', 'dump', 'xlated', 'pinned', join(dir, 'progs', 'read_task')], { encoding: 'utf8' });
        const theirs = new Set([...xlated.matchAll(/\(b7\) r\d+ = (-?\d+)$/gm)].map((m) => Number(m[1])));
        const ours = spec.programs.read_task!.instructions.filter((i) => i.code === 0xb7).map((i) => i.imm);
        expect(ours.length).toBeGreaterThan(10);
        for (const imm of ours) expect(theirs.has(imm), `r = ${imm} in bpftool's xlated dump`).toBe(true);
      }
      for (const [name, m] of Object.entries(spec.maps)) {
        if (name.startsWith('.')) continue; // internal maps are pinned under libbpf's own names
        const info = JSON.parse(execFileSync('bpftool', ['-j', 'map', 'show', 'pinned', join(dir, 'maps', name)], { encoding: 'utf8' }));
        expect([info.bytes_key, info.bytes_value, info.max_entries, info.flags], name).toEqual([m.keySize, m.valueSize, m.maxEntries, m.flags]);
      }
    } finally {
      spawnSync('umount', [dir]);
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
