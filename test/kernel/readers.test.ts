/**
 * Ring buffer and perf buffer readers against records the kernel produces:
 * raw_tracepoint programs test-run with BPF_PROG_TEST_RUN call
 * bpf_ringbuf_output / bpf_ringbuf_reserve+submit/discard /
 * bpf_perf_event_output. Every record arrives, in order, discarded ones are
 * skipped, nothing is lost under normal load and losses are reported when the
 * ring is forced full; readers run on the event loop without blocking it, in
 * both wait modes; closing releases every fd and mapping.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MapType } from '../../src/ebpf/types.js';
import { onlineCpus } from '../../src/kernel/cpus.js';
import { KernelError } from '../../src/kernel/errors.js';
import { openFds } from '../../src/kernel/fd.js';
import { createMap, type KernelMap } from '../../src/kernel/map.js';
import { PerfBufReader, type PerfBufRecord } from '../../src/kernel/perfbuf.js';
import { loadProgram, type KernelProgram } from '../../src/kernel/program.js';
import { RingBufReader } from '../../src/kernel/ringbuf.js';
import { CAN_BPF, SKIP_REASON, countFds, nothingLeft } from './support/kernel.js';
import { perfOutputProgram, producerArgs, ringbufOutputProgram, ringbufReserveProgram } from './support/producers.js';

const d = describe.skipIf(!CAN_BPF);
if (!CAN_BPF) describe('ring and perf buffer readers', () => it.skip(SKIP_REASON, () => {}));

const seq = (rec: Uint8Array) => Number(new DataView(rec.buffer, rec.byteOffset, rec.byteLength).getBigUint64(0, true));

d('ring buffer reader', () => {
  let rb: KernelMap;
  let out: KernelProgram;
  let reserve: KernelProgram;
  beforeAll(() => {
    rb = createMap({ name: 'test_rb', type: MapType.RINGBUF, keySize: 0, valueSize: 0, maxEntries: 1 << 18, flags: 0 });
    out = loadProgram(ringbufOutputProgram('rb'), { maps: { rb } });
    reserve = loadProgram(ringbufReserveProgram('rb'), { maps: { rb } });
  });
  afterAll(() => {
    out.close();
    reserve.close();
    rb.close();
  });

  it('delivers every record, in order, with its size; nothing lost under normal load', () => {
    const r = new RingBufReader(rb);
    try {
      const got: number[] = [];
      for (const size of [8, 13, 40, 63]) {
        const refused = out.testRun({ ctx: producerArgs(500, size) }).retval;
        expect(refused).toBe(0);
        const recs = r.read();
        expect(recs.every((x) => x.length === size)).toBe(true);
        got.push(...recs.map(seq));
      }
      expect(got).toEqual([0, 1, 2, 3].flatMap(() => Array.from({ length: 500 }, (_, i) => i)));
      expect(r.pending).toBe(0);
    } finally {
      r.close();
    }
  });

  it('skips records the program discarded, keeps the submitted ones in order', () => {
    const r = new RingBufReader(rb);
    try {
      expect(reserve.testRun({ ctx: producerArgs(300, 16, 3) }).retval).toBe(0);
      const recs = r.read();
      expect(recs.map(seq)).toEqual(Array.from({ length: 300 }, (_, i) => i).filter((i) => i % 3 !== 0));
      expect(r.discarded).toBe(100);
      // The submitted records carry what the program wrote after the sequence number.
      expect(recs.every((x) => x.length === 16 && new DataView(x.buffer, x.byteOffset).getUint32(8, true) === 0x5a5a5a5a)).toBe(true);
    } finally {
      r.close();
    }
  });

  it('when forced full, the program sees refusals and the reader gets exactly the rest', () => {
    const small = createMap({ name: 'test_rb_small', type: MapType.RINGBUF, keySize: 0, valueSize: 0, maxEntries: 4096, flags: 0 });
    const prog = loadProgram(ringbufOutputProgram('rb'), { maps: { rb: small } });
    const r = new RingBufReader(small);
    try {
      const refused = prog.testRun({ ctx: producerArgs(1000, 32) }).retval;
      expect(refused).toBeGreaterThan(0);
      const recs = r.read();
      expect(recs.length + refused).toBe(1000);
      expect(recs.map(seq)).toEqual(Array.from({ length: recs.length }, (_, i) => i));
      // Space is free again once read.
      expect(prog.testRun({ ctx: producerArgs(10, 32) }).retval).toBe(0);
      expect(r.read().map(seq)).toEqual(Array.from({ length: 10 }, (_, i) => i));
    } finally {
      r.close();
      prog.close();
      small.close();
    }
  });

  for (const mode of ['poll', 'epoll'] as const) {
    it(`async iterator (${mode} mode) gets every record while the event loop keeps running`, async () => {
      const r = new RingBufReader(rb, { mode });
      let ticks = 0;
      const timer = setInterval(() => ticks++, 1);
      try {
        const rounds = 6;
        const per = 400;
        // Produce from timers while the iterator waits.
        let produced = 0;
        const producer = setInterval(() => {
          if (produced < rounds) {
            produced++;
            out.testRun({ ctx: producerArgs(per, 24) });
          }
        }, 5);
        const got: number[] = [];
        for await (const rec of r) {
          got.push(seq(rec));
          if (got.length === rounds * per) break;
        }
        clearInterval(producer);
        expect(got).toEqual(Array.from({ length: rounds }, () => Array.from({ length: per }, (_, i) => i)).flat());
        expect(ticks).toBeGreaterThan(5);
      } finally {
        clearInterval(timer);
        r.close();
      }
    });
  }

  it('a reader on a map that is not a ring buffer is refused before anything is opened', () => {
    const fds = countFds();
    const h = createMap({ name: 'not_rb', type: MapType.HASH, keySize: 4, valueSize: 4, maxEntries: 1, flags: 0 });
    try {
      expect(() => new RingBufReader(h)).toThrow(/is not a ring buffer/);
      expect(() => new PerfBufReader(h)).toThrow(/is not a perf event array/);
    } finally {
      h.close();
    }
    expect(countFds()).toBe(fds);
  });

  it('closing releases the epoll and eventfd fds and the mappings', async () => {
    const fds = countFds();
    const engine = openFds().length;
    for (let i = 0; i < 5; i++) {
      const r = new RingBufReader(rb, { mode: 'epoll' });
      r.start(() => {});
      await new Promise((res) => setTimeout(res, 5));
      r.close();
    }
    await new Promise((res) => setTimeout(res, 20));
    expect(openFds().length).toBe(engine);
    expect(countFds()).toBe(fds);
  });
});

d('perf buffer reader', () => {
  let pm: KernelMap;
  let prog: KernelProgram;
  const cpus = onlineCpus();
  beforeAll(() => {
    pm = createMap({ name: 'test_perf', type: MapType.PERF_EVENT_ARRAY, keySize: 4, valueSize: 4, maxEntries: Math.max(...cpus) + 1, flags: 0 });
    prog = loadProgram(perfOutputProgram('pb'), { maps: { pb: pm } });
  });
  afterAll(() => {
    prog.close();
    pm.close();
  });

  it('one ring per CPU: records from each CPU arrive on its ring, in order, none lost', () => {
    const r = new PerfBufReader(pm, { pages: 16 });
    try {
      for (const cpu of cpus) expect(prog.testRun({ ctx: producerArgs(300, 20), cpu }).retval).toBe(0);
      const recs = r.read();
      expect(r.lost).toBe(0);
      for (const cpu of cpus) {
        const mine = recs.filter((x): x is { cpu: number; data: Uint8Array } => 'data' in x && x.cpu === cpu);
        expect(mine.map((x) => seq(x.data))).toEqual(Array.from({ length: 300 }, (_, i) => i));
        // Raw samples are padded so that size + 4 is a multiple of 8.
        expect(mine.every((x) => x.data.length === 20)).toBe(true);
      }
    } finally {
      r.close();
    }
  });

  it('records that wrap around the end of a ring come out whole', () => {
    const r = new PerfBufReader(pm, { pages: 1, cpus: [0] });
    try {
      const got: number[] = [];
      // 4096-byte ring, 72-byte records (8 header + 4 size + 60 data): many wraps over 20 rounds.
      for (let round = 0; round < 20; round++) {
        expect(prog.testRun({ ctx: producerArgs(37, 60), cpu: 0 }).retval).toBe(0);
        for (const x of r.read()) if ('data' in x) got.push(seq(x.data));
      }
      expect(got).toEqual(Array.from({ length: 20 }, () => Array.from({ length: 37 }, (_, i) => i)).flat());
    } finally {
      r.close();
    }
  });

  it('forced full: the kernel reports lost samples, the count matches what the program saw refused', () => {
    const r = new PerfBufReader(pm, { pages: 1, cpus: [0] });
    try {
      const refused = prog.testRun({ ctx: producerArgs(1000, 60), cpu: 0 }).retval;
      expect(refused).toBeGreaterThan(0);
      const first = r.read();
      // The LOST record is written when the ring next has room: before the next sample.
      expect(prog.testRun({ ctx: producerArgs(1, 60), cpu: 0 }).retval).toBe(0);
      const second = r.read();
      const lost = second.filter((x): x is { cpu: number; lost: number } => 'lost' in x);
      expect(lost).toEqual([{ cpu: 0, lost: refused }]);
      expect(r.lost).toBe(refused);
      expect(first.length + refused).toBe(1000);
    } finally {
      r.close();
    }
  });

  for (const mode of ['poll', 'epoll'] as const) {
    it(`async iterator (${mode} mode) over all CPUs`, async () => {
      const r = new PerfBufReader(pm, { pages: 64, mode });
      try {
        setTimeout(() => {
          for (const cpu of cpus) prog.testRun({ ctx: producerArgs(200, 8), cpu });
        }, 10);
        const got: PerfBufRecord[] = [];
        for await (const rec of r) {
          got.push(rec);
          if (got.length === 200 * cpus.length) break;
        }
        for (const cpu of cpus) {
          const mine = got.filter((x) => x.cpu === cpu && 'data' in x) as { cpu: number; data: Uint8Array }[];
          expect(mine.map((x) => seq(x.data))).toEqual(Array.from({ length: 200 }, (_, i) => i));
        }
      } finally {
        r.close();
      }
    });
  }

  it('a failure half way through opening the rings releases the rings already open', () => {
    const fds = countFds();
    // The map has room for the online CPUs only: asking for one more fails after the others are open.
    const tooMany = [...cpus, Math.max(...cpus) + 1];
    expect(() => new PerfBufReader(pm, { pages: 2, cpus: tooMany })).toThrow(/too few for CPU/);
    expect(() => new PerfBufReader(pm, { pages: 3 })).toThrow(/power of two/);
    // A CPU that does not exist: perf_event_open fails after the rings of the real CPUs are open.
    const wide = createMap({ name: 'test_perf_wide', type: MapType.PERF_EVENT_ARRAY, keySize: 4, valueSize: 4, maxEntries: 1001, flags: 0 });
    try {
      expect(() => new PerfBufReader(wide, { pages: 2, cpus: [...cpus, 1000] })).toThrow(KernelError);
      expect(() => new PerfBufReader(wide, { pages: 2, cpus: [...cpus, 1000] })).toThrow(/perf_event_open \(perf buffer test_perf_wide cpu 1000, pid -1, cpu 1000\)/);
      for (const cpu of cpus) expect(() => wide.delete(new Uint8Array([cpu, 0, 0, 0]))).toThrow(expect.objectContaining({ errnoName: 'ENOENT' }));
    } finally {
      wide.close();
    }
    expect(countFds()).toBe(fds);
    for (const cpu of cpus) expect(() => pm.delete(new Uint8Array([cpu, 0, 0, 0]))).toThrow(expect.objectContaining({ errnoName: 'ENOENT' }));
  });

  it('closing releases every perf event fd, mapping and map entry', () => {
    const fds = countFds();
    const r = new PerfBufReader(pm, { pages: 2 });
    expect(countFds()).toBe(fds + cpus.length + 2);
    r.close();
    expect(countFds()).toBe(fds);
    // The map's entries were removed too: deleting again finds nothing.
    for (const cpu of cpus) expect(() => pm.delete(new Uint8Array([cpu, 0, 0, 0]))).toThrow(expect.objectContaining({ errnoName: 'ENOENT' }));
  });
});

describe.skipIf(!CAN_BPF)('afterwards', () => {
  // The last describe of the file: every test above and its cleanup hooks have run.
  it('nothing the tests made is left: no engine fd, no BPF or perf fd, no bpffs mount', () => {
    expect(nothingLeft()).toEqual({ engineFds: [], processFds: [], mounts: [] });
  });
});
