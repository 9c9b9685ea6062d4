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
import type { Scanned, TokKind } from './lexer.js';
// Module-level copies of the imports: V8 folds a module's own constants into optimised code,
// not imported (live) bindings (see src/filter/README.md, "Compile speed").
const { scan } = lexerModule;

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

/**
 * The parser pulls its tokens from the lexer as it goes (no token array, no token objects): the
 * lexer writes the current token into the parser's own `kind`/`start`/`end`/`num`/`text` fields
 * (the parser is the Scanned it scans into); the token after it is scanned only when asked for
 * (`peekKind1`, into `ahead`). A parse attempt that is undone restores the current token (saved
 * in locals); nothing is scanned twice but a lookahead after an undo.
 */
class Parser implements Scanned {
  /** The current token: kind, start, end, value (NUM), text (see Scanned: '' for a NUM's digits). */
  kind: TokKind = 'EOF';
  start = 0;
  end = 0;
  num = 0;
  text = '';
  /** The token after the current one, when `hasAhead`. */
  private readonly ahead: Scanned = { kind: 'EOF', start: 0, end: 0, num: 0, text: '' };
  private hasAhead = false;
  /** Start of the furthest token a parse attempt reached: where a syntax error is reported. */
  private furthest = 0;
  /**
   * The qualifiers in force after the term or id parsed last (what a bare id after `and`/`or`
   * inherits): set by every parse that completes one, instead of a result object per parse.
   */
  private q: Qual = QERR;

  constructor(private readonly expression: string) {
    scan(expression, 0, this);
    this.furthest = this.start;
  }

  /** The kind of the token after the current one (EOF after EOF). */
  private peekKind1(): TokKind {
    const a = this.ahead;
    if (!this.hasAhead) {
      this.hasAhead = true;
      if (this.kind === 'EOF') {
        a.kind = 'EOF';
        a.start = a.end = this.start;
      } else {
        scan(this.expression, this.end, a);
      }
    }
    return a.kind;
  }

  /** Move to the next token (the current one stays when it is EOF). */
  private next(): void {
    if (this.kind === 'EOF') return;
    if (this.hasAhead) {
      const a = this.ahead;
      this.kind = a.kind;
      this.start = a.start;
      this.end = a.end;
      this.num = a.num;
      this.text = a.text;
      this.hasAhead = false;
    } else {
      scan(this.expression, this.end, this);
    }
    if (this.start > this.furthest) this.furthest = this.start;
  }

  /** The current token's text (a NUM's digits are cut out here, when asked for). */
  private tokText(): string {
    return this.kind === 'NUM' && this.text === '' ? this.expression.slice(this.start, this.end) : this.text;
  }

  /** The current token's kind (read through a call where TypeScript would keep an earlier narrowing). */
  private cur(): TokKind {
    return this.kind;
  }

  private fail(): never {
    if (this.start > this.furthest) this.furthest = this.start;
    throw BACKTRACK;
  }

  private expect(kind: TokKind): void {
    if (this.kind !== kind) this.fail();
    this.next();
  }

  /** expect('NUM'), giving its value. */
  private expectNum(): number {
    if (this.kind !== 'NUM') this.fail();
    const v = this.num;
    this.next();
    return v;
  }

  /** expect(kind) for a token whose text is wanted (ID, HID). */
  private expectText(kind: TokKind): string {
    if (this.kind !== kind) this.fail();
    const t = this.tokText();
    this.next();
    return t;
  }

  /** Put the current token back to one saved before a parse attempt (the lookahead is dropped). */
  private restore(kind: TokKind, start: number, end: number, num: number, text: string): void {
    this.kind = kind;
    this.start = start;
    this.end = end;
    this.num = num;
    this.text = text;
    this.hasAhead = false;
  }

  private attempt<T>(fn: () => T): T | undefined {
    const kind = this.kind, start = this.start, end = this.end, num = this.num, text = this.text;
    try {
      return fn();
    } catch (e) {
      if (!isBacktrack(e)) throw e;
      this.restore(kind, start, end, num, text);
      return undefined;
    }
  }

  /** attempt(() => this.parseTerm(q)) without a closure (it runs after every `and`/`or`). */
  private tryTerm(q: Qual): Node | undefined {
    const kind = this.kind, start = this.start, end = this.end, num = this.num, text = this.text;
    try {
      return this.parseTerm(q);
    } catch (e) {
      if (!isBacktrack(e)) throw e;
      this.restore(kind, start, end, num, text);
      return undefined;
    }
  }

