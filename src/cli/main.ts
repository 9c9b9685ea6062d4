#!/usr/bin/env node
/**
 * The `bpfkit` command. Each subcommand lives in its own file in this folder
 * and exports `register(program)`, which declares its options and an action.
 * Actions import their layer lazily (`await import(...)`) so that starting
 * `bpfkit` stays fast whatever the subcommand.
 *
 * The built command (dist/cli/main.js) is src/cli/launch.ts, which runs
 * this file bundled into one script with a V8 code cache (see there); run
 * directly (tsx, or tsc's output) this file is the command itself.
 *
 * Errors: a BpfkitError (a user's mistake or the environment's) prints
 * `bpfkit: <message>` plus its detail lines and exits 1; anything else is a
 * bug in bpfkit and is printed with its stack.
 */
import { Command, CommanderError } from 'commander';
import { realpathSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { BpfkitError } from '../errors.js';
import { registerAll } from './commands.js';

/**
 * The `bpfkit` program. Given the arguments, only the command they name is
 * declared (when they name one), so a run pays for its own command only.
 */
export function buildProgram(argv?: readonly string[]): Command {
  const program = new Command();
  program
    .name('bpfkit')
    .description('The BPF toolchain: pcap filters, classic and extended BPF, an embedded VM, the Linux kernel engine')
    .version('0.1.0')
    .showHelpAfterError('(run with --help for usage)')
    .configureOutput({
      outputError: (str, write) => write(str.replace(/^error: /, 'bpfkit: ')),
    });
  registerAll(program, argv?.[0]);
  return program;
}

/** Print a failure the way the CLI does; returns the exit code. */
export function reportError(err: unknown): number {
  if (err instanceof CommanderError) return err.exitCode;
  if (err instanceof BpfkitError) {
    process.stderr.write(`bpfkit: ${err.message}\n`);
    const detail = err.detail();
    if (detail) process.stderr.write(detail.endsWith('\n') ? detail : detail + '\n');
    return 1;
  }
  if (err && typeof err === 'object' && 'code' in err && (err as { code: unknown }).code === 'EPIPE') return 0;
  const e = err as Error;
  process.stderr.write(`bpfkit: internal error: ${e?.stack ?? String(err)}\n`);
  return 70;
}

export async function main(argv: string[]): Promise<number> {
  const program = buildProgram(argv);
  program.exitOverride();
  try {
    await program.parseAsync(argv, { from: 'user' });
    return typeof process.exitCode === 'number' ? process.exitCode : 0;
  } catch (err) {
    return reportError(err);
  }
}

function isEntryPoint(): boolean {
  if (!process.argv[1]) return false;
  try {
    return realpathSync(process.argv[1]) === realpathSync(fileURLToPath(import.meta.url));
  } catch {
    return false;
  }
}

/** Run as the `bpfkit` command: the arguments after the script, the exit status in process.exitCode. */
export async function runCli(argv: string[] = process.argv.slice(2)): Promise<void> {
  // The bpfkit sh script starts node without NODE_EXTRA_CA_CERTS (see src/cli/launch.ts); the programs bpfkit runs get it back.
  const ca = process.env.BPFKIT_NODE_EXTRA_CA_CERTS;
  if (ca !== undefined) {
    process.env.NODE_EXTRA_CA_CERTS = ca;
    delete process.env.BPFKIT_NODE_EXTRA_CA_CERTS;
  }
  process.stdout.on('error', (err: NodeJS.ErrnoException) => {
    if (err.code === 'EPIPE') process.exit(0);
  });
  process.exitCode = await main(argv);
}

if (isEntryPoint()) void runCli();
