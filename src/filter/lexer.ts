/**
 * The pcap-filter lexer. Like libpcap's scanner it takes, at each position,
 * the longest match among its rules, and on a tie the rule listed first:
 * keywords before names, `1.2.3.4` as a host id rather than a name, twelve
 * hex digits as a MAC address, `\word` as a name even when `word` is a
 * keyword. Named constants (`tcp-syn`, `icmp-echoreply`, ...) are numbers.
 */
import { FilterSyntaxError } from './errors.js';

export type TokKind =
  | 'ID' | 'NUM' | 'HID' | 'HID6' | 'EID' | 'AID' | 'EOF'
  | 'AND' | 'OR' | 'NOT' | 'GEQ' | 'LEQ' | 'NEQ' | 'LSH' | 'RSH'
  | '+' | '-' | '*' | '/' | '%' | ':' | '[' | ']' | '<' | '>' | '(' | ')' | '&' | '|' | '^' | '='
  | Keyword;

export interface Token {
  kind: TokKind;
  /** The source text (for ID, the name with any leading backslash removed). */
  text: string;
  /** 0-based offset in the expression. */
  pos: number;
  /** Value of a NUM token. */
  num?: number;
}

/** Keyword spellings and the token each gives. */
const KEYWORDS: Record<string, string> = {
  dst: 'DST', src: 'SRC',
  link: 'LINK', ether: 'LINK', ppp: 'LINK', slip: 'LINK', fddi: 'LINK', tr: 'LINK', wlan: 'LINK',
  arp: 'ARP', rarp: 'RARP', ip: 'IP', sctp: 'SCTP', tcp: 'TCP', udp: 'UDP', icmp: 'ICMP',
  igmp: 'IGMP', igrp: 'IGRP', pim: 'PIM', vrrp: 'VRRP', carp: 'CARP', radio: 'RADIO',
  ip6: 'IPV6', icmp6: 'ICMPV6', ah: 'AH', esp: 'ESP',
  atalk: 'ATALK', aarp: 'AARP', decnet: 'DECNET', lat: 'LAT', sca: 'SCA', moprc: 'MOPRC', mopdl: 'MOPDL',
  iso: 'ISO', esis: 'ESIS', 'es-is': 'ESIS', isis: 'ISIS', 'is-is': 'ISIS',
  l1: 'L1', l2: 'L2', iih: 'IIH', lsp: 'LSP', snp: 'SNP', csnp: 'CSNP', psnp: 'PSNP',
  clnp: 'CLNP', stp: 'STP', ipx: 'IPX', netbeui: 'NETBEUI',
  host: 'HOST', net: 'NET', mask: 'NETMASK', port: 'PORT', portrange: 'PORTRANGE',
  proto: 'PROTO', protochain: 'PROTOCHAIN', gateway: 'GATEWAY',
  type: 'TYPE', subtype: 'SUBTYPE', direction: 'DIR', dir: 'DIR',
  address1: 'ADDR1', addr1: 'ADDR1', address2: 'ADDR2', addr2: 'ADDR2',
  address3: 'ADDR3', addr3: 'ADDR3', address4: 'ADDR4', addr4: 'ADDR4', ra: 'RA', ta: 'TA',
  less: 'LESS', greater: 'GREATER', byte: 'CBYTE', broadcast: 'BROADCAST', multicast: 'MULTICAST',
  and: 'AND', or: 'OR', not: 'NOT', len: 'LEN', length: 'LEN',
  inbound: 'INBOUND', outbound: 'OUTBOUND', ifindex: 'IFINDEX',
  vlan: 'VLAN', mpls: 'MPLS', pppoed: 'PPPOED', pppoes: 'PPPOES', geneve: 'GENEVE', vxlan: 'VXLAN',
  lane: 'LANE', llc: 'LLC', metac: 'METAC', bcc: 'BCC', oam: 'OAM', oamf4: 'OAMF4',
  oamf4ec: 'OAMF4EC', oamf4sc: 'OAMF4SC', sc: 'SC', ilmic: 'ILMIC', vpi: 'VPI', vci: 'VCI',
  connectmsg: 'CONNECTMSG', metaconnect: 'METACONNECT',
  on: 'PF_IFNAME', ifname: 'PF_IFNAME', rset: 'PF_RSET', ruleset: 'PF_RSET',
  rnr: 'PF_RNR', rulenum: 'PF_RNR', srnr: 'PF_SRNR', subrulenum: 'PF_SRNR',
  reason: 'PF_REASON', action: 'PF_ACTION',
  fisu: 'FISU', lssu: 'LSSU', lsu: 'LSSU', msu: 'MSU', hfisu: 'HFISU', hlssu: 'HLSSU', hmsu: 'HMSU',
  sio: 'SIO', opc: 'OPC', dpc: 'DPC', sls: 'SLS', hsio: 'HSIO', hopc: 'HOPC', hdpc: 'HDPC', hsls: 'HSLS',
};

