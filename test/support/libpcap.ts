/**
 * libpcap as a test reference: a tiny C harness (test/support/c/libpcap_harness.c)
 * compiled at test time with gcc against Debian's libpcap-dev, cached under
 * test/.tmp/libpcap/ (rebuilt when its source changes). Each function below runs
 * the harness once for a whole batch of questions.
 *
 *   libpcapVerdicts(files, requests)  pcap_offline_filter() verdicts per packet
 *   libpcapCompile(exprs, opts)       pcap_compile() for a dead pcap_t (link type, snaplen)
 *   libpcapCompileOffline(file, exprs) pcap_compile() for pcap_open_offline(file), as tcpdump -r does
 *   libpcapPackets(file)              the packets as libpcap reads them
 *   libpcapImage(insns)               bpf_image() lines (tcpdump -d)
 *   libpcapValidate(programs)         bpf_validate()
 *   kernelAcceptsFilter(programs)     whether the running kernel's SO_ATTACH_FILTER takes it
 *   kernelSocketFilter(frames, progs) (root) the kernel's verdicts for frames sent on lo
 *   tcpdumpCompile(expr, linkType)    `tcpdump -ddd -y LINKTYPE EXPR` (tcpdumpCompileMany for a batch)
 *
 * Programs travel as plain {code, jt, jf, k} arrays (src/cbpf/insn.ts).
 */
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, renameSync } from 'node:fs';
import { resolve } from 'node:path';
import type { CbpfInsn, CbpfProgram } from '../../src/cbpf/insn.js';
import { REPO, TMP } from './paths.js';

const SOURCE = resolve(REPO, 'test/support/c/libpcap_harness.c');
const MAX_BUFFER = 1 << 30;

let built: string | undefined;

/** Path of the compiled harness, building it first if needed. */
export function harnessPath(): string {
  if (built) return built;
  const src = readFileSync(SOURCE);
  const hash = createHash('sha256').update(src).digest('hex').slice(0, 16);
  const dir = resolve(TMP, 'libpcap');
  const exe = resolve(dir, `harness-${hash}`);
  if (!existsSync(exe)) {
    mkdirSync(dir, { recursive: true });
    const tmp = `${exe}.${process.pid}.tmp`;
    execFileSync('gcc', ['-O2', '-Wall', '-o', tmp, SOURCE, '-lpcap'], { stdio: ['ignore', 'ignore', 'pipe'] });
    renameSync(tmp, exe);
  }
  built = exe;
  return exe;
}

function run(args: string[], input: string): string {
  return execFileSync(harnessPath(), args, { input, maxBuffer: MAX_BUFFER, encoding: 'utf8' });
}

/** A program as the harness reads it: "N,code jt jf k,...". */
export function toBytecode(prog: CbpfProgram): string {
  return `${prog.length}` + prog.map((i) => `,${i.code} ${i.jt} ${i.jf} ${i.k >>> 0}`).join('');
}

/** Parse "N,code jt jf k,..." back into instructions. */
export function fromBytecode(text: string): CbpfInsn[] {
  const parts = text.trim().split(',').filter((s) => s.length > 0);
  const n = Number(parts[0]);
  const out: CbpfInsn[] = [];
  for (let i = 1; i <= n; i++) {
    const [code, jt, jf, k] = parts[i]!.trim().split(/\s+/).map(Number) as [number, number, number, number];
    out.push({ code, jt, jf, k: k >>> 0 });
  }
  return out;
}

/** libpcap's bpf_image() for each (instruction, index) pair. */
export function libpcapImage(items: readonly { insn: CbpfInsn; n: number }[]): string[] {
  if (items.length === 0) return [];
  const input = items.map(({ insn, n }) => `${n} ${insn.code} ${insn.jt} ${insn.jf} ${insn.k >>> 0}\n`).join('');
  return run(['image'], input).split('\n').slice(0, items.length);
}