  /**
   * The error for a parse that failed: the lexer's, if the rest of the expression has one (it
   * would have been found before any syntax error when the lexer ran first), else a syntax error
   * at the furthest token reached.
   */
  syntaxError(): FilterSyntaxError {
    const r = this.ahead;
    let at = this.hasAhead ? r.end : this.end;
    for (;;) {
      scan(this.expression, at, r);
      if (r.kind === 'EOF') break;
      at = r.end;
    }
    return new FilterSyntaxError("can't parse filter expression: syntax error", this.expression, this.furthest);
  }

  parseProgram(): Node | undefined {
    if (this.kind === 'EOF') return undefined;
    const e = this.parseExpr(QERR);
    if (this.cur() !== 'EOF') this.fail();
    return e;
  }

  /** expr: term | expr and term | expr and id | expr or term | expr or id */
  private parseExpr(q0: Qual): Node {
    let left = this.parseTerm(q0);
    for (;;) {
      const k = this.kind;
      if (k !== 'AND' && k !== 'OR') return left;
      const pos = this.start;
      this.next();
      const q = this.q;
      const right = this.tryTerm(q) ?? this.parseId(q);
      left = { type: k === 'AND' ? 'and' : 'or', left, right, pos };
    }
  }

  /** The node of a term after which no qualifiers are in force. */
  private qerr(node: Node): Node {
    this.q = QERR;
    return node;
  }

  /** term: rterm | not term */
  private parseTerm(q0: Qual): Node {
    if (this.kind === 'NOT') {
      const pos = this.start;
      this.next();
      return { type: 'not', expr: this.parseTerm(q0), pos };
    }
    return this.parseRterm(q0);
  }

