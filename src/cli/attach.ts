/**
 * `bpfkit attach PROGRAM [TARGET]`: attach a program in the running kernel,
 * in the spirit of bpftool (`bpftool prog attach`, `net attach`, `cgroup
 * attach`, `link pin`) with bpftrace's way of naming targets.
 *
 *   bpfkit attach counter.bpf.o                                   # where its SEC() says (tracepoint/..., uprobe/..., usdt/...)
 *   bpfkit attach counter.bpf.o tracepoint:syscalls:sys_enter_openat --duration 5
 *   bpfkit attach xdp.bpf.o xdp:eth0 --mode native --pin /sys/fs/bpf/xdp_eth0
 *   bpfkit attach pinned /sys/fs/bpf/prog uprobe:libc:malloc --pid 1234
 *   bpfkit attach id 42 cgroup:/sys/fs/cgroup/app:egress --pin /sys/fs/bpf/app_egress
 *
 * With --pin the link is pinned on a bpf filesystem and bpfkit exits: the
 * attachment stays until the pin is removed (rm PATH). Without it bpfkit
 * stays attached until Ctrl-C (or --duration), then prints the object's
 * maps, like bpftrace, and detaches.
 */
import { mkdirSync, rmSync } from 'node:fs';
import type { Command } from 'commander';
import { UsageError } from '../errors.js';
import type { KernelMap } from '../kernel/map.js';
import type { KernelProgram } from '../kernel/program.js';
import type { Link } from '../kernel/link.js';
import type { KernelCollection } from '../kernel/collection.js';

interface AttachCliOptions {
  program?: string;
  pin?: string;
  pinmaps?: string;
  pid?: string;
  mode?: string;
  netns?: string;
  freq?: string;
  period?: string;
  cookie?: string;
  duration?: string;
  dev?: string;
  cgroup?: string;
}

const TARGETS = `Targets (KIND:WHERE):
  tracepoint:GROUP:NAME        raw_tracepoint:NAME          tp_btf:NAME
  uprobe:BINARY:SYMBOL[+OFF]   uretprobe:BINARY:SYMBOL      usdt:BINARY:PROVIDER:NAME
  kprobe:FUNC[+OFF]            kretprobe:FUNC               fentry:FUNC  fexit:FUNC  lsm:HOOK
  perf_event:EVENT (--freq HZ or --period N)                timer:INTERVAL (10ms, 1s, 99hz)
  xdp:IFACE (--mode generic|native)   tcx:ingress:IFACE   tcx:egress:IFACE   cgroup:PATH:TYPE
BINARY is a path, a library name (libc) or a program on $PATH.`;

export function register(program: Command): void {
  program
    .command('attach')
    .description('attach a BPF program in the kernel: to a tracepoint, uprobe, USDT probe, perf event, XDP, tcx or a cgroup (needs root)')
    .argument('<program...>', 'OBJECT.bpf.o | pinned PATH | id N, then the TARGET (default: from the program\'s SEC() name)')
    .option('--program <name>', 'the program of the object (default: its only program)')
    .option('--pin <path>', 'pin the link at PATH on a bpf filesystem and exit; it stays attached until the pin is removed')
    .option('--pinmaps <dir>', "with an object and --pin: pin its maps in DIR (read them with 'bpfkit map dump pinned DIR/NAME')")
    .option('--pid <pid>', 'uprobes, USDT, perf events: only in this process')
    .option('--mode <mode>', 'xdp: generic, native or offload; uprobe, usdt, kprobe: pmu or tracefs')
    .option('--netns <name>', 'xdp, tcx: the interface is in this network namespace')
    .option('--freq <hz>', 'perf_event: samples per second on each CPU')
    .option('--period <n>', 'perf_event: one sample every N events (ns for the clocks)')
    .option('--cookie <n>', 'a BPF cookie the program reads with bpf_get_attach_cookie()')
    .option('--duration <seconds>', 'stay attached this long (default: until Ctrl-C)')
    .option('--dev <iface>', 'for an xdp or tc/tcx section without a target: the interface')
    .option('--cgroup <path>', 'for a cgroup section without a target: the cgroup v2 directory')
    .addHelpText('after', `\n${TARGETS}`)
    .action(async (words: string[], opts: AttachCliOptions) => {
      process.exitCode = await attach(words, opts);
    });
}

function integer(text: string | undefined, what: string): number | undefined {
  if (text === undefined) return undefined;
  if (!/^\d+$/.test(text)) throw new UsageError(`${what} needs a whole number, not '${text}'`);
  return Number(text);
}

