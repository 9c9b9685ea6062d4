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
 * And libpcap's optimiser, which takes loads as never failing, tests all the
 * source fields of a many-address `host NAME` before any destination field:
 * its optimised program accepts an IPv4 frame that ends between the two
 * fields and whose source is the second address; its unoptimised one does not.
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

// IPv4 from 192.168.242.4, the second address of the fixture host, cut short before/inside ip.dst.
const ip4 = { 12: 0x08, 13: 0x00, 26: 192, 27: 168, 28: 242, 29: 4 };
const HOSTX4 = 'host eth-ipv4x4-noipv6.host357.libpcap.test';

const CASES: { file?: string; dlt: string; expr: string; packets: Uint8Array[]; tcpdumpDiffers?: boolean }[] = [
  { dlt: 'EN10MB', expr: 'decnet dst host 50.764', packets: [frame(19, dnShort), frame(20, dnShort), frame(19, dnPadded), frame(20, dnPadded)], tcpdumpDiffers: true },
  { dlt: 'EN10MB', expr: 'decnet dst 50.764', packets: [frame(19, dnShort), frame(20, dnShort), frame(20, dnPadded)], tcpdumpDiffers: true },
  // With `host`, the source test's 2-byte load at 19 already rejects the short frame in both.
  { dlt: 'EN10MB', expr: 'decnet host 50.764', packets: [frame(19, dnShort), frame(20, dnShort), frame(21, dnShort), frame(20, dnPadded)], tcpdumpDiffers: false },
  { dlt: 'MTP2', expr: 'dpc 0x31d6', packets: [frame(6, mtp3), frame(7, mtp3), frame(8, mtp3)], tcpdumpDiffers: true },
  { file: 'accept-fixtures.jsonl', dlt: 'EN10MB', expr: HOSTX4, packets: [frame(30, ip4), frame(33, ip4), frame(34, ip4)] },
  { file: 'accept-fixtures.jsonl', dlt: 'EN10MB', expr: `src or dst ${HOSTX4}`, packets: [frame(33, ip4), frame(34, ip4)] },
];

describe('packets ending inside a load', () => {
  const tables = new Map<string, AcceptCase[]>();
  const table = (file = 'accept.jsonl'): AcceptCase[] => {
    if (!tables.has(file)) tables.set(file, loadJsonl<AcceptCase>(file));
    return tables.get(file)!;
  };
  for (const c of CASES) {
    it(`${c.dlt} '${c.expr}': same verdicts as libpcap's expected programs on the cut-short packets`, () => {
      const expectedCases = table(c.file).filter((a) => a.dlt === c.dlt && a.expr === c.expr);
      if (c.expr.startsWith('src or dst')) {
        // Not in the tables: the same program as plain `host NAME` in libpcap (same qualifier).
        const base = table(c.file).filter((a) => a.dlt === c.dlt && a.expr === HOSTX4);
        expectedCases.push(...base);
      }
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

  it("the cut-short IPv4 frame tells libpcap's optimised many-address host program from its unoptimised one", () => {
    const both = table('accept-fixtures.jsonl').filter((a) => a.dlt === 'EN10MB' && a.expr === HOSTX4);
    const opt = assemble(both.find((a) => a.optimize)!.expected);
    const unopt = assemble(both.find((a) => !a.optimize)!.expected);
    expect(interpret(opt, frame(33, ip4))).not.toBe(0);
    expect(interpret(unopt, frame(33, ip4))).toBe(0);
    expect(interpret(unopt, frame(34, ip4))).not.toBe(0);
  });

  it.skipIf(!HAVE_TCPDUMP)("the packets do tell libpcap 1.10.3's loads from the current ones, and the harness sees it", () => {
    for (const c of CASES) {
      if (c.tcpdumpDiffers === undefined) continue;
      const expected = assemble(table(c.file).find((a) => a.dlt === c.dlt && a.expr === c.expr && a.optimize)!.expected);
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
