/**
 * The ISA layer against ../shared/conformance/bpf_conformance: every test
 * program assembles to exactly the bytes the official assembler produced
 * (assembled.jsonl), passes the structural validator, and needs no newer CPU
 * version than index.tsv says; the negative files are refused.
 */
import { spawn } from 'node:child_process';
import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { AsmError, EbpfValidationError, cpuVersionOf, dataFileProgram, decode, encode, parseDataFile, validate, validationErrors } from '../../src/ebpf/index.js';
import { BPF_CONFORMANCE, REPO } from '../support/paths.js';

interface Assembled {
  name: string;
  program: string;
  mem: string;
  result: string;
  min_version: string;
}

const assembled: Assembled[] = readFileSync(join(BPF_CONFORMANCE, 'assembled.jsonl'), 'utf8')
  .trim()
  .split('\n')
  .map((l) => JSON.parse(l) as Assembled);

const load = (dir: string, name: string) => {
  const text = readFileSync(join(BPF_CONFORMANCE, dir, name), 'utf8');
  return dataFileProgram(parseDataFile(text, name), name);
};

describe('bpf_conformance tests/', () => {
  it('has the 313 files of the README', () => {
    expect(assembled).toHaveLength(313);
    expect(readdirSync(join(BPF_CONFORMANCE, 'tests')).filter((f) => f.endsWith('.data'))).toHaveLength(313);
  });

  it('assembles every program to the official assembler bytes, byte for byte', () => {
    const mismatches: string[] = [];
    for (const a of assembled) {
      const hex = Buffer.from(encode(load('tests', a.name))).toString('hex');
      if (hex !== a.program) mismatches.push(`${a.name}: ${hex} != ${a.program}`);
    }
    expect(mismatches).toEqual([]);
  });

  it('reads the memory and result sections', () => {
    for (const a of assembled) {
      const df = parseDataFile(readFileSync(join(BPF_CONFORMANCE, 'tests', a.name), 'utf8'), a.name);
      expect(Buffer.from(df.mem ?? new Uint8Array()).toString('hex'), a.name).toBe(a.mem);
      expect('0x' + df.result!.toString(16), a.name).toBe('0x' + BigInt(a.result).toString(16));
    }
  });

  it('validates every program (v4, callx enabled), and each needs no newer CPU than index.tsv', () => {
    const problems: string[] = [];
    for (const a of assembled) {
      const insns = decode(Buffer.from(a.program, 'hex'));
      for (const e of validationErrors(insns)) problems.push(`${a.name}: ${e.message}`);
      let v = 1;
      for (let i = 0; i < insns.length; i++) {
        v = Math.max(v, cpuVersionOf(insns[i]!));
        if (insns[i]!.code === 0x18) i++;
      }
      expect(`v${v}`, a.name).toBe(a.min_version);
    }
    expect(problems).toEqual([]);
  });
});

