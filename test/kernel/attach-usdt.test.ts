/**
 * USDT: argument specs parsed as the notes write them, the spec table laid
 * out exactly as libbpf's <bpf/usdt.bpf.h> declares it (checked by gcc over
 * that header), register offsets checked against the C struct pt_regs, and
 * live: a clang-compiled BPF_USDT program reads the arguments of a probe
 * without a semaphore (at -O0: memory operands; at -O2: registers), and a
 * probe behind a semaphore fires only while bpfkit's uprobe holds it.
 */
import { spawnSync } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openFds } from '../../src/kernel/fd.js';
import { RingBufReader, type KernelCollection } from '../../src/kernel/index.js';
import { USDT_SPEC_SIZE, UsdtArgType, attachUsdt, encodeUsdtSpec, parseUsdtArg, parseUsdtArgs, usdtRegisterOffset } from '../../src/kernel/usdt.js';
import { TMP } from '../support/paths.js';
import { CAN_BPF, SKIP_REASON, countFds } from './support/kernel.js';
import { Child, HAVE_CLANG, HAVE_GCC, HAVE_SDT, bpftoolLink, compileTarget, counter, loadFixture, target, tracefsMounts, tracefsProbes } from './attach-support.js';

const X64 = process.arch === 'x64';
const HAVE_USDT_H = spawnSync('sh', ['-c', 'test -f /usr/include/bpf/usdt.bpf.h']).status === 0;

