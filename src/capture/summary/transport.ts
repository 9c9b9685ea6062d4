/**
 * TCP and UDP, as tcpdump -n prints them:
 *   src.port > dst.port: Flags [S.], seq 1:74, ack 1, win 512, options [mss 1460,nop,...], length 73: HTTP: GET / HTTP/1.1
 *   src.port > dst.port: UDP, length 12
 * Sequence numbers are relative to the first ones seen in a conversation,
 * once a packet with ACK set has been seen (tcpdump's rule; `-S` off).
 */
import { dnsSummary, httpSummary } from './app.js';
import { hex2, u16, u32 } from './bytes.js';
import type { Frame, IpContext } from './frame.js';

const TH_FIN = 0x01;
const TH_SYN = 0x02;
const TH_RST = 0x04;
const TH_PUSH = 0x08;
const TH_ACK = 0x10;
const TH_URG = 0x20;
const TH_ECE = 0x40;
const TH_CWR = 0x80;

function flagString(flags: number): string {
  let s = '';
  if (flags & TH_FIN) s += 'F';
  if (flags & TH_SYN) s += 'S';
  if (flags & TH_RST) s += 'R';
  if (flags & TH_PUSH) s += 'P';
  if (flags & TH_ACK) s += '.';
  if (flags & TH_URG) s += 'U';
  if (flags & TH_ECE) s += 'E';
  if (flags & TH_CWR) s += 'W';
  return s === '' ? 'none' : s;
}

function ports(ip: IpContext, sport: number, dport: number): string {
  return ip.direct ? `${ip.src}.${sport} > ${ip.dst}.${dport}: ` : `${sport} > ${dport}: `;
}

const HTTP_PORTS = new Set([80, 8080, 3128]);

export function tcpSummary(f: Frame, ip: IpContext, off: number, end: number, len: number): string {
  const d = f.d;
  if (end - off < 4) return `${ip.src} > ${ip.dst}: [|tcp]`;
  const sport = u16(d, off);
  const dport = u16(d, off + 2);
  let s = ports(ip, sport, dport);
  if (end - off < 13) return s + ' [|tcp]';
  const hlen = (d[off + 12]! >> 4) * 4;
  if (hlen < 20) return s + ` tcp ${(len - hlen) >>> 0} [bad hdr length ${hlen} - too short, < 20]`;
  if (end - off < 20) return s + ' [|tcp]';
  let seq = u32(d, off + 4);
  let ack = u32(d, off + 8);
  const flags = d[off + 13]!;
  const win = u16(d, off + 14);
  const urp = u16(d, off + 18);
  s += `Flags [${flagString(flags)}]`;
  let thSeq = 0;
  let thAck = 0;
  let rev = false;
  if (flags & TH_ACK) {
    rev = sport > dport || (sport === dport && ip.srcKey > ip.dstKey);
    const key = rev
      ? `${ip.dstKey}|${ip.srcKey}|${dport}|${sport}`
      : `${ip.srcKey}|${ip.dstKey}|${sport}|${dport}`;
    const seqs = f.state.seqs;
    const known = seqs.get(key);
    if (known === undefined || flags & TH_SYN) {
      const entry = rev ? { ack: seq, seq: (ack - 1) >>> 0 } : { seq, ack: (ack - 1) >>> 0 };
      seqs.set(key, entry);
      thSeq = entry.seq;
      thAck = entry.ack;
    } else {
      thSeq = known.seq;
      thAck = known.ack;
      if (rev) {
        seq = (seq - known.ack) >>> 0;
        ack = (ack - known.seq) >>> 0;
      } else {
        seq = (seq - known.seq) >>> 0;
        ack = (ack - known.ack) >>> 0;
      }
    }
  }
  if (hlen > len) return s + ` [bad hdr length ${hlen} - too long, > ${len}]`;
  const plen = len - hlen;
  if (plen > 0 || flags & (TH_SYN | TH_FIN | TH_RST)) {
    s += `, seq ${seq}`;
    if (plen > 0) s += `:${(seq + plen) >>> 0}`;
  }
  if (flags & TH_ACK) s += `, ack ${ack}`;
  s += `, win ${win}`;
  if (flags & TH_URG) s += `, urg ${urp}`;
  if (hlen > 20) {
    const opts = tcpOptions(d, off + 20, Math.min(end, off + hlen), off + hlen, rev ? thSeq : thAck);
    // tcpdump stops after a truncated ("[|tcp]", no closing bracket) or bad ("[bad opt]]") option list.
    if (opts.stop === 'trunc') return s + `, options [${opts.text} [|tcp]`;
    if (opts.stop === 'bad') return s + `, options [${opts.text}[bad opt]]`;
    s += `, options [${opts.text}]`;
  }
  s += `, length ${plen}`;
  if (plen <= 0) return s;
  const p = off + hlen;
  if (HTTP_PORTS.has(sport) || HTTP_PORTS.has(dport)) return s + ': ' + httpSummary(d, p, end);
  if ((sport === 53 || dport === 53 || sport === 5353 || dport === 5353) && plen > 2) {
    return s + ' ' + dnsSummary(d, p + 2, end, plen - 2, sport === 5353 || dport === 5353);
  }
  return s;
}

const MPTCP_SUBTYPES = ['capable', 'join', 'dss', 'add-addr', 'rem-addr', 'prio', 'fail', 'fast-close', 'tcprst'];

function hexBytes(d: Uint8Array, p: number, n: number): string {
  let s = '';
  for (let i = 0; i < n; i++) s += hex2(d[p + i]!);
  return s;
}

interface Options {
  text: string;
  stop?: 'trunc' | 'bad';
}

