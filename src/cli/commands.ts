/**
 * The list of subcommands. Each file registers one command (or a command with
 * sub-subcommands, like `prog` and `map`).
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

const registrations: Register[] = [asm, disasm, objdump, cbpf, read, run, conformancePlugin, prog, map, btf, filter, capture, attach];

export function registerAll(program: Command): void {
  for (const r of registrations) r(program);
}
