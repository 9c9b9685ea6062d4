/**
 * Semantic equivalence of two classic programs: do they give the same verdict
 * on every packet? This first version runs both on the packets it is given;
 * it will also synthesise packets that drive every path of the reference
 * program (by solving its branch conditions), so that equivalence does not
 * depend on what a corpus happens to contain.
 */
import type { CbpfProgram } from '../../src/cbpf/insn.js';

export interface Verdicts {
  run(prog: CbpfProgram, pkt: Uint8Array, wireLength: number): number;
}

export interface Divergence {
  packet: Uint8Array;
  wireLength: number;
  expected: number;
  actual: number;
}

/** The first packet on which `actual` and `expected` disagree, or undefined. */
export function findDivergence(
  vm: Verdicts,
  expected: CbpfProgram,
  actual: CbpfProgram,
  packets: Iterable<{ data: Uint8Array; wireLength: number }>,
): Divergence | undefined {
  for (const p of packets) {
    const e = vm.run(expected, p.data, p.wireLength);
    const a = vm.run(actual, p.data, p.wireLength);
    if (e !== a) return { packet: p.data, wireLength: p.wireLength, expected: e, actual: a };
  }
  return undefined;
}
