/**
 * `bpfkit run` through the built CLI: every kind of program file, inputs,
 * JSON output, and user mistakes reported as one line, never a stack trace.
 */
import { spawnSync } from 'node:child_process';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { encode } from '../../src/ebpf/insn.js';
import { assembleText } from '../../src/ebpf/asm.js';
import { BPF_CONFORMANCE, REPO, TMP } from '../support/paths.js';
import { compileFixture, HAVE_CLANG } from './fixtures.js';

const CLI = resolve(REPO, 'dist/cli/main.js');
const DIR = join(TMP, 'vm-cli');
mkdirSync(DIR, { recursive: true });

function bpfkit(...args: string[]): { code: number | null; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, [CLI, ...args], { encoding: 'utf8' });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

function file(name: string, content: string | Uint8Array): string {
  const p = join(DIR, name);
  writeFileSync(p, content);
  return p;
}

describe('bpfkit run', () => {
  it('runs assembly text, raw bytecode and bpf_conformance .data files', () => {
    const asm = file('add.s', 'r0 = r2\nr0 += 40\nexit\n');
    const text = bpfkit('run', asm, '--mem', '01 02');
    expect(text.code).toBe(0);
    expect(text.stdout).toMatch(/^retval {3}42 \(0x2a\)$/m);
    expect(text.stdout).toMatch(/^steps {4}3$/m);
    expect(text.stdout).toMatch(/data out \(2 bytes\)\n {2}0000 {2}01 02/);
    const bin = file('add.bin', encode(assembleText('r0 = 7\nexit').instructions));
    expect(bpfkit('run', bin).stdout).toMatch(/^retval {3}7 /m);
    const data = bpfkit('run', join(BPF_CONFORMANCE, 'tests/ldxh.data'));
    expect(data.code).toBe(0);
    expect(data.stdout).toMatch(/^r0 {7}0x0000000000002211$/m);
  });

  it('runs packet programs on --data with JSON output', () => {
    const pkt = new Uint8Array(60);
    pkt[12] = 0x08;
    pkt[23] = 17;
    const xdp = file('xdp.s', 'r2 = *(u32 *)(r1 + 0)\nr3 = *(u32 *)(r1 + 4)\nr4 = r2\nr4 += 24\nif r4 > r3 goto out\nr0 = *(u8 *)(r2 + 23)\nexit\nout: r0 = 0\nexit\n');
    const r = bpfkit('run', xdp, '--type', 'xdp', '--data', file('pkt.bin', pkt), '--json');
    expect(r.code).toBe(0);
    const out = JSON.parse(r.stdout) as { retval: number; dataOut: string; steps: number };
    expect(out.retval).toBe(17);
    expect(out.dataOut).toBe(Buffer.from(pkt).toString('hex'));
  });

  it.skipIf(!HAVE_CLANG)('runs a program of a clang-compiled object with its maps, and prints the maps', () => {
    const obj = compileFixture('helpers');
    const several = bpfkit('run', obj);
    expect(several.code).toBe(1);
    expect(several.stderr).toMatch(/several programs \(callbacks, strings, compare\): choose one with --program/);
    const pkt = Buffer.alloc(96).toString('hex');
    const r = bpfkit('run', obj, '--program', 'callbacks', '--mem', pkt, '--maps');
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/^retval {3}2 /m);
    expect(r.stdout).toMatch(/^map table: 5 entries$/m);
  });

  it.skipIf(!HAVE_CLANG)('lists the maps it can and says why it cannot list a queue or a bloom filter', () => {
    const obj = compileFixture('conformance');
    const r = bpfkit('run', obj, '--type', 'raw', '--mem', '0102', '--maps');
    expect(r.stderr).toBe('');
    expect(r.stdout).toMatch(/^retval {3}1010 /m);
    expect(r.stdout).toMatch(/^map bias: 1 entry\n {2}00000000: 0700000000000000$/m);
    expect(r.stdout).toMatch(/^map results: not listed \(map get next key: EINVAL: .*\(QUEUE\)\)$/m);
    expect(r.stdout).toMatch(/^map seen: not listed \(map get next key: EOPNOTSUPP: .*\(BLOOM_FILTER\)\)$/m);
    const json = JSON.parse(bpfkit('run', obj, '--type', 'raw', '--mem', '0102', '--maps', '--json').stdout) as { unlisted: Record<string, string> };
    expect(Object.keys(json.unlisted).sort()).toEqual(['results', 'seen']);
  });

  it('reports mistakes on one line without a stack trace', () => {
    const cases: Array<[string[], RegExp]> = [
      [['run', join(DIR, 'missing.s')], /^bpfkit: cannot read .*missing\.s: ENOENT$/],
      [['run', file('bad.s', 'r0 = \nexit\n')], /^bpfkit: .*bad\.s:1:/],
      [['run', file('oob.s', 'r0 = *(u64 *)(r1 + 0)\nexit\n'), '--mem', '0102'], /^bpfkit: prog: instruction 0 \(r0 = \*\(u64 \*\)\(r1 \+ 0\)\): read of 8 bytes at 0x[0-9a-f]+: runs past the end of memory/],
      [['run', file('loop.s', 'l: goto l\nexit\n'), '--budget', '1000'], /^bpfkit: prog: instruction 0 .*instruction budget of 1000 exhausted/],
      [['run', file('ok.s', 'r0 = 0\nexit\n'), '--type', 'nope'], /^bpfkit: unknown program type 'nope'/],
      [['run', file('ok2.s', 'r0 = 0\nexit\n'), '--mem', 'zz'], /^bpfkit: --mem: unexpected character 'z' at offset 0 in hex input/],
      [['run', file('ok3.s', 'r0 = 0\nexit\n'), '--type', 'xdp', '--mem', '00'], /^bpfkit: prog test run: EINVAL: XDP data must be/],
      [['run', file('ok4.s', 'r0 = 0\nexit\n'), '--repeat', '0'], /^bpfkit: --repeat must be a positive integer/],
    ];
    for (const [args, re] of cases) {
      const r = bpfkit(...args);
      expect(r.code, args.join(' ')).toBe(1);
      expect(r.stderr.split('\n')[0], args.join(' ')).toMatch(re);
      expect(r.stderr).not.toMatch(/\n\s+at /);
    }
  });
});

