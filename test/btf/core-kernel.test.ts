/**
 * CO-RE against the running kernel, with libbpf as the oracle: each fixture
 * is opened and loaded by libbpf (test/btf/c/core_oracle.c prints its debug
 * log), and for every relocation we check that bpfkit computes the same local
 * spec, the same matching target spec, and patches the instruction the same
 * way (new immediate/offset, load size change, or poisoning).
 */
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { btfFromElf, loadKernelBtf, parseBtf } from '../../src/btf/index.js';
import { IS_ROOT } from '../support/paths.js';
import { compareWithLibbpf, ourRelos } from './core-support.js';
import { compileFixture, hasTool, runCoreOracle } from './support.js';

describe.skipIf(!IS_ROOT)('CO-RE against the running kernel (libbpf is the oracle; needs root to load)', () => {
  for (const fixture of ['core_task', 'core_fields']) {
    it(`${fixture}: every relocation as libbpf computes it`, async () => {
      const obj = compileFixture(fixture);
      const oracle = runCoreOracle(obj);
      expect(oracle.loadResult, oracle.log).toBe('0');
      compareWithLibbpf(ourRelos(obj, await loadKernelBtf()), oracle.relos);
    });
  }

  it('task_struct offsets agree with bpftool btf dump of vmlinux', async () => {
    const obj = compileFixture('core_task');
    const raw = readFileSync('/sys/kernel/btf/vmlinux');
    const kernel = parseBtf(raw);
    const ours = ourRelos(obj, kernel);
    // The raw dump lists task_struct's members with bit offsets; pid's byte offset must be what we patched in.
    const { execFileSync } = await import('node:child_process');
    const dump = execFileSync('bpftool', ['btf', 'dump', 'file', '/sys/kernel/btf/vmlinux'], {
      encoding: 'utf8',
      maxBuffer: 1 << 28,
    });
    const start = dump.indexOf(`STRUCT 'task_struct' size=`);
    const block = dump.slice(start, dump.indexOf('\n[', start));
    const bitOff = (name: string) => Number(new RegExp(`\\t'${name}' type_id=\\d+ bits_offset=(\\d+)`).exec(block)![1]);
    const size = Number(/size=(\d+)/.exec(block)![1]);
    const patchedTo = (field: string) => {
      const r = ours.find((o) => o.localSpec?.includes(`struct task_struct.${field} (`) && o.localSpec.startsWith('<byte_off>'));
      return Number(/-> (\d+)/.exec(r!.patched[0]!)![1]);
    };
    expect(patchedTo('pid')).toBe(bitOff('pid') / 8);
    expect(patchedTo('real_parent')).toBe(bitOff('real_parent') / 8);
    expect(patchedTo('comm')).toBe(bitOff('comm') / 8);
    const sizeRelo = ours.find((o) => o.localSpec?.startsWith('<type_size> [') && o.localSpec.endsWith('struct task_struct'));
    expect(sizeRelo!.patched[0]).toMatch(new RegExp(`-> ${size}$`));
  });
});

describe.skipIf(!IS_ROOT)('CO-RE against a custom target BTF (libbpf btf_custom_path is the oracle)', () => {
  it('core_local against core_target: moves, bitfields, resizes, flavors, enums, ambiguity', () => {
    const obj = compileFixture('core_local');
    const target = compileFixture('core_target');
    const oracle = runCoreOracle(obj, target);
    // the last relocation is ambiguous: libbpf refuses the object
    expect(oracle.loadResult).toBe('-22');
    const ours = ourRelos(obj, btfFromElf(readFileSync(target)).btf);
    compareWithLibbpf(ours, oracle.relos);
    const last = ours[ours.length - 1]!;
    expect(last.error).toMatch(/relocation decision ambiguity/);
    // the signed-narrowing load was poisoned and the widening one resized
    expect(ours.some((o) => o.poisoned.length === 1 && o.localSpec?.includes('holder.narrowed'))).toBe(true);
    expect(ours.some((o) => o.patched.includes('mem_sz 1 -> 4'))).toBe(true);
    // candidates pruned to the flavor that matched first, as libbpf does: prune.y is then not found
    const pruneY = ours.find((o) => o.localSpec?.startsWith('<field_exists>') && o.localSpec.includes('struct prune.y'));
    expect(pruneY?.patched).toEqual(['imm 1 -> 0']);
  });
});

describe.skipIf(!IS_ROOT || !hasTool('clang-19'))('CO-RE type matches and ENUM64 (clang-19 fixture; libbpf oracle)', () => {
  it('core_match: TYPE_MATCHES and ENUM64 relocations as libbpf computes them', async () => {
    const obj = compileFixture('core_match', 'clang-19');
    const oracle = runCoreOracle(obj);
    expect(oracle.loadResult, oracle.log).toBe('0');
    const ours = ourRelos(obj, await loadKernelBtf());
    compareWithLibbpf(ours, oracle.relos);
    expect(ours.filter((o) => o.localSpec?.startsWith('<type_matches>')).length).toBeGreaterThan(5);
  });
});
