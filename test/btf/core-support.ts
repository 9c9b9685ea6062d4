/**
 * Helpers for CO-RE tests: bpfkit's decisions for every relocation of an
 * object, and their comparison with libbpf's (from its debug log).
 */
import { readFileSync } from 'node:fs';
import { expect } from 'vitest';
import { decode } from '../../src/ebpf/insn.js';
import { btfFromElf, elfSections, type Btf } from '../../src/btf/index.js';
import { CoreResolver, patchInstruction, type CorePatch } from '../../src/btf/core.js';
import type { OracleRelo } from './support.js';

export interface Ours {
  section: string;
  index: number;
  localSpec?: string;
  targetSpec?: string;
  matched: number;
  patched: string[];
  poisoned: number[];
  error?: string;
}

function describePatch(p: CorePatch, at: number): { patched: string[]; poisoned: number[] } {
  switch (p.action) {
    case 'poisoned':
      return { patched: [], poisoned: [at] };
    case 'imm':
      return { patched: [`imm ${p.from} -> ${p.to}`], poisoned: [] };
    case 'imm64':
      return { patched: [`imm64 ${p.from} -> ${p.to}`], poisoned: [] };
    case 'off': {
      const out = [`off ${p.from} -> ${p.to}`];
      if (p.resized) out.push(`mem_sz ${p.resized.from} -> ${p.resized.to}`);
      return { patched: out, poisoned: [] };
    }
  }
}

/** bpfkit's decisions for every CO-RE relocation of an object, in .BTF.ext order. */
export function ourRelos(objPath: string, target: Btf): Ours[] {
  const bytes = readFileSync(objPath);
  const secs = elfSections(bytes);
  const { btf, ext } = btfFromElf(bytes);
  const resolver = new CoreResolver(btf, target);
  const out: Ours[] = [];
  // Like libbpf, stop at the first relocation that fails: the object does not load.
  for (const s of ext?.coreRelos ?? []) {
    const insns = decode(secs.get(s.section)!.bytes);
    for (const [i, r] of s.records.entries()) {
      const at = r.insnOff / 8;
      try {
        const res = resolver.resolve(r, { index: i });
        const lddw = insns[at]!.code === 0x18;
        const d = describePatch(patchInstruction(insns, at, res), at);
        if (d.poisoned.length && lddw) d.poisoned.unshift(at + 1);
        out.push({ section: s.section, index: i, localSpec: res.localSpec, targetSpec: res.targetSpec, matched: res.matched.length, ...d });
      } catch (err) {
        out.push({ section: s.section, index: i, matched: 0, patched: [], poisoned: [], error: (err as Error).message });
        return out;
      }
    }
  }
  return out;
}

export function compareWithLibbpf(ours: Ours[], theirs: OracleRelo[]): void {
  expect(ours.length).toBeGreaterThan(0);
  for (const o of ours) {
    const t = theirs.find((x) => x.section === o.section && x.index === o.index);
    const label = `${o.section} relo #${o.index}`;
    expect(t, `${label}: libbpf did not log it`).toBeDefined();
    if (t!.failed) {
      expect(o.error, `${label}: libbpf failed, bpfkit did not`).toBeDefined();
      continue;
    }
    expect(o.error, `${label}: ${o.error}`).toBeUndefined();
    expect(o.localSpec, label).toBe(t!.localSpec);
    expect(o.matched, `${label}: number of matching candidates`).toBe(t!.matching.length);
    if (t!.matching.length > 0) expect(o.targetSpec, label).toBe(t!.matching[0]);
    expect(o.patched, label).toEqual(t!.patched);
    expect(o.poisoned, label).toEqual(t!.poisoned);
  }
  // and libbpf saw nothing we did not
  for (const t of theirs) {
    expect(ours.some((o) => o.section === t.section && o.index === t.index), `${t.section} relo #${t.index}`).toBe(true);
  }
}

