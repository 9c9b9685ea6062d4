/**
 * The libpcap conformance tables and the packets to judge programs by:
 * loading the JSONL cases, turning `expected` program text back into
 * instructions, and collecting corpus packets per link type.
 */
import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import type { CbpfInsn, CbpfProgram } from '../../../src/cbpf/insn.js';
import { DLT } from '../../../src/filter/linktypes.js';
import { fileResolver } from '../../../src/filter/names/resolver.js';
import { CORPUS, LIBPCAP_CONFORMANCE } from '../../support/paths.js';
import { readSavefile } from './savefile.js';

export interface AcceptCase {
  name: string;
  dlt: string;
  expr: string;
  optimize: boolean;
  snaplen: number | null;
  netmask: string | null;
  linux_ext: boolean;
  generate_offline_filter: null | 'unswapped' | 'swapped';
  expected: string;
  needs?: string[];
}

export interface RejectCase {
  name: string;
  dlt: string;
  expr: string;
  optimize: boolean;
  netmask: string | null;
  error: string;
  needs?: string[];
}

export { loadJsonl, type ApplyCase } from '../../support/libpcap-tables.js';

export const fixtureResolver = fileResolver({
  hosts: join(LIBPCAP_CONFORMANCE, 'fixtures/hosts'),
  ethers: join(LIBPCAP_CONFORMANCE, 'fixtures/ethers'),
  networks: join(LIBPCAP_CONFORMANCE, 'fixtures/networks'),
});

const OPS: Record<string, number> = {
  ld: 0x00, ldh: 0x08, ldb: 0x10, add: 0x04, sub: 0x14, mul: 0x24, div: 0x34, mod: 0x94, and: 0x54, or: 0x44,
  xor: 0xa4, lsh: 0x64, rsh: 0x74, jeq: 0x15, jgt: 0x25, jge: 0x35, jset: 0x45,
};
const ANC: Record<string, number> = { proto: 0, type: 4, ifidx: 8, nla: 12, nlan: 16, mark: 20, queue: 24, hatype: 28, rxhash: 32, cpu: 36, vlan_tci: 44, vlanp: 48, poff: 52, rand: 56, vlan_tpid: 60 };

/** Assemble libpcap's `bpf_dump(prog, 1)` text (tcpdump -d). */
export function assemble(text: string): CbpfProgram {
  const out: CbpfInsn[] = [];
  for (const line of text.split('\n')) {
    if (!line.trim()) continue;
    const m = /^\((\d+)\)\s+(\S+)\s*(.*?)\s*$/.exec(line);
    if (!m) throw new Error(`bad line: ${line}`);
    const pc = Number(m[1]);
    const op = m[2]!;
    let rest = m[3]!;
    let jt = 0, jf = 0;
    const jm = /^(.*?)\s+jt (\d+)\s+jf (\d+)$/.exec(rest);
    if (jm) {
      rest = jm[1]!.trim();
      jt = Number(jm[2]) - pc - 1;
      jf = Number(jm[3]) - pc - 1;
    }
    const num = (s: string): number => (s.startsWith('0x') ? parseInt(s.slice(2), 16) : Number(s)) >>> 0;
    let code: number, k = 0;
    let r: RegExpExecArray | null;
    if (op === 'ret') {
      if (rest === '' || rest === 'a') code = 0x16;
      else {
        code = 0x06;
        k = num(rest.slice(1));
      }
    } else if (op === 'tax') code = 0x07;
    else if (op === 'txa') code = 0x87;
    else if (op === 'neg') code = 0x84;
    else if (op === 'ja') {
      code = 0x05;
      k = (Number(rest) - pc - 1) >>> 0;
    } else if (op === 'ldxb') {
      code = 0xb1;
      k = num(/\[(\d+)\]/.exec(rest)![1]!);
    } else if (op === 'st' || op === 'stx') {
      code = op === 'st' ? 0x02 : 0x03;
      k = num(/M\[(\d+)\]/.exec(rest)![1]!);
    } else if (op === 'ldx') {
      if ((r = /^M\[(\d+)\]$/.exec(rest))) [code, k] = [0x61, num(r[1]!)];
      else if (rest === '#pktlen') code = 0x81;
      else [code, k] = [0x01, num(rest.slice(1))];
    } else if (op === 'ld' || op === 'ldh' || op === 'ldb') {
      const sz = OPS[op]!;
      if ((r = /^M\[(\d+)\]$/.exec(rest))) [code, k] = [0x60, num(r[1]!)];
      else if (rest === '#pktlen') code = 0x80;
      else if (rest.startsWith('#')) [code, k] = [0x00, num(rest.slice(1))];
      else if ((r = /^\[x \+ (\d+)\]$/.exec(rest))) [code, k] = [0x40 | sz, num(r[1]!)];
      else if ((r = /^\[(\d+)\]$/.exec(rest))) [code, k] = [0x20 | sz, num(r[1]!)];
      else if ((r = /^\[(\w+)\]$/.exec(rest)) && ANC[r[1]!] !== undefined) [code, k] = [0x20 | sz, (-0x1000 + ANC[r[1]!]!) >>> 0];
      else throw new Error(`bad load: ${line}`);
    } else if (OPS[op] !== undefined) {
      code = OPS[op]!;
      if (rest === 'x') code |= 0x08;
      else k = num(rest.replace(/^#/, ''));
    } else throw new Error(`bad op: ${line}`);
    out.push({ code, jt, jf, k });
  }
  return out;
}

/** At most `limit` packets of a list, spread evenly over it (deterministic). */
export function sample<T>(list: T[], limit: number): T[] {
  if (list.length <= limit) return list;
  const step = list.length / limit;
  return Array.from({ length: limit }, (_, i) => list[Math.floor(i * step)]!);
}

/** Corpus packets grouped by DLT value (the corpus index names each file's link type). */
let corpusCache: Map<number, Uint8Array[]> | undefined;
export function corpusPackets(): Map<number, Uint8Array[]> {
  if (corpusCache) return corpusCache;
  const byDlt = new Map<number, Uint8Array[]>();
  const index = readFileSync(join(CORPUS, 'index.tsv'), 'utf8').split('\n').slice(1);
  for (const row of index) {
    const [file, , linktype] = row.split('\t');
    if (!file || !linktype) continue;
    const dlt = DLT[linktype];
    if (dlt === undefined) continue;
    try {
      const sf = readSavefile(join(CORPUS, file));
      const list = byDlt.get(dlt) ?? [];
      for (const p of sf.packets) list.push(p.data);
      byDlt.set(dlt, list);
    } catch {}
  }
  const dir = join(LIBPCAP_CONFORMANCE, 'savefiles/filter');
  for (const f of readdirSync(dir)) {
    try {
      const sf = readSavefile(join(dir, f));
      const dlt = linktypeToDlt(sf.linkType);
      const list = byDlt.get(dlt) ?? [];
      for (const p of sf.packets) list.push(p.data);
      byDlt.set(dlt, list);
    } catch {}
  }
  corpusCache = byDlt;
  return byDlt;
}

/** LINKTYPE_ values that differ from DLT_ values. */
export function linktypeToDlt(lt: number): number {
  const map: Record<number, number> = { 101: DLT.RAW!, 102: DLT.SLIP_BSDOS!, 103: DLT.PPP_BSDOS!, 107: DLT.FRELAY!, 108: DLT.LOOP!, 12: DLT.RAW! };
  return map[lt] ?? lt;
}
