/**
 * Block I/O latency as a log2 histogram, per disk, from the
 * block:block_rq_issue and block:block_rq_complete tracepoints (what
 * disksnoop did with kprobes on blk_start_request, which no longer exists).
 *
 *   npx tsx examples/biolatency/biolatency.ts                    # until Ctrl-C
 *   npx tsx examples/biolatency/biolatency.ts --duration 10      # for 10 seconds
 *   npx tsx examples/biolatency/biolatency.ts --interval 1       # a histogram every second
 *   npx tsx examples/biolatency/biolatency.ts --disk vda         # one disk
 *
 * The BPF side (biolatency.bpf.c) stamps each request at issue, keyed by
 * device and sector, and at completion counts the elapsed microseconds in
 * slot log2(us) of the device's histogram.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { BpfkitError } from '../../src/index.js';
import { attachTracepoint } from '../../src/kernel/index.js';
import { duration, fail, loadBpf, u32, u64, untilStopped } from '../common.js';

const { values } = parseArgs({ options: { duration: { type: 'string' }, interval: { type: 'string' }, disk: { type: 'string' } } });
const seconds = duration(values.duration);
const interval = duration(values.interval);

/** The kernel's dev_t of a disk (major << 20 | minor), from /sys/block/NAME/dev. */
function devOf(disk: string): number {
  let text: string;
  try {
    text = readFileSync(`/sys/block/${disk}/dev`, 'utf8');
  } catch {
    return fail(`biolatency: no disk ${disk} (see /sys/block)`);
  }
  const [major, minor] = text.trim().split(':').map(Number);
  return ((major! << 20) | minor!) >>> 0;
}

/** A disk's name from its dev_t. */
function diskName(dev: number): string {
  const id = `${dev >>> 20}:${dev & 0xfffff}`;
  try {
    return /DEVNAME=(\S+)/.exec(readFileSync(`/sys/dev/block/${id}/uevent`, 'utf8'))?.[1] ?? id;
  } catch {
    return id;
  }
}

/** bcc's histogram layout: one line per slot from the first to the last non-empty one. */
export function formatHistogram(slots: bigint[], unit = 'usecs'): string {
  const last = slots.findLastIndex((n) => n > 0n);
  if (last < 0) return `${unit}: no I/O\n`;
  const max = slots.reduce((a, b) => (b > a ? b : a), 0n);
  const lines = [`${unit.padStart(10)}${''.padStart(14)}: count    distribution`];
  for (let i = 0; i <= last; i++) {
    const lo = i === 0 ? 0 : 2 ** i;
    const hi = 2 ** (i + 1) - 1;
    const stars = max > 0n ? Number((slots[i]! * 40n) / max) : 0;
    lines.push(`${String(lo).padStart(10)} -> ${String(hi).padEnd(10)}: ${String(slots[i]).padEnd(8)} |${'*'.repeat(stars).padEnd(40)}|`);
  }
  return `${lines.join('\n')}\n`;
}

const coll = loadBpf(join(import.meta.dirname, 'biolatency.bpf.c'));
const links = [];
try {
  if (values.disk !== undefined) {
    const b = new Uint8Array(4);
    new DataView(b.buffer).setUint32(0, devOf(values.disk), true);
    coll.writeVariable('target_dev', b);
  }
  links.push(attachTracepoint(coll.programs.rq_issue!, 'block', 'block_rq_issue'));
  links.push(attachTracepoint(coll.programs.rq_complete!, 'block', 'block_rq_complete'));
  process.stderr.write(`tracing block I/O${values.disk ? ` on ${values.disk}` : ''}; ${seconds ? `for ${seconds} s` : 'Ctrl-C to stop'}\n`);

  const print = () => {
    const out: string[] = [];
    for (const [k, v] of coll.maps.hists!.entries()) {
      const slots = Array.from({ length: v.length / 8 }, (_, i) => u64(v, i * 8));
      out.push(`disk = ${diskName(u32(k))}\n${formatHistogram(slots)}`);
      if (interval !== undefined) coll.maps.hists!.delete(k);
    }
    process.stdout.write(out.length > 0 ? `${out.join('\n')}\n` : 'no block I/O completed\n');
  };
  const every = interval !== undefined ? setInterval(print, interval * 1000) : undefined;
  await untilStopped(seconds);
  clearInterval(every);
  print();
} catch (err) {
  if (err instanceof BpfkitError) fail(`biolatency: ${err.message}`);
  throw err;
} finally {
  for (const l of links) l.close();
  coll.close();
}
