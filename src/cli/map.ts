/**
 * `bpfkit map list|show|dump|lookup|update|delete`: maps in the running
 * kernel, in the spirit of `bpftool map`. Maps are named `id N`,
 * `pinned PATH` or `name NAME`; keys and values are bytes written as bpftool
 * writes them: each word one byte (`1 0 0 0`, `0x2a`), or after the word
 * `hex`, hex bytes (`hex 01 00 00 00`, `hex 01000000`).
 *
 *   bpfkit map list [--json]
 *   bpfkit map dump id 7 [--json]
 *   bpfkit map update pinned /sys/fs/bpf/counts key 1 0 0 0 value hex 2a 00 00 00 00 00 00 00 [any|exist|noexist]
 */
import type { Command } from 'commander';
import { UsageError } from '../errors.js';
import type { KernelMap, MapInfoRecord } from '../kernel/map.js';

interface JsonOption {
  json?: boolean;
}

export function register(program: Command): void {
  const map = program.command('map').description('list, show, dump and update BPF maps in the kernel (like bpftool map); needs root');

  map
    .command('list')
    .description('every map in the kernel')
    .option('--json', 'JSON output')
    .action(async (opts: JsonOption) => {
      const k = await kernel();
      printInfos(k.listMaps(), opts, false);
    });

  map
    .command('show')
    .description('one map (or several sharing a name)')
    .argument('<map...>', 'id N | pinned PATH | name NAME')
    .option('--json', 'JSON output')
    .action(async (words: string[], opts: JsonOption) => {
      await withMaps(words, (maps) => printInfos(maps.map((m) => m.info()), opts, maps.length === 1));
    });

  map
    .command('dump')
    .description('every key and value of a map')
    .argument('<map...>', 'id N | pinned PATH | name NAME')
    .option('--json', 'JSON output')
    .action(async (words: string[], opts: JsonOption) => {
      await withMaps(words, (maps, k) => dump(one(maps, words), opts, k));
    });

  map
    .command('lookup')
    .description('the value at a key')
    .argument('<args...>', 'MAP key BYTES')
    .option('--json', 'JSON output')
    .action(async (args: string[], opts: JsonOption) => {
      const { ref, parts } = splitArgs(args, ['key']);
      await withMaps(ref, (maps) => {
        const m = one(maps, ref);
        const key = bytes(parts.key, 'key');
        const v = m.lookup(key);
        if (v === undefined) throw new UsageError(`map "${m.name}" has no key ${hexWords(key)}`);
        if (opts.json) process.stdout.write(JSON.stringify({ key: jsonBytes(key), value: jsonValue(m, v) }) + '\n');
        else process.stdout.write(formatEntry(m, key, v) + '\n');
      });
    });

  map
    .command('update')
    .description('insert or replace an element')
    .argument('<args...>', 'MAP key BYTES value BYTES [any|exist|noexist]')
    .action(async (args: string[]) => {
      const { ref, parts, flag } = splitArgs(args, ['key', 'value']);
      await withMaps(ref, (maps) => {
        const m = one(maps, ref);
        const key = bytes(parts.key, 'key');
        let value = bytes(parts.value, 'value');
        // A per-CPU map takes one value for every CPU, as bpftool does.
        if (value.length === m.spec.valueSize && m.valueSlotSize !== m.spec.valueSize) {
          const slot = Math.ceil(m.spec.valueSize / 8) * 8;
          const all = new Uint8Array(m.valueSlotSize);
          for (let at = 0; at < all.length; at += slot) all.set(value, at);
          value = all;
        }
        m.update(key, value, flag);
      });
    });

  map
    .command('delete')
    .description('remove an element')
    .argument('<args...>', 'MAP key BYTES')
    .action(async (args: string[]) => {
      const { ref, parts } = splitArgs(args, ['key']);
      await withMaps(ref, (maps) => one(maps, ref).delete(bytes(parts.key, 'key')));
    });
}

type Kernel = typeof import('../kernel/index.js');

async function withMaps(words: string[], use: (maps: KernelMap[], k: Kernel) => void): Promise<void> {
  const k = await kernel();
  const maps = k.openMaps(k.parseObjectRef(words, 'map'));
  try {
    use(maps, k);
  } finally {
    for (const m of maps) m.close();
  }
}

function one(maps: KernelMap[], ref: string[]): KernelMap {
  if (maps.length > 1) throw new UsageError(`${maps.length} maps match '${ref.join(' ')}': name one by id`);
  return maps[0]!;
}

const FLAGS: Record<string, number> = { any: 0, noexist: 1, exist: 2 };

/** Split `MAP-REF... key B... value B... [flag]` at the keywords. */
function splitArgs(args: string[], keywords: string[]): { ref: string[]; parts: Record<string, string[]>; flag: number } {
  const first = args.findIndex((a) => keywords.includes(a));
  if (first < 0) throw new UsageError(`expected ${keywords.map((k) => `${k} BYTES`).join(' ')} after the map`);
  const ref = args.slice(0, first);
  const parts: Record<string, string[]> = {};
  let current = '';
  let flag = 0;
  for (const a of args.slice(first)) {
    if (keywords.includes(a) && !parts[a]) {
      current = a;
      parts[a] = [];
    } else if (a in FLAGS && keywords.includes('value') && current === 'value' && parts.value!.length > 0) {
      flag = FLAGS[a]!;
      current = '';
    } else if (current) {
      parts[current]!.push(a);
    } else {
      throw new UsageError(`unexpected '${a}'`);
    }
  }
  for (const k of keywords) if (!parts[k]) throw new UsageError(`missing ${k} BYTES`);
  return { ref, parts, flag };
}

