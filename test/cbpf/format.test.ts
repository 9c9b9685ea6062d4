/**
 * The text formats against their references: libpcap's own bpf_image() (the
 * installed Debian libpcap 1.10, through the C harness) for every opcode,
 * Debian's `tcpdump -d/-dd/-ddd` for real programs, and the `expected` texts
 * of the shared libpcap conformance suite (libpcap 1.11) for 4304 programs
 * and the `_enumerate_bpf_image` case.
 */
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import {
  SKF_AD_OFF, canonicalInsn, formatBpfAsm, formatD, formatDD, formatDDD, formatInsn, insnParts, parseBpfAsm, parseD, parseDD,
  parseDDD, parseProgram, type CbpfInsn,
} from '../../src/cbpf/index.js';
import { libpcapImage, tcpdumpCompile } from '../support/libpcap.js';
import { LIBPCAP_CONFORMANCE } from '../support/paths.js';

/** A small deterministic PRNG (xorshift32) so failures reproduce. */
function rng(seed: number): () => number {
  let s = seed >>> 0 || 1;
  return () => {
    s ^= s << 13;
    s >>>= 0;
    s ^= s >>> 17;
    s ^= s << 5;
    s >>>= 0;
    return s;
  };
}

interface AcceptCase {
  name: string;
  expr: string;
  expected: string;
}

function acceptCases(): AcceptCase[] {
  const out: AcceptCase[] = [];
  for (const f of ['accept.jsonl', 'accept-fixtures.jsonl']) {
    for (const line of readFileSync(resolve(LIBPCAP_CONFORMANCE, f), 'utf8').split('\n')) {
      if (line.trim()) out.push(JSON.parse(line) as AcceptCase);
    }
  }
  return out;
}

describe('-d matches libpcap 1.10 bpf_image() (the installed library)', () => {
  it('for every 16-bit opcode with interesting k, jt, jf and index values', () => {
    const next = rng(0xbadc0de);
    const ks = [0, 1, 15, 255, 0x7fffffff, 0x80000000, 0xffffffff, 0xfffff000, 0xffeffff0, 0xfff00000, 0xffe00000];
    for (let a = 0; a < 64; a += 4) ks.push((SKF_AD_OFF + a) >>> 0);
    const items: { insn: CbpfInsn; n: number }[] = [];
    for (let code = 0; code < 0x10000; code++) {
      const k = code < 0x100 ? ks[code % ks.length]! : next();
      items.push({ insn: { code, jt: next() & 0xff, jf: next() & 0xff, k }, n: next() % 5000 });
    }
    // Every valid opcode again with every k of interest.
    for (let code = 0; code < 0x100; code++) {
      for (const k of ks) items.push({ insn: { code, jt: 0, jf: 255, k }, n: 999 });
      items.push({ insn: { code, jt: 3, jf: 7, k: next() }, n: 0x7fffffff });
    }
    const expected = libpcapImage(items);
    const mismatches: string[] = [];
    items.forEach(({ insn, n }, i) => {
      const ours = formatInsn(insn, n, 'libpcap-1.10');
      if (ours !== expected[i]) mismatches.push(`code 0x${insn.code.toString(16)} k ${insn.k}: ours ${JSON.stringify(ours)} libpcap ${JSON.stringify(expected[i])}`);
    });
    expect(mismatches.slice(0, 10)).toEqual([]);
    expect(items.length).toBeGreaterThan(65536);
  });
});

describe('-d in libpcap 1.11 style matches the conformance suite', () => {
  const cases = acceptCases();

  it('parses and reprints every expected program byte for byte', () => {
    let checked = 0;
    const failures: string[] = [];
    for (const c of cases) {
      if (c.expr === '_enumerate_bpf_image') continue;
      const prog = parseD(c.expected);
      const text = formatD(prog, 'libpcap-1.11');
      if (text !== c.expected) failures.push(c.name);
      // The other formats round-trip exactly.
      expect(parseDDD(formatDDD(prog))).toEqual(prog);
      expect(parseDD(formatDD(prog))).toEqual(prog);
      checked++;
    }
    expect(failures).toEqual([]);
    expect(checked).toBeGreaterThan(4000);
  });

  it('reproduces _enumerate_bpf_image (every opcode bpf_image can show, non-ret first)', () => {
    const c = cases.find((x) => x.expr === '_enumerate_bpf_image')!;
    const lines: string[] = [];
    let n = 0;
    for (const wantRet of [false, true]) {
      for (let code = 0; code < 0x10000; code++) {
        if (((code & 0x07) === 0x06) !== wantRet) continue;
        const insn = { code, jt: 1, jf: 0, k: 15 };
        if (!insnParts(insn, n, 'libpcap-1.11')) continue;
        lines.push(`${formatInsn(insn, n, 'libpcap-1.11').padEnd(50)}; 0x${code.toString(16).padStart(4, '0')}`);
        n++;
      }
    }
    expect(lines.join('\n') + '\n').toBe(c.expected);
    expect(n).toBe(49);
    // And the parser reads that text back, notes included.
    const prog = parseD(c.expected);
    expect(prog.map((i) => i.code)).toEqual(lines.map((l) => parseInt(l.slice(-4), 16)));
  });
});