/**
 * TCP options from `p` to `hdrEnd` (captured up to `end`), in tcpdump's
 * words. `sackBase` makes SACK blocks relative, as tcpdump does.
 */
function tcpOptions(d: Uint8Array, p: number, end: number, hdrEnd: number, sackBase: number): Options {
  const parts: string[] = [];
  let hlen = hdrEnd - p;
  const stop = (kind: 'trunc' | 'bad', partial = ''): Options => ({
    text: parts.join(',') + (parts.length && partial ? ',' : '') + partial,
    stop: kind,
  });
  while (hlen > 0) {
    if (p >= end) return stop('trunc');
    const opt = d[p++]!;
    const zeroLen = opt === 0 || opt === 1;
    let len = 1;
    if (!zeroLen) {
      if (p >= end) return stop('trunc');
      len = d[p++]!;
      if (len < 2 || len > hlen) return stop('bad');
      hlen--;
    }
    hlen--;
    let datalen = 0;
    // Check that n option bytes are declared (else "bad") and captured (else "[|tcp]").
    const check = (n: number, partial: string): Options | undefined =>
      n > hlen ? stop('bad', partial) : p + n > end ? stop('trunc', partial) : undefined;
    let text: string;
    let early: Options | undefined;
    switch (opt) {
      case 0:
        text = 'eol';
        break;
      case 1:
        text = 'nop';
        break;
      case 2:
        datalen = 2;
        if ((early = check(2, 'mss'))) return early;
        text = `mss ${u16(d, p)}`;
        break;
      case 3:
        datalen = 1;
        if ((early = check(1, 'wscale'))) return early;
        text = `wscale ${d[p]}`;
        break;
      case 4:
        text = 'sackOK';
        break;
      case 5:
        datalen = len - 2;
        if (datalen % 8 !== 0) text = 'sack malformed sack';
        else {
          text = `sack ${datalen / 8} `;
          for (let i = 0; i < datalen; i += 8) {
            if ((early = check(i + 8, text))) return early;
            text += `{${(u32(d, p + i) - sackBase) >>> 0}:${(u32(d, p + i + 4) - sackBase) >>> 0}}`;
          }
        }
        break;
      case 8:
        datalen = 8;
        if ((early = check(8, 'TS'))) return early;
        text = `TS val ${u32(d, p)} ecr ${u32(d, p + 4)}`;
        break;
      case 19:
        datalen = 16;
        if ((early = check(16, 'md5'))) return early;
        text = `md5 shared secret not supplied with -M, can't check - ${hexBytes(d, p, 16)}`;
        break;
      case 29:
        datalen = len - 2;
        if (datalen < 2) text = 'tcp-ao invalid';
        else {
          text = 'tcp-ao';
          if ((early = check(1, text))) return early;
          text += ` keyid ${d[p]}`;
          if ((early = check(2, text))) return early;
          text += ` rnextkeyid ${d[p + 1]}`;
          if (datalen > 2) {
            text += ' mac 0x';
            for (let i = 2; i < datalen; i++) {
              if ((early = check(i + 1, text))) return early;
              text += hex2(d[p + i]!);
            }
          }
        }
        break;
      case 20:
        datalen = len - 2;
        if (datalen < 2) return stop('bad', 'scps');
        if ((early = check(datalen, 'scps'))) return early;
        text = 'scps';
        break;
      case 30:
        datalen = len - 2;
        if ((early = check(Math.min(datalen, 1), 'mptcp'))) return early;
        text = `mptcp ${len} ${datalen >= 1 ? (MPTCP_SUBTYPES[d[p]! >> 4] ?? 'unknown') : ''}`.trimEnd();
        break;
      case 34:
        datalen = len - 2;
        if ((early = check(datalen, 'tfo'))) return early;
        text = datalen === 0 ? 'tfo cookiereq' : `tfo cookie ${hexBytes(d, p, datalen)}`;
        break;
      case 253:
      case 254:
        datalen = len - 2;
        if (datalen < 2) return stop('bad', 'exp');
        if ((early = check(datalen, 'exp'))) return early;
        text = `exp-${hexBytes(d, p, 2)}`;
        break;
      default:
        datalen = len - 2;
        text = `unknown-${opt}`;
        if (datalen > 0) text += ' 0x';
        for (let i = 0; i < datalen; i++) {
          if ((early = check(i + 1, text))) return early;
          text += hex2(d[p + i]!);
        }
    }
    if (datalen + (zeroLen ? 1 : 2) !== len) text += `[len ${len}]`;
    parts.push(text);
    p += datalen;
    hlen -= datalen;
    if (opt === 0) break;
  }
  return { text: parts.join(',') };
}

export function udpSummary(f: Frame, ip: IpContext, off: number, end: number, len: number): string {
  const d = f.d;
  if (end - off < 8) {
    if (end - off >= 4 && len < 8) return ports(ip, u16(d, off), u16(d, off + 2)) + `truncated-udp ${len}`;
    return `${ip.src} > ${ip.dst}:  [|udp]`;
  }
  const sport = u16(d, off);
  const dport = u16(d, off + 2);
  const prefix = ports(ip, sport, dport);
  if (len < 8) return prefix + `truncated-udp ${len}`;
  let ulen = u16(d, off + 4);
  if (ulen === 0 && len > 65535) ulen = len;
  if (ulen < 8) return prefix + `truncated-udplength ${ulen}`;
  let length = len - 8;
  if (ulen - 8 < length) length = ulen - 8;
  const p = off + 8;
  const pend = Math.min(end, p + length);
  if (sport === 53 || dport === 53) return prefix + dnsSummary(d, p, pend, length, false);
  if (sport === 5353 || dport === 5353) return prefix + dnsSummary(d, p, pend, length, true);
  return prefix + `UDP, length ${length}`;
}
