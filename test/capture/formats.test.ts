/**
 * pcap and pcapng details on hand-built files: pcapng with several sections,
 * interfaces, link types, timestamp resolutions (powers of 10 and of 2),
 * offsets, both byte orders, SPB/PB/EPB and blocks to skip; pcap in both byte
 * orders, µs and ns, old versions with swapped lengths. Where libpcap can read
 * the file too, every packet is compared with libpcap's; the rest is compared
 * with values computed here.
 */
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { CaptureReader, PcapFormatError, readCaptureSync } from '../../src/capture/index.js';
import type { Packet } from '../../src/capture/index.js';
import { libpcapPacketsOf } from '../support/libpcap.js';
import { LIBPCAP_CONFORMANCE, TMP } from '../support/paths.js';
import { Bytes, block, concat, epb, idb, payload, pb, pcapFile, shb, spb, text } from './build.js';

const OUT = resolve(TMP, 'capture-formats');
mkdirSync(OUT, { recursive: true });

const IF_NAME = 2;
const IF_TSRESOL = 9;
const IF_TSOFFSET = 14;
const tsoffset = (le: boolean, v: bigint): Uint8Array => new Bytes(le).u64(BigInt.asUintN(64, v)).bytes();

/** Expected seconds/nanos for a count of 10^-e or 2^-e units, computed with BigInt. */
function expectTime(ts: bigint, base: 10 | 2, exp: number, offset = 0n): { seconds: number; nanos: number } {
  const units = BigInt(base) ** BigInt(exp);
  return { seconds: Number(ts / units + offset), nanos: Number(((ts % units) * 1_000_000_000n) / units) };
}

async function streamed(bytes: Uint8Array, chunk = 13): Promise<{ packets: Packet[]; error?: unknown; reader?: CaptureReader }> {
  const gen = async function* (): AsyncGenerator<Uint8Array> {
    for (let i = 0; i < bytes.length; i += chunk) yield bytes.subarray(i, i + chunk);
  };
  const packets: Packet[] = [];
  let reader: CaptureReader | undefined;
  try {
    reader = await CaptureReader.open(gen());
    for await (const p of reader) packets.push(p);
    return { packets, reader };
  } catch (error) {
    return { packets, error, ...(reader ? { reader } : {}) };
  }
}

