/**
 * CFG ⇄ program: layout, `ja` for jumps, the long-branch fix-up, graphs
 * from any program, and Graphviz output.
 */
import { describe, expect, it } from 'vitest';
import { interpret, isValid } from '../../src/cbpf/index.js';
import { BPF_ABS, BPF_B, BPF_JEQ, BPF_JMP, BPF_K, BPF_LD } from '../../src/cbpf/insn.js';
import type { Block, Cfg } from '../../src/filter/cfg.js';
import type { GenOptions } from '../../src/filter/codegen/context.js';
import { generate } from '../../src/filter/codegen/index.js';
import { compile, compileDetailed, fromProgram, layout, linearize, toDot } from '../../src/filter/index.js';
import type { SizedCfg } from '../../src/filter/linearize.js';
import { resolveLinkType } from '../../src/filter/linktypes.js';
import { atoin } from '../../src/filter/names/addr.js';
import { parseFilter } from '../../src/filter/parser.js';
import { GraphBuilder } from '../../src/filter/pred.js';
import { type AcceptCase, corpusPackets, fixtureResolver, loadJsonl } from './support/cases.js';
import { generator } from './support/generate.js';

describe('linearize', () => {
  it('routes branches farther than 255 instructions through ja', () => {
    const gb = new GraphBuilder();
    const accept = gb.ret(96);
    const reject = gb.ret(0);
    // A chain of 300 byte tests (each a block of 2 instructions) whose true edges all reach `accept`.
    let next: Block = reject;
    for (let i = 299; i >= 0; i--) next = gb.branch([{ code: BPF_LD | BPF_B | BPF_ABS, k: i }], BPF_JMP | BPF_JEQ | BPF_K, 0x55, accept, next);
    const cfg: Cfg = { entry: next };
    const prog = linearize(cfg);
    expect(isValid(prog, 'kernel')).toBe(true);
    expect(prog.some((i) => i.code === (BPF_JMP | 0x00))).toBe(true);
    expect(prog.every((i) => i.jt <= 255 && i.jf <= 255)).toBe(true);
    for (const hit of [0, 150, 299]) {
      const pkt = new Uint8Array(300);
      pkt[hit] = 0x55;
      expect(interpret(prog, pkt)).toBe(96);
    }
    expect(interpret(prog, new Uint8Array(300))).toBe(0);
    expect(interpret(prog, new Uint8Array(200))).toBe(0);
  });

  it('compiles big expressions into valid programs (long jumps fixed up)', () => {
    const expr = Array.from({ length: 60 }, (_, i) => `host 10.0.${i}.1`).join(' or ');
    const prog = compile(expr, { optimize: false });
    expect(prog.length).toBeGreaterThan(256);
    expect(isValid(prog, 'kernel')).toBe(true);
  });

  it("gives compile() the program of the optimised graph (the routes' programs, made from their tables)", () => {
    // compile() takes the flat and local routes' programs without making their blocks
    // (optimize-flat.ts flatProgram, optimize-route.ts localProgram); compileDetailed() linearises
    // the optimised graph. Both must agree: also with jumps (`ja` in the Geneve and VXLAN
    // programs) and where branches reach past 255 instructions (40 and 80 Ethernet hosts: the
    // flat route, then linearize()'s general path through its blocks; in Geneve, and 80 IP hosts
    // in Geneve: the rounds' graph; bare IP hosts, regrouped, come out short enough).
    const chain = (n: number, prefix: string) => prefix + Array.from({ length: n }, (_, i) => `host 10.0.${i >> 8}.${i & 255}`).join(' or ');
    const etherChain = (n: number) => Array.from({ length: n }, (_, i) => `ether host 0:0:0:0:${(i >> 8).toString(16)}:${(i & 255).toString(16)}`).join(' or ');
    const exprs = [
      'tcp port 80', 'host 192.168.1.1 and (tcp port 80 or udp port 53)', 'icmp or arp', 'vlan and ip',
      'net 10.0.0.0/8 and not port 22', 'ip6 and udp port 53', 'tcp[tcpflags] & (tcp-syn|tcp-fin) != 0',
      'geneve and ip', 'vxlan and ip', 'vxlan and tcp port 80',
      ...[5, 40, 80].map((n) => chain(n, '')),
      ...[5, 40, 80].map(etherChain),
      ...[5, 40, 80].map((n) => `geneve and (${chain(n, '')})`),
      ...[5, 40, 80].map((n) => `geneve and (${etherChain(n)})`),
    ];
    let far = 0;
    for (const e of exprs) {
      const prog = compile(e);
      expect(prog, e).toEqual(compileDetailed(e).program);
      if (prog.filter((i) => i.code === (BPF_JMP | 0x00)).length > 3) far++;
    }
    expect(far).toBe(5);
  });

  it("lays a lowered tree of tests out while lowering: the walk's program, on every accept case", () => {
    // Where code generation's graph is a tree of tests under and/or/not, lowering lays its program
    // out as it goes (pred.ts GraphBuilder startProgram) and linearize() hands that out. The same
    // graph without it (the sized walk) and without `size` either (the walk by block id) must give
    // the same program.
    let trees = 0;
    let graphs = 0;
    // Besides the tables: Geneve's offsets (a sub-graph with jumps, laid out as made; pred.ts
    // orderedGraph) where the exits trade places (`not`): in 'not tcp or geneve' a jump block falls
    // through into the exit that would move (program() leaves that graph to the walk).
    const extra = ['not tcp or geneve', 'not geneve', 'not (geneve and ip)', 'geneve and not ip', 'geneve or arp', 'not geneve 7 or udp', 'ether[0] = 1 and not (geneve and tcp)']
      .map((expr, i) => ({ name: `extra_${i}`, dlt: 'EN10MB', expr, optimize: false, snaplen: null, netmask: null, linux_ext: false, generate_offline_filter: null, expected: '' }));
    for (const file of ['accept.jsonl', 'accept-fixtures.jsonl', '']) {
      for (const c of file === '' ? extra : loadJsonl<AcceptCase>(file)) {
        if (c.expr === '_enumerate_bpf_image') continue;
        const opts: GenOptions = {
          linkType: resolveLinkType(c.dlt), snaplen: c.snaplen ?? 262144, netmask: c.netmask === null ? undefined : atoin(c.netmask)!.value,
          linuxExt: c.linux_ext, offline: c.generate_offline_filter ?? (false as const), resolver: fixtureResolver, expression: c.expr,
          fold: c.optimize, program: true,
        };
        let cfg: SizedCfg;
        try {
          cfg = generate(parseFilter(c.expr), opts);
        } catch {
          continue; // refused (the accept tests check which and why)
        }
        graphs++;
        if (cfg.program === undefined) continue;
        trees++;
        const label = `${c.name} [${c.dlt}] ${c.expr}`;
        const prog = linearize(cfg);
        expect(cfg.program, 'handed out once').toBeUndefined();
        const sized: SizedCfg = { entry: cfg.entry, size: cfg.size };
        expect(linearize(sized), label).toEqual(prog);
        expect(linearize({ entry: cfg.entry }), label).toEqual(prog);
      }
    }
    // Most graphs are such trees (not: 802.11 header prologues, protochain, Geneve, VXLAN, vlan with
    // Linux extensions, folded constants, branches past 255 instructions).
    console.log(`linearize: ${trees} of ${graphs} generated graphs are trees laid out while lowering`);
    expect(graphs).toBeGreaterThan(4000);
    expect(trees / graphs).toBeGreaterThan(0.85);
  });

  it('gives the walk\'s program for generated expressions, with and without Geneve, on several link types', () => {
    // compile() without the optimiser takes the program lowering laid out; compileDetailed's graph
    // comes without it (and without `size`), so linearize() walks it by block id.
    const next = generator(20261127, { ips: ['10.0.0.1', '192.168.1.1', '172.16.5.4'], ports: [22, 53, 80, 443, 8080], macs: ['00:11:22:33:44:55'] });
    let n = 0;
    for (let i = 0; i < 400; i++) {
      const e = next();
      for (const expr of [e, `geneve and (${e})`, `not (${e}) or geneve`]) {
        for (const linkType of ['EN10MB', 'LINUX_SLL', 'RAW']) {
          let prog;
          try {
            prog = compile(expr, { linkType, optimize: false });
          } catch {
            continue; // refused (the fuzz test checks how)
          }
          expect(prog, `${linkType} ${expr}`).toEqual(linearize(compileDetailed(expr, { linkType, optimize: false }).cfg));
          n++;
        }
      }
    }
    expect(n).toBeGreaterThan(1500);
  });

  it('lays out graphs too deep for the recursive walk (the general path takes them)', () => {
    // 2000 ports: a walk thousands of blocks deep, on the first compile of its kind.
    const expr = Array.from({ length: 2000 }, (_, i) => `port ${i}`).join(' or ');
    const prog = compile(expr, { optimize: false });
    expect(prog.length).toBe(63964);
    expect(isValid(prog, 'libpcap')).toBe(true); // longer than the kernel's 4096
  });

  it('round-trips programs through fromProgram', () => {
    const packets = (corpusPackets().get(1) ?? []).slice(0, 300);
    for (const e of ['tcp port 80', 'vlan and ip', 'ip protochain 17', 'geneve and ip', 'not (host 1.2.3.4 or udp)']) {
      const prog = compile(e, { optimize: false });
      const again = linearize(fromProgram(prog));
      for (const p of packets) expect(interpret(again, p), e).toBe(interpret(prog, p));
    }
  });

  it('hands out graphs whose statements no later compile shares', () => {
    // Code generation shares some statements (and load arrays) between compiles; compileDetailed's
    // graphs must not: editing them in place leaves later programs as they were.
    for (const optimize of [false, true]) {
      for (const e of ['geneve and ip', 'vxlan and tcp port 80', 'ether[1] & 5 != 0 and ip[2:2] > 576']) {
        const before = compile(e, { optimize });
        const c = compileDetailed(e, { optimize });
        for (const cfg of [c.cfg, c.optimized]) {
          for (const b of layout(cfg)) {
            for (const s of b.stmts) s.k = 0x1234;
            b.stmts.push({ code: BPF_LD | BPF_B | BPF_ABS, k: 99 });
          }
        }
        expect(compile(e, { optimize }), e).toEqual(before);
      }
    }
  });

  it('draws the graph before and after optimisation', () => {
    const c = compileDetailed('tcp port 80');
    const dot = toDot(c.cfg, 'unoptimized');
    expect(dot).toMatch(/^digraph unoptimized \{/);
    expect(dot).toContain('ldh [12]');
    expect(dot).toContain('[label="F", style=dashed]');
    expect(dot.trim().endsWith('}')).toBe(true);
  });
});
