/**
 * The pcap-filter parser: tokens → typed AST.
 *
 * It follows libpcap's grammar (grammar.y) rule for rule, as a recursive
 * descent parser with backtracking where yacc's one-token lookahead would
 * decide later: after `and`/`or` a *term* (`tcp port 80`) or a bare *id*
 * (`host a or b`: `b` inherits `host`), `(` opening an expression, an id list
 * or an arithmetic operand. `and` and `or` have equal precedence and are
 * left-associative. In arithmetic, `^` and `%` have no declared precedence in
 * libpcap's grammar, so yacc always shifts on them; we do the same
 * (`a + b ^ c` is `a + (b ^ c)`, `-a % 2` is `-(a % 2)`).
 */
import type { Arith, ArithOp, DirQual, FilterAst, IdValue, Node, ProtoQual, Qual, RelOp, ValueTest } from './ast.js';
import { FilterSyntaxError } from './errors.js';
import * as lexerModule from './lexer.js';
import type { Token, TokKind } from './lexer.js';
// Module-level copies of the imports: V8 folds a module's own constants into optimised code,
// not imported (live) bindings (see src/filter/README.md, "Compile speed").
const { tokenize } = lexerModule;

const PNAME_TABLE: Partial<Record<TokKind, ProtoQual>> = {
  LINK: 'link', IP: 'ip', ARP: 'arp', RARP: 'rarp', SCTP: 'sctp', TCP: 'tcp', UDP: 'udp', ICMP: 'icmp',
  IGMP: 'igmp', IGRP: 'igrp', PIM: 'pim', VRRP: 'vrrp', CARP: 'carp', ATALK: 'atalk', AARP: 'aarp',
  DECNET: 'decnet', LAT: 'lat', SCA: 'sca', MOPDL: 'mopdl', MOPRC: 'moprc', IPV6: 'ip6', ICMPV6: 'icmp6',
  AH: 'ah', ESP: 'esp', ISO: 'iso', ESIS: 'esis', ISIS: 'isis', L1: 'l1', L2: 'l2', IIH: 'iih', LSP: 'lsp',
  SNP: 'snp', PSNP: 'psnp', CSNP: 'csnp', CLNP: 'clnp', STP: 'stp', IPX: 'ipx', NETBEUI: 'netbeui', RADIO: 'radio',
};

const RELOP_TABLE: Partial<Record<TokKind, RelOp>> = { '>': '>', GEQ: '>=', '=': '=', LEQ: '<=', '<': '<', NEQ: '!=' };

const ATM_TYPES_TABLE: Partial<Record<TokKind, string>> = {
  LANE: 'lane', METAC: 'metac', BCC: 'bcc', OAMF4EC: 'oamf4ec', OAMF4SC: 'oamf4sc', SC: 'sc', ILMIC: 'ilmic',
  OAM: 'oam', OAMF4: 'oamf4', CONNECTMSG: 'connectmsg', METACONNECT: 'metaconnect',
};

const MTP2_TYPES_TABLE: Partial<Record<TokKind, string>> = {
  FISU: 'fisu', LSSU: 'lssu', MSU: 'msu', HFISU: 'hfisu', HLSSU: 'hlssu', HMSU: 'hmsu',
};

const MTP3_FIELDS_TABLE: Partial<Record<TokKind, 'sio' | 'opc' | 'dpc' | 'sls' | 'hsio' | 'hopc' | 'hdpc' | 'hsls'>> = {
  SIO: 'sio', OPC: 'opc', DPC: 'dpc', SLS: 'sls', HSIO: 'hsio', HOPC: 'hopc', HDPC: 'hdpc', HSLS: 'hsls',
};

/** Binary operator binding strengths (higher binds tighter); '^' is handled apart. */
const BINOP_TABLE: Partial<Record<TokKind, { op: ArithOp; prec: number }>> = {
  '|': { op: '|', prec: 1 },
  '&': { op: '&', prec: 2 },
  LSH: { op: '<<', prec: 3 },
  RSH: { op: '>>', prec: 3 },
  '+': { op: '+', prec: 4 },
  '-': { op: '-', prec: 4 },
  '*': { op: '*', prec: 5 },
  '/': { op: '/', prec: 5 },
};

