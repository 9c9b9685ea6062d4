/**
 * Bad input: truncated and corrupted objects (every truncation point, random
 * byte mutations of real fixtures), non-BPF ELF files, unsupported
 * relocations, CO-RE targets that cannot be found. Every failure must be a
 * typed BpfkitError that says where; never another exception, never a hang.
 */
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import fc from 'fast-check';
import { btfFromElf } from '../../src/btf/load.js';
import { describe, expect, it } from 'vitest';
import { BpfkitError } from '../../src/errors.js';
import { ElfError, ElfFile, ElfRelocationError, loadCollectionSpec, SHT, type LoadOptions } from '../../src/elf/index.js';
import { compileFixture, HAVE_CLANG, OUT, runOracle } from './support.js';

/** Load, and accept success or a BpfkitError; anything else fails the test. */
function survives(bytes: Uint8Array, options: LoadOptions = {}): 'ok' | BpfkitError {
  try {
    loadCollectionSpec(bytes, { kconfig: {}, kallsyms: new Map(), ...options });
    return 'ok';
  } catch (e) {
    if (e instanceof BpfkitError) return e;
    throw new Error(`not a BpfkitError: ${(e as Error)?.stack ?? String(e)}`);
  }
}

describe.skipIf(!HAVE_CLANG)('bad input', () => {
  it('every truncation of an object is a typed error naming an offset or section', () => {
    const bytes = readFileSync(compileFixture('net'));
    let errors = 0;
    for (let n = 0; n < bytes.length; n += n < 128 ? 1 : 7) {
      const r = survives(bytes.subarray(0, n));
      if (r !== 'ok') {
        errors++;
        expect(r.message).toMatch(/offset|section|symbol|type \[/);
      }
    }
    expect(errors).toBeGreaterThan(100);
  });

  it('random byte mutations of fixtures never crash', () => {
    const fixtures = ['net', 'legacy', 'core'].map((f) => new Uint8Array(readFileSync(compileFixture(f))));
    // CO-RE against the fixture's own BTF: quick, and the relocation code still runs.
    const target = btfFromElf(fixtures[2]!).btf;
    // Where the structure is: header, section headers, symbols, relocations, BTF, code.
    fc.assert(
      fc.property(
        fc.integer({ min: 0, max: fixtures.length - 1 }),
        fc.array(fc.tuple(fc.nat(), fc.integer({ min: 0, max: 255 })), { minLength: 1, maxLength: 8 }),
        (which, edits) => {
          const b = fixtures[which]!.slice();
          for (const [at, v] of edits) b[at % b.length] = v;
          survives(b, { kernelBtf: target });
        },
      ),
      { numRuns: 400, seed: 5 },
    );
  });

  it('mutations inside the section header table and symbol table', () => {
    const bytes = new Uint8Array(readFileSync(compileFixture('net')));
    const elf = ElfFile.parse(bytes);
    const shoff = Number(elf.u64(40));
    const symtab = elf.symtab()!;
    const regions: [number, number][] = [
      [0, 64],
      [shoff, elf.sections.length * 64],
      [symtab.offset, symtab.size],
      ...elf.sections.filter((s) => s.type === SHT.REL).map((s): [number, number] => [s.offset, s.size]),
    ];
    fc.assert(
      fc.property(fc.integer({ min: 0, max: regions.length - 1 }), fc.nat(), fc.integer({ min: 0, max: 255 }), (r, at, v) => {
        const [start, len] = regions[r]!;
        const b = bytes.slice();
        b[start + (at % len)] = v;
        survives(b);
      }),
      { numRuns: 600, seed: 7 },
    );
  });

  it('not a BPF object', () => {
    expect(() => loadCollectionSpec(new Uint8Array([1, 2, 3]))).toThrow(/too short/);
    expect(() => loadCollectionSpec(new Uint8Array(64))).toThrow(/bad magic/);
    const elf32 = new Uint8Array(64);
    elf32.set([0x7f, 0x45, 0x4c, 0x46, 1, 1, 1]);
    expect(() => loadCollectionSpec(elf32)).toThrow(/ELFCLASS64/);
    const src = join(OUT, 'host.c');
    const obj = join(OUT, 'host.o');
    spawnSync('sh', ['-c', `echo 'int f(void){return 1;}' > ${src} && cc -c ${src} -o ${obj}`]);
    expect(() => loadCollectionSpec(obj)).toThrow(/not EM_BPF/);
    expect(() => loadCollectionSpec(join(OUT, 'no-such-file.o'))).toThrow(/cannot read .*ENOENT/);
  });

  it('unsupported relocation types name the section, symbol and offset', () => {
    const bytes = new Uint8Array(readFileSync(compileFixture('net')));
    const elf = ElfFile.parse(bytes);
    const rel = elf.section('.relsocket')!;
    const b = bytes.slice();
    // r_info low 32 bits = type (little-endian): make the first relocation type 99.
    b[rel.offset + 8] = 99;
    const e = survives(b);
    expect(e).toBeInstanceOf(ElfRelocationError);
    expect((e as ElfError).message).toMatch(/section socket, symbol packets_seen, offset 8: relocation type 99 is not supported/);
    // An ABS64 data relocation cannot apply to an instruction.
    b[rel.offset + 8] = 2;
    expect((survives(b) as Error).message).toMatch(/R_BPF_64_ABS64 is not supported on an instruction/);
    // In .rel.BTF (where R_BPF_64_NODYLD32 and R_BPF_64_ABS32 place global variables), likewise.
    const relBtf = elf.section('.rel.BTF')!;
    const c = bytes.slice();
    c[relBtf.offset + 8] = 10; // R_BPF_64_32 means nothing in .BTF
    expect((survives(c) as Error).message).toMatch(/^section \.rel\.BTF, symbol \w+, offset \d+: R_BPF_64_32 is not supported in \.BTF/);
  });

  it('CO-RE relocations whose target is missing: poisoned like libbpf, or an error naming the relocation and type', () => {
    const obj = compileFixture('core');
    const e = survives(readFileSync(obj), { core: 'error' });
    expect(e).toBeInstanceOf(ElfRelocationError);
    expect((e as ElfError).message).toMatch(/section tp\/syscalls\/sys_enter_getpid, insn \d+, type \[\d+\]: program 'read_task': CO-RE relocation #\d+ .*bpfkit_no_such_field/);
    expect((e as ElfError).typeId).toBeGreaterThan(0);
    expect(() => loadCollectionSpec(obj, { kernelBtf: join(OUT, 'no-such-vmlinux') })).toThrow(/kernel BTF .* is not available/);
  });

  it.each([
    ['UNKNOWN_FIELD', /map 'bad': unknown field 'bogus_field'/],
    ['CONFLICTING_KEY', /map 'bad': conflicting key size 8 and 4/],
    ['BAD_PINNING', /map 'bad': invalid pinning value 7/],
    ['VALUES_ON_HASH', /map 'bad': 'values' needs a map-in-map or prog array, not HASH/],
  ])('map definitions libbpf rejects are rejected too (%s)', (flag, message) => {
    const obj = compileFixture('badmaps', { flags: [`-D${flag}`], variant: flag.toLowerCase() });
    const o = runOracle(obj, { load: false }) as unknown as { error?: string };
    expect(o.error, 'libbpf refuses to open it').toMatch(/^open: /);
    const e = survives(readFileSync(obj));
    expect(e).toBeInstanceOf(ElfError);
    expect((e as ElfError).message).toMatch(/^section \.maps, type \[\d+\]: /);
    expect((e as ElfError).message).toMatch(message);
  });
});
