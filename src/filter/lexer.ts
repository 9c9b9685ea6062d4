/**
 * The pcap-filter lexer. Like libpcap's scanner it takes, at each position,
 * the longest match among its rules, and on a tie the rule listed first:
 * keywords before names, `1.2.3.4` as a host id rather than a name, twelve
 * hex digits as a MAC address, `\word` as a name even when `word` is a
 * keyword. Named constants (`tcp-syn`, `icmp-echoreply`, ...) are numbers.
 *
 * It is a hand-written scanner over character codes (no regular
 * expressions): for each rule that can start with the character at hand, a
 * small matcher gives the longest string the rule's pattern matches there,
 * which is what flex's DFA does for libpcap.
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

/**
 * Token kinds as small integers: the parser's tests of the current token are integer compares,
 * its switches jump tables and its tables arrays indexed by kind (a Map of the kind names cost a
 * hash lookup per token). `const enum`: tsc writes each use as its number. TOKEN_NAMES gives each
 * kind's name (TokKind: what tokenize() reports).
 */
export const enum Tok {
  EOF, ID, NUM, HID, HID6, EID, AID, AND, OR, NOT, GEQ, LEQ, NEQ, LSH, RSH, PLUS, MINUS, STAR,
  SLASH, PERCENT, COLON, LBRACK, RBRACK, LT, GT, LPAREN, RPAREN, AMP, PIPE, CARET, EQ, DST, SRC,
  LINK, ARP, RARP, IP, SCTP, TCP, UDP, ICMP, IGMP, IGRP, PIM, VRRP, CARP, RADIO, IPV6, ICMPV6, AH,
  ESP, ATALK, AARP, DECNET, LAT, SCA, MOPRC, MOPDL, ISO, ESIS, ISIS, L1, L2, IIH, LSP, SNP, CSNP,
  PSNP, CLNP, STP, IPX, NETBEUI, HOST, NET, NETMASK, PORT, PORTRANGE, PROTO, PROTOCHAIN, GATEWAY,
  TYPE, SUBTYPE, DIR, ADDR1, ADDR2, ADDR3, ADDR4, RA, TA, LESS, GREATER, CBYTE, BROADCAST,
  MULTICAST, LEN, INBOUND, OUTBOUND, IFINDEX, VLAN, MPLS, PPPOED, PPPOES, GENEVE, VXLAN, LANE, LLC,
  METAC, BCC, OAM, OAMF4, OAMF4EC, OAMF4SC, SC, ILMIC, VPI, VCI, CONNECTMSG, METACONNECT,
  PF_IFNAME, PF_RSET, PF_RNR, PF_SRNR, PF_REASON, PF_ACTION, FISU, LSSU, MSU, HFISU, HLSSU, HMSU,
  SIO, OPC, DPC, SLS, HSIO, HOPC, HDPC, HSLS,
}