/** libpcap's bpf_validate() for each program. */
export function libpcapValidate(programs: readonly CbpfProgram[]): boolean[] {
  if (programs.length === 0) return [];
  const out = run(['validate'], programs.map((p) => toBytecode(p) + '\n').join(''));
  return out.split('\n').slice(0, programs.length).map((l) => l === '1');
}

/** Whether the running kernel accepts each program as a socket filter (SO_ATTACH_FILTER), with errno if not. */
export function kernelAcceptsFilter(programs: readonly CbpfProgram[]): { accepted: boolean; errno?: string }[] {
  if (programs.length === 0) return [];
  const out = run(['kernel-accepts'], programs.map((p) => toBytecode(p) + '\n').join(''));
  return out.split('\n').slice(0, programs.length).map((l) => (l === '1' ? { accepted: true } : { accepted: false, errno: l.slice(2) }));
}

export interface KernelFrame {
  /** The Ethernet frame sent on lo. */
  data: Uint8Array;
  /** sll_protocol for the send (the outgoing copy's skb->protocol), host order. */
  protocol: number;
}

export interface KernelObservation {
  /** Bytes received on the outgoing copy (pkt_type OUTGOING): min(verdict, length), 0 = dropped. */
  out: number;
  /** Bytes received on the incoming copy (after lo's receive path). */
  in: number;
  /** pkt_type of the incoming copy (0 host, 1 broadcast, 2 multicast, 3 other host). */
  inPktType: number;
}

/**
 * Run classic programs in the running kernel as socket filters: in a private
 * network namespace (root needed), each program is attached to an AF_PACKET
 * socket on lo and each frame is sent on lo; the socket sees an outgoing and
 * an incoming copy, each trimmed to the filter's verdict. Returns `skip` with
 * the reason when the namespace or sockets cannot be made.
 */
export function kernelSocketFilter(frames: readonly KernelFrame[], programs: readonly CbpfProgram[]): { skip?: string; results: KernelObservation[][] } {
  const input = `F ${frames.length}\n` +
    frames.map((f) => `${f.protocol} ${Buffer.from(f.data).toString('hex')}\n`).join('') +
    programs.map((p) => toBytecode(p) + '\n').join('');
  const out = run(['kernel-filter'], input);
  if (out.startsWith('SKIP ')) return { skip: out.slice(5).trim(), results: [] };
  const results = out.split('\n').slice(0, programs.length).map((line) => {
    if (!line.startsWith('V')) throw new Error(`kernel-filter: ${line}`);
    return line.slice(1).trim().split(' ').filter(Boolean).map((t) => {
      const [o, i, pt] = t.split('/').map(Number) as [number, number, number];
      return { out: o, in: i, inPktType: pt };
    });
  });
  return { results };
}

export interface CompileOptions {
  /** DLT name as pcap_datalink_name_to_val() takes it (EN10MB, LINUX_SLL, ...) or its number. */
  linkType: string | number;
  /** Default 262144 (tcpdump's and filtertest's). */
  snaplen?: number;
  /** Default true. */
  optimize?: boolean;
  /** Dotted quad, default unknown (PCAP_NETMASK_UNKNOWN). */
  netmask?: string;
}

export type CompileResult = { ok: true; program: CbpfInsn[] } | { ok: false; error: string };

/** pcap_compile() of each expression for pcap_open_dead(linkType, snaplen). */
export function libpcapCompile(expressions: readonly string[], opts: CompileOptions): CompileResult[] {
  if (expressions.length === 0) return [];
  for (const e of expressions) if (e.includes('\n')) throw new Error('an expression cannot contain a newline');
  const args = ['compile', String(opts.linkType), String(opts.snaplen ?? 262144), opts.optimize === false ? '0' : '1', opts.netmask ?? '-'];
  const out = run(args, expressions.map((e) => e + '\n').join(''));
  return out.split('\n').slice(0, expressions.length).map((l) =>
    l.startsWith('ok ') ? { ok: true, program: fromBytecode(l.slice(3)) } : { ok: false, error: l.replace(/^error /, '') });
}

