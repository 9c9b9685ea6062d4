/**
 * Every accept.jsonl / accept-fixtures.jsonl case of ../shared/conformance/libpcap compiled by a
 * build of bpfkit/filter in both modes, one line per case and mode (the program, or the error):
 * for checking that a change to the compiler (a speed change, say) leaves every program byte for
 * byte as it was.
 *
 *   node scripts/filter-dump.mjs /tmp/base > /tmp/before.txt   # a copy of dist/ before the change
 *   node scripts/filter-dump.mjs dist > /tmp/after.txt && cmp /tmp/before.txt /tmp/after.txt
 */
import { readFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const dist = resolve(process.argv[2] ?? 'dist');
const { compile, fileResolver } = await import(pathToFileURL(resolve(dist, 'filter/index.js')).href);
const tables = resolve(dirname(fileURLToPath(import.meta.url)), '../../shared/conformance/libpcap');
const fixture = (f) => resolve(tables, 'fixtures', f);
const resolver = fileResolver({ hosts: fixture('hosts'), ethers: fixture('ethers'), networks: fixture('networks') });
const out = [];
for (const file of ['accept.jsonl', 'accept-fixtures.jsonl']) {
  for (const line of readFileSync(resolve(tables, file), 'utf8').split('\n')) {
    if (!line.trim()) continue;
    const c = JSON.parse(line);
    if (c.expr === '_enumerate_bpf_image') continue;
    for (const optimize of [true, false]) {
      let text;
      try {
        const prog = compile(c.expr, {
          linkType: c.dlt, optimize, snaplen: c.snaplen ?? undefined, netmask: c.netmask ?? undefined,
          linuxExt: c.linux_ext, offline: c.generate_offline_filter ?? false, resolver,
        });
        text = prog.map((i) => `${i.code.toString(16)},${i.jt},${i.jf},${(i.k >>> 0).toString(16)}`).join(' ');
      } catch (e) {
        text = `ERR ${e.message}`;
      }
      out.push(`${c.name} ${optimize ? 'O' : 'U'} ${text}`);
    }
  }
}
process.stdout.write(out.join('\n') + '\n');