describe('USDT argument specs', () => {
  it('x86-64: constants, registers (any width), memory operands', () => {
    expect(parseUsdtArg('-4@$-9', 'x64')).toMatchObject({ size: 4, signed: true, type: UsdtArgType.CONST, value: -9n });
    expect(parseUsdtArg('8@$0x10', 'x64')).toMatchObject({ size: 8, signed: false, type: UsdtArgType.CONST, value: 16n });
    expect(parseUsdtArg('-4@%edi', 'x64')).toMatchObject({ size: 4, signed: true, type: UsdtArgType.REG, register: 'edi', regOffset: 112 });
    expect(parseUsdtArg('-2@%cx', 'x64')).toMatchObject({ size: 2, type: UsdtArgType.REG, regOffset: 88 });
    expect(parseUsdtArg('1@%r9b', 'x64')).toMatchObject({ size: 1, signed: false, regOffset: 64 });
    expect(parseUsdtArg('8@-1204(%rbp)', 'x64')).toMatchObject({ type: UsdtArgType.REG_DEREF, value: -1204n, regOffset: 32 });
    expect(parseUsdtArg('8@(%rsp)', 'x64')).toMatchObject({ type: UsdtArgType.REG_DEREF, value: 0n, regOffset: 152 });
    expect(parseUsdtArg('%rax', 'x64')).toMatchObject({ size: 8, signed: false, type: UsdtArgType.REG, regOffset: 80 });
    expect(parseUsdtArgs('-8@-24(%rbp) -4@-52(%rbp) -2@-54(%rbp)', 'x64').map((a) => a.value)).toEqual([-24n, -52n, -54n]);
    expect(parseUsdtArgs('', 'x64')).toEqual([]);
  });

  it('AArch64: registers, [reg, off], constants', () => {
    expect(parseUsdtArg('-4@x0', 'arm64')).toMatchObject({ type: UsdtArgType.REG, regOffset: 0, signed: true });
    expect(parseUsdtArg('8@[sp, 16]', 'arm64')).toMatchObject({ type: UsdtArgType.REG_DEREF, regOffset: 248, value: 16n });
    expect(parseUsdtArg('8@[x29, -8]', 'arm64')).toMatchObject({ type: UsdtArgType.REG_DEREF, regOffset: 232, value: -8n });
    expect(parseUsdtArg('4@5', 'arm64')).toMatchObject({ type: UsdtArgType.CONST, value: 5n });
  });

  it('what it cannot read is named', () => {
    expect(() => parseUsdtArg('3@%eax', 'x64')).toThrow("USDT argument '3@%eax': size 3 is not 1, 2, 4 or 8");
    expect(() => parseUsdtArg('8@%xmm0', 'x64')).toThrow("USDT argument '8@%xmm0': register xmm0 is not supported on x64");
    expect(() => parseUsdtArg('8@8(%rbp,%rax,8)', 'x64')).toThrow(/unsupported location '8\(%rbp,%rax,8\)'/);
    expect(() => parseUsdtArgs(Array(13).fill('8@%rax').join(' '), 'x64')).toThrow('USDT probe has 13 arguments; at most 12 are supported');
  });

  it.skipIf(!X64 || !HAVE_GCC)('register offsets are those of the C struct pt_regs', () => {
    const names = ['rax', 'rbx', 'rcx', 'rdx', 'rsi', 'rdi', 'rbp', 'rsp', 'rip', 'r8', 'r9', 'r10', 'r11', 'r12', 'r13', 'r14', 'r15'];
    const dir = join(TMP, 'kernel-attach');
    mkdirSync(dir, { recursive: true });
    const src = join(dir, 'ptregs.c');
    writeFileSync(
      src,
      `#include <stdio.h>\n#include <stddef.h>\n#include <asm/ptrace.h>\nint main(void){\n${names.map((n) => `printf("%zu\\n", offsetof(struct pt_regs, ${n}));`).join('\n')}\nreturn 0;}\n`,
    );
    const exe = join(dir, 'ptregs');
    expect(spawnSync('gcc', ['-o', exe, src]).status).toBe(0);
    const offsets = spawnSync(exe, { encoding: 'utf8' }).stdout.trim().split('\n').map(Number);
    expect(names.map((n) => usdtRegisterOffset(n, 'x64'))).toEqual(offsets);
  });

  it.skipIf(!X64 || !HAVE_GCC || !HAVE_USDT_H)("the spec table is byte for byte libbpf's struct __bpf_usdt_spec (gcc over <bpf/usdt.bpf.h>)", () => {
    const args = parseUsdtArgs('-4@$-9 8@%rax -2@-54(%rbp) 1@%dil', 'x64');
    const dir = join(TMP, 'kernel-attach');
    mkdirSync(dir, { recursive: true });
    const src = join(dir, 'usdtspec.c');
    const sets = args
      .map(
        (a, i) =>
          `s.args[${i}].val_off = ${a.value}ULL; s.args[${i}].arg_type = ${a.type}; s.args[${i}].reg_off = ${a.regOffset}; s.args[${i}].arg_signed = ${a.signed ? 1 : 0}; s.args[${i}].arg_bitshift = ${64 - 8 * a.size};`,
      )
      .join('\n');
    writeFileSync(
      src,
      `#include <stdbool.h>\n#include <stdio.h>\n#include <string.h>\n#include <linux/bpf.h>\n#include <linux/ptrace.h>\n#include <bpf/usdt.bpf.h>\n` +
        `int main(void){ struct __bpf_usdt_spec s; memset(&s, 0, sizeof(s));\n${sets}\ns.usdt_cookie = 0x1122334455667788ULL; s.arg_cnt = ${args.length};\n` +
        `printf("%zu ", sizeof(s)); for (size_t i = 0; i < sizeof(s); i++) printf("%02x", ((unsigned char *)&s)[i]); return 0; }\n`,
    );
    const exe = join(dir, 'usdtspec');
    const cc = spawnSync('gcc', ['-D__TARGET_ARCH_x86', '-Wl,--defsym=LINUX_HAS_BPF_COOKIE=0', '-o', exe, src], { encoding: 'utf8' });
    expect(cc.status, cc.stderr).toBe(0);
    const [size, hex] = spawnSync(exe, { encoding: 'utf8' }).stdout.split(' ');
    expect(Number(size)).toBe(USDT_SPEC_SIZE);
    expect(Buffer.from(encodeUsdtSpec(args, 0x1122334455667788n)).toString('hex')).toBe(hex);
  });
});

const READY = CAN_BPF && HAVE_CLANG && HAVE_GCC && HAVE_SDT && HAVE_USDT_H;
if (!READY) describe('USDT in the kernel', () => it.skip(CAN_BPF ? 'needs clang, gcc, sys/sdt.h and bpf/usdt.bpf.h' : SKIP_REASON, () => {}));

