/**
 * Running libpcap's accept tables: compile each case as libpcap did and
 * check that bpfkit's program is semantically equivalent to libpcap's (same
 * verdict on a spread of the corpus packets of its link type and libpcap's
 * savefiles, and on packets synthesised to drive the paths of both programs).
 */
import { expect } from 'vitest';
import { compile } from '../../../src/filter/compile.js';
import { resolveLinkType } from '../../../src/filter/linktypes.js';
import { assemble, corpusPackets, fixtureResolver, loadJsonl, sample, type AcceptCase } from './cases.js';
import { compare } from './equiv.js';

/** What a table's run measured (the equivalence itself is asserted in runAccept). */
export interface AcceptStats {
  cases: number;
  /** Cases whose program is equivalent to libpcap's. */
  pass: number;
  /** Σ instructions over the passing cases, bpfkit's and libpcap's. */
  ours: number;
  theirs: number;
  /** Passing cases where bpfkit's program is longer than libpcap's. */
  longer: number;
  /** Passing cases where bpfkit's program is libpcap's, instruction for instruction. */
  identical: number;
}

function sameProgram(a: readonly { code: number; jt: number; jf: number; k: number }[], b: typeof a): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) {
    const x = a[i]!, y = b[i]!;
    if (x.code !== y.code || x.jt !== y.jt || x.jf !== y.jf || x.k >>> 0 !== y.k >>> 0) return false;
  }
  return true;
}

export function runAccept(file: string, optimize: boolean): AcceptStats {
  const cases = loadJsonl<AcceptCase>(file).filter((c) => c.optimize === optimize && c.expr !== '_enumerate_bpf_image');
  const corpus = corpusPackets();
  const failures: string[] = [];
  let ours = 0, theirs = 0, longer = 0, pass = 0, identical = 0;
  for (const c of cases) {
    let prog;
    try {
      prog = compile(c.expr, {
        linkType: c.dlt, optimize: c.optimize, snaplen: c.snaplen ?? undefined, netmask: c.netmask ?? undefined,
        linuxExt: c.linux_ext, offline: c.generate_offline_filter ?? false, resolver: fixtureResolver,
      });
    } catch (e) {
      failures.push(`${c.name} [${c.dlt}] ${c.expr}: ${(e as Error).message}`);
      continue;
    }
    const expected = assemble(c.expected);
    // A spread of the corpus (the differential test runs all of it) plus path-driving packets.
    const m = compare(expected, prog, sample(corpus.get(resolveLinkType(c.dlt)) ?? [], 250), { linuxExt: c.linux_ext, budget: 60 });
    if (m) {
      failures.push(`${c.name} [${c.dlt}] ${c.expr}: libpcap ${m.expected}, bpfkit ${m.actual} on ${Buffer.from(m.packet).toString('hex').slice(0, 96)}`);
      continue;
    }
    pass++;
    ours += prog.length;
    theirs += expected.length;
    if (prog.length > expected.length) longer++;
    if (sameProgram(prog, expected)) identical++;
  }
  const line =
    `${file} ${optimize ? 'optimised' : 'unoptimised'}: ${pass}/${cases.length} equivalent; ` +
    `instructions bpfkit/libpcap ${ours}/${theirs} = ${(ours / theirs).toFixed(3)}, longer in ${longer}, ` +
    `identical to libpcap's in ${identical}`;
  console.log(`filter conformance summary: ${line}`);
  expect(failures.slice(0, 20)).toEqual([]);
  return { cases: cases.length, pass, ours, theirs, longer, identical };
}

