/**
 * Packets that end inside a load. Where libpcap reads a field with a wider
 * or narrower load than another program does, only a packet cut short inside
 * that load tells the two apart; path-driving synthesis grows every packet to
 * fit each load it meets, so the equivalence harness also tries each accepted
 * packet cut one byte short of each load (support/equiv.ts, truncations).
 *
 * The cases: libpcap's current gencode (the accept.jsonl expectations) reads a
 * DECnet short header's flags and destination with one 4-byte load, and an
 * MTP3 DPC with a 2-byte load, where Debian's libpcap 1.10.3 uses a byte and a
 * 2-byte load (DECnet) and a 4-byte load (DPC). bpfkit follows the former.
 */
import { spawnSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { interpret, parseDDD } from '../../src/cbpf/index.js';
import { compile } from '../../src/filter/compile.js';
import { assemble, fixtureResolver, loadJsonl, type AcceptCase } from './support/cases.js';
import { compare } from './support/equiv.js';

const HAVE_TCPDUMP = spawnSync('tcpdump', ['--version']).status === 0;

function frame(len: number, bytes: Record<number, number>): Uint8Array {
  const p = new Uint8Array(len);
  for (const [off, v] of Object.entries(bytes)) if (Number(off) < len) p[Number(off)] = v;
  return p;
}

// DECnet (EthernetII 0x6003), node 50.764 = 0xcafc, little-endian on the wire.
const DN = { 12: 0x60, 13: 0x03 };
const dnShort = { ...DN, 16: 0x02, 17: 0xfc, 18: 0xca };
const dnPadded = { ...DN, 16: 0x81, 17: 0x02, 18: 0xfc, 19: 0xca };
// MTP2 with an MSU routing label: LI at 2 (> 2), DPC 0x31d6 in bytes 4-5.
const mtp3 = { 2: 0x3f, 4: 0xd6, 5: 0x31 };

const CASES: { dlt: string; expr: string; packets: Uint8Array[]; tcpdumpDiffers: boolean }[] = [
  { dlt: 'EN10MB', expr: 'decnet dst host 50.764', packets: [frame(19, dnShort), frame(20, dnShort), frame(19, dnPadded), frame(20, dnPadded)], tcpdumpDiffers: true },
  { dlt: 'EN10MB', expr: 'decnet dst 50.764', packets: [frame(19, dnShort), frame(20, dnShort), frame(20, dnPadded)], tcpdumpDiffers: true },
  // With `host`, the source test's 2-byte load at 19 already rejects the short frame in both.
  { dlt: 'EN10MB', expr: 'decnet host 50.764', packets: [frame(19, dnShort), frame(20, dnShort), frame(21, dnShort), frame(20, dnPadded)], tcpdumpDiffers: false },
  { dlt: 'MTP2', expr: 'dpc 0x31d6', packets: [frame(6, mtp3), frame(7, mtp3), frame(8, mtp3)], tcpdumpDiffers: true },
];

describe('packets ending inside a load', () => {
  const accept = loadJsonl<AcceptCase>('accept.jsonl');
  for (const c of CASES) {
    it(`${c.dlt} '${c.expr}': same verdicts as libpcap's expected programs on the cut-short packets`, () => {
      const expectedCases = accept.filter((a) => a.dlt === c.dlt && a.expr === c.expr);
      expect(expectedCases.map((a) => a.optimize).sort()).toEqual([false, true]);
      for (const a of expectedCases) {
        const expected = assemble(a.expected);
        const ours = compile(c.expr, { linkType: c.dlt, optimize: a.optimize, resolver: fixtureResolver });
        expect(ours.length, `${a.name}: no longer than libpcap`).toBeLessThanOrEqual(expected.length);
        const accepted = c.packets.filter((p) => interpret(expected, p) !== 0);
        expect(accepted.length, `${a.name}: some of the packets are accepted`).toBeGreaterThan(0);
        for (const p of c.packets) {
          expect(interpret(ours, p), `${a.name} on ${Buffer.from(p).toString('hex')}`).toBe(interpret(expected, p));
        }
        // The harness of the accept tests finds no difference either.
        expect(compare(expected, ours, c.packets, { budget: 60 })).toBeUndefined();
      }
    });
  }

  it.skipIf(!HAVE_TCPDUMP)("the packets do tell libpcap 1.10.3's loads from the current ones, and the harness sees it", () => {
    for (const c of CASES) {
      const expected = assemble(accept.find((a) => a.dlt === c.dlt && a.expr === c.expr && a.optimize)!.expected);
      const r = spawnSync('tcpdump', ['-y', c.dlt, '-ddd', '--', c.expr], { encoding: 'utf8' });
      expect(r.status, r.stderr).toBe(0);
      const debian = parseDDD(r.stdout);
      // A later Debian libpcap with the current gencode: nothing left to tell apart.
      if (JSON.stringify(debian) === JSON.stringify(expected)) continue;
      const differs = c.packets.some((p) => interpret(debian, p) !== interpret(expected, p));
      expect(differs, `${c.dlt} '${c.expr}'`).toBe(c.tcpdumpDiffers);
      // Without being handed the packets, the equivalence harness finds the difference itself.
      expect(compare(expected, debian, [], { budget: 60 }) !== undefined, `${c.dlt} '${c.expr}' harness`).toBe(c.tcpdumpDiffers);
    }
  });
});
