/**
 * `bpfkit asm` and `bpfkit disasm`: in process for most cases, and once
 * through the real command line for registration, exit codes and the error
 * display. The C array output is compiled with gcc against linux/bpf.h and
 * must hold the same bytes.
 */
import { spawnSync } from 'node:child_process';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Command } from 'commander';
import { describe, expect, it } from 'vitest';
import { register as registerAsm } from '../../src/cli/asm.js';
import { register as registerDisasm } from '../../src/cli/disasm.js';
import { BPF_CONFORMANCE, REPO, TMP } from '../support/paths.js';

const OUT = join(TMP, 'ebpf-cli');
mkdirSync(OUT, { recursive: true });

/** Run `bpfkit <args>` in process with only the asm and disasm commands; returns stdout. */
async function cli(args: string[]): Promise<string> {
  const program = new Command().exitOverride();
  registerAsm(program);
  registerDisasm(program);
  const chunks: string[] = [];
  const write = process.stdout.write;
  process.stdout.write = ((c: string | Uint8Array) => {
    chunks.push(typeof c === 'string' ? c : Buffer.from(c).toString('latin1'));
    return true;
  }) as typeof process.stdout.write;
  try {
    await program.parseAsync(args, { from: 'user' });
  } finally {
    process.stdout.write = write;
  }
  return chunks.join('');
}

const file = (name: string, text: string): string => {
  const p = join(OUT, name);
  writeFileSync(p, text);
  return p;
};

const assembled = new Map(
  readFileSync(join(BPF_CONFORMANCE, 'assembled.jsonl'), 'utf8')
    .trim()
    .split('\n')
    .map((l) => JSON.parse(l) as { name: string; program: string })
    .map((a) => [a.name, a.program]),
);