/**
 * pcap_compile() of each expression for the pcap_t of pcap_open_offline(file):
 * the file's link type and snaplen, offline code (as `tcpdump -r FILE EXPR`).
 */
export function libpcapCompileOffline(
  file: string,
  expressions: readonly string[],
  opts: { optimize?: boolean; netmask?: string } = {},
): CompileResult[] {
  if (expressions.length === 0) return [];
  for (const e of expressions) if (e.includes('\n')) throw new Error('an expression cannot contain a newline');
  const out = run(['compile-offline', file, opts.optimize === false ? '0' : '1', opts.netmask ?? '-'], expressions.map((e) => e + '\n').join(''));
  if (out.startsWith('open-error ')) throw new Error(`libpcap cannot open ${file}: ${out.slice(11).trim()}`);
  return out.split('\n').slice(0, expressions.length).map((l) =>
    l.startsWith('ok ') ? { ok: true, program: fromBytecode(l.slice(3)) } : { ok: false, error: l.replace(/^error /, '') });
}

/** The program `tcpdump -ddd -y LINKTYPE EXPR` prints (throws with tcpdump's message when it fails). */
export function tcpdumpCompile(expression: string, linkType: string): CbpfInsn[] {
  const out = execFileSync('tcpdump', ['-ddd', '-y', linkType, expression], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
  const lines = out.trim().split('\n');
  return fromBytecode(lines[0] + ',' + lines.slice(1).join(','));
}

/**
 * `tcpdump -ddd -y LINKTYPE EXPR` for many expressions, run from one shell
 * (much cheaper than a process spawn from Node each): the program, or
 * undefined where tcpdump refuses the expression.
 */
export function tcpdumpCompileMany(expressions: readonly string[], linkType: string): (CbpfInsn[] | undefined)[] {
  if (expressions.length === 0) return [];
  for (const e of expressions) if (e.includes('\n')) throw new Error('an expression cannot contain a newline');
  // Four tcpdumps at a time, each writing to its own file; then print them in order.
  const script = [
    'dir=$(mktemp -d); i=0',
    'while IFS= read -r e; do',
    '  ( tcpdump -ddd -y "$1" -- "$e" > "$dir/$i" 2>/dev/null || echo FAIL > "$dir/$i" ) &',
    '  i=$((i+1)); if (( i % 4 == 0 )); then wait; fi',
    'done; wait',
    'for ((j=0; j<i; j++)); do cat "$dir/$j"; echo END; done',
    'rm -rf "$dir"',
  ].join('\n');
  const out = execFileSync('bash', ['-c', script, 'tcpdump-compile', linkType], {
    input: expressions.map((e) => e + '\n').join(''),
    encoding: 'utf8',
    maxBuffer: MAX_BUFFER,
  });
  const chunks = out.split('END\n');
  return expressions.map((_, i) => {
    const lines = (chunks[i] ?? '').trim().split('\n');
    if (lines[0] === 'FAIL' || lines[0] === '' || lines.includes('FAIL')) return undefined;
    return fromBytecode(lines[0] + ',' + lines.slice(1).join(','));
  });
}

export interface LibpcapPacket {
  data: Uint8Array;
  wireLength: number;
  seconds: number;
  nanos: number;
}

export interface LibpcapCapture {
  /** DLT value (pcap_datalink()), undefined when the file could not be opened. */
  linkType?: number;
  snaplen?: number;
  packets: LibpcapPacket[];
  /** pcap_open_offline's or pcap_next_ex's error text, if any. */
  error?: string;
}

/** The packets of a savefile as libpcap reads them (timestamps at nanosecond precision). */
export function libpcapPackets(file: string): LibpcapCapture {
  return libpcapPacketsOf([file])[0]!;
}

/** libpcapPackets() for many files with one run of the harness. */
export function libpcapPacketsOf(files: readonly string[]): LibpcapCapture[] {
  if (files.length === 0) return [];
  const out = run(['packets', ...files], '');
  const caps: LibpcapCapture[] = [];
  let cap: LibpcapCapture | undefined;
  for (const line of out.split('\n')) {
    if (line.startsWith('F ')) {
      cap = { packets: [] };
      caps.push(cap);
    } else if (!cap) {
      continue;
    } else if (line.startsWith('L ')) {
      const [, lt, snap] = line.split(' ');
      cap.linkType = Number(lt);
      cap.snaplen = Number(snap);
    } else if (line.startsWith('P ')) {
      const [, sec, frac, , len, hex] = line.split(' ');
      cap.packets.push({ data: Uint8Array.from(Buffer.from(hex ?? '', 'hex')), wireLength: Number(len), seconds: Number(sec), nanos: Number(frac) });
    } else if (line.startsWith('E ')) {
      cap.error = line.slice(2);
    }
  }
  return caps;
}

export type FilterRequest = { program: CbpfProgram } | { expression: string };

export interface FileVerdicts {
  file: string;
  /** Set when pcap_open_offline() refused the file (then nothing else is). */
  openError?: string;
  /** Set when reading stopped early on an error; the packets before it were filtered. */
  readError?: string;
  packetCount: number;
  linkType?: number;
  /** Per request: pcap_offline_filter()'s return value per packet, or the compile error. */
  results: (number[] | { error: string })[];
}

/**
 * pcap_offline_filter() verdicts: for every file and every request, the
 * value returned for each packet (0 = rejected, else the snapshot length).
 * An expression request is compiled against each opened file, as
 * `tcpdump -r FILE EXPR` does (offline, the file's link type and snaplen).
 */
export function libpcapVerdicts(
  files: readonly string[],
  requests: readonly FilterRequest[],
  opts: { optimize?: boolean; netmask?: string } = {},
): FileVerdicts[] {
  const input = requests
    .map((r) => ('program' in r ? `P ${toBytecode(r.program)}` : `E ${r.expression}`) + '\n')
    .join('');
  const out = run(['filter', opts.optimize === false ? '0' : '1', opts.netmask ?? '-', ...files], input);
  const result: FileVerdicts[] = files.map((file) => ({ file, packetCount: 0, results: [] }));
  let current: FileVerdicts | undefined;
  for (const line of out.split('\n')) {
    if (line.length === 0) continue;
    const tag = line[0];
    const rest = line.slice(2);
    const sp = rest.indexOf(' ');
    const index = Number(sp < 0 ? rest : rest.slice(0, sp));
    const tail = sp < 0 ? '' : rest.slice(sp + 1);
    if (tag === 'F') {
      current = result[index]!;
      const [count, linkType] = tail.split(' ');
      current.packetCount = Number(count);
      current.linkType = Number(linkType);
    } else if (tag === 'O') {
      result[index]!.openError = tail;
      current = undefined;
    } else if (tag === 'W') {
      result[index]!.readError = tail;
    } else if (tag === 'V' && current) {
      current.results[index] = tail.length ? tail.split(' ').map(Number) : [];
    } else if (tag === 'X' && current) {
      current.results[index] = { error: tail };
    }
  }
  return result;
}

/**
 * Time pcap_offline_filter() over a file's packets held in memory, `repeat`
 * passes per program (for benchmarks; bench/c has the same loop).
 */
export function libpcapTime(file: string, programs: readonly CbpfProgram[], repeat: number): { packets: number; seconds: number; accepted: number }[] {
  const out = run(['time', file, String(repeat)], programs.map((p) => toBytecode(p) + '\n').join(''));
  return out
    .split('\n')
    .filter((l) => l.startsWith('T '))
    .map((l) => {
      const [, packets, seconds, accepted] = l.split(' ');
      return { packets: Number(packets), seconds: Number(seconds), accepted: Number(accepted) };
    });
}
