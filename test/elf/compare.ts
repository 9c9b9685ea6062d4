/**
 * Comparing bpfkit's CollectionSpec with what libbpf and the kernel made of
 * the same object (see support.ts runOracle): maps, programs and instruction
 * streams, map fds compared by map name.
 */
import { expect } from 'vitest';
import type { Instruction } from '../../src/ebpf/insn.js';
import { PseudoLd } from '../../src/ebpf/opcodes.js';
import type { ProgramSpec } from '../../src/ebpf/spec.js';
import type { ElfCollectionSpec } from '../../src/elf/index.js';
import { formatRaw } from '../../src/btf/format-raw.js';
import { parseBtf } from '../../src/btf/parse.js';
import { matchesMapName, oracleInsns, type OracleResult } from './support.js';

/** Compare our program with libbpf's final instructions; map fds become names. */
export function expectSameInsns(ours: ProgramSpec, theirs: Instruction[], o: OracleResult): void {
  const byFd = new Map(o.maps.map((m) => [m.fd, m]));
  expect(ours.instructions.length, `${ours.name}: instruction count`).toBe(theirs.length);
  for (let i = 0; i < theirs.length; i++) {
    const a = ours.instructions[i]!;
    const b = theirs[i]!;
    if (b.code === 0x18 && (b.src === PseudoLd.MAP_FD || b.src === PseudoLd.MAP_VALUE)) {
      const ref = ours.references.find((r) => r.index === i);
      const m = byFd.get(b.imm);
      expect(ref, `${ours.name} insn ${i}: a map reference`).toBeDefined();
      expect(m, `${ours.name} insn ${i}: libbpf fd ${b.imm}`).toBeDefined();
      expect(matchesMapName((ref as { map: string }).map, m!), `${ours.name} insn ${i}: ${(ref as { map: string }).map} vs ${m!.name}`).toBe(true);
      expect({ ...a, imm: 0 }, `${ours.name} insn ${i}`).toEqual({ ...b, imm: 0 });
      continue;
    }
    expect(a, `${ours.name} insn ${i}`).toEqual(b);
  }
}

export function expectSameMaps(spec: ElfCollectionSpec, o: OracleResult): void {
  const ours = Object.values(spec.maps);
  expect(ours.length).toBe(o.maps.length);
  for (const m of o.maps) {
    const s = ours.find((x) => matchesMapName(x.name, m));
    expect(s, `map ${m.name}`).toBeDefined();
    const got = {
      type: s!.type,
      key_size: s!.keySize,
      value_size: s!.valueSize,
      max_entries: s!.maxEntries,
      map_flags: s!.flags,
      numa_node: s!.numaNode ?? 0,
      map_extra: Number(s!.mapExtra ?? 0n),
      btf_key_type_id: s!.btfKeyTypeId ?? 0,
      btf_value_type_id: s!.btfValueTypeId ?? 0,
    };
    const want = {
      type: m.type,
      key_size: m.key_size,
      value_size: m.value_size,
      max_entries: m.max_entries,
      map_flags: m.map_flags,
      numa_node: m.numa_node,
      map_extra: m.map_extra,
      btf_key_type_id: m.btf_key_type_id,
      btf_value_type_id: m.btf_value_type_id,
    };
    expect(got, `map ${m.name}`).toEqual(want);
    if (m.kernel) {
      // And the kernel agrees with both.
      expect([m.kernel.type, m.kernel.key_size, m.kernel.value_size, m.kernel.max_entries, m.kernel.map_flags], `kernel map ${m.name}`).toEqual([
        s!.type,
        s!.keySize,
        s!.valueSize,
        s!.maxEntries,
        s!.flags,
      ]);
    }
    if (m.initial !== undefined && s!.data) expect(Buffer.from(s!.data).toString('hex'), `initial value of ${m.name}`).toBe(m.initial);
  }
}

export function expectSamePrograms(spec: ElfCollectionSpec, o: OracleResult, opts: { exactLineInfo?: boolean } = {}): void {
  expect(Object.keys(spec.programs).sort()).toEqual(o.progs.map((p) => p.name).sort());
  for (const p of o.progs) {
    const s = spec.programs[p.name]!;
    expect([s.type, s.attachType ?? 0, s.section], `program ${p.name}`).toEqual([p.type, p.expected_attach_type, p.section]);
    if (o.loaded) {
      expect(p.kernel?.type, `kernel type of ${p.name}`).toBe(s.type);
      // BTF func_info as the kernel accepted it: one per function placed. line_info: the verifier drops the
      // records of code it removes as dead (e.g. behind a false .kconfig test), so it keeps at most ours.
      expect(p.kernel?.nr_func_info, `func_info of ${p.name}`).toBe(s.funcInfo?.length ?? 0);
      expect(p.kernel?.nr_line_info, `line_info of ${p.name}`).toBeLessThanOrEqual(s.lineInfo?.length ?? 0);
      if (opts.exactLineInfo) expect(p.kernel?.nr_line_info, `line_info of ${p.name}`).toBe(s.lineInfo?.length ?? 0);
      expectSameInsns(s, oracleInsns(p), o);
    }
  }
}

/** Our collection BTF, type by type, is the one libbpf prepared for the kernel (strings may be laid out differently). */
export function expectSameBtf(spec: ElfCollectionSpec, o: OracleResult): void {
  expect(spec.btf, 'the collection has BTF').toBeDefined();
  const ours = formatRaw(parseBtf(spec.btf!)).split('\n');
  const theirs = formatRaw(parseBtf(Buffer.from(o.btf, 'hex'))).split('\n');
  expect(ours.length).toBe(theirs.length);
  ours.forEach((line, i) => expect(line).toBe(theirs[i]));
}