/** The larger tables above as Maps. */
const toMap = <V>(t: Partial<Record<TokKind, V>>): Map<TokKind, V> => new Map(Object.entries(t) as [TokKind, V][]);
const PNAME = toMap(PNAME_TABLE);
const RELOP = toMap(RELOP_TABLE);
const ATM_TYPES = toMap(ATM_TYPES_TABLE);
const MTP2_TYPES = toMap(MTP2_TYPES_TABLE);
const MTP3_FIELDS = toMap(MTP3_FIELDS_TABLE);

// The small tables as switches: token kinds are interned strings, so each case is one compare,
// cheaper than hashing the kind for a Map lookup on every token.

/** Address qualifiers: host, net, port, portrange. */
function aqual(k: TokKind): Qual['addr'] | undefined {
  switch (k) {
    case 'HOST': return 'host';
    case 'NET': return 'net';
    case 'PORT': return 'port';
    case 'PORTRANGE': return 'portrange';
    default: return undefined;
  }
}

/** Direction qualifiers that are one keyword: the 802.11 address fields. */
function dqualSimple(k: TokKind): DirQual | undefined {
  switch (k) {
    case 'ADDR1': return 'addr1';
    case 'ADDR2': return 'addr2';
    case 'ADDR3': return 'addr3';
    case 'ADDR4': return 'addr4';
    case 'RA': return 'ra';
    case 'TA': return 'ta';
    default: return undefined;
  }
}

/** Operators without a declared precedence in libpcap's grammar (`^`, `%`): yacc always shifts on them. */
const shifting = (k: TokKind): ArithOp | undefined => (k === '^' ? '^' : k === '%' ? '%' : undefined);

const BINOP_OR = BINOP_TABLE['|']!, BINOP_AND = BINOP_TABLE['&']!, BINOP_LSH = BINOP_TABLE.LSH!, BINOP_RSH = BINOP_TABLE.RSH!;
const BINOP_ADD = BINOP_TABLE['+']!, BINOP_SUB = BINOP_TABLE['-']!, BINOP_MUL = BINOP_TABLE['*']!, BINOP_DIV = BINOP_TABLE['/']!;

/** Binary operators that have a precedence. */
function binop(k: TokKind): { op: ArithOp; prec: number } | undefined {
  switch (k) {
    case '|': return BINOP_OR;
    case '&': return BINOP_AND;
    case 'LSH': return BINOP_LSH;
    case 'RSH': return BINOP_RSH;
    case '+': return BINOP_ADD;
    case '-': return BINOP_SUB;
    case '*': return BINOP_MUL;
    case '/': return BINOP_DIV;
    default: return undefined;
  }
}

const QERR: Qual = { proto: 'default', dir: 'default', addr: 'undef' };

/** Thrown to undo a parse attempt: a plain value, not an Error (no stack to capture). */
const BACKTRACK = { backtrack: true } as const;
const isBacktrack = (e: unknown): boolean => e === BACKTRACK;

class Parser {
  private i = 0;
  /** Furthest token index a parse attempt reached: where a syntax error is reported. */
  private furthest = 0;
  /**
   * The qualifiers in force after the term or id parsed last (what a bare id after `and`/`or`
   * inherits): set by every parse that completes one, instead of a result object per parse.
   */
  private q: Qual = QERR;

  constructor(
    private readonly toks: Token[],
    private readonly expression: string,
  ) {}

  /** The token k ahead (`i` itself never passes the EOF token). */
  private peek(k = 0): Token {
    return k === 0 ? this.toks[this.i]! : this.toks[Math.min(this.i + k, this.toks.length - 1)]!;
  }

  private next(): Token {
    const t = this.toks[this.i]!;
    if (this.i < this.toks.length - 1) this.i++;
    if (this.i > this.furthest) this.furthest = this.i;
    return t;
  }

  private fail(): never {
    if (this.i > this.furthest) this.furthest = this.i;
    throw BACKTRACK;
  }

  private expect(kind: TokKind): Token {
    if (this.peek().kind !== kind) this.fail();
    return this.next();
  }

