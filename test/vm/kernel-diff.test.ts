/**
 * The VM against the running kernel: thousands of random socket-filter, tc
 * and XDP programs (random-programs.ts) loaded with BPF_PROG_LOAD and run
 * with BPF_PROG_TEST_RUN, each also run in the VM on the same packet and
 * context with the same maps: the return value, the output packet, the
 * output context and the maps' contents must be equal (or both runs refused
 * with the same errno).
 */
import { describe, expect, it } from 'vitest';
import type { MapHandle, TestRunResult } from '../../src/ebpf/engine.js';
import type { ProgramSpec } from '../../src/ebpf/spec.js';
import { ProgType } from '../../src/ebpf/types.js';
import { createMap, hasBpfCapabilities, loadProgram, VerifierError } from '../../src/kernel/index.js';
import { Vm } from '../../src/vm/index.js';
import { IS_ROOT } from '../support/paths.js';
import { GEN_MAPS, randomProgram, type GenKind } from './random-programs.js';

const CAN_BPF = IS_ROOT && hasBpfCapabilities();
const TYPES: Record<GenKind, ProgType> = { socket: ProgType.SOCKET_FILTER, tc: ProgType.SCHED_CLS, xdp: ProgType.XDP };
const PER_KIND = 1000;

const hex = (b: Uint8Array | undefined): string => (b ? Buffer.from(b).toString('hex') : '-');

function outcome(run: () => TestRunResult): string {
  try {
    const r = run();
    return `retval ${r.retval} data ${hex(r.dataOut)} ctx ${hex(r.ctxOut)}`;
  } catch (e) {
    const name = (e as { errnoName?: string }).errnoName;
    if (name) return `error ${name}`;
    throw e;
  }
}

/** A map's entries, sorted (hash iteration order is the engine's own). */
function contents(m: MapHandle): string {
  const rows: string[] = [];
  for (let k = m.nextKey(); k; k = m.nextKey(k)) rows.push(`${hex(k)}=${hex(m.lookup(k))}`);
  return rows.sort().join(' ');
}

describe.skipIf(!CAN_BPF)('random programs: VM vs kernel BPF_PROG_TEST_RUN', () => {
  for (const kind of ['socket', 'tc', 'xdp'] as GenKind[]) {
    it(`${PER_KIND} random ${kind} programs give the kernel's results`, () => {
      let accepted = 0;
      let refused = 0;
      const divergences: string[] = [];
      for (let i = 0; i < PER_KIND; i++) {
        const seed = 0x5eed0000 + i * 31 + kind.length;
        const g = randomProgram(seed, kind);
        const spec: ProgramSpec = { name: 'rand', type: TYPES[kind], license: 'GPL', instructions: g.insns, references: g.references };
        const kmaps = Object.fromEntries(Object.entries(GEN_MAPS).map(([n, s]) => [n, createMap(s)]));
        try {
          let kprog;
          try {
            kprog = loadProgram(spec, { maps: kmaps });
          } catch (e) {
            if (!(e instanceof VerifierError)) throw e;
            refused++;
            continue;
          }
          accepted++;
          const input = { data: g.data, ...(g.ctx ? { ctx: g.ctx } : {}) };
          const k = outcome(() => kprog.testRun(input));
          kprog.close();
          const vm = new Vm();
          const vmaps = Object.fromEntries(Object.entries(GEN_MAPS).map(([n, s]) => [n, vm.createMap(s)]));
          const v = outcome(() => vm.loadProgram(spec, vmaps).testRun(input));
          const km = Object.keys(GEN_MAPS).map((n) => `${n}: ${contents(kmaps[n]!)}`).join('; ');
          const vmm = Object.keys(GEN_MAPS).map((n) => `${n}: ${contents(vmaps[n]!)}`).join('; ');
          if (k !== v || km !== vmm) divergences.push(`seed ${seed}:\n  kernel ${k}\n         ${km}\n  vm     ${v}\n         ${vmm}`);
        } finally {
          for (const m of Object.values(kmaps)) m.close();
        }
      }
      console.log(`${kind}: ${accepted} programs accepted by the kernel and compared, ${refused} refused, ${divergences.length} divergences`);
      expect(divergences.slice(0, 3)).toEqual([]);
      expect(accepted).toBeGreaterThanOrEqual(PER_KIND * 0.9);
    }, 300_000);
  }
});
