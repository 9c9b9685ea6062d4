/**
 * `bpfkit read -r FILE [-w OUT] [-c COUNT] [--count] [-F PROGRAM] [-y LINKTYPE] [EXPRESSION]`:
 * read a pcap or pcapng capture like `tcpdump -r`, keep the packets a classic
 * BPF filter accepts, and print a summary line per packet, write them to a
 * capture (-w), or count them (--count).
 *
 * The filter is an expression compiled by bpfkit/filter for each link type
 * the capture holds (pcapng interfaces may differ), or a program file (-F) in
 * tcpdump's -ddd, -dd or -d form or bpf_asm; either way it runs as
 * bpfkit/cbpf's JIT-compiled function.
 *
 * A damaged capture: the packets before the damage are handled (and a -w file
 * stays a valid capture), then `bpfkit: <error> (at byte offset N)` and exit
 * status 1. A capture cut inside its last record: a warning, and a clean stop.
 */
import type { Command } from 'commander';
import { readFileSync, writeSync } from 'node:fs';
import { UsageError } from '../errors.js';
import { CaptureWriteError } from '../capture/errors.js';
import type { CaptureReader } from '../capture/reader.js';
import type { CaptureWriter } from '../capture/writer.js';
import type { Packet } from '../capture/packet.js';
import type { PacketBatch } from '../capture/batch.js';
import type { CaptureInterface } from '../capture/interface.js';
import type { CbpfProgram } from '../cbpf/insn.js';
import type { WasmPackets } from '../cbpf/wasm.js';

interface ReadCliOptions {
  read: string;
  write?: string;
  max?: string;
  count?: boolean;
  filterFile?: string;
  linktype?: string;
  nano?: boolean;
  n?: boolean;
  progress: boolean;
}

/** bpfkit/cbpf's batch filter: verdicts for every packet of a batch, in one call. */
type Filter = (batch: PacketBatch, verdicts?: Uint32Array) => number;

export function register(program: Command): void {
  program
    .command('read')
    .description('read a pcap/pcapng capture like tcpdump -r: filter, print, count or write packets')
    .argument('[expression...]', 'pcap-filter expression (as for tcpdump), compiled for each link type in the capture')
    .requiredOption('-r, --read <file>', "capture to read (pcap or pcapng; '-' for standard input)")
    .option('-w, --write <file>', "write the matching packets to a capture ('-' for standard output): pcapng or pcap by the file's extension (.pcapng, .pcap), else the input's format")
    .option('-c, --max <count>', 'stop after COUNT matching packets')
    .option('--count', 'print only the number of matching packets')
    .option('-F, --filter-file <file>', 'read the filter program from a file: tcpdump -ddd, -dd or -d output, or bpf_asm')
    .option('-y, --linktype <type>', 'take the packets to be of this link type (name like EN10MB or LINKTYPE_ number) instead of the file\'s')
    .option('--nano', 'print timestamps with nanoseconds')
    .option('-n', 'do not resolve addresses (always the case; accepted for tcpdump habits)')
    .option('--no-progress', 'never show a progress bar')
    .addHelpText(
      'after',
      `
A summary line per matching packet, in the style of tcpdump -n, goes to standard output;
"reading from file ..." and warnings go to standard error. With -w or --count nothing is printed per packet.
A progress bar appears on standard error when it is a terminal (and packets are not being printed to it)
and the read takes more than a second.

Examples:
  bpfkit read -r examples/loopback.pcap 'tcp port 80'
  bpfkit read -r big.pcapng --count 'host 192.168.1.1 and (tcp port 80 or udp port 53)'
  bpfkit read -r in.pcap -w web.pcapng -c 100 'tcp port 80'
  tcpdump -ddd 'ip[2:2] > 576' > big.ddd && bpfkit read -r in.pcap -F big.ddd`,
    )
    .action(async (expression: string[], opts: ReadCliOptions) => {
      process.exitCode = await readCommand(expression.join(' ').trim(), opts);
    });
}

