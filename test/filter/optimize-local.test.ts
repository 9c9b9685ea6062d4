/**
 * The optimiser's local path (src/filter/optimize-local.ts): what it does to small hand-made
 * graphs (reloads and dead statements dropped, `and #m; jeq #0` made a jset, a test of a
 * block's only load made from what A holds), where it gives up leaving the graph as it was,
 * and the tunnel expressions it takes: the rounds' instruction counts, and the unoptimised
 * programs' verdicts.
 */
import { describe, expect, it } from 'vitest';
import type { Block, Cfg, Stmt, Terminator } from '../../src/filter/cfg.js';
import { compile, DLT } from '../../src/filter/index.js';
import { buildGraph } from '../../src/filter/optimize-analysis.js';
import { localPath } from '../../src/filter/optimize-local.js';
import { corpusPackets, sample } from './support/cases.js';
import { compare } from './support/equiv.js';

const s = (code: number, k = 0): Stmt => ({ code, k });
let ids = 0;
const block = (stmts: Stmt[], term: Terminator): Block => ({ id: ids++, stmts, term });
const ret = (k: number): Block => block([], { kind: 'ret', code: 0x06, k });
const br = (code: number, k: number, jt: Block, jf: Block): Terminator => ({ kind: 'branch', code, k, jt, jf });
const show = (b: Block): string => b.stmts.map((x) => `${x.code.toString(16)}:${x.k}`).join(' ');

describe('optimiser local path', () => {
  it('makes `and #m; jeq #0` a jset the other way round', () => {
    const yes = ret(1), no = ret(0);
    const entry = block([s(0x30, 14), s(0x54, 0xc0)], br(0x15, 0, yes, no));
    const cfg: Cfg = { entry };
    expect(localPath(cfg, buildGraph(cfg))).toBe(true);
    expect(show(entry)).toBe('30:14');
    expect(entry.term).toMatchObject({ kind: 'branch', code: 0x45, k: 0xc0, jt: no, jf: yes });
  });

  it('drops a reload of X and statements nothing reads', () => {
    const yes = ret(1), no = ret(0);
    // ldxb 4*([14]&0xf); ldh [x + 16]; jeq #5 -> ldxb 4*([14]&0xf); txa; add #1; st M[3]; ldh [x + 2]; jeq #7
    const second = block([s(0xb1, 14), s(0x87), s(0x04, 1), s(0x02, 3), s(0x48, 2)], br(0x15, 7, yes, no));
    const entry = block([s(0xb1, 14), s(0x48, 16)], br(0x15, 5, second, no));
    const cfg: Cfg = { entry };
    expect(localPath(cfg, buildGraph(cfg))).toBe(true);
    expect(show(second)).toBe('48:2');
    expect(show(entry)).toBe('b1:14 48:16');
  });

  it('makes a tested load at a computed offset straight from what A holds', () => {
    const yes = ret(1), no = ret(0);
    // ldb [14] (tested), then add #2; add #3; st M[0]; ldx M[0]; ldb [x + 0] -> tax; ldb [x + 5]
    const second = block([s(0x04, 2), s(0x04, 3), s(0x02, 0), s(0x61, 0), s(0x50, 0)], br(0x15, 1, yes, no));
    const entry = block([s(0x30, 14)], br(0x25, 3, second, no));
    const cfg: Cfg = { entry };
    expect(localPath(cfg, buildGraph(cfg))).toBe(true);
    expect(show(second)).toBe('7:0 50:5');
  });

  it('gives up, changing nothing, where a fact decides a test', () => {
    const yes = ret(1), no = ret(0);
    const again = block([s(0x28, 12)], br(0x15, 0x800, yes, no));
    const mid = block([s(0x30, 23), s(0x04, 1), s(0x07)], { kind: 'jump', target: again });
    const entry = block([s(0x28, 12)], br(0x15, 0x800, mid, no));
    const cfg: Cfg = { entry };
    const before = [entry, mid, again].map(show);
    expect(localPath(cfg, buildGraph(cfg))).toBe(false);
    expect([entry, mid, again].map(show)).toEqual(before);
  });

  it('gives up where the value table would fold constants', () => {
    const yes = ret(1), no = ret(0);
    const second = block([s(0x00, 20), s(0x04, 2), s(0x07), s(0x50, 0)], br(0x15, 1, yes, no));
    const entry = block([s(0x30, 14)], br(0x15, 3, second, no));
    const cfg: Cfg = { entry };
    expect(localPath(cfg, buildGraph(cfg))).toBe(false);
    expect(show(second)).toBe('0:20 4:2 7:0 50:0');
  });

  it("compiles the UDP tunnels to the rounds' lengths, with the unoptimised verdicts", () => {
    const packets = sample(corpusPackets().get(DLT.EN10MB!) ?? [], 200);
    const cases: [string, number][] = [
      ['geneve and ip', 42],
      ['vxlan and ip', 26],
      ['geneve and tcp port 80', 0],
      ['vxlan 7 and ip6', 0],
      ['geneve and udp', 0],
      ['vxlan and arp', 0],
    ];
    for (const [expr, len] of cases) {
      const opt = compile(expr);
      if (len) expect(opt.length, expr).toBe(len);
      const m = compare(compile(expr, { optimize: false }), opt, packets, { budget: 80 });
      expect(m, expr).toBeUndefined();
    }
  });
});