  private attempt<T>(fn: () => T): T | undefined {
    const save = this.i;
    try {
      return fn();
    } catch (e) {
      if (!isBacktrack(e)) throw e;
      this.i = save;
      return undefined;
    }
  }

  /** attempt(() => this.parseTerm(q)) without a closure (it runs after every `and`/`or`). */
  private tryTerm(q: Qual): Node | undefined {
    const save = this.i;
    try {
      return this.parseTerm(q);
    } catch (e) {
      if (!isBacktrack(e)) throw e;
      this.i = save;
      return undefined;
    }
  }

  syntaxError(): FilterSyntaxError {
    const tok = this.toks[Math.min(this.furthest, this.toks.length - 1)]!;
    return new FilterSyntaxError("can't parse filter expression: syntax error", this.expression, tok.pos);
  }

  parseProgram(): Node | undefined {
    if (this.peek().kind === 'EOF') return undefined;
    const e = this.parseExpr(QERR);
    if (this.peek().kind !== 'EOF') this.fail();
    return e;
  }

  /** expr: term | expr and term | expr and id | expr or term | expr or id */
  private parseExpr(q0: Qual): Node {
    let left = this.parseTerm(q0);
    for (;;) {
      const t = this.peek();
      if (t.kind !== 'AND' && t.kind !== 'OR') return left;
      this.next();
      const q = this.q;
      const right = this.tryTerm(q) ?? this.parseId(q);
      left = { type: t.kind === 'AND' ? 'and' : 'or', left, right, pos: t.pos };
    }
  }

  /** The node of a term after which no qualifiers are in force. */
  private qerr(node: Node): Node {
    this.q = QERR;
    return node;
  }

  /** term: rterm | not term */
  private parseTerm(q0: Qual): Node {
    const t = this.peek();
    if (t.kind === 'NOT') {
      this.next();
      return { type: 'not', expr: this.parseTerm(q0), pos: t.pos };
    }
    return this.parseRterm(q0);
  }

