/**
 * The `bpfkit` program around a set of commands: the top-level options, how
 * a failure is reported, and a run from arguments to exit status. The full
 * command (main.ts) declares every command; the start-up snapshot's (fast.ts)
 * only those it holds.
 *
 * Errors: a BpfkitError (a user's mistake or the environment's) prints
 * `bpfkit: <message>` plus its detail lines and exits 1; anything else is a
 * bug in bpfkit and is printed with its stack.
 */
import { Command, CommanderError } from 'commander';
import { BpfkitError } from '../errors.js';

/** Declares commands on a program: with `only` naming one of them, just that one. */
export type Registrar = (program: Command, only?: string) => void;

/**
 * The `bpfkit` program. Given the arguments, only the command they name is
 * declared (when they name one), so a run pays for its own command only.
 */
export function createProgram(registrar: Registrar, argv?: readonly string[]): Command {
  const program = new Command();
  program
    .name('bpfkit')
    .description('The BPF toolchain: pcap filters, classic and extended BPF, an embedded VM, the Linux kernel engine')
    .version('0.1.0')
    .showHelpAfterError('(run with --help for usage)')
    .configureOutput({
      outputError: (str, write) => write(str.replace(/^error: /, 'bpfkit: ')),
    });
  registrar(program, argv?.[0]);
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

/**
 * Run one command line (the arguments after `bpfkit`); resolves to the exit status. `program`,
 * when given, is one createProgram() made for this command and not run yet (the start-up
 * snapshot holds such, made at build time).
 */
export async function runProgram(registrar: Registrar, argv: string[], program = createProgram(registrar, argv)): Promise<number> {
  program.exitOverride();
  try {
    await program.parseAsync(argv, { from: 'user' });
    return typeof process.exitCode === 'number' ? process.exitCode : 0;
  } catch (err) {
    return reportError(err);
  }
}

/** Run as the `bpfkit` command: the exit status goes to process.exitCode. */
export async function startCli(registrar: Registrar, argv: string[], program?: Command): Promise<void> {
  // The bpfkit sh script starts node without NODE_EXTRA_CA_CERTS (see src/cli/launch.ts); the programs bpfkit runs get it back.
  const ca = process.env.BPFKIT_NODE_EXTRA_CA_CERTS;
  if (ca !== undefined) {
    process.env.NODE_EXTRA_CA_CERTS = ca;
    delete process.env.BPFKIT_NODE_EXTRA_CA_CERTS;
  }
  process.stdout.on('error', (err: NodeJS.ErrnoException) => {
    if (err.code === 'EPIPE') process.exit(0);
  });
  process.exitCode = await runProgram(registrar, argv, program);
}
