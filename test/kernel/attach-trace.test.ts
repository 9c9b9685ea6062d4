/**
 * Tracepoints, raw tracepoints, tp_btf, uprobes, uretprobes, uprobe_multi and
 * perf events in the running kernel. Every count is of a child process the
 * test spawns after attaching (it waits for "go" on its standard input), so
 * other jobs on the machine do not disturb the numbers: they are exact.
 */
import { readFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AttachType } from '../../src/ebpf/types.js';
import { AttachTargetError } from '../../src/kernel/attach-errors.js';
import { KernelError } from '../../src/kernel/errors.js';
import { openFds } from '../../src/kernel/fd.js';
import { RingBufReader, type KernelCollection } from '../../src/kernel/index.js';
import { attachPerfEvent, attachTimer } from '../../src/kernel/perf-link.js';
import { attachRawTracepoint, attachTracepoint } from '../../src/kernel/tracepoint.js';
import { attachTpBtf, tracingTarget } from '../../src/kernel/tracing.js';
import { attachUprobe, attachUprobeMulti, attachUretprobe, uprobeMultiSupported } from '../../src/kernel/uprobe.js';
import { PerfSwConfig, PerfType } from '../../src/kernel/perf-event.js';
import { findTracefs } from '../../src/kernel/tracefs.js';
import { CAN_BPF, SKIP_REASON, countFds } from './support/kernel.js';
import {
  Child,
  HAVE_CLANG,
  HAVE_GCC,
  bpftoolLink,
  compileTarget,
  counter,
  loadFixture,
  progExists,
  target,
  tracefsMounts,
  tracefsProbes,
} from './attach-support.js';

const SLOT = { TP_GETPPID: 0, RAW_GETPPID: 1, BTF_GETPPID: 2, UPROBE_CALLS: 3, UPROBE_MULTI: 4, PERF_SAMPLES: 6, LEGACY_CALLS: 7, ANY_CALLS: 8, TIMER_TICKS: 9 };
const READY = CAN_BPF && HAVE_CLANG && HAVE_GCC;

if (!READY) describe('attaching tracing programs', () => it.skip(CAN_BPF ? 'needs clang and gcc' : SKIP_REASON, () => {}));

interface Event {
  kind: number;
  nargs: number;
  v: bigint[];
}
function events(reader: RingBufReader): Event[] {
  return reader.read().map((r) => {
    const d = new DataView(r.buffer, r.byteOffset, r.byteLength);
    return { kind: d.getUint32(0, true), nargs: d.getUint32(4, true), v: [0, 1, 2, 3].map((i) => d.getBigInt64(8 + 8 * i, true)) };
  });
}