describe('bpf_conformance negative/', () => {
  const files = readdirSync(join(BPF_CONFORMANCE, 'negative')).filter((f) => f.endsWith('.data'));
  const unused = files.filter((f) => f.startsWith('unused-'));
  const asmCases = files.filter((f) => !f.startsWith('unused-'));

  it('has 45 unused-* raw programs and 15 other cases', () => {
    expect(unused).toHaveLength(45);
    expect(asmCases).toHaveLength(15);
  });

  it('refuses all 45 unused-* programs in the validator, naming instruction 0 and the field', () => {
    for (const f of unused) {
      const insns = load('negative', f);
      let err: unknown;
      try {
        validate(insns);
      } catch (e) {
        err = e;
      }
      expect(err, f).toBeInstanceOf(EbpfValidationError);
      const v = err as EbpfValidationError;
      expect(v.index, f).toBe(0);
      // The file name says which field is misused: unused-add_imm-offset -> off.
      const field = f.replace(/\.data$/, '').split('-').pop()!;
      const expected = { offset: /\boff(set)?\b/, src: /\bsrc\b/, imm: /\bimm\b/, dst: /\bdst\b/ }[field]!;
      expect(v.message, f).toMatch(expected);
    }
  });

  // 13 of the 15 are assembler (or file format) errors; the other two are
  // well-formed programs whose expectation is wrong, which only running them
  // shows (error.data expects an error, incorrect_return_value_high_bits.data
  // a wrong r0): the runner in test/vm covers those.
  const runtimeCases = ['error.data', 'incorrect_return_value_high_bits.data'];
  const expectedErrors: Record<string, RegExp> = {
    'empty.data': /no program/,
    'empty_instructions.data': /no program/,
    'invalid_imm32_dec_range.data': /immediate 2147483648 is out of range/,
    'invalid_imm32_hex_range.data': /immediate 0x100000000 is out of range/,
    'invalid_label.data': /unknown label 'NOT_A_LABEL'/,
    'invalid_lock.data': /invalid number of operands for lock/i,
    'invalid_lock2.data': /invalid number of operands for lock/i,
    'invalid_mnemonic.data': /unknown mnemonic 'ldxq'/,
    'invalid_offset.data': /expected a memory operand/,
    'invalid_offset_range.data': /offset 0x10000 is out of range/,
    'invalid_operand_count.data': /invalid number of operands for lddw/,
    'invalid_register.data': /invalid register %r50/i,
    'invalid_unknown_directive.data': /unknown section '-- Unknown directive'/,
  };

  it('gives an AsmError with line and column for the 13 assembler cases', () => {
    expect(Object.keys(expectedErrors).length + runtimeCases.length).toBe(asmCases.length);
    for (const f of asmCases.filter((x) => !runtimeCases.includes(x))) {
      let err: unknown;
      try {
        load('negative', f);
      } catch (e) {
        err = e;
      }
      expect(err, f).toBeInstanceOf(AsmError);
      expect((err as AsmError).message, f).toMatch(expectedErrors[f]!);
      expect((err as AsmError).line, f).toBeGreaterThan(0);
      expect((err as AsmError).column, f).toBeGreaterThan(0);
    }
  });

  it('points at the offending column', () => {
    const at = (f: string) => {
      try {
        load('negative', f);
      } catch (e) {
        return [(e as AsmError).line, (e as AsmError).column];
      }
      return undefined;
    };
    // "or %r0, %r50" on line 4: the register starts at column 9.
    expect(at('invalid_register.data')).toEqual([4, 9]);
    // "ldxb %r0, [%r1+0x10000]" on line 5: the signed offset starts at column 15.
    expect(at('invalid_offset_range.data')).toEqual([5, 15]);
  });

  /**
   * A runner step as bpf_conformance's: assemble the file with our assembler,
   * run it through `bpfkit conformance-plugin` (program as hex on stdin,
   * memory as hex in argv[1]), and judge: pass when an expected error came,
   * or r0 equals the expected result.
   */
  async function judge(dir: string, name: string): Promise<{ pass: boolean; why: string }> {
    const df = parseDataFile(readFileSync(join(BPF_CONFORMANCE, dir, name), 'utf8'), name);
    const hex = (b: Uint8Array) => Array.from(b, (x) => x.toString(16).padStart(2, '0') + '  ').join('');
    const program = encode(dataFileProgram(df, name));
    const args = ['--import', 'tsx', join(REPO, 'src/cli/main.ts'), 'conformance-plugin', ...(df.mem?.length ? [hex(df.mem)] : [])];
    const r = await new Promise<{ code: number | null; out: string; err: string }>((done, fail) => {
      const child = spawn(process.execPath, args, { cwd: REPO, stdio: ['pipe', 'pipe', 'pipe'] });
      let out = '';
      let err = '';
      child.stdout.on('data', (d: Buffer) => (out += d.toString()));
      child.stderr.on('data', (d: Buffer) => (err += d.toString()));
      child.on('error', fail);
      child.on('close', (code) => done({ code, out, err }));
      child.stdin.end(hex(program) + '\n');
    });
    if (df.error !== undefined) {
      return r.code !== 0 ? { pass: true, why: `error as expected: ${r.err.trim()}` } : { pass: false, why: `expected an error "${df.error}", got r0 = ${r.out.trim()}` };
    }
    if (r.code !== 0) return { pass: false, why: `plugin failed: ${r.err.trim()}` };
    const r0 = BigInt.asUintN(64, BigInt('0x' + r.out.trim().replace(/^0x/, '')));
    return r0 === df.result ? { pass: true, why: `r0 = ${r0}` } : { pass: false, why: `r0 = 0x${r0.toString(16)}, expected 0x${df.result!.toString(16)}` };
  }

  it('fails the two runtime cases when run through bpfkit conformance-plugin (and passes real tests the same way)', async () => {
    const verdicts = await Promise.all([...runtimeCases.map((f) => judge('negative', f)), judge('tests', 'ldxdw.data'), judge('tests', 'lock_cmpxchg.data')]);
    expect(verdicts.map((v) => v.pass), JSON.stringify(verdicts)).toEqual([false, false, true, true]);
    expect(verdicts[0]!.why).toMatch(/expected an error "Invalid", got r0/);
    expect(verdicts[1]!.why).toBe('r0 = 0x8877665544332211, expected 0x8977665544332211');
  });
});
