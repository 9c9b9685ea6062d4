/**
 * `bpfkit prog list|show|load|run`: programs in the running kernel, in the
 * spirit of `bpftool prog`. Programs are named as bpftool names them:
 * `id N`, `pinned PATH`, `name NAME` or `tag HEX`.
 *
 *   bpfkit prog list [--json]
 *   bpfkit prog show id 42
 *   bpfkit prog load obj.bpf.o /sys/fs/bpf/myprog [--program NAME] [--all] [--pinmaps DIR]
 *   bpfkit prog load filter.s /sys/fs/bpf/f --type socket_filter [--map NAME=PINNED]
 *   bpfkit prog run pinned /sys/fs/bpf/f --data-in pkt.bin --repeat 100
 *
 * Loading pins what it loads (a program without a pin or an fd is gone when
 * bpfkit exits), so PATH must be on a bpf filesystem.
 */
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Command } from 'commander';
import { UsageError } from '../errors.js';
import type { ProgType } from '../ebpf/types.js';
import type { ProgramInfo } from '../kernel/program.js';

interface ShowOptions {
  json?: boolean;
}

export function register(program: Command): void {
  const prog = program
    .command('prog')
    .description('list, show, load and test-run BPF programs in the kernel (like bpftool prog); needs root');

  prog
    .command('list')
    .description('every program loaded in the kernel')
    .option('--json', 'JSON output')
    .action(async (opts: ShowOptions) => {
      const k = await kernel();
      print(k.listPrograms(), opts, false);
    });

  prog
    .command('show')
    .description('one program (or several sharing a name or tag)')
    .argument('<program...>', 'id N | pinned PATH | name NAME | tag HEX')
    .option('--json', 'JSON output')
    .action(async (words: string[], opts: ShowOptions) => {
      const k = await kernel();
      const progs = k.openPrograms(k.parseObjectRef(words, 'program'));
      try {
        print(
          progs.map((p) => p.info()),
          opts,
          progs.length === 1,
        );
      } finally {
        for (const p of progs) p.close();
      }
    });

  prog
    .command('load')
    .description('load a BPF object (or an assembled program) into the kernel and pin it at PATH on a bpf filesystem')
    .argument('<file>', 'a clang-compiled BPF object, or eBPF assembly text (with --type)')
    .argument('<path>', 'where to pin: the program, or with --all a directory of programs')
    .option('--program <name>', 'the program of the object to load (default: its only program)')
    .option('--all', 'load every program of the object and pin each at PATH/NAME')
    .option('--type <type>', 'program type of assembly text (socket_filter, xdp, sched_cls, raw_tracepoint, ...)')
    .option('--map <name=pinned>', 'use the map pinned at PINNED for the map NAME (repeatable)', collect, [])
    .option('--pinmaps <dir>', 'pin every map of the object in DIR')
    .option('--license <license>', 'license of assembly text', 'GPL')
    .action(async (file: string, path: string, opts: LoadOptions) => {
      await load(file, path, opts);
    });

  prog
    .command('run')
    .description('test-run a program with BPF_PROG_TEST_RUN and print its return value')
    .argument('<program...>', 'id N | pinned PATH | name NAME | tag HEX')
    .option('--data-in <file>', 'packet data from a file')
    .option('--data <hex>', 'packet data as hex')
    .option('--data-out <file>', 'write the output packet to a file')
    .option('--ctx-in <file>', 'context (e.g. struct __sk_buff) from a file')
    .option('--ctx-out <file>', 'write the output context to a file')
    .option('--repeat <n>', 'run N times; the duration is the mean', '1')
    .option('--cpu <n>', 'run on this CPU (raw tracepoint programs)')
    .option('--json', 'JSON output')
    .action(async (words: string[], opts: RunOptions) => {
      await run(words, opts);
    });
}

function collect(value: string, previous: string[]): string[] {
  return [...previous, value];
}

const hex = (b: Uint8Array) => Buffer.from(b).toString('hex');

/** Nanoseconds since boot → wall-clock time, as bpftool shows loaded_at. */
function loadedAt(bootNs: bigint): string {
  const uptime = Number(readFileSync('/proc/uptime', 'utf8').split(' ')[0]);
  const ms = Date.now() - (uptime * 1000 - Number(bootNs / 1_000_000n));
  return new Date(Math.round(ms / 1000) * 1000).toISOString().replace('.000Z', '+0000');
}

