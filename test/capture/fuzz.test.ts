/**
 * Fuzzing: corpus files with bits flipped, length fields overwritten, bytes
 * inserted or cut, read in memory and streamed. Every outcome is packets plus
 * at most a PcapFormatError (never another exception, never a hang), the
 * packets whose records lie before the first changed byte are exactly the
 * original ones, and streaming agrees with reading in memory. Summaries of
 * every corpus packet and of mutated packets, under every decoded link type,
 * never throw.
 */
import fc from 'fast-check';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { CaptureReader, PcapFormatError, Summarizer, readCaptureSync } from '../../src/capture/index.js';
import type { Packet } from '../../src/capture/index.js';
import { samePackets } from './compare.js';
import { corpus } from './corpus.js';
import { TMP } from '../support/paths.js';

const entries = corpus();
mkdirSync(TMP, { recursive: true });
// A spread of files: every pcapng, every big-endian or nanosecond pcap, and a sample of the rest.
const picked = entries.filter((e, i) => e.format !== 'pcap-us-le' || i % 9 === 0);
const files = picked.map((e) => ({ name: e.file, bytes: new Uint8Array(readFileSync(e.path)) }));

/** Byte offsets where each packet's record ends, found by walking the file's framing (independently of the reader). */
function recordEnds(bytes: Uint8Array): number[] {
  const v = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const ends: number[] = [];
  if (v.getUint32(0, true) === 0x0a0d0d0a) {
    let le = true;
    for (let p = 0; p + 12 <= bytes.length; ) {
      const type = v.getUint32(p, le);
      if (type === 0x0a0d0d0a) le = v.getUint32(p + 8, true) === 0x1a2b3c4d;
      const total = v.getUint32(p + 4, le);
      if (total < 12 || p + total > bytes.length) break;
      if (type === 2 || type === 3 || type === 6) ends.push(p + total);
      p += total;
    }
  } else {
    const le = v.getUint32(0, true) === 0xa1b2c3d4 || v.getUint32(0, true) === 0xa1b23c4d;
    for (let p = 24; p + 16 <= bytes.length; ) {
      const caplen = v.getUint32(p + 8, le);
      if (p + 16 + caplen > bytes.length) break;
      p += 16 + caplen;
      ends.push(p);
    }
  }
  return ends;
}

type Mutation =
  | { kind: 'flip'; at: number; bit: number }
  | { kind: 'word'; at: number; value: number }
  | { kind: 'cut'; at: number }
  | { kind: 'insert'; at: number; bytes: number[] }
  | { kind: 'delete'; at: number; count: number };

function mutate(bytes: Uint8Array, ms: Mutation[]): { out: Uint8Array; first: number } {
  let out = bytes.slice();
  let first = out.length;
  for (const m of ms) {
    const at = Math.min(m.at % Math.max(out.length, 1), out.length);
    first = Math.min(first, at);
    switch (m.kind) {
      case 'flip':
        if (at < out.length) out[at]! ^= 1 << m.bit;
        break;
      case 'word':
        for (let i = 0; i < 4 && at + i < out.length; i++) out[at + i] = (m.value >>> (8 * i)) & 0xff;
        break;
      case 'cut':
        out = out.slice(0, at);
        break;
      case 'insert': {
        const n = new Uint8Array(out.length + m.bytes.length);
        n.set(out.subarray(0, at));
        n.set(m.bytes, at);
        n.set(out.subarray(at), at + m.bytes.length);
        out = n;
        break;
      }
      case 'delete':
        out = Uint8Array.of(...out.subarray(0, at), ...out.subarray(at + m.count));
        break;
    }
  }
  return { out, first };
}

const mutation: fc.Arbitrary<Mutation> = fc.oneof(
  fc.record({ kind: fc.constant('flip' as const), at: fc.nat(), bit: fc.integer({ min: 0, max: 7 }) }),
  fc.record({ kind: fc.constant('word' as const), at: fc.nat(), value: fc.oneof(fc.nat(), fc.constantFrom(0, 1, 11, 12, 0xffffffff, 262145, 0x7fffffff)) }),
  fc.record({ kind: fc.constant('cut' as const), at: fc.nat() }),
  fc.record({ kind: fc.constant('insert' as const), at: fc.nat(), bytes: fc.array(fc.nat({ max: 255 }), { minLength: 1, maxLength: 9 }) }),
  fc.record({ kind: fc.constant('delete' as const), at: fc.nat(), count: fc.integer({ min: 1, max: 9 }) }),
);

async function stream(bytes: Uint8Array, chunk: number): Promise<{ packets: Packet[]; error?: unknown }> {
  const packets: Packet[] = [];
  const gen = async function* (): AsyncGenerator<Uint8Array> {
    for (let i = 0; i < bytes.length; i += chunk) yield bytes.subarray(i, i + chunk);
  };
  try {
    const r = await CaptureReader.open(gen());
    await r.forEach((p) => {
      packets.push(p);
    });
    return { packets };
  } catch (error) {
    return { packets, error };
  }
}

