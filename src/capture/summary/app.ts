/**
 * Short notes for application protocols, in tcpdump -n's words:
 *   DNS:  `22836+ [1au] A? www.tcpdump.org. (56)` / `22836*- 2/2/5 A 192.0.2.1, A 192.0.2.2 (224)`
 *   HTTP: `HTTP: GET / HTTP/1.1` (a request or status line) or `HTTP` (other data)
 * DNS answers are listed with their type and, for the common types, their data;
 * the authority and additional sections are only counted.
 */
import { ipv4, ipv6, printable, u16 } from './bytes.js';

const DNS_TYPES: Record<number, string> = {
  1: 'A', 2: 'NS', 3: 'MD', 4: 'MF', 5: 'CNAME', 6: 'SOA', 7: 'MB', 8: 'MG', 9: 'MR', 10: 'NULL', 11: 'WKS',
  12: 'PTR', 13: 'HINFO', 14: 'MINFO', 15: 'MX', 16: 'TXT', 17: 'RP', 18: 'AFSDB', 19: 'X25', 20: 'ISDN',
  21: 'RT', 22: 'NSAP', 23: 'NSAP_PTR', 24: 'SIG', 25: 'KEY', 26: 'PX', 27: 'GPOS', 28: 'AAAA', 29: 'LOC',
  30: 'NXT', 31: 'EID', 32: 'NIMLOC', 33: 'SRV', 34: 'ATMA', 35: 'NAPTR', 36: 'KX', 37: 'CERT', 38: 'A6',
  39: 'DNAME', 40: 'SINK', 41: 'OPT', 42: 'APL', 43: 'DS', 44: 'SSHFP', 45: 'IPSECKEY', 46: 'RRSIG', 47: 'NSEC',
  48: 'DNSKEY', 49: 'DHCID', 50: 'NSEC3', 51: 'NSEC3PARAM', 52: 'TLSA', 53: 'SMIMEA', 55: 'HIP', 59: 'CDS',
  60: 'CDNSKEY', 61: 'OPENPGPKEY', 62: 'CSYNC', 63: 'ZONEMD', 64: 'SVCB', 65: 'HTTPS', 99: 'SPF', 100: 'UINFO',
  101: 'UID', 102: 'GID', 103: 'UNSPEC', 249: 'TKEY', 250: 'TSIG', 251: 'IXFR', 252: 'AXFR', 253: 'MAILB',
  254: 'MAILA', 255: 'ANY', 256: 'URI', 257: 'CAA', 32768: 'TA', 32769: 'DLV',
};
const DNS_CLASSES: Record<number, string> = { 1: 'IN', 3: 'CHAOS', 4: 'HS', 255: 'ANY' };
const DNS_OPS = [
  '', ' inv_q', ' stat', ' op3', ' notify', ' update', ' op6', ' op7', ' op8', ' updateA', ' updateD', ' updateDA',
  ' updateM', ' updateMA', ' zoneInit', ' zoneRef',
];
const DNS_RCODES: Record<number, string> = {
  0: '', 1: ' FormErr', 2: ' ServFail', 3: ' NXDomain', 4: ' NotImp', 5: ' Refused', 6: ' YXDomain', 7: ' YXRRSet',
  8: ' NXRRSet', 9: ' NotAuth', 10: ' NotZone', 15: ' NoChange', 16: ' BadVers', 17: ' BadKey', 18: ' BadTime',
  19: ' BadMode', 20: ' BadName', 21: ' BadAlg', 22: ' BadTrunc', 23: ' BadCookie',
};
const rcodeName = (r: number): string => DNS_RCODES[r] ?? ` Resp${r}`;

const typeName = (t: number): string => DNS_TYPES[t] ?? `Type${t}`;
const className = (c: number): string => DNS_CLASSES[c] ?? `(Class ${c})`;

class Truncated extends Error {}
const TRUNC = new Truncated();
/** A record whose name or fixed part is not captured: tcpdump stops listing answers, without a mark. */
const STOP = new Truncated();

