/**
 * execsnoop: one line per process exec'ing, as it happens, from the
 * syscalls:sys_enter_execve / sys_exit_execve tracepoints through a BPF ring
 * buffer read on Node's event loop.
 *
 *   npx tsx examples/execsnoop/execsnoop.ts                    # until Ctrl-C
 *   npx tsx examples/execsnoop/execsnoop.ts --duration 10      # for 10 seconds
 *   npx tsx examples/execsnoop/execsnoop.ts --failed           # only execs that failed
 *   npx tsx examples/execsnoop/execsnoop.ts --name ssh         # only commands whose name contains "ssh"
 *
 * Columns: time (s since start), pid, uid, result (0, or -errno when exec
 * failed), the command name after exec, the file and its arguments (at most 8, each up to 63 bytes).
 */
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { BpfkitError } from '../../src/index.js';
import { attachTracepoint, RingBufReader } from '../../src/kernel/index.js';
import { cstr, duration, fail, i64, loadBpf, u32, untilStopped } from '../common.js';

const { values } = parseArgs({ options: { duration: { type: 'string' }, failed: { type: 'boolean', default: false }, name: { type: 'string' } } });
const seconds = duration(values.duration);

const ARGS = 8;
const ARGLEN = 64;
const NAMELEN = 128;
const start = process.hrtime.bigint();

/** One record of execsnoop.bpf.c's `struct event` as a line. */
function line(rec: Uint8Array): string | undefined {
  const pid = u32(rec, 0);
  const uid = u32(rec, 8);
  const nargs = Math.min(u32(rec, 12), ARGS);
  const ret = i64(rec, 16);
  const comm = cstr(rec, 24, 16);
  const file = cstr(rec, 40, NAMELEN);
  const args = Array.from({ length: nargs }, (_, i) => cstr(rec, 40 + NAMELEN + i * ARGLEN, ARGLEN));
  if (values.failed && ret === 0n) return undefined;
  if (values.name !== undefined && !comm.includes(values.name) && !file.includes(values.name)) return undefined;
  const t = Number(process.hrtime.bigint() - start) / 1e9;
  // args[0] is what the caller called the program; show the file, then the real arguments.
  return `${t.toFixed(3).padEnd(9)}${String(pid).padEnd(8)}${String(uid).padEnd(6)}${String(ret).padEnd(5)}${comm.padEnd(17)}${[file, ...args.slice(1)].join(' ')}\n`;
}

const coll = loadBpf(join(import.meta.dirname, 'execsnoop.bpf.c'));
const links = [];
let reader: RingBufReader | undefined;
try {
  reader = new RingBufReader(coll.maps.events!);
  links.push(attachTracepoint(coll.programs.enter_execve!, 'syscalls', 'sys_enter_execve'));
  links.push(attachTracepoint(coll.programs.exit_execve!, 'syscalls', 'sys_exit_execve'));
  process.stderr.write(`tracing exec; ${seconds ? `for ${seconds} s` : 'Ctrl-C to stop'}\n`);
  process.stdout.write(`${'TIME'.padEnd(9)}${'PID'.padEnd(8)}${'UID'.padEnd(6)}${'RET'.padEnd(5)}${'COMM'.padEnd(17)}ARGS\n`);
  const r = reader;
  r.start((rec) => {
    const l = line(rec);
    if (l) process.stdout.write(l);
  });
  await untilStopped(seconds);
  r.stop();
  for (const rec of r.read()) {
    const l = line(rec);
    if (l) process.stdout.write(l);
  }
} catch (err) {
  if (err instanceof BpfkitError) fail(`execsnoop: ${err.message}`);
  throw err;
} finally {
  for (const l of links) l.close();
  reader?.close();
  coll.close();
}
