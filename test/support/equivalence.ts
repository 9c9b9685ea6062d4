/**
 * Semantic equivalence of two classic programs: do they give the same verdict
 * on every packet?
 *
 * `checkEquivalence` runs both programs through src/cbpf's interpreter on the
 * packets it is given (a corpus, savefiles) and then on packets synthesised
 * by src/cbpf/synth.ts to drive every path of both programs at once: the
 * synthesiser executes the two programs symbolically over the packet bytes,
 * the wire length and (Linux mode) the socket metadata, and solves each
 * branch condition, load boundary and divisor test the other way, so that
 * every pair of paths a packet can take through the two programs is tried,
 * with the out-of-bounds boundary of every load from both sides. The answer
 * does not depend on what a corpus happens to contain.
 *
 * `findDivergence` is the plain comparison over given packets.
 */
import type { CbpfProgram } from '../../src/cbpf/insn.js';
import { interpret } from '../../src/cbpf/interpret.js';
import type { PacketMeta } from '../../src/cbpf/meta.js';
import { synthesize, type SynthResult } from '../../src/cbpf/synth.js';

export interface Verdicts {
  run(prog: CbpfProgram, pkt: Uint8Array, wireLength: number): number;
}

export interface Divergence {
  packet: Uint8Array;
  wireLength: number;
  expected: number;
  actual: number;
  /** Set when the programs differ under Linux semantics with this metadata. */
  meta?: PacketMeta;
  /** Where the packet came from. */
  source?: 'given' | 'synthesised' | 'synthesised-linux';
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

export interface EquivalenceOptions {
  /** Packets to judge by besides the synthesised ones (and to start synthesis from). */
  packets?: Iterable<{ data: Uint8Array; wireLength?: number }>;
  /** Metadata to run the given packets with under Linux semantics (besides libpcap's, without metadata). */
  metas?: readonly PacketMeta[];
  /**
   * Also synthesise under Linux socket-filter semantics (ancillary loads,
   * metadata chosen by the synthesiser). Default false.
   */
  linux?: boolean;
  /** Synthesis budget in packets, per semantics (default 1500). */
  maxPackets?: number;
  /** Synthesis budget in solver calls, per semantics (default 6000). */
  maxFlips?: number;
  /** How many of the given packets seed the synthesis (default 40, spread over the list). */
  seeds?: number;
}

export interface EquivalenceReport {
  divergence?: Divergence;
  /** Packets compared: given, and synthesised (both semantics). */
  given: number;
  synthesised: number;
  /** Distinct path pairs reached, and whether synthesis reached all of them within budget. */
  paths: number;
  complete: boolean;
}

function spread<T>(list: T[], n: number): T[] {
  if (list.length <= n) return list;
  const step = list.length / n;
  return Array.from({ length: n }, (_, i) => list[Math.floor(i * step)]!);
}

/** Compare two programs on the given packets and on packets synthesised to drive every path of both. */
export function equivalenceReport(expected: CbpfProgram, actual: CbpfProgram, options: EquivalenceOptions = {}): EquivalenceReport {
  const given = [...(options.packets ?? [])].map((p) => ({ data: p.data, wireLength: p.wireLength ?? p.data.length }));
  const report: EquivalenceReport = { given: given.length, synthesised: 0, paths: 0, complete: true };
  for (const meta of [undefined, ...(options.metas ?? [])]) {
    for (const p of given) {
      const e = interpret(expected, p.data, p.wireLength, meta);
      const a = interpret(actual, p.data, p.wireLength, meta);
      if (e !== a) {
        report.divergence = { packet: p.data, wireLength: p.wireLength, expected: e, actual: a, source: 'given', ...(meta ? { meta } : {}) };
        return report;
      }
    }
  }
  const seeds = spread(given, options.seeds ?? 40);
  for (const linux of options.linux ? [false, true] : [false]) {
    let found: Divergence | undefined;
    const r: SynthResult = synthesize([expected, actual], {
      linux,
      seeds,
      maxPackets: options.maxPackets ?? 1500,
      maxFlips: options.maxFlips ?? 6000,
      onPacket: (p) => {
        const e = interpret(expected, p.data, p.wireLength, p.meta);
        const a = interpret(actual, p.data, p.wireLength, p.meta);
        if (e === a) return true;
        found = {
          packet: p.data, wireLength: p.wireLength, expected: e, actual: a,
          source: linux ? 'synthesised-linux' : 'synthesised', ...(p.meta ? { meta: p.meta } : {}),
        };
        return false;
      },
    });
    report.synthesised += r.packets.length;
    report.paths += r.paths;
    report.complete &&= r.complete;
    if (found) {
      report.divergence = found;
      return report;
    }
  }
  return report;
}

/** The first packet (given or synthesised) on which the programs disagree, or undefined. */
export function checkEquivalence(expected: CbpfProgram, actual: CbpfProgram, options: EquivalenceOptions = {}): Divergence | undefined {
  return equivalenceReport(expected, actual, options).divergence;
}

/** A divergence as one line: verdicts, packet bytes (hex, shortened), wire length, metadata. */
export function describeDivergence(d: Divergence): string {
  const hex = Buffer.from(d.packet).toString('hex');
  const meta = d.meta
    ? ` meta ${JSON.stringify({ ...d.meta, random: undefined })}`
    : '';
  return `expected ${d.expected}, actual ${d.actual} on ${d.source ?? 'a'} packet of ${d.packet.length} bytes ` +
    `(wire ${d.wireLength}) ${hex.length > 160 ? hex.slice(0, 160) + '…' : hex}${meta}`;
}
