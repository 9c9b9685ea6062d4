/** Equivalence of two classic programs on corpus and synthesised packets (test/filter private). */
import type { CbpfProgram } from '../../../src/cbpf/insn.js';
import { runFilter, type Meta } from './interp.js';
import { synthesize } from './synth.js';

export interface Mismatch {
  packet: Uint8Array;
  meta: Meta;
  expected: number;
  actual: number;
}

const METAS: Meta[] = [
  {},
  { vlanTagPresent: 1, vlanTag: 10, pktType: 4, ifindex: 1 },
  { vlanTagPresent: 1, vlanTag: 0xa00a, pktType: 0, ifindex: 2 },
];

export function compare(expected: CbpfProgram, actual: CbpfProgram, corpus: Uint8Array[], opts: { budget?: number; metas?: boolean } = {}): Mismatch | undefined {
  const packets = [...corpus, ...synthesize(expected, corpus.slice(0, 20), opts.budget ?? 120), ...synthesize(actual, corpus.slice(0, 5), Math.floor((opts.budget ?? 120) / 3), 7)];
  const metas = opts.metas ? METAS : [METAS[0]!];
  for (const meta of metas) {
    for (const p of packets) {
      const e = runFilter(expected, p, p.length, meta);
      const a = runFilter(actual, p, p.length, meta);
      if (e !== a) return { packet: p, meta, expected: e, actual: a };
    }
  }
  return undefined;
}
