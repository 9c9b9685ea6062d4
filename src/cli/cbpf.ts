/**
 * `bpfkit cbpf`: validate, run and convert classic BPF programs.
 *
 *   bpfkit cbpf validate [--mode kernel|libpcap|both] FILE
 *   bpfkit cbpf convert [--to d|dd|ddd|bpf_asm|bytecode|js] FILE
 *   bpfkit cbpf run FILE (--packet HEX | -r CAPTURE)
 *
 * FILE is a program in tcpdump -d, -dd or -ddd form, or in bpf_asm syntax
 * (detected, or set with --format); `-` reads standard input, and
 * `-e TEXT` gives the program on the command line.
 */
import type { Command } from 'commander';
import { Option } from 'commander';
import { readFileSync } from 'node:fs';
import { UsageError } from '../errors.js';
import type { CbpfInsn, PacketMeta, ProgramFormat, ValidationMode } from '../cbpf/index.js';

type FormatOption = ProgramFormat | 'auto';

interface ProgramOptions {
  program?: string;
  format: FormatOption;
}

const FORMAT_HELP = 'program text format: auto, d (tcpdump -d), dd, ddd, bpf_asm';

function readSource(file: string | undefined, opts: ProgramOptions): { text: string; name: string } {
  if (opts.program !== undefined) {
    if (file !== undefined) throw new UsageError('give the program either as a FILE or with -e, not both');
    return { text: opts.program, name: '-e' };
  }
  if (file === undefined) throw new UsageError('no program: give a FILE (or - for standard input) or -e TEXT');
  try {
    return { text: readFileSync(file === '-' ? 0 : file, 'utf8'), name: file === '-' ? 'standard input' : file };
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    const why = code === 'ENOENT' ? 'no such file' : code === 'EISDIR' ? 'is a directory' : code === 'EACCES' ? 'permission denied' : String((err as Error).message);
    throw new UsageError(`cannot read program ${file}: ${why}`);
  }
}

async function loadProgram(file: string | undefined, opts: ProgramOptions): Promise<CbpfInsn[]> {
  const { parseProgram, CbpfParseError } = await import('../cbpf/index.js');
  const { text, name } = readSource(file, opts);
  try {
    return parseProgram(text, opts.format);
  } catch (err) {
    if (err instanceof CbpfParseError) throw err.withSource(name);
    throw err;
  }
}

function parseHex(text: string): Uint8Array {
  const clean = text.replace(/0x/gi, '').replace(/[\s:.-]/g, '');
  if (!/^[0-9a-fA-F]*$/.test(clean)) {
    const bad = clean.match(/[^0-9a-fA-F]/)![0];
    throw new UsageError(`--packet: '${bad}' is not a hexadecimal digit`);
  }
  if (clean.length % 2 !== 0) throw new UsageError(`--packet: odd number of hex digits (${clean.length})`);
  return Uint8Array.from(Buffer.from(clean, 'hex'));
}

const META_FIELDS: Record<string, 'number' | 'boolean'> = {
  protocol: 'number', pktType: 'number', ifindex: 'number', hatype: 'number', mark: 'number', queue: 'number',
  rxhash: 'number', cpu: 'number', vlanTci: 'number', vlanPresent: 'boolean', vlanTpid: 'number',
  payloadOffset: 'number', networkOffset: 'number', linkOffset: 'number', random: 'number',
};

function parseMeta(text: string): PacketMeta {
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (err) {
    throw new UsageError(`--meta: not valid JSON: ${(err as Error).message}`);
  }
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) throw new UsageError('--meta: expected a JSON object');
  const meta: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(raw)) {
    const type = META_FIELDS[key];
    if (!type) throw new UsageError(`--meta: unknown field '${key}' (known: ${Object.keys(META_FIELDS).join(', ')})`);
    if (typeof value !== type || (type === 'number' && (!Number.isInteger(value) || (value as number) < 0 || (value as number) > 0xffffffff))) {
      throw new UsageError(`--meta: ${key} must be ${type === 'number' ? 'an integer from 0 to 4294967295' : 'true or false'}`);
    }
    meta[key] = value;
  }
  if (typeof meta.random === 'number') {
    const r = meta.random;
    meta.random = () => r;
  }
  return meta as PacketMeta;
}

