/**
 * Streaming in constant memory: a 10 GiB pcap and a 10 GiB pcapng, made up on
 * the fly by a Node Readable — nothing is written to disk — goes through the
 * streaming reader while the process's memory is sampled. Records of mixed
 * sizes (up to 65535 bytes) straddle chunk boundaries all along, the byte
 * offsets pass 2^32, and the last record is damaged on purpose so the error
 * must name an offset above 10 GiB.
 */
import { Readable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { CaptureReader, PcapFormatError } from '../../src/capture/index.js';
import { Bytes, epb, idb, shb } from './build.js';

const GiB = 1024 ** 3;
const SIZES = [60, 1514, 9000, 65535, 300, 40000, 128];

/** Records for one period of the stream; returns their bytes and the packets' sizes. */
function period(format: 'pcap' | 'pcapng'): { bytes: Uint8Array; sizes: number[] } {
  const parts: Uint8Array[] = [];
  for (let i = 0; i < SIZES.length; i++) {
    const data = new Uint8Array(SIZES[i]!).fill(i + 1);
    if (format === 'pcap') {
      parts.push(new Bytes(true).u32(1_700_000_000 + i).u32(i * 1000).u32(data.length).u32(data.length).raw(data).bytes());
    } else {
      parts.push(epb(true, 0, BigInt(1_700_000_000 + i) * 1_000_000n, data));
    }
  }
  const n = parts.reduce((a, p) => a + p.length, 0);
  const bytes = new Uint8Array(n);
  let o = 0;
  for (const p of parts) {
    bytes.set(p, o);
    o += p.length;
  }
  return { bytes, sizes: SIZES };
}

/**
 * A Readable giving `header`, then whole periods until about `total` bytes,
 * then `tail`. Chunks are views of one repeated buffer: nothing is allocated
 * per chunk, so memory growth can only come from the reader.
 */
function generated(header: Uint8Array, per: Uint8Array, periods: number, tail: Uint8Array, chunk = 1_000_003): Readable {
  const reps = Math.ceil((chunk + per.length) / per.length) + 1;
  const ring = new Uint8Array(per.length * reps);
  for (let i = 0; i < reps; i++) ring.set(per, i * per.length);
  const bodyBytes = per.length * periods;
  let sent = 0; // bytes of the body sent
  let stage = 0;
  return new Readable({
    highWaterMark: 1 << 20,
    read() {
      if (stage === 0) {
        stage = 1;
        this.push(header);
        return;
      }
      if (stage === 1) {
        const n = Math.min(chunk, bodyBytes - sent);
        if (n > 0) {
          const at = sent % per.length;
          this.push(ring.subarray(at, at + n));
          sent += n;
          return;
        }
        stage = 2;
      }
      if (stage === 2) {
        stage = 3;
        if (tail.length) {
          this.push(tail);
          return;
        }
      }
      this.push(null);
    },
  });
}

async function run(format: 'pcap' | 'pcapng', target: number): Promise<void> {
  const { bytes: per, sizes } = period(format);
  const periods = Math.floor(target / per.length);
  const header =
    format === 'pcap'
      ? new Bytes(true).u32(0xa1b2c3d4).u16(2).u16(4).u32(0).u32(0).u32(65535).u32(1).bytes()
      : (() => {
          const s = shb(true);
          const i = idb(true, 1, 65535);
          const h = new Uint8Array(s.length + i.length);
          h.set(s);
          h.set(i, s.length);
          return h;
        })();
  // A damaged last record: a capture length above the snaplen and the maximum.
  const tail =
    format === 'pcap'
      ? new Bytes(true).u32(1).u32(0).u32(300000).u32(300000).bytes()
      : new Bytes(true).u32(6).u32(31).bytes();
  const damageAt = header.length + per.length * periods;
  expect(damageAt).toBeGreaterThan(2 ** 32);

  const mem = (): number => {
    const m = process.memoryUsage();
    return m.rss;
  };
  const reader = await CaptureReader.open(generated(header, per, periods, tail), { name: `${format}-stream` });
  let packets = 0;
  let bytes = 0;
  let i = 0;
  const start = mem();
  let peak = start;
  let error: unknown;
  try {
    await reader.forEach((p) => {
      if (p.data.length !== sizes[i]! || p.data[0] !== i + 1 || p.data[p.data.length - 1] !== i + 1) {
        throw new Error(`packet ${packets}: wrong bytes`);
      }
      i = (i + 1) % sizes.length;
      packets++;
      bytes += p.data.length;
      if ((packets & 0x3fff) === 0) peak = Math.max(peak, mem());
    });
  } catch (err) {
    error = err;
  }
  peak = Math.max(peak, mem());
  expect(packets).toBe(periods * sizes.length);
  expect(bytes).toBe(periods * sizes.reduce((a, b) => a + b, 0));
  expect(error).toBeInstanceOf(PcapFormatError);
  // pcap names the record; pcapng the block's length field, which is what is wrong.
  expect((error as PcapFormatError).offset).toBe(format === 'pcap' ? damageAt : damageAt + 4);
  // The reader holds one chunk and at most one record: the whole stream is gigabytes,
  // the process may grow by a few dozen MiB for the garbage collector's slack.
  console.log(
    `${format}: ${(damageAt / GiB).toFixed(2)} GiB, ${packets} packets streamed; resident memory ${(start / 2 ** 20).toFixed(0)} MiB at the start, peak ${(peak / 2 ** 20).toFixed(0)} MiB`,
  );
  expect(peak - start).toBeLessThan(128 * 1024 * 1024);
}

describe('streaming', () => {
  it('reads a 10 GiB pcap from a Readable in constant memory', async () => {
    await run('pcap', 10 * GiB);
  }, 300_000);

  it('reads a 10 GiB pcapng from a Readable in constant memory', async () => {
    await run('pcapng', 10 * GiB);
  }, 300_000);
});
