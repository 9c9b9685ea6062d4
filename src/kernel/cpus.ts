/**
 * CPU sets as the kernel lists them in sysfs (`0-3,5`): per-CPU map values
 * have one slot per possible CPU, perf buffers one ring per online CPU.
 */
import { readFileSync } from 'node:fs';

/** Parse a kernel CPU list (`0-3,5,7-8`) into CPU numbers. */
export function parseCpuList(text: string): number[] {
  const out: number[] = [];
  for (const part of text.trim().split(',')) {
    if (!part) continue;
    const m = /^(\d+)(?:-(\d+))?$/.exec(part.trim());
    if (!m) throw new Error(`bad CPU list: ${text.trim()}`);
    const lo = Number(m[1]);
    const hi = m[2] === undefined ? lo : Number(m[2]);
    for (let c = lo; c <= hi; c++) out.push(c);
  }
  return out;
}

let possible: number | undefined;
let online: number[] | undefined;

/** Number of possible CPUs: the slot count of per-CPU map values. */
export function possibleCpus(): number {
  if (possible === undefined) {
    const cpus = parseCpuList(readFileSync('/sys/devices/system/cpu/possible', 'utf8'));
    possible = Math.max(...cpus) + 1;
  }
  return possible;
}

/** The online CPUs: where perf buffers need a ring. */
export function onlineCpus(): number[] {
  return (online ??= parseCpuList(readFileSync('/sys/devices/system/cpu/online', 'utf8')));
}