export type Keyword =
  | 'DST' | 'SRC' | 'LINK' | 'ARP' | 'RARP' | 'IP' | 'SCTP' | 'TCP' | 'UDP' | 'ICMP' | 'IGMP' | 'IGRP'
  | 'PIM' | 'VRRP' | 'CARP' | 'RADIO' | 'IPV6' | 'ICMPV6' | 'AH' | 'ESP' | 'ATALK' | 'AARP' | 'DECNET'
  | 'LAT' | 'SCA' | 'MOPRC' | 'MOPDL' | 'ISO' | 'ESIS' | 'ISIS' | 'L1' | 'L2' | 'IIH' | 'LSP' | 'SNP'
  | 'CSNP' | 'PSNP' | 'CLNP' | 'STP' | 'IPX' | 'NETBEUI' | 'HOST' | 'NET' | 'NETMASK' | 'PORT'
  | 'PORTRANGE' | 'PROTO' | 'PROTOCHAIN' | 'GATEWAY' | 'TYPE' | 'SUBTYPE' | 'DIR' | 'ADDR1' | 'ADDR2'
  | 'ADDR3' | 'ADDR4' | 'RA' | 'TA' | 'LESS' | 'GREATER' | 'CBYTE' | 'BROADCAST' | 'MULTICAST' | 'LEN'
  | 'INBOUND' | 'OUTBOUND' | 'IFINDEX' | 'VLAN' | 'MPLS' | 'PPPOED' | 'PPPOES' | 'GENEVE' | 'VXLAN'
  | 'LANE' | 'LLC' | 'METAC' | 'BCC' | 'OAM' | 'OAMF4' | 'OAMF4EC' | 'OAMF4SC' | 'SC' | 'ILMIC' | 'VPI'
  | 'VCI' | 'CONNECTMSG' | 'METACONNECT' | 'PF_IFNAME' | 'PF_RSET' | 'PF_RNR' | 'PF_SRNR' | 'PF_REASON'
  | 'PF_ACTION' | 'FISU' | 'LSSU' | 'MSU' | 'HFISU' | 'HLSSU' | 'HMSU' | 'SIO' | 'OPC' | 'DPC' | 'SLS'
  | 'HSIO' | 'HOPC' | 'HDPC' | 'HSLS';

/** Named constants the scanner turns into numbers. */
const CONSTANTS: Record<string, number> = {
  icmptype: 0, icmpcode: 1,
  'icmp-echoreply': 0, 'icmp-unreach': 3, 'icmp-sourcequench': 4, 'icmp-redirect': 5, 'icmp-echo': 8,
  'icmp-routeradvert': 9, 'icmp-routersolicit': 10, 'icmp-timxceed': 11, 'icmp-paramprob': 12,
  'icmp-tstamp': 13, 'icmp-tstampreply': 14, 'icmp-ireq': 15, 'icmp-ireqreply': 16,
  'icmp-maskreq': 17, 'icmp-maskreply': 18,
  icmp6type: 0, icmp6code: 1,
  'icmp6-destinationunreach': 1, 'icmp6-packettoobig': 2, 'icmp6-timeexceeded': 3,
  'icmp6-parameterproblem': 4, 'icmp6-echo': 128, 'icmp6-echoreply': 129,
  'icmp6-multicastlistenerquery': 130, 'icmp6-multicastlistenerreportv1': 131,
  'icmp6-multicastlistenerdone': 132, 'icmp6-routersolicit': 133, 'icmp6-routeradvert': 134,
  'icmp6-neighborsolicit': 135, 'icmp6-neighboradvert': 136, 'icmp6-redirect': 137,
  'icmp6-routerrenum': 138, 'icmp6-nodeinformationquery': 139, 'icmp6-nodeinformationresponse': 140,
  'icmp6-ineighbordiscoverysolicit': 141, 'icmp6-ineighbordiscoveryadvert': 142,
  'icmp6-multicastlistenerreportv2': 143, 'icmp6-homeagentdiscoveryrequest': 144,
  'icmp6-homeagentdiscoveryreply': 145, 'icmp6-mobileprefixsolicit': 146,
  'icmp6-mobileprefixadvert': 147, 'icmp6-certpathsolicit': 148, 'icmp6-certpathadvert': 149,
  'icmp6-multicastrouteradvert': 151, 'icmp6-multicastroutersolicit': 152,
  'icmp6-multicastrouterterm': 153,
  tcpflags: 13, 'tcp-fin': 0x01, 'tcp-syn': 0x02, 'tcp-rst': 0x04, 'tcp-push': 0x08,
  'tcp-ack': 0x10, 'tcp-urg': 0x20, 'tcp-ece': 0x40, 'tcp-cwr': 0x80,
};