describe('pcapng', () => {
  // Two little-endian sections, four interfaces of one link type with different
  // timestamp resolutions and offsets, every packet block kind, and blocks to skip:
  // libpcap reads all of it, so its packets are the reference.
  const le = true;
  const t = 1_700_000_000n;
  const libpcapCompatible = concat(
    shb(le, [[4, text('bpfkit test')]]),
    idb(le, 1, 65535, [[IF_NAME, text('eth0')]]),
    idb(le, 1, 65535, [[IF_TSRESOL, Uint8Array.of(9)]]),
    block(le, 4, new Bytes(le).u16(1).u16(8).raw([192, 0, 2, 1]).raw(text('a.b\0')).u16(0).u16(0).bytes()), // NRB
    idb(le, 1, 65535, [[IF_TSRESOL, Uint8Array.of(0x80 | 20)]]),
    idb(le, 1, 65535, [
      [IF_TSRESOL, Uint8Array.of(3)],
      [IF_TSOFFSET, tsoffset(le, 1000n)],
    ]),
    epb(le, 0, t * 1_000_000n + 123_456n, payload(1, 60)),
    epb(le, 1, t * 1_000_000_000n + 987_654_321n, payload(2, 61), 1500),
    block(le, 0x0000000a, new Bytes(le).u32(0x544c534b).u32(4).raw([1, 2, 3, 4]).bytes()), // DSB
    epb(le, 2, (t << 20n) + 777_777n, payload(3, 62)),
    block(le, 0x00000bad, new Bytes(le).u32(32473).raw([9, 9, 9]).bytes()), // custom
    epb(le, 3, t * 1000n + 999n, payload(4, 63)),
    spb(le, payload(5, 64)),
    pb(le, 1, t * 1_000_000_000n + 5n, payload(6, 65)),
    block(le, 0x40000bad, new Bytes(le).u32(32473).bytes()), // custom, not to be copied
    block(le, 0x12345678, new Bytes(le).raw([1, 2, 3, 4, 5, 6, 7, 8]).bytes()), // unknown
    block(le, 5, new Bytes(le).u32(0).u32(0).u32(0).bytes()), // ISB
    shb(le),
    idb(le, 1, 65535, [[IF_TSRESOL, Uint8Array.of(9)]]),
    epb(le, 0, t * 1_000_000_000n + 1n, payload(7, 66)),
  );

  it('reads sections, interfaces, resolutions, offsets and every packet block like libpcap', () => {
    const path = resolve(OUT, 'compatible.pcapng');
    writeFileSync(path, libpcapCompatible);
    const ref = libpcapPacketsOf([path])[0]!;
    expect(ref.error).toBeUndefined();
    const r = readCaptureSync(libpcapCompatible);
    expect(r.packets.length).toBe(7);
    expect(ref.packets.length).toBe(7);
    r.packets.forEach((p, i) => {
      const q = ref.packets[i]!;
      expect([p.seconds, p.nanos, p.wireLength, Buffer.from(p.data).toString('hex')]).toEqual([
        q.seconds,
        q.nanos,
        q.wireLength,
        Buffer.from(q.data).toString('hex'),
      ]);
    });
    // And by the numbers.
    expect(r.packets.map((p) => [p.interfaceId, p.iface?.section])).toEqual([
      [0, 0],
      [1, 0],
      [2, 0],
      [3, 0],
      [0, 0],
      [1, 0],
      [0, 1],
    ]);
    expect(r.packets[2]).toMatchObject(expectTime((t << 20n) + 777_777n, 2, 20));
    expect(r.packets[3]).toMatchObject(expectTime(t * 1000n + 999n, 10, 3, 1000n));
    expect(r.packets[4]).toMatchObject({ seconds: 0, nanos: 0, wireLength: 64 }); // SPB: no timestamp
    expect(r.interfaces.map((i) => [i.section, i.id, i.tsresol.base, i.tsresol.exponent, i.tsoffset])).toEqual([
      [0, 0, 10, 6, 0],
      [0, 1, 10, 9, 0],
      [0, 2, 2, 20, 0],
      [0, 3, 10, 3, 1000],
      [1, 0, 10, 9, 0],
    ]);
    expect(r.interfaces[0]!.name).toBe('eth0');
    expect(r.sections.map((s) => [s.byteOrder, s.userAppl])).toEqual([
      ['le', 'bpfkit test'],
      ['le', undefined],
    ]);
  });

  it('reads interfaces of different link types and sections of different byte orders', async () => {
    const a = payload(10, 70);
    const b = payload(11, 44);
    const c = payload(12, 40);
    const d = payload(13, 48);
    const file = concat(
      shb(true),
      idb(true, 1, 0),
      idb(true, 113, 96, [[IF_TSRESOL, Uint8Array.of(9)]]),
      epb(true, 1, 1_600_000_000_123_456_789n, b),
      epb(true, 0, 1_600_000_000_000_001n, a, 1514),
      shb(false, [], 1, 2),
      idb(false, 101, 262144, [[IF_TSRESOL, Uint8Array.of(0x80 | 30)]]),
      idb(false, 229, 262144, [
        [IF_TSRESOL, Uint8Array.of(0x80 | 10)],
        [IF_TSOFFSET, tsoffset(false, -5n)],
      ]),
      epb(false, 0, 1_600_000_000n << 30n, c),
      pb(false, 1, (1_600_000_000n << 10n) + 1023n, d),
    );
    const want = [
      { linkType: 113, interfaceId: 1, wireLength: 44, ...expectTime(1_600_000_000_123_456_789n, 10, 9) },
      { linkType: 1, interfaceId: 0, wireLength: 1514, ...expectTime(1_600_000_000_000_001n, 10, 6) },
      { linkType: 101, interfaceId: 0, wireLength: 40, ...expectTime(1_600_000_000n << 30n, 2, 30) },
      { linkType: 229, interfaceId: 1, wireLength: 48, ...expectTime((1_600_000_000n << 10n) + 1023n, 2, 10, -5n) },
    ];
    const r = readCaptureSync(file);
    expect(r.packets.map(({ linkType, interfaceId, wireLength, seconds, nanos }) => ({ linkType, interfaceId, wireLength, seconds, nanos }))).toEqual(want);
    expect(r.packets.map((p) => Buffer.from(p.data).toString('hex'))).toEqual([b, a, c, d].map((x) => Buffer.from(x).toString('hex')));
    expect(r.sections.map((s) => `${s.byteOrder} ${s.versionMajor}.${s.versionMinor}`)).toEqual(['le 1.0', 'be 1.2']);
    expect(r.info).toMatchObject({ format: 'pcapng', linkType: 1, snaplen: 0, byteOrder: 'le' });
    expect(r.interfaces.map((i) => i.effectiveSnaplen)).toEqual([262144, 96, 262144, 262144]);
    const s = await streamed(file, 7);
    expect(s.error).toBeUndefined();
    expect(s.packets.map((p) => [p.linkType, p.seconds, p.nanos])).toEqual(want.map((w) => [w.linkType, w.seconds, w.nanos]));
  });

  it('refuses damage with libpcap\'s words and the byte offset, after delivering the packets before it', async () => {
    const head = concat(shb(true), idb(true, 1, 65535));
    const good = [epb(true, 0, 1n, payload(1, 50)), epb(true, 0, 2n, payload(2, 50))];
    const bad = epb(true, 0, 3n, payload(3, 50));
    const broken = bad.slice();
    new DataView(broken.buffer).setUint32(broken.length - 4, 999, true); // trailer
    const file = concat(head, ...good, broken, epb(true, 0, 4n, payload(4, 50)));
    const offset = head.length + good[0]!.length + good[1]!.length;
    const r = readCaptureSync(file, { throwOnError: false });
    expect(r.packets.length).toBe(2);
    expect(r.error).toBeInstanceOf(PcapFormatError);
    expect(r.error!.reason).toBe(`block total length in header ${bad.length} and trailer 999 don't match`);
    expect(r.error!.offset).toBe(offset);
    expect(() => readCaptureSync(file)).toThrow(`(at byte offset ${offset})`);
    const s = await streamed(file);
    expect(s.packets.length).toBe(2);
    expect((s.error as PcapFormatError).offset).toBe(offset);

    const cases: [Uint8Array, string][] = [
      [concat(head, epb(true, 5, 1n, payload(1, 10))), "a packet arrived on interface 5, but there's no Interface Description Block for that interface"],
      [concat(shb(true), epb(true, 0, 1n, payload(1, 10)), idb(true, 1, 0)), 'the capture file has a packet block before any Interface Description Blocks'],
      [concat(shb(true, [], 2, 0), idb(true, 1, 0)), 'unsupported pcapng savefile version 2.0'],
      [concat(shb(true), idb(true, 1, 0, [[IF_TSRESOL, Uint8Array.of(20)]])), 'Interface Description Block if_tsresol option resolution 10^-20 is too high'],
      [concat(shb(true), idb(true, 1, 0, [[IF_TSRESOL, Uint8Array.of(0x80 | 64)]])), 'Interface Description Block if_tsresol option resolution 2^-64 is too high'],
      [concat(shb(true), idb(true, 1, 0, [[IF_TSOFFSET, Uint8Array.of(1, 2)]])), 'Interface Description Block has if_tsoffset option with length 2 != 8'],
      [concat(shb(true)), 'the capture file has no Interface Description Blocks'],
      [concat(head, new Bytes(true).u32(6).u32(30).raw(new Uint8Array(22)).bytes()), 'block in pcapng dump file has a length of 30 that is not a multiple of 4'],
      [concat(head, new Bytes(true).u32(6).u32(8).bytes()), 'block in pcapng dump file has a length of 8 < 12'],
      [concat(head, epb(true, 0, 1n, payload(1, 70000))), 'invalid packet capture length 70000, bigger than snaplen of 65535'],
      [concat(head, block(true, 6, new Bytes(true).u32(0).u32(0).u32(0).u32(100).u32(100).raw(new Uint8Array(8)).bytes())), 'block of type 6 in pcapng dump file is too short'],
    ];
    for (const [bytes, message] of cases) {
      expect(() => readCaptureSync(bytes), message).toThrow(message);
      const st = await streamed(bytes, 5);
      expect(st.error, message).toBeInstanceOf(PcapFormatError);
      expect((st.error as Error).message).toContain(message);
    }
  });

  it('stops cleanly with a warning when the last block is cut short', async () => {
    const file = concat(shb(true), idb(true, 1, 65535), epb(true, 0, 1n, payload(1, 50)), epb(true, 0, 2n, payload(2, 50)).subarray(0, 40));
    const r = readCaptureSync(file);
    expect(r.packets.length).toBe(1);
    expect(r.warnings).toEqual([expect.objectContaining({ kind: 'truncated' })]);
    expect(r.warnings[0]!.message).toMatch(/^truncated pcapng dump file; tried to read 84 bytes, only got 40 \(at byte offset \d+\)$/);
    const s = await streamed(file);
    expect(s.error).toBeUndefined();
    expect(s.packets.length).toBe(1);
    expect(s.reader!.warnings.map((w) => w.kind)).toEqual(['truncated']);
  });
});

