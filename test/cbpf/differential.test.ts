/**
 * Issue 2, Must show #3: programs produced by `tcpdump -ddd -y LINKTYPE EXPR`
 * for 200+ varied expressions; the interpreter's and the JIT's verdicts equal
 * libpcap's pcap_offline_filter() on every packet of every file of the
 * tcpdump-tests corpus with that link type (EN10MB, LINUX_SLL, RAW, NULL,
 * IEEE802_11_RADIO). Programs and verdicts come from the same libpcap, so
 * every packet must agree, return value included. The batch JIT runs over
 * the file's bytes as read, the packets found by src/capture's reader; the
 * wasm JIT over a WasmPackets copy of them.
 */
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { WasmPackets, interpreter, jit, jitBatch, jitWasm, type CbpfInsn } from '../../src/cbpf/index.js';
import { libpcapCompile, libpcapVerdicts, tcpdumpCompileMany } from '../support/libpcap.js';
import { CORPUS } from '../support/paths.js';
import { EXPRESSIONS } from './expressions.js';
import { loadPacketsOf } from './packets.js';

interface IndexRow {
  file: string;
  linktype: string;
  packets: number;
}

function corpusIndex(): IndexRow[] {
  const lines = readFileSync(resolve(CORPUS, 'index.tsv'), 'utf8').trim().split('\n');
  const header = lines[0]!.split('\t');
  const col = (name: string): number => header.indexOf(name);
  return lines.slice(1).map((l) => {
    const f = l.split('\t');
    return { file: f[col('file')]!, linktype: f[col('linktype')]!, packets: Number(f[col('packets')]) };
  });
}

/**
 * `tcpdump -ddd -y LT EXPR` for every expression tcpdump accepts for the link
 * type. (libpcap's pcap_compile in the harness, with tcpdump's parameters,
 * first weeds out the expressions the link type does not support, to spare
 * process spawns; tcpdump's programs must equal its programs.)
 */
function compileAll(linkType: string): { expr: string; program: CbpfInsn[] }[] {
  const viaLibpcap = libpcapCompile(EXPRESSIONS, { linkType, snaplen: 262144, optimize: true, netmask: '0.0.0.0' });
  const candidates = EXPRESSIONS.filter((_, i) => viaLibpcap[i]!.ok);
  const programs = tcpdumpCompileMany(candidates, linkType);
  const out: { expr: string; program: CbpfInsn[] }[] = [];
  candidates.forEach((expr, i) => {
    const prog = programs[i];
    expect(prog, `tcpdump -ddd -y ${linkType} '${expr}'`).toBeDefined();
    const lib = viaLibpcap[EXPRESSIONS.indexOf(expr)]!;
    expect(lib.ok && prog).toEqual(lib.ok ? lib.program : undefined);
    out.push({ expr, program: prog! });
  });
  return out;
}

const LINK_TYPES: { name: string; minPrograms: number }[] = [
  { name: 'EN10MB', minPrograms: 200 },
  { name: 'LINUX_SLL', minPrograms: 150 },
  { name: 'RAW', minPrograms: 100 },
  { name: 'NULL', minPrograms: 100 },
  { name: 'IEEE802_11_RADIO', minPrograms: 150 },
];

describe('interpreter and JIT verdicts equal libpcap on the tcpdump-tests corpus', () => {
  const index = corpusIndex();
  for (const lt of LINK_TYPES) {
    it(`${lt.name}`, () => {
      const rows = index.filter((r) => r.linktype === lt.name);
      expect(rows.length).toBeGreaterThan(0);
      const programs = compileAll(lt.name);
      expect(programs.length).toBeGreaterThanOrEqual(lt.minPrograms);
      const files = rows.map((r) => resolve(CORPUS, r.file));
      const verdicts = libpcapVerdicts(files, programs.map((p) => ({ program: p.program })));
      const jits = programs.map((p) => jit(p.program));
      const batches = programs.map((p) => jitBatch(p.program));
      const wasms = programs.map((p) => jitWasm(p.program));
      const interps = programs.map((p) => interpreter(p.program));
      let compared = 0;
      let accepted = 0;
      let filesCompared = 0;
      const { packets: allPackets, buffers } = loadPacketsOf(files);
      const failures: string[] = [];
      for (let f = 0; f < files.length; f++) {
        const v = verdicts[f]!;
        if (v.openError) continue; // libpcap cannot read it: nothing to compare
        const packets = allPackets[f]!;
        // libpcap stops at damage; compare the packets it filtered.
        expect(packets.length, `${rows[f]!.file}: packet count`).toBeGreaterThanOrEqual(v.packetCount);
        filesCompared++;
        const batch = {
          buffer: buffers[f]!,
          offsets: Uint32Array.from(packets.slice(0, v.packetCount), (p) => p.data.byteOffset - buffers[f]!.byteOffset),
          caplens: Uint32Array.from(packets.slice(0, v.packetCount), (p) => p.data.length),
          wireLengths: Uint32Array.from(packets.slice(0, v.packetCount), (p) => p.wireLength),
        };
        const out = new Uint32Array(v.packetCount);
        const store = WasmPackets.from(batch);
        for (let p = 0; p < programs.length; p++) {
          const expected = v.results[p];
          if (!Array.isArray(expected)) throw new Error(`libpcap could not run ${programs[p]!.expr}: ${JSON.stringify(expected)}`);
          const j = jits[p]!;
          const it = interps[p]!;
          batches[p]!(batch, out);
          wasms[p]!(store, true);
          const w = store.verdicts();
          for (let i = 0; i < v.packetCount; i++) {
            const pkt = packets[i]!;
            const e = expected[i]! >>> 0;
            const a = it(pkt.data, pkt.wireLength);
            const b = j(pkt.data, pkt.wireLength);
            compared++;
            if (e !== 0) accepted++;
            if (a !== e || b !== e || out[i] !== e || w[i] !== e) {
              failures.push(`${rows[f]!.file} packet ${i + 1}, '${programs[p]!.expr}': libpcap ${e}, interpreter ${a}, JIT ${b}, batch JIT ${out[i]}, wasm ${w[i]}`);
            }
          }
        }
      }
      expect(failures.slice(0, 10)).toEqual([]);
      expect(filesCompared).toBeGreaterThan(0);
      expect(compared).toBeGreaterThan(1000);
      expect(accepted).toBeGreaterThan(0);
      console.log(`${lt.name}: ${programs.length} programs × ${filesCompared} files = ${compared} verdicts (${accepted} accepts) all equal libpcap's`);
    });
  }
});