describe('bpfkit conformance-plugin', () => {
  it.skipIf(!HAVE_CLANG)('runs the first program of an ELF object given with --elf, raw or as hex', () => {
    const obj = readFileSync(compileFixture('conformance'));
    const mem = '01 02 03 fd';
    // seed 1000 + map value (0 + 7) + 1 + 2 + 3 + 253
    const raw = spawnSync(process.execPath, [CLI, 'conformance-plugin', mem, '--elf'], { input: obj, encoding: 'utf8' });
    expect(raw.stderr).toBe('');
    expect(raw.stdout).toBe((1000 + 7 + 1 + 2 + 3 + 253).toString(16) + '\n');
    const hex = [...obj].map((b) => b.toString(16).padStart(2, '0')).join(' ');
    const viaHex = spawnSync(process.execPath, [CLI, 'conformance-plugin', '', '--elf'], { input: hex, encoding: 'utf8' });
    expect(viaHex.stdout).toBe((1000 + 7).toString(16) + '\n');
  });

  it('refuses input that is not an ELF object with --elf, clearly', () => {
    const r = spawnSync(process.execPath, [CLI, 'conformance-plugin', '--elf'], { input: '95 00 00 00 00 00 00 00', encoding: 'utf8' });
    expect(r.status).toBe(1);
    expect(r.stderr).toMatch(/^bpfkit: /);
    expect(r.stderr).not.toMatch(/\n\s+at /);
  });
});