/** Standard output written synchronously in large pieces; stops quietly when the reader goes away (EPIPE). */
class Output {
  private buf = '';
  closed = false;
  write(s: string): void {
    this.buf += s;
    if (this.buf.length >= 1 << 16) this.flush();
  }
  flush(): void {
    if (this.closed || this.buf.length === 0) return;
    const data = Buffer.from(this.buf);
    this.buf = '';
    let off = 0;
    while (off < data.length) {
      try {
        off += writeSync(1, data, off, data.length - off);
      } catch (err) {
        const code = (err as NodeJS.ErrnoException).code;
        if (code === 'EAGAIN') {
          Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 2);
          continue;
        }
        if (code === 'EPIPE') {
          this.closed = true;
          return;
        }
        throw err;
      }
    }
  }
}

function warn(message: string): void {
  process.stderr.write(`bpfkit: warning: ${message}\n`);
}

async function readCommand(expression: string, opts: ReadCliOptions): Promise<number> {
  // Import only what this run needs (the layers' index files pull in everything): start-up time counts here.
  const [{ CaptureReader, DEFAULT_CHUNK_SIZE }, { BATCH_CAPACITY, PacketBatch }, linktypes, { jitBatch }, { jitWasmBatch, WasmPackets: Wasm }] = await Promise.all([
    import('../capture/reader.js'),
    import('../capture/batch.js'),
    import('../capture/linktype.js'),
    import('../cbpf/jit.js'),
    import('../cbpf/wasm.js'),
  ]);
  // A file is read chunk by chunk straight into a WebAssembly memory, with the positions of each
  // chunk's packets, and the filter runs there as WebAssembly (jitWasmBatch): compiled at once to
  // machine code, where a JavaScript filter runs slowly until V8 has optimised it, which over a
  // capture of a few hundred thousand packets is a good part of the run.
  let store: WasmPackets | undefined;
  if (opts.read !== '-') {
    try {
      store = Wasm.allocate(DEFAULT_CHUNK_SIZE, BATCH_CAPACITY);
    } catch {
      // No WebAssembly here: JavaScript filters over ordinary buffers.
    }
  }
  const compileFilter = (prog: CbpfProgram): Filter => (store !== undefined ? jitWasmBatch(prog, store) : jitBatch(prog));

  if (expression !== '' && opts.filterFile !== undefined) {
    throw new UsageError('give either a filter expression or -F PROGRAM_FILE, not both');
  }
  let max = Infinity;
  if (opts.max !== undefined) {
    if (!/^\d+$/.test(opts.max) || Number(opts.max) < 1) throw new UsageError(`-c needs a positive count, not '${opts.max}'`);
    max = Number(opts.max);
  }
  let override: number | undefined;
  if (opts.linktype !== undefined) {
    const info = linktypes.lookupLinkType(opts.linktype);
    if (info === undefined) throw new UsageError(`unknown link type '${opts.linktype}'`);
    override = info.linkType;
  }

  // A program file is parsed and compiled once, whatever the link types.
  let fixedFilter: Filter | undefined;
  if (opts.filterFile !== undefined) {
    let text: string;
    try {
      text = readFileSync(opts.filterFile === '-' ? 0 : opts.filterFile, 'utf8');
    } catch (err) {
      throw new UsageError(`${opts.filterFile}: ${(err as NodeJS.ErrnoException).code === 'ENOENT' ? 'No such file or directory' : (err as Error).message}`);
    }
    const { parseProgram } = await import('../cbpf/parse.js');
    const prog: CbpfProgram = parseProgram(text);
    fixedFilter = compileFilter(prog);
  }

  // Compiling expressions needs bpfkit/filter; load it before reading so filters compile synchronously.
  const filterApi = expression !== '' ? await import('../filter/compile.js') : undefined;

  const progressState = { bytes: 0 };
  const reader: CaptureReader = await CaptureReader.open(opts.read, {
    name: opts.read,
    // Packets are printed, counted or copied into the -w buffer before the next read: one buffer will do.
    reuseBuffer: true,
    ...(store !== undefined ? { buffer: store.batch.buffer } : {}),
    onWarning: (w) => warn(w.message),
    onProgress: (bytes) => {
      progressState.bytes = bytes;
    },
  });
  const info = reader.info;
  const lt = linktypes.linkTypeInfo(override ?? info.linkType);
  const header = (): void => {
    process.stderr.write(
      `reading from file ${opts.read}, link-type ${lt ? `${lt.name} (${lt.description})` : (override ?? info.linkType)}, snapshot length ${reader.interfaces[0]!.effectiveSnaplen}\n`,
    );
  };

  // Expression filters, compiled per (link type, snaplen, byte order) as interfaces appear.
  const compiled = new Map<string, Filter>();
  const filterFor = (iface: CaptureInterface | undefined): Filter => {
    const linkType = override ?? iface?.linkType ?? info.linkType;
    const snaplen = iface?.effectiveSnaplen ?? linktypes.MAXIMUM_SNAPLEN;
    const byteOrder = (iface !== undefined ? reader.sections[iface.section]?.byteOrder : undefined) ?? info.byteOrder;
    const key = `${linkType}/${snaplen}/${byteOrder}`;
    let f = compiled.get(key);
    if (f === undefined) {
      const prog = filterApi!.compile(expression, {
        linkType: linktypes.linkTypeToDlt(linkType),
        snaplen,
        // libpcap compiles a savefile's filter for the file's byte order (NULL/LOOP address families).
        offline: byteOrder === 'le' ? 'unswapped' : 'swapped',
      });
      f = compileFilter(prog);
      compiled.set(key, f);
    }
    return f;
  };

  // Like tcpdump, compile for the capture's first interfaces before saying anything: a bad expression stops here.
  if (filterApi !== undefined) {
    try {
      for (const iface of reader.interfaces) filterFor(iface);
    } catch (err) {
      await reader.close();
      throw err;
    }
  }
  header();

  let writer: CaptureWriter | undefined;
  try {
    if (opts.write !== undefined) writer = openWriter(await import('../capture/writer.js'), reader, opts.write, override);
  } catch (err) {
    await reader.close();
    throw err;
  }

  const out = new Output();
  const print = !opts.count && writer === undefined;
  const summarizer = print
    ? new (await import('../capture/summary/summarizer.js')).Summarizer({ nano: opts.nano ?? false, ...(override !== undefined ? { linkType: override } : {}) })
    : undefined;
  const showProgress = opts.progress && process.stderr.isTTY === true && !(print && process.stdout.isTTY === true);
  const progress = showProgress && reader.size !== undefined ? await startProgress(reader.size, progressState) : undefined;

  // Packets go through the filter a batch (a chunk of the file) at a time; only the packets it
  // keeps become Packet objects, to be printed or written.
  let matched = 0;
  let filter: Filter | undefined = fixedFilter;
  let filterIface: CaptureInterface | undefined | null = null;
  const verdicts = store !== undefined ? store.verdicts() : new Uint32Array(BATCH_CAPACITY);
  const countOnly = opts.count === true && writer === undefined;
  const keep = (p: Packet): boolean => {
    matched++;
    if (writer !== undefined) writer.write(override === undefined ? p : { ...p, linkType: override });
    else if (summarizer !== undefined) {
      out.write(summarizer.line(p) + '\n');
      if (out.closed) return false;
    }
    return matched < max;
  };
  // Ctrl-C stops the read between chunks; what was read is printed, counted and written as usual.
  let interrupted = false;
  const onSignal = (): void => {
    interrupted = true;
    // A read waiting on a pipe must stop waiting too.
    void reader.close();
  };
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
  const onBatch = (b: PacketBatch): boolean => {
    if (interrupted) return false;
    if (filterApi !== undefined && b.iface !== filterIface) {
      filter = filterFor(b.iface);
      filterIface = b.iface;
    }
    const n = b.count;
    if (countOnly && max === Infinity) {
      matched += filter !== undefined ? filter(b) : n;
      return true;
    }
    if (filter !== undefined) filter(b, verdicts);
    for (let i = 0; i < n; i++) {
      if (filter !== undefined && verdicts[i] === 0) continue;
      if (countOnly) {
        if (++matched >= max) return false;
      } else if (!keep(b.packet(i))) return false;
    }
    return true;
  };

  try {
    const b = store !== undefined
      ? new PacketBatch(store.batch)
      : new PacketBatch();
    await reader.forEachBatch(onBatch, b);
  } catch (err) {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
    // Whatever was read before the damage is printed and written; the -w file stays valid.
    out.flush();
    progress?.stop();
    try {
      await writer?.close();
    } catch {
      // The read error is the one to report.
    }
    throw translateWriteError(err, opts.write);
  }
  process.off('SIGINT', onSignal);
  process.off('SIGTERM', onSignal);
  progress?.stop();
  out.flush();
  if (writer !== undefined) {
    try {
      await writer.close();
    } catch (err) {
      throw translateWriteError(err, opts.write);
    }
  }
  if (opts.count) {
    out.write(`${matched} packet${matched === 1 ? '' : 's'}\n`);
    out.flush();
  }
  return interrupted ? 130 : 0;
}

