/**
 * Round trips: read → write → read gives identical packets, lengths and
 * timestamps, for pcap (both byte orders, µs and ns) and pcapng (both byte
 * orders), over every file of the corpus. And libpcap reads what we wrote
 * exactly as it reads the original.
 */
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import {
  CaptureWriteError,
  FileSink,
  MemorySink,
  PcapWriter,
  PcapngWriter,
  encodePcap,
  encodePcapng,
  readCaptureSync,
} from '../../src/capture/index.js';
import type { Packet, ParsedCapture } from '../../src/capture/index.js';
import { libpcapPacketsOf } from '../support/libpcap.js';
import { TMP } from '../support/paths.js';
import { concat, epb, idb, payload, shb } from './build.js';
import { corpus } from './corpus.js';
import { samePackets } from './compare.js';

const OUT = resolve(TMP, 'capture-roundtrip');
mkdirSync(OUT, { recursive: true });

const entries = corpus();
const fitsPcap = (r: ParsedCapture): boolean =>
  r.packets.every((p) => p.seconds >= 0 && p.seconds <= 0xffffffff) && new Set(r.packets.map((p) => p.linkType)).size <= 1;

describe('read → write → read', () => {
  it('gives the same packets for every corpus file, in pcap (LE/BE, µs/ns) and pcapng (LE/BE)', () => {
    const problems: string[] = [];
    let checked = 0;
    for (const e of entries) {
      const r = readCaptureSync(readFileSync(e.path));
      const variants: [string, () => Uint8Array][] = [
        ['pcapng le', () => encodePcapng(r.packets)],
        ['pcapng be', () => encodePcapng(r.packets, { byteOrder: 'be' })],
      ];
      if (fitsPcap(r)) {
        const base = { linkType: r.info.linkType, snaplen: r.interfaces[0]!.effectiveSnaplen };
        variants.push(
          ['pcap le us-or-ns', () => encodePcap(r.packets, { ...base, precision: r.info.precision })],
          ['pcap be ns', () => encodePcap(r.packets, { ...base, precision: 'ns', byteOrder: 'be' })],
        );
        // Microseconds hold the timestamps exactly when the input had no finer digits.
        if (r.packets.every((p) => p.nanos % 1000 === 0)) {
          variants.push(['pcap be us', () => encodePcap(r.packets, { ...base, precision: 'us', byteOrder: 'be' })]);
        }
      }
      for (const [name, encode] of variants) {
        const bytes = encode();
        if (r.packets.length === 0) continue; // no packets: a pcapng writer has nothing to describe
        const back = readCaptureSync(bytes);
        if (!samePackets(r.packets, back.packets)) problems.push(`${e.file} (${name})`);
        if (name.startsWith('pcap ') && back.info.precision !== (name.includes('us') && !name.includes('or') ? 'us' : name.includes('ns') && !name.includes('or') ? 'ns' : r.info.precision)) {
          problems.push(`${e.file} (${name}): precision ${back.info.precision}`);
        }
        checked++;
      }
    }
    expect(problems).toEqual([]);
    expect(checked).toBeGreaterThan(3000);
  });

  it('libpcap reads our pcap and pcapng files as it reads the originals', () => {
    const originals: string[] = [];
    const written: string[] = [];
    for (const e of entries) {
      const r = readCaptureSync(readFileSync(e.path));
      if (r.packets.length === 0) continue;
      // libpcap 1.10 reads pcapng with one link type per file and times below 2^32 s in pcap.
      const single = new Set(r.packets.map((p) => p.linkType)).size === 1;
      if (!single) continue;
      // NFLOG, Linux USB and SocketCAN-in-SLL keep some header fields in the writing host's byte
      // order; libpcap swaps them when the file's order is not the host's. We keep packet bytes
      // as stored, so those files are written in their own byte order only.
      const hostOrderHeaders = [239, 189, 220, 113].includes(r.info.linkType);
      const ng = resolve(OUT, `${e.file}.ng.pcapng`);
      const flip = (order: 'le' | 'be'): 'le' | 'be' => (hostOrderHeaders ? r.info.byteOrder : order);
      writeFileSync(ng, encodePcapng(r.packets, { byteOrder: flip(e.file.length % 2 ? 'be' : 'le') }));
      originals.push(e.path);
      written.push(ng);
      if (fitsPcap(r)) {
        const pc = resolve(OUT, `${e.file}.out.pcap`);
        writeFileSync(
          pc,
          encodePcap(r.packets, {
            linkType: r.info.linkType,
            snaplen: r.interfaces[0]!.effectiveSnaplen,
            precision: r.info.precision,
            byteOrder: flip(e.file.length % 2 ? 'le' : 'be'),
          }),
        );
        originals.push(e.path);
        written.push(pc);
      }
    }
    const a = libpcapPacketsOf(originals);
    const b = libpcapPacketsOf(written);
    const problems: string[] = [];
    a.forEach((orig, i) => {
      const ours = b[i]!;
      if (ours.error !== undefined) problems.push(`${written[i]}: ${ours.error}`);
      const key = (c: typeof orig): string =>
        c.packets.map((p) => `${p.seconds >>> 0}.${p.nanos}/${p.wireLength}/${Buffer.from(p.data).toString('hex')}`).join('\n');
      // Fractions >= 1 s (timestamp_invalid_*) are normalised by our reader: compare the instants.
      if (orig.packets.some((p) => p.nanos >= 1e9 || p.nanos < 0)) return;
      if (key(orig) !== key(ours) || orig.linkType !== ours.linkType) problems.push(written[i]!);
    });
    expect(problems).toEqual([]);
    expect(written.length).toBeGreaterThan(1500);
  });

  it('keeps interfaces apart: several link types and sections in, the same out (pcapng), refused by pcap', () => {
    const file = concat(
      shb(true),
      idb(true, 1, 1000, [[2, new TextEncoder().encode('eth0')]]),
      idb(true, 113, 2000),
      epb(true, 0, 10n, payload(1, 100)),
      epb(true, 1, 20n, payload(2, 50)),
      shb(false),
      idb(false, 1, 3000),
      epb(false, 0, 30n, payload(3, 70)),
    );
    const r = readCaptureSync(file);
    const sink = new MemorySink();
    const w = new PcapngWriter(sink);
    for (const p of r.packets) w.write(p);
    w.flush();
    const back = readCaptureSync(sink.bytes());
    // One section out: the interface numbers change, nothing else.
    expect(samePackets(r.packets, back.packets, { interfaceIds: false })).toBe(true);
    // Three distinct interfaces (two sections' interface 0 stay apart), with their link types and snaplens.
    expect(back.interfaces.map((i) => [i.linkType, i.snaplen, i.name])).toEqual([
      [1, 1000, 'eth0'],
      [113, 2000, undefined],
      [1, 3000, undefined],
    ]);
    expect(back.packets.map((p) => p.interfaceId)).toEqual([0, 1, 2]);
    const pcap = new PcapWriter(new MemorySink(), { linkType: 1 });
    pcap.write(r.packets[0]!);
    expect(() => pcap.write(r.packets[1]!)).toThrow(CaptureWriteError);
  });

  it('writes through a file sink, flushing what was written', async () => {
    const path = resolve(OUT, 'flush.pcap');
    const w = new PcapWriter(new FileSink(path), { linkType: 1, precision: 'ns' });
    const packets: Packet[] = [];
    for (let i = 0; i < 3000; i++) {
      packets.push({ data: payload(i, 600), wireLength: 600, seconds: 1_700_000_000 + i, nanos: i * 333, linkType: 1, interfaceId: 0 });
    }
    for (const p of packets) w.write(p);
    w.flush();
    // What was flushed is a valid capture already, before close().
    expect(readCaptureSync(readFileSync(path)).packets.length).toBe(3000);
    await w.close();
    expect(samePackets(packets, readCaptureSync(readFileSync(path)).packets)).toBe(true);
    expect(() => w.write(packets[0]!)).toThrow(CaptureWriteError);
  });

  it('refuses timestamps a pcap file cannot hold', () => {
    const w = new PcapWriter(new MemorySink(), { linkType: 1 });
    expect(() => w.write({ data: new Uint8Array(1), wireLength: 1, seconds: 2 ** 32, nanos: 0, linkType: 1, interfaceId: 0 })).toThrow(
      /does not fit a pcap file/,
    );
  });
});
