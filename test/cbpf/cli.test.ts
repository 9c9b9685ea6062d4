/**
 * `bpfkit cbpf validate|convert|run`: in process through the real command
 * table (main()), and once through the built command (dist/) for standard
 * input and the exit status.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { describe, expect, it } from 'vitest';
import { formatDDD, interpret, parseDDD } from '../../src/cbpf/index.js';
import { synthesize } from '../../src/cbpf/synth.js';
import { main } from '../../src/cli/main.js';
import { libpcapPackets, libpcapVerdicts } from '../support/libpcap.js';
import { CORPUS, REPO, TMP } from '../support/paths.js';
import { loadPacketsOf } from './packets.js';

const OUT = join(TMP, 'cbpf-cli');
mkdirSync(OUT, { recursive: true });

async function bpfkit(...args: string[]): Promise<{ code: number; out: string; err: string }> {
  const out: string[] = [];
  const err: string[] = [];
  const ow = process.stdout.write;
  const ew = process.stderr.write;
  const capture = (sink: string[]) => ((c: string | Uint8Array) => {
    sink.push(typeof c === 'string' ? c : Buffer.from(c).toString('utf8'));
    return true;
  }) as typeof process.stdout.write;
  process.stdout.write = capture(out);
  process.stderr.write = capture(err);
  process.exitCode = undefined;
  let code: number;
  try {
    code = await main(args);
  } finally {
    process.stdout.write = ow;
    process.stderr.write = ew;
    process.exitCode = undefined;
  }
  return { code, out: out.join(''), err: err.join('') };
}

function tcpdump(flag: string, expr: string): string {
  return execFileSync('tcpdump', [flag, '-y', 'EN10MB', expr], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] });
}

const file = (name: string, text: string): string => {
  const p = join(OUT, name);
  writeFileSync(p, text);
  return p;
};

describe('bpfkit cbpf validate', () => {
  it('accepts a tcpdump program in each format', async () => {
    for (const flag of ['-d', '-dd', '-ddd']) {
      const r = await bpfkit('cbpf', 'validate', file(`tcp80${flag}.txt`, tcpdump(flag, 'tcp port 80')));
      expect(r).toEqual({ code: 0, out: 'valid: 20 instructions, accepted by the kernel and libpcap rules\n', err: '' });
    }
  });

  it('reports each rule set for a program only libpcap takes (protochain jumps back)', async () => {
    const r = await bpfkit('cbpf', 'validate', file('protochain.ddd', tcpdump('-ddd', 'ip6 protochain 6')));
    expect(r.code).toBe(1);
    expect(r.out).toMatch(/^kernel: invalid\n {2}instruction 18: ja with offset -15 jumps backwards .*\[backward-jump\]\n/);
    expect(r.out).toContain('libpcap: valid');
    const lib = await bpfkit('cbpf', 'validate', '--mode', 'libpcap', file('protochain.ddd', tcpdump('-ddd', 'ip6 protochain 6')));
    expect(lib.code).toBe(0);
  });

  it('names the instruction and the rule of an invalid program', async () => {
    const r = await bpfkit('cbpf', 'validate', '-e', '3,40 0 0 12,52 0 0 0,22 0 0 0');
    expect(r.code).toBe(1);
    expect(r.out).toBe('');
    expect(r.err).toBe('bpfkit: invalid classic BPF program: instruction 1 (div #0; code 0x34 jt 0 jf 0 k 0x0): division by the constant 0 [kernel rule division-by-zero]\n');
  });

  it('shows a parse error with line, column and a caret', async () => {
    const r = await bpfkit('cbpf', 'validate', file('bad.asm', 'ldh [12]\njeq #0x800, ok, drop\nok: ret #-1\ndrop ret #0\n'));
    expect(r.code).toBe(1);
    expect(r.err).toBe(`bpfkit: ${join(OUT, 'bad.asm')} (bpf_asm): line 4, column 1: expected an instruction, found 'drop' (a label needs ':' after it)\n  drop ret #0\n  ^\n`);
    const missing = await bpfkit('cbpf', 'validate', join(OUT, 'nope.txt'));
    expect(missing.err).toBe(`bpfkit: cannot read program ${join(OUT, 'nope.txt')}: no such file\n`);
    expect(missing.code).toBe(1);
  });
});

describe('bpfkit cbpf convert', () => {
  it('converts between every pair of formats like tcpdump prints them', async () => {
    const expr = 'host 192.168.1.1 and (tcp port 80 or udp port 53)';
    const d = tcpdump('-d', expr);
    const dd = tcpdump('-dd', expr);
    const ddd = tcpdump('-ddd', expr);
    for (const src of [d, dd, ddd]) {
      const f = file('conv.txt', src);
      expect((await bpfkit('cbpf', 'convert', '--to', 'd', f)).out).toBe(d);
      expect((await bpfkit('cbpf', 'convert', '--to', 'dd', f)).out).toBe(dd);
      expect((await bpfkit('cbpf', 'convert', '--to', 'ddd', f)).out).toBe(ddd);
      const asm = (await bpfkit('cbpf', 'convert', '--to', 'bpf_asm', f)).out;
      expect((await bpfkit('cbpf', 'convert', '--to', 'ddd', '-f', 'bpf_asm', file('conv.asm', asm))).out).toBe(ddd);
    }
    const one = (await bpfkit('cbpf', 'convert', '--to', 'bytecode', file('conv.txt', ddd))).out;
    expect(one).toBe(ddd.trim().replace(/\n/g, ',').replace(/^(\d+),/, '$1,') + '\n');
    expect(formatDDD(parseDDD(one))).toBe(ddd);
  });

  it('prints self-contained JavaScript that returns what the interpreter returns', async () => {
    // Corpus packets (every EN10MB file) plus packets synthesised to take every path of each program.
    const files = readFileSync(join(CORPUS, 'index.tsv'), 'utf8').split('\n').slice(1)
      .map((l) => l.split('\t')).filter((c) => c[2] === 'EN10MB').map((c) => join(CORPUS, c[0]!));
    const corpus = loadPacketsOf(files).packets.flat();
    expect(corpus.length).toBeGreaterThan(5000);
    const exprs = [
      'host 192.168.1.1 and (tcp port 80 or udp port 53)', 'ip[2:2] > 576', 'vlan and ip', 'greater 200',
      'ip6 protochain 6', 'tcp[tcpflags] & (tcp-syn|tcp-ack) = tcp-syn', 'ether[0] & 1 = 1 or ip[0] & 0xf > 5',
    ];
    let compared = 0;
    for (const [n, expr] of exprs.entries()) {
      const ddd = tcpdump('-ddd', expr);
      const prog = parseDDD(ddd);
      const r = await bpfkit('cbpf', 'convert', '--to', 'js', file(`js${n}.ddd`, ddd));
      expect(r.code).toBe(0);
      // Evaluated with nothing in scope but the text itself.
      const plain = new Function(`${r.out}\nreturn cbpfFilter;`)() as (p: Uint8Array, w?: number) => number;
      const mod = await bpfkit('cbpf', 'convert', '--to', 'js', '--module', '--name', 'keep', file(`js${n}.ddd`, ddd));
      const modFile = file(`js${n}.mjs`, mod.out);
      const imported = ((await import(`${pathToFileURL(modFile).href}?v=${Date.now()}`)) as { keep: (p: Uint8Array, w?: number) => number }).keep;
      const synth = synthesize(prog, { maxPackets: 300 }).packets;
      const packets = [...corpus, ...synth];
      let kept = 0;
      for (const p of packets) {
        const want = interpret(prog, p.data, p.wireLength);
        if (want !== 0) kept++;
        if (plain(p.data, p.wireLength) !== want || imported(p.data, p.wireLength) !== want) {
          expect({ expr, packet: Buffer.from(p.data).toString('hex'), wire: p.wireLength, plain: plain(p.data, p.wireLength), imported: imported(p.data, p.wireLength) })
            .toEqual({ expr, packet: Buffer.from(p.data).toString('hex'), wire: p.wireLength, plain: want, imported: want });
        }
        compared++;
      }
      expect(kept).toBeGreaterThan(0); // the packets exercise both verdicts
      expect(kept).toBeLessThan(packets.length);
      expect(plain(packets[0]!.data)).toBe(interpret(prog, packets[0]!.data)); // wireLength defaults to the captured length
    }
    expect(compared).toBeGreaterThan(exprs.length * 5000);
    const bad = await bpfkit('cbpf', 'convert', '--to', 'js', '--name', 'not a name', '-e', '1,6 0 0 0');
    expect(bad).toEqual({ code: 1, out: '', err: "bpfkit: 'not a name' is not a JavaScript function name\n" });
  });

  it('prints the libpcap 1.11 style on request', async () => {
    const r = await bpfkit('cbpf', 'convert', '--style', 'libpcap-1.11', '-e', '3,135 0 0 0,7 0 0 0,22 0 0 0');
    expect(r.out).toBe('(000) txa\n(001) tax\n(002) ret\n');
    const old = await bpfkit('cbpf', 'convert', '-e', '3,135 0 0 0,7 0 0 0,22 0 0 0');
    expect(old.out).toBe('(000) txa      \n(001) tax      \n(002) ret      \n');
  });
});

describe('bpfkit cbpf run', () => {
  const prog = (): string => file('tcp80.ddd', tcpdump('-ddd', 'tcp port 80'));
  const syn80 = '000102030405 0a0b0c0d0e0f 0800 4500002c00004000400600000a0000010a000002 c0010050 00000000 00000000 6002ffff 00000000 020405b4';

  it('runs on one packet given in hex, with either engine', async () => {
    expect(await bpfkit('cbpf', 'run', prog(), '--packet', syn80)).toEqual({ code: 0, out: '262144\n', err: '' });
    expect((await bpfkit('cbpf', 'run', prog(), '--packet', syn80, '--engine', 'interpreter')).out).toBe('262144\n');
    expect((await bpfkit('cbpf', 'run', prog(), '--packet', syn80.replace('c0010050', 'c0010051'))).out).toBe('0\n');
    expect((await bpfkit('cbpf', 'run', '-e', '2,128 0 0 0,22 0 0 0', '-x', '00', '-l', '1514')).out).toBe('1514\n');
  });

  it('uses Linux metadata for ancillary loads', async () => {
    const ifidx = '2,32 0 0 4294963208,22 0 0 0';
    expect((await bpfkit('cbpf', 'run', '-e', ifidx, '-x', '00')).out).toBe('0\n');
    expect((await bpfkit('cbpf', 'run', '-e', ifidx, '-x', '00', '--meta', '{"ifindex":7}')).out).toBe('7\n');
    const bad = await bpfkit('cbpf', 'run', '-e', ifidx, '-x', '00', '--meta', '{"ifidx":7}');
    expect(bad.code).toBe(1);
    expect(bad.err).toMatch(/^bpfkit: --meta: unknown field 'ifidx' \(known: protocol, pktType, ifindex/);
  });

  it('refuses bad input with a message', async () => {
    expect((await bpfkit('cbpf', 'run', prog(), '-x', '0g')).err).toBe("bpfkit: --packet: 'g' is not a hexadecimal digit\n");
    expect((await bpfkit('cbpf', 'run', prog(), '-x', '000')).err).toBe('bpfkit: --packet: odd number of hex digits (3)\n');
    expect((await bpfkit('cbpf', 'run', prog())).err).toBe('bpfkit: give exactly one of --packet HEX and -r CAPTURE\n');
    const invalid = await bpfkit('cbpf', 'run', '-e', '1,40 0 0 12', '-x', '00');
    expect(invalid.err).toContain('[libpcap rule no-final-return]');
  });

  it('runs on every packet of a capture, like libpcap', async () => {
    const cap = resolve(CORPUS, 'various_gre.pcap');
    const r = await bpfkit('cbpf', 'run', file('vlan.ddd', tcpdump('-ddd', 'vlan and ip')), '-r', cap);
    const expected = libpcapVerdicts([cap], [{ expression: 'vlan and ip' }])[0]!;
    const n = libpcapPackets(cap).packets.length;
    expect(r.code).toBe(0);
    const lines = r.out.trim().split('\n');
    expect(lines.length).toBe(n + 1);
    const verdicts = lines.slice(0, n).map((l) => Number(l.split(': ')[1]));
    expect(verdicts.map((v) => v !== 0)).toEqual((expected.results[0] as number[]).map((v) => v !== 0));
    expect(verdicts.filter((v) => v !== 0).length).toBeGreaterThan(10);
    expect(lines[n]).toBe(`${verdicts.filter((v) => v !== 0).length} of ${n} packets accepted`);
    // The WebAssembly engine prints exactly the same, also with -c and --packet.
    for (const expr of ['vlan and ip', 'ip6 protochain 6', 'tcp[tcpflags] & tcp-syn != 0']) {
      const prog = file('wasm.ddd', tcpdump('-ddd', expr));
      expect(await bpfkit('cbpf', 'run', prog, '-r', cap, '--engine', 'wasm'), expr).toEqual(await bpfkit('cbpf', 'run', prog, '-r', cap, '--engine', 'interpreter'));
      expect(await bpfkit('cbpf', 'run', prog, '-r', cap, '--engine', 'wasm', '-c', '7', '-q')).toEqual(await bpfkit('cbpf', 'run', prog, '-r', cap, '-c', '7', '-q'));
    }
    const syn80 = '000102030405 0a0b0c0d0e0f 0800 4500002c00004000400600000a0000010a000002 c0010050 00000000 00000000 6002ffff 00000000 020405b4';
    expect((await bpfkit('cbpf', 'run', file('tcp80.ddd', tcpdump('-ddd', 'tcp port 80')), '--packet', syn80, '--engine', 'wasm')).out).toBe('262144\n');
    const meta = await bpfkit('cbpf', 'run', '-e', '2,32 0 0 4294963208,22 0 0 0', '-x', '00', '--meta', '{"ifindex":7}', '--engine', 'wasm');
    expect(meta).toEqual({ code: 1, out: '', err: 'bpfkit: --engine wasm has libpcap semantics only: it takes no --meta\n' });
  });
});

describe('bpfkit cbpf run on damaged captures', () => {
  it('gives the verdicts before the damage, then the error or a truncation warning', async () => {
    const whole = readFileSync(resolve(CORPUS, 'various_gre.pcap'));
    const prog = file('vlan.ddd', tcpdump('-ddd', 'vlan and ip'));
    const truncated = join(OUT, 'truncated.pcap');
    writeFileSync(truncated, whole.subarray(0, 3000));
    const t = await bpfkit('cbpf', 'run', prog, '-r', truncated);
    expect(t.code).toBe(0);
    expect(t.err).toMatch(/^bpfkit: warning: truncated dump file; .*\(at byte offset \d+\)\n$/);
    expect(t.out).toMatch(/^1: \d+\n/);
    expect(t.out).toMatch(/\d+ of \d+ packets accepted\n$/);
    const damaged = join(OUT, 'damaged.pcap');
    const copy = Buffer.from(whole);
    copy.writeUInt32LE(0x7fffffff, 24 + 16 + copy.readUInt32LE(24 + 8) + 8); // second record's caplen
    writeFileSync(damaged, copy);
    const d = await bpfkit('cbpf', 'run', prog, '-r', damaged);
    expect(d.code).toBe(1);
    expect(d.out).toMatch(/^1: \d+\n$/);
    expect(d.err).toMatch(/^bpfkit: .*damaged\.pcap: .*byte offset \d+/);
    expect(await bpfkit('cbpf', 'run', prog, '-r', damaged, '--engine', 'wasm')).toEqual(d);
    expect(await bpfkit('cbpf', 'run', prog, '-r', truncated, '--engine', 'wasm')).toEqual(t);
  });
});

describe('the built command', () => {
  const exe = resolve(REPO, 'dist/cli/main.js');
  it.skipIf(!existsSync(exe))('reads a program from standard input and exits non-zero on errors', () => {
    const ok = spawnSync(process.execPath, [exe, 'cbpf', 'convert', '--to', 'dd', '-'], { input: tcpdump('-d', 'udp'), encoding: 'utf8' });
    expect(ok.status).toBe(0);
    expect(ok.stdout).toBe(tcpdump('-dd', 'udp'));
    const bad = spawnSync(process.execPath, [exe, 'cbpf', 'validate', '-'], { input: '2\n6 0 0 0\n', encoding: 'utf8' });
    expect(bad.status).toBe(1);
    expect(bad.stderr).toBe('bpfkit: standard input (-ddd): line 2, column 1: the count says 2 instructions but there is 1\n  6 0 0 0\n  ^\n');
    const help = spawnSync(process.execPath, [exe, 'cbpf', 'run', '--help'], { encoding: 'utf8' });
    expect(help.status).toBe(0);
    expect(help.stdout).toContain('--meta <json>');
  });
});
