/**
 * The VM on its own: typed errors that name the instruction, address and
 * region; the instruction budget; call depth; helpers answered by the host
 * environment; the helper registry; program kinds and their inputs; the
 * memory model's guarantees (deleted elements stay addressable during a run,
 * submitted ring buffer records do not).
 */
import { describe, expect, it } from 'vitest';
import { assembleText } from '../../src/ebpf/asm.js';
import { BpfErrnoError } from '../../src/ebpf/engine.js';
import { EbpfValidationError } from '../../src/ebpf/errors.js';
import type { MapSpec, ProgramSpec } from '../../src/ebpf/spec.js';
import { MapType, ProgType } from '../../src/ebpf/types.js';
import {
  MapFlags,
  PerfEventArrayMap,
  RingBufMap,
  Vm,
  VmBudgetError,
  VmCallError,
  VmHelperError,
  VmLoadError,
  VmMemoryError,
  VmUsageError,
  type VmMap,
  type VmOptions,
} from '../../src/vm/index.js';

function prog(text: string, type: ProgType = ProgType.UNSPEC, name = 'p'): ProgramSpec {
  const a = assembleText(text);
  return { name, type, license: 'GPL', instructions: a.instructions, references: a.references };
}

function load(text: string, options: VmOptions & { type?: ProgType; maps?: Record<string, MapSpec> } = {}) {
  const vm = new Vm(options);
  const maps: Record<string, VmMap> = {};
  for (const [n, s] of Object.entries(options.maps ?? {})) maps[n] = vm.createMap({ ...s, name: n });
  return { vm, maps, p: vm.loadProgram(prog(text, options.type), maps) };
}

const ms = (type: MapType, keySize: number, valueSize: number, maxEntries: number, flags = 0): MapSpec => ({ name: '', type, keySize, valueSize, maxEntries, flags });

function packet(len: number): Uint8Array {
  const b = new Uint8Array(len);
  for (let i = 0; i < len; i++) b[i] = i;
  b.fill(0, 0, 6);
  b[12] = 0x08;
  b[13] = 0x00;
  return b;
}

