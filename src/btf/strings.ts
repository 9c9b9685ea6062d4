/**
 * The BTF string section: NUL-terminated names addressed by byte offset.
 * Decoded once into a JS string when it is pure ASCII (the usual case, and
 * then a byte offset is a character offset); otherwise names are decoded one
 * by one as UTF-8 and cached.
 */
export class StringTable {
  /** Raw bytes of this table (own part only for split BTF). */
  readonly bytes: Uint8Array;
  /** Offsets below `start` belong to the base BTF's table. */
  readonly start: number;
  readonly base: StringTable | undefined;
  private readonly ascii: string | undefined;
  private readonly cache = new Map<number, string>();
  private static readonly utf8 = new TextDecoder('utf-8');
  private static readonly utf8Strict = new TextDecoder('utf-8', { fatal: true });

  constructor(bytes: Uint8Array, base?: StringTable) {
    this.bytes = bytes;
    this.base = base;
    this.start = base ? base.start + base.bytes.length : 0;
    // Pure ASCII decodes to exactly one character per byte (any multi-byte
    // UTF-8 sequence gives fewer); then a byte offset is a string index.
    try {
      const s = StringTable.utf8Strict.decode(bytes);
      if (s.length === bytes.length) this.ascii = s;
    } catch {
      // not UTF-8: names are decoded one by one, with replacement characters
    }
  }

  /** Total addressable length (base + own). */
  get end(): number {
    return this.start + this.bytes.length;
  }

  /** True when `off` starts inside the table. */
  has(off: number): boolean {
    return off >= 0 && off < this.end;
  }

  /** The name at byte offset `off`; undefined when out of range or unterminated. */
  get(off: number): string | undefined {
    if (off < this.start) return this.base ? this.base.get(off) : undefined;
    const rel = off - this.start;
    if (rel >= this.bytes.length) return undefined;
    if (this.ascii !== undefined) {
      const end = this.ascii.indexOf('\0', rel);
      if (end < 0) return undefined;
      return this.ascii.slice(rel, end);
    }
    const hit = this.cache.get(rel);
    if (hit !== undefined) return hit;
    const end = this.bytes.indexOf(0, rel);
    if (end < 0) return undefined;
    const s = StringTable.utf8.decode(this.bytes.subarray(rel, end));
    this.cache.set(rel, s);
    return s;
  }
}

/** Builds a string section for the encoder: '' at offset 0, each distinct name once. */
export class StringTableBuilder {
  private readonly offsets = new Map<string, number>();
  private buf = new Uint8Array(1 << 16);
  private length = 0;
  private readonly enc = new TextEncoder();

  /** Offsets start after the base's strings (split BTF). */
  constructor(private readonly startOffset = 0) {
    // Offset 0 is '' in every table (the base's, for split BTF).
    if (startOffset === 0) this.length = 1;
  }

  private reserve(n: number): void {
    if (this.length + n <= this.buf.length) return;
    let size = this.buf.length * 2;
    while (size < this.length + n) size *= 2;
    const next = new Uint8Array(size);
    next.set(this.buf.subarray(0, this.length));
    this.buf = next;
  }

  add(s: string): number {
    if (s === '') return 0;
    const hit = this.offsets.get(s);
    if (hit !== undefined) return hit;
    const off = this.startOffset + this.length;
    this.reserve(s.length * 3 + 1);
    let p = this.length;
    let ascii = true;
    for (let i = 0; i < s.length; i++) {
      const c = s.charCodeAt(i);
      if (c > 0x7f || c === 0) {
        ascii = false;
        break;
      }
      this.buf[p++] = c;
    }
    if (!ascii) {
      const b = this.enc.encode(s);
      this.buf.set(b, this.length);
      p = this.length + b.length;
    }
    this.buf[p++] = 0;
    this.length = p;
    this.offsets.set(s, off);
    return off;
  }

  bytes(): Uint8Array {
    return this.buf.slice(0, this.length);
  }
}
