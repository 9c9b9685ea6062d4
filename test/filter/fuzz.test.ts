/**
 * Bad input never crashes the compiler: random token soups, random
 * grammar-shaped expressions and mutations of the conformance expressions
 * all end in a valid program or a typed error, quickly, on every link type
 * family.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { checkProgram } from '../../src/cbpf/index.js';
import { BpfkitError } from '../../src/errors.js';
import { compile } from '../../src/filter/index.js';
import { builtinResolver } from '../../src/filter/names/resolver.js';
import { loadJsonl, type AcceptCase } from './support/cases.js';
import { generator } from './support/generate.js';

const resolver = builtinResolver();
const LINKTYPES = ['EN10MB', 'RAW', 'IEEE802_11_RADIO', 'LINUX_SLL2', 'NULL', 'PPP', 'SUNATM', 'MTP2', 'PFLOG', 'ARCNET', 'FDDI', 'A429'];
const stats = { programs: 0, errors: 0 };

function outcome(expr: string, linkType: string, optimize: boolean): void {
  const t0 = performance.now();
  try {
    const prog = compile(expr, { linkType, optimize, resolver });
    const problems = checkProgram(prog, 'libpcap');
    if (problems.length) throw new Error(`invalid program for ${JSON.stringify(expr)} on ${linkType}: ${JSON.stringify(problems[0])}`);
    stats.programs++;
  } catch (e) {
    if (!(e instanceof BpfkitError)) throw new Error(`untyped failure for ${JSON.stringify(expr)} on ${linkType}: ${(e as Error).stack}`);
    stats.errors++;
  }
  const ms = performance.now() - t0;
  if (ms > 2000) throw new Error(`${JSON.stringify(expr)} took ${ms.toFixed(0)} ms`);
}

const WORDS = [
  'ip', 'ip6', 'tcp', 'udp', 'icmp', 'arp', 'host', 'net', 'port', 'portrange', 'src', 'dst', 'and', 'or', 'not', '(', ')',
  '[', ']', ':', '2', '4', '80', '0x10', '010', '1.2.3.4', '10.0.0.0/8', 'fe80::1', 'aa:bb:cc:dd:ee:ff', '$0e', 'mask',
  '255.255.0.0', 'vlan', 'mpls', 'pppoes', 'geneve', 'vxlan', 'ether', 'link', 'proto', 'protochain', 'gateway',
  'broadcast', 'multicast', 'less', 'greater', 'len', '+', '-', '*', '/', '%', '&', '|', '^', '<<', '>>', '>', '<', '=',
  '!=', '>=', '<=', '==', '!', '&&', '||', 'tcpflags', 'tcp-syn', 'byte', 'wlan', 'type', 'subtype', 'dir', 'data',
  'addr1', 'ra', 'llc', 'vpi', 'vci', 'sio', 'opc', 'fisu', 'lane', 'on', 'rnr', 'reason', 'action', 'inbound', 'ifindex',
  'iso', 'isis', 'l1', 'clnp', 'decnet', '\\ip', 'radio', 'name.example', '65536', '4294967295', '1-2', '-1',
];

describe('fuzz: every input gives a program or a typed error', () => {
  it('token soups', () => {
    fc.assert(
      fc.property(fc.array(fc.constantFrom(...WORDS), { minLength: 1, maxLength: 12 }), fc.constantFrom(...LINKTYPES), fc.boolean(), (ws, lt, opt) => {
        outcome(ws.join(' '), lt, opt);
      }),
      { numRuns: 3000, seed: 42 },
    );
  });

  it('grammar-shaped expressions on every link type family', () => {
    const next = generator(99, { ips: ['10.0.0.1', '192.168.1.1'], ports: [22, 53, 80, 443], macs: ['00:11:22:33:44:55'] });
    fc.assert(
      fc.property(fc.nat(), fc.constantFrom(...LINKTYPES), fc.boolean(), (_n, lt, opt) => outcome(next(), lt, opt)),
      { numRuns: 3000, seed: 99 },
    );
  });

  it('arbitrary strings', () => {
    fc.assert(
      fc.property(fc.string({ maxLength: 40 }), fc.constantFrom(...LINKTYPES), (s, lt) => outcome(s, lt, true)),
      { numRuns: 2000, seed: 7 },
    );
  });

  it('mutations of the conformance expressions', () => {
    const exprs = [...new Set(loadJsonl<AcceptCase>('accept.jsonl').map((c) => c.expr))].filter((e) => e !== '_enumerate_bpf_image');
    fc.assert(
      fc.property(
        fc.constantFrom(...exprs), fc.nat(), fc.constantFrom('drop', 'dup', 'swap', 'insert', 'byte'), fc.constantFrom(...WORDS),
        fc.constantFrom(...LINKTYPES), fc.boolean(),
        (e, at, how, word, lt, opt) => {
          const toks = e.split(/\s+/);
          const i = at % toks.length;
          let m: string;
          switch (how) {
            case 'drop': m = [...toks.slice(0, i), ...toks.slice(i + 1)].join(' '); break;
            case 'dup': m = [...toks.slice(0, i + 1), ...toks.slice(i)].join(' '); break;
            case 'swap': m = [...toks.slice(0, i), word, ...toks.slice(i + 1)].join(' '); break;
            case 'insert': m = [...toks.slice(0, i), word, ...toks.slice(i)].join(' '); break;
            default: {
              const j = at % Math.max(1, e.length);
              m = e.slice(0, j) + String.fromCharCode(32 + (at % 95)) + e.slice(j + 1);
            }
          }
          outcome(m, lt, opt);
        },
      ),
      { numRuns: 4000, seed: 1234 },
    );
    console.log(`filter fuzz summary: ${stats.programs} programs (all valid), ${stats.errors} typed errors, 0 crashes`);
    expect(stats.programs).toBeGreaterThan(1000);
  });
});