const H = '[0-9A-Fa-f]';
const B = `${H}${H}?`;
const B2 = `${H}{4}`;
const W = `${H}{1,4}`;
const N = '(?:0[xX][0-9A-Fa-f]+|[0-9]+)';
const V4 = `${N}\\.${N}\\.${N}\\.${N}`;

/** All IPv6 textual forms the scanner accepts: 8 groups, or fewer with one `::`, optionally an IPv4 tail. */
function v6Pattern(): string {
  const alts: string[] = [];
  const groups = (n: number): string => Array.from({ length: n }, () => W).join(':');
  alts.push(groups(8));
  for (let total = 0; total <= 7; total++) {
    for (let left = 0; left <= total; left++) {
      const right = total - left;
      alts.push(`${left ? groups(left) : ''}::${right ? groups(right) : ''}`);
    }
  }
  alts.push(`${groups(6)}:${V4}`);
  for (let total = 0; total <= 5; total++) {
    for (let left = 0; left <= total; left++) {
      const right = total - left;
      alts.push(`${left ? groups(left) : ''}::${right ? groups(right) + ':' : ''}${V4}`);
    }
  }
  // Longest alternatives first so the regex engine prefers them.
  alts.sort((a, b) => b.length - a.length);
  return `(?:${alts.join('|')})`;
}

interface Rule {
  re: RegExp;
  kind: (text: string) => TokKind | 'SKIP' | 'KEYWORD_OR_ID' | 'CONST' | 'BOGUS_EID' | 'ESCAPED' | 'NUMBER' | 'BAD';
}

const RUN = /[-_.A-Za-z0-9:$]+/y;
const MAC_RULE: Rule = {
  re: new RegExp(`(?:${B}:${B}:${B}:${B}:${B}:${B}|${B}-${B}-${B}-${B}-${B}-${B}|${B}\\.${B}\\.${B}\\.${B}\\.${B}\\.${B}|${B2}\\.${B2}\\.${B2}|${B2}${B2}${B2})`, 'y'),
  kind: () => 'EID',
};
const NUM_RULE: Rule = { re: new RegExp(N, 'y'), kind: () => 'NUMBER' };
const HID_RULE: Rule = { re: new RegExp(`(?:${V4}|${N}\\.${N}\\.${N}|${N}\\.${N})`, 'y'), kind: () => 'HID' };
const V6_RULE: Rule = { re: new RegExp(v6Pattern(), 'y'), kind: () => 'HID6' };
const BOGUS_RULE: Rule = { re: new RegExp(`${B}:+(?:${B}:+)+`, 'y'), kind: () => 'BOGUS_EID' };
const ID_RULE: Rule = { re: /[A-Za-z0-9](?:[-_.A-Za-z0-9]*[.A-Za-z0-9])?/y, kind: () => 'KEYWORD_OR_ID' };

const rules: Rule[] = [
  { re: /[ \r\n\t]/y, kind: () => 'SKIP' },
  { re: /[+\-*/%:[\]!<>()&|^=]/y, kind: (t) => (t === '!' ? 'NOT' : (t as TokKind)) },
  { re: />=/y, kind: () => 'GEQ' },
  { re: /<=/y, kind: () => 'LEQ' },
  { re: /!=/y, kind: () => 'NEQ' },
  { re: /==/y, kind: () => '=' },
  { re: /<</y, kind: () => 'LSH' },
  { re: />>/y, kind: () => 'RSH' },
  { re: /&&/y, kind: () => 'AND' },
  { re: /\|\|/y, kind: () => 'OR' },
  { re: new RegExp(`\\$${B}`, 'y'), kind: () => 'AID' },
  MAC_RULE,
  NUM_RULE,
  HID_RULE,
  V6_RULE,
  BOGUS_RULE,
  ID_RULE,
  { re: /\\[^ !()\n\t]+/y, kind: () => 'ESCAPED' },
  { re: /[^]/y, kind: () => 'BAD' },
];