  private parseRterm(q0: Qual): Node {
    const t = this.peek();
    const k = t.kind;
    if (k === '(') {
      const paren = this.attempt(() => {
        this.next();
        const e = this.parseExpr(q0);
        this.expect(')');
        this.q = q0;
        return e;
      });
      if (paren !== undefined) return paren;
      return this.qerr(this.parseRelation());
    }
    const pname = PNAME.get(k);
    if (pname !== undefined) {
      const after = this.peek(1).kind;
      if (after === '[') return this.qerr(this.parseRelation());
      if (after === 'BROADCAST' || after === 'MULTICAST') {
        this.next();
        this.next();
        return this.qerr({ type: after === 'BROADCAST' ? 'broadcast' : 'multicast', proto: pname, pos: t.pos });
      }
      if (after === 'TYPE' || after === 'SUBTYPE' || after === 'DIR') {
        this.next();
        return this.qerr(this.parseP80211(pname, t.pos));
      }
      if (this.startsHeadRest(after)) {
        this.next();
        return this.parseHeadId(pname, t.pos);
      }
      this.next();
      return this.qerr({ type: 'abbrev', proto: pname, pos: t.pos });
    }
    if (this.startsHeadRest(k)) return this.parseHeadId('default', t.pos);
    switch (k) {
      case 'BROADCAST':
      case 'MULTICAST':
        this.next();
        return this.qerr({ type: k === 'BROADCAST' ? 'broadcast' : 'multicast', proto: 'default', pos: t.pos });
      case 'TYPE':
      case 'SUBTYPE':
      case 'DIR':
        return this.qerr(this.parseP80211('default', t.pos));
      case 'LESS':
      case 'GREATER': {
        this.next();
        const n = this.expect('NUM');
        return this.qerr({ type: k === 'LESS' ? 'less' : 'greater', value: n.num!, pos: t.pos });
      }
      case 'CBYTE': {
        this.next();
        const idx = this.expect('NUM').num!;
        const opTok = this.next();
        const ops: Partial<Record<TokKind, '&' | '|' | '<' | '>' | '='>> = { '&': '&', '|': '|', '<': '<', '>': '>', '=': '=' };
        const op = ops[opTok.kind];
        if (!op) this.fail();
        const v = this.expect('NUM').num!;
        return this.qerr({ type: 'byte', index: idx, op, value: v, pos: t.pos });
      }
      case 'INBOUND':
      case 'OUTBOUND':
        this.next();
        return this.qerr({ type: k === 'INBOUND' ? 'inbound' : 'outbound', pos: t.pos });
      case 'IFINDEX': {
        this.next();
        return this.qerr({ type: 'ifindex', value: this.expect('NUM').num!, pos: t.pos });
      }
      case 'VLAN':
      case 'MPLS':
      case 'PPPOES':
      case 'GENEVE':
      case 'VXLAN': {
        this.next();
        // The optional number: only a NUM or `(` can start one (no throw-and-undo for `vlan and ...`).
        const nk = this.peek().kind;
        const v = nk === 'NUM' || nk === '(' ? this.attempt(() => this.parsePnum()) : undefined;
        const type = k === 'VLAN' ? 'vlan' : k === 'MPLS' ? 'mpls' : k === 'PPPOES' ? 'pppoes' : k === 'GENEVE' ? 'geneve' : 'vxlan';
        return this.qerr(v === undefined ? { type, pos: t.pos } : { type, value: v, pos: t.pos });
      }
      case 'PPPOED':
        this.next();
        return this.qerr({ type: 'pppoed', pos: t.pos });
      case 'PF_IFNAME':
      case 'PF_RSET': {
        this.next();
        const id = this.expect('ID');
        return this.qerr({ type: 'pf', field: k === 'PF_IFNAME' ? 'ifname' : 'ruleset', value: id.text, pos: t.pos });
      }
      case 'PF_RNR':
      case 'PF_SRNR': {
        this.next();
        const n = this.expect('NUM');
        return this.qerr({ type: 'pf', field: k === 'PF_RNR' ? 'rnr' : 'srnr', value: n.num!, pos: t.pos });
      }
      case 'PF_REASON': {
        this.next();
        const v = this.peek();
        if (v.kind === 'NUM') {
          this.next();
          return this.qerr({ type: 'pf', field: 'reason', value: v.num!, pos: t.pos });
        }
        const id = this.expect('ID');
        return this.qerr({ type: 'pf', field: 'reason', value: id.text, pos: t.pos });
      }
      case 'PF_ACTION': {
        this.next();
        const id = this.expect('ID');
        return this.qerr({ type: 'pf', field: 'action', value: id.text, pos: t.pos });
      }
      case 'LLC': {
        this.next();
        const v = this.peek();
        if (v.kind === 'ID') {
          this.next();
          return this.qerr({ type: 'llc', kind: v.text, pos: t.pos });
        }
        if (v.kind === 'PF_RNR') {
          this.next();
          return this.qerr({ type: 'llc', kind: 'rnr', pos: t.pos });
        }
        return this.qerr({ type: 'llc', pos: t.pos });
      }
      case 'VPI':
      case 'VCI': {
        this.next();
        const tests = this.parseFieldValue();
        return this.qerr({ type: 'atmfield', field: k === 'VPI' ? 'vpi' : 'vci', tests, pos: t.pos });
      }
      default:
        break;
    }
    const atm = ATM_TYPES.get(k);
    if (atm) {
      this.next();
      return this.qerr({ type: 'atm', name: atm, pos: t.pos });
    }
    const mtp2 = MTP2_TYPES.get(k);
    if (mtp2) {
      this.next();
      return this.qerr({ type: 'mtp2', name: mtp2, pos: t.pos });
    }
    const mtp3 = MTP3_FIELDS.get(k);
    if (mtp3) {
      this.next();
      const tests = this.parseFieldValue();
      return this.qerr({ type: 'mtp3', field: mtp3, tests, pos: t.pos });
    }
    return this.qerr(this.parseRelation());
  }