describe('pcap', () => {
  const records = [
    { sec: 1_500_000_000, frac: 1, data: payload(1, 60) },
    { sec: 1_500_000_001, frac: 999_999, data: payload(2, 100), wire: 1514 },
    { sec: 4_000_000_000, frac: 0, data: payload(3, 1) },
  ];

  it('reads both byte orders, µs and ns, and old versions with swapped lengths, like libpcap', () => {
    const files = [
      pcapFile({ records }),
      pcapFile({ le: false, records }),
      pcapFile({ ns: true, records }),
      pcapFile({ le: false, ns: true, linkType: 101, snaplen: 1000, records }),
      // Version 2.2 stores the wire length first.
      pcapFile({ version: [2, 2], records: records.map((r) => ({ ...r, caplen: r.wire ?? r.data.length, wire: r.data.length })) }),
    ];
    const paths = files.map((f, i) => {
      const p = resolve(OUT, `pcap-${i}.pcap`);
      writeFileSync(p, f);
      return p;
    });
    const refs = libpcapPacketsOf(paths);
    files.forEach((f, i) => {
      const r = readCaptureSync(f);
      const ns = i === 2 || i === 3;
      expect(r.info.byteOrder).toBe(i === 1 || i === 3 ? 'be' : 'le');
      expect(r.info.precision).toBe(ns ? 'ns' : 'us');
      expect(r.packets.map((p) => [p.seconds, p.nanos, p.wireLength, p.data.length])).toEqual(
        records.map((x) => [x.sec, ns ? x.frac : x.frac * 1000, x.wire ?? x.data.length, x.data.length]),
      );
      const ref = refs[i]!;
      expect(ref.packets.map((q) => [q.seconds < 0 ? q.seconds + 2 ** 32 : q.seconds, q.nanos, q.wireLength, q.data.length])).toEqual(
        r.packets.map((p) => [p.seconds, p.nanos, p.wireLength, p.data.length]),
      );
    });
  });

  it('gives libpcap\'s errors, with byte offsets, and warns on a cut last record', () => {
    const good = pcapFile({ records: records.slice(0, 2) });
    const tooBig = pcapFile({ records: [...records.slice(0, 2), { sec: 1, frac: 0, data: new Uint8Array(0), caplen: 300000 }] });
    const r = readCaptureSync(tooBig, { throwOnError: false });
    expect(r.packets.length).toBe(2);
    expect(r.error?.reason).toBe('invalid packet capture length 300000, bigger than snaplen of 262144');
    expect(r.error?.offset).toBe(good.length);

    const cutData = readCaptureSync(concat(good, pcapFile({ records: [records[2]!] }).subarray(24, 24 + 16)));
    expect(cutData.packets.length).toBe(2);
    expect(cutData.warnings[0]!.message).toBe(`truncated dump file; tried to read 1 captured bytes, only got 0 (at byte offset ${good.length})`);
    const cutHeader = readCaptureSync(concat(good, new Uint8Array(7)));
    expect(cutHeader.warnings[0]!.message).toBe(`truncated dump file; tried to read 16 header bytes, only got 7 (at byte offset ${good.length})`);

    expect(() => readCaptureSync(new Uint8Array(0))).toThrow('truncated dump file; tried to read 4 file header bytes, only got 0');
    expect(() => readCaptureSync(good.subarray(0, 10))).toThrow('truncated dump file; tried to read 24 file header bytes, only got 10');
    expect(() => readCaptureSync(text('GET / HTTP/1.1\r\n\r\n'))).toThrow('unknown file format');
  });

  it('reads the link type from the low 16 bits and the FCS length from the F bit', () => {
    const f = pcapFile({ linkType: 0x34000001, records });
    const r = readCaptureSync(f);
    expect(r.info.linkType).toBe(1);
    expect(r.info.pcapHeader?.fcsLength).toBe(6);
  });
});