async function attach(words: string[], opts: AttachCliOptions): Promise<number> {
  const k = await import('../kernel/index.js');
  k.requireBpfCapabilities();
  const pid = integer(opts.pid, '--pid');
  const freq = integer(opts.freq, '--freq');
  const period = opts.period === undefined ? undefined : BigInt(integer(opts.period, '--period')!);
  if (opts.cookie !== undefined && !/^(\d+|0x[0-9a-fA-F]+)$/.test(opts.cookie)) throw new UsageError(`--cookie needs a whole number, not '${opts.cookie}'`);
  const cookie = opts.cookie === undefined ? undefined : BigInt(opts.cookie);
  if (cookie !== undefined && cookie >= 1n << 64n) throw new UsageError(`--cookie must fit in 64 bits, not '${opts.cookie}'`);
  const duration = opts.duration === undefined ? undefined : Number(opts.duration);
  if (duration !== undefined && !(duration > 0)) throw new UsageError(`--duration needs a positive number of seconds, not '${opts.duration}'`);

  // The program: from an object file, or one already in the kernel.
  let coll: KernelCollection | undefined;
  let prog: KernelProgram;
  let targetText: string | undefined;
  let section: string | undefined;
  if (words[0] === 'pinned' || words[0] === 'id') {
    if (words.length < 3) throw new UsageError(`give the program (${words[0]} ${words[0] === 'id' ? 'N' : 'PATH'}) and a target`);
    if (words.length > 3) throw new UsageError(`unexpected '${words.slice(3).join(' ')}' after the target`);
    prog = words[0] === 'pinned' ? k.KernelProgram.fromPin(words[1]!) : k.KernelProgram.fromId(integer(words[1], 'id')!);
    targetText = words[2];
  } else {
    if (words.length > 2) throw new UsageError(`unexpected '${words.slice(2).join(' ')}' after the target`);
    targetText = words[1];
    ({ coll, prog, section } = await loadFromObject(k, words[0]!, opts.program, targetText));
  }

  let link: Link | undefined;
  try {
    if (targetText === undefined) {
      targetText = k.targetFromSection(section ?? '', { ...(opts.dev ? { iface: opts.dev } : {}), ...(opts.cgroup ? { cgroup: opts.cgroup } : {}) });
      if (targetText === undefined) {
        throw new UsageError(`program ${prog.name} (section ${section ?? '?'}) does not say where to attach: give a target\n${TARGETS}`);
      }
    }
    link = k.attachTo(prog, targetText, {
      ...(pid !== undefined ? { pid } : {}),
      ...(cookie !== undefined ? { cookie } : {}),
      ...(opts.mode !== undefined ? { mode: opts.mode } : {}),
      ...(opts.netns !== undefined ? { netns: opts.netns } : {}),
      ...(freq !== undefined ? { frequency: freq } : {}),
      ...(period !== undefined ? { period } : {}),
      ...(coll?.maps.__bpf_usdt_specs ? { usdtSpecs: coll.maps.__bpf_usdt_specs } : {}),
    });
    const progId = prog.info().id;
    const linkId = link.isBpfLink ? ` link id ${link.id}` : '';
    if (opts.pin !== undefined) {
      if (!link.isBpfLink) throw new UsageError(`this ${link.kind} attachment is not a bpf_link (the kernel lacks one for it), so it cannot be pinned`);
      // Maps first: if anything fails, no pin is left behind (the link goes with its fd).
      const mapPins = opts.pinmaps !== undefined && coll ? pinMaps(coll, opts.pinmaps, k.pinName) : { paths: [], lines: [] };
      try {
        link.pin(opts.pin);
      } catch (err) {
        for (const p of mapPins.paths) rmSync(p, { force: true });
        throw err;
      }
      process.stdout.write(`pinned ${link.kind} ${link.target}: program ${prog.name} (id ${progId})${linkId} at ${opts.pin}\n`);
      for (const line of mapPins.lines) process.stdout.write(line);
      return 0;
    }
    process.stderr.write(`attached ${link.kind} ${link.target}: program ${prog.name} (id ${progId})${linkId}; ${duration ? `detaching in ${duration} s` : 'Ctrl-C to detach'}\n`);
    await waitForStop(duration);
    if (coll) process.stdout.write(formatMaps(coll));
    return 0;
  } finally {
    link?.close();
    coll?.close();
    if (!coll) prog.close();
  }
}

