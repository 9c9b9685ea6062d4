/**
 * The generic ELF reader against readelf (binutils): section headers,
 * symbols of .symtab and .dynsym, program headers and notes (including a
 * USDT .note.stapsdt probe) of a host executable built at test time, and the
 * sections of little- and big-endian BPF objects.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { ElfFile, resolveSymbol, SHT, usdtProbes } from '../../src/elf/index.js';
import { compileFixture, FIXTURES, HAVE_CLANG, OUT } from './support.js';

const HAVE_READELF = spawnSync('readelf', ['--version']).status === 0;
const HAVE_GCC = spawnSync('gcc', ['--version']).status === 0;

const SHT_NAMES: Record<string, number> = { NULL: 0, PROGBITS: 1, SYMTAB: 2, STRTAB: 3, RELA: 4, HASH: 5, DYNAMIC: 6, NOTE: 7, NOBITS: 8, REL: 9, DYNSYM: 11 };

function readelf(args: string[], file: string): string {
  return execFileSync('readelf', ['-W', ...args, file], { encoding: 'utf8' });
}

function expectSectionsLikeReadelf(file: string): void {
  const elf = ElfFile.parse(readFileSync(file));
  const rows = readelf(['-S'], file)
    .split('\n')
    .map((l) => /^\s*\[\s*(\d+)\]\s+(\S*)\s+(\S+)\s+([0-9a-f]+)\s+([0-9a-f]+)\s+([0-9a-f]+)/.exec(l))
    .filter((m): m is RegExpExecArray => m !== null);
  expect(rows.length).toBe(elf.sections.length);
  for (const m of rows) {
    const s = elf.sections[Number(m[1])]!;
    const type = SHT_NAMES[m[3]!];
    expect({ name: s.name, addr: s.addr, offset: s.offset, size: s.size }, m[0]).toEqual({
      name: m[2] === 'NULL' ? '' : m[2],
      addr: BigInt('0x' + m[4]),
      offset: parseInt(m[5]!, 16),
      size: parseInt(m[6]!, 16),
    });
    if (type !== undefined) expect(s.type, m[0]).toBe(type);
  }
}

describe.skipIf(!HAVE_READELF || !HAVE_GCC)('ELF reader vs readelf: host executable', () => {
  const exe = join(OUT, 'usdt-host');
  beforeAll(() => {
    execFileSync('gcc', ['-O1', '-o', exe, join(FIXTURES, 'usdt-host.c')]);
  });

  it('section headers', () => expectSectionsLikeReadelf(exe));

  it('symbols of .symtab and .dynsym', () => {
    const elf = ElfFile.parse(readFileSync(exe));
    for (const [flag, sec] of [
      ['.symtab', elf.symtab()!],
      ['.dynsym', elf.dynsym()!],
    ] as const) {
      const text = readelf(['-s'], exe);
      const part = text.slice(text.indexOf(`'${flag}'`)).split('\n\n')[0]!;
      const rows = part
        .split('\n')
        .map((l) => /^\s*(\d+):\s+([0-9a-f]+)\s+(\d+)\s+\S+\s+\S+\s+\S+\s+\S+\s*(\S*)/.exec(l))
        .filter((m): m is RegExpExecArray => m !== null);
      const syms = elf.symbols(sec);
      expect(rows.length, flag).toBe(syms.length);
      for (const m of rows) {
        const s = syms[Number(m[1])]!;
        expect([s.name.split('@')[0], s.value, Number(s.size)], m[0]).toEqual([m[4]!.split('@')[0], BigInt('0x' + m[2]), Number(m[3])]);
      }
    }
  });

  it('program headers', () => {
    const elf = ElfFile.parse(readFileSync(exe));
    const rows = readelf(['-l'], exe)
      .split('\n')
      .map((l) => /^\s+(LOAD|NOTE|DYNAMIC|INTERP|PHDR)\s+0x([0-9a-f]+)\s+0x([0-9a-f]+)\s+0x([0-9a-f]+)\s+0x([0-9a-f]+)\s+0x([0-9a-f]+)/.exec(l))
      .filter((m): m is RegExpExecArray => m !== null);
    const types: Record<string, number> = { LOAD: 1, DYNAMIC: 2, INTERP: 3, NOTE: 4, PHDR: 6 };
    const ours = elf.programHeaders.filter((p) => Object.values(types).includes(p.type));
    expect(ours.length).toBe(rows.length);
    rows.forEach((m, i) => {
      const p = ours[i]!;
      expect([p.type, p.offset, p.vaddr, p.filesz, p.memsz]).toEqual([types[m[1]!], parseInt(m[2]!, 16), BigInt('0x' + m[3]), parseInt(m[5]!, 16), BigInt('0x' + m[6])]);
    });
  });

  it('notes, and the USDT probe as readelf -n decodes it', () => {
    const elf = ElfFile.parse(readFileSync(exe));
    const text = readelf(['-n'], exe);
    const owners = [...text.matchAll(/^\s{2}(\S+)\s+0x([0-9a-f]+)\s/gm)].map((m) => [m[1], parseInt(m[2]!, 16)]);
    const ours = elf.sections.filter((s) => s.type === SHT.NOTE).flatMap((s) => elf.notes(s).map((n) => [n.name, n.desc.length]));
    expect(ours).toEqual(owners);
    const [probe] = usdtProbes(elf);
    const loc = /Location: 0x([0-9a-f]+), Base: 0x([0-9a-f]+), Semaphore: 0x([0-9a-f]+)/.exec(text)!;
    expect(probe).toMatchObject({ provider: 'bpfkit', name: 'site', address: BigInt('0x' + loc[1]), semaphore: BigInt('0x' + loc[3]) });
    expect(probe!.args).toBe(/Arguments: (.*)/.exec(text)![1]);
    // The uprobe offset points at the probe's nop.
    expect(elf.bytes[probe!.fileOffset!]).toBe(0x90);
    expect(probe!.semaphoreOffset).toBeGreaterThan(0);
  });

  it('resolves uprobe symbols to file offsets', () => {
    const elf = ElfFile.parse(readFileSync(exe));
    const r = resolveSymbol(elf, 'probe_site');
    const nm = execFileSync('nm', [exe], { encoding: 'utf8' });
    const addr = BigInt('0x' + /^([0-9a-f]+) T probe_site$/m.exec(nm)![1]);
    expect(r.symbol.value).toBe(addr);
    expect(r.fileOffset).toBe(elf.addressToOffset(addr));
    expect(elf.bytes[r.fileOffset]).toBe(elf.bytes[elf.addressToOffset(addr)!]);
    expect(() => resolveSymbol(elf, 'no_such_function')).toThrow(/no defined symbol 'no_such_function'/);
  });
});

describe.skipIf(!HAVE_READELF || !HAVE_CLANG)('ELF reader vs readelf: BPF objects', () => {
  it('little-endian', () => expectSectionsLikeReadelf(compileFixture('net')));
  it('big-endian', () => expectSectionsLikeReadelf(compileFixture('net', { variant: 'eb', target: 'bpfeb' })));
});

const LIBC = '/lib/x86_64-linux-gnu/libc.so.6';
describe.skipIf(!HAVE_READELF || !existsSync(LIBC))('ELF reader vs nm: a shared library (uprobe targets)', () => {
  it('resolves .dynsym functions of libc to the addresses nm -D gives, and file offsets through the PT_LOAD segments', () => {
    const elf = ElfFile.parse(readFileSync(LIBC));
    const nm = execFileSync('nm', ['-D', '--defined-only', LIBC], { encoding: 'utf8', maxBuffer: 1 << 26 });
    for (const name of ['malloc', 'getpid', 'free', 'write']) {
      const m = new RegExp(`^([0-9a-f]+) [TtWi] ${name}@@`, 'm').exec(nm);
      expect(m, `nm -D has ${name}`).not.toBeNull();
      const r = resolveSymbol(elf, name);
      expect(r.symbol.value, name).toBe(BigInt('0x' + m![1]));
      const load = elf.programHeaders.find((p) => p.type === 1 && r.symbol.value >= p.vaddr && r.symbol.value < p.vaddr + BigInt(p.filesz))!;
      expect(r.fileOffset, name).toBe(load.offset + Number(r.symbol.value - load.vaddr));
    }
    expect(resolveSymbol(elf, 'malloc', 4).fileOffset).toBe(resolveSymbol(elf, 'malloc').fileOffset + 4);
  });
});
