/**
 * Line info and func info, with the kernel as the oracle: each fixture is
 * loaded by bpftool into a private bpffs, and `bpftool prog dump xlated
 * linum` shows the source lines the kernel attached to the program. Our
 * LineTable must hold the same records in the same order, and print them in
 * bpftool's linum form.
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { LineTable, btfFromElf, formatLineInfo, formatSourceLocation, lineTables, type LineInfo } from '../../src/btf/index.js';
import { IS_ROOT } from '../support/paths.js';
import { compileFixture } from './support.js';

interface XlatedInsn {
  proto?: string;
  src?: string;
  file?: string;
  line_num?: number;
  line_col?: number;
  disasm: string;
}

describe.skipIf(!IS_ROOT)('line info as the kernel keeps it (bpftool prog dump xlated linum)', () => {
  let root = '';
  beforeAll(() => {
    root = mkdtempSync(join(tmpdir(), 'bpfkit-btf-bpffs-'));
    execFileSync('mount', ['-t', 'bpf', 'bpf', root]);
  });
  afterAll(() => {
    if (!root) return;
    try {
      execFileSync('umount', [root]);
    } finally {
      rmSync(root, { recursive: true, force: true });
    }
  });

  const load = (name: string): ((prog: string) => { json: XlatedInsn[]; text: string }) => {
    const obj = compileFixture(name);
    const dir = join(root, name);
    execFileSync('bpftool', ['prog', 'loadall', obj, dir]);
    return (prog: string) => ({
      json: JSON.parse(execFileSync('bpftool', ['-j', 'prog', 'dump', 'xlated', 'pinned', join(dir, prog), 'linum'], { encoding: 'utf8' })),
      text: execFileSync('bpftool', ['prog', 'dump', 'xlated', 'pinned', join(dir, prog), 'linum'], { encoding: 'utf8' }),
    });
  };

  const kernelLines = (json: XlatedInsn[]) =>
    json.filter((i) => i.file !== undefined).map((i) => ({ src: i.src ?? '', file: i.file!, line: i.line_num ?? 0, col: i.line_col ?? 0 }));
  const ours = (recs: readonly LineInfo[]) => recs.map((r) => ({ src: r.line.trimStart(), file: r.fileName, line: r.lineNum, col: r.column }));

  it('core_task: one program, every record in order', () => {
    const dump = load('core_task')('read_task');
    const { ext } = btfFromElf(readFileSync(compileFixture('core_task')));
    const table = lineTables(ext!).get('tracepoint/syscalls/sys_enter_getpid')!;
    expect(table.records.length).toBeGreaterThan(10);
    expect(ours(table.records)).toEqual(kernelLines(dump.json));
    // and printed as bpftool prints them
    const printed = dump.text.split('\n').filter((l) => l.startsWith('; ')).map((l) => l.trimEnd());
    expect(table.records.map((r) => formatLineInfo(r, 'linum').trimEnd())).toEqual(printed);
  });

  it('btf_kinds: a program and its bpf-to-bpf callee from .text (func_info names both)', () => {
    const dump = load('btf_kinds')('kinds_xdp');
    const { btf, ext } = btfFromElf(readFileSync(compileFixture('btf_kinds')));
    const tables = lineTables(ext!);
    const expected = [...tables.get('xdp')!.records, ...tables.get('.text')!.records];
    expect(ours(expected)).toEqual(kernelLines(dump.json));
    const funcs = ext!.funcInfo.flatMap((s) => s.records.map((r) => btf.type(r.typeId).name));
    const protos = dump.json.filter((i) => i.proto).map((i) => /(\w+)\(/.exec(i.proto!)![1]);
    expect(funcs.sort()).toEqual(protos.sort());
  });
});

describe('LineTable', () => {
  const rec = (slot: number, line: number): LineInfo => ({
    insnOff: slot * 8,
    fileNameOff: 1,
    lineOff: 2,
    fileName: '/src/prog.bpf.c',
    line: `\tline ${line};`,
    lineNum: line,
    column: 3,
  });
  const table = new LineTable([rec(4, 20), rec(0, 10), rec(9, 30)]);

  it('finds the record in effect at any instruction', () => {
    expect(table.at(0)?.lineNum).toBe(10);
    expect(table.at(3)?.lineNum).toBe(10);
    expect(table.at(4)?.lineNum).toBe(20);
    expect(table.at(8)?.lineNum).toBe(20);
    expect(table.at(100)?.lineNum).toBe(30);
    expect(new LineTable([rec(2, 5)]).at(1)).toBeUndefined();
    expect(table.startingAt(4).map((r) => r.lineNum)).toEqual([20]);
    expect(table.startingAt(5)).toEqual([]);
  });

  it('slices per program and formats locations', () => {
    const s = table.slice(4, 10);
    expect(s.records.map((r) => [r.insnOff / 8, r.lineNum])).toEqual([
      [0, 20],
      [5, 30],
    ]);
    expect(formatSourceLocation(rec(0, 10))).toBe('prog.bpf.c:10:3');
    expect(formatLineInfo(rec(0, 10))).toBe('; line 10; @ prog.bpf.c:10');
  });

  it('covers every instruction of a real program from its first record on', () => {
    const obj = readFileSync(compileFixture('core_fields'));
    const { ext } = btfFromElf(obj);
    for (const [section, t] of lineTables(ext!)) {
      expect(t.records[0]!.insnOff, section).toBe(0);
      const last = t.records[t.records.length - 1]!.insnOff / 8;
      for (let i = 0; i <= last + 3; i++) expect(t.at(i), `${section} insn ${i}`).toBeDefined();
    }
  });
});