function addProgramOptions(cmd: Command): Command {
  return cmd
    .argument('[file]', "program file ('-' for standard input)")
    .option('-e, --program <text>', 'the program text itself, instead of a file')
    .addOption(new Option('-f, --format <format>', FORMAT_HELP).choices(['auto', 'd', 'dd', 'ddd', 'bpf_asm']).default('auto'));
}

export function register(program: Command): void {
  const cbpf = program
    .command('cbpf')
    .description('validate, run and convert classic BPF programs (tcpdump -d/-dd/-ddd, bpf_asm)');
  cbpf.addHelpText(
    'after',
    `
Program texts are detected by their shape: "(000) ldh [12]" lines (-d), "{ 0x28, 0, 0, 0x0000000c },"
entries (-dd), a count followed by "code jt jf k" lines or comma-separated records (-ddd, bpf_asm's
output), or bpf_asm assembly with labels.

Examples:
  tcpdump -ddd 'tcp port 80' | bpfkit cbpf validate -
  tcpdump -dd 'ip6' | bpfkit cbpf convert --to bpf_asm -
  bpfkit cbpf run prog.txt --packet '0011223344550011223344550800 4500...'
  bpfkit cbpf run prog.txt -r capture.pcap`,
  );

  addProgramOptions(
    cbpf
      .command('validate')
      .description("check a program against the Linux kernel's rules (sk_chk_filter) and libpcap's bpf_validate()"),
  )
    .addOption(new Option('-m, --mode <mode>', 'which rules').choices(['kernel', 'libpcap', 'both']).default('both'))
    .addHelpText(
      'after',
      `
Kernel rules: 1 to 4096 instructions, known opcodes (ancillary loads included), forward jumps inside
the program, scratch index below 16, no constant division or modulo by 0, no constant shift by 32 or
more, a final ret, and no scratch word read before it is written on every path.
libpcap rules: the same, except that backward jumps (libpcap's protochain) are allowed, unknown
ancillary offsets and unwritten scratch reads are left to run time, and up to 3,060,000 instructions.
Exits 1 when a chosen rule set refuses the program.`,
    )
    .action(async (file: string | undefined, opts: ProgramOptions & { mode: ValidationMode | 'both' }) => {
      const { checkProgram, validate } = await import('../cbpf/index.js');
      const prog = await loadProgram(file, opts);
      if (opts.mode !== 'both') {
        validate(prog, opts.mode);
        process.stdout.write(`valid: ${prog.length} instruction${prog.length === 1 ? '' : 's'}, accepted by the ${opts.mode} rules\n`);
        return;
      }
      const modes: ValidationMode[] = ['kernel', 'libpcap'];
      const results = modes.map((m) => ({ mode: m, problems: checkProgram(prog, m) }));
      if (results.every((r) => r.problems.length === 0)) {
        process.stdout.write(`valid: ${prog.length} instruction${prog.length === 1 ? '' : 's'}, accepted by the kernel and libpcap rules\n`);
        return;
      }
      if (results.every((r) => r.problems.length > 0)) validate(prog, 'kernel'); // throws, naming the first problem
      for (const r of results) {
        if (r.problems.length === 0) {
          process.stdout.write(`${r.mode}: valid\n`);
        } else {
          process.stdout.write(`${r.mode}: invalid\n`);
          for (const p of r.problems.slice(0, 20)) {
            process.stdout.write(`  ${p.index < 0 ? 'program' : `instruction ${p.index}`}: ${p.message} [${p.rule}]\n`);
          }
        }
      }
      process.exitCode = 1;
    });

  addProgramOptions(
    cbpf
      .command('convert')
      .description('print a program in another format: tcpdump -d, -dd, -ddd, bpf_asm, one-line bytecode, or the JIT\'s JavaScript'),
  )
    .addOption(new Option('-t, --to <format>', 'output format').choices(['d', 'dd', 'ddd', 'bpf_asm', 'bytecode', 'js']).default('d'))
    .addOption(
      new Option('-s, --style <style>', "-d style: libpcap-1.10 (Debian's tcpdump 4.99) or libpcap-1.11").choices(['libpcap-1.10', 'libpcap-1.11']).default('libpcap-1.10'),
    )
    .option('--module', "with --to js: an ES module (export function) instead of a plain function declaration")
    .option('--name <identifier>', 'with --to js: the function name', 'cbpfFilter')
    .addHelpText(
      'after',
      `
--to js prints a self-contained JavaScript function (no imports, no globals), compiled by the JIT:

  cbpfFilter(packet: Uint8Array, wireLength = packet.length) -> number

with libpcap's pcap_offline_filter() semantics: packet is the captured bytes, wireLength the
length on the wire; it returns 0 to drop the packet, otherwise the number of bytes to keep.
Load it with e.g. \`new Function(source + '\\nreturn cbpfFilter;')()\`, or print it with --module
and import it. The program must pass libpcap's validator.`,
    )
    .action(async (file: string | undefined, opts: ProgramOptions & {
      to: string; style: 'libpcap-1.10' | 'libpcap-1.11'; module?: boolean; name: string;
    }) => {
      const cb = await import('../cbpf/index.js');
      const prog = await loadProgram(file, opts);
      let out: string;
      switch (opts.to) {
        case 'd': out = cb.formatD(prog, opts.style); break;
        case 'dd': out = cb.formatDD(prog); break;
        case 'ddd': out = cb.formatDDD(prog); break;
        case 'bpf_asm': out = cb.formatBpfAsm(prog); break;
        case 'bytecode': out = cb.formatBytecode(prog) + '\n'; break;
        default:
          cb.validate(prog, 'libpcap');
          out = cb.jitStandaloneSource(prog, {
            name: opts.name, module: opts.module === true, comment: cb.formatD(prog).trimEnd().split('\n'),
          });
      }
      process.stdout.write(out);
    });

  addProgramOptions(
    cbpf
      .command('run')
      .description('run a program on one packet (--packet) or on every packet of a capture file (-r)'),
  )
    .option('-x, --packet <hex>', 'the packet bytes in hexadecimal (spaces and colons allowed)')
    .option('-r, --read <capture>', "a pcap or pcapng file ('-' for standard input)")
    .option('-l, --wire-length <n>', 'wire length for --packet (default: the number of bytes)')
    .option('-c, --count <n>', 'stop after n packets of the capture')
    .option('-q, --quiet', 'print only the totals (with -r)')
    .addOption(
      new Option('--engine <engine>', 'jit, interpreter, or wasm (WebAssembly; libpcap semantics, no --meta; -r reads the whole capture into memory)')
        .choices(['jit', 'interpreter', 'wasm']).default('jit'),
    )
    .addOption(new Option('-m, --mode <mode>', 'rules the program must pass first').choices(['kernel', 'libpcap']).default('libpcap'))
    .option('--meta <json>', 'Linux packet metadata as JSON (kernel semantics for ancillary and SKF_NET_OFF/SKF_LL_OFF loads), e.g. \'{"ifindex":2,"protocol":2048,"networkOffset":14}\'')
    .addHelpText(
      'after',
      `
Prints the filter's return value: 0 drops the packet, anything else keeps that many bytes. With -r,
one line per packet ("N: value") and a total. Without --meta the program runs with libpcap's
pcap_offline_filter() semantics.`,
    )
    .action(async (file: string | undefined, opts: ProgramOptions & {
      packet?: string; read?: string; wireLength?: string; count?: string; quiet?: boolean;
      engine: 'jit' | 'interpreter' | 'wasm'; mode: ValidationMode; meta?: string;
    }) => {
      const cb = await import('../cbpf/index.js');
      const prog = await loadProgram(file, opts);
      cb.validate(prog, opts.mode);
      const meta = opts.meta !== undefined ? parseMeta(opts.meta) : undefined;
      if ((opts.packet === undefined) === (opts.read === undefined)) throw new UsageError('give exactly one of --packet HEX and -r CAPTURE');
      if (opts.engine === 'wasm') {
        if (meta !== undefined) throw new UsageError('--engine wasm has libpcap semantics only: it takes no --meta');
        await runWasm(prog, opts);
        return;
      }
      const filter = opts.engine === 'jit' ? cb.jit(prog, { mode: opts.mode }) : cb.interpreter(prog);
      if (opts.packet !== undefined) {
        const data = parseHex(opts.packet);
        const wire = opts.wireLength !== undefined ? parseCount(opts.wireLength, '--wire-length') : data.length;
        process.stdout.write(`${filter(data, wire, meta)}\n`);
        return;
      }
      const limit = opts.count !== undefined ? parseCount(opts.count, '--count') : Infinity;
      let n = 0;
      let kept = 0;
      const lines: string[] = [];
      const flush = (): void => {
        if (lines.length) process.stdout.write(lines.join(''));
        lines.length = 0;
      };
      try {
        await forEachPacket(opts.read!, (data, wireLength) => {
          if (n >= limit) return false;
          n++;
          const v = filter(data, wireLength, meta);
          if (v !== 0) kept++;
          if (!opts.quiet) {
            lines.push(`${n}: ${v}\n`);
            if (lines.length >= 4096) flush();
          }
          return true;
        });
      } finally {
        flush(); // the verdicts of the packets before any damage
      }
      process.stdout.write(`${kept} of ${n} packet${n === 1 ? '' : 's'} accepted\n`);
    });
}