/** The same bytes read from a file into one reused buffer (records cut by a chunk completed in place), one by one or in batches. */
async function fromFile(bytes: Uint8Array, chunk: number, batches: boolean): Promise<{ packets: Packet[]; error?: unknown }> {
  const path = join(TMP, `fuzz-${process.pid}.cap`);
  writeFileSync(path, bytes);
  const packets: Packet[] = [];
  try {
    const r = await CaptureReader.open(path, { chunkSize: chunk, reuseBuffer: true });
    if (batches) {
      await r.forEachBatch((b) => {
        for (let i = 0; i < b.count; i++) {
          const p = b.packet(i);
          packets.push({ ...p, data: p.data.slice() });
        }
      });
    } else {
      await r.forEach((p) => {
        packets.push({ ...p, data: p.data.slice() });
      });
    }
    return { packets };
  } catch (error) {
    return { packets, error };
  }
}

describe('fuzzed captures', () => {
  it('give packets and at most a PcapFormatError; the undamaged prefix is intact; streaming agrees', async () => {
    let errors = 0;
    let runs = 0;
    await fc.assert(
      fc.asyncProperty(
        fc.integer({ min: 0, max: files.length - 1 }),
        fc.array(mutation, { minLength: 1, maxLength: 3 }),
        fc.integer({ min: 1, max: 5000 }),
        async (fi, ms, chunk) => {
          const { name, bytes } = files[fi]!;
          const original = readCaptureSync(bytes).packets;
          const ends = recordEnds(bytes);
          const { out, first } = mutate(bytes, ms);
          const started = Date.now();
          let result: ReturnType<typeof readCaptureSync> | undefined;
          let thrown: unknown;
          try {
            result = readCaptureSync(out, { throwOnError: false });
          } catch (err) {
            thrown = err;
          }
          expect(Date.now() - started, name).toBeLessThan(2000);
          runs++;
          if (thrown !== undefined) {
            // Only a broken header makes the whole file unreadable.
            expect(thrown, `${name} ${JSON.stringify(ms)}`).toBeInstanceOf(PcapFormatError);
            errors++;
            return;
          }
          const got = result!.packets;
          if (result!.error) errors++;
          // Packets recorded entirely before the first changed byte come out unchanged.
          const intact = ends.filter((e) => e <= first).length;
          expect(samePackets(original.slice(0, intact), got.slice(0, intact)), `${name} ${JSON.stringify(ms)}`).toBe(true);
          for (const s of [await stream(out, chunk), await fromFile(out, chunk, runs % 2 === 0)]) {
            expect(samePackets(got, s.packets), name).toBe(true);
            if (result!.error) {
              expect(s.error).toBeInstanceOf(PcapFormatError);
              expect((s.error as PcapFormatError).offset).toBe(result!.error.offset);
              // A file source names the file first.
              expect((s.error as Error).message.replace(/^[^ ]*fuzz-\d+\.cap: /, '')).toBe(result!.error.message);
            } else {
              expect(s.error).toBeUndefined();
            }
          }
          const summarizer = new Summarizer();
          for (const p of got) summarizer.line(p);
        },
      ),
      { numRuns: 1500, seed: 20260601 },
    );
    // The mutations do reach the error paths.
    expect(errors).toBeGreaterThan(runs / 20);
  }, 240_000);
});

describe('summaries never throw', () => {
  const LINK_TYPES = [1, 113, 276, 0, 108, 101, 228, 229, 107, 160];

  it('for every corpus packet, under its own and every decoded link type', () => {
    let n = 0;
    for (const e of entries) {
      const r = readCaptureSync(readFileSync(e.path));
      const own = new Summarizer({ time: 'utc' });
      for (const p of r.packets) {
        const line = own.line(p);
        expect(typeof line).toBe('string');
        for (const lt of LINK_TYPES) new Summarizer({ linkType: lt }).describe(p);
        n++;
      }
    }
    expect(n).toBe(entries.reduce((a, e) => a + e.packets, 0));
  });

  it('for mutated and random packets', () => {
    const pool: Uint8Array[] = [];
    for (const e of entries.filter((x) => ['EN10MB', 'LINUX_SLL', 'NULL', 'RAW', 'IPV6', 'IPV4'].includes(x.linkType))) {
      for (const p of readCaptureSync(readFileSync(e.path)).packets) if (pool.length < 4000) pool.push(p.data.slice());
    }
    const summarizer = new Summarizer();
    fc.assert(
      fc.property(
        fc.integer({ min: 0, max: pool.length - 1 }),
        fc.array(fc.tuple(fc.nat(), fc.nat({ max: 255 })), { maxLength: 6 }),
        fc.nat(),
        fc.constantFrom(...LINK_TYPES),
        fc.uint8Array({ maxLength: 80 }),
        (i, changes, cut, lt, random) => {
          const d = pool[i]!.slice();
          for (const [at, v] of changes) if (d.length) d[at % d.length] = v;
          const data = d.subarray(0, d.length ? cut % (d.length + 1) : 0);
          for (const bytes of [data, random]) {
            const line = summarizer.line({ data: bytes, wireLength: bytes.length + (cut % 3) * 100, seconds: 1, nanos: 0, linkType: lt, interfaceId: 0 });
            expect(line.length).toBeGreaterThan(0);
          }
        },
      ),
      { numRuns: 30000, seed: 777 },
    );
  });
});
