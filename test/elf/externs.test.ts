/**
 * Externs: .kconfig laid out and filled exactly as libbpf does (compared with
 * the initial value of libbpf's .kconfig map and the instructions it loaded
 * into the kernel), kfuncs and typed ksyms resolved to the BTF ids bpftool
 * shows for the running kernel, typeless ksyms to /proc/kallsyms addresses,
 * and clear errors when an extern cannot be resolved.
 */
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { wideImm } from '../../src/ebpf/insn.js';
import { ElfExternError, loadCollectionSpec, parseKallsyms } from '../../src/elf/index.js';
import { expectSameBtf, expectSameMaps, expectSamePrograms } from './compare.js';
import { compileFixture, HAVE_BPFTOOL, HAVE_CLANG, IS_ROOT, runOracle } from './support.js';

describe.skipIf(!HAVE_CLANG)('externs', () => {
  it.skipIf(!IS_ROOT)('kconfig, typeless ksym and kfunc match libbpf and the kernel, and test-run the same', () => {
    const obj = compileFixture('externs');
    const pkt = Buffer.from('00000000000000000000000008004500001c000000000000000000000000000000000000', 'hex');
    const o = runOracle(obj, { runs: [['read_config', pkt]] });
    expect(o.loaded).toBe(true);
    const spec = loadCollectionSpec(obj);
    expectSameMaps(spec, o);
    expectSameBtf(spec, o);
    expectSamePrograms(spec, o);
    expect(spec.variables.CONFIG_BPFKIT_NO_SUCH_OPTION!.get()).toBe(0); // weak and absent: zero
    expect(spec.variables.CONFIG_BPF_SYSCALL!.get()).toBe(true);
    expect(o.runs[0]!.rc).toBe(0);
  });

  it.skipIf(!HAVE_BPFTOOL)('typed ksyms and kfuncs get the kernel BTF ids bpftool shows', () => {
    const obj = compileFixture('externs', { variant: 'typed', flags: ['-DTYPED_KSYM'] });
    const spec = loadCollectionSpec(obj);
    const raw = execFileSync('bpftool', ['btf', 'dump', 'file', '/sys/kernel/btf/vmlinux'], { encoding: 'utf8', maxBuffer: 1 << 28 });
    const idOf = (kind: string, name: string) => Number(new RegExp(`^\\[(\\d+)\\] ${kind} '${name}'`, 'm').exec(raw)![1]);
    const p = spec.programs.read_config!;
    const ksym = p.references.find((r) => r.kind === 'ksym')!;
    expect(p.instructions[ksym.index]).toMatchObject({ code: 0x18, src: 3, imm: idOf('VAR', 'bpf_prog_active') });
    const kfunc = p.references.find((r) => r.kind === 'kfunc')!;
    expect(p.instructions[kfunc.index]).toMatchObject({ code: 0x85, src: 2, off: 0, imm: idOf('FUNC', 'bpf_cast_to_kern_ctx') });
    const addr = parseKallsyms(readFileSync('/proc/kallsyms', 'utf8')).get('bpf_prog_put');
    const ld = p.instructions.findIndex((i, k) => i.code === 0x18 && i.src === 0 && wideImm(p.instructions, k) === addr);
    expect(ld, 'typeless ksym loads the kallsyms address').toBeGreaterThanOrEqual(0);
  });

  it('uses a given config and kernel release, deterministically', () => {
    const obj = compileFixture('externs');
    const opts = {
      kconfig: 'CONFIG_BPF_SYSCALL=y\nCONFIG_IPV6=m\nCONFIG_HZ=1000\nCONFIG_NR_CPUS=0x40\nCONFIG_DEFAULT_HOSTNAME="bpfkit-host"\nCONFIG_BPF_JIT=n\n# CONFIG_X is not set\n',
      kernelRelease: '5.15.300-generic',
      kallsyms: new Map([['bpf_prog_put', 0xffffffff81234560n]]),
    };
    const a = loadCollectionSpec(obj, opts);
    const b = loadCollectionSpec(obj, opts);
    expect(a.programs).toEqual(b.programs);
    expect(a.maps['.kconfig']!.data).toEqual(b.maps['.kconfig']!.data);
    const v = a.variables;
    expect(v.CONFIG_IPV6!.get()).toBe(2); // TRI_MODULE
    expect(v.CONFIG_HZ!.get()).toBe(1000);
    expect(v.CONFIG_NR_CPUS!.get()).toBe(64n);
    expect(v.CONFIG_DEFAULT_HOSTNAME!.get()).toBe('bpfkit-'); // char[8]: truncated, NUL-terminated
    expect(v.CONFIG_BPF_JIT!.get()).toBe('n'.charCodeAt(0));
    expect(v.LINUX_KERNEL_VERSION!.get()).toBe((5 << 16) + (15 << 8) + 255); // patch level clamped like KERNEL_VERSION
  });

  it('names the extern it cannot resolve', () => {
    const obj = compileFixture('externs');
    const attempt = (kconfig: string) => () => loadCollectionSpec(obj, { kconfig, kallsyms: new Map([['bpf_prog_put', 1n]]) });
    expect(attempt('CONFIG_BPF_SYSCALL=y\n')).toThrow(ElfExternError);
    expect(attempt('CONFIG_BPF_SYSCALL=y\n')).toThrow(/symbol CONFIG_\w+: kconfig option is not set/);
    expect(attempt('CONFIG_BPF_SYSCALL=m\nCONFIG_IPV6=y\nCONFIG_HZ=1\nCONFIG_NR_CPUS=1\nCONFIG_DEFAULT_HOSTNAME="x"\nCONFIG_BPF_JIT=y')).toThrow(
      /CONFIG_BPF_SYSCALL.*module/,
    );
    expect(attempt('CONFIG_BPF_SYSCALL=y\nCONFIG_IPV6=y\nCONFIG_HZ=y\nCONFIG_NR_CPUS=1\nCONFIG_DEFAULT_HOSTNAME="x"\nCONFIG_BPF_JIT=y')).toThrow(/CONFIG_HZ/);
    const full = 'CONFIG_BPF_SYSCALL=y\nCONFIG_IPV6=y\nCONFIG_HZ=100\nCONFIG_NR_CPUS=1\nCONFIG_DEFAULT_HOSTNAME="x"\nCONFIG_BPF_JIT=y';
    expect(() => loadCollectionSpec(obj, { kconfig: full, kallsyms: new Map() })).toThrow(/symbol bpf_prog_put.*kallsyms/);
  });
});
