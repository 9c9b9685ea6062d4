/**
 * Every struct layout the kernel engine encodes, checked against the C
 * compiler: the running kernel's own definitions (dumped from its BTF by
 * bpftool, so fields newer than Debian's headers are covered) are compiled
 * with a program that prints offsetof/sizeof of each field and the bytes of
 * the struct with each field set to a distinct value. Our TypeScript layouts
 * must give the same offsets, sizes and bytes. No kernel calls: runs as any
 * user wherever gcc and bpftool are.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { BPF_ATTR_LAYOUTS, INFO_LAYOUTS } from '../../src/kernel/attr.js';
import type { Layout } from '../../src/kernel/layout.js';
import { PerfEventAttr, PerfEventHeader, PerfEventMmapPage, PerfFlag } from '../../src/kernel/perf-event.js';
import { TMP } from '../support/paths.js';

const BTF = '/sys/kernel/btf/vmlinux';
const HAVE_TOOLS = existsSync(BTF) && hasCmd('bpftool') && hasCmd('gcc');

function hasCmd(cmd: string): boolean {
  try {
    execFileSync('sh', ['-c', `command -v ${cmd}`], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

const LAYOUTS: Record<string, Layout> = {
  ...BPF_ATTR_LAYOUTS,
  ...INFO_LAYOUTS,
  PerfEventAttr,
  PerfEventMmapPage,
  PerfEventHeader,
};

/** The C type definitions we need, cut out of the kernel's BTF dumped as C. */
function kernelTypes(): string {
  const all = execFileSync('bpftool', ['btf', 'dump', 'file', BTF, 'format', 'c'], { maxBuffer: 1 << 30 }).toString();
  const wanted = [
    'union bpf_attr',
    'struct bpf_prog_info',
    'struct bpf_map_info',
    'struct bpf_btf_info',
    'struct bpf_link_info',
    'struct perf_event_attr',
    'struct perf_event_mmap_page',
    'struct perf_event_header',
  ];
  const out: string[] = [];
  for (const w of wanted) {
    const start = all.indexOf(`\n${w} {\n`);
    if (start < 0) throw new Error(`${w} not in the kernel's BTF`);
    const end = all.indexOf('\n};\n', start);
    out.push(all.slice(start + 1, end + 4));
  }
  return out.join('\n');
}

/** A value for field i of layout li, distinct per field and fitting its type. */
function sample(li: number, fi: number, type: string): { ts: number | bigint | string; c: string } {
  const seed = (li * 131 + fi * 17 + 7) >>> 0;
  switch (type) {
    case 'u8':
      return { ts: (seed % 250) + 1, c: String((seed % 250) + 1) };
    case 'u16': {
      const v = ((seed * 257) % 65000) + 1;
      return { ts: v, c: String(v) };
    }
    case 'u32':
    case 's32': {
      const v = ((seed * 2654435761) % 0x7fff0000) + 1;
      return { ts: v, c: `${v}U` };
    }
    case 'u64':
    case 's64': {
      const v = (BigInt(seed) * 0x9e3779b97f4a7c15n) & 0x7fffffffffffffffn;
      return { ts: v, c: `${v}ULL` };
    }
    default: {
      const s = `f${li}_${fi}`.slice(0, 15);
      return { ts: s, c: JSON.stringify(s) };
    }
  }
}

interface CResult {
  fields: Map<string, { offset: number; size: number }>;
  sizes: Map<string, number>;
  golden: Map<string, string>;
}

let result: CResult;
const sampled = new Map<string, Record<string, number | bigint | string | Uint8Array>>();