/** Longest match of `re` at `pos`, trying every alternative length (JS regexes are not POSIX-longest). */
function matchAt(re: RegExp, s: string, pos: number): string | undefined {
  re.lastIndex = pos;
  const m = re.exec(s);
  return m ? m[0] : undefined;
}

/** Parse a NUM token as libpcap does: decimal, 0x hex, leading-0 octal; errors on overflow. */
export function parseNumber(text: string, expression: string, pos: number): number {
  let n = 0n;
  let what: string;
  if (/^0[xX]/.test(text)) {
    what = 'hexadecimal';
    n = BigInt(text);
  } else if (text.length > 1 && text[0] === '0') {
    what = 'octal';
    for (const ch of text.slice(1)) {
      if (ch === '8' || ch === '9') {
        throw new FilterSyntaxError(`number ${text} contains non-octal digit`, expression, pos);
      }
      n = n * 8n + BigInt(ch);
      if (n > 0xffffffffn) throw new FilterSyntaxError(`octal number ${text} overflows 32 bits`, expression, pos);
    }
  } else {
    what = 'decimal';
    n = BigInt(text);
  }
  if (n > 0xffffffffn) throw new FilterSyntaxError(`${what} number ${text} overflows 32 bits`, expression, pos);
  return Number(n);
}

export function tokenize(expression: string): Token[] {
  const out: Token[] = [];
  let pos = 0;
  while (pos < expression.length) {
    const c = expression.charCodeAt(pos);
    if (c === 32 || c === 9 || c === 10 || c === 13) {
      pos++;
      continue;
    }
    // Only the rules that can match here are tried (the IPv6 and MAC patterns are costly).
    const isHex = (c >= 48 && c <= 57) || (c >= 65 && c <= 70) || (c >= 97 && c <= 102);
    const isAlnum = isHex || (c >= 65 && c <= 90) || (c >= 97 && c <= 122);
    let candidates: Rule[];
    if (isAlnum) {
      RUN.lastIndex = pos;
      const run = RUN.exec(expression)![0];
      const colon = run.includes(':');
      candidates = isHex
        ? [
          ...(colon || run.includes('-') || run.includes('.') || run.length >= 12 ? [MAC_RULE] : []),
          NUM_RULE, HID_RULE, ...(colon ? [V6_RULE, BOGUS_RULE] : []), ID_RULE,
        ]
        : [ID_RULE];
    } else {
      candidates = rules;
    }
    let best: { text: string; rule: Rule } | undefined;
    for (const rule of candidates) {
      const text = matchAt(rule.re, expression, pos);
      if (text !== undefined && text.length > 0 && (!best || text.length > best.text.length)) {
        best = { text, rule };
      }
    }
    if (!best) best = { text: expression[pos]!, rule: rules[rules.length - 1]! };
    const { text, rule } = best!;
    let kind = rule.kind(text);
    if (kind === 'KEYWORD_OR_ID') {
      // A number or IPv4 address the name rule also matched at the same length is not a name:
      // those rules come first. (Handled above: equal length keeps the earlier rule.)
      if (Object.prototype.hasOwnProperty.call(KEYWORDS, text)) kind = KEYWORDS[text] as TokKind;
      else if (Object.prototype.hasOwnProperty.call(CONSTANTS, text)) kind = 'CONST';
      else kind = 'ID';
    }
    switch (kind) {
      case 'SKIP':
        break;
      case 'CONST':
        out.push({ kind: 'NUM', text, pos, num: CONSTANTS[text] });
        break;
      case 'NUMBER':
        out.push({ kind: 'NUM', text, pos, num: parseNumber(text, expression, pos) });
        break;
      case 'ESCAPED':
        out.push({ kind: 'ID', text: text.slice(1), pos });
        break;
      case 'BOGUS_EID':
        throw new FilterSyntaxError(`invalid Ethernet address '${text}'`, expression, pos);
      case 'BAD':
        throw new FilterSyntaxError(`can't parse filter expression: syntax error: unexpected character '${text}'`, expression, pos);
      default:
        out.push({ kind: kind as TokKind, text, pos });
    }
    pos += text.length;
  }
  out.push({ kind: 'EOF', text: '', pos: expression.length });
  return out;
}