/** `cbpf run --engine wasm`: the packets (all of them, up to --count) in a WasmPackets store, one call. */
async function runWasm(prog: CbpfInsn[], opts: { packet?: string; read?: string; wireLength?: string; count?: string; quiet?: boolean }): Promise<void> {
  const cb = await import('../cbpf/index.js');
  const packets: { data: Uint8Array; wireLength: number }[] = [];
  if (opts.packet !== undefined) {
    const data = parseHex(opts.packet);
    packets.push({ data, wireLength: opts.wireLength !== undefined ? parseCount(opts.wireLength, '--wire-length') : data.length });
  } else {
    const limit = opts.count !== undefined ? parseCount(opts.count, '--count') : Infinity;
    let failure: unknown;
    try {
      await forEachPacket(opts.read!, (data, wireLength) => {
        if (packets.length >= limit) return false;
        packets.push({ data: data.slice(), wireLength });
        return true;
      });
    } catch (err) {
      failure = err; // filter and print the packets before the damage first
    }
    const verdicts = filterInWasm(cb, prog, packets);
    let kept = 0;
    const lines: string[] = [];
    for (const [i, v] of verdicts.entries()) {
      if (v !== 0) kept++;
      if (!opts.quiet) lines.push(`${i + 1}: ${v}\n`);
    }
    process.stdout.write(lines.join(''));
    if (failure !== undefined) throw failure;
    process.stdout.write(`${kept} of ${packets.length} packet${packets.length === 1 ? '' : 's'} accepted\n`);
    return;
  }
  process.stdout.write(`${filterInWasm(cb, prog, packets)[0]}\n`);
}