/** The name of each token kind (`TOKEN_NAMES[Tok.LPAREN]` is `'('`). */
const TOKEN_NAME_OF: Record<Tok, TokKind> = {
  [Tok.EOF]: 'EOF', [Tok.ID]: 'ID', [Tok.NUM]: 'NUM', [Tok.HID]: 'HID', [Tok.HID6]: 'HID6',
  [Tok.EID]: 'EID', [Tok.AID]: 'AID', [Tok.AND]: 'AND', [Tok.OR]: 'OR', [Tok.NOT]: 'NOT',
  [Tok.GEQ]: 'GEQ', [Tok.LEQ]: 'LEQ', [Tok.NEQ]: 'NEQ', [Tok.LSH]: 'LSH', [Tok.RSH]: 'RSH',
  [Tok.PLUS]: '+', [Tok.MINUS]: '-', [Tok.STAR]: '*', [Tok.SLASH]: '/', [Tok.PERCENT]: '%',
  [Tok.COLON]: ':', [Tok.LBRACK]: '[', [Tok.RBRACK]: ']', [Tok.LT]: '<', [Tok.GT]: '>',
  [Tok.LPAREN]: '(', [Tok.RPAREN]: ')', [Tok.AMP]: '&', [Tok.PIPE]: '|', [Tok.CARET]: '^',
  [Tok.EQ]: '=', [Tok.DST]: 'DST', [Tok.SRC]: 'SRC', [Tok.LINK]: 'LINK', [Tok.ARP]: 'ARP',
  [Tok.RARP]: 'RARP', [Tok.IP]: 'IP', [Tok.SCTP]: 'SCTP', [Tok.TCP]: 'TCP', [Tok.UDP]: 'UDP',
  [Tok.ICMP]: 'ICMP', [Tok.IGMP]: 'IGMP', [Tok.IGRP]: 'IGRP', [Tok.PIM]: 'PIM', [Tok.VRRP]: 'VRRP',
  [Tok.CARP]: 'CARP', [Tok.RADIO]: 'RADIO', [Tok.IPV6]: 'IPV6', [Tok.ICMPV6]: 'ICMPV6',
  [Tok.AH]: 'AH', [Tok.ESP]: 'ESP', [Tok.ATALK]: 'ATALK', [Tok.AARP]: 'AARP',
  [Tok.DECNET]: 'DECNET', [Tok.LAT]: 'LAT', [Tok.SCA]: 'SCA', [Tok.MOPRC]: 'MOPRC',
  [Tok.MOPDL]: 'MOPDL', [Tok.ISO]: 'ISO', [Tok.ESIS]: 'ESIS', [Tok.ISIS]: 'ISIS', [Tok.L1]: 'L1',
  [Tok.L2]: 'L2', [Tok.IIH]: 'IIH', [Tok.LSP]: 'LSP', [Tok.SNP]: 'SNP', [Tok.CSNP]: 'CSNP',
  [Tok.PSNP]: 'PSNP', [Tok.CLNP]: 'CLNP', [Tok.STP]: 'STP', [Tok.IPX]: 'IPX',
  [Tok.NETBEUI]: 'NETBEUI', [Tok.HOST]: 'HOST', [Tok.NET]: 'NET', [Tok.NETMASK]: 'NETMASK',
  [Tok.PORT]: 'PORT', [Tok.PORTRANGE]: 'PORTRANGE', [Tok.PROTO]: 'PROTO',
  [Tok.PROTOCHAIN]: 'PROTOCHAIN', [Tok.GATEWAY]: 'GATEWAY', [Tok.TYPE]: 'TYPE',
  [Tok.SUBTYPE]: 'SUBTYPE', [Tok.DIR]: 'DIR', [Tok.ADDR1]: 'ADDR1', [Tok.ADDR2]: 'ADDR2',
  [Tok.ADDR3]: 'ADDR3', [Tok.ADDR4]: 'ADDR4', [Tok.RA]: 'RA', [Tok.TA]: 'TA', [Tok.LESS]: 'LESS',
  [Tok.GREATER]: 'GREATER', [Tok.CBYTE]: 'CBYTE', [Tok.BROADCAST]: 'BROADCAST',
  [Tok.MULTICAST]: 'MULTICAST', [Tok.LEN]: 'LEN', [Tok.INBOUND]: 'INBOUND',
  [Tok.OUTBOUND]: 'OUTBOUND', [Tok.IFINDEX]: 'IFINDEX', [Tok.VLAN]: 'VLAN', [Tok.MPLS]: 'MPLS',
  [Tok.PPPOED]: 'PPPOED', [Tok.PPPOES]: 'PPPOES', [Tok.GENEVE]: 'GENEVE', [Tok.VXLAN]: 'VXLAN',
  [Tok.LANE]: 'LANE', [Tok.LLC]: 'LLC', [Tok.METAC]: 'METAC', [Tok.BCC]: 'BCC', [Tok.OAM]: 'OAM',
  [Tok.OAMF4]: 'OAMF4', [Tok.OAMF4EC]: 'OAMF4EC', [Tok.OAMF4SC]: 'OAMF4SC', [Tok.SC]: 'SC',
  [Tok.ILMIC]: 'ILMIC', [Tok.VPI]: 'VPI', [Tok.VCI]: 'VCI', [Tok.CONNECTMSG]: 'CONNECTMSG',
  [Tok.METACONNECT]: 'METACONNECT', [Tok.PF_IFNAME]: 'PF_IFNAME', [Tok.PF_RSET]: 'PF_RSET',
  [Tok.PF_RNR]: 'PF_RNR', [Tok.PF_SRNR]: 'PF_SRNR', [Tok.PF_REASON]: 'PF_REASON',
  [Tok.PF_ACTION]: 'PF_ACTION', [Tok.FISU]: 'FISU', [Tok.LSSU]: 'LSSU', [Tok.MSU]: 'MSU',
  [Tok.HFISU]: 'HFISU', [Tok.HLSSU]: 'HLSSU', [Tok.HMSU]: 'HMSU', [Tok.SIO]: 'SIO',
  [Tok.OPC]: 'OPC', [Tok.DPC]: 'DPC', [Tok.SLS]: 'SLS', [Tok.HSIO]: 'HSIO', [Tok.HOPC]: 'HOPC',
  [Tok.HDPC]: 'HDPC', [Tok.HSLS]: 'HSLS',
};
export const TOKEN_NAMES: readonly TokKind[] = Array.from({ length: Object.keys(TOKEN_NAME_OF).length }, (_, k) => TOKEN_NAME_OF[k as Tok]);