function print(infos: ProgramInfo[], opts: ShowOptions, single: boolean): void {
  if (opts.json) {
    const out = infos.map((p) => ({
      id: p.id,
      type: p.typeName.toLowerCase(),
      name: p.name,
      tag: p.tag,
      gpl_compatible: p.gplCompatible,
      loaded_at: loadedAt(p.loadTime),
      uid: p.createdByUid,
      bytes_xlated: p.xlatedLength,
      bytes_jited: p.jitedLength,
      map_ids: p.mapIds,
      btf_id: p.btfId,
      run_time_ns: Number(p.runTimeNs),
      run_cnt: Number(p.runCount),
      verified_insns: p.verifiedInsns,
    }));
    process.stdout.write(JSON.stringify(single ? out[0] : out, null, 2) + '\n');
    return;
  }
  const lines: string[] = [];
  for (const p of infos) {
    lines.push(`${p.id}: ${p.typeName.toLowerCase()}  name ${p.name || '(none)'}  tag ${p.tag}${p.gplCompatible ? '  gpl' : ''}`);
    lines.push(`\tloaded_at ${loadedAt(p.loadTime)}  uid ${p.createdByUid}`);
    const maps = p.mapIds.length ? `  map_ids ${p.mapIds.join(',')}` : '';
    lines.push(`\txlated ${p.xlatedLength}B  jited ${p.jitedLength}B${maps}`);
    if (p.btfId) lines.push(`\tbtf_id ${p.btfId}`);
  }
  if (lines.length) process.stdout.write(lines.join('\n') + '\n');
}

interface LoadOptions {
  program?: string;
  all?: boolean;
  type?: string;
  map: string[];
  pinmaps?: string;
  license: string;
}

/** A program type by name: socket_filter, xdp, sched_cls (tc), raw_tracepoint (raw_tp), ... */
async function progTypeByName(name: string): Promise<ProgType> {
  const { ProgType } = await import('../ebpf/types.js');
  const aliases: Record<string, string> = { socket: 'SOCKET_FILTER', tc: 'SCHED_CLS', raw_tp: 'RAW_TRACEPOINT', cgroup_skb: 'CGROUP_SKB' };
  const key = aliases[name.toLowerCase()] ?? name.toUpperCase();
  const t = (ProgType as Record<string, number>)[key];
  if (t === undefined || t === 0) {
    const known = Object.keys(ProgType)
      .filter((k) => k !== 'UNSPEC')
      .map((k) => k.toLowerCase());
    throw new UsageError(`unknown program type '${name}' (one of: ${known.join(', ')})`);
  }
  return t as ProgType;
}

async function load(file: string, path: string, opts: LoadOptions): Promise<void> {
  const k = await kernel();
  let bytes: Uint8Array;
  try {
    bytes = readFileSync(file);
  } catch (e) {
    throw new UsageError(`cannot read ${file}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`);
  }
  if (!k.isOnBpffs(path)) throw new UsageError(`${path} is not on a bpf filesystem (mount -t bpf bpf DIR, or use /sys/fs/bpf)`);
  // Maps named on the command line: NAME=PINNED.
  const given: Record<string, InstanceType<typeof k.KernelMap>> = {};
  const closeGiven = () => Object.values(given).forEach((m) => m.close());
  try {
    for (const m of opts.map) {
      const eq = m.indexOf('=');
      if (eq <= 0) throw new UsageError(`--map wants NAME=PINNED_PATH, not '${m}'`);
      given[m.slice(0, eq)] = k.KernelMap.fromPin(m.slice(eq + 1));
    }
    const isElf = bytes.length >= 4 && bytes[0] === 0x7f && bytes[1] === 0x45 && bytes[2] === 0x4c && bytes[3] === 0x46;
    if (isElf) await loadObject(bytes, file, path, opts, given);
    else await loadAssembly(bytes, file, path, opts, given);
  } finally {
    closeGiven();
  }
}

async function loadObject(
  bytes: Uint8Array,
  file: string,
  path: string,
  opts: LoadOptions,
  given: Record<string, import('../kernel/map.js').KernelMap>,
): Promise<void> {
  const k = await kernel();
  const { loadCollectionSpec } = await import('../elf/index.js');
  const spec = loadCollectionSpec(bytes);
  const names = Object.keys(spec.programs);
  if (names.length === 0) throw new UsageError(`${file} has no programs`);
  let only: string[];
  if (opts.all) only = names;
  else if (opts.program) {
    if (!spec.programs[opts.program]) throw new UsageError(`${file} has no program '${opts.program}' (it has: ${names.join(', ')})`);
    only = [opts.program];
  } else if (names.length === 1) only = names;
  else throw new UsageError(`${file} has ${names.length} programs (${names.join(', ')}): choose one with --program NAME, or --all`);
  for (const name of Object.keys(given)) {
    if (!spec.maps[name]) throw new UsageError(`${file} has no map '${name}' (it has: ${Object.keys(spec.maps).join(', ')})`);
  }
  const c = k.loadCollection(spec, { only, maps: given });
  const pinned: string[] = [];
  try {
    if (opts.all) mkdirSync(path, { recursive: true });
    for (const name of only) {
      const at = opts.all ? join(path, name) : path;
      c.programs[name]!.pin(at);
      pinned.push(at);
      process.stdout.write(`pinned program ${name} (id ${c.programs[name]!.info().id}) at ${at}\n`);
    }
    if (opts.pinmaps) {
      mkdirSync(opts.pinmaps, { recursive: true });
      for (const [name, m] of Object.entries(c.maps)) {
        if (given[name]) continue;
        const at = join(opts.pinmaps, k.pinName(name));
        m.pin(at);
        pinned.push(at);
        process.stdout.write(`pinned map ${name} (id ${m.info().id}) at ${at}\n`);
      }
    }
  } catch (err) {
    for (const p of pinned) k.unpin(p);
    throw err;
  } finally {
    c.close();
  }
}

