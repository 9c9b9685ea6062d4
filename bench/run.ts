/**
 * `npm run bench [-- NAME...]`: runs the benchmarks in this folder, each next
 * to its anchor (libpcap, tcpdump, the kernel, bpftool, bpftrace) in the same
 * run, and prints the ratios. A benchmark is a file bench/NAME.bench.ts that
 * exports `run(): Promise<void>`. Figures go into bench/RESULTS.md by hand,
 * with the date and machine.
 */
import { readdirSync } from 'node:fs';
import { dirname } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
const wanted = process.argv.slice(2);
const files = readdirSync(here)
  .filter((f) => f.endsWith('.bench.ts'))
  .filter((f) => wanted.length === 0 || wanted.includes(f.replace(/\.bench\.ts$/, '')))
  .sort();
if (files.length === 0) {
  console.error(`no benchmarks match ${wanted.join(' ')}`);
  process.exit(1);
}
for (const f of files) {
  console.log(`\n=== ${f.replace(/\.bench\.ts$/, '')} ===`);
  const mod = (await import(pathToFileURL(`${here}/${f}`).href)) as { run: () => Promise<void> };
  await mod.run();
}