/** A domain name at `p` (following compression pointers); returns its text and where the name ends at `p`. */
function readName(d: Uint8Array, base: number, p: number, end: number): { text: string; next: number } {
  let text = '';
  let next = -1;
  let jumps = 0;
  for (;;) {
    if (p >= end) throw TRUNC;
    const len = d[p]!;
    if ((len & 0xc0) === 0xc0) {
      if (p + 1 >= end) throw TRUNC;
      if (next < 0) next = p + 2;
      const target = base + (((len & 0x3f) << 8) | d[p + 1]!);
      if (++jumps > 64 || target >= end) return { text: text + '<BAD PTR>', next };
      p = target;
      continue;
    }
    // Label types 0x80 (reserved) and 0x40 (EDNS0 extended) other than the bit-string label: tcpdump gives up.
    if ((len & 0xc0) === 0x80) throw TRUNC;
    if ((len & 0xc0) === 0x40) {
      if (len !== 0x41 || p + 1 >= end) throw TRUNC;
      const bits = d[p + 1]! || 256;
      p += 2 + ((bits + 7) >> 3);
      text += '[bitlabel].';
      continue;
    }
    if (len === 0) {
      if (next < 0) next = p + 1;
      return { text: text === '' ? '.' : text, next };
    }
    if (p + 1 + len > end) throw TRUNC;
    // Names are short in real traffic; a crafted one is walked to its end but printed only in part.
    if (text.length < 1024) {
      for (let i = p + 1; i <= p + len; i++) {
        const c = d[i]!;
        text += c > 0x20 && c < 0x7f ? String.fromCharCode(c) : `\\${c.toString(8).padStart(3, '0')}`;
      }
      text += '.';
    }
    p += 1 + len;
  }
}

/** Where the name at `p` ends, without following compression pointers (tcpdump's ns_nskip). */
function skipName(d: Uint8Array, p: number, end: number): number {
  for (;;) {
    if (p >= end) throw TRUNC;
    const len = d[p]!;
    if ((len & 0xc0) === 0xc0) return p + 2;
    if (len === 0) return p + 1;
    if ((len & 0xc0) === 0x80) throw TRUNC;
    if ((len & 0xc0) === 0x40) {
      if (len !== 0x41 || p + 1 >= end) throw TRUNC;
      p += 2 + (((d[p + 1]! || 256) + 7) >> 3);
    } else p += 1 + len;
  }
}

/** One resource record (the answer part of a response), from `p`; returns text and the next offset. */
function readRecord(d: Uint8Array, base: number, p: number, end: number, mdns: boolean): { text: string; next: number } {
  try {
    p = skipName(d, p, end);
  } catch (err) {
    throw err === TRUNC ? STOP : err;
  }
  if (p + 10 > end) throw STOP;
  const type = u16(d, p);
  let cls = u16(d, p + 2);
  const rdlen = u16(d, p + 8);
  p += 10;
  let text = ` ${typeName(type)}`;
  let flush = false;
  if (mdns && type !== 41) {
    flush = (cls & 0x8000) !== 0;
    cls &= 0x7fff;
  }
  if (cls !== 1 && type !== 41) text += ` ${className(cls)}`;
  if (flush) text += ' (Cache flush)';
  const rend = p + rdlen;
  if (rend > end) throw TRUNC;
  switch (type) {
    case 1:
      if (rdlen >= 4) text += ` ${ipv4(d, p)}`;
      break;
    case 28:
      if (rdlen >= 16) text += ` ${ipv6(d, p)}`;
      break;
    case 2:
    case 5:
    case 12:
    case 39:
      text += ` ${readName(d, base, p, rend).text}`;
      break;
    case 15:
      if (rdlen >= 3) text += ` ${readName(d, base, p + 2, rend).text} ${u16(d, p)}`;
      break;
    case 33:
      if (rdlen >= 7) text += ` ${readName(d, base, p + 6, rend).text}:${u16(d, p + 4)} ${u16(d, p)} ${u16(d, p + 2)}`;
      break;
    case 16: {
      let q = p;
      while (q < rend) {
        const n = d[q]!;
        if (q + 1 + n > rend) break;
        text += ` "${printable(d, q + 1, q + 1 + n)}"`;
        q += 1 + n;
      }
      break;
    }
    case 41:
      text += ` UDPsize=${cls}`;
      break;
    case 256: {
      if (rdlen >= 4) text += ` ${u16(d, p)} ${u16(d, p + 2)} ${printable(d, p + 4, rend)}`;
      break;
    }
  }
  return { text, next: rend };
}

/** The upper 8 bits of the extended RCODE, from an OPT record in the additional section (or 0). */
function extendedRcode(d: Uint8Array, base: number, p: number, end: number, skip: number, additional: number): number {
  try {
    for (let i = 0; i < skip + additional; i++) {
      p = skipName(d, p, end);
      if (p + 10 > end) return 0;
      const type = u16(d, p);
      if (i >= skip && type === 41) return d[p + 4]!;
      p += 10 + u16(d, p + 8);
    }
  } catch {
    // A damaged record: no extended RCODE.
  }
  return 0;
}

