/**
 * bpf_conformance through `bpfkit conformance-plugin`, following the plugin
 * protocol of ../shared/conformance/bpf_conformance/README.md exactly: the
 * plugin is started as `PLUGIN [MEM]` (MEM only when the test has memory),
 * the program goes to stdin as hex bytes (two digits and two spaces each)
 * and a newline, stdin is closed, and r0 is read from stdout in hex and
 * compared as a u64; a non-zero exit is a failure. Programs are the official
 * assembler's bytes (assembled.jsonl), v4 instructions and every group
 * (callx included) enabled. Runs against the built CLI (npm test builds it).
 */
import { spawn } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { BPF_CONFORMANCE, REPO } from '../support/paths.js';

interface Case {
  name: string;
  program: string;
  mem: string;
  result: string;
}

const CLI = resolve(REPO, 'dist/cli/main.js');
const cases: Case[] = readFileSync(resolve(BPF_CONFORMANCE, 'assembled.jsonl'), 'utf8')
  .trim()
  .split('\n')
  .map((l) => JSON.parse(l) as Case);

/** The runner's text form of bytes: each byte as two hex digits followed by two spaces. */
const encode = (hex: string): string => (hex.match(/../g) ?? []).map((b) => `${b}  `).join('');

function runPlugin(c: Case): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((done, fail) => {
    const args = [CLI, 'conformance-plugin', ...(c.mem ? [encode(c.mem)] : [])];
    const child = spawn(process.execPath, args, { stdio: ['pipe', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.on('error', fail);
    child.on('close', (code) => done({ code, stdout, stderr }));
    child.stdin.end(encode(c.program) + '\n');
  });
}

/** Run every case through the plugin, `concurrency` at a time; the failures with their reason. */
async function runAll(concurrency: number): Promise<Map<string, string>> {
  const failures = new Map<string, string>();
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < cases.length) {
      const c = cases[next++]!;
      const r = await runPlugin(c);
      const out = r.stdout.split('\n').join('').trim();
      if (r.code !== 0) {
        failures.set(c.name, `exit ${r.code}: ${r.stderr.trim()}`);
      } else if (!/^(0x)?[0-9a-fA-F]+$/.test(out)) {
        failures.set(c.name, `invalid output '${out}'`);
      } else if (BigInt.asUintN(64, BigInt('0x' + out.replace(/^0x/, ''))) !== BigInt.asUintN(64, BigInt(c.result))) {
        failures.set(c.name, `returned 0x${out}, expected ${c.result}`);
      }
    }
  };
  await Promise.all(Array.from({ length: concurrency }, worker));
  return failures;
}

describe('bpf_conformance through bpfkit conformance-plugin', () => {
  it('has the built CLI', () => {
    expect(existsSync(CLI), `${CLI} is missing: run npm run build`).toBe(true);
  });

  it('passes at least 312 of the 313 tests (uBPF scores 312)', async () => {
    expect(cases).toHaveLength(313);
    const failures = await runAll(2);
    const passed = cases.length - failures.size;
    console.log(`bpf_conformance: ${passed}/${cases.length} passed`);
    for (const [name, why] of failures) console.log(`  FAIL ${name}: ${why}`);
    expect(passed).toBeGreaterThanOrEqual(312);
  }, 600_000);

  it('reports errors on stderr with a non-zero exit', async () => {
    // A load past the end of the test memory: a typed error naming the instruction, address and region.
    const r = await runPlugin({ name: 'oob', program: '6110000000000000' + '9500000000000000', mem: '010203', result: '0' });
    expect(r.code).not.toBe(0);
    expect(r.stdout).toBe('');
    expect(r.stderr).toMatch(/instruction 0 .*read of 4 bytes at 0x[0-9a-f]+: runs past the end of memory/);
    const bad = await runPlugin({ name: 'odd', program: '61100000', mem: '', result: '0' });
    expect(bad.code).not.toBe(0);
    expect(bad.stderr).toMatch(/not a multiple of 8/);
  });
});