  /** atmvalue / mtp3value: NUM | relop NUM | irelop NUM | ( NUM or NUM ... ) */
  private parseFieldValue(): ValueTest[] {
    const t = this.peek();
    if (t.kind === 'NUM') {
      this.next();
      return [{ op: '=', value: t.num! }];
    }
    const rel = RELOP.get(t.kind);
    if (rel) {
      this.next();
      return [{ op: rel, value: this.expect('NUM').num! }];
    }
    this.expect('(');
    const tests: ValueTest[] = [{ op: '=', value: this.expect('NUM').num! }];
    while (this.peek().kind === 'OR') {
      this.next();
      tests.push({ op: '=', value: this.expect('NUM').num! });
    }
    this.expect(')');
    return tests;
  }

  private startsHeadRest(k: TokKind): boolean {
    return k === 'SRC' || k === 'DST' || dqualSimple(k) !== undefined || aqual(k) !== undefined ||
      k === 'PROTO' || k === 'PROTOCHAIN' || k === 'GATEWAY';
  }

  /** head id, where the optional pname has been consumed. */
  private parseHeadId(proto: ProtoQual, pos: number): Node {
    let dir: DirQual = 'default';
    let addr: Qual['addr'] = 'default';
    const t = this.peek();
    if (t.kind === 'SRC' || t.kind === 'DST') {
      this.next();
      dir = t.kind === 'SRC' ? 'src' : 'dst';
      const a = this.peek(), b = this.peek(1);
      const other = t.kind === 'SRC' ? 'DST' : 'SRC';
      if ((a.kind === 'OR' || a.kind === 'AND') && b.kind === other) {
        this.next();
        this.next();
        dir = a.kind === 'OR' ? 'src or dst' : 'src and dst';
      }
    } else if (dqualSimple(t.kind)) {
      this.next();
      dir = dqualSimple(t.kind)!;
    }
    const a = this.peek();
    if (aqual(a.kind)) {
      this.next();
      addr = aqual(a.kind)!;
    } else if (dir === 'default') {
      if (a.kind === 'PROTO' || a.kind === 'PROTOCHAIN' || a.kind === 'GATEWAY') {
        this.next();
        addr = a.kind === 'PROTO' ? 'proto' : a.kind === 'PROTOCHAIN' ? 'protochain' : 'gateway';
      } else {
        this.fail();
      }
    }
    const q: Qual = { proto, dir, addr };
    const id = this.parseId(q);
    void pos;
    return id;
  }

  /** id: nid | pnum | ( pid ) ; nid includes `not id`. */
  private parseId(q: Qual): Node {
    const t = this.peek();
    switch (t.kind) {
      case 'NOT': {
        this.next();
        return { type: 'not', expr: this.parseId(q), pos: t.pos };
      }
      case '(': {
        const pn = this.attempt(() => this.parsePnum());
        if (pn !== undefined) {
          this.q = q;
          return { type: 'id', qual: q, id: { kind: 'num', value: pn }, pos: t.pos };
        }
        this.next();
        let left = this.parseId(q);
        for (;;) {
          const op = this.peek();
          if (op.kind !== 'AND' && op.kind !== 'OR') break;
          this.next();
          const right = this.parseId(this.q);
          left = { type: op.kind === 'AND' ? 'and' : 'or', left, right, pos: op.pos };
        }
        this.expect(')');
        return left;
      }
      case 'NUM':
        this.next();
        this.q = q;
        return { type: 'id', qual: q, id: { kind: 'num', value: t.num! }, pos: t.pos };
      case 'ID':
        this.next();
        this.q = q;
        return { type: 'id', qual: q, id: { kind: 'name', name: t.text }, pos: t.pos };
      case 'HID': {
        this.next();
        let id: IdValue = { kind: 'ipv4', text: t.text };
        if (this.peek().kind === '/') {
          this.next();
          id = { kind: 'ipv4len', text: t.text, len: this.expect('NUM').num! };
        } else if (this.peek().kind === 'NETMASK') {
          this.next();
          id = { kind: 'ipv4mask', text: t.text, mask: this.expect('HID').text };
        }
        this.q = q;
        return { type: 'id', qual: q, id, pos: t.pos };
      }
      case 'HID6': {
        this.next();
        let id: IdValue = { kind: 'ipv6', text: t.text };
        if (this.peek().kind === '/') {
          this.next();
          id = { kind: 'ipv6', text: t.text, len: this.expect('NUM').num! };
        }
        this.q = q;
        return { type: 'id', qual: q, id, pos: t.pos };
      }
      case 'EID':
        this.next();
        this.q = q;
        return { type: 'id', qual: q, id: { kind: 'mac', text: t.text }, pos: t.pos };
      case 'AID':
        this.next();
        this.q = q;
        return { type: 'id', qual: q, id: { kind: 'arcnet', text: t.text }, pos: t.pos };
      default:
        this.fail();
    }
  }