describe.skipIf(!READY)('USDT in the kernel', () => {
  let coll: KernelCollection;
  let reader: RingBufReader;
  let o0: string;
  let o2: string;
  const mountsBefore = tracefsMounts();
  const linkIds: number[] = [];

  beforeAll(() => {
    o0 = compileTarget();
    o2 = compileTarget(['-O2', '-fno-builtin'], 'attach_target_o2');
    coll = loadFixture('attach_trace', ['usdt_plain', 'usdt_guarded']);
    reader = new RingBufReader(coll.maps.events!);
  });
  afterAll(() => {
    reader?.close();
    coll?.close();
  });

  const argEvents = () =>
    reader
      .read()
      .map((r) => new DataView(r.buffer, r.byteOffset, r.byteLength))
      .map((d) => ({ kind: d.getUint32(0, true), nargs: d.getUint32(4, true), v: [0, 1, 2, 3].map((i) => d.getBigInt64(8 + 8 * i, true)) }));

  for (const [level, binary] of [
    ['-O0 (arguments in memory)', () => o0],
    ['-O2 (arguments in registers)', () => o2],
  ] as const) {
    it(`a probe without a semaphore, ${level}: every firing with its three signed arguments and the cookie`, async () => {
      const N = 200;
      const link = attachUsdt(coll.programs.usdt_plain!, { binary: binary(), provider: 'bpfkit_test', name: 'plain', specs: coll.maps.__bpf_usdt_specs!, cookie: 0xabcdefn });
      try {
        expect(link.sites).toHaveLength(1);
        expect(link.sites[0]!.semaphore).toBe(0n);
        linkIds.push(link.id);
        const child = new Child(binary(), ['usdt', String(N)]);
        target(coll, child.pid);
        expect((await child.go()).code).toBe(0);
        const evs = argEvents().filter((e) => e.kind === 4);
        expect(evs.map((e) => [e.nargs, ...e.v])).toEqual(Array.from({ length: N }, (_, i) => [3, BigInt(i), BigInt(-i), BigInt(i * 3), 0xabcdefn]));
      } finally {
        link.close();
      }
    });
  }

  for (const mode of ['pmu', 'tracefs'] as const) {
    it(`a probe behind a semaphore (${mode}): silent without bpfkit, fires exactly N times while attached`, async () => {
      const N = 150;
      const before = counter(coll, 5);
      const idle = new Child(o0, ['guarded', String(N)]);
      expect((await idle.go()).stdout.trim()).toBe('0');
      const link = attachUsdt(coll.programs.usdt_guarded!, { binary: o0, provider: 'bpfkit_test', name: 'guarded', specs: coll.maps.__bpf_usdt_specs!, mode });
      try {
        expect(link.sites[0]!.semaphore).not.toBe(0n);
        if (mode === 'tracefs') expect(tracefsProbes()[0]).toMatch(/^p:bpfkit\/p\d+_\d+_bpfkit_test_guarded .*:0x[0-9a-f]+\(0x[0-9a-f]+\)$/);
        const child = new Child(o0, ['guarded', String(N)]);
        target(coll, child.pid);
        const r = await child.go();
        expect(r.stdout.trim()).toBe(String(N));
        expect(counter(coll, 5) - before).toBe(BigInt(N));
        const evs = argEvents().filter((e) => e.kind === 5);
        expect(evs.map((e) => e.v[0])).toEqual(Array.from({ length: N }, (_, i) => BigInt(i)));
      } finally {
        link.close();
      }
      // The semaphore is released with the probe.
      const after = new Child(o0, ['guarded', String(N)]);
      expect((await after.go()).stdout.trim()).toBe('0');
      expect(tracefsProbes()).toEqual([]);
    });
  }

  it('an unknown probe names the probes the binary has; nothing is left after a failed attach', () => {
    const fds = countFds();
    const engine = openFds().length;
    expect(() => attachUsdt(coll.programs.usdt_plain!, { binary: o0, provider: 'bpfkit_test', name: 'nope' })).toThrow(
      `no USDT probe bpfkit_test:nope in ${o0} (it has bpfkit_test:plain, bpfkit_test:guarded)`,
    );
    expect(() => attachUsdt(coll.programs.usdt_plain!, { binary: '/bin/true', provider: 'a', name: 'b' })).toThrow(/no USDT probe a:b in .* \(it has no USDT probes\)/);
    // The attach step fails (a perf_event program is not a uprobe program) after the spec is written and the uprobe made.
    const wrong = loadFixture('attach_trace', ['perf_sample']);
    try {
      for (const mode of ['pmu', 'tracefs'] as const) {
        expect(() =>
          attachUsdt(wrong.programs.perf_sample!, { binary: o0, provider: 'bpfkit_test', name: 'guarded', specs: coll.maps.__bpf_usdt_specs!, mode }),
        ).toThrow(/link create|attach program/);
      }
    } finally {
      wrong.close();
    }
    expect(countFds()).toBe(fds);
    expect(openFds().length).toBe(engine);
    expect(tracefsProbes()).toEqual([]);
  });

  it('after the tests: no link, probe or mount of ours is left', () => {
    reader.close();
    coll.close();
    for (const id of linkIds) expect(bpftoolLink(id)).toBeUndefined();
    expect(openFds().map((f) => f.label)).toEqual([]);
    expect(tracefsProbes()).toEqual([]);
    expect(tracefsMounts()).toEqual(mountsBefore);
  });
});
