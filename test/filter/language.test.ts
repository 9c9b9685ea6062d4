/**
 * The language: tokens, grammar, qualifier inheritance, precedence, the
 * printable AST, and errors that name the column and show a caret.
 */
import { spawnSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { BpfkitError } from '../../src/errors.js';
import type { Node } from '../../src/filter/ast.js';
import { compile, FilterSemanticError, FilterSyntaxError, parseFilter, printAst, tokenize } from '../../src/filter/index.js';

const kinds = (s: string): string[] => tokenize(s).map((t) => (t.kind === 'NUM' ? `NUM:${t.num}` : t.kind === 'ID' ? `ID:${t.text}` : t.kind));

describe('lexer', () => {
  it('takes the longest match, keywords before names, numbers in three bases', () => {
    expect(kinds('tcp port 80')).toEqual(['TCP', 'PORT', 'NUM:80', 'EOF']);
    expect(kinds('0x50 010 080a')).toEqual(['NUM:80', 'NUM:8', 'ID:080a', 'EOF']);
    expect(kinds('host eth-ipv4.host123.test')).toEqual(['HOST', 'ID:eth-ipv4.host123.test', 'EOF']);
    expect(kinds('1.2.3.4 1.2.3.4.5 10.0.0.0/8')).toEqual(['HID', 'ID:1.2.3.4.5', 'HID', '/', 'NUM:8', 'EOF']);
    expect(kinds('fe80::1 ::ffff:1.2.3.4 ::')).toEqual(['HID6', 'HID6', 'HID6', 'EOF']);
    expect(kinds('a:b:c:d:e:f a-b-c-d-e-f a.b.c.d.e.f aabb.ccdd.eeff aabbccddeeff $0e')).toEqual(['EID', 'EID', 'EID', 'EID', 'EID', 'AID', 'EOF']);
    expect(kinds('tcp-syn icmp-echoreply tcpflags icmp6type')).toEqual(['NUM:2', 'NUM:0', 'NUM:13', 'NUM:0', 'EOF']);
    expect(kinds('ether proto \\ip')).toEqual(['LINK', 'PROTO', 'ID:ip', 'EOF']);
    expect(kinds('a && b || !c >= <= != == << >>')).toEqual(['ID:a', 'AND', 'ID:b', 'OR', 'NOT', 'ID:c', 'GEQ', 'LEQ', 'NEQ', '=', 'LSH', 'RSH', 'EOF']);
  });

  it('refuses numbers libpcap refuses, with the column', () => {
    expect(() => tokenize('port 08')).toThrow(/number 08 contains non-octal digit/);
    expect(() => tokenize('len > 4294967296')).toThrow(/decimal number 4294967296 overflows 32 bits/);
    expect(() => tokenize('len > 0x100000000')).toThrow(/hexadecimal number 0x100000000 overflows 32 bits/);
    try {
      tokenize('tcp and 0400000000000');
      expect.unreachable();
    } catch (e) {
      expect(e).toBeInstanceOf(FilterSyntaxError);
      expect((e as FilterSyntaxError).column).toBe(8);
    }
  });
});

describe('parser', () => {
  const p = (s: string): string => printAst(parseFilter(s));

  it('inherits qualifiers like libpcap', () => {
    expect(p('host a or b')).toBe('(host a or host b)');
    expect(p('tcp port 80 or 443')).toBe('(tcp port 80 or tcp port 443)');
    expect(p('src host a and not b')).toBe('(src host a and not src host b)');
    expect(p('host (a or b) and c')).toBe('((host a or host b) and host c)');
    expect(p('tcp port 80 or udp port 53 or 54')).toBe('((tcp port 80 or udp port 53) or udp port 54)');
    // A bare protocol resets the qualifiers: `tcp or 80` is not `tcp or tcp 80`.
    expect(() => compile('tcp or 80')).toThrow(FilterSemanticError);
  });

  it('knows no names from Object.prototype: protocols, ports, 802.11, PF, LLC (as tcpdump)', () => {
    const cases: [string, string][] = [
      ['EN10MB', 'ip proto constructor'], ['EN10MB', 'proto toString'], ['EN10MB', 'ip6 proto hasOwnProperty'],
      ['EN10MB', 'ether proto constructor'], ['EN10MB', 'port valueOf'], ['EN10MB', 'llc constructor'],
      ['IEEE802_11', 'type constructor'], ['IEEE802_11', 'type mgt subtype toString'], ['IEEE802_11', 'subtype constructor'],
      ['IEEE802_11', 'dir constructor'], ['PFLOG', 'action constructor'],
    ];
    for (const [dlt, e] of cases) {
      expect(() => compile(e, { linkType: dlt }), e).toThrow(FilterSemanticError);
      const r = spawnSync('tcpdump', ['-y', dlt, '-d', e], { encoding: 'utf8' });
      expect(r.status, `tcpdump -y ${dlt} -d '${e}'`).not.toBe(0);
      expect(r.stderr, e).toMatch(/unknown/);
    }
  });

  it('gives and/or equal precedence, left-associative; not binds tighter', () => {
    expect(p('a or b and c'.replace(/\b([abc])\b/g, 'host $1'))).toBe('((host a or host b) and host c)');
    expect(p('not tcp and udp')).toBe('(not tcp and udp)');
    expect(p('!(tcp || udp) && ip')).toBe('(not (tcp or udp) and ip)');
  });

  it('parses arithmetic with libpcap precedence (^ always shifts)', () => {
    expect(p('ip[2:2] > 576')).toBe('ip[2:2] > 576');
    expect(p('len - 14 * 2 + 1 >= 3')).toBe('((len - (14 * 2)) + 1) >= 3');
    expect(p('tcp[tcpflags] & (tcp-syn|tcp-fin) != 0')).toBe('(tcp[13] & (2 | 1)) != 0');
    expect(p('ip[0] + 1 ^ 2 = 0')).toBe('(ip[0] + (1 ^ 2)) = 0');
    expect(p('-ip[0] << 2 = 4')).toBe('(-(ip[0]) << 2) = 4');
    expect(p('- ip[0] % 2 = 1')).toBe('-((ip[0] % 2)) = 1');
    expect(p('ip[0] * 3 % 2 = 1')).toBe('(ip[0] * (3 % 2)) = 1');
  });

  it('parses every address form and primitive family', () => {
    for (const e of [
      'net 10.0.0.0/8', 'net 10.0 mask 255.255.0.0', 'ip6 net 2001:db8::/32', 'host ::ffff:10.1.2.3',
      'ether host aa:bb:cc:dd:ee:ff', 'ether src aabb.ccdd.eeff', 'link host $0e', 'decnet src 10.23',
      'portrange 1000-2000', 'less 100', 'greater 64', 'byte 2 & 0x0f', 'vlan 100 and mpls 7 and pppoes 3',
      'geneve 5 or vxlan 7', 'ip proto \\tcp', 'ip6 protochain 17', 'ether broadcast or ip multicast',
      'wlan type data subtype qos-data', 'wlan dir fromds', 'llc u', 'vpi 1 and vci (1 or 2)', 'sio > 2 or opc 3',
      'on eth0 and action pass and reason match', 'inbound or outbound or ifindex 3', 'icmp[icmptype] == icmp-echo',
    ]) {
      expect(() => parseFilter(e), e).not.toThrow();
    }
  });

  it('hands code generation the value of a plain dotted quad; the text decides for any other', () => {
    const id = (s: string): unknown => (parseFilter(s).expr as Extract<Node, { type: 'id' }>).id;
    expect(id('host 10.1.2.3')).toEqual({ kind: 'ipv4', text: '10.1.2.3', value: 0x0a010203 });
    expect(id('net 192.168.0.0/16')).toEqual({ kind: 'ipv4len', text: '192.168.0.0', value: 0xc0a80000, len: 16 });
    // Octal parts, parts over 255 and partial addresses: -1, atoin reads the text (or refuses it).
    for (const a of ['010.1.2.3', '1.2.3.256', '10.1']) expect(id(`net ${a}`), a).toMatchObject({ value: -1 });
    expect(compile('host 010.1.2.3')).toEqual(compile('host 8.1.2.3'));
    expect(() => compile('host 1.2.3.256')).toThrow("invalid IPv4 address '1.2.3.256'");
  });

  it('reports a syntax error at its column with a caret line', () => {
    try {
      compile('tcp port 80 and (udp or');
      expect.unreachable();
    } catch (e) {
      expect(e).toBeInstanceOf(FilterSyntaxError);
      expect(e).toBeInstanceOf(BpfkitError);
      const err = e as FilterSyntaxError;
      expect(err.message).toContain("can't parse filter expression: syntax error");
      expect(err.column).toBe(23);
      expect(err.detail()).toBe('  tcp port 80 and (udp or\n                         ^');
    }
  });

  it('reports the furthest token reached, also past an attempt that was undone', () => {
    const column = (s: string): number => {
      try {
        parseFilter(s);
      } catch (e) {
        return (e as FilterSyntaxError).column;
      }
      return -1;
    };
    expect(column('host a or (b and )')).toBe(17);
    expect(column('(tcp port 80 or (1 + ) > 2) and ip')).toBe(21);
    expect(column('host (a or b and (c')).toBe(19);
    expect(column('not (tcp[13] & 2 != ) or ip')).toBe(20);
  });

  it('starts every parse afresh and shares qualifier sets between ids', () => {
    expect(() => parseFilter('tcp port 80 and (udp or')).toThrow(FilterSyntaxError);
    const ast = parseFilter('tcp port 80 or 443');
    expect(printAst(ast)).toBe('(tcp port 80 or tcp port 443)');
    const e = ast.expr as Extract<Node, { left: Node }>;
    const [a, b] = [e.left, e.right] as Extract<Node, { type: 'id' }>[];
    expect(a!.qual).toEqual({ proto: 'tcp', dir: 'default', addr: 'port' });
    expect(b!.qual).toBe(a!.qual);
    expect((parseFilter('tcp port 53').expr as Extract<Node, { type: 'id' }>).qual).toBe(a!.qual);
    // Shared, so frozen: editing one would change every later parse's.
    expect(() => Object.assign(a!.qual, { proto: 'udp' })).toThrow(TypeError);
    expect(printAst(parseFilter('tcp port 80'))).toBe('tcp port 80');
    expect(p('src or dst host a and dst net b')).toBe('(src or dst host a and dst net b)');
  });

  it('explains semantic errors and points at the primitive', () => {
    const err = (s: string, lt = 'EN10MB'): FilterSemanticError => {
      try {
        compile(s, { linkType: lt });
      } catch (e) {
        return e as FilterSemanticError;
      }
      throw new Error(`${s} compiled`);
    };
    expect(err('tcp port htp').message).toBe("unknown port 'htp'");
    expect(err('tcp port htp').detail()).toBe('  tcp port htp\n           ^');
    expect(err('ip', 'MTP2').message).toBe('link-layer type filtering not implemented for DLT_MTP2');
    expect(err('ip6 and igmp', 'IPV4').message).toBe('expression rejects all packets');
    expect(err('arp host 1.2.3.4', 'RAW').message).toBe('expression rejects all packets');
    expect(err('vlan 4096').message).toBe('VLAN tag 4096 greater than maximum 4095');
    expect(err('ip broadcast').message).toBe("netmask not known, so 'ip broadcast' not supported");
    expect(() => compile('ip broadcast', { netmask: '255.255.255.0' })).not.toThrow();
  });

  it('accepts the empty expression (every packet)', () => {
    expect(compile('')).toEqual([{ code: 0x06, jt: 0, jf: 0, k: 262144 }]);
    expect(compile('  ', { snaplen: 100 })).toEqual([{ code: 0x06, jt: 0, jf: 0, k: 100 }]);
  });
});