describe('memory faults are typed and say where', () => {
  it('a load past the end of the memory names the instruction, the address and the region', () => {
    const { p } = load('r0 = *(u32 *)(r1 + 2)\nexit');
    const e = (() => {
      try {
        p.run({ data: new Uint8Array(5) });
      } catch (x) {
        return x;
      }
    })() as VmMemoryError;
    expect(e).toBeInstanceOf(VmMemoryError);
    expect(e.pc).toBe(0);
    expect(e.access).toBe('read');
    expect(e.size).toBe(4);
    expect(e.region).toBe('memory');
    expect(e.message).toMatch(/^p: instruction 0 \(r0 = \*\(u32 \*\)\(r1 \+ 2\)\): read of 4 bytes at 0x[0-9a-f]+: runs past the end of memory/);
  });

  it('null pointers, map handles, high addresses and read-only contexts', () => {
    expect(() => load('r0 = *(u8 *)(r1 + 0)\nexit').p.run()).toThrow(/read of 1 byte at 0x0: null pointer/);
    const m = load('r1 = map_fd(m) ll\nr0 = *(u64 *)(r1 + 0)\nexit', { maps: { m: ms(MapType.ARRAY, 4, 8, 1) } });
    expect(() => m.p.run()).toThrow(/the handle of map 'm', not memory/);
    expect(() => load('r1 = 0x100000000 ll\nr0 = *(u8 *)(r1 + 0)\nexit').p.run()).toThrow(/at 0x100000000: outside the VM memory/);
    expect(() => load('r1 = -1\nr0 = *(u8 *)(r1 + 0)\nexit').p.run()).toThrow(/at 0xffffffffffffffff: outside the VM memory/);
    const t = load('r2 = 7\n*(u64 *)(r1 + 0) = r2\nexit', { type: ProgType.KPROBE });
    expect(() => t.p.run({ ctx: new Uint8Array(16) })).toThrow(/write of 8 bytes at 0x[0-9a-f]+: context is read-only/);
    expect(load('r0 = *(u64 *)(r1 + 8)\nexit', { type: ProgType.KPROBE }).p.run({ ctx: new Uint8Array([0, 0, 0, 0, 0, 0, 0, 0, 9, 0, 0, 0, 0, 0, 0, 1]) }).r0).toBe(0x0100000000000009n);
  });

  it('maps created BPF_F_RDONLY_PROG / BPF_F_WRONLY_PROG cannot be written / read by programs', () => {
    const text = (access: string) =>
      `r1 = 0\n*(u32 *)(r10 - 4) = r1\nr1 = map_fd(m) ll\nr2 = r10\nr2 += -4\ncall 1\nif r0 == 0 goto out\n${access}\nout: exit`;
    const ro = load(text('r1 = 5\n*(u64 *)(r0 + 0) = r1'), { maps: { m: ms(MapType.ARRAY, 4, 8, 1, MapFlags.RDONLY_PROG) } });
    expect(() => ro.p.run()).toThrow(/write of 8 bytes .*map 'm' is read-only/);
    const wo = load(text('r0 = *(u64 *)(r0 + 0)'), { maps: { m: ms(MapType.ARRAY, 4, 8, 1, MapFlags.WRONLY_PROG) } });
    expect(() => wo.p.run()).toThrow(/read of 8 bytes .*map 'm' is write-only/);
    const w = load(text('r1 = 5\n*(u64 *)(r0 + 0) = r1'), { maps: { m: ms(MapType.ARRAY, 4, 8, 1, MapFlags.WRONLY_PROG) } });
    w.p.run();
    expect(w.maps.m!.lookup(new Uint8Array(4))).toEqual(Uint8Array.of(5, 0, 0, 0, 0, 0, 0, 0));
  });

  it('the stack is 8 frames of 512 bytes: below the last frame is outside every region', () => {
    expect(load('r0 = *(u64 *)(r10 - 8)\nexit').p.run().r0).toBe(0n);
    expect(load('r1 = r10\nr1 += -4096\nr0 = *(u64 *)(r1 + 0)\nexit').p.run().r0).toBe(0n);
    expect(() => load('r1 = r10\nr1 += -4097\nr0 = *(u8 *)(r1 + 0)\nexit').p.run()).toThrow(/outside every region/);
    expect(() => load('r0 = *(u8 *)(r10 + 0)\nexit').p.run()).toThrow(/outside every region \(0 bytes past the end of stack\)/);
    expect(() => load('r0 = *(u64 *)(r10 - 4)\nexit').p.run()).toThrow(/runs past the end of stack/);
  });

  it('a submitted ring buffer record can no longer be written; a deleted hash element can, until the run ends', () => {
    const rb = load(
      `r1 = map_fd(rb) ll
       r2 = 16
       r3 = 0
       call 131
       if r0 == 0 goto out
       r6 = r0
       r1 = r0
       r2 = 0
       call 132
       r1 = 1
       *(u64 *)(r6 + 0) = r1
     out:
       exit`,
      { maps: { rb: ms(MapType.RINGBUF, 0, 0, 4096) } },
    );
    expect(() => rb.p.run()).toThrow(/write of 8 bytes .*outside every region/);
    const h = load(
      `r1 = 1
       *(u32 *)(r10 - 4) = r1
       r1 = map_fd(h) ll
       r2 = r10
       r2 += -4
       call 1
       if r0 == 0 goto out
       r6 = r0
       r1 = map_fd(h) ll
       r2 = r10
       r2 += -4
       call 3
       r0 = *(u64 *)(r6 + 0)
     out:
       exit`,
      { maps: { h: ms(MapType.HASH, 4, 8, 2) } },
    );
    h.maps.h!.update(new Uint8Array([1, 0, 0, 0]), new Uint8Array([42, 0, 0, 0, 0, 0, 0, 0]));
    expect(h.p.run().r0).toBe(42n);
    expect(h.maps.h!.lookup(new Uint8Array([1, 0, 0, 0]))).toBeUndefined();
  });
});

