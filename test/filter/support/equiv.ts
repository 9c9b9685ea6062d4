/**
 * Equivalence of two classic programs, judged by src/cbpf's interpreter on
 * the corpus packets of the link type plus packets synthesised to drive the
 * paths of both programs, through test/support/equivalence.ts.
 */
import type { CbpfProgram } from '../../../src/cbpf/insn.js';
import { interpret, interpreter, type PacketMeta } from '../../../src/cbpf/index.js';
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
  const synthesised = [
    ...synthesize(expected, corpus.slice(0, 20), budget),
    ...synthesize(actual, corpus.slice(0, 5), Math.floor(budget / 3), 7),
  ];
  return [...corpus, ...synthesised, ...truncations(expected, actual, synthesised)];
}

/** offset + size of every absolute packet load (ld/ldh/ldb [k], ldxb 4*([k]&0xf)) of a program. */
export function loadEnds(prog: CbpfProgram): number[] {
  const ends = new Set<number>();
  for (const ins of prog) {
    const cls = ins.code & 7;
    const mode = ins.code & 0xe0;
    const size = (ins.code & 0x18) === 0 ? 4 : (ins.code & 0x18) === 8 ? 2 : 1;
    if (cls === 0 && mode === 0x20 && (ins.k | 0) >= 0) ends.add((ins.k >>> 0) + size);
    if (cls === 1 && mode === 0xa0) ends.add((ins.k >>> 0) + 1);
  }
  return [...ends];
}

/**
 * Accepted packets cut one byte short of each absolute load of either program: where one
 * program reads a field with a wider load than the other (libpcap's DECnet destination test
 * reads flags and address as one 4-byte word), only a packet ending inside that load tells
 * them apart, and path-driving search grows packets to fit every load, so never finds it.
 */
export function truncations(expected: CbpfProgram, actual: CbpfProgram, packets: Uint8Array[], limit = 32): Uint8Array[] {
  const ends = [...new Set([...loadEnds(expected), ...loadEnds(actual)])];
  const runE = interpreter(expected), runA = interpreter(actual);
  const out: Uint8Array[] = [];
  let taken = 0;
  for (const p of packets) {
    if (taken >= limit) break;
    if (runE(p) === 0 && runA(p) === 0) continue;
    taken++;
    for (const e of ends) if (e - 1 < p.length) out.push(p.subarray(0, e - 1));
  }
  return out;
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
