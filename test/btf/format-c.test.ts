/**
 * BTF as C. The reference is the C compiler itself and bpftool:
 *  - the vmlinux header we print compiles with clang (-Werror), and a CO-RE
 *    program including it compiles and loads its relocations like one built
 *    on bpftool's vmlinux.h;
 *  - every struct/union keeps its BTF layout: sizeof and offsetof of every
 *    named member are asserted at compile time (x86_64, the kernel's ABI),
 *    and structs with bitfields are compiled with -g and their BTF read back;
 *  - the definitions we print are bpftool's, character for character, except
 *    one-byte enums, which we size with mode(byte) (bpftool 7.1 does not).
 */
import { execFileSync } from 'node:child_process';
import { readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { CPrinter, btfFromElf, declarationToC, definitionToC, parseBtf, typeToC, type Btf, type BtfType } from '../../src/btf/index.js';
import { FIXTURES, OUT, compileFixture, hasTool } from './support.js';

const VMLINUX = '/sys/kernel/btf/vmlinux';
const kernel = parseBtf(readFileSync(VMLINUX));
const printer = new CPrinter(kernel);
const header = printer.dump();
const HEADER = join(OUT, 'vmlinux.bpfkit.h');
writeFileSync(HEADER, header);

function clang(args: string[]): string {
  try {
    return execFileSync('clang', args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'], maxBuffer: 1 << 26 });
  } catch (e) {
    throw new Error(`clang ${args.join(' ')} failed:\n${String((e as { stderr?: string }).stderr).slice(0, 3000)}`);
  }
}

/** struct/union/enum/typedef definitions of a header, keyed by their first line. */
function definitions(text: string): Map<string, string> {
  const out = new Map<string, string>();
  for (const m of text.matchAll(/^((?:struct|union|enum) (\w+) \{\n.*?^\}[^\n]*;)$/gms)) out.set(m[1]!.split('{')[0]!.trim(), m[1]!);
  for (const m of text.matchAll(/^(typedef [^\n]*;)$/gm)) out.set(m[1]!, m[1]!);
  return out;
}

describe('vmlinux as C', () => {
  it('compiles with clang -target bpf -Werror, and a CO-RE program built on it matches one built on bpftool\'s header', () => {
    const prog = join(OUT, 'use_vmlinux.bpf.c');
    writeFileSync(
      prog,
      `#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_core_read.h>
SEC("tracepoint/syscalls/sys_enter_getpid")
int use(void *ctx)
{
	struct task_struct *t = (void *)bpf_get_current_task();
	int ppid = BPF_CORE_READ(t, real_parent, tgid);
	unsigned int fl = BPF_CORE_READ(t, flags);
	int pid = BPF_CORE_READ(t, group_leader, pid);
	return ppid + pid + (int)fl + bpf_core_field_size(t->comm);
}
char LICENSE[] SEC("license") = "GPL";
`,
    );
    const build = (dir: string, out: string) =>
      clang(['-g', '-O2', '-target', 'bpf', '-Werror', `-I${dir}`, '-c', prog, '-o', out]);
    // ours
    const oursDir = join(OUT, 'ours-inc');
    execFileSync('mkdir', ['-p', oursDir]);
    writeFileSync(join(oursDir, 'vmlinux.h'), header);
    build(oursDir, join(OUT, 'use_ours.o'));
    // bpftool's
    const theirsDir = join(OUT, 'bpftool-inc');
    execFileSync('mkdir', ['-p', theirsDir]);
    writeFileSync(
      join(theirsDir, 'vmlinux.h'),
      execFileSync('bpftool', ['btf', 'dump', 'file', VMLINUX, 'format', 'c'], { encoding: 'utf8', maxBuffer: 1 << 28 }),
    );
    build(theirsDir, join(OUT, 'use_bpftool.o'));
    // same instructions and the same CO-RE relocations either way
    const a = btfFromElf(readFileSync(join(OUT, 'use_ours.o')));
    const b = btfFromElf(readFileSync(join(OUT, 'use_bpftool.o')));
    const relos = (x: typeof a) =>
      x.ext!.coreRelos.flatMap((s) => s.records.map((r) => `${r.insnOff} ${r.kind} ${r.accessStr} ${x.btf.type(r.typeId).name}`));
    expect(relos(a).length).toBeGreaterThan(2);
    expect(relos(a)).toEqual(relos(b));
  });

  it('every struct and union has its BTF size and member offsets (68k compile-time assertions, x86_64)', () => {
    let c = `#define BPF_NO_PRESERVE_ACCESS_INDEX\n#include "${HEADER}"\n#define A(e) _Static_assert(e, #e)\n`;
    let n = 0;
    for (const t of kernel.types()) {
      if ((t.kind !== 'struct' && t.kind !== 'union') || !t.name) continue;
      const tag = `${t.kind} ${printer.tagName(t.id)}`;
      c += `A(sizeof(${tag}) == ${t.size});\n`;
      n++;
      const seen = new Set<string>();
      const walk = (id: number, base: number, depth: number) => {
        const s = kernel.resolve(id);
        if ((s.kind !== 'struct' && s.kind !== 'union') || depth > 8) return;
        for (const m of s.members) {
          if (m.name === '') walk(m.type, base + m.bitOffset, depth + 1);
          else if (!m.bitfieldSize && !seen.has(m.name)) {
            seen.add(m.name);
            // Btf.field() must find the same place
            expect(kernel.field(t.id, m.name)?.bitOffset).toBe(base + m.bitOffset);
            c += `A(__builtin_offsetof(${tag}, ${m.name}) == ${(base + m.bitOffset) / 8});\n`;
            n++;
          }
        }
      };
      walk(t.id, 0, 0);
    }
    expect(n).toBeGreaterThan(50_000);
    const file = join(OUT, 'layout_asserts.c');
    writeFileSync(file, c);
    clang(['-fsyntax-only', '-target', 'x86_64-linux-gnu', file]);
  });

  it('structs with bitfields, padding or packing keep every bit offset (compiled with -g, BTF read back)', () => {
    const hasBits = (b: Btf, t: BtfType, depth = 0): boolean =>
      (t.kind === 'struct' || t.kind === 'union') &&
      depth < 8 &&
      t.members.some((m) => m.bitfieldSize > 0 || (m.name === '' && hasBits(b, b.resolve(m.type), depth + 1)));
    const picked = [...kernel.types()].filter(
      (t) =>
        (t.kind === 'struct' || t.kind === 'union') &&
        t.name !== '' &&
        (hasBits(kernel, t) || /long: |__attribute__\(\(packed\)\)/.test(printer.definition(t.id))),
    );
    expect(picked.length).toBeGreaterThan(200);
    const file = join(OUT, 'layout_bits.c');
    writeFileSync(
      file,
      `#include "${HEADER}"\n` + picked.map((t) => `${t.kind} ${printer.tagName(t.id)} v${t.id};`).join('\n') + '\n',
    );
    const obj = join(OUT, 'layout_bits.o');
    clang(['-g', '-O0', '-target', 'bpf', '-c', file, '-o', obj]);
    const got = btfFromElf(readFileSync(obj)).btf;
    const shape = (b: Btf, t: BtfType, depth = 0): string =>
      t.kind !== 'struct' && t.kind !== 'union'
        ? ''
        : `${t.kind}${t.size}{${t.members
            .map((m) => `${m.name}@${m.bitOffset}:${m.bitfieldSize}${m.name === '' && depth < 8 ? shape(b, b.resolve(m.type), depth + 1) : ''}`)
            .join(',')}}`;
    for (const t of picked) {
      const mine = got.byName(printer.tagName(t.id)).find((x) => x.kind === t.kind);
      expect(mine, t.name).toBeDefined();
      expect(shape(got, mine!), `${t.kind} ${t.name}`).toBe(shape(kernel, t));
    }
  });

  it('definitions are bpftool\'s, except one-byte enums which we size with mode(byte)', () => {
    const theirs = definitions(
      execFileSync('bpftool', ['btf', 'dump', 'file', VMLINUX, 'format', 'c'], { encoding: 'utf8', maxBuffer: 1 << 28 }),
    );
    const ours = definitions(header);
    expect(theirs.size).toBeGreaterThan(10_000);
    let same = 0;
    for (const [key, text] of theirs) {
      const mine = ours.get(key);
      expect(mine, key).toBeDefined();
      if (mine === text) {
        same++;
        continue;
      }
      // the only accepted difference: `} __attribute__((mode(byte)));` on an enum of size 1
      expect(mine, key).toBe(text.replace(/\n\};$/, '\n} __attribute__((mode(byte)));'));
      const name = /^enum (\w+)/.exec(key)![1]!;
      expect(kernel.get(name, 'enum').size).toBe(1);
    }
    expect(same).toBeGreaterThan(theirs.size - 50);
  });
});

describe('fixtures as C', () => {
  const names = readdirSync(FIXTURES)
    .filter((f) => f.endsWith('.bpf.c'))
    .map((f) => f.replace(/\.bpf\.c$/, ''));
  for (const name of names) {
    it(`${name}: its BTF dumped as C compiles`, () => {
      const cc = name === 'core_match' ? 'clang-19' : 'clang';
      if (!hasTool(cc)) return;
      const btf = btfFromElf(readFileSync(compileFixture(name, cc))).btf;
      const h = join(OUT, `${name}.types.h`);
      writeFileSync(h, new CPrinter(btf).dump({ guard: '__FIXTURE_TYPES_H__' }));
      const c = join(OUT, `${name}.types.c`);
      writeFileSync(c, `#include "${h}"\n`);
      clang(['-fsyntax-only', '-target', 'bpf', '-Werror', c]);
    });
  }
});

describe('single types as C', () => {
  const task = kernel.get('task_struct', 'struct');
  const fops = kernel.get('file_operations', 'struct');
  const m = (s: typeof task, n: string) => s.members.find((x) => x.name === n)!;

  it('declarations read like the kernel headers', () => {
    expect(typeToC(kernel, m(task, 'comm').type)).toBe('char[16]');
    expect(declarationToC(kernel, m(task, 'comm').type, 'comm')).toBe('char comm[16]');
    expect(typeToC(kernel, m(task, 'real_parent').type)).toBe('struct task_struct *');
    expect(declarationToC(kernel, m(task, 'cpus_ptr').type, 'cpus_ptr')).toBe('const cpumask_t *cpus_ptr');
    expect(declarationToC(kernel, m(fops, 'llseek').type, 'llseek')).toBe('loff_t (*llseek)(struct file *, loff_t, int)');
    expect(typeToC(kernel, kernel.get('u32', 'typedef').id)).toBe('u32');
  });

  it('a definition is the same text as in the whole dump', () => {
    const list = kernel.get('list_head', 'struct');
    expect(definitionToC(kernel, list.id)).toBe('struct list_head {\n\tstruct list_head *next;\n\tstruct list_head *prev;\n};');
    expect(header).toContain(definitionToC(kernel, kernel.get('pid_type', 'enum').id));
    expect(definitionToC(kernel, kernel.get('u32', 'typedef').id)).toBe('typedef __u32 u32;');
  });
});