function translateWriteError(err: unknown, path: string | undefined): unknown {
  if (err instanceof CaptureWriteError && path !== undefined && !err.message.startsWith(`${path}:`)) {
    return new CaptureWriteError(`${path}: ${err.message}`);
  }
  return err;
}

/** The -w writer: pcapng or pcap by extension, else the input's format; keeps byte order, precision and interfaces. */
function openWriter(
  capture: typeof import('../capture/writer.js'),
  reader: CaptureReader,
  path: string,
  override: number | undefined,
): CaptureWriter {
  const info = reader.info;
  const format = capture.formatForPath(path) ?? info.format;
  const sink = capture.openSink(path);
  if (format === 'pcap') {
    const snaplen = Math.max(...reader.interfaces.map((i) => i.effectiveSnaplen));
    const w = new capture.PcapWriter(sink, {
      linkType: override ?? info.linkType,
      snaplen: info.format === 'pcap' ? info.snaplen : snaplen,
      precision: info.precision,
      byteOrder: info.byteOrder,
      ...(info.pcapHeader?.fcsLength !== undefined ? { fcsLength: info.pcapHeader.fcsLength } : {}),
    });
    return w;
  }
  const w = new capture.PcapngWriter(sink, { byteOrder: info.byteOrder });
  // Describe the interfaces known so far now, so even an empty result is a valid file.
  for (const iface of reader.interfaces) w.addCaptureInterface(iface, override);
  return w;
}

