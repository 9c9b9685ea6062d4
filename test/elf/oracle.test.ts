/**
 * The kernel (through libbpf) is the oracle: each fixture is opened and loaded
 * by the system's libbpf into the running kernel, and bpfkit's CollectionSpec
 * must give the same programs (type, expected attach type), the same maps
 * (libbpf's definitions and the kernel's view) and the same instruction
 * streams after relocation, modulo map fds (compared by map name).
 */
import { describe, expect, it } from 'vitest';
import type { Instruction } from '../../src/ebpf/insn.js';
import { loadCollectionSpec } from '../../src/elf/index.js';
import { expectSameBtf, expectSameMaps, expectSamePrograms } from './compare.js';
import { execFileSync } from 'node:child_process';
import { compileFixture, HAVE_BPFTOOL, HAVE_CLANG, HAVE_CLANG19, IS_ROOT, runOracle } from './support.js';

const ready = HAVE_CLANG && IS_ROOT;

describe.skipIf(!ready)('libbpf + kernel oracle', () => {
  it('net.bpf.c: maps of every kind, globals, bpf-to-bpf calls, callbacks, prog array and map-in-map initialisers', () => {
    const obj = compileFixture('net');
    const o = runOracle(obj);
    expect(o.loaded, 'the kernel loads the fixture').toBe(true);
    const spec = loadCollectionSpec(obj);
    expect(spec.warnings).toEqual([]);
    expectSameMaps(spec, o);
    expectSameBtf(spec, o);
    expectSamePrograms(spec, o, { exactLineInfo: true }); // no dead code: the kernel keeps every line_info record
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
    expectSameBtf(spec, o);
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

  it('weak.bpf.c: weak externs the kernel lacks resolve to zero, as with libbpf', () => {
    const obj = compileFixture('weak');
    const o = runOracle(obj, { runs: [['weak_externs', Buffer.alloc(64)]] });
    expect(o.loaded).toBe(true);
    expect(o.runs[0]).toMatchObject({ rc: 0, retval: 7 });
    const spec = loadCollectionSpec(obj);
    expectSameMaps(spec, o);
    expectSameBtf(spec, o);
    expectSamePrograms(spec, o);
    // The absent kfunc stays `call` with src BPF_PSEUDO_KFUNC_CALL and imm 0, with nothing left to resolve.
    expect(spec.programs.weak_externs!.instructions.filter((i) => i.code === 0x85 && i.src === 2)).toEqual([{ code: 0x85, dst: 0, src: 2, off: 0, imm: 0 }]);
    expect(spec.programs.weak_externs!.references.filter((r) => r.kind === 'kfunc')).toEqual([]);
  });
});

describe.skipIf(!HAVE_CLANG19 || !IS_ROOT)('libbpf + kernel oracle, objects from clang 19 with -mcpu=v4', () => {
  it.each(['net', 'core', 'externs', 'legacy', 'weak'])('%s.bpf.c', (fixture) => {
    const obj = compileFixture(fixture, { cc: 'clang-19', flags: ['-mcpu=v4'], variant: 'clang19-v4' });
    const o = runOracle(obj);
    expect(o.loaded, 'the kernel loads the fixture').toBe(true);
    const spec = loadCollectionSpec(obj);
    expectSameMaps(spec, o);
    expectSameBtf(spec, o);
    expectSamePrograms(spec, o);
  });
});
