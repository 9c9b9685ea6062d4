/**
 * libbpf's SEC() conventions: every section name Debian's libbpf (1.1) knows
 * gives the program type and expected attach type libbpf gives (fixture
 * opened by libbpf, not loaded), and the newer names follow the UAPI enums.
 */
import { describe, expect, it } from 'vitest';
import { AttachType, ProgType } from '../../src/ebpf/types.js';
import { BPF_F_SLEEPABLE, BPF_F_XDP_HAS_FRAGS, ElfSectionError, loadCollectionSpec, matchSection } from '../../src/elf/index.js';
import { compileFixture, HAVE_CLANG, runOracle } from './support.js';

describe.skipIf(!HAVE_CLANG)('section names against libbpf', () => {
  it('every libbpf 1.1 section: same program type, expected attach type, several programs per section', () => {
    const obj = compileFixture('sections');
    const o = runOracle(obj, { load: false });
    const spec = loadCollectionSpec(obj);
    expect(o.progs.length).toBeGreaterThan(80);
    expect(Object.keys(spec.programs).sort()).toEqual(o.progs.map((p) => p.name).sort());
    for (const p of o.progs) {
      const s = spec.programs[p.name]!;
      expect({ section: s.section, type: s.type, attach: s.attachType ?? 0 }, p.section).toEqual({
        section: p.section,
        type: p.type,
        attach: p.expected_attach_type,
      });
    }
    expect(spec.programs.p_socket_second!.section).toBe('socket');
    expect(spec.programs.p_optional_xdp).toMatchObject({ section: 'xdp', type: ProgType.XDP, autoload: false });
    expect(spec.programs.p_xdp_second!.autoload).toBeUndefined();
    expect(spec.warnings).toEqual([]);
  });
});

describe('section table', () => {
  it('attach targets and flags', () => {
    expect(matchSection('kprobe/do_sys_open')).toMatchObject({ attachTo: 'do_sys_open', def: { type: ProgType.KPROBE, hook: 'kprobe' } });
    expect(matchSection('kretprobe/do_sys_open')!.def.hook).toBe('kretprobe');
    expect(matchSection('tracepoint/syscalls/sys_enter_openat')!.attachTo).toBe('syscalls/sys_enter_openat');
    expect(matchSection('usdt//usr/bin/python3:python:function__entry')!.attachTo).toBe('/usr/bin/python3:python:function__entry');
    expect(matchSection('uprobe.s//bin/bash:readline')!.def.flags).toBe(BPF_F_SLEEPABLE);
    expect(matchSection('xdp.frags')!.def.flags).toBe(BPF_F_XDP_HAS_FRAGS);
    expect(matchSection('fentry/tcp_connect')).toMatchObject({ attachTo: 'tcp_connect', def: { attachType: AttachType.TRACE_FENTRY, btfTarget: true } });
    expect(matchSection('kprobe')!.attachTo).toBeUndefined();
  });

  it('newer names (after libbpf 1.1) map to the UAPI enums', () => {
    expect(matchSection('tcx/ingress')!.def).toMatchObject({ type: ProgType.SCHED_CLS, attachType: AttachType.TCX_INGRESS });
    expect(matchSection('tc/egress')!.def).toMatchObject({ type: ProgType.SCHED_CLS, attachType: AttachType.TCX_EGRESS });
    expect(matchSection('netkit/peer')!.def.attachType).toBe(AttachType.NETKIT_PEER);
    expect(matchSection('kprobe.session/foo')!.def.attachType).toBe(AttachType.TRACE_KPROBE_SESSION);
    expect(matchSection('uprobe.multi.s//bin/x:f*')!.def).toMatchObject({ attachType: AttachType.TRACE_UPROBE_MULTI, flags: BPF_F_SLEEPABLE });
    expect(matchSection('cgroup/connect_unix')!.def.attachType).toBe(AttachType.CGROUP_UNIX_CONNECT);
    expect(matchSection('sk_skb/verdict')!.def.attachType).toBe(AttachType.SK_SKB_VERDICT);
    expect(matchSection('netfilter')!.def).toMatchObject({ type: ProgType.NETFILTER, attachType: AttachType.NETFILTER });
    expect(matchSection('struct_ops.s/x')!.def).toMatchObject({ type: ProgType.STRUCT_OPS, flags: BPF_F_SLEEPABLE });
    expect(matchSection('syscall')!.def).toMatchObject({ type: ProgType.SYSCALL, flags: BPF_F_SLEEPABLE });
  });

  it('matching rules: exact names, "+" needs a "/" separator', () => {
    expect(matchSection('xdp/foo')).toBeUndefined();
    expect(matchSection('kprobex')).toBeUndefined();
    expect(matchSection('socketx')).toBeUndefined();
    expect(matchSection('tp_btf')).toBeDefined();
    expect(matchSection('raw_tp.w/x')!.def.type).toBe(ProgType.RAW_TRACEPOINT_WRITABLE);
  });
});

describe.skipIf(!HAVE_CLANG)('unknown sections', () => {
  it('are skipped with a warning like libbpf, or rejected in strict mode', () => {
    const obj = compileFixture('odd');
    const warnings: string[] = [];
    const spec = loadCollectionSpec(obj, { onWarning: (w) => warnings.push(w) });
    expect(Object.keys(spec.programs)).toEqual(['known']);
    expect(warnings.some((w) => w.includes("'not_a_libbpf_section'"))).toBe(true);
    expect(() => loadCollectionSpec(obj, { unknownSections: 'error' })).toThrow(ElfSectionError);
    expect(() => loadCollectionSpec(obj, { unknownSections: 'error' })).toThrow(/section not_a_libbpf_section/);
  });
});
