/**
 * `bpfkit conformance-plugin [MEMORY] [--elf]`: a bpf_conformance plugin
 * (github.com/Alan-Jowett/bpf_conformance). The runner starts it as
 * `PLUGIN [MEM] [OPTIONS...]`, writes the program to stdin as hex bytes
 * (two digits and a space each) and closes it; MEM is the test's memory in
 * the same form. The plugin runs the program in bpfkit's VM (v4
 * instructions, callx, helper 5 returning its first argument, r1 = memory,
 * r2 = its length) and prints r0 in hex, exiting 0; or prints the error on
 * stderr and exits non-zero.
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

async function readStdin(): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of process.stdin) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks).toString('latin1');
}

export function register(program: Command): void {
  program
    .command('conformance-plugin')
    .description('run a bpf_conformance test program in the VM: program as hex on stdin, memory as hex in the first argument; prints r0 in hex')
    .argument('[memory]', 'the test memory, hex bytes')
    .option('--elf', 'the program on stdin is an ELF object')
    .option('--interpret', 'run in the interpreter (the default)')
    .action(async (memory: string | undefined, opts: { elf?: boolean }) => {
      if (opts.elf) {
        throw new UsageError('--elf is not supported yet: ELF programs for the conformance plugin come with the ELF issue; give the program as hex bytecode');
      }
      const [{ decode }, { Vm }] = await Promise.all([import('../ebpf/insn.js'), import('../vm/index.js')]);
      const code = await hexInput(await readStdin(), 'the program on stdin');
      if (code.length === 0) throw new UsageError('no program on stdin');
      const mem = memory === undefined ? new Uint8Array(0) : await hexInput(memory, 'the memory argument');
      const vm = new Vm({ callx: true });
      // bpf_conformance's convention: helper 5 returns its first argument.
      vm.helpers.define(5, (c) => c.u64(1), { name: 'conformance_helper' });
      const prog = vm.loadProgram({ name: 'conformance', type: 0, license: 'GPL', instructions: decode(code), references: [] });
      const { r0 } = prog.run({ data: mem });
      process.stdout.write(r0.toString(16) + '\n');
    });
}
