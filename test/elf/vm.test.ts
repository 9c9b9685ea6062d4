/**
 * Engine integration: the VM loads the CollectionSpec of each fixture (maps
 * created, globals initialised, prog array and map-in-map initialisers
 * applied, relocations resolved) and its test runs give the same return
 * values and output packets as BPF_PROG_TEST_RUN in the kernel on the same
 * object loaded by libbpf, run for run in the same order (so map and global
 * state evolve the same way).
 */
import { describe, expect, it } from 'vitest';
import { ProgType } from '../../src/ebpf/types.js';
import { loadCollectionSpec } from '../../src/elf/index.js';
import { Vm } from '../../src/vm/index.js';
import { compileFixture, HAVE_CLANG, HAVE_CLANG19, IS_ROOT, runOracle } from './support.js';

const hex = (s: string) => Buffer.from(s.replace(/\s/g, ''), 'hex');

/** Ethernet/IPv4/UDP and friends, and packets too short for the programs' checks. */
const PACKETS = [
  hex('00112233445566778899aabb 0800 4500001c000000004011000000000000000000000000 0000000000000000'),
  hex('ffffffffffff020000000001 86dd 6000000000083a40 00000000000000000000000000000001 00000000000000000000000000000002 8000000000000000'),
  hex('0a0b0c0d0e0f101112131415 0806 0001080006040001'),
  hex('0102030405060708090a0b0c0d'),
  Buffer.alloc(300, 0x5a),
];

const RUNNABLE = new Set<number>([ProgType.SOCKET_FILTER, ProgType.SCHED_CLS, ProgType.SCHED_ACT, ProgType.XDP]);

describe.skipIf(!HAVE_CLANG || !IS_ROOT)('ELF collections in the VM vs the kernel', () => {
  it.each([
    ['net', 'clang'],
    ['legacy', 'clang'],
    ['externs', 'clang'], // .kconfig values and a kallsyms address reach the program (built without its kfunc)
    ...(HAVE_CLANG19 ? [['net', 'clang-19']] : []), // ISA v4 (-mcpu=v4)
  ])('%s.bpf.c from %s: same test-run results, run for run', (fixture, cc) => {
    const obj =
      cc === 'clang'
        ? compileFixture(fixture, fixture === 'externs' ? { flags: ['-DNO_KFUNC'], variant: 'nokfunc' } : {})
        : compileFixture(fixture, { cc, flags: ['-mcpu=v4'], variant: 'clang19-v4' });
    const spec = loadCollectionSpec(obj);
    const runs: [string, Uint8Array][] = [];
    for (const pkt of PACKETS) for (const p of Object.values(spec.programs)) if (RUNNABLE.has(p.type)) runs.push([p.name, pkt]);
    const o = runOracle(obj, { runs });
    expect(o.loaded).toBe(true);
    const vm = new Vm();
    const c = vm.loadCollection(spec);
    expect(Object.keys(c.maps).sort()).toEqual(Object.keys(spec.maps).sort());
    runs.forEach(([name, data], i) => {
      const k = o.runs[i]!;
      if (k.rc !== 0) {
        // The kernel refused the input (e.g. EINVAL for a packet shorter than an Ethernet header): so must the VM.
        expect(() => c.programs[name]!.testRun({ data }), `${name} on packet ${i % PACKETS.length}`).toThrow(
          expect.objectContaining({ errno: -k.rc }) as unknown as Error,
        );
        return;
      }
      const r = c.programs[name]!.testRun({ data });
      expect({ retval: r.retval, data: Buffer.from(r.dataOut).toString('hex') }, `${name} on packet ${i % PACKETS.length}`).toEqual({
        retval: k.retval,
        data: k.data_out,
      });
    });
    expect(o.runs.filter((r) => r.rc === 0).length).toBeGreaterThanOrEqual(4);
  });

  it('globals set before load reach the program', () => {
    const spec = loadCollectionSpec(compileFixture('net'));
    const before = new Vm().loadCollection(loadCollectionSpec(compileFixture('net'))).programs.sock_len!.testRun({ data: PACKETS[0]! }).retval;
    spec.variables.min_len!.set(1000); // longer than any packet: sock_len returns 0
    const after = new Vm().loadCollection(spec).programs.sock_len!.testRun({ data: PACKETS[0]! }).retval;
    expect(before).not.toBe(0);
    expect(after).toBe(0);
  });
});