const EXPRESSIONS = [
  'tcp port 80',
  'host 192.168.1.1 and (tcp port 80 or udp port 53)',
  'ip[2:2] > 576',
  'vlan and ip',
  'ip6 protochain 6',
  'len - 1 > ether[0] * 2',
  'tcp[tcpflags] & (tcp-syn|tcp-fin) != 0 and not src net 10.0.0.0/8',
  'icmp6 or arp or (ip and ip[6:2] & 0x1fff = 0 and udp[8:4] = 0x12345678)',
  'ether[0] & 1 = 1 and ip[0] & 0xf > 5',
  'mpls 100 and ip',
  'ip and (ip[2:2] / 4) % 3 = 1 and ip[8] << 2 > 64 and ip[9] ^ 6 = 0',
];

describe('all formats match Debian tcpdump 4.99 on real programs', () => {
  for (const expr of EXPRESSIONS) {
    it(expr, () => {
      const prog = tcpdumpCompile(expr, 'EN10MB');
      const run = (flag: string): string =>
        execFileSync('tcpdump', [flag, '-y', 'EN10MB', expr], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] });
      const d = run('-d');
      const dd = run('-dd');
      const ddd = run('-ddd');
      expect(formatD(prog)).toBe(d);
      expect(formatDD(prog)).toBe(dd);
      expect(formatDDD(prog)).toBe(ddd);
      const canon = prog.map(canonicalInsn);
      expect(parseD(d)).toEqual(canon);
      expect(parseDD(dd)).toEqual(prog);
      expect(parseDDD(ddd)).toEqual(prog);
      expect(parseProgram(d)).toEqual(canon);
      expect(parseProgram(dd)).toEqual(prog);
      expect(parseProgram(ddd)).toEqual(prog);
      // bpf_asm round trip
      const asm = formatBpfAsm(prog);
      expect(parseBpfAsm(asm)).toEqual(canon);
      expect(parseProgram(asm)).toEqual(canon);
    });
  }
});

describe('bpf_asm', () => {
  it('reads the kernel documentation style, labels, extensions and comments', () => {
    const prog = parseBpfAsm(`
      ; ARP or IPv4 TCP, from Documentation/networking/filter.rst style
      /* a block
         comment */
#     a hash comment line
              ldh [12]
              jne #0x806, ipv4
              ret #-1
      ipv4:   jeq #0x800, tcp, drop
      tcp:    ldb [23]
              JEQ #6, keep, drop
      keep:   ret #0xffff
      drop:   ret #0
      extra:  ld #proto
              ldb #vlan_avail
              ldh vlan_tci
              ld len
              ldx #len
              ldxb 4*([14]&0xf)
              ldx 4*([14]&0xf)
              ld [x + 14]
              ldh [%x + 0b101]
              ldi #017
              ldxi 7
              st M[3]
              stx M[15]
              ld M[3]
              ldx M[15]
              add x
              sub %x
              mul #3
              div #2
              mod #7
              and #0xff
              or x
              xor #1
              lsh #2
              rsh x
              neg
              tax
              txa
              jlt #10, fin
              jle x, fin
              jset #4, fin
              jmp fin
      fin:    ret a
    `);
    expect(formatDDD(prog.slice(0, 8))).toBe('8\n40 0 0 12\n21 0 1 2054\n6 0 0 4294967295\n21 0 3 2048\n48 0 0 23\n21 0 1 6\n6 0 0 65535\n6 0 0 0\n');
    expect(prog[8]).toEqual({ code: 0x20, jt: 0, jf: 0, k: (SKF_AD_OFF + 0) >>> 0 });
    expect(prog[9]).toEqual({ code: 0x30, jt: 0, jf: 0, k: (SKF_AD_OFF + 48) >>> 0 });
    expect(prog[10]).toEqual({ code: 0x28, jt: 0, jf: 0, k: (SKF_AD_OFF + 44) >>> 0 });
    expect(prog.slice(11, 19).map((i) => [i.code, i.k])).toEqual([
      [0x80, 0], [0x81, 0], [0xb1, 14], [0xb1, 14], [0x40, 14], [0x48, 5], [0x00, 15], [0x01, 7],
    ]);
    const fin = prog.length - 1;
    const jlt = prog.findIndex((i) => i.code === 0x35);
    expect(prog.slice(jlt, fin)).toEqual([
      { code: 0x35, jt: 0, jf: fin - jlt - 1, k: 10 },
      { code: 0x2d, jt: 0, jf: fin - jlt - 2, k: 0 },
      { code: 0x45, jt: fin - jlt - 3, jf: 0, k: 4 },
      { code: 0x05, jt: 0, jf: 0, k: 0 },
    ]);
    expect(prog[fin]).toEqual({ code: 0x16, jt: 0, jf: 0, k: 0 });
    const asm = formatBpfAsm(prog);
    expect(parseBpfAsm(asm)).toEqual(prog);
  });
});
