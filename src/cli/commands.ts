/**
 * The list of subcommands. Each file registers one command (or a command with
 * sub-subcommands, like `prog` and `map`); the files themselves are light (the
 * commander declarations), and each action imports its layer when it runs.
 */
import type { Command } from 'commander';
import { register as asm } from './asm.js';
import { register as disasm } from './disasm.js';
import { register as objdump } from './objdump.js';
import { register as cbpf } from './cbpf.js';
import { register as read } from './read.js';
import { register as prog } from './prog.js';
import { register as map } from './map.js';
import { register as run } from './run.js';
import { register as conformancePlugin } from './conformance-plugin.js';
import { register as btf } from './btf.js';
import { register as filter } from './filter.js';
import { register as capture } from './capture.js';
import { register as attach } from './attach.js';

type Register = (program: Command) => void;

/** Each top-level command's name and the function that declares it (and its subcommands). */
const registrations: [name: string, register: Register][] = [
  ['asm', asm],
  ['disasm', disasm],
  ['objdump', objdump],
  ['cbpf', cbpf],
  ['read', read],
  ['run', run],
  ['conformance-plugin', conformancePlugin],
  ['prog', prog],
  ['map', map],
  ['btf', btf],
  ['filter', filter],
  ['capture', capture],
  ['attach', attach],
];

/** The top-level command names, in the order `--help` lists them. */
export const commandNames: readonly string[] = registrations.map(([name]) => name);

/**
 * Declare the commands on `program`. With `only` naming one of them, just
 * that one (what `bpfkit <command> ...` needs: declaring every command's
 * options with commander costs start-up time); otherwise (help, --version,
 * an unknown word for commander to suggest from) all of them.
 */
export function registerAll(program: Command, only?: string): void {
  const one = only !== undefined ? registrations.find(([name]) => name === only) : undefined;
  if (one !== undefined) one[1](program);
  else for (const [, r] of registrations) r(program);
}
