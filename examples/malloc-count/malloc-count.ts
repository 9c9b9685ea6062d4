/**
 * Count malloc() calls per process with a uprobe on libc.
 *
 *   npx tsx examples/malloc-count/malloc-count.ts                 # every process, until Ctrl-C
 *   npx tsx examples/malloc-count/malloc-count.ts --duration 5    # for 5 seconds
 *   npx tsx examples/malloc-count/malloc-count.ts --pid 1234      # only process 1234
 *   npx tsx examples/malloc-count/malloc-count.ts -- ls -l /      # run a command, count only its calls
 *
 * The BPF side (malloc_count.bpf.c, compiled with clang when the example
 * starts) counts per (pid, command); libc is found by name the way the
 * dynamic loader finds it (/etc/ld.so.cache). With a command, bpfkit starts
 * it held at a `read`, attaches with the kernel's pid filter on its pid, then
 * lets it exec — so exactly the command's own calls are counted.
 */
import { spawn } from 'node:child_process';
import { basename, join } from 'node:path';
import { parseArgs } from 'node:util';
import { BpfkitError } from '../../src/index.js';
import { attachUprobe } from '../../src/kernel/index.js';
import { cstr, duration, fail, loadBpf, u32, u64, untilStopped } from '../common.js';

const { values, positionals } = parseArgs({
  options: { duration: { type: 'string' }, pid: { type: 'string' }, top: { type: 'string', default: '20' }, lib: { type: 'string', default: 'libc' } },
  allowPositionals: true,
});
const seconds = duration(values.duration);
const top = Number(values.top);

const coll = loadBpf(join(import.meta.dirname, 'malloc_count.bpf.c'));
let child: ReturnType<typeof spawn> | undefined;
let link;
try {
  let pid = values.pid !== undefined ? Number(values.pid) : undefined;
  let exited: Promise<number> | undefined;
  if (positionals.length > 0) {
    // A shell that waits for one line, then becomes the command (same pid).
    child = spawn('/bin/sh', ['-c', 'read _ && exec "$@"', 'sh', ...positionals], { stdio: ['pipe', 'inherit', 'inherit'] });
    pid = child.pid!;
    exited = new Promise((res) => child!.on('exit', (code, sig) => res(code ?? (sig ? 128 : 1))));
  }
  link = attachUprobe(coll.programs.count_malloc!, { binary: values.lib!, symbol: 'malloc', ...(pid !== undefined ? { pid } : {}) });
  process.stderr.write(`counting malloc() calls in ${link.target}${pid !== undefined ? ` for pid ${pid}` : ''}; ${child ? 'running the command' : seconds ? `for ${seconds} s` : 'Ctrl-C to stop'}\n`);
  child?.stdin!.end('go\n');
  await untilStopped(seconds, exited);

  const rows: { pid: number; comm: string; n: bigint }[] = [];
  for (const [k, v] of coll.maps.mallocs!.entries()) rows.push({ pid: u32(k), comm: cstr(k, 4, 16), n: u64(v) });
  rows.sort((a, b) => (a.n === b.n ? a.pid - b.pid : a.n < b.n ? 1 : -1));
  // With a command, its shell's own calls before exec (comm "sh") are not the command's.
  const shown = child && basename(positionals[0]!) !== 'sh' ? rows.filter((r) => r.comm !== 'sh') : rows.slice(0, top);
  process.stdout.write(`${'PID'.padEnd(8)}${'COMM'.padEnd(17)}MALLOCS\n`);
  for (const r of shown) process.stdout.write(`${String(r.pid).padEnd(8)}${r.comm.padEnd(17)}${r.n}\n`);
} catch (err) {
  if (err instanceof BpfkitError) fail(`malloc-count: ${err.message}`);
  throw err;
} finally {
  link?.close();
  coll.close();
  if (child && child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
}
