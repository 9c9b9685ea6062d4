/**
 * Reading the whole tcpdump-tests corpus: every file reads without an error
 * (in memory, and streamed in chunks small enough to cut records), with the
 * packet count, link type and snaplen of index.tsv, and every packet equal to
 * what libpcap itself reads (data, caplen, wire length, timestamp to the
 * nanosecond) via the libpcap test harness.
 */
import { createReadStream, readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { BATCH_CAPACITY, CaptureReader, PacketBatch, readCaptureSync } from '../../src/capture/index.js';
import type { Packet } from '../../src/capture/index.js';
import { libpcapPacketsOf } from '../support/libpcap.js';
import { samePackets } from './compare.js';
import { corpus } from './corpus.js';

const entries = corpus();

describe('tcpdump-tests corpus', () => {
  it('has the 830 files the README describes', () => {
    expect(entries.length).toBe(830);
  });

  it('every file reads in memory with index.tsv packet count, link type, snaplen and format', () => {
    const problems: string[] = [];
    for (const e of entries) {
      try {
        const r = readCaptureSync(readFileSync(e.path), { name: e.file });
        const fmt = e.format.startsWith('pcapng') ? 'pcapng' : 'pcap';
        const order = e.format.endsWith('-be') ? 'be' : 'le';
        const got = [r.packets.length, r.info.linkType, r.info.snaplen, r.info.format, r.info.byteOrder];
        const want = [e.packets, e.linkTypeValue, e.snaplen, fmt, order];
        if (got.join() !== want.join()) problems.push(`${e.file}: ${got.join()} != ${want.join()}`);
        if (r.info.format === 'pcap') {
          const precision = e.format.startsWith('pcap-ns') ? 'ns' : 'us';
          if (r.info.precision !== precision) problems.push(`${e.file}: precision ${r.info.precision}`);
        }
        if (r.warnings.some((w) => w.kind === 'truncated')) problems.push(`${e.file}: truncated?`);
      } catch (err) {
        problems.push(`${e.file}: ${(err as Error).message}`);
      }
    }
    expect(problems).toEqual([]);
  });

  it('records longer than the snaplen are cut to it, as libpcap does, with a warning', () => {
    const cut = entries.filter((e) => /caplen \d+ > snaplen/.test(e.notes));
    expect(cut.length).toBeGreaterThanOrEqual(30);
    for (const e of cut) {
      const r = readCaptureSync(readFileSync(e.path));
      expect(r.packets.every((p) => p.data.length <= e.snaplen), e.file).toBe(true);
      expect(r.warnings.some((w) => w.kind === 'clamped'), e.file).toBe(true);
    }
  });

  it('every packet equals what libpcap reads (bytes, lengths, timestamps)', () => {
    const refs = libpcapPacketsOf(entries.map((e) => e.path));
    let compared = 0;
    const problems: string[] = [];
    entries.forEach((e, i) => {
      const ref = refs[i]!;
      expect(ref.error, e.file).toBeUndefined();
      const ours = readCaptureSync(readFileSync(e.path)).packets;
      if (ours.length !== ref.packets.length) {
        problems.push(`${e.file}: ${ours.length} packets, libpcap ${ref.packets.length}`);
        return;
      }
      ours.forEach((p, j) => {
        const q = ref.packets[j]!;
        // libpcap 1.10 reads the pcap seconds and fraction fields as signed 32-bit numbers
        // (pcap-savefile(5) now says unsigned) and does not carry fractions >= 1 s into the
        // seconds: compare the instants, with the fields taken as unsigned.
        const unit = e.format.startsWith('pcap-ns') || e.format.startsWith('pcapng') ? 1n : 1000n;
        const frac = BigInt(q.nanos) + (q.nanos < 0 ? 2n ** 32n * unit : 0n);
        const refNs = BigInt(q.seconds < 0 ? q.seconds + 2 ** 32 : q.seconds) * 1_000_000_000n + frac;
        const ourNs = BigInt(p.seconds) * 1_000_000_000n + BigInt(p.nanos);
        if (
          p.wireLength !== q.wireLength ||
          Buffer.compare(p.data, q.data) !== 0 ||
          ourNs !== refNs ||
          p.nanos >= 1e9
        ) {
          problems.push(`${e.file}#${j + 1}: ${p.data.length}/${p.wireLength}/${ourNs} vs ${q.data.length}/${q.wireLength}/${refNs}`);
        }
        compared++;
      });
    });
    expect(problems.slice(0, 20)).toEqual([]);
    expect(compared).toBe(entries.reduce((n, e) => n + e.packets, 0));
  });

  it('streams every file in 97-byte chunks with the same packets as in memory', async () => {
    const problems: string[] = [];
    for (const e of entries) {
      const bytes = readFileSync(e.path);
      const whole = readCaptureSync(bytes).packets;
      const chunks = async function* (): AsyncGenerator<Uint8Array> {
        for (let i = 0; i < bytes.length; i += 97) yield bytes.subarray(i, i + 97);
      };
      const reader = await CaptureReader.open(chunks(), { name: e.file });
      const streamed: Packet[] = [];
      for await (const p of reader) streamed.push(p);
      if (!samePackets(whole, streamed)) problems.push(e.file);
    }
    expect(problems).toEqual([]);
  });

  it('streams from a path, a Node Readable and with a reused buffer alike', async () => {
    for (const e of entries.filter((x) => x.packets > 50).slice(0, 12)) {
      const whole = readCaptureSync(readFileSync(e.path)).packets;
      const fromPath: Packet[] = [];
      const r1 = await CaptureReader.open(e.path, { chunkSize: 4096 });
      await r1.forEach((p) => {
        fromPath.push(p);
      });
      const fromStream: Packet[] = [];
      for await (const p of await CaptureReader.open(createReadStream(e.path, { highWaterMark: 1000 }))) fromStream.push(p);
      // With one reused buffer, packets must be copied by whoever keeps them.
      const reused: Packet[] = [];
      const r3 = await CaptureReader.open(e.path, { chunkSize: 4096, reuseBuffer: true });
      await r3.forEach((p) => {
        reused.push({ ...p, data: p.data.slice() });
      });
      expect(samePackets(whole, fromPath), e.file).toBe(true);
      expect(samePackets(whole, fromStream), e.file).toBe(true);
      expect(samePackets(whole, reused), e.file).toBe(true);
      expect(r1.info.linkType).toBe(e.linkTypeValue);
    }
  });

  it('lists the same packets in batches (forEachBatch), in any chunking', async () => {
    const problems: string[] = [];
    for (const e of entries) {
      const bytes = readFileSync(e.path);
      const whole = readCaptureSync(bytes).packets;
      for (const chunk of [97, 65536]) {
        const gen = async function* (): AsyncGenerator<Uint8Array> {
          for (let i = 0; i < bytes.length; i += chunk) yield bytes.subarray(i, i + chunk);
        };
        const got: Packet[] = [];
        await (await CaptureReader.open(gen())).forEachBatch((b) => {
          for (let i = 0; i < b.count; i++) {
            const p = b.packet(i);
            const listed = b.buffer.subarray(b.offsets[i], b.offsets[i]! + b.caplens[i]!);
            if (Buffer.compare(listed, p.data) !== 0 || b.wireLengths[i] !== p.wireLength || b.iface !== p.iface) {
              problems.push(`${e.file}: entry ${i} does not match its packet`);
            }
            got.push({ ...p, data: p.data.slice() });
          }
        });
        if (!samePackets(whole, got)) problems.push(`${e.file} (${chunk})`);
      }
    }
    expect(problems).toEqual([]);
  });

  it('reads every file from its path into one reused buffer, in batches, at chunk sizes that cut records', async () => {
    // Records cut by a chunk boundary are completed in place (moved to the front of the buffer), or
    // carried in a buffer of their own when longer than the chunk.
    const problems: string[] = [];
    for (const e of entries) {
      const mem = readCaptureSync(readFileSync(e.path));
      const whole = mem.packets;
      const warnings = mem.warnings.map((w) => `${w.kind} ${w.offset}`).join();
      for (const [chunkSize, own] of [[61, false], [1500, false], [65536, false], [1500, true], [65536, true]] as const) {
        const got: Packet[] = [];
        // `own`: the caller's buffer (read into, chunk by chunk) and the caller's arrays (listed in).
        const buffer = own ? new Uint8Array(new ArrayBuffer(chunkSize + 16), 16, chunkSize) : undefined;
        const arrays = { offsets: new Uint32Array(BATCH_CAPACITY), caplens: new Uint32Array(BATCH_CAPACITY), wireLengths: new Uint32Array(BATCH_CAPACITY) };
        const r = await CaptureReader.open(e.path, { chunkSize, reuseBuffer: true, ...(buffer !== undefined ? { buffer } : {}) });
        await r.forEachBatch((b) => {
          if (own && b.count > 1 && (b.buffer.buffer !== buffer!.buffer || b.offsets !== arrays.offsets)) problems.push(`${e.file}: not the caller's buffer or arrays`);
          for (let i = 0; i < b.count; i++) {
            const p = b.packet(i);
            const listed = b.buffer.subarray(b.offsets[i], b.offsets[i]! + b.caplens[i]!);
            if (Buffer.compare(listed, p.data) !== 0 || b.wireLengths[i] !== p.wireLength) problems.push(`${e.file} (${chunkSize}): entry ${i}`);
            got.push({ ...p, data: p.data.slice() });
          }
        }, own ? new PacketBatch(arrays) : undefined);
        if (!samePackets(whole, got)) problems.push(`${e.file} (${chunkSize})`);
        const seen = r.warnings.map((w) => `${w.kind} ${w.offset}`).join();
        if (seen !== warnings) problems.push(`${e.file} (${chunkSize}): warnings ${seen} instead of ${warnings}`);
      }
    }
    expect(problems).toEqual([]);
  });

  it('a caller may stop early and the source is released', async () => {
    const e = entries.find((x) => x.packets > 100)!;
    const r = await CaptureReader.open(e.path);
    let n = 0;
    await r.forEach(() => ++n < 10);
    expect(n).toBe(10);
    let m = 0;
    for await (const _ of await CaptureReader.open(e.path)) if (++m === 5) break;
    expect(m).toBe(5);
  });
});
