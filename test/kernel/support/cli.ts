/**
 * The `bpfkit` command in tests: in this process (main() with its output
 * captured — what a user sees, without a Node start-up per call), or in a
 * child process as `nobody` (setpriv drops every privilege).
 */
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { main } from '../../../src/cli/main.js';
import { REPO } from '../../support/paths.js';

export interface CliResult {
  code: number;
  stdout: string;
  stderr: string;
}

export const HAVE_SETPRIV = spawnSync('setpriv', ['--version']).status === 0;
const MAIN = join(REPO, 'src/cli/main.ts');

/**
 * Run the CLI in this process; `stderr()` is what it has said so far and
 * `onStderr` sees standard error as it comes (to wait for "attached" or
 * "listening on").
 */
export function bpfkitRunning(args: string[], onStderr?: (text: string) => void): { done: Promise<CliResult>; stderr: () => string } {
  const out: string[] = [];
  const err: string[] = [];
  const w1 = process.stdout.write.bind(process.stdout);
  const w2 = process.stderr.write.bind(process.stderr);
  process.stdout.write = ((s: string) => (out.push(String(s)), true)) as typeof process.stdout.write;
  process.stderr.write = ((s: string) => {
    err.push(String(s));
    onStderr?.(err.join(''));
    return true;
  }) as typeof process.stderr.write;
  const done = main(args)
    .finally(() => {
      process.stdout.write = w1;
      process.stderr.write = w2;
      process.exitCode = undefined;
    })
    .then((code) => ({ code, stdout: out.join(''), stderr: err.join('') }));
  return { done, stderr: () => err.join('') };
}

/** Run the CLI in this process to the end. */
export function bpfkit(args: string[], onStderr?: (text: string) => void): Promise<CliResult> {
  return bpfkitRunning(args, onStderr).done;
}

/** The CLI (or another script, `script`) in a child process as `nobody`. */
export function bpfkitAsNobody(args: string[], script = MAIN): CliResult {
  const cmd = ['--reuid=nobody', '--regid=nogroup', '--clear-groups', process.execPath, '--import', 'tsx', script, ...args];
  const r = spawnSync('setpriv', cmd, { cwd: REPO, encoding: 'utf8', env: { ...process.env, NODE_OPTIONS: '' } });
  return { code: r.status ?? -1, stdout: r.stdout, stderr: r.stderr };
}
