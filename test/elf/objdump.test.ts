/**
 * `bpfkit objdump`: the report on a fixture, checked against the fixture's
 * source (line_info text), llvm-objdump (instructions of a program that needs
 * no relocation) and the loader's own spec; and errors for bad files.
 */
import { execFileSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { compileFixture, FIXTURES, HAVE_CLANG, OUT, runCli as run } from './support.js';

afterEach(() => vi.restoreAllMocks());

describe.skipIf(!HAVE_CLANG)('bpfkit objdump', () => {
  it('lists programs, maps, globals, BTF and source-annotated disassembly', async () => {
    const obj = compileFixture('net');
    const { code, out } = await run(['objdump', obj]);
    expect(code).toBe(0);
    expect(out).toMatch(/xdp_frags_pass {2}section xdp\.frags {2}type xdp {2}attach xdp {2}flags xdp_has_frags {2}2 insns/);
    expect(out).toMatch(/outer {2}type array_of_maps {2}key 4 {2}value 4 {2}max_entries 3\n {6}inner: type array/);
    expect(out).toContain('[01000000] = program tail_target');
    expect(out).toContain('.data+8  greeting  (16 bytes)  = "hello"');
    expect(out).toContain('.rodata+0  min_len  (4 bytes)  = 14');
    expect(out).toMatch(/pinned_counter .* pinned by name/);
    // Source lines come from BTF line_info: each is a line of the fixture.
    const src = readFileSync(join(FIXTURES, 'net.bpf.c'), 'utf8').split('\n');
    const annotated = [...out.matchAll(/^; (.*) {2}\[net\.bpf\.c:(\d+)\]$/gm)];
    expect(annotated.length).toBeGreaterThan(50);
    for (const m of annotated) expect(src[Number(m[2]) - 1]!.trim(), m[0]).toBe(m[1]);
    // A program with nothing to relocate prints as llvm-objdump prints it.
    const ours = out.split('Disassembly of xdp_frags_pass')[1]!.split('Disassembly of')[0]!.split('\n').filter((l) => /^\s+\d+:\t/.test(l)).map((l) => l.split('\t')[1]);
    const theirs = execFileSync('llvm-objdump', ['-d', '--no-show-raw-insn', '--section=xdp.frags', obj], { encoding: 'utf8' })
      .split('\n')
      .filter((l) => /^\s+\d+:\t/.test(l))
      .map((l) => l.split('\t')[1]!.trim());
    expect(ours).toEqual(theirs);
    // Map references are named.
    expect(out).toMatch(/ld_pseudo\tr1, 1, 0 {2}# map events/);
  });

  it('marks poisoned CO-RE instructions and prints warnings', async () => {
    const { code, out } = await run(['objdump', compileFixture('core'), '--no-sections', '--btf', 'none']);
    expect(code).toBe(0);
    expect(out).toMatch(/^warning: program 'read_task': CO-RE relocation #\d+ .*bpfkit_no_such_field/m);
    expect(out.match(/# poisoned: a CO-RE relocation/g)?.length).toBe(1);
    expect(out).toMatch(/read_task {2}section tp\/syscalls\/sys_enter_getpid {2}type tracepoint {2}target syscalls\/sys_enter_getpid/);
  });

  it('--btf raw prints the object BTF like bpftool', async () => {
    const obj = compileFixture('legacy');
    const { out } = await run(['objdump', obj, '--btf', 'raw', '--no-disassemble', '--no-sections']);
    expect(out).toMatch(/\[\d+\] FUNC 'count_lengths' type_id=\d+ linkage=global/);
  });

  it('fails cleanly on bad input', async () => {
    const missing = await run(['objdump', join(OUT, 'missing.o')]);
    expect(missing.code).toBe(1);
    expect(missing.err).toMatch(/^bpfkit: cannot read .*ENOENT\n$/);
    const trunc = join(OUT, 'truncated.o');
    writeFileSync(trunc, readFileSync(compileFixture('net')).subarray(0, 300));
    const t = await run(['objdump', trunc]);
    expect(t.code).toBe(1);
    expect(t.err).toMatch(/^bpfkit: offset \d+: section header/);
    expect(t.err).not.toMatch(/at .*\.ts:/);
    const odd = await run(['objdump', compileFixture('odd'), '--strict']);
    expect(odd.code).toBe(1);
    expect(odd.err).toMatch(/section not_a_libbpf_section/);
  });
});
