/**
 * `bpfkit btf dump`: the raw format of /sys/kernel/btf/vmlinux is bpftool's
 * output line for line; the C format compiles; an ELF object's .BTF is read
 * from its section; mistakes give `bpfkit: ...` and exit 1, no stack trace.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { Btf, encodeBtf, parseBtf } from '../../src/btf/index.js';
import { REPO } from '../support/paths.js';
import { OUT, compileFixture } from './support.js';

const MAIN = join(REPO, 'src/cli/main.ts');
function bpfkit(...args: string[]) {
  return spawnSync(process.execPath, ['--import', 'tsx', MAIN, ...args], { encoding: 'utf8', cwd: REPO, maxBuffer: 1 << 28 });
}
const bpftool = (...args: string[]) => execFileSync('bpftool', args, { encoding: 'utf8', maxBuffer: 1 << 28 });

describe('bpfkit btf dump', () => {
  it('raw: /sys/kernel/btf/vmlinux is bpftool btf dump file, line for line', () => {
    const r = bpfkit('btf', 'dump', '/sys/kernel/btf/vmlinux');
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
    const want = bpftool('btf', 'dump', 'file', '/sys/kernel/btf/vmlinux').split('\n');
    const got = r.stdout.split('\n');
    expect(got.length).toBe(want.length);
    const bad = got.findIndex((l, i) => l !== want[i]);
    expect(bad, bad >= 0 ? `line ${bad + 1}: ${want[bad]} / ${got[bad]}` : '').toBe(-1);
  });

  it('raw and c for an ELF object', () => {
    const obj = compileFixture('btf_kinds');
    expect(bpfkit('btf', 'dump', obj).stdout).toBe(bpftool('btf', 'dump', 'file', obj));
    const c = bpfkit('btf', 'dump', obj, '--format', 'c');
    expect(c.status).toBe(0);
    const h = join(OUT, 'cli_kinds.h');
    writeFileSync(h, c.stdout);
    execFileSync('clang', ['-fsyntax-only', '-target', 'bpf', '-Werror', '-x', 'c', h]);
    expect(c.stdout).toContain('struct packet_meta {');
  });

  it('split BTF with --base, as bpftool -B', () => {
    const base = parseBtf(readFileSync('/sys/kernel/btf/vmlinux'));
    const first = base.length;
    const split = Btf.fromTypes(
      [
        { id: first, kind: 'ptr', name: '', type: base.get('task_struct', 'struct').id },
        { id: first + 1, kind: 'typedef', name: 'task_ptr_t', type: first },
      ],
      { base },
    );
    const file = join(OUT, 'cli_split.btf');
    writeFileSync(file, encodeBtf(split));
    const r = bpfkit('btf', 'dump', file, '--base', '/sys/kernel/btf/vmlinux');
    expect(r.status, r.stderr).toBe(0);
    expect(r.stdout).toBe(bpftool('btf', 'dump', '-B', '/sys/kernel/btf/vmlinux', 'file', file));
    expect(r.stdout).toContain(`[${first + 1}] TYPEDEF 'task_ptr_t' type_id=${first}`);
  });

  it('mistakes: exit 1 with one line, no stack trace', () => {
    const text = join(OUT, 'not-btf.txt');
    writeFileSync(text, 'this is a text file, long enough for a BTF header but not BTF at all\n');
    for (const [args, msg] of [
      [['btf', 'dump', '/nonexistent/file'], /^bpfkit: cannot read \/nonexistent\/file: ENOENT\n$/],
      [['btf', 'dump', text], /^bpfkit: .*not-btf\.txt, offset 0: bad magic 0x7468/],
      [['btf', 'dump', '/sys/kernel/btf/vmlinux', '--format', 'json'], /^bpfkit: --format must be raw or c, not 'json'\n$/],
      [['btf', 'dump', compileFixture('btf_kinds'), '--base', text], /^bpfkit: .*not-btf\.txt, offset 0: bad magic/],
    ] as const) {
      const r = bpfkit(...args);
      expect(r.status, args.join(' ')).toBe(1);
      expect(r.stderr).toMatch(msg);
      expect(r.stderr).not.toMatch(/\n\s+at /);
    }
    const noBtf = join(OUT, 'nobtf.o');
    execFileSync('clang', ['-O2', '-target', 'bpf', '-c', '-x', 'c', '-', '-o', noBtf], { input: 'int x;\n' });
    const r = bpfkit('btf', 'dump', noBtf);
    expect(r.status).toBe(1);
    expect(r.stderr).toMatch(/has no \.BTF section \(compile with -g\)/);
  });
});
