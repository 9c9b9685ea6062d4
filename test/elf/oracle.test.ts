/**
 * The kernel (through libbpf) is the oracle: each fixture is opened and loaded
 * by the system's libbpf into the running kernel, and bpfkit's CollectionSpec
 * must give the same programs (type, expected attach type), the same maps
 * (libbpf's definitions and the kernel's view) and the same instruction
 * streams after relocation, modulo map fds (compared by map name).
 */
import { describe, expect, it } from 'vitest';
import type { Instruction } from '../../src/ebpf/insn.js';
import { PseudoLd } from '../../src/ebpf/opcodes.js';
import type { ProgramSpec } from '../../src/ebpf/spec.js';
import { loadCollectionSpec, type ElfCollectionSpec } from '../../src/elf/index.js';
import { execFileSync } from 'node:child_process';
import { compileFixture, HAVE_BPFTOOL, HAVE_CLANG, IS_ROOT, matchesMapName, oracleInsns, runOracle, type OracleResult } from './support.js';

const ready = HAVE_CLANG && IS_ROOT;

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

export function expectSamePrograms(spec: ElfCollectionSpec, o: OracleResult): void {
  expect(Object.keys(spec.programs).sort()).toEqual(o.progs.map((p) => p.name).sort());
  for (const p of o.progs) {
    const s = spec.programs[p.name]!;
    expect([s.type, s.attachType ?? 0, s.section], `program ${p.name}`).toEqual([p.type, p.expected_attach_type, p.section]);
    if (o.loaded) {
      expect(p.kernel?.type, `kernel type of ${p.name}`).toBe(s.type);
      expectSameInsns(s, oracleInsns(p), o);
    }
  }
}

describe.skipIf(!ready)('libbpf + kernel oracle', () => {
  it('net.bpf.c: maps of every kind, globals, bpf-to-bpf calls, callbacks, prog array and map-in-map initialisers', () => {
    const obj = compileFixture('net');
    const o = runOracle(obj);
    expect(o.loaded, 'the kernel loads the fixture').toBe(true);
    const spec = loadCollectionSpec(obj);
    expect(spec.warnings).toEqual([]);
    expectSameMaps(spec, o);
    expectSamePrograms(spec, o);
    expect(spec.maps.outer!.contents!.map((c) => c.value)).toEqual([{ map: 'inner_a' }, { map: 'inner_b' }]);
    expect(spec.maps.jump!.contents!.map((c) => c.value)).toEqual([{ program: 'tail_target' }]);
    expect(spec.maps.pinned_counter!.pinning).toBe('byName');
  });

  it.skipIf(!HAVE_BPFTOOL)('core.bpf.c: CO-RE against /sys/kernel/btf/vmlinux gives libbpf\'s instructions and bpftool\'s offsets', () => {
    const obj = compileFixture('core');
    const o = runOracle(obj);
    expect(o.loaded, 'the kernel loads the fixture').toBe(true);
    const spec = loadCollectionSpec(obj);
    expectSameMaps(spec, o);
    expectSamePrograms(spec, o);
    // Exactly one relocation cannot be satisfied (the missing field read), and it is poisoned like libbpf.
    expect(spec.warnings.length).toBe(1);
    expect(spec.warnings[0]).toMatch(/bpfkit_no_such_field.*poisoned/);

    // Independent facts from bpftool's dump of the kernel BTF.
    const raw = execFileSync('bpftool', ['btf', 'dump', 'file', '/sys/kernel/btf/vmlinux'], { encoding: 'utf8', maxBuffer: 1 << 28 });
    const member = (struct: string, name: string): number => {
      const start = raw.indexOf(`] STRUCT '${struct}' size=`);
      const end = raw.indexOf('\n[', start + 1);
      const m = new RegExp(`'${name}' type_id=\\d+ bits_offset=(\\d+)`).exec(raw.slice(start, end));
      if (!m) throw new Error(`no member ${struct}.${name} in bpftool's dump`);
      return Number(m[1]) / 8;
    };
    // BPF_CORE_READ materialises each field offset as an ALU immediate (`r1 = off; r3 += r1`) before bpf_probe_read_kernel.
    const aluK = (i: Instruction) => ((i.code & 0x07) === 0x04 || (i.code & 0x07) === 0x07) && (i.code & 0x08) === 0;
    const offsets = new Set(spec.programs.read_task!.instructions.filter(aluK).map((i) => i.imm));
    for (const f of ['pid', 'tgid', 'real_parent', 'mm', 'comm']) {
      expect(offsets.has(member('task_struct', f)), `task_struct.${f} at ${member('task_struct', f)}`).toBe(true);
    }
    const size = /STRUCT 'task_struct' size=(\d+)/.exec(raw)![1];
    expect(offsets.has(Number(size)), `bpf_core_type_size(struct task_struct) = ${size}`).toBe(true);
  });
});