/** A DNS message of `length` bytes at d[p..], captured up to `end`. */
export function dnsSummary(d: Uint8Array, p: number, end: number, length: number, mdns: boolean): string {
  if (length < 12) return `domain [length ${length} < 12] (invalid)`;
  if (end - p < 12) return '[|domain]';
  const base = p;
  end = Math.min(end, p + length);
  const id = u16(d, p);
  const b2 = u16(d, p + 2);
  const qd = u16(d, p + 4);
  const an = u16(d, p + 6);
  const ns = u16(d, p + 8);
  const ar = u16(d, p + 10);
  const opcode = (b2 >> 11) & 0xf;
  let s: string;
  let cp = p + 12;
  try {
    if (b2 & 0x8000) {
      s = `${id}${DNS_OPS[opcode]}`;
      const flags = `${b2 & 0x0400 ? '*' : ''}${b2 & 0x0080 ? '' : '-'}${b2 & 0x0200 ? '|' : ''}${b2 & 0x0020 ? '$' : ''}`;
      let questionsEnd = -1;
      try {
        let q = cp;
        for (let i = 0; i < qd; i++) q = skipName(d, q, end) + 4;
        questionsEnd = q;
      } catch (err) {
        if (err !== TRUNC) throw err;
      }
      const ext = ar > 0 && questionsEnd >= 0 ? extendedRcode(d, base, questionsEnd, end, an + ns, ar) : 0;
      s += rcodeName((ext << 4) | (b2 & 0xf)) + flags;
      if (qd !== 1) s += ` [${qd}q]`;
      if (questionsEnd < 0) {
        // tcpdump writes a comma for each question it could step over, then gives up.
        let q = cp;
        for (let i = 0; i < qd; i++) {
          if (i > 0) s += ',';
          try {
            q = skipName(d, q, end) + 4;
          } catch {
            break;
          }
        }
        throw TRUNC;
      }
      cp = questionsEnd;
      s += ` ${an}/${ns}/${ar}`;
      for (let i = 0; i < an; i++) {
        if (i > 0) {
          if (cp >= end) throw TRUNC;
          s += ',';
        }
        try {
          const r = readRecord(d, base, cp, end, mdns);
          s += r.text;
          cp = r.next;
        } catch (err) {
          if (err === STOP) break;
          if (err === TRUNC) return s + ' [|domain]';
          throw err;
        }
      }
    } else {
      s = `${id}${DNS_OPS[opcode]}${b2 & 0x0100 ? '+' : ''}${b2 & 0x0010 ? '%' : ''}`;
      if (b2 & 0x6cf) s += ` [b2&3=0x${b2.toString(16)}]`;
      if (opcode === 1) {
        if (qd) s += ` [${qd}q]`;
        if (an !== 1) s += ` [${an}a]`;
      } else {
        if (an) s += ` [${an}a]`;
        if (qd !== 1) s += ` [${qd}q]`;
      }
      if (ns) s += ` [${ns}n]`;
      if (ar) s += ` [${ar}au]`;
      for (let i = 0; i < qd; i++) {
        try {
          const name = readName(d, base, cp, end);
          if (name.next + 4 > end) throw TRUNC;
          const type = u16(d, name.next);
          let cls = u16(d, name.next + 2);
          let q = ` ${typeName(type)}`;
          const qu = (cls & 0x8000) !== 0;
          if (mdns) cls &= 0x7fff;
          if (cls !== 1) q += ` ${className(cls)}`;
          if (mdns) q += qu ? ' (QU)' : ' (QM)';
          s += `${q}? ${name.text}`;
          cp = name.next + 4;
        } catch (err) {
          if (err === TRUNC) return s + ' [|domain]';
          throw err;
        }
      }
    }
  } catch (err) {
    if (err === TRUNC) return s! + ' [|domain]';
    throw err;
  }
  return `${s} (${length})`;
}

const HTTP_METHODS = new Set(
  (
    'GET PUT COPY HEAD LOCK MOVE POLL POST BCOPY BMOVE MKCOL TRACE LABEL MERGE DELETE SEARCH UNLOCK REPORT UPDATE ' +
    'NOTIFY BDELETE CONNECT OPTIONS CHECKIN PROPFIND CHECKOUT CCM_POST SUBSCRIBE PROPPATCH BPROPFIND BPROPPATCH ' +
    'UNCHECKOUT MKACTIVITY MKWORKSPACE UNSUBSCRIBE RPC_CONNECT VERSION-CONTROL BASELINE-CONTROL'
  ).split(' '),
);

/** `HTTP: <first line>` for a request or status line, else `HTTP`. */
export function httpSummary(d: Uint8Array, p: number, end: number): string {
  let eol = p;
  while (eol < end && d[eol] !== 0x0a && d[eol] !== 0x0d && eol - p < 300) eol++;
  const line = printable(d, p, eol);
  const sp1 = line.indexOf(' ');
  if (sp1 > 0) {
    const first = line.slice(0, sp1);
    const rest = line.slice(sp1 + 1);
    const second = rest.split(' ', 1)[0]!;
    if (HTTP_METHODS.has(first) || /^\d{3}$/.test(second)) return `HTTP: ${line}`;
  }
  return 'HTTP';
}