describe("libpcap's invalid savefiles", () => {
  const cases = readFileSync(resolve(LIBPCAP_CONFORMANCE, 'invalid-savefiles.jsonl'), 'utf8')
    .trim()
    .split('\n')
    .map((l) => JSON.parse(l) as { name: string; savefile: string; error: string });

  it('are the six the README lists', () => {
    expect(cases.length).toBe(6);
  });

  for (const c of cases) {
    const wording = c.error.replace(/^Failed opening: /, '');
    it(`${c.name}: refused with "${wording}"`, async () => {
      const path = resolve(LIBPCAP_CONFORMANCE, c.savefile);
      let error: unknown;
      try {
        readCaptureSync(readFileSync(path), { name: c.savefile });
      } catch (err) {
        error = err;
      }
      expect(error).toBeInstanceOf(PcapFormatError);
      expect((error as Error).message).toContain(wording);
      expect((error as PcapFormatError).offset).toBeGreaterThanOrEqual(0);
      await expect(CaptureReader.open(path)).rejects.toThrow(wording);
    });
  }
});

describe('pcapng timestamps', () => {
  it('convert exactly for every resolution, fast paths and BigInt alike (property test)', async () => {
    const { TimestampConverter, encodeTimestamp } = await import('../../src/capture/timestamp.js');
    const fc = (await import('fast-check')).default;
    fc.assert(
      fc.property(
        fc.oneof(
          fc.record({ base: fc.constant(10 as const), exponent: fc.integer({ min: 0, max: 19 }) }),
          fc.record({ base: fc.constant(2 as const), exponent: fc.integer({ min: 0, max: 63 }) }),
        ),
        fc.bigInt({ min: 0n, max: 2n ** 64n - 1n }),
        (res, t) => {
          const c = new TimestampConverter(res);
          c.convert(Number(t >> 32n), Number(t & 0xffffffffn));
          const units = BigInt(res.base) ** BigInt(res.exponent);
          expect([c.seconds, c.nanos]).toEqual([Number(t / units), Number(((t % units) * 1_000_000_000n) / units)]);
          // Back again, where the resolution holds the nanoseconds exactly.
          if (res.base === 10 && res.exponent <= 9 && t / units < 2n ** 36n) {
            const [hi, lo] = encodeTimestamp(c.seconds, c.nanos, res);
            expect((BigInt(hi) << 32n) | BigInt(lo)).toBe(t);
          }
        },
      ),
      { numRuns: 20000, seed: 42 },
    );
  });
});