/**
 * A progress bar on standard error (cli-progress), shown once the read has
 * taken more than a second (BPFKIT_PROGRESS_DELAY_MS changes that; 0 shows it
 * at once, which the tests use).
 */
async function startProgress(total: number, state: { bytes: number }): Promise<{ stop(): void }> {
  const env = Number(process.env.BPFKIT_PROGRESS_DELAY_MS);
  const delay = Number.isFinite(env) && env >= 0 ? env : 1000;
  const started = Date.now();
  let bar: { update(n: number): void; stop(): void } | undefined;
  let loading = false;
  let stopped = false;
  const mb = (n: number): number => Math.round(n / 1e5) / 10;
  const show = async (): Promise<void> => {
    loading = true;
    const m = await import('cli-progress');
    if (stopped) return;
    const b = new m.SingleBar(
      { format: 'reading [{bar}] {percentage}% | {value}/{total} MB', stream: process.stderr, hideCursor: true, clearOnComplete: true },
      m.Presets.shades_classic,
    );
    b.start(mb(total), mb(state.bytes));
    bar = b;
  };
  if (delay === 0) await show();
  const timer = setInterval(() => {
    if (bar === undefined && !loading && Date.now() - started > delay) void show();
    bar?.update(mb(state.bytes));
  }, 200);
  timer.unref();
  return {
    stop() {
      if (stopped) return;
      stopped = true;
      clearInterval(timer);
      bar?.stop();
    },
  };
}
