/**
 * Hand-built capture files for tests: pcapng blocks written byte by byte
 * (independently of src/capture/writer.ts), so the reader is checked against
 * the format, not against our own writer.
 */

export class Bytes {
  private parts: number[] = [];
  constructor(private readonly le: boolean) {}
  u8(v: number): this {
    this.parts.push(v & 0xff);
    return this;
  }
  u16(v: number): this {
    if (this.le) this.parts.push(v & 0xff, (v >>> 8) & 0xff);
    else this.parts.push((v >>> 8) & 0xff, v & 0xff);
    return this;
  }
  u32(v: number): this {
    const b = [v & 0xff, (v >>> 8) & 0xff, (v >>> 16) & 0xff, (v >>> 24) & 0xff];
    this.parts.push(...(this.le ? b : b.reverse()));
    return this;
  }
  u64(v: bigint): this {
    const lo = Number(v & 0xffffffffn);
    const hi = Number((v >> 32n) & 0xffffffffn);
    return this.le ? this.u32(lo).u32(hi) : this.u32(hi).u32(lo);
  }
  raw(bytes: ArrayLike<number>): this {
    for (let i = 0; i < bytes.length; i++) this.parts.push(bytes[i]!);
    return this;
  }
  pad4(): this {
    while (this.parts.length % 4) this.parts.push(0);
    return this;
  }
  get length(): number {
    return this.parts.length;
  }
  bytes(): Uint8Array {
    return Uint8Array.from(this.parts);
  }
}

export type Option = [code: number, value: Uint8Array];

export const text = (s: string): Uint8Array => new TextEncoder().encode(s);

/** A pcapng block: type, total length, body, options (with opt_endofopt), total length. */
export function block(le: boolean, type: number, body: Uint8Array, options: Option[] = []): Uint8Array {
  const opts = new Bytes(le);
  for (const [code, value] of options) opts.u16(code).u16(value.length).raw(value).pad4();
  if (options.length) opts.u16(0).u16(0);
  const bodyLen = (body.length + 3) & ~3;
  const total = 12 + bodyLen + opts.length;
  const b = new Bytes(le).u32(type).u32(total).raw(body);
  b.pad4().raw(opts.bytes()).u32(total);
  return b.bytes();
}

export function shb(le: boolean, options: Option[] = [], major = 1, minor = 0): Uint8Array {
  const body = new Bytes(le).u32(0x1a2b3c4d).u16(major).u16(minor).u64(0xffffffffffffffffn).bytes();
  return block(le, 0x0a0d0d0a, body, options);
}

export function idb(le: boolean, linkType: number, snaplen: number, options: Option[] = []): Uint8Array {
  return block(le, 1, new Bytes(le).u16(linkType).u16(0).u32(snaplen).bytes(), options);
}

export function epb(le: boolean, iface: number, ts: bigint, data: Uint8Array, wire = data.length, options: Option[] = []): Uint8Array {
  const body = new Bytes(le)
    .u32(iface)
    .u32(Number(ts >> 32n))
    .u32(Number(ts & 0xffffffffn))
    .u32(data.length)
    .u32(wire)
    .raw(data)
    .pad4()
    .bytes();
  return block(le, 6, body, options);
}

export function pb(le: boolean, iface: number, ts: bigint, data: Uint8Array, wire = data.length): Uint8Array {
  const body = new Bytes(le)
    .u16(iface)
    .u16(0)
    .u32(Number(ts >> 32n))
    .u32(Number(ts & 0xffffffffn))
    .u32(data.length)
    .u32(wire)
    .raw(data)
    .pad4()
    .bytes();
  return block(le, 2, body);
}

export function spb(le: boolean, data: Uint8Array, wire = data.length): Uint8Array {
  return block(le, 3, new Bytes(le).u32(wire).raw(data).pad4().bytes());
}

export function concat(...parts: Uint8Array[]): Uint8Array {
  const n = parts.reduce((a, p) => a + p.length, 0);
  const out = new Uint8Array(n);
  let o = 0;
  for (const p of parts) {
    out.set(p, o);
    o += p.length;
  }
  return out;
}

/** A classic pcap file, written by hand. */
export function pcapFile(opts: {
  le?: boolean;
  ns?: boolean;
  linkType?: number;
  snaplen?: number;
  version?: [number, number];
  records: { sec: number; frac: number; data: Uint8Array; wire?: number; caplen?: number }[];
}): Uint8Array {
  const le = opts.le ?? true;
  const b = new Bytes(le)
    .u32(opts.ns ? 0xa1b23c4d : 0xa1b2c3d4)
    .u16(opts.version?.[0] ?? 2)
    .u16(opts.version?.[1] ?? 4)
    .u32(0)
    .u32(0)
    .u32(opts.snaplen ?? 262144)
    .u32(opts.linkType ?? 1);
  for (const r of opts.records) {
    b.u32(r.sec).u32(r.frac).u32(r.caplen ?? r.data.length).u32(r.wire ?? r.data.length).raw(r.data);
  }
  return b.bytes();
}

/** A packet body whose bytes say which packet it is. */
export function payload(n: number, len: number): Uint8Array {
  const d = new Uint8Array(len);
  for (let i = 0; i < len; i++) d[i] = (n * 31 + i * 7) & 0xff;
  return d;
}
