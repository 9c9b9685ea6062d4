/**
 * Test support for src/btf: compile the .bpf.c fixtures with clang at test
 * time, build the libbpf CO-RE oracle (test/btf/c/core_oracle.c) and parse
 * its debug log.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdirSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { compileBpfObject, fresh } from '../support/clang.js';
import { REPO, TMP } from '../support/paths.js';

export const FIXTURES = resolve(REPO, 'test/btf/fixtures');
export const OUT = join(TMP, 'btf');
mkdirSync(OUT, { recursive: true });

export function hasTool(cmd: string): boolean {
  return spawnSync('sh', ['-c', `command -v ${cmd}`]).status === 0;
}

/** Compile test/btf/fixtures/NAME.bpf.c into an object; returns its path. */
export function compileFixture(name: string, clang = 'clang'): string {
  return compileBpfObject(join(FIXTURES, `${name}.bpf.c`), join(OUT, `${name}.${clang}.bpf.o`), { cc: clang });
}

/** Build the libbpf CO-RE oracle; returns its path. */
export function coreOracle(): string {
  const src = resolve(REPO, 'test/btf/c/core_oracle.c');
  const out = join(OUT, 'core_oracle');
  if (!fresh(out, [src])) execFileSync('gcc', ['-O1', '-o', out, src, '-lbpf'], { stdio: ['ignore', 'ignore', 'pipe'] });
  return out;
}

export interface OracleRelo {
  section: string;
  prog: string;
  index: number;
  localSpec?: string;
  matching: string[];
  patched: string[];
  poisoned: number[];
  noMatch: boolean;
  failed: boolean;
}

/** Run libbpf on an object (optionally with a custom target BTF) and group its CO-RE log by relocation. */
export function runCoreOracle(obj: string, targetBtf?: string): { relos: OracleRelo[]; loadResult: string; log: string } {
  const args = targetBtf ? [obj, targetBtf] : [obj];
  const r = spawnSync(coreOracle(), args, { encoding: 'utf8' });
  const log = r.stdout;
  const relos: OracleRelo[] = [];
  let section = '';
  const get = (prog: string, index: number): OracleRelo => {
    let e = relos.find((x) => x.section === section && x.index === index);
    if (!e) {
      e = { section, prog, index, matching: [], patched: [], poisoned: [], noMatch: false, failed: false };
      relos.push(e);
    }
    return e;
  };
  let loadResult = '';
  for (const line of log.split('\n')) {
    const sec = /^libbpf: sec '([^']+)': found \d+ CO-RE relocations/.exec(line);
    if (sec) {
      section = sec[1]!;
      continue;
    }
    const m = /^libbpf: prog '([^']+)': relo #(\d+): (.*)$/.exec(line);
    if (m) {
      const e = get(m[1]!, Number(m[2]));
      const rest = m[3]!;
      let x: RegExpExecArray | null;
      if (rest.startsWith('<')) e.localSpec = rest;
      else if ((x = /^matching candidate #\d+ (.*)$/.exec(rest))) e.matching.push(x[1]!);
      else if ((x = /^patched insn #\d+ \(.*?\) (.*)$/.exec(rest))) e.patched.push(x[1]!);
      else if ((x = /^substituting insn #(\d+) w\/ invalid insn$/.exec(rest))) e.poisoned.push(Number(x[1]));
      else if (rest === 'no matching targets found') e.noMatch = true;
      else if (/failed|ambiguity|unexpected|can't|doesn't/.test(rest)) e.failed = true;
      continue;
    }
    const l = /^load: (.*)$/.exec(line);
    if (l) loadResult = l[1]!;
  }
  return { relos, loadResult, log };
}
