/**
 * The typed syntax tree of a filter expression, and its printer.
 *
 * Qualifier inheritance (`host a or b`, `tcp port 80 or 443`) is resolved by
 * the parser: every `id` node carries the qualifiers that apply to it, so a
 * printed tree spells them out (`host a or host b`).
 */

/** Protocol qualifiers (pcap-filter's `proto` position), as spelled in the language. */
export type ProtoQual =
  | 'default' | 'link' | 'ip' | 'arp' | 'rarp' | 'sctp' | 'tcp' | 'udp' | 'icmp' | 'igmp' | 'igrp'
  | 'pim' | 'vrrp' | 'carp' | 'atalk' | 'aarp' | 'decnet' | 'lat' | 'sca' | 'moprc' | 'mopdl'
  | 'ip6' | 'icmp6' | 'ah' | 'esp' | 'iso' | 'esis' | 'isis' | 'l1' | 'l2' | 'iih' | 'lsp' | 'snp'
  | 'psnp' | 'csnp' | 'clnp' | 'stp' | 'ipx' | 'netbeui' | 'radio';

export type DirQual =
  | 'default' | 'src' | 'dst' | 'src or dst' | 'src and dst'
  | 'addr1' | 'addr2' | 'addr3' | 'addr4' | 'ra' | 'ta';

export type AddrQual =
  | 'default' | 'host' | 'net' | 'port' | 'portrange' | 'gateway' | 'proto' | 'protochain' | 'undef';

/** A primitive's qualifiers. The parser shares one (frozen) Qual among the primitives that spell the same ones. */
export interface Qual {
  readonly proto: ProtoQual;
  readonly dir: DirQual;
  readonly addr: AddrQual;
}

/** What a primitive's identifier is, as the lexer saw it. */
export type IdValue =
  | { kind: 'name'; name: string }
  | { kind: 'num'; value: number }
  // value: the address as the lexer read it (a dotted quad of plain decimal bytes), else -1 (a
  // partial, octal or hex address, or a bad one: code generation reads the text with atoin).
  | { kind: 'ipv4'; text: string; value: number }
  | { kind: 'ipv4mask'; text: string; value: number; mask: string }
  | { kind: 'ipv4len'; text: string; value: number; len: number }
  | { kind: 'ipv6'; text: string; len?: number }
  | { kind: 'mac'; text: string }
  | { kind: 'arcnet'; text: string };

export type RelOp = '>' | '>=' | '=' | '<=' | '<' | '!=';
export type ArithOp = '+' | '-' | '*' | '/' | '%' | '&' | '|' | '^' | '<<' | '>>';

export type Arith =
  | { type: 'num'; value: number }
  | { type: 'load'; proto: ProtoQual; index: Arith; size: number; pos: number }
  | { type: 'binop'; op: ArithOp; left: Arith; right: Arith }
  | { type: 'neg'; arg: Arith }
  | { type: 'len' };

export interface ValueTest {
  op: RelOp;
  value: number;
}

export type Node =
  | { type: 'and' | 'or'; left: Node; right: Node; pos: number }
  | { type: 'not'; expr: Node; pos: number }
  | { type: 'id'; qual: Qual; id: IdValue; pos: number }
  | { type: 'abbrev'; proto: ProtoQual; pos: number }
  | { type: 'relation'; op: RelOp; left: Arith; right: Arith; pos: number }
  | { type: 'broadcast' | 'multicast'; proto: ProtoQual; pos: number }
  | { type: 'less' | 'greater'; value: number; pos: number }
  | { type: 'byte'; index: number; op: '&' | '|' | '<' | '>' | '='; value: number; pos: number }
  | { type: 'inbound' | 'outbound'; pos: number }
  | { type: 'ifindex'; value: number; pos: number }
  | { type: 'vlan' | 'mpls' | 'pppoes' | 'geneve' | 'vxlan'; value?: number; pos: number }
  | { type: 'pppoed'; pos: number }
  | { type: 'pf'; field: 'ifname' | 'ruleset' | 'rnr' | 'srnr' | 'reason' | 'action'; value: string | number; pos: number }
  | { type: 'wlan'; proto: ProtoQual; field: 'type' | 'subtype' | 'dir'; a: string; b?: string; pos: number }
  | { type: 'llc'; kind?: string; pos: number }
  | { type: 'atm'; name: string; pos: number }
  | { type: 'atmfield'; field: 'vpi' | 'vci'; tests: ValueTest[]; pos: number }
  | { type: 'mtp2'; name: string; pos: number }
  | { type: 'mtp3'; field: 'sio' | 'opc' | 'dpc' | 'sls' | 'hsio' | 'hopc' | 'hdpc' | 'hsls'; tests: ValueTest[]; pos: number };