/** Keyword spellings and the token each gives. */
const KEYWORDS: Record<string, Tok> = {
  dst: Tok.DST, src: Tok.SRC,
  link: Tok.LINK, ether: Tok.LINK, ppp: Tok.LINK, slip: Tok.LINK, fddi: Tok.LINK, tr: Tok.LINK, wlan: Tok.LINK,
  arp: Tok.ARP, rarp: Tok.RARP, ip: Tok.IP, sctp: Tok.SCTP, tcp: Tok.TCP, udp: Tok.UDP, icmp: Tok.ICMP,
  igmp: Tok.IGMP, igrp: Tok.IGRP, pim: Tok.PIM, vrrp: Tok.VRRP, carp: Tok.CARP, radio: Tok.RADIO,
  ip6: Tok.IPV6, icmp6: Tok.ICMPV6, ah: Tok.AH, esp: Tok.ESP,
  atalk: Tok.ATALK, aarp: Tok.AARP, decnet: Tok.DECNET, lat: Tok.LAT, sca: Tok.SCA, moprc: Tok.MOPRC, mopdl: Tok.MOPDL,
  iso: Tok.ISO, esis: Tok.ESIS, 'es-is': Tok.ESIS, isis: Tok.ISIS, 'is-is': Tok.ISIS,
  l1: Tok.L1, l2: Tok.L2, iih: Tok.IIH, lsp: Tok.LSP, snp: Tok.SNP, csnp: Tok.CSNP, psnp: Tok.PSNP,
  clnp: Tok.CLNP, stp: Tok.STP, ipx: Tok.IPX, netbeui: Tok.NETBEUI,
  host: Tok.HOST, net: Tok.NET, mask: Tok.NETMASK, port: Tok.PORT, portrange: Tok.PORTRANGE,
  proto: Tok.PROTO, protochain: Tok.PROTOCHAIN, gateway: Tok.GATEWAY,
  type: Tok.TYPE, subtype: Tok.SUBTYPE, direction: Tok.DIR, dir: Tok.DIR,
  address1: Tok.ADDR1, addr1: Tok.ADDR1, address2: Tok.ADDR2, addr2: Tok.ADDR2,
  address3: Tok.ADDR3, addr3: Tok.ADDR3, address4: Tok.ADDR4, addr4: Tok.ADDR4, ra: Tok.RA, ta: Tok.TA,
  less: Tok.LESS, greater: Tok.GREATER, byte: Tok.CBYTE, broadcast: Tok.BROADCAST, multicast: Tok.MULTICAST,
  and: Tok.AND, or: Tok.OR, not: Tok.NOT, len: Tok.LEN, length: Tok.LEN,
  inbound: Tok.INBOUND, outbound: Tok.OUTBOUND, ifindex: Tok.IFINDEX,
  vlan: Tok.VLAN, mpls: Tok.MPLS, pppoed: Tok.PPPOED, pppoes: Tok.PPPOES, geneve: Tok.GENEVE, vxlan: Tok.VXLAN,
  lane: Tok.LANE, llc: Tok.LLC, metac: Tok.METAC, bcc: Tok.BCC, oam: Tok.OAM, oamf4: Tok.OAMF4,
  oamf4ec: Tok.OAMF4EC, oamf4sc: Tok.OAMF4SC, sc: Tok.SC, ilmic: Tok.ILMIC, vpi: Tok.VPI, vci: Tok.VCI,
  connectmsg: Tok.CONNECTMSG, metaconnect: Tok.METACONNECT,
  on: Tok.PF_IFNAME, ifname: Tok.PF_IFNAME, rset: Tok.PF_RSET, ruleset: Tok.PF_RSET,
  rnr: Tok.PF_RNR, rulenum: Tok.PF_RNR, srnr: Tok.PF_SRNR, subrulenum: Tok.PF_SRNR,
  reason: Tok.PF_REASON, action: Tok.PF_ACTION,
  fisu: Tok.FISU, lssu: Tok.LSSU, lsu: Tok.LSSU, msu: Tok.MSU, hfisu: Tok.HFISU, hlssu: Tok.HLSSU, hmsu: Tok.HMSU,
  sio: Tok.SIO, opc: Tok.OPC, dpc: Tok.DPC, sls: Tok.SLS, hsio: Tok.HSIO, hopc: Tok.HOPC, hdpc: Tok.HDPC, hsls: Tok.HSLS,
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

// ---- character classes (char codes) ---------------------------------------------------------

/**
 * Bit 1: hex digit; 2: decimal digit; 4: letter or digit; 8: may continue a
 * name ([-_.A-Za-z0-9]). ASCII only (none above 127).
 */
const CLASS = new Uint8Array(128);
for (let c = 48; c <= 57; c++) CLASS[c] = 1 | 2 | 4 | 8;
for (let c = 65; c <= 90; c++) CLASS[c] = 4 | 8 | (c <= 70 ? 1 : 0);
for (let c = 97; c <= 122; c++) CLASS[c] = 4 | 8 | (c <= 102 ? 1 : 0);
CLASS[45] = CLASS[95] = CLASS[46] = 8; // - _ .

/**
 * Keywords as a trie over character codes, walked over the name in place:
 * no substring is cut out and hashed for the (frequent) keyword tokens.
 * Node 0 is the root; TRIE[node * TRIE_WIDTH + TRIE_COLUMN[c]] is the child
 * for character c (TRIE_DEAD: none; column 0, for the name characters no
 * keyword has, is all TRIE_DEAD, and TRIE_DEAD's children are itself, so that
 * the walk over a name needs no test per character); TRIE_COLUMN is NOT_NAME
 * for the characters that cannot continue a name (where the walk stops);
 * TRIE_KIND[node] is the token kind of the keyword ending there (Tok.EOF: none),
 * TRIE_TEXT[node] its spelling (the token's text; '' for none). The named
 * constants are in the same trie (TRIE_CONST[node]: the value of the one
 * ending there, or NO_CONSTANT), so that a name token needs no substring hashed either.
 * Columns only for the characters keywords have, and rows only for the nodes
 * there are, keep the table small (it is in the CLI's start-up snapshot).
 */
const trieWords: string[] = [];
const trieConstants: number[] = [];
const NO_CONSTANT = -1;
const TRIE_COLUMN = new Uint8Array(128);
const NOT_NAME = 255;
const TRIE_WIDTH = (() => {
  let width = 1;
  for (const word of [...Object.keys(KEYWORDS), ...Object.keys(CONSTANTS)]) {
    for (let i = 0; i < word.length; i++) {
      const c = word.charCodeAt(i);
      if (TRIE_COLUMN[c] === 0) TRIE_COLUMN[c] = width++;
    }
  }
  for (let c = 0; c < 128; c++) if ((CLASS[c]! & 8) === 0) TRIE_COLUMN[c] = NOT_NAME;
  return width;
})();
const TRIE = ((): Uint16Array => {
  const chars = (o: Record<string, unknown>): number => Object.keys(o).reduce((n, w) => n + w.length, 0);
  const trie = new Uint16Array((1 + chars(KEYWORDS) + chars(CONSTANTS)) * TRIE_WIDTH);
  let nodes = 1;
  const insert = (word: string): number => {
    let node = 0;
    for (let i = 0; i < word.length; i++) {
      const at = node * TRIE_WIDTH + TRIE_COLUMN[word.charCodeAt(i)]!;
      if (trie[at] === 0) trie[at] = nodes++;
      node = trie[at]!;
    }
    return node;
  };
  for (const [word, value] of Object.entries(CONSTANTS)) trieConstants[insert(word)] = value;
  for (const word of Object.keys(KEYWORDS)) trieWords[insert(word)] = word;
  const dead = nodes++;
  const table = trie.slice(0, nodes * TRIE_WIDTH);
  for (let at = 0; at < table.length; at++) if (table[at] === 0) table[at] = dead;
  return table;
})();
const TRIE_TEXT = Array.from({ length: TRIE.length / TRIE_WIDTH }, (_, node) => trieWords[node] ?? '');
const TRIE_KIND = Uint8Array.from(TRIE_TEXT, (word) => (word === '' ? Tok.EOF : KEYWORDS[word]!));
const TRIE_CONST = Int16Array.from(TRIE_TEXT, (_, node) => trieConstants[node] ?? NO_CONSTANT);
/** The trie's last node: the child where no keyword continues (see TRIE). */
const TRIE_DEAD = TRIE.length / TRIE_WIDTH - 1;

/** The trie node s[pos, end) leads to (TRIE_DEAD where no keyword or named constant starts so). */
function trieNodeAt(s: string, pos: number, end: number): number {
  let node = 0;
  for (let i = pos; i < end; i++) {
    const c = s.charCodeAt(i);
    if (c >= 128) return TRIE_DEAD;
    node = TRIE[node * TRIE_WIDTH + TRIE_COLUMN[c]!]!;
    if (node === TRIE_DEAD) return TRIE_DEAD;
  }
  return node;
}

const is = (s: string, i: number, bit: number): boolean => {
  const c = i < s.length ? s.charCodeAt(i) : 128;
  return c < 128 && (CLASS[c]! & bit) !== 0;
};
const isHexAt = (s: string, i: number): boolean => is(s, i, 1);

/** Number of consecutive hex digits at i. */
function hexRun(s: string, i: number): number {
  let j = i;
  while (is(s, j, 1)) j++;
  return j - i;
}

// ---- longest match of each rule at a position (flex semantics: the longest string the rule's
// pattern matches there), as an end offset, or -1 when the rule does not match ---------------

/** N: `0x` + hex digits, or decimal digits. */
function numEnd(s: string, i: number): number {
  const c = s.charCodeAt(i);
  if (!(c >= 48 && c <= 57)) return -1;
  if (c === 48) {
    const x = s.charCodeAt(i + 1);
    if ((x === 120 || x === 88) && isHexAt(s, i + 2)) return i + 2 + hexRun(s, i + 2);
  }
  let j = i + 1;
  while (is(s, j, 2)) j++;
  return j;
}

/** N.N, N.N.N or N.N.N.N (`parts` = 0 for any of them, 4 for exactly four parts). */
function dottedEnd(s: string, i: number, parts: number): number {
  let e = numEnd(s, i);
  if (e < 0) return -1;
  let best = -1;
  for (let n = 2; n <= 4; n++) {
    if (s.charCodeAt(e) !== 46) break;
    const f = numEnd(s, e + 1);
    if (f < 0) break;
    e = f;
    if (parts === 0 || n === parts) best = e;
  }
  return best;
}

/**
 * `count` hex groups of 1–4 digits separated by single colons. With `atSep`
 * the last group must end where its digits end (a separator follows);
 * otherwise it may be the first 4 digits of a longer run.
 */
function groupsEnd(s: string, i: number, count: number, atSep: boolean): number {
  for (let k = 0; k < count; k++) {
    const r = hexRun(s, i);
    if (r === 0) return -1;
    if (k < count - 1) {
      if (r > 4 || s.charCodeAt(i + r) !== 58) return -1;
      i += r + 1;
    } else {
      if (atSep && r > 4) return -1;
      return i + (r > 4 ? 4 : r);
    }
  }
  return i;
}

/** IPv6: 8 groups; fewer around one `::`; either with an IPv4 tail in place of the last two. */
function v6End(s: string, i: number): number {
  let best = -1;
  const take = (e: number): void => {
    if (e > best) best = e;
  };
  take(groupsEnd(s, i, 8, false));
  const six = groupsEnd(s, i, 6, true);
  if (six >= 0 && s.charCodeAt(six) === 58) take(dottedEnd(s, six + 1, 4));
  for (let left = 0; left <= 7; left++) {
    let d: number;
    if (left === 0) d = i;
    else {
      d = groupsEnd(s, i, left, true);
      if (d < 0) break;
    }
    if (s.charCodeAt(d) !== 58 || s.charCodeAt(d + 1) !== 58) continue;
    const after = d + 2;
    take(after);
    for (let right = 1; right + left <= 7; right++) {
      const e = groupsEnd(s, after, right, false);
      if (e < 0) break;
      take(e);
    }
    if (left <= 5) {
      take(dottedEnd(s, after, 4));
      for (let right = 1; right + left <= 5; right++) {
        const e = groupsEnd(s, after, right, true);
        if (e < 0 || s.charCodeAt(e) !== 58) break;
        take(dottedEnd(s, e + 1, 4));
      }
    }
  }
  return best;
}

/** Six groups of 1–2 hex digits separated by `sep`. */
function macSepEnd(s: string, i: number, sep: number): number {
  for (let k = 0; k < 6; k++) {
    const r = hexRun(s, i);
    if (r === 0) return -1;
    if (k < 5) {
      if (r > 2 || s.charCodeAt(i + r) !== sep) return -1;
      i += r + 1;
    } else {
      return i + (r > 2 ? 2 : r);
    }
  }
  return -1;
}

/** MAC: a:b:c:d:e:f, a-b-…, a.b.…, aabb.ccdd.eeff, aabbccddeeff. */
function macEnd(s: string, i: number): number {
  let best = macSepEnd(s, i, 58);
  const dash = macSepEnd(s, i, 45);
  if (dash > best) best = dash;
  const dot = macSepEnd(s, i, 46);
  if (dot > best) best = dot;
  const r = hexRun(s, i);
  if (r >= 12 && i + 12 > best) best = i + 12;
  if (r === 4 && s.charCodeAt(i + 4) === 46 && hexRun(s, i + 5) === 4 && s.charCodeAt(i + 9) === 46 && hexRun(s, i + 10) >= 4) {
    if (i + 14 > best) best = i + 14;
  }
  return best;
}

/** `B:+(B:+)+`: what libpcap calls a bogus Ethernet address. */
function bogusEnd(s: string, i: number): number {
  let units = 0;
  for (;;) {
    const r = hexRun(s, i);
    if (r === 0 || r > 2 || s.charCodeAt(i + r) !== 58) break;
    i += r;
    while (s.charCodeAt(i) === 58) i++;
    units++;
  }
  return units >= 2 ? i : -1;
}

/** A name: `[A-Za-z0-9]([-_.A-Za-z0-9]*[.A-Za-z0-9])?`. */
function nameEnd(s: string, i: number): number {
  if (!is(s, i, 4)) return -1;
  let j = i + 1;
  while (is(s, j, 8)) j++;
  while (j > i + 1) {
    const c = s.charCodeAt(j - 1);
    if (c !== 45 && c !== 95) break;
    j--;
  }
  return j;
}

/**
 * After a hex letter, a character that is none of a hex digit, `:`, `-` and `.` (or the end), as
 * in `and`, `dst`, `ether`: onlyName holds there (a hex run of one, followed by no separator),
 * found without its scan and call.
 */
const plainAfter = (d: number): boolean => !(d < 128) || ((CLASS[d]! & 1) === 0 && d !== 58 && d !== 45 && d !== 46);

/**
 * At a hex letter: can no rule but the name match here? (The conditions under which tokenize
 * tries the MAC, IPv6 and bogus-address rules, none holding.)
 */
function onlyName(s: string, i: number): boolean {
  const r = hexRun(s, i);
  const next = s.charCodeAt(i + r);
  if (r >= 12 || (r <= 2 && (next === 58 || next === 45 || next === 46)) || (r === 4 && next === 46)) return false;
  return !(r <= 4 && next === 58);
}

/** The trie node of the name nameAndKeyword found (TRIE_DEAD: no keyword or named constant). */
let matchedNode = TRIE_DEAD;

/**
 * nameEnd at a letter, walking the keyword trie over the same characters: returns the name's
 * end and sets matchedNode to the trie node the name leads to (see TRIE: its keyword or named
 * constant, if any).
 */
function nameAndKeyword(s: string, i: number, len: number): number {
  let node = 0;
  let j = i;
  for (; j < len; j++) {
    const c = s.charCodeAt(j);
    if (c >= 128) break;
    const column = TRIE_COLUMN[c]!;
    if (column === NOT_NAME) break;
    node = TRIE[node * TRIE_WIDTH + column]!;
  }
  let end = j;
  while (end > i + 1) {
    const c = s.charCodeAt(end - 1);
    if (c !== 45 && c !== 95) break;
    end--;
  }
  // (Where a trailing `-` or `_` is not part of the name, walk again up to the name's end.)
  matchedNode = end !== j ? trieNodeAt(s, i, end) : node;
  return end;
}

/** Parse a NUM token as libpcap does: decimal, 0x hex, leading-0 octal; errors on overflow. */
export function parseNumber(text: string, expression: string, pos: number): number {
  let n = 0;
  const c1 = text.charCodeAt(1);
  if (text.charCodeAt(0) === 48 && (c1 === 120 || c1 === 88)) {
    for (let i = 2; i < text.length; i++) {
      const c = text.charCodeAt(i);
      n = n * 16 + (c <= 57 ? c - 48 : (c | 32) - 87);
      if (n > 0xffffffff) throw new FilterSyntaxError(`hexadecimal number ${text} overflows 32 bits`, expression, pos);
    }
    return n;
  }
  if (text.length > 1 && text.charCodeAt(0) === 48) {
    for (let i = 1; i < text.length; i++) {
      const d = text.charCodeAt(i) - 48;
      if (d > 7) throw new FilterSyntaxError(`number ${text} contains non-octal digit`, expression, pos);
      n = n * 8 + d;
      if (n > 0xffffffff) throw new FilterSyntaxError(`octal number ${text} overflows 32 bits`, expression, pos);
    }
    return n;
  }
  for (let i = 0; i < text.length; i++) {
    n = n * 10 + text.charCodeAt(i) - 48;
    if (n > 0xffffffff) throw new FilterSyntaxError(`decimal number ${text} overflows 32 bits`, expression, pos);
  }
  return n;
}

/** The digits plainNumeric scanned, read as a decimal number (fewer than 12 digits: exact). */
let plainValue = 0;
/**
 * The dotted quad plainNumeric scanned as a 32-bit address, or -1 where a part is over 255 or has
 * a leading 0 (octal): atoin then reads the text, for its reading and its errors.
 */
let plainQuad = -1;

/**
 * A dotted quad's groups so far (`quad`, 8 bits each; -1 once one is no plain byte) with the group
 * of `run` digits, value `value`, that ends before s[end] appended: -1 where it is over 255 or has
 * a leading 0 (octal).
 */
const withGroup = (quad: number, value: number, run: number, s: string, end: number): number =>
  quad < 0 || value > 255 || (run > 1 && s.charCodeAt(end - run) === 48) ? -1 : quad * 256 + value;

/**
 * The two commonest numeric tokens in one scan: fewer than 12 decimal digits (NUM: its end), or
 * a dotted quad of decimal numbers (HID: minus its end), either followed by nothing that could
 * continue a name or start an IPv6 group (`:`; a NUM may be followed by a lone colon, see below). Every other rule's longest match is then no
 * longer (a MAC needs 12 digits or six groups; `xxxx.xxxx.xxxx` is shorter than its quad) and
 * a name of the same length loses the tie. 0 for anything else (the general rules decide).
 * For a NUM, plainValue is then its digits read as decimal, and for a HID plainQuad its address
 * (in the same scan: codegen need not read the text again).
 */
function plainNumeric(s: string, i: number, len: number): number {
  let j = i;
  let groups = 1;
  let run = 0;
  /** The current group's digits as decimal (a NUM's whole value). */
  let value = 0;
  /** The groups before the current one, 8 bits each; -1 once one is no plain byte. */
  let quad = 0;
  for (; j < len; j++) {
    const c = s.charCodeAt(j);
    if (c >= 48 && c <= 57) {
      run++;
      value = value * 10 + (c - 48);
    } else if (c === 46 && run > 0) {
      quad = withGroup(quad, value, run, s, j);
      value = 0;
      groups++;
      run = 0;
    } else break;
  }
  if (run === 0) return 0;
  if (j < len) {
    const c = s.charCodeAt(j);
    if (c === 58) {
      // A lone colon after a decimal number, as in `ip[2:2]` (no second colon right after it or
      // after the hex run that follows): scan's general rules try no MAC, IPv6 or bogus address
      // there, and a name would end at the colon too, so the number is the token.
      if (groups !== 1 || s.charCodeAt(j + 1) === 58 || s.charCodeAt(j + 1 + hexRun(s, j + 1)) === 58) return 0;
    } else if (c < 128 && (CLASS[c]! & 8) !== 0) return 0;
  }
  if (groups === 1) {
    plainValue = value;
    return j - i < 12 ? j : 0;
  }
  if (groups !== 4) return 0;
  plainQuad = withGroup(quad, value, run, s, j);
  return -j;
}

/** Which rule matched (in libpcap's rule order: on equal length the earlier rule wins). */
const MAC = 0, NUM = 1, HID = 2, HID6 = 3, BOGUS = 4, NAME = 5;

/** The one-character tokens by char code. */
const SINGLE: (Tok | undefined)[] = [];
for (let kind = Tok.PLUS; kind <= Tok.EQ; kind++) SINGLE[TOKEN_NAMES[kind]!.charCodeAt(0)] = kind;
SINGLE[33] = Tok.NOT; // !

/** The text of each two-character operator, by its two char codes (no substring made per token). */
const PAIR_TEXT: Record<number, Record<number, string>> = {};
for (const op of ['>=', '>>', '<=', '<<', '!=', '==', '&&', '||']) (PAIR_TEXT[op.charCodeAt(0)] ??= {})[op.charCodeAt(1)] = op;

/** Two-character operators: first char code → second char code → token. */
function pairKind(c: number, d: number): Tok | undefined {
  switch (c) {
    case 62: return d === 61 ? Tok.GEQ : d === 62 ? Tok.RSH : undefined; // >= >>
    case 60: return d === 61 ? Tok.LEQ : d === 60 ? Tok.LSH : undefined; // <= <<
    case 33: return d === 61 ? Tok.NEQ : undefined; // !=
    case 61: return d === 61 ? Tok.EQ : undefined; // ==
    case 38: return d === 38 ? Tok.AND : undefined; // &&
    case 124: return d === 124 ? Tok.OR : undefined; // ||
    default: return undefined;
  }
}

/**
 * The token `scan` found: its kind, start and end, its value (NUM; for a HID its address where
 * it is a dotted quad of plain decimal bytes, else -1: see plainQuad) and its text. The text of a
 * NUM token scanned from digits or a named constant is not cut out (`text` is ''; the caller
 * slices [start, end) when it needs it): the parser needs the value only.
 */
export interface Scanned {
  kind: Tok;
  start: number;
  end: number;
  num: number;
  text: string;
}

const setScanned = (r: Scanned, kind: Tok, start: number, end: number, num: number, text: string): void => {
  r.kind = kind;
  r.start = start;
  r.end = end;
  r.num = num;
  r.text = text;
};

/**
 * The token at or after `from` (blanks skipped) into `r`: EOF at the end of the expression.
 * Throws the lexer's errors (a character no rule takes, a number that overflows, a bogus
 * Ethernet address). The parser scans on demand; tokenize() scans the whole expression.
 */
export function scan(expression: string, from: number, r: Scanned): void {
  const s = expression;
  const len = s.length;
  let pos = from;
  while (pos < len) {
    const c = s.charCodeAt(pos);
    // (Every character a token starts with is above the space: one test for them.)
    if (c <= 32 && (c === 32 || c === 9 || c === 10 || c === 13)) {
      pos++;
      continue;
    }
    const cls = c < 128 ? CLASS[c]! : 0;
    if ((cls & 4) === 0) {
      // Operators, `$xx`, `::…`, `\name`, or a character no rule takes.
      const pair = pairKind(c, s.charCodeAt(pos + 1));
      if (pair !== undefined) {
        setScanned(r, pair, pos, pos + 2, 0, PAIR_TEXT[c]![s.charCodeAt(pos + 1)]!);
        return;
      }
      // (At a colon only a `::` can start an IPv6 address.)
      if (c === 58 && s.charCodeAt(pos + 1) === 58) {
        const e = v6End(s, pos);
        if (e > pos + 1) {
          setScanned(r, Tok.HID6, pos, e, 0, s.slice(pos, e));
          return;
        }
      }
      const single = SINGLE[c];
      if (single !== undefined) {
        setScanned(r, single, pos, pos + 1, 0, TOKEN_NAMES[single]!);
        return;
      }
      if (c === 36 && isHexAt(s, pos + 1)) {
        const e = pos + 1 + (isHexAt(s, pos + 2) ? 2 : 1);
        setScanned(r, Tok.AID, pos, e, 0, s.slice(pos, e));
        return;
      }
      if (c === 92) {
        let e = pos + 1;
        for (;;) {
          const d = s.charCodeAt(e);
          if (e >= len || d === 32 || d === 33 || d === 40 || d === 41 || d === 10 || d === 9) break;
          e++;
        }
        if (e > pos + 1) {
          setScanned(r, Tok.ID, pos, e, 0, s.slice(pos + 1, e));
          return;
        }
      }
      throw new FilterSyntaxError(`can't parse filter expression: syntax error: unexpected character '${s[pos]}'`, expression, pos);
    }
    if (cls & 2) {
      const e = plainNumeric(s, pos, len);
      if (e > 0) {
        // A leading 0 (octal, or a non-octal digit) and a value over 32 bits go through
        // parseNumber, for its reading and its errors.
        const v = (c === 48 && e - pos > 1) || plainValue > 0xffffffff ? parseNumber(s.slice(pos, e), expression, pos) : plainValue;
        setScanned(r, Tok.NUM, pos, e, v, '');
        return;
      }
      if (e < 0) {
        setScanned(r, Tok.HID, pos, -e, plainQuad, s.slice(pos, -e));
        return;
      }
    }
    if ((cls & 2) === 0 && ((cls & 1) === 0 || plainAfter(s.charCodeAt(pos + 1)) || onlyName(s, pos))) {
      // A letter where only the name rule can match: one scan for the name's end and the keyword.
      const e = nameAndKeyword(s, pos, len);
      const node = matchedNode;
      const kind = TRIE_KIND[node]!;
      if (kind !== Tok.EOF) {
        setScanned(r, kind, pos, e, 0, TRIE_TEXT[node]!);
      } else {
        const v = TRIE_CONST[node]!;
        if (v !== NO_CONSTANT) setScanned(r, Tok.NUM, pos, e, v, '');
        else setScanned(r, Tok.ID, pos, e, 0, s.slice(pos, e));
      }
      return;
    }
    // A letter or digit: the longest of the rules that start with one, the earlier on a tie.
    let end = -1;
    let rule = NAME;
    if (cls & 1) {
      const r = hexRun(s, pos);
      const next = s.charCodeAt(pos + r);
      // One colon between two hex runs (or before no hex digit) and no second colon, as in
      // `ip[2:2]`: a MAC needs five separators, an IPv6 address six colons or a `::`, a bogus
      // address two `B:` units, so none of those rules can match here.
      const lone = next === 58 && s.charCodeAt(pos + r + 1) !== 58 && s.charCodeAt(pos + r + 1 + hexRun(s, pos + r + 1)) !== 58;
      if (!lone && (r >= 12 || (r <= 2 && (next === 58 || next === 45 || next === 46)) || (r === 4 && next === 46))) {
        end = macEnd(s, pos);
        rule = MAC;
      }
      if (cls & 2) {
        const e = numEnd(s, pos);
        if (e > end) {
          end = e;
          rule = NUM;
        }
        const h = dottedEnd(s, pos, 0);
        if (h > end) {
          end = h;
          rule = HID;
        }
      }
      if (!lone && r <= 4 && next === 58) {
        const e = v6End(s, pos);
        if (e > end) {
          end = e;
          rule = HID6;
        }
        if (r <= 2) {
          const b = bogusEnd(s, pos);
          if (b > end) {
            end = b;
            rule = BOGUS;
          }
        }
      }
    }
    const n = nameEnd(s, pos);
    if (n > end) {
      end = n;
      rule = NAME;
    }
    // (No keyword or named constant starts with a digit: `1000-2000` or `3com.example` is an ID.)
    const node = rule === NAME && (cls & 2) === 0 ? trieNodeAt(s, pos, end) : TRIE_DEAD;
    const kind = TRIE_KIND[node]!;
    if (kind !== Tok.EOF) {
      setScanned(r, kind, pos, end, 0, TRIE_TEXT[node]!);
      return;
    }
    const text = s.slice(pos, end);
    switch (rule) {
      case NAME: {
        const v = TRIE_CONST[node]!;
        if (v !== NO_CONSTANT) setScanned(r, Tok.NUM, pos, end, v, text);
        else setScanned(r, Tok.ID, pos, end, 0, text);
        return;
      }
      case NUM:
        setScanned(r, Tok.NUM, pos, end, parseNumber(text, expression, pos), '');
        return;
      case MAC:
        setScanned(r, Tok.EID, pos, end, 0, text);
        return;
      case HID:
        setScanned(r, Tok.HID, pos, end, -1, text);
        return;
      case HID6:
        setScanned(r, Tok.HID6, pos, end, 0, text);
        return;
      case BOGUS:
        throw new FilterSyntaxError(`invalid Ethernet address '${text}'`, expression, pos);
      default:
        break;
    }
  }
  setScanned(r, Tok.EOF, len, len, 0, '');
}

/** The whole expression as tokens (EOF last). */
export function tokenize(expression: string): Token[] {
  const out: Token[] = [];
  const r: Scanned = { kind: Tok.EOF, start: 0, end: 0, num: 0, text: '' };
  let pos = 0;
  for (;;) {
    scan(expression, pos, r);
    const kind = r.kind;
    if (kind === Tok.EOF) break;
    const text = kind === Tok.NUM && r.text === '' ? expression.slice(r.start, r.end) : r.text;
    out.push({ kind: TOKEN_NAMES[kind]!, text, pos: r.start, num: kind === Tok.NUM ? r.num : undefined });
    pos = r.end;
  }
  out.push({ kind: 'EOF', text: '', pos: expression.length, num: undefined });
  return out;
}
