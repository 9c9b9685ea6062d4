/**
 * Equivalence of two classic programs, judged by src/cbpf's interpreter on
 * the corpus packets of the link type plus packets synthesised to drive the
 * paths of both programs, through test/support/equivalence.ts.
 */
import type { CbpfProgram } from '../../../src/cbpf/insn.js';
import { interpret, type PacketMeta } from '../../../src/cbpf/index.js';
import { findDivergence, type Divergence } from '../../support/equivalence.js';
import { synthesize } from './synth.js';

const METAS: (PacketMeta | undefined)[] = [
  undefined,
  { vlanPresent: true, vlanTci: 10, pktType: 4, ifindex: 1 },
  { vlanPresent: false, vlanTci: 0xa00a, pktType: 0, ifindex: 2 },
];

export interface Mismatch extends Divergence {
  meta: PacketMeta | undefined;
}

export function packetsFor(expected: CbpfProgram, actual: CbpfProgram, corpus: Uint8Array[], budget = 120): Uint8Array[] {
  return [
    ...corpus,
    ...synthesize(expected, corpus.slice(0, 20), budget),
    ...synthesize(actual, corpus.slice(0, 5), Math.floor(budget / 3), 7),
  ];
}

/** The first packet (and metadata) on which the programs disagree, or undefined. */
export function compare(
  expected: CbpfProgram,
  actual: CbpfProgram,
  corpus: Uint8Array[],
  opts: { budget?: number; linuxExt?: boolean } = {},
): Mismatch | undefined {
  const packets = packetsFor(expected, actual, corpus, opts.budget).map((data) => ({ data, wireLength: data.length }));
  for (const meta of opts.linuxExt ? METAS : [undefined]) {
    const vm = { run: (p: CbpfProgram, pkt: Uint8Array, wl: number) => interpret(p, pkt, wl, meta) };
    const d = findDivergence(vm, expected, actual, packets);
    if (d) return { ...d, meta };
  }
  return undefined;
}