describe('runaway programs and bad programs', () => {
  it('an exhausted instruction budget stops the program', () => {
    const { p } = load('l: r0 += 1\ngoto l\nexit', { budget: 1000 });
    expect(() => p.run()).toThrow(VmBudgetError);
    expect(() => p.run()).toThrow(/instruction budget of 1000 exhausted/);
    expect(() => p.run({ budget: 50 })).toThrow(/budget of 50/);
  });

  it('call depth is limited to 8 frames', () => {
    const { p } = load('call recurse\nexit\nrecurse: call recurse\nexit');
    expect(() => p.run()).toThrow(VmCallError);
    expect(() => p.run()).toThrow(/call depth exceeds 8 frames/);
    // 7 nested calls (8 frames) are fine.
    const ok = load(['call level1', 'exit', ...[1, 2, 3, 4, 5, 6].flatMap((i) => [`level${i}: call level${i + 1}`, 'exit']), 'level7: r0 = 7', 'exit'].join('\n'));
    expect(ok.p.run().r0).toBe(7n);
  });

  it('a kfunc call loads; in dead code it never runs, reached it stops the run naming the instruction', () => {
    const spec = prog('r0 = 7\nif r2 == 0 goto +1\ncall 1\nexit');
    spec.instructions[2] = { ...spec.instructions[2]!, src: 2, imm: 4242 };
    const vm = new Vm();
    const p = vm.loadProgram(spec);
    expect(p.run({ data: new Uint8Array(0) }).retval).toBe(7);
    let err: unknown;
    try {
      p.run({ data: new Uint8Array(4) });
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(VmCallError);
    expect((err as Error).message).toMatch(/instruction 2\b.*kfunc call \(BTF id 4242\) reached: kernel functions are not available in the VM/);
  });

  it('unknown helpers are refused at load; callx to an unknown id fails at run time', () => {
    expect(() => load('call 9999\nexit')).toThrow(VmLoadError);
    expect(() => load('call 9999\nexit')).toThrow(/instruction 0: unknown helper id 9999/);
    expect(() => load('r2 = 9999\ncallx r2\nexit', { callx: true }).p.run()).toThrow(/unknown helper id 9999/);
    expect(() => load('r2 = 5\ncallx r2\nexit')).toThrow(/callx/);
    // Helpers of other program types: skb_load_bytes is not for XDP.
    expect(() => load('call 26\nexit', { type: ProgType.XDP })).toThrow(/unknown helper id 26/);
  });

  it('structurally invalid and unsupported programs are refused with typed errors', () => {
    expect(() => load('r0 = 1')).toThrow(EbpfValidationError);
    const vm = new Vm();
    const bad = { name: 'bad', type: ProgType.UNSPEC, license: 'GPL', instructions: [{ code: 0xff, dst: 0, src: 0, off: 0, imm: 0 }, { code: 0x95, dst: 0, src: 0, off: 0, imm: 0 }], references: [] };
    expect(() => vm.loadProgram(bad)).toThrow(EbpfValidationError);
    expect(() => new Vm({ validate: false }).loadProgram(bad)).toThrow(/bad: instruction 0: unknown ALU operation 0xff/);
    expect(() => vm.loadProgram({ ...bad, type: ProgType.CGROUP_SKB, instructions: bad.instructions.slice(1) })).toThrow(/CGROUP_SKB is not supported/);
    expect(() => load('r1 = map_fd(nope) ll\nexit')).toThrow(/map 'nope' is not in the collection/);
    expect(() => load('r1 = map_value(m, 8) ll\nexit', { maps: { m: ms(MapType.ARRAY, 4, 8, 1) } })).toThrow(/offset 8 is outside the value of map 'm'/);
    expect(() => load('r1 = map_value(m, 0) ll\nexit', { maps: { m: ms(MapType.HASH, 4, 8, 1) } })).toThrow(/only arrays/);
    expect(() => load('r0 = *(u8 *)skb[0]\nexit').p.run()).toThrow(/legacy packet loads .* need a socket filter or tc program/);
  });

  it('runs do not nest', () => {
    const vm = new Vm();
    const inner = vm.loadProgram(prog('r0 = 1\nexit'));
    vm.helpers.define(1000, () => Number(inner.run().r0));
    const outer = vm.loadProgram(prog('call 1000\nexit'));
    expect(() => outer.run()).toThrow(VmUsageError);
  });
});

describe('helpers', () => {
  it('answer from the host environment', () => {
    const lines: string[] = [];
    const { p, vm } = load(
      `call 14
       r6 = r0
       call 15
       r6 ^= r0
       call 5
       r6 += r0
       call 118
       r6 += r0
       call 8
       r6 += r0
       r1 = r10
       r1 += -16
       r2 = 16
       call 16
       r0 = *(u64 *)(r10 - 16)
       r6 += r0
       r0 = r6
       exit`,
      {
        cpus: 4,
        env: {
          cpu: 3,
          monotonicNs: () => 1_000_000_000n,
          hz: 100,
          task: { pid: 10, tgid: 20, uid: 1000, gid: 100, comm: 'a-very-long-command-name' },
          trace: (l) => lines.push(l),
        },
      },
    );
    const comm = new DataView(new TextEncoder().encode('a-very-l').buffer).getBigUint64(0, true);
    const expected = (((20n << 32n) | 10n) ^ ((100n << 32n) | 1000n)) + 1_000_000_000n + 100n + 3n + comm;
    expect(p.run().r0).toBe(BigInt.asUintN(64, expected));
    expect(vm.env.cpu).toBe(3);
  });

  it('bpf_get_prandom_u32 is reproducible with a seed', () => {
    const r = (seed: number) => load('call 7\nr6 = r0\ncall 7\nr0 <<= 32\nr0 |= r6\nexit', { env: { seed } }).p.run().r0;
    expect(r(42)).toBe(r(42));
    expect(r(42)).not.toBe(r(43));
  });

  it('bpf_trace_printk formats to the trace sink; bad formats give -EINVAL', () => {
    const text = (fmt: string) => {
      const bytes = [...new TextEncoder().encode(fmt), 0];
      while (bytes.length % 8) bytes.push(0);
      const lines: string[] = [];
      for (let i = 0; i < bytes.length; i += 8) {
        const v = new DataView(Uint8Array.from(bytes.slice(i, i + 8)).buffer).getBigUint64(0, true);
        lines.push(`r1 = 0x${v.toString(16)} ll`, `*(u64 *)(r10 - ${bytes.length - i}) = r1`);
      }
      return [...lines, 'r1 = r10', `r1 += -${bytes.length}`, `r2 = ${fmt.length + 1}`, 'r3 = -5', 'r4 = 0xff', 'r5 = 0x1234567890 ll', 'call 6', 'exit'].join('\n');
    };
    const { p, vm } = load(text('a=%d b=%x c=%llx %%\n'));
    expect(p.run().r0).toBe(BigInt('a=-5 b=ff c=1234567890 %\n'.length));
    expect(vm.traceLog).toEqual(['a=-5 b=ff c=1234567890 %']);
    expect(load(text('%d %d %d %d')).p.run().r0).toBe(BigInt.asUintN(64, -22n));
    expect(load(text('%q')).p.run().r0).toBe(BigInt.asUintN(64, -22n));
  });

  it('probe_read reads VM memory: a fault zeroes the destination and returns -EFAULT', () => {
    const { p } = load(
      `r1 = 0x1122334455667788 ll
       *(u64 *)(r10 - 8) = r1
       r1 = r10
       r1 += -16
       r2 = 8
       r3 = r10
       r3 += -8
       call 113
       r6 = *(u64 *)(r10 - 16)
       r1 = r10
       r1 += -16
       r2 = 8
       r3 = 16
       call 113
       r7 = r0
       r0 = *(u64 *)(r10 - 16)
       r0 += r7
       r0 += r6
       exit`,
    );
    expect(p.run().r0).toBe(BigInt.asUintN(64, 0x1122334455667788n - 14n));
  });

  it('embedders define their own helpers; a helper refusing its arguments is a typed error', () => {
    const vm = new Vm();
    vm.helpers.define(1000, (c) => c.u64(1) * 3n + BigInt(c.bytes(2, 4)[0]!), { name: 'triple' });
    vm.helpers.define(1001, (c) => c.fail('no'), { name: 'refuser' });
    const p = vm.loadProgram(prog('r1 = 14\nr2 = 9\n*(u32 *)(r10 - 4) = r2\nr2 = r10\nr2 += -4\ncall 1000\nexit'));
    expect(p.run().r0).toBe(51n);
    expect(() => vm.loadProgram(prog('call 1001\nexit')).run()).toThrow(VmHelperError);
    expect(() => vm.loadProgram(prog('call 1001\nexit')).run()).toThrow(/helper refuser: no/);
    // A pointer argument outside every region.
    expect(() => vm.loadProgram(prog('r1 = 1\nr2 = 64\ncall 1000\nexit')).run()).toThrow(/triple argument r2: outside every region/);
  });

  it('perf_event_output: samples reach open slots, ENOENT for closed ones, packet bytes appended', () => {
    const { p, maps } = load(
      `r6 = r1
       r1 = 0xabcd
       *(u64 *)(r10 - 8) = r1
       r1 = r6
       r2 = map_fd(ev) ll
       r3 = 0xffffffff ll
       r4 = r10
       r4 += -8
       r5 = 8
       call 25
       r7 = r0
       r1 = r6
       r2 = map_fd(ev) ll
       r3 = 0x00000004ffffffff ll
       r4 = r10
       r4 += -8
       r5 = 2
       call 25
       r0 = r7
       exit`,
      { type: ProgType.SOCKET_FILTER, maps: { ev: ms(MapType.PERF_EVENT_ARRAY, 4, 4, 2) } },
    );
    const ev = maps.ev as PerfEventArrayMap;
    expect(p.run({ data: packet(40) }).retval).toBe(-2 >>> 0);
    ev.open();
    expect(p.run({ data: packet(40) }).retval).toBe(0);
    const samples = ev.read();
    expect(samples.map((s) => [s.cpu, Buffer.from(s.data).toString('hex')])).toEqual([
      [0, 'cdab000000000000'],
      [0, 'cdab0e0f1011'],
    ]);
  });

  it('ring buffer records written by a program are read back in order, discarded ones skipped', () => {
    const { p, maps } = load(
      `r6 = 1
     again: r1 = map_fd(rb) ll
       r2 = r6
       r3 = 0
       call 131
       if r0 == 0 goto out
       *(u8 *)(r0 + 0) = r6
       r1 = r0
       r2 = 0
       r7 = r6
       r7 &= 1
       if r7 == 0 goto discard
       call 132
       goto next
     discard: call 133
     next: r6 += 1
       if r6 < 600 goto again
     out:
       r0 = r6
       exit`,
      { maps: { rb: ms(MapType.RINGBUF, 0, 0, 4096) } },
    );
    const rb = maps.rb as RingBufMap;
    let seen = 0;
    for (let run = 0; run < 3; run++) {
      const stop = Number(p.run().r0);
      const recs = rb.read();
      expect(recs.every((r) => r.length % 2 === 1 && r[0] === (r.length & 0xff))).toBe(true);
      seen += recs.length;
      expect(stop).toBeGreaterThan(1);
    }
    expect(seen).toBeGreaterThan(20);
    expect(rb.query(0)).toBe(0);
  });
});

describe('stacks from the host', () => {
  it('bpf_get_stack copies the host stack; bpf_get_stackid files it in a stack trace map', () => {
    const kernelStack = [0xffffffff81000010n, 0xffffffff81000020n, 0xffffffff81000030n];
    const userStack = [0x401000n, 0x402000n];
    const { p, maps } = load(
      `r6 = r1
       r1 = r6
       r2 = r10
       r2 += -32
       r3 = 32
       r4 = 0x100
       call 67
       r7 = r0
       r1 = r6
       r2 = map_fd(st) ll
       r3 = 0
       call 27
       r1 = r6
       r2 = map_fd(st) ll
       r3 = 0x100
       call 27
       r1 = r6
       r2 = map_fd(st) ll
       r3 = 0
       call 27
       r0 = *(u64 *)(r10 - 32)
       r7 <<= 32
       r0 |= r7
       exit`,
      { type: ProgType.KPROBE, env: { kernelStack, userStack }, maps: { st: ms(MapType.STACK_TRACE, 4, 32, 16) } },
    );
    // 16 bytes of user stack copied; its first address.
    expect(p.run({ ctx: new Uint8Array(8) }).r0).toBe((16n << 32n) | 0x401000n);
    const st = maps.st!;
    const stacks: string[] = [];
    for (let k = st.nextKey(); k; k = st.nextKey(k)) stacks.push(Buffer.from(st.lookup(k)!).toString('hex'));
    // The kernel stack filed once (the same stack gives the same id), the user stack once.
    expect(stacks.sort()).toEqual(
      ['0010400000000000002040000000000000000000000000000000000000000000', '10000081ffffffff20000081ffffffff30000081ffffffff0000000000000000'].sort(),
    );
  });
});

describe('program kinds and their inputs', () => {
  it('refuse bad test-run input with the kernel errno', () => {
    const skb = load('r0 = 1\nexit', { type: ProgType.SOCKET_FILTER }).p;
    const errno = (f: () => unknown) => {
      try {
        f();
      } catch (e) {
        return (e as BpfErrnoError).errnoName;
      }
      return 'ok';
    };
    expect(errno(() => skb.testRun({ data: new Uint8Array(10) }))).toBe('EINVAL');
    expect(errno(() => skb.testRun({ data: packet(20) }))).toBe('EINVAL');
    expect(errno(() => skb.testRun({ data: packet(60), ctx: Uint8Array.of(1) }))).toBe('EINVAL');
    expect(errno(() => skb.testRun({ data: packet(60), ctx: new Uint8Array(200).fill(1, 195) }))).toBe('E2BIG');
    const xdp = load('r0 = 2\nexit', { type: ProgType.XDP }).p;
    expect(errno(() => xdp.testRun({ data: packet(3521) }))).toBe('EINVAL');
    expect(errno(() => xdp.testRun({ data: packet(3520) }))).toBe('ok');
    expect(errno(() => load('r0 = 1\nexit').p.testRun({ ctx: new Uint8Array(4) }))).toBe('EINVAL');
    expect(errno(() => load('r0 = 1\nexit', { type: ProgType.KPROBE }).p.testRun({ data: new Uint8Array(4) }))).toBe('EINVAL');
  });

  it('raw programs get r1 = memory (0 without) and r2 = its length; the memory comes back in data_out', () => {
    const { p } = load('r0 = r2\nr0 <<= 32\nr0 |= r1\nif r1 == 0 goto out\nr3 = 0x41\n*(u8 *)(r1 + 1) = r3\nout: exit');
    const none = p.run();
    expect(none.r0).toBe(0n);
    const r = p.run({ data: new Uint8Array(3) });
    expect(r.r0 >> 32n).toBe(3n);
    expect([...r.dataOut]).toEqual([0, 0x41, 0]);
  });

  it('repeat runs the program n times and reports the mean duration', () => {
    const { p } = load('r1 = map_fd(c) ll\nr2 = r10\nr2 += -4\nr3 = 0\n*(u32 *)(r10 - 4) = r3\ncall 1\nr1 = 1\nlock *(u64 *)(r0 + 0) += r1\nexit', {
      maps: { c: ms(MapType.ARRAY, 4, 8, 1) },
    });
    const r = p.testRun({ repeat: 25 });
    expect(r.duration).toBeGreaterThanOrEqual(0);
  });
});

describe('maps from user space', () => {
  it('refuse misuse with errno-named errors', () => {
    const vm = new Vm();
    const h = vm.createMap(ms(MapType.HASH, 4, 8, 1));
    expect(() => h.update(new Uint8Array(3), new Uint8Array(8))).toThrow(/key of map '' must be 4 bytes, got 3/);
    expect(() => h.update(new Uint8Array(4), new Uint8Array(7))).toThrow(BpfErrnoError);
    h.update(new Uint8Array(4), new Uint8Array(8));
    expect(() => h.update(Uint8Array.of(1, 0, 0, 0), new Uint8Array(8))).toThrow(/E2BIG/);
    h.close();
    expect(() => h.lookup(new Uint8Array(4))).toThrow(/EBADF|closed/);
    expect(() => vm.createMap(ms(MapType.CGROUP_STORAGE, 4, 8, 1))).toThrow(/not supported by the VM/);
  });
});