  private parseRterm(q0: Qual): Node {
    const k = this.kind;
    const pos = this.start;
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
      const after = this.peekKind1();
      if (after === '[') return this.qerr(this.parseRelation());
      if (after === 'BROADCAST' || after === 'MULTICAST') {
        this.next();
        this.next();
        return this.qerr({ type: after === 'BROADCAST' ? 'broadcast' : 'multicast', proto: pname, pos });
      }
      if (after === 'TYPE' || after === 'SUBTYPE' || after === 'DIR') {
        this.next();
        return this.qerr(this.parseP80211(pname, pos));
      }
      if (this.startsHeadRest(after)) {
        this.next();
        return this.parseHeadId(pname, pos);
      }
      this.next();
      return this.qerr({ type: 'abbrev', proto: pname, pos });
    }
    if (this.startsHeadRest(k)) return this.parseHeadId('default', pos);
    switch (k) {
      case 'BROADCAST':
      case 'MULTICAST':
        this.next();
        return this.qerr({ type: k === 'BROADCAST' ? 'broadcast' : 'multicast', proto: 'default', pos });
      case 'TYPE':
      case 'SUBTYPE':
      case 'DIR':
        return this.qerr(this.parseP80211('default', pos));
      case 'LESS':
      case 'GREATER': {
        this.next();
        const n = this.expectNum();
        return this.qerr({ type: k === 'LESS' ? 'less' : 'greater', value: n, pos });
      }
      case 'CBYTE': {
        this.next();
        const idx = this.expectNum();
        const opKind = this.kind;
        this.next();
        const ops: Partial<Record<TokKind, '&' | '|' | '<' | '>' | '='>> = { '&': '&', '|': '|', '<': '<', '>': '>', '=': '=' };
        const op = ops[opKind];
        if (!op) this.fail();
        const v = this.expectNum();
        return this.qerr({ type: 'byte', index: idx, op, value: v, pos });
      }
      case 'INBOUND':
      case 'OUTBOUND':
        this.next();
        return this.qerr({ type: k === 'INBOUND' ? 'inbound' : 'outbound', pos });
      case 'IFINDEX': {
        this.next();
        return this.qerr({ type: 'ifindex', value: this.expectNum(), pos });
      }
      case 'VLAN':
      case 'MPLS':
      case 'PPPOES':
      case 'GENEVE':
      case 'VXLAN': {
        this.next();
        // The optional number: only a NUM or `(` can start one (no throw-and-undo for `vlan and ...`).
        const nk = this.kind;
        const v = nk === 'NUM' || nk === '(' ? this.attempt(() => this.parsePnum()) : undefined;
        const type = k === 'VLAN' ? 'vlan' : k === 'MPLS' ? 'mpls' : k === 'PPPOES' ? 'pppoes' : k === 'GENEVE' ? 'geneve' : 'vxlan';
        return this.qerr(v === undefined ? { type, pos } : { type, value: v, pos });
      }
      case 'PPPOED':
        this.next();
        return this.qerr({ type: 'pppoed', pos });
      case 'PF_IFNAME':
      case 'PF_RSET': {
        this.next();
        const id = this.expectText('ID');
        return this.qerr({ type: 'pf', field: k === 'PF_IFNAME' ? 'ifname' : 'ruleset', value: id, pos });
      }
      case 'PF_RNR':
      case 'PF_SRNR': {
        this.next();
        const n = this.expectNum();
        return this.qerr({ type: 'pf', field: k === 'PF_RNR' ? 'rnr' : 'srnr', value: n, pos });
      }
      case 'PF_REASON': {
        this.next();
        if (this.kind === 'NUM') {
          const v = this.num;
          this.next();
          return this.qerr({ type: 'pf', field: 'reason', value: v, pos });
        }
        const id = this.expectText('ID');
        return this.qerr({ type: 'pf', field: 'reason', value: id, pos });
      }
      case 'PF_ACTION': {
        this.next();
        const id = this.expectText('ID');
        return this.qerr({ type: 'pf', field: 'action', value: id, pos });
      }
      case 'LLC': {
        this.next();
        if (this.kind === 'ID') {
          const text = this.text;
          this.next();
          return this.qerr({ type: 'llc', kind: text, pos });
        }
        if (this.kind === 'PF_RNR') {
          this.next();
          return this.qerr({ type: 'llc', kind: 'rnr', pos });
        }
        return this.qerr({ type: 'llc', pos });
      }
      case 'VPI':
      case 'VCI': {
        this.next();
        const tests = this.parseFieldValue();
        return this.qerr({ type: 'atmfield', field: k === 'VPI' ? 'vpi' : 'vci', tests, pos });
      }
      default:
        break;
    }
    const atm = ATM_TYPES.get(k);
    if (atm) {
      this.next();
      return this.qerr({ type: 'atm', name: atm, pos });
    }
    const mtp2 = MTP2_TYPES.get(k);
    if (mtp2) {
      this.next();
      return this.qerr({ type: 'mtp2', name: mtp2, pos });
    }
    const mtp3 = MTP3_FIELDS.get(k);
    if (mtp3) {
      this.next();
      const tests = this.parseFieldValue();
      return this.qerr({ type: 'mtp3', field: mtp3, tests, pos });
    }
    return this.qerr(this.parseRelation());
  }

  /** atmvalue / mtp3value: NUM | relop NUM | irelop NUM | ( NUM or NUM ... ) */
  private parseFieldValue(): ValueTest[] {
    if (this.kind === 'NUM') {
      const v = this.num;
      this.next();
      return [{ op: '=', value: v }];
    }
    const rel = RELOP.get(this.kind);
    if (rel) {
      this.next();
      return [{ op: rel, value: this.expectNum() }];
    }
    this.expect('(');
    const tests: ValueTest[] = [{ op: '=', value: this.expectNum() }];
    while (this.kind === 'OR') {
      this.next();
      tests.push({ op: '=', value: this.expectNum() });
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
    const tk = this.kind;
    if (tk === 'SRC' || tk === 'DST') {
      this.next();
      dir = tk === 'SRC' ? 'src' : 'dst';
      const a = this.kind;
      const other = tk === 'SRC' ? 'DST' : 'SRC';
      if ((a === 'OR' || a === 'AND') && this.peekKind1() === other) {
        this.next();
        this.next();
        dir = a === 'OR' ? 'src or dst' : 'src and dst';
      }
    } else if (dqualSimple(tk)) {
      this.next();
      dir = dqualSimple(tk)!;
    }
    const a = this.kind;
    if (aqual(a)) {
      this.next();
      addr = aqual(a)!;
    } else if (dir === 'default') {
      if (a === 'PROTO' || a === 'PROTOCHAIN' || a === 'GATEWAY') {
        this.next();
        addr = a === 'PROTO' ? 'proto' : a === 'PROTOCHAIN' ? 'protochain' : 'gateway';
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
    const pos = this.start;
    switch (this.kind) {
      case 'NOT': {
        this.next();
        return { type: 'not', expr: this.parseId(q), pos };
      }
      case '(': {
        const pn = this.attempt(() => this.parsePnum());
        if (pn !== undefined) {
          this.q = q;
          return { type: 'id', qual: q, id: { kind: 'num', value: pn }, pos };
        }
        this.next();
        let left = this.parseId(q);
        for (;;) {
          const op = this.cur();
          if (op !== 'AND' && op !== 'OR') break;
          const opPos = this.start;
          this.next();
          const right = this.parseId(this.q);
          left = { type: op === 'AND' ? 'and' : 'or', left, right, pos: opPos };
        }
        this.expect(')');
        return left;
      }
      case 'NUM': {
        const v = this.num;
        this.next();
        this.q = q;
        return { type: 'id', qual: q, id: { kind: 'num', value: v }, pos };
      }
      case 'ID': {
        const name = this.text;
        this.next();
        this.q = q;
        return { type: 'id', qual: q, id: { kind: 'name', name }, pos };
      }
      case 'HID': {
        const text = this.text;
        this.next();
        let id: IdValue = { kind: 'ipv4', text };
        const after = this.cur();
        if (after === '/') {
          this.next();
          id = { kind: 'ipv4len', text, len: this.expectNum() };
        } else if (after === 'NETMASK') {
          this.next();
          id = { kind: 'ipv4mask', text, mask: this.expectText('HID') };
        }
        this.q = q;
        return { type: 'id', qual: q, id, pos };
      }
      case 'HID6': {
        const text = this.text;
        this.next();
        let id: IdValue = { kind: 'ipv6', text };
        if (this.cur() === '/') {
          this.next();
          id = { kind: 'ipv6', text, len: this.expectNum() };
        }
        this.q = q;
        return { type: 'id', qual: q, id, pos };
      }
      case 'EID': {
        const text = this.text;
        this.next();
        this.q = q;
        return { type: 'id', qual: q, id: { kind: 'mac', text }, pos };
      }
      case 'AID': {
        const text = this.text;
        this.next();
        this.q = q;
        return { type: 'id', qual: q, id: { kind: 'arcnet', text }, pos };
      }
      default:
        this.fail();
    }
  }

  /** pnum: NUM | ( pnum ) */
  private parsePnum(): number {
    if (this.kind === 'NUM') {
      const v = this.num;
      this.next();
      return v;
    }
    this.expect('(');
    const v = this.parsePnum();
    this.expect(')');
    return v;
  }

  /** A NUM or an ID (an 802.11 type, subtype or direction), its text. */
  private valueText(): string {
    if (this.kind !== 'NUM' && this.kind !== 'ID') this.fail();
    const t = this.tokText();
    this.next();
    return t;
  }

  private parseP80211(proto: ProtoQual, pos: number): Node {
    const k = this.kind;
    this.next();
    if (k === 'TYPE') {
      const ty = this.valueText();
      if (this.kind === 'SUBTYPE') {
        this.next();
        const st = this.valueText();
        return { type: 'wlan', proto, field: 'type', a: ty, b: st, pos };
      }
      return { type: 'wlan', proto, field: 'type', a: ty, pos };
    }
    if (k === 'SUBTYPE') {
      const st = this.expectText('ID');
      return { type: 'wlan', proto, field: 'subtype', a: st, pos };
    }
    const d = this.valueText();
    return { type: 'wlan', proto, field: 'dir', a: d, pos };
  }

  /** arth relop arth | arth irelop arth */
  private parseRelation(): Node {
    const pos = this.start;
    const left = this.parseArith(0);
    const opKind = this.kind;
    this.next();
    const op = RELOP.get(opKind);
    if (!op) this.fail();
    const right = this.parseArith(0);
    return { type: 'relation', op, left, right, pos };
  }

  private parseArith(minPrec: number): Arith {
    let lhs = this.parseUnary();
    for (;;) {
      const k = this.kind;
      const sh = shifting(k);
      if (sh) {
        this.next();
        lhs = { type: 'binop', op: sh, left: lhs, right: this.parseArith(0) };
        continue;
      }
      const b = binop(k);
      if (!b || b.prec < minPrec) return lhs;
      this.next();
      lhs = { type: 'binop', op: b.op, left: lhs, right: this.parseArith(b.prec + 1) };
    }
  }

  private parseUnary(): Arith {
    const k = this.kind;
    if (k === '-') {
      this.next();
      let x = this.parseUnary();
      for (let sh = shifting(this.kind); sh; sh = shifting(this.kind)) {
        this.next();
        x = { type: 'binop', op: sh, left: x, right: this.parseArith(0) };
      }
      return { type: 'neg', arg: x };
    }
    if (k === 'NUM') {
      const v = this.num;
      this.next();
      return { type: 'num', value: v };
    }
    if (k === 'LEN') {
      this.next();
      return { type: 'len' };
    }
    if (k === '(') {
      this.next();
      const a = this.parseArith(0);
      this.expect(')');
      return a;
    }
    const pname = PNAME.get(k);
    if (pname !== undefined && this.peekKind1() === '[') {
      const pos = this.start;
      this.next();
      this.next();
      const index = this.parseArith(0);
      let size = 1;
      if (this.kind === ':') {
        this.next();
        size = this.expectNum();
      }
      this.expect(']');
      return { type: 'load', proto: pname, index, size, pos };
    }
    this.fail();
  }
}

/** Parse a filter expression. Throws FilterSyntaxError with the column of the problem. */
export function parseFilter(expression: string): FilterAst {
  const p = new Parser(expression);
  try {
    return { expression, expr: p.parseProgram() };
  } catch (e) {
    if (isBacktrack(e)) throw p.syntaxError();
    throw e;
  }
}
