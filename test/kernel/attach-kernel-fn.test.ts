/**
 * Programs on kernel functions: kprobes/kretprobes (kprobe PMU, tracefs
 * kprobe_events) and fentry/fexit/LSM (BPF trampolines). What is sent to
 * the kernel is checked without one: perf_event_attr and union bpf_attr
 * bytes against the C headers, tracefs lines against the documented syntax,
 * attach BTF ids against bpftool. Live tests run where a feature probe says
 * the kernel has the feature, and otherwise are skipped with the probe's
 * reason; on such a kernel attaching fails with one clear message.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AttachType, ProgType } from '../../src/ebpf/types.js';
import { openFds } from '../../src/kernel/fd.js';
import type { KernelCollection } from '../../src/kernel/index.js';
import { attachKprobe, attachKretprobe, kprobeAttr, kprobeEventDefinition } from '../../src/kernel/kprobe.js';
import { PerfEventAttr } from '../../src/kernel/perf-event.js';
import { fentrySupported, kprobesSupported, progTypeSupported } from '../../src/kernel/probes.js';
import { attachFentry, attachFexit, attachLsm, tracingLinkAttr, tracingTarget } from '../../src/kernel/tracing.js';
import { TMP } from '../support/paths.js';
import { CAN_BPF, SKIP_REASON, countFds } from './support/kernel.js';
import { Child, HAVE_CLANG, HAVE_GCC, compileTarget, counter, loadFixture, target } from './attach-support.js';

const HAVE_TOOLS = HAVE_GCC && process.arch === 'x64';
const dir = join(TMP, 'kernel-attach');

function runC(name: string, body: string, includes: string[]): string {
  mkdirSync(dir, { recursive: true });
  const src = join(dir, `${name}.c`);
  writeFileSync(src, `${includes.map((i) => `#include <${i}>`).join('\n')}\n#include <stdio.h>\n#include <string.h>\nint main(void){\n${body}\nreturn 0;}\n`);
  const exe = join(dir, name);
  const cc = spawnSync('gcc', ['-o', exe, src], { encoding: 'utf8' });
  if (cc.status !== 0) throw new Error(cc.stderr);
  return execFileSync(exe, { encoding: 'utf8' }).trim();
}

const hex = (b: Uint8Array) => Buffer.from(b).toString('hex');

describe('what attaching to kernel functions sends (no kernel needed)', () => {
  it.skipIf(!HAVE_TOOLS)('a kprobe through the PMU: perf_event_attr as <linux/perf_event.h> lays it out (symbol in config1, offset in config2)', () => {
    const pmu = { type: 9, retprobeBit: 0 };
    for (const [ret, off] of [
      [false, 0],
      [true, 0],
      [false, 0x10],
    ] as const) {
      const ours = PerfEventAttr.encode(kprobeAttr(pmu, 0x7f00_1234_5678n, off, ret)).subarray(0, 72);
      const c = runC(
        `kprobe_attr_${ret}_${off}`,
        `struct perf_event_attr a; memset(&a, 0, sizeof a);
         a.type = 9; a.config = ${ret ? 1 : 0}; a.config1 = 0x7f0012345678ULL; a.config2 = ${off}; a.sample_period = 1; a.wakeup_events = 1;
         for (int i = 0; i < 72; i++) printf("%02x", ((unsigned char *)&a)[i]);`,
        ['linux/perf_event.h'],
      );
      // Bytes 4-7 are attr.size, which perf_event_open fills in for each call.
      expect(hex(ours.subarray(0, 4)) + hex(ours.subarray(8))).toBe(c.slice(0, 8) + c.slice(16));
    }
  });

  it('kprobe_events lines follow Documentation/trace/kprobetrace.rst', () => {
    expect(kprobeEventDefinition('k1_1_vfs_read', 'vfs_read', 0, false)).toBe('p:bpfkit/k1_1_vfs_read vfs_read');
    expect(kprobeEventDefinition('k1_2_vfs_read', 'vfs_read', 16, false)).toBe('p:bpfkit/k1_2_vfs_read vfs_read+16');
    expect(kprobeEventDefinition('k1_3_vfs_read', 'vfs_read', 0, true)).toBe('r:bpfkit/k1_3_vfs_read vfs_read');
    expect(kprobeEventDefinition('k1_4_vfs_read', 'vfs_read', 0, true, 32)).toBe('r32:bpfkit/k1_4_vfs_read vfs_read');
  });

  it.skipIf(!HAVE_TOOLS)('fentry, fexit, fmod_ret, LSM and tp_btf links: union bpf_attr as <linux/bpf.h> lays out link_create.tracing', () => {
    const cases: [AttachType, string][] = [
      [AttachType.TRACE_FENTRY, 'BPF_TRACE_FENTRY'],
      [AttachType.TRACE_FEXIT, 'BPF_TRACE_FEXIT'],
      [AttachType.MODIFY_RETURN, 'BPF_MODIFY_RETURN'],
      [AttachType.LSM_MAC, 'BPF_LSM_MAC'],
      [AttachType.TRACE_RAW_TP, 'BPF_TRACE_RAW_TP'],
    ];
    for (const [type, cName] of cases) {
      const ours = tracingLinkAttr(7, type, 0x1122334455667788n);
      const c = runC(
        `tracing_link_${cName}`,
        `union bpf_attr a; memset(&a, 0, sizeof a);
         a.link_create.prog_fd = 7; a.link_create.attach_type = ${cName}; a.link_create.tracing.cookie = 0x1122334455667788ULL;
         for (int i = 0; i < ${ours.length}; i++) printf("%02x", ((unsigned char *)&a)[i]);`,
        ['linux/bpf.h'],
      );
      expect(hex(ours), cName).toBe(c);
    }
  });

  it.skipIf(!CAN_BPF || spawnSync('bpftool', ['version']).status !== 0)("attach BTF ids are the kernel's, as bpftool lists them; unknown targets are named", () => {
    const dump = execFileSync('bpftool', ['btf', 'dump', 'file', '/sys/kernel/btf/vmlinux'], { encoding: 'utf8', maxBuffer: 1 << 30 });
    const id = (kind: string, name: string) => Number(new RegExp(`^\\[(\\d+)\\] ${kind} '${name}'`, 'm').exec(dump)?.[1]);
    expect(tracingTarget(AttachType.TRACE_FENTRY, 'do_nanosleep')).toBe(id('FUNC', 'do_nanosleep'));
    expect(tracingTarget(AttachType.TRACE_RAW_TP, 'sys_enter')).toBe(id('TYPEDEF', 'btf_trace_sys_enter'));
    expect(tracingTarget(AttachType.LSM_MAC, 'file_open')).toBe(id('FUNC', 'bpf_lsm_file_open'));
    expect(() => tracingTarget(AttachType.TRACE_FENTRY, 'no_such_kernel_function')).toThrow(
      "no kernel function no_such_kernel_function in the kernel's BTF (looked for no_such_kernel_function)",
    );
    expect(() => tracingTarget(AttachType.LSM_MAC, 'no_such_hook')).toThrow("no LSM hook no_such_hook in the kernel's BTF (looked for bpf_lsm_no_such_hook)");
    expect(() => tracingTarget(AttachType.TRACE_RAW_TP, 'nope')).toThrow("no tracepoint nope in the kernel's BTF (looked for btf_trace_nope)");
  });
});

const READY = CAN_BPF && HAVE_CLANG && HAVE_GCC && process.arch === 'x64';
if (!READY) describe('kernel functions, live', () => it.skip(CAN_BPF ? 'needs clang and gcc on x86-64' : SKIP_REASON, () => {}));

describe.skipIf(!READY)('kernel functions, live', () => {
  const kprobes = CAN_BPF ? kprobesSupported() : { supported: false, detail: SKIP_REASON };
  const fentry = CAN_BPF ? fentrySupported() : { supported: false, detail: SKIP_REASON };
  const lsmActive = (() => {
    try {
      return execFileSync('cat', ['/sys/kernel/security/lsm'], { encoding: 'utf8' }).split(',').includes('bpf');
    } catch {
      return false;
    }
  })();
  const lsm = CAN_BPF ? progTypeSupported(ProgType.LSM) : { supported: false, detail: SKIP_REASON };
  let kprobeColl: KernelCollection | undefined;
  let bin: string;

  beforeAll(() => {
    bin = compileTarget();
    // KPROBE programs load on any kernel with uprobes; only attaching needs kprobes.
    kprobeColl = loadFixture('attach_kernel_fn', ['kprobe_getppid', 'kretprobe_getppid']);
  });
  afterAll(() => kprobeColl?.close());

  it.skipIf(!kprobes.supported)(`a kprobe and a kretprobe on __x64_sys_getppid count the child's calls exactly${kprobes.supported ? '' : ` — skipped: ${kprobes.detail}`}`, async () => {
    const N = 300;
    for (const mode of ['pmu', 'tracefs'] as const) {
      const entry = attachKprobe(kprobeColl!.programs.kprobe_getppid!, { symbol: '__x64_sys_getppid', mode });
      const exit = attachKretprobe(kprobeColl!.programs.kretprobe_getppid!, { symbol: '__x64_sys_getppid', mode });
      try {
        const before = [counter(kprobeColl!, 0), counter(kprobeColl!, 1)];
        const child = new Child(bin, ['getppid', String(N)]);
        target(kprobeColl!, child.pid);
        await child.go();
        expect(counter(kprobeColl!, 0) - before[0]!).toBe(BigInt(N));
        expect(counter(kprobeColl!, 1) - before[1]!).toBe(BigInt(N));
      } finally {
        entry.close();
        exit.close();
      }
    }
  });

  it.skipIf(kprobes.supported)('on this kernel (no kprobes) attaching a kprobe fails with one message that says why, leaving nothing', () => {
    const fds = countFds();
    const engine = openFds().length;
    expect(() => attachKprobe(kprobeColl!.programs.kprobe_getppid!, { symbol: '__x64_sys_getppid', mode: 'pmu' })).toThrow(
      `cannot attach kprobe __x64_sys_getppid: this kernel has no kprobes (${kprobes.detail})`,
    );
    expect(() => attachKprobe(kprobeColl!.programs.kprobe_getppid!, { symbol: '__x64_sys_getppid' })).toThrow(/no kprobe/);
    expect(() => attachKprobe(kprobeColl!.programs.kprobe_getppid!, { symbol: 'not a symbol' })).toThrow("'not a symbol' is not a kernel function name");
    expect(countFds()).toBe(fds);
    expect(openFds().length).toBe(engine);
  });

  it.skipIf(!fentry.supported)(`fentry and fexit on __do_sys_getppid count the child's calls exactly${fentry.supported ? '' : ` — skipped: ${fentry.detail}`}`, async () => {
    const coll = loadFixture('attach_kernel_fn', ['fentry_getppid', 'fexit_getppid'], {
      programs: {
        fentry_getppid: { attachBtfId: tracingTarget(AttachType.TRACE_FENTRY, '__do_sys_getppid') },
        fexit_getppid: { attachBtfId: tracingTarget(AttachType.TRACE_FEXIT, '__do_sys_getppid') },
      },
    });
    const a = attachFentry(coll.programs.fentry_getppid!, '__do_sys_getppid');
    const b = attachFexit(coll.programs.fexit_getppid!, '__do_sys_getppid');
    try {
      const child = new Child(bin, ['getppid', '200']);
      target(coll, child.pid);
      await child.go();
      expect(counter(coll, 2)).toBe(200n);
      expect(counter(coll, 3)).toBe(200n);
    } finally {
      a.close();
      b.close();
      coll.close();
    }
  });

  const lsmOk = lsm.supported && lsmActive;
  it.skipIf(!lsmOk)(`an LSM program on file_open counts the child's opens${lsmOk ? '' : ` — skipped: ${!lsm.supported ? lsm.detail : "'bpf' is not among the active LSMs (/sys/kernel/security/lsm)"}`}`, async () => {
    const coll = loadFixture('attach_kernel_fn', ['lsm_file_open'], {
      programs: { lsm_file_open: { attachBtfId: tracingTarget(AttachType.LSM_MAC, 'file_open') } },
    });
    const link = attachLsm(coll.programs.lsm_file_open!, 'file_open');
    try {
      const child = new Child(bin, ['open', '64']);
      target(coll, child.pid);
      await child.go();
      expect(counter(coll, 4)).toBe(64n);
    } finally {
      link.close();
      coll.close();
    }
  });
});
