/**
 * `bpfkit conformance-plugin [MEMORY] [--elf]`: a bpf_conformance plugin
 * (github.com/Alan-Jowett/bpf_conformance). The runner starts it as
 * `PLUGIN [MEM] [OPTIONS...]`, writes the program to stdin as hex bytes
 * (two digits and a space each) and closes it; MEM is the test's memory in
 * the same form. The plugin runs the program in bpfkit's VM (v4
 * instructions, callx, helper 5 returning its first argument, r1 = memory,
 * r2 = its length) and prints r0 in hex, exiting 0; or prints the error on
 * stderr and exits non-zero. With --elf, stdin holds an ELF object (raw, or
 * as hex bytes) and its first program runs, with its maps, under the same convention.
 */
import type { Command } from 'commander';
import { UsageError } from '../errors.js';

/** Bytes from hex text (src/ebpf's reader), the error saying which input was wrong. */
export async function hexInput(text: string, what: string): Promise<Uint8Array> {
  const { parseHex, HexFormatError } = await import('../ebpf/bytecode-text.js');
  try {
    return parseHex(text);
  } catch (e) {
    if (e instanceof HexFormatError) throw new UsageError(`${what}: ${e.message}`);
    throw e;
  }
}

async function readStdinBytes(): Promise<Uint8Array> {
  const chunks: Buffer[] = [];
  for await (const chunk of process.stdin) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks);
}

export function register(program: Command): void {
  program
    .command('conformance-plugin')
    .description('run a bpf_conformance test program in the VM: program as hex on stdin, memory as hex in the first argument; prints r0 in hex')
    .argument('[memory]', 'the test memory, hex bytes')
    .option('--elf', 'the program on stdin is an ELF object')
    .option('--interpret', 'run in the interpreter (the default)')
    .action(async (memory: string | undefined, opts: { elf?: boolean }) => {
      const [{ decode }, { Vm }, { ProgType }] = await Promise.all([import('../ebpf/insn.js'), import('../vm/index.js'), import('../ebpf/types.js')]);
      const input = await readStdinBytes();
      const mem = memory === undefined ? new Uint8Array(0) : await hexInput(memory, 'the memory argument');
      const vm = new Vm({ callx: true });
      // bpf_conformance's convention: helper 5 returns its first argument.
      vm.helpers.define(5, (c) => c.u64(1), { name: 'conformance_helper' });
      let prog;
      if (opts.elf) {
        // The object comes raw or as hex bytes; its first program runs, with its maps.
        const bytes = isElf(input) ? input : await hexInput(latin1(input), 'the ELF object on stdin');
        if (bytes.length === 0) throw new UsageError('no ELF object on stdin');
        const { loadCollectionSpec } = await import('../elf/index.js');
        const spec = loadCollectionSpec(bytes);
        const names = Object.keys(spec.programs);
        if (names.length === 0) throw new UsageError('the ELF object on stdin has no program');
        // Every program gets the plugin's calling convention (r1 = memory, r2 = its length).
        const programs = Object.fromEntries(Object.entries(spec.programs).map(([n, p]) => [n, { ...p, type: ProgType.UNSPEC }]));
        prog = vm.loadCollection({ ...spec, programs }).programs[names[0]!]!;
      } else {
        const code = await hexInput(latin1(input), 'the program on stdin');
        if (code.length === 0) throw new UsageError('no program on stdin');
        prog = vm.loadProgram({ name: 'conformance', type: 0, license: 'GPL', instructions: decode(code), references: [] });
      }
      const { r0 } = prog.run({ data: mem });
      process.stdout.write(r0.toString(16) + '\n');
    });
}

function isElf(b: Uint8Array): boolean {
  return b.length >= 4 && b[0] === 0x7f && b[1] === 0x45 && b[2] === 0x4c && b[3] === 0x46;
}

function latin1(b: Uint8Array): string {
  return Buffer.from(b.buffer, b.byteOffset, b.byteLength).toString('latin1');
}