/** bpftool's byte syntax: each word a byte (0x.., decimal), or after `hex` hex digits. */
export function bytes(words: string[] | undefined, what: string): Uint8Array {
  const out: number[] = [];
  let hexMode = false;
  for (const w of words ?? []) {
    if (w === 'hex') {
      hexMode = true;
      continue;
    }
    if (hexMode) {
      if (!/^([0-9a-f]{2})+$/i.test(w)) throw new UsageError(`${what}: '${w}' is not hex bytes`);
      for (let i = 0; i < w.length; i += 2) out.push(parseInt(w.slice(i, i + 2), 16));
      continue;
    }
    const n = /^0x[0-9a-f]+$/i.test(w) ? parseInt(w, 16) : /^\d+$/.test(w) ? Number(w) : NaN;
    if (!(n >= 0 && n <= 255)) throw new UsageError(`${what}: '${w}' is not a byte (0..255, 0x00..0xff; or write 'hex' first)`);
    out.push(n);
  }
  return Uint8Array.from(out);
}

const hexWords = (b: Uint8Array) => Array.from(b, (x) => x.toString(16).padStart(2, '0')).join(' ');
const jsonBytes = (b: Uint8Array) => Array.from(b, (x) => `0x${x.toString(16).padStart(2, '0')}`);

function perCpuSlots(m: KernelMap, v: Uint8Array): Uint8Array[] {
  const slot = Math.ceil(m.spec.valueSize / 8) * 8;
  const out: Uint8Array[] = [];
  for (let at = 0; at < v.length; at += slot) out.push(v.subarray(at, at + m.spec.valueSize));
  return out;
}

function jsonValue(m: KernelMap, v: Uint8Array): unknown {
  if (m.valueSlotSize === m.spec.valueSize) return jsonBytes(v);
  return perCpuSlots(m, v).map((s, cpu) => ({ cpu, value: jsonBytes(s) }));
}

function formatEntry(m: KernelMap, key: Uint8Array, v: Uint8Array): string {
  if (m.valueSlotSize === m.spec.valueSize) return `key: ${hexWords(key)}  value: ${hexWords(v)}`;
  const lines = [`key:`, hexWords(key)];
  perCpuSlots(m, v).forEach((s, cpu) => lines.push(`value (CPU ${String(cpu).padStart(2, '0')}): ${hexWords(s)}`));
  return lines.join('\n');
}

function dump(m: KernelMap, opts: JsonOption, k: Kernel): void {
  const entries: [Uint8Array, Uint8Array][] = [];
  if (m.spec.keySize === 0) throw new UsageError(`map "${m.name}" (${m.info().typeName}) has no keys to dump`);
  try {
    for (const e of m.entries()) entries.push(e);
  } catch (err) {
    if (err instanceof k.KernelError && (err.errnoName === 'EOPNOTSUPP' || err.errnoName === 'ENOTSUPP')) {
      throw new UsageError(`map "${m.name}" (${m.info().typeName}) cannot be read from user space`);
    }
    throw err;
  }
  if (opts.json) {
    process.stdout.write(JSON.stringify(entries.map(([k, v]) => ({ key: jsonBytes(k), value: jsonValue(m, v) }))) + '\n');
    return;
  }
  const lines = entries.map(([k, v]) => formatEntry(m, k, v));
  lines.push(`Found ${entries.length} element${entries.length === 1 ? '' : 's'}`);
  process.stdout.write(lines.join('\n') + '\n');
}

function printInfos(infos: MapInfoRecord[], opts: JsonOption, single: boolean): void {
  if (opts.json) {
    const out = infos.map((m) => ({
      id: m.id,
      type: m.typeName.toLowerCase(),
      name: m.name,
      flags: m.flags,
      bytes_key: m.keySize,
      bytes_value: m.valueSize,
      max_entries: m.maxEntries,
      btf_id: m.btfId,
    }));
    process.stdout.write(JSON.stringify(single ? out[0] : out, null, 2) + '\n');
    return;
  }
  const lines: string[] = [];
  for (const m of infos) {
    lines.push(`${m.id}: ${m.typeName.toLowerCase()}  name ${m.name || '(none)'}  flags 0x${m.flags.toString(16)}`);
    lines.push(`\tkey ${m.keySize}B  value ${m.valueSize}B  max_entries ${m.maxEntries}${m.btfId ? `  btf_id ${m.btfId}` : ''}`);
  }
  if (lines.length) process.stdout.write(lines.join('\n') + '\n');
}

/** The kernel engine, loaded on first use; refuses at once (one clear message) without BPF privileges. */
async function kernel(): Promise<typeof import('../kernel/index.js')> {
  const k = await import('../kernel/index.js');
  k.requireBpfCapabilities();
  return k;
}
