/**
 * Address and number parsers of the filter language (libpcap's helpers
 * pcap_ether_aton, atodn, atoan, atoin, get_decuint, xdtoi), written to
 * give the same answers on the same inputs.
 */

/** Value of one hex digit character code, or -1. */
export function xdtoi(c: number): number {
  if (c >= 48 && c <= 57) return c - 48;
  if (c >= 97 && c <= 102) return c - 97 + 10;
  if (c >= 65 && c <= 70) return c - 65 + 10;
  return -1;
}

const HEX = /^[0-9A-Fa-f]+$/;

/** MAC address in any of the accepted spellings → 6 bytes, or undefined. */
export function etherAton(s: string): Uint8Array | undefined {
  let parts: string[];
  if (/^[0-9A-Fa-f]{12}$/.test(s)) {
    parts = s.match(/../g)!;
  } else if (/^[0-9A-Fa-f]{4}\.[0-9A-Fa-f]{4}\.[0-9A-Fa-f]{4}$/.test(s)) {
    parts = s.replace(/\./g, '').match(/../g)!;
  } else {
    const sep = s.includes(':') ? ':' : s.includes('-') ? '-' : '.';
    parts = s.split(sep);
    if (parts.length !== 6 || parts.some((p) => p.length < 1 || p.length > 2 || !HEX.test(p))) return undefined;
  }
  return Uint8Array.from(parts.map((p) => parseInt(p, 16)));
}

export function formatMac(b: Uint8Array): string {
  return Array.from(b, (x) => x.toString(16).padStart(2, '0')).join(':');
}

/** Unsigned decimal (leading zeros allowed) without sign or spaces; undefined on error. */
export function getDecUint(s: string): { value: number; rest: string } | { error: 'EINVAL' | 'ERANGE' } {
  const m = /^[0-9]+/.exec(s);
  if (!m) return { error: 'EINVAL' };
  const v = BigInt(m[0]);
  if (v > 0xffffffffn) return { error: 'ERANGE' };
  return { value: Number(v), rest: s.slice(m[0].length) };
}

/** DECnet `area.node` (area 0..63, node 0..1023) → 16-bit address, or undefined. */
export function atodn(s: string): number | undefined {
  const m = /^([0-9]+)\.([0-9]+)$/.exec(s);
  if (!m) return undefined;
  const area = Number(m[1]);
  const node = Number(m[2]);
  if (area > 63 || node > 1023) return undefined;
  return (area << 10) | node;
}

export function formatDecnet(a: number): string {
  return `${a >> 10}.${a & 1023}`;
}

/** ARCnet `$xx` → byte, or undefined. */
export function atoan(s: string): number | undefined {
  const m = /^\$([0-9A-Fa-f]{1,2})$/.exec(s);
  return m ? parseInt(m[1]!, 16) : undefined;
}

/**
 * Partial IPv4 `a`, `a.b`, `a.b.c`, `a.b.c.d` (each part decimal, 0x hex or
 * 0-octal, at most 255) → value and number of significant bits, or undefined.
 */
export function atoin(s: string): { value: number; bits: number } | undefined {
  // One pass over the character codes (this runs for every IPv4 address compiled).
  const n = s.length;
  let v = 0;
  let parts = 0;
  let i = 0;
  for (;;) {
    if (parts === 4) return undefined;
    let part = 0;
    const c0 = i < n ? s.charCodeAt(i) : -1;
    if (c0 === 48 && i + 1 < n && (s.charCodeAt(i + 1) | 0x20) === 120) {
      // 0x hex: at least one digit
      i += 2;
      const start = i;
      for (; i < n; i++) {
        const d = xdtoi(s.charCodeAt(i));
        if (d < 0) break;
        if (part <= 255) part = part * 16 + d;
      }
      if (i === start) return undefined;
    } else if (c0 === 48) {
      // 0 octal
      for (i++; i < n; i++) {
        const c = s.charCodeAt(i);
        if (c < 48 || c > 55) break;
        if (part <= 255) part = part * 8 + (c - 48);
      }
    } else if (c0 >= 49 && c0 <= 57) {
      for (; i < n; i++) {
        const c = s.charCodeAt(i);
        if (c < 48 || c > 57) break;
        if (part <= 255) part = part * 10 + (c - 48);
      }
    } else return undefined;
    if (part > 255) return undefined;
    v = (v * 256 + part) >>> 0;
    parts++;
    if (i === n) return { value: v >>> 0, bits: parts * 8 };
    if (s.charCodeAt(i) !== 46) return undefined;
    i++;
  }
}

/** IPv6 text (with `::` and an optional IPv4 tail) → 16 bytes, or undefined. */
export function parseIpv6(s: string): Uint8Array | undefined {
  let head = s;
  let tail4: number[] = [];
  const m = /^(.*:)(\d+\.\d+\.\d+\.\d+)$/.exec(s);
  if (m) {
    const parts = m[2]!.split('.').map((x) => (/^\d{1,3}$/.test(x) ? Number(x) : 256));
    if (parts.some((x) => x > 255)) return undefined;
    tail4 = parts;
    head = m[1]!.endsWith('::') ? m[1]! : m[1]!.slice(0, -1);
  }
  const groupsNeeded = 8 - tail4.length / 2;
  const dbl = head.split('::');
  if (dbl.length > 2) return undefined;
  const parse = (x: string): number[] | undefined => {
    if (x === '') return [];
    const gs = x.split(':');
    const out: number[] = [];
    for (const g of gs) {
      if (!/^[0-9A-Fa-f]{1,4}$/.test(g)) return undefined;
      out.push(parseInt(g, 16));
    }
    return out;
  };
  const left = parse(dbl[0]!);
  const right = dbl.length === 2 ? parse(dbl[1]!) : [];
  if (!left || !right) return undefined;
  let groups: number[];
  if (dbl.length === 2) {
    const fill = groupsNeeded - left.length - right.length;
    if (fill < 1) return undefined;
    groups = [...left, ...new Array<number>(fill).fill(0), ...right];
  } else {
    if (left.length !== groupsNeeded) return undefined;
    groups = left;
  }
  const out = new Uint8Array(16);
  groups.forEach((g, i) => {
    out[i * 2] = g >> 8;
    out[i * 2 + 1] = g & 0xff;
  });
  tail4.forEach((b, i) => (out[12 + i] = b));
  return out;
}

export function formatIpv4(v: number): string {
  return [v >>> 24, (v >>> 16) & 255, (v >>> 8) & 255, v & 255].join('.');
}