function buildAndRun(): CResult {
  const c: string[] = [
    '#include <linux/types.h>',
    '#include <stdio.h>',
    '#include <stddef.h>',
    '#include <string.h>',
    kernelTypes(),
    'static void dump(const char *name, const void *p, size_t n) {',
    '  const unsigned char *b = p; printf("G %s ", name);',
    '  for (size_t i = 0; i < n; i++) printf("%02x", b[i]); printf("\\n");',
    '}',
    'int main(void) {',
  ];
  Object.entries(LAYOUTS).forEach(([name, l], li) => {
    const t = l.cType;
    for (const f of l.list) {
      if (f.c === null || f.name.startsWith('__reserved')) continue;
      c.push(`  printf("F ${name} ${f.name} %zu %zu\\n", offsetof(${t}, ${f.c}), sizeof(((${t} *)0)->${f.c}));`);
    }
    if (l.cType !== 'union bpf_attr') c.push(`  printf("S ${name} %zu\\n", sizeof(${t}));`);
    else if (l.cPrefix && l.cPrefix.split('.').length === 2) {
      const member = l.cPrefix.slice(0, -1);
      c.push(`  printf("S ${name} %zu\\n", sizeof(((${t} *)0)->${member}));`);
    }
    // Golden bytes: every field that does not overlap an earlier one, set to a distinct value.
    const values: Record<string, number | bigint | string | Uint8Array> = {};
    const taken: [number, number][] = [];
    c.push(`  { ${t} a; memset(&a, 0, sizeof a);`);
    l.list.forEach((f, fi) => {
      if (f.c === null || f.name.startsWith('__reserved')) return;
      if (taken.some(([s, e]) => f.offset < e && s < f.offset + f.size)) return;
      taken.push([f.offset, f.offset + f.size]);
      const v = sample(li, fi, f.type);
      values[f.name] = v.ts;
      if (f.type.startsWith('char')) c.push(`    strcpy(a.${f.c}, ${v.c});`);
      else if (f.type.startsWith('u8[')) {
        values[f.name] = new Uint8Array(f.size).fill((fi % 200) + 1);
        c.push(`    memset(a.${f.c}, ${(fi % 200) + 1}, sizeof a.${f.c});`);
      } else c.push(`    a.${f.c} = ${v.c};`);
    });
    if (name === 'PerfEventAttr') {
      c.push('    a.disabled = 1; a.watermark = 1; a.precise_ip = 2; a.sigtrap = 1; a.cgroup = 1;');
      values.flags = PerfFlag.disabled | PerfFlag.watermark | (2n << PerfFlag.precise_ip_shift) | PerfFlag.sigtrap | PerfFlag.cgroup;
    }
    c.push(`    dump("${name}", &a, ${l.end}); }`);
    sampled.set(name, values);
  });
  c.push('  return 0;', '}');
  const dir = join(TMP, 'kernel-layout');
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, 'layout.c'), c.join('\n'));
  execFileSync('gcc', ['-O0', '-w', '-o', join(dir, 'layout'), join(dir, 'layout.c')]);
  const out = execFileSync(join(dir, 'layout')).toString();
  const r: CResult = { fields: new Map(), sizes: new Map(), golden: new Map() };
  for (const line of out.split('\n')) {
    const p = line.split(' ');
    if (p[0] === 'F') r.fields.set(`${p[1]}.${p[2]}`, { offset: Number(p[3]), size: Number(p[4]) });
    if (p[0] === 'S') r.sizes.set(p[1]!, Number(p[2]));
    if (p[0] === 'G') r.golden.set(p[1]!, p[2]!);
  }
  return r;
}

describe.skipIf(!HAVE_TOOLS)('struct layouts match the C compiler and the running kernel', () => {
  beforeAll(() => {
    result = buildAndRun();
  });

  for (const [name, l] of Object.entries(LAYOUTS)) {
    it(`${name} (${l.cType}${l.cPrefix ? ' ' + l.cPrefix.slice(0, -1) : ''}): offsets and sizes`, () => {
      let checked = 0;
      for (const f of l.list) {
        if (f.c === null || f.name.startsWith('__reserved')) continue;
        const c = result.fields.get(`${name}.${f.name}`);
        expect(c, `${name}.${f.name}`).toBeDefined();
        expect({ field: f.name, offset: f.offset, size: f.size }).toEqual({ field: f.name, offset: c!.offset, size: c!.size });
        checked++;
      }
      expect(checked).toBeGreaterThan(0);
      const size = result.sizes.get(name);
      // The link_create variants and bpf_link_info's head each cover part of a union.
      if (size !== undefined && (name.startsWith('LinkCreate') || name === 'LinkInfo')) expect(l.size).toBeLessThanOrEqual(size);
      else if (size !== undefined) expect(l.size).toBe(size);
    });

    it(`${name}: golden bytes`, () => {
      const ours = l.encode(sampled.get(name)!).subarray(0, l.end);
      const hex = Buffer.from(ours).toString('hex');
      expect(hex).toBe(result.golden.get(name));
    });
  }
});
