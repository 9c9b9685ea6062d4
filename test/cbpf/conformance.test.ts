/**
 * libpcap's own filter tests (../shared/conformance/libpcap/apply.jsonl):
 * each expression compiled by the installed libpcap for its savefile (as
 * TESTrun does), then run by bpfkit's interpreter, JIT and batch JIT on the
 * packets bpfkit's reader finds. Every result must equal the installed
 * libpcap's own pcap_offline_filter() value, and the value recorded in the
 * suite (libpcap 1.11) wherever the installed libpcap 1.10's compiler makes
 * the same decision (a few expressions compile differently in 1.10, e.g.
 * `dpc != 0`; those are counted and listed). The 10 apply-fixtures cases
 * need resolver fixtures in /etc and are left to the filter compiler's tests.
 */
import { resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { interpret, jit, jitBatch } from '../../src/cbpf/index.js';
import { libpcapCompileOffline, libpcapVerdicts } from '../support/libpcap.js';
import { loadJsonl, type ApplyCase } from '../support/libpcap-tables.js';
import { LIBPCAP_CONFORMANCE } from '../support/paths.js';
import { loadPacketsOf } from './packets.js';

const cases = loadJsonl<ApplyCase>('apply.jsonl');

describe('libpcap apply.jsonl', () => {
  it('every recorded verdict, on every engine', () => {
    // Group by (savefile, optimize, netmask) to compile each group in one harness run.
    const groups = new Map<string, ApplyCase[]>();
    for (const c of cases) {
      const key = `${c.savefile}\t${c.optimize}\t${c.netmask ?? '-'}`;
      (groups.get(key) ?? groups.set(key, []).get(key)!).push(c);
    }
    let verdicts = 0;
    const versionDifferences: string[] = [];
    let checkedCases = 0;
    const failures: string[] = [];
    for (const [key, group] of groups) {
      const [savefile, optimize, netmask] = key.split('\t') as [string, string, string];
      const path = resolve(LIBPCAP_CONFORMANCE, savefile);
      const opts = { optimize: optimize === 'true', netmask };
      const compiled = libpcapCompileOffline(path, group.map((c) => c.expr), opts);
      const installed = libpcapVerdicts([path], group.map((c) => ({ expression: c.expr })), opts)[0]!;
      const { packets: [packets], buffers: [buffer] } = loadPacketsOf([path]);
      const batch = {
        buffer: buffer!,
        offsets: Uint32Array.from(packets!, (p) => p.data.byteOffset - buffer!.byteOffset),
        caplens: Uint32Array.from(packets!, (p) => p.data.length),
        wireLengths: Uint32Array.from(packets!, (p) => p.wireLength),
      };
      group.forEach((c, i) => {
        const r = compiled[i]!;
        if (!r.ok) {
          // An expression newer than the installed libpcap (1.10).
          versionDifferences.push(`${c.name} (not in 1.10: ${r.error})`);
          return;
        }
        if (packets!.length !== c.results.length) {
          failures.push(`${c.name}: ${packets!.length} packets read, ${c.results.length} expected`);
          return;
        }
        const mine = installed.results[i];
        if (!Array.isArray(mine)) {
          failures.push(`${c.name}: the harness could not run '${c.expr}'`);
          return;
        }
        const sameAsSuite = mine.every((v, j) => v >>> 0 === c.results[j]! >>> 0);
        if (!sameAsSuite) versionDifferences.push(c.name);
        const f = jit(r.program);
        const out = new Uint32Array(packets!.length);
        jitBatch(r.program)(batch, out);
        packets!.forEach((p, j) => {
          const want = mine[j]! >>> 0;
          const a = interpret(r.program, p.data, p.wireLength);
          const b = f(p.data, p.wireLength);
          if (a !== want || b !== want || out[j] !== want) failures.push(`${c.name} packet ${j + 1}: want ${want}, interpreter ${a}, JIT ${b}, batch ${out[j]}`);
          verdicts++;
        });
        checkedCases++;
      });
    }
    expect(failures.slice(0, 10)).toEqual([]);
    expect(checkedCases + versionDifferences.filter((v) => v.includes('not in 1.10')).length).toBe(cases.length);
    // Where libpcap 1.10 cannot compile an expression or compiles it differently
    // from 1.11; all the others give exactly the suite's values.
    const notIn110 = versionDifferences.filter((v) => v.includes('not in 1.10')).length;
    const agreeing = checkedCases - (versionDifferences.length - notIn110);
    console.log(`apply.jsonl: ${cases.length} cases; ${checkedCases} compiled by libpcap 1.10 (${verdicts} verdicts, all equal); ` +
      `${agreeing} of them give the suite's values, ${versionDifferences.length - notIn110} compile differently; ${notIn110} are newer than 1.10`);
    expect(agreeing).toBeGreaterThan(250);
  });
});
