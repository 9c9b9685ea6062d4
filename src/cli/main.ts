#!/usr/bin/env node
/**
 * The `bpfkit` command. Each subcommand lives in its own file in this folder
 * and exports `register(program)`, which declares its options and an action.
 * Actions import their layer lazily (`await import(...)`) so that starting
 * `bpfkit` stays fast whatever the subcommand.
 *
 * The built command is the sh script dist/cli/bpfkit (see launch.ts): node
 * on a start-up snapshot holding the commands of fast.ts, which hands any
 * other command to this file bundled into one script with a V8 code cache
 * (dist/cli/bpfkit.cjs); without the snapshot, the launcher dist/cli/main.js
 * runs that bundle. Run directly (tsx, or tsc's output) this file is the
 * command itself.
 */
import type { Command } from 'commander';
import { realpathSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { registerAll } from './commands.js';
import { createProgram, runProgram, startCli } from './program.js';

export { reportError } from './program.js';

/** The `bpfkit` program with every command (only the one `argv` names, when it names one). */
export function buildProgram(argv?: readonly string[]): Command {
  return createProgram(registerAll, argv);
}

/** Run one command line (the arguments after `bpfkit`); resolves to the exit status. */
export function main(argv: string[]): Promise<number> {
  return runProgram(registerAll, argv);
}

/** Run as the `bpfkit` command: the arguments after the script, the exit status in process.exitCode. */
export function runCli(argv: string[] = process.argv.slice(2)): Promise<void> {
  return startCli(registerAll, argv);
}

function isEntryPoint(): boolean {
  if (!process.argv[1]) return false;
  try {
    return realpathSync(process.argv[1]) === realpathSync(fileURLToPath(import.meta.url));
  } catch {
    return false;
  }
}

if (isEntryPoint()) void runCli();