/** The whole expression; `expr` is undefined for the empty expression (accept everything). */
export interface FilterAst {
  expression: string;
  expr: Node | undefined;
}

function printId(id: IdValue): string {
  switch (id.kind) {
    case 'name': return /^[A-Za-z0-9]/.test(id.name) ? id.name : `\\${id.name}`;
    case 'num': return String(id.value);
    case 'ipv4': return id.text;
    case 'ipv4mask': return `${id.text} mask ${id.mask}`;
    case 'ipv4len': return `${id.text}/${id.len}`;
    case 'ipv6': return id.len === undefined ? id.text : `${id.text}/${id.len}`;
    case 'mac': return id.text;
    case 'arcnet': return id.text;
  }
}

function printQual(q: Qual): string {
  const parts: string[] = [];
  if (q.proto !== 'default') parts.push(q.proto);
  if (q.dir !== 'default') parts.push(q.dir);
  if (q.addr !== 'default' && q.addr !== 'undef') parts.push(q.addr);
  return parts.join(' ');
}

export function printArith(a: Arith): string {
  switch (a.type) {
    case 'num': return String(a.value);
    case 'len': return 'len';
    case 'neg': return `-(${printArith(a.arg)})`;
    case 'load': return `${a.proto === 'default' ? 'link' : a.proto}[${printArith(a.index)}${a.size === 1 ? '' : `:${a.size}`}]`;
    case 'binop': return `(${printArith(a.left)} ${a.op} ${printArith(a.right)})`;
  }
}

function printTests(tests: ValueTest[]): string {
  if (tests.length === 1 && tests[0]!.op === '=') return String(tests[0]!.value);
  if (tests.every((t) => t.op === '=')) return `(${tests.map((t) => t.value).join(' or ')})`;
  return tests.map((t) => `${t.op} ${t.value}`).join(' or ');
}

/** Print a node back as filter text, fully qualified and fully parenthesised. */
export function printNode(n: Node): string {
  switch (n.type) {
    case 'and':
    case 'or':
      return `(${printNode(n.left)} ${n.type} ${printNode(n.right)})`;
    case 'not':
      return `not ${printNode(n.expr)}`;
    case 'id': {
      const q = printQual(n.qual);
      return q ? `${q} ${printId(n.id)}` : printId(n.id);
    }
    case 'abbrev': return n.proto;
    case 'relation': return `${printArith(n.left)} ${n.op} ${printArith(n.right)}`;
    case 'broadcast':
    case 'multicast':
      return n.proto === 'default' ? n.type : `${n.proto} ${n.type}`;
    case 'less':
    case 'greater':
      return `${n.type} ${n.value}`;
    case 'byte': return `byte ${n.index} ${n.op} ${n.value}`;
    case 'inbound':
    case 'outbound':
    case 'pppoed':
      return n.type;
    case 'ifindex': return `ifindex ${n.value}`;
    case 'vlan':
    case 'mpls':
    case 'pppoes':
    case 'geneve':
    case 'vxlan':
      return n.value === undefined ? n.type : `${n.type} ${n.value}`;
    case 'pf': return `${n.field} ${n.value}`;
    case 'wlan': return `${n.proto === 'default' ? '' : n.proto + ' '}${n.field} ${n.a}${n.b === undefined ? '' : ` subtype ${n.b}`}`;
    case 'llc': return n.kind === undefined ? 'llc' : `llc ${n.kind}`;
    case 'atm': return n.name;
    case 'mtp2': return n.name;
    case 'atmfield':
    case 'mtp3':
      return `${n.field} ${printTests(n.tests)}`;
  }
}

export function printAst(ast: FilterAst): string {
  return ast.expr ? printNode(ast.expr) : '';
}