async function loadAssembly(
  bytes: Uint8Array,
  file: string,
  path: string,
  opts: LoadOptions,
  given: Record<string, import('../kernel/map.js').KernelMap>,
): Promise<void> {
  if (!opts.type) throw new UsageError(`${file} is not an ELF object: give --type to load it as eBPF assembly`);
  const type = await progTypeByName(opts.type);
  const k = await kernel();
  const { assembleText } = await import('../ebpf/asm.js');
  const asm = assembleText(new TextDecoder().decode(bytes), { file });
  const name = (opts.program ?? file.replace(/^.*\//, '').replace(/\.[^.]*$/, '')).replace(/[^A-Za-z0-9_]/g, '_');
  const p = k.loadProgram({ name, type, license: opts.license, instructions: asm.instructions, references: asm.references }, { maps: given });
  try {
    p.pin(path);
    process.stdout.write(`pinned program ${name} (id ${p.info().id}) at ${path}\n`);
  } finally {
    p.close();
  }
}

interface RunOptions {
  dataIn?: string;
  data?: string;
  dataOut?: string;
  ctxIn?: string;
  ctxOut?: string;
  repeat: string;
  cpu?: string;
  json?: boolean;
}

function readFile(path: string, what: string): Uint8Array {
  try {
    return readFileSync(path);
  } catch (e) {
    throw new UsageError(`cannot read ${what} ${path}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`);
  }
}

function parseHex(text: string): Uint8Array {
  const clean = text.replace(/^0x/i, '').replace(/[\s:]/g, '');
  if (!/^([0-9a-f]{2})*$/i.test(clean)) throw new UsageError(`--data must be hex bytes, not '${text}'`);
  return Uint8Array.from(clean.match(/../g) ?? [], (h) => parseInt(h, 16));
}

function integer(text: string, what: string, min: number): number {
  const n = Number(text);
  if (!Number.isSafeInteger(n) || n < min) throw new UsageError(`${what} must be an integer ≥ ${min}, not '${text}'`);
  return n;
}

async function run(words: string[], opts: RunOptions): Promise<void> {
  const k = await kernel();
  if (opts.data && opts.dataIn) throw new UsageError('give packet data with --data or --data-in, not both');
  const data = opts.dataIn ? readFile(opts.dataIn, 'data') : opts.data ? parseHex(opts.data) : undefined;
  const ctx = opts.ctxIn ? readFile(opts.ctxIn, 'context') : undefined;
  const repeat = integer(opts.repeat, '--repeat', 1);
  const cpu = opts.cpu === undefined ? undefined : integer(opts.cpu, '--cpu', 0);
  const progs = k.openPrograms(k.parseObjectRef(words, 'program'));
  try {
    if (progs.length > 1) throw new UsageError(`${progs.length} programs match '${words.join(' ')}': name one by id`);
    const p = progs[0]!;
    const r = p.testRun({ data, ctx, repeat: repeat > 1 ? repeat : undefined, cpu });
    if (opts.dataOut) writeFileSync(opts.dataOut, r.dataOut);
    if (opts.ctxOut && r.ctxOut) writeFileSync(opts.ctxOut, r.ctxOut);
    if (opts.json) {
      const out: Record<string, unknown> = { retval: r.retval, duration: r.duration };
      if (data && !opts.dataOut) out.data_out = hex(r.dataOut);
      if (r.ctxOut && !opts.ctxOut) out.ctx_out = hex(r.ctxOut);
      process.stdout.write(JSON.stringify(out) + '\n');
      return;
    }
    process.stdout.write(`Return value: ${r.retval}, duration${repeat > 1 ? ' (average)' : ''}: ${r.duration}ns\n`);
    if (data && !opts.dataOut) process.stdout.write(`data_out: ${hex(r.dataOut)}\n`);
  } finally {
    for (const p of progs) p.close();
  }
}

/** The kernel engine, loaded on first use; refuses at once (one clear message) without BPF privileges. */
async function kernel(): Promise<typeof import('../kernel/index.js')> {
  const k = await import('../kernel/index.js');
  k.requireBpfCapabilities();
  return k;
}