  /** pnum: NUM | ( pnum ) */
  private parsePnum(): number {
    const t = this.peek();
    if (t.kind === 'NUM') {
      this.next();
      return t.num!;
    }
    this.expect('(');
    const v = this.parsePnum();
    this.expect(')');
    return v;
  }

  private parseP80211(proto: ProtoQual, pos: number): Node {
    const t = this.next();
    const valueTok = (): Token => {
      const v = this.peek();
      if (v.kind !== 'NUM' && v.kind !== 'ID') this.fail();
      return this.next();
    };
    if (t.kind === 'TYPE') {
      const ty = valueTok();
      if (this.peek().kind === 'SUBTYPE') {
        this.next();
        const st = valueTok();
        return { type: 'wlan', proto, field: 'type', a: ty.text, b: st.text, pos };
      }
      return { type: 'wlan', proto, field: 'type', a: ty.text, pos };
    }
    if (t.kind === 'SUBTYPE') {
      const st = this.expect('ID');
      return { type: 'wlan', proto, field: 'subtype', a: st.text, pos };
    }
    const d = valueTok();
    return { type: 'wlan', proto, field: 'dir', a: d.text, pos };
  }

  /** arth relop arth | arth irelop arth */
  private parseRelation(): Node {
    const pos = this.peek().pos;
    const left = this.parseArith(0);
    const opTok = this.next();
    const op = RELOP.get(opTok.kind);
    if (!op) this.fail();
    const right = this.parseArith(0);
    return { type: 'relation', op, left, right, pos };
  }

  private parseArith(minPrec: number): Arith {
    let lhs = this.parseUnary();
    for (;;) {
      const t = this.peek();
      const sh = shifting(t.kind);
      if (sh) {
        this.next();
        lhs = { type: 'binop', op: sh, left: lhs, right: this.parseArith(0) };
        continue;
      }
      const b = binop(t.kind);
      if (!b || b.prec < minPrec) return lhs;
      this.next();
      lhs = { type: 'binop', op: b.op, left: lhs, right: this.parseArith(b.prec + 1) };
    }
  }

  private parseUnary(): Arith {
    const t = this.peek();
    if (t.kind === '-') {
      this.next();
      let x = this.parseUnary();
      for (let sh = shifting(this.peek().kind); sh; sh = shifting(this.peek().kind)) {
        this.next();
        x = { type: 'binop', op: sh, left: x, right: this.parseArith(0) };
      }
      return { type: 'neg', arg: x };
    }
    if (t.kind === 'NUM') {
      this.next();
      return { type: 'num', value: t.num! };
    }
    if (t.kind === 'LEN') {
      this.next();
      return { type: 'len' };
    }
    if (t.kind === '(') {
      this.next();
      const a = this.parseArith(0);
      this.expect(')');
      return a;
    }
    const pname = PNAME.get(t.kind);
    if (pname !== undefined && this.peek(1).kind === '[') {
      this.next();
      this.next();
      const index = this.parseArith(0);
      let size = 1;
      if (this.peek().kind === ':') {
        this.next();
        size = this.expect('NUM').num!;
      }
      this.expect(']');
      return { type: 'load', proto: pname, index, size, pos: t.pos };
    }
    this.fail();
  }
}

/** Parse a filter expression. Throws FilterSyntaxError with the column of the problem. */
export function parseFilter(expression: string): FilterAst {
  const toks = tokenize(expression);
  const p = new Parser(toks, expression);
  try {
    return { expression, expr: p.parseProgram() };
  } catch (e) {
    if (isBacktrack(e)) throw p.syntaxError();
    throw e;
  }
}
