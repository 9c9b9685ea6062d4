/**
 * Test support for src/elf: compiles the repo's .bpf.c fixtures with clang
 * (at test time, into test/.tmp/elf/), builds the libbpf oracle with gcc, runs
 * it (privately mounted bpffs for pinning) and compares instruction streams.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, renameSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { vi } from 'vitest';
import { main } from '../../src/cli/main.js';
import { decode, type Instruction } from '../../src/ebpf/insn.js';
import { compileBpfObject } from '../support/clang.js';
import { REPO, TMP } from '../support/paths.js';

export const FIXTURES = resolve(REPO, 'test/elf/fixtures');
export const OUT = resolve(TMP, 'elf');
mkdirSync(OUT, { recursive: true });

export { HAVE_CLANG } from '../support/clang.js';
/** clang 19 (Debian's clang-19), for BPF ISA v4 objects. */
export const HAVE_CLANG19 = spawnSync('clang-19', ['--version']).status === 0;
export const HAVE_BPFTOOL = spawnSync('bpftool', ['version']).status === 0;
export const IS_ROOT = typeof process.getuid === 'function' && process.getuid() === 0;

/** Compile test/elf/fixtures/NAME.bpf.c (cached by mtime); extra flags make a variant. */
export function compileFixture(name: string, opts: { flags?: string[]; variant?: string; target?: 'bpf' | 'bpfel' | 'bpfeb'; cc?: string } = {}): string {
  const out = join(OUT, `${name}${opts.variant ? `.${opts.variant}` : ''}.bpf.o`);
  return compileBpfObject(join(FIXTURES, `${name}.bpf.c`), out, { ...opts, flags: ['-I', OUT, ...(opts.flags ?? [])] });
}

let oracleBin: string | undefined;
export function oracle(): string {
  if (oracleBin) return oracleBin;
  const src = resolve(REPO, 'test/elf/oracle/libbpf-oracle.c');
  const bin = join(OUT, 'libbpf-oracle');
  if (!existsSync(bin) || statSync(bin).mtimeMs < statSync(src).mtimeMs) {
    const tmp = `${bin}.${process.pid}`;
    const r = spawnSync('gcc', ['-O1', '-o', tmp, src, '-lbpf'], { encoding: 'utf8' });
    if (r.status !== 0) throw new Error(`building the libbpf oracle failed:\n${r.stderr}`);
    renameSync(tmp, bin);
  }
  return (oracleBin = bin);
}

export interface OracleMap {
  name: string;
  internal: boolean;
  type: number;
  key_size: number;
  value_size: number;
  max_entries: number;
  map_flags: number;
  numa_node: number;
  map_extra: number;
  fd: number;
  btf_key_type_id: number;
  btf_value_type_id: number;
  initial?: string;
  kernel?: { name: string; type: number; key_size: number; value_size: number; max_entries: number; map_flags: number; id: number };
}
export interface OracleProg {
  name: string;
  section: string;
  type: number;
  expected_attach_type: number;
  flags: number;
  fd: number;
  insns: string;
  kernel?: { type: number; id: number; xlated_prog_len: number; nr_map_ids: number; nr_func_info: number; nr_line_info: number };
}
export interface OracleResult {
  loaded: boolean;
  error: number;
  maps: OracleMap[];
  progs: OracleProg[];
  runs: { prog: string; rc: number; retval: number; data_out: string }[];
  /** libbpf's BTF of the object (hex), externs sanitized. */
  btf: string;
}

/** Run the libbpf oracle on an object, with a private bpffs for pinned maps. */
export function runOracle(obj: string, opts: { load?: boolean; runs?: [string, Uint8Array][] } = {}): OracleResult {
  const dir = mkdtempSync(join(tmpdir(), 'bpfkit-elf-bpffs-')); // no '.' in pin paths (libbpf rewrites it)
  let mounted = false;
  try {
    if (opts.load !== false) {
      execFileSync('mount', ['-t', 'bpf', 'bpf', dir]);
      mounted = true;
    }
    const args = [obj, '--pin-root', dir];
    if (opts.load === false) args.push('--no-load');
    for (const [p, d] of opts.runs ?? []) args.push('--run', p, Buffer.from(d).toString('hex'));
    // The oracle prints JSON even when libbpf fails to open the object ({"error": ...}, exit status 1).
    const r = spawnSync(oracle(), args, { encoding: 'utf8', maxBuffer: 1 << 26, stdio: ['ignore', 'pipe', 'pipe'] });
    if (r.status !== 0 && !r.stdout.startsWith('{')) throw new Error(`libbpf oracle failed (${r.status}): ${r.stderr}`);
    return JSON.parse(r.stdout) as OracleResult;
  } finally {
    if (mounted) spawnSync('umount', [dir]);
    rmSync(dir, { recursive: true, force: true });
  }
}

export function oracleInsns(p: OracleProg): Instruction[] {
  return decode(Buffer.from(p.insns, 'hex'));
}

/** libbpf names internal maps "<obj>.data"; ours are the section names. */
export function matchesMapName(ours: string, theirs: OracleMap): boolean {
  if (!theirs.internal) return ours === theirs.name;
  return theirs.name === ours || (ours.startsWith('.') && theirs.name.endsWith(ours) && !theirs.name.slice(0, -ours.length).includes('.'));
}

/** Run the `bpfkit` CLI in this process with its output captured. */
export async function runCli(args: string[]): Promise<{ code: number; out: string; err: string }> {
  let out = '';
  let err = '';
  vi.spyOn(process.stdout, 'write').mockImplementation((s: string | Uint8Array) => ((out += String(s)), true));
  vi.spyOn(process.stderr, 'write').mockImplementation((s: string | Uint8Array) => ((err += String(s)), true));
  const code = await main(args);
  vi.restoreAllMocks();
  return { code, out, err };
}