describe('bpfkit asm', () => {
  it('assembles a bpf_conformance .data file to the official bytes', async () => {
    for (const name of ['lock_cmpxchg.data', 'call_local.data', 'prime.data', 'swap64.data']) {
      const out = await cli(['asm', join(BPF_CONFORMANCE, 'tests', name)]);
      expect(out.replace(/\n/g, ''), name).toBe(assembled.get(name));
      expect(out.split('\n').every((l) => l === '' || /^[0-9a-f]{16}$/.test(l))).toBe(true);
    }
  });

  it('writes raw bytes with -f bin -o, big-endian on request', async () => {
    const src = file('p.s', 'r0 = 0x1122334455667788 ll\nr1 = *(u16 *)(r10 - 2)\nexit\n');
    await cli(['asm', src, '-f', 'bin', '-o', join(OUT, 'p.bin')]);
    expect(Buffer.from(readFileSync(join(OUT, 'p.bin'))).toString('hex')).toBe(
      '18000000887766550000000044332211' + '69a1feff00000000' + '9500000000000000',
    );
    await cli(['asm', src, '-f', 'bin', '--big-endian', '-o', join(OUT, 'p.be.bin')]);
    expect(Buffer.from(readFileSync(join(OUT, 'p.be.bin'))).toString('hex')).toBe(
      '18000000556677880000000011223344' + '691afffe00000000' + '9500000000000000',
    );
  });

  it('prints a C array that gcc compiles, against linux/bpf.h, to the same bytes', async () => {
    const name = 'lock_cmpxchg.data';
    const c = await cli(['asm', join(BPF_CONFORMANCE, 'tests', name), '-f', 'c']);
    expect(c).toMatch(/^struct bpf_insn prog\[\] = \{\n\t\{ \.code = 0x18, .*\/\* r0 = 1311768467463790320 ll \*\/\n/);
    const harness = `#include <stdio.h>
#include <linux/bpf.h>
${c}
int main(void) {
  const unsigned char *p = (const unsigned char *)prog;
  for (unsigned i = 0; i < sizeof prog; i++) printf("%02x", p[i]);
  return 0;
}
`;
    const src = file('harness.c', harness);
    const exe = join(OUT, 'harness');
    const cc = spawnSync('gcc', ['-Wall', '-Werror', '-o', exe, src], { encoding: 'utf8' });
    expect(cc.stderr).toBe('');
    const run = spawnSync(exe, { encoding: 'utf8' });
    expect(run.stdout).toBe(assembled.get(name));
  });

  it('refuses structurally invalid programs unless --no-validate', async () => {
    const src = file('noexit.s', 'r0 = 1\n');
    await expect(cli(['asm', src])).rejects.toThrow(/must end with exit/);
    expect(await cli(['asm', src, '--no-validate'])).toBe('b700000001000000\n');
  });
});

describe('bpfkit disasm', () => {
  it('reads hex in its common spellings and binary, and round-trips through asm', async () => {
    const program = assembled.get('call_local.data')!;
    const spaced = file('p.hex', program.replace(/(..)/g, '$1 ').replace(/((?:.. ){8})/g, '$1\n'));
    const bin = join(OUT, 'p2.bin');
    writeFileSync(bin, Buffer.from(program, 'hex'));
    const cstyle = file('p.c.txt', program.replace(/(..)/g, '0x$1, '));
    for (const syntax of ['llvm', 'ubpf']) {
      const a = await cli(['disasm', spaced, '--syntax', syntax]);
      expect(await cli(['disasm', bin, '--syntax', syntax])).toBe(a);
      expect(await cli(['disasm', cstyle, '--syntax', syntax])).toBe(a);
      const back = await cli(['asm', file(`back.${syntax}.s`, a)]);
      expect(back.replace(/\n/g, '')).toBe(program);
    }
  });

  it('prints the objdump listing and helper names', async () => {
    const p = file('h.hex', '850000000100000095000000000000009500000000000000');
    expect(await cli(['disasm', p, '--objdump'])).toBe('       0:\t85 00 00 00 01 00 00 00\tcall 1\n       1:\t95 00 00 00 00 00 00 00\texit\n       2:\t95 00 00 00 00 00 00 00\texit\n');
    expect(await cli(['disasm', p])).toBe('\tcall 1 # bpf_map_lookup_elem\n\texit\n\texit\n');
  });

  it('shows invalid slots as .insn with the reason, and --check refuses them', async () => {
    const p = file('bad.hex', '0700010001000000 9500000000000000');
    expect(await cli(['disasm', p])).toBe('\t.insn 0x07, 0x0, 0x0, 1, 1 # not an instruction: reserved field off is 1, must be 0\n\texit\n');
    await expect(cli(['disasm', p, '--check'])).rejects.toThrow(/instruction 0: reserved field off/);
    await expect(cli(['disasm', file('odd.hex', 'b7000000')])).rejects.toThrow(/not a multiple of 8/);
    await expect(cli(['disasm', file('junk.hex', 'b7 0z')])).rejects.toThrow();
    await expect(cli(['disasm', file('obj.o', '\x7fELF\x02\x01\x01')])).rejects.toThrow(/is an ELF object: bpfkit objdump/);
  });
});

describe('the bpfkit command line', () => {
  const bpfkit = (args: string[], input?: string) =>
    spawnSync(process.execPath, ['--import', 'tsx', join(REPO, 'src/cli/main.ts'), ...args], { encoding: 'utf8', input, cwd: REPO });

  it('reports bad assembly with line, column and a caret, exit 1, no stack trace', () => {
    const r = bpfkit(['asm'], 'mov %r0, 1\n  jeq %r0, 1, nowhere\nexit\n');
    expect(r.status).toBe(1);
    expect(r.stderr).toBe("bpfkit: <stdin>:2:15: unknown label 'nowhere'\n    jeq %r0, 1, nowhere\n                ^\n");
    expect(r.stdout).toBe('');
  });

  it('pipes asm into disasm', () => {
    const hex = bpfkit(['asm', '--syntax', 'llvm'], 'r0 = 5\nr0 s/= 2\nexit\n');
    expect(hex.status).toBe(0);
    const text = bpfkit(['disasm'], hex.stdout);
    expect(text.stdout).toBe('\tr0 = 5\n\tr0 s/= 2\n\texit\n');
  });
});