function filterInWasm(cb: typeof import('../cbpf/index.js'), prog: CbpfInsn[], packets: { data: Uint8Array; wireLength: number }[]): Uint32Array {
  const size = packets.reduce((n, p) => n + p.data.length, 0);
  const store = cb.WasmPackets.fill(size, (data) => {
    const offsets: number[] = [];
    let at = 0;
    for (const p of packets) {
      data.set(p.data, at);
      offsets.push(at);
      at += p.data.length;
    }
    return { offsets, caplens: packets.map((p) => p.data.length), wireLengths: packets.map((p) => p.wireLength) };
  });
  cb.jitWasm(prog)(store, true);
  return store.verdicts();
}

function parseCount(text: string, what: string): number {
  if (!/^\d+$/.test(text) || Number(text) > 0xffffffff) throw new UsageError(`${what}: expected a whole number, got '${text}'`);
  return Number(text);
}

async function forEachPacket(source: string, fn: (data: Uint8Array, wireLength: number) => boolean): Promise<void> {
  const { CaptureReader } = await import('../capture/index.js');
  const reader = await CaptureReader.open(source, { onWarning: (w) => process.stderr.write(`bpfkit: warning: ${w.message}\n`) });
  await reader.forEach((p) => fn(p.data, p.wireLength));
}