async function loadFromObject(
  k: typeof import('../kernel/index.js'),
  file: string,
  wanted: string | undefined,
  targetText: string | undefined,
): Promise<{ coll: KernelCollection; prog: KernelProgram; section: string | undefined }> {
  const elf = await import('../elf/index.js');
  const spec = elf.loadCollectionSpec(file);
  const names = Object.keys(spec.programs);
  if (names.length === 0) throw new UsageError(`${file} has no programs`);
  const name = wanted ?? (names.length === 1 ? names[0]! : undefined);
  if (name === undefined) throw new UsageError(`${file} has ${names.length} programs (${names.join(', ')}): choose one with --program`);
  const ps = spec.programs[name];
  if (!ps) throw new UsageError(`${file} has no program ${name} (it has ${names.join(', ')})`);
  // tp_btf, fentry, fexit, fmod_ret and lsm programs name their target when they load.
  const programs: Record<string, { attachBtfId: number }> = {};
  const match = ps.section ? elf.matchSection(ps.section) : undefined;
  if (match?.def.btfTarget && ps.attachType !== undefined && match.def.hook !== 'iter') {
    let target = ps.attachTo;
    if (targetText !== undefined) {
      const t = k.parseAttachTarget(targetText);
      if ('name' in t) target = t.name;
    }
    if (!target) throw new UsageError(`program ${name} (section ${ps.section}) needs a target function, tracepoint or hook`);
    programs[name] = { attachBtfId: k.tracingTarget(ps.attachType, target) };
  }
  const coll = k.loadCollection(spec, { only: [name], programs });
  return { coll, prog: coll.programs[name]!, section: ps.section };
}

/** Pin every map of the collection in `dir` (made if missing); on failure the pins made so far are removed. */
function pinMaps(coll: KernelCollection, dir: string, pinName: (n: string) => string): { paths: string[]; lines: string[] } {
  const paths: string[] = [];
  const lines: string[] = [];
  try {
    mkdirSync(dir, { recursive: true });
    for (const [name, m] of Object.entries(coll.maps)) {
      const path = `${dir.replace(/\/$/, '')}/${pinName(name)}`;
      m.pin(path);
      paths.push(path);
      lines.push(`pinned map ${name} (id ${m.info().id}) at ${path}\n`);
    }
  } catch (err) {
    for (const p of paths) rmSync(p, { force: true });
    throw err;
  }
  return { paths, lines };
}

function waitForStop(duration: number | undefined): Promise<void> {
  return new Promise((resolve) => {
    const done = () => {
      process.removeListener('SIGINT', done);
      process.removeListener('SIGTERM', done);
      process.removeListener('SIGHUP', done);
      clearTimeout(timer);
      clearInterval(keepAlive);
      resolve();
    };
    process.on('SIGINT', done);
    process.on('SIGTERM', done);
    process.on('SIGHUP', done);
    const timer = duration !== undefined ? setTimeout(done, duration * 1000) : undefined;
    // Signal listeners alone do not keep Node's event loop alive.
    const keepAlive = setInterval(() => {}, 1 << 30);
  });
}

const HASH_LIKE = new Set([1, 2, 5, 6, 9, 10]); // HASH, ARRAY, PERCPU_HASH, PERCPU_ARRAY, LRU_HASH, LRU_PERCPU_HASH

function number(bytes: Uint8Array): string {
  if (bytes.length === 0 || bytes.length > 8 || (bytes.length & (bytes.length - 1)) !== 0) return Buffer.from(bytes).toString('hex');
  let v = 0n;
  for (let i = bytes.length - 1; i >= 0; i--) v = (v << 8n) | BigInt(bytes[i]!);
  return v.toString();
}

/** The object's maps as bpftrace prints them at exit: `@name[key]: value` per entry (numbers when they are 1-8 bytes, else hex). */
export function formatMaps(coll: KernelCollection): string {
  const out: string[] = [];
  for (const [name, m] of Object.entries(coll.maps) as [string, KernelMap][]) {
    if (!HASH_LIKE.has(m.spec.type) || name.startsWith('.') || name.startsWith('__bpf_usdt')) continue;
    const perCpu = m.spec.type === 5 || m.spec.type === 6 || m.spec.type === 10;
    const lines: string[] = [];
    for (const [key, value] of m.entries()) {
      let v = value;
      if (perCpu) {
        // Per-CPU slots (each rounded up to 8 bytes) summed when they are counters.
        const slot = (m.spec.valueSize + 7) & ~7;
        if (m.spec.valueSize === 8) {
          let sum = 0n;
          const dv = new DataView(value.buffer, value.byteOffset, value.byteLength);
          for (let o = 0; o + 8 <= value.length; o += slot) sum += dv.getBigUint64(o, true);
          lines.push(`@${name}[${number(key)}]: ${sum}`);
          continue;
        }
        v = value.subarray(0, m.spec.valueSize);
      }
      // Arrays list every index; skip the untouched (all-zero) ones.
      if (m.spec.type === 2 && v.every((b) => b === 0)) continue;
      lines.push(`@${name}[${number(key)}]: ${number(v)}`);
    }
    if (lines.length > 0) out.push(...lines, '');
  }
  return out.join('\n');
}