describe.skipIf(!READY)('attaching tracing programs', () => {
  let coll: KernelCollection;
  let bin: string;
  const linkIds: number[] = [];
  const progIds: number[] = [];
  const mountsBefore = tracefsMounts();
  let fdsBefore = 0;

  beforeAll(() => {
    bin = compileTarget();
    fdsBefore = countFds();
    coll = loadFixture(
      'attach_trace',
      ['tp_getppid', 'raw_sys_enter', 'btf_sys_enter', 'uprobe_square', 'uretprobe_square', 'uprobe_legacy', 'uprobe_any', 'uprobe_multi', 'perf_sample', 'timer_tick'],
      { programs: { btf_sys_enter: { attachBtfId: tracingTarget(AttachType.TRACE_RAW_TP, 'sys_enter') } } },
    );
    for (const p of Object.values(coll.programs)) progIds.push(p.info().id);
  });

  afterAll(() => {
    coll?.close();
  });

  const N = 1000;

  it(`syscalls:sys_enter_getppid counts exactly the child's ${N} calls; the link is a perf_event bpf_link until closed`, async () => {
    const link = attachTracepoint(coll.programs.tp_getppid!, 'syscalls', 'sys_enter_getppid');
    const child = new Child(bin, ['getppid', String(N)]);
    try {
      target(coll, child.pid);
      const r = await child.go();
      expect(r.code).toBe(0);
      expect(counter(coll, SLOT.TP_GETPPID)).toBe(BigInt(N));
      const info = link.info();
      linkIds.push(info.id);
      expect(info.typeName).toBe('PERF_EVENT');
      expect(bpftoolLink(info.id)).toMatchObject({ id: info.id, type: 'perf_event', prog_id: coll.programs.tp_getppid!.info().id });
    } finally {
      child.kill();
      link.close();
    }
    expect(bpftoolLink(linkIds.at(-1)!)).toBeUndefined();
    // Detached: more calls are not counted.
    const again = new Child(bin, ['getppid', '10']);
    target(coll, again.pid);
    await again.go();
    expect(counter(coll, SLOT.TP_GETPPID)).toBe(BigInt(N));
  });

  it('a raw tracepoint (sys_enter) and a tp_btf program (sys_enter) each see exactly the same calls', async () => {
    const raw = attachRawTracepoint(coll.programs.raw_sys_enter!, 'sys_enter');
    const btf = attachTpBtf(coll.programs.btf_sys_enter!, 'sys_enter');
    try {
      expect(raw.info().typeName).toBe('RAW_TRACEPOINT');
      expect(btf.info().typeName).toBe('RAW_TRACEPOINT'); // tp_btf is a raw tracepoint link with BTF
      linkIds.push(raw.id, btf.id);
      const child = new Child(bin, ['getppid', String(N)]);
      target(coll, child.pid);
      expect((await child.go()).code).toBe(0);
      expect(counter(coll, SLOT.RAW_GETPPID)).toBe(BigInt(N));
      expect(counter(coll, SLOT.BTF_GETPPID)).toBe(BigInt(N));
    } finally {
      raw.close();
      btf.close();
    }
  });

  it(`a uprobe on bpfkit_square (gcc -O0 -fno-builtin) counts exactly ${N} calls with their arguments and cookie; a uretprobe sees every return value`, async () => {
    const reader = new RingBufReader(coll.maps.events!);
    const up = attachUprobe(coll.programs.uprobe_square!, { binary: bin, symbol: 'bpfkit_square', cookie: 0xc00c1en });
    const ret = attachUretprobe(coll.programs.uretprobe_square!, { binary: bin, symbol: 'bpfkit_square' });
    try {
      linkIds.push(up.id, ret.id);
      expect(up.kind).toBe('uprobe');
      expect(ret.kind).toBe('uretprobe');
      const child = new Child(bin, ['call', String(N)]);
      target(coll, child.pid);
      const r = await child.go();
      expect(r.code).toBe(0);
      expect(counter(coll, SLOT.UPROBE_CALLS)).toBe(BigInt(N));
      const evs = events(reader);
      const entries = evs.filter((e) => e.kind === 1);
      const returns = evs.filter((e) => e.kind === 2);
      expect(entries.map((e) => e.v[0])).toEqual(Array.from({ length: N }, (_, i) => BigInt(i)));
      expect(new Set(entries.map((e) => e.v[1]))).toEqual(new Set([0xc00c1en]));
      expect(returns.map((e) => e.v[0])).toEqual(Array.from({ length: N }, (_, i) => BigInt(i * i - 7)));
      // The child's own result agrees: the sum of square(i) + cube(i).
      const sum = Array.from({ length: N }, (_, i) => BigInt(i * i - 7) + BigInt(i) ** 3n).reduce((a, b) => a + b, 0n);
      expect(BigInt(r.stdout.trim())).toBe(sum);
    } finally {
      up.close();
      ret.close();
      reader.close();
    }
  });

  it('a uprobe made through tracefs (uprobe_events) counts the same and its probe is removed with the link', async () => {
    const link = attachUprobe(coll.programs.uprobe_legacy!, { binary: bin, symbol: 'bpfkit_square', mode: 'tracefs' });
    try {
      const probes = tracefsProbes();
      expect(probes).toHaveLength(1);
      expect(probes[0]).toMatch(new RegExp(`^p:bpfkit/p${process.pid}_\\d+_bpfkit_square ${bin.replace(/[/.]/g, '\\$&')}:0x[0-9a-f]+$`));
      const child = new Child(bin, ['call', '321']);
      target(coll, child.pid);
      expect((await child.go()).code).toBe(0);
      expect(counter(coll, SLOT.LEGACY_CALLS)).toBe(321n);
    } finally {
      link.close();
    }
    expect(tracefsProbes()).toEqual([]);
    // A tracefs bpfkit mounted for the probe is gone with it.
    expect(tracefsMounts()).toEqual(mountsBefore);
  });

  it("the pid filter: a uprobe for one child does not see another's calls", async () => {
    const other = new Child(bin, ['call', '50']);
    const mine = new Child(bin, ['call', '77']);
    const link = attachUprobe(coll.programs.uprobe_any!, { binary: bin, symbol: 'bpfkit_square', pid: mine.pid });
    try {
      expect((await other.go()).code).toBe(0);
      expect((await mine.go()).code).toBe(0);
      expect(counter(coll, SLOT.ANY_CALLS)).toBe(77n);
    } finally {
      link.close();
    }
  });

  it.skipIf(!uprobeMultiSupported())('uprobe_multi: one link on every function matching bpfkit_*, a cookie each', async () => {
    const reader = new RingBufReader(coll.maps.events!);
    reader.read();
    const link = attachUprobeMulti(coll.programs.uprobe_multi!, { binary: bin, symbols: ['bpfkit_*'], cookies: [1n, 2n] });
    try {
      expect(link.probes.map((p) => p.name)).toEqual(['bpfkit_cube', 'bpfkit_square']);
      expect(link.info().typeName).toBe('UPROBE_MULTI');
      linkIds.push(link.id);
      const child = new Child(bin, ['call', '40']);
      target(coll, child.pid);
      expect((await child.go()).code).toBe(0);
      expect(counter(coll, SLOT.UPROBE_MULTI)).toBe(80n);
      const evs = events(reader).filter((e) => e.kind === 3);
      // Calls alternate square(i), cube(i): cookie 2 then 1, each with argument i.
      expect(evs.map((e) => [e.v[1], e.v[0]])).toEqual(Array.from({ length: 40 }, (_, i) => [[2n, BigInt(i)], [1n, BigInt(i)]]).flat());
    } finally {
      link.close();
      reader.close();
    }
  });

  it('a perf event sampling the child (task-clock every 1 ms) runs the program once per ms of the CPU time the child reports', async () => {
    const child = new Child(bin, ['spin', '300']);
    const link = attachPerfEvent(coll.programs.perf_sample!, { type: PerfType.SOFTWARE, config: PerfSwConfig.TASK_CLOCK, period: 1_000_000n, pid: child.pid });
    try {
      target(coll, child.pid);
      const r = await child.go();
      expect(r.code).toBe(0);
      const samples = Number(counter(coll, SLOT.PERF_SAMPLES));
      // One sample per whole ms of task clock (CLOCK_PROCESS_CPUTIME_ID, which the child prints in µs).
      const cpuMs = Number(r.stdout.trim()) / 1000;
      expect(cpuMs).toBeGreaterThan(20);
      expect(samples).toBeGreaterThanOrEqual(Math.floor(cpuMs * 0.9) - 2);
      expect(samples).toBeLessThanOrEqual(Math.ceil(cpuMs) + 1);
    } finally {
      link.close();
    }
  });

  it('cpu-clock at 1000 Hz on every CPU sees the child about once per ms of its CPU; a 5 ms timer on CPU 0 ticks 200 times a second', async () => {
    const before = Number(counter(coll, SLOT.PERF_SAMPLES));
    const sampler = attachPerfEvent(coll.programs.perf_sample!, { frequency: 1000 });
    const timer = attachTimer(coll.programs.timer_tick!, 5_000_000, { cpu: 0 });
    const started = process.hrtime.bigint();
    const child = new Child(bin, ['spin', '400']);
    try {
      expect(sampler.fds.length).toBe(2 * (await import('../../src/kernel/cpus.js')).onlineCpus().length); // a perf event and a bpf_link per CPU
      target(coll, child.pid);
      const r = await child.go();
      const ticks = Number(counter(coll, SLOT.TIMER_TICKS));
      const wallMs = Number(process.hrtime.bigint() - started) / 1e6;
      const cpuMs = Number(r.stdout.trim()) / 1000;
      const samples = Number(counter(coll, SLOT.PERF_SAMPLES)) - before;
      // Frequency mode adjusts the period as it goes: within a factor of two.
      expect(samples).toBeGreaterThan(cpuMs / 2);
      expect(samples).toBeLessThan(cpuMs * 2);
      expect(ticks).toBeGreaterThan((wallMs / 5) * 0.5);
      expect(ticks).toBeLessThan((wallMs / 5) * 1.5 + 10);
    } finally {
      child.kill();
      sampler.close();
      timer.close();
    }
  });

  describe('bad input names what is missing', () => {
    it('tracepoints: an unknown group, an unknown event, a malformed name', () => {
      expect(() => attachTracepoint(coll.programs.tp_getppid!, 'syscalls', 'sys_enter_nope')).toThrow(
        /no tracepoint syscalls:sys_enter_nope \(group syscalls has no event sys_enter_nope/,
      );
      expect(() => attachTracepoint(coll.programs.tp_getppid!, 'nogroup', 'x')).toThrow(/no tracepoint nogroup:x \(no tracepoint group nogroup/);
      expect(() => attachTracepoint(coll.programs.tp_getppid!, '../x', 'y')).toThrow(AttachTargetError);
      expect(() => attachRawTracepoint(coll.programs.raw_sys_enter!, 'no_such_tp')).toThrow('no raw tracepoint no_such_tp in this kernel');
    });

    it('uprobes: an unknown binary, library or symbol', () => {
      expect(() => attachUprobe(coll.programs.uprobe_square!, { binary: '/no/such/binary', symbol: 'main' })).toThrow('no such binary or library: /no/such/binary');
      expect(() => attachUprobe(coll.programs.uprobe_square!, { binary: 'libnosuchlib', symbol: 'f' })).toThrow(/no binary or library named libnosuchlib \(searched/);
      expect(() => attachUprobe(coll.programs.uprobe_square!, { binary: bin, symbol: 'no_such_function' })).toThrow(
        `no function no_such_function in ${bin} (searched .symtab and .dynsym)`,
      );
      expect(() => attachUprobe(coll.programs.uprobe_square!, { binary: '/etc/hostname', symbol: 'x' })).toThrow(/\/etc\/hostname is not an ELF/);
      expect(() => attachUprobeMulti(coll.programs.uprobe_multi!, { binary: bin, symbols: ['nomatch_*'] })).toThrow(`no function of ${bin} matches nomatch_*`);
    });

    it('a library by name: libc resolves through ld.so.cache and its malloc can be probed', () => {
      const link = attachUprobe(coll.programs.uprobe_any!, { binary: 'libc', symbol: 'malloc', pid: process.pid });
      try {
        expect(link.target).toMatch(/\/libc\.so\.6:malloc$/);
      } finally {
        link.close();
      }
    });
  });

  describe('every error path releases what it made', () => {
    it('the kernel refuses the program (wrong type): no fd, perf event or tracefs probe is left', () => {
      const before = countFds();
      const engine = openFds().length;
      // A TRACEPOINT program on a uprobe and a KPROBE one on a tracepoint: the attach step fails after the perf event is open.
      expect(() => attachUprobe(coll.programs.tp_getppid!, { binary: bin, symbol: 'bpfkit_square' })).toThrow(KernelError);
      expect(() => attachUprobe(coll.programs.tp_getppid!, { binary: bin, symbol: 'bpfkit_square', mode: 'tracefs' })).toThrow(KernelError);
      expect(() => attachTracepoint(coll.programs.uprobe_square!, 'syscalls', 'sys_enter_getppid')).toThrow(KernelError);
      expect(() => attachPerfEvent(coll.programs.tp_getppid!, { frequency: 10 })).toThrow(KernelError);
      expect(countFds()).toBe(before);
      expect(openFds().length).toBe(engine);
      expect(tracefsProbes()).toEqual([]);
      expect(tracefsMounts()).toEqual(mountsBefore);
    });

    it('perf_event_open fails (no such process): the tracefs probe made before it is removed', () => {
      const before = countFds();
      expect(() => attachUprobe(coll.programs.uprobe_legacy!, { binary: bin, symbol: 'bpfkit_square', pid: 0x3ffffff0, mode: 'tracefs' })).toThrow(
        /perf_event_open .*ESRCH|no such process/,
      );
      expect(() => attachUprobe(coll.programs.uprobe_legacy!, { binary: bin, symbol: 'bpfkit_square', pid: 0x3ffffff0 })).toThrow(KernelError);
      expect(countFds()).toBe(before);
      expect(tracefsProbes()).toEqual([]);
    });
  });

  it('after the tests: no link, program, perf fd, tracefs probe or mount of ours is left', () => {
    coll.close();
    for (const id of linkIds) expect(bpftoolLink(id), `link ${id}`).toBeUndefined();
    for (const id of progIds) expect(progExists(id), `prog ${id}`).toBe(false);
    expect(countFds()).toBe(fdsBefore);
    expect(openFds().map((f) => f.label)).toEqual([]);
    expect(tracefsProbes()).toEqual([]);
    expect(tracefsMounts()).toEqual(mountsBefore);
    if (findTracefs()) expect(readFileSync(`${findTracefs()!.mountPoint}/uprobe_events`, 'utf8')).not.toMatch(new RegExp(`bpfkit/[pr]${process.pid}_`));
  });
});
