/**
 * Fuzz: random and mutated programs through the validator, the interpreter,
 * the JIT and the wasm JIT; mutated program texts through the parsers. Nothing may throw
 * except the layer's own typed errors, nothing may hang, and whenever the
 * JIT (or the wasm JIT) accepts a program it agrees with the interpreter.
 */
import { describe, expect, it } from 'vitest';
import {
  CbpfParseError, CbpfValidationError, checkProgram, formatBpfAsm, formatD, formatDD, formatDDD, interpret, isValid, jit,
  jitWasm, parseProgram, VALID_OPCODES, WasmPackets, type CbpfInsn, type ProgramFormat,
} from '../../src/cbpf/index.js';
import { tcpdumpCompileMany } from '../support/libpcap.js';
import { seeded } from './gen.js';

const SEEDS = ['tcp port 80', 'ip6 protochain 6', 'vlan and ip', 'ip[2:2] > 576', 'host 192.168.1.1 and (tcp port 80 or udp port 53)',
  'len - 1 > ether[0] * 2', 'tcp[((tcp[12:1] & 0xf0) >> 2):4] = 0x47455420', 'mpls and ip', 'icmp6 or arp', 'pppoes and ip6 and udp'];

/** The packets in a wasm store, each with wire length = captured + 4. */
const stores = new WeakMap<Uint8Array[], WasmPackets>();
function storeOf(pkts: Uint8Array[]): WasmPackets {
  let s = stores.get(pkts);
  if (!s) {
    const buffer = new Uint8Array(pkts.reduce((n, p) => n + p.length, 0));
    const offsets: number[] = [];
    let at = 0;
    for (const p of pkts) {
      buffer.set(p, at);
      offsets.push(at);
      at += p.length;
    }
    s = WasmPackets.from({ buffer, offsets, caplens: pkts.map((p) => p.length), wireLengths: pkts.map((p) => p.length + 4) });
    stores.set(pkts, s);
  }
  return s;
}

function packets(pick: (n: number) => number): Uint8Array[] {
  const out: Uint8Array[] = [];
  for (let i = 0; i < 12; i++) {
    const p = new Uint8Array(pick(100));
    for (let j = 0; j < p.length; j++) p[j] = pick(256);
    if (p.length > 40) {
      p[12] = 0x08;
      p[13] = 0x00;
      p[14] = 0x45;
      p[23] = 6;
    }
    out.push(p);
  }
  return out;
}

const failures: string[] = [];

/** Everything a program can go through; returns how many verdicts were compared. */
function exercise(prog: CbpfInsn[], pkts: Uint8Array[]): number {
  const problems = checkProgram(prog, 'kernel').concat(checkProgram(prog, 'libpcap'));
  for (const p of problems) if (typeof p.message !== 'string' || !p.rule) failures.push(`bad problem ${JSON.stringify(p)}`);
  let compared = 0;
  let f: ((p: Uint8Array, w?: number) => number) | undefined;
  try {
    f = jit(prog, { cache: false });
    if (!isValid(prog, 'libpcap')) failures.push(`JIT took an invalid program ${JSON.stringify(prog)}`);
  } catch (err) {
    if (!(err instanceof CbpfValidationError)) failures.push(`JIT threw ${String(err)} for ${JSON.stringify(prog)}`);
  }
  let wasm: Uint32Array | undefined;
  try {
    const store = storeOf(pkts);
    jitWasm(prog, { cache: false })(store, true);
    wasm = store.verdicts().slice();
    if (!isValid(prog, 'libpcap')) failures.push(`wasm JIT took an invalid program ${JSON.stringify(prog)}`);
  } catch (err) {
    if (!(err instanceof CbpfValidationError)) failures.push(`wasm JIT threw ${String(err)} for ${JSON.stringify(prog)}`);
  }
  for (const [i, p] of pkts.entries()) {
    const v = interpret(prog, p, p.length + 4);
    if (wasm && wasm[i] !== v) failures.push(`wasm JIT ${wasm[i]} != interpreter ${v} for ${JSON.stringify(prog)}`);
    if (v >>> 0 !== v) failures.push(`interpreter returned ${v}`);
    if (f) {
      const w = f(p, p.length + 4);
      if (w !== v) failures.push(`JIT ${w} != interpreter ${v} for ${JSON.stringify(prog)}`);
      compared++;
    }
  }
  return compared;
}

describe('fuzz', () => {
  it('random programs: no exception, no hang; the JIT agrees whenever it accepts', () => {
    const pick = seeded(0xf00d);
    const pkts = packets(pick);
    let compared = 0;
    let valid = 0;
    for (let i = 0; i < 3000; i++) {
      const n = 1 + pick(24);
      const prog: CbpfInsn[] = [];
      for (let j = 0; j < n; j++) {
        // Mostly plausible opcodes (low byte), sometimes anything.
        const r = pick(8);
        const code = r === 0 ? pick(0x10000) : r < 4 ? pick(0x100) : VALID_OPCODES[pick(VALID_OPCODES.length)]!;
        prog.push({ code, jt: pick(n - j + 2), jf: pick(n - j + 2), k: pick(3) === 0 ? pick(0x100000000) : pick(40) });
      }
      if (pick(2) === 0) prog.push({ code: 0x06, jt: 0, jf: 0, k: 0xffff });
      if (isValid(prog, 'libpcap')) valid++;
      compared += exercise(prog, pkts);
    }
    expect(failures.slice(0, 5)).toEqual([]);
    expect(valid).toBeGreaterThan(30);
    expect(compared).toBeGreaterThan(300);
  });

  it('mutated tcpdump programs', () => {
    const pick = seeded(0xbeef);
    const pkts = packets(pick);
    const base = tcpdumpCompileMany(SEEDS, 'EN10MB').filter((p): p is CbpfInsn[] => p !== undefined);
    expect(base.length).toBe(SEEDS.length);
    let compared = 0;
    for (let i = 0; i < 2000; i++) {
      const prog = base[pick(base.length)]!.map((x) => ({ ...x }));
      const edits = 1 + pick(3);
      for (let e = 0; e < edits; e++) {
        const at = pick(prog.length);
        const insn = prog[at]!;
        switch (pick(7)) {
          case 0: insn.code ^= 1 << pick(16); break;
          case 1: insn.k = (insn.k ^ (1 << pick(32))) >>> 0; break;
          case 2: insn.jt = pick(256); break;
          case 3: insn.jf = pick(256); break;
          case 4: prog.splice(at, 1); break;
          case 5: prog.splice(at, 0, { code: pick(0x100), jt: pick(4), jf: pick(4), k: pick(100) }); break;
          case 6: insn.k = [0, 0xffffffff, 0x80000000, 0xfffff000 + 4 * pick(20), 0xfff00000 + pick(60), 16, 32][pick(7)]!; break;
        }
      }
      compared += exercise(prog, pkts);
    }
    expect(failures.slice(0, 5)).toEqual([]);
    expect(compared).toBeGreaterThan(2000);
  });

  it('mutated program texts: a program or a CbpfParseError, and what parses prints and parses back the same', () => {
    const pick = seeded(0xc0ffee);
    const base = tcpdumpCompileMany(SEEDS, 'EN10MB').filter((p): p is CbpfInsn[] => p !== undefined);
    const texts: { text: string; format: ProgramFormat }[] = [];
    for (const p of base) {
      texts.push({ text: formatD(p), format: 'd' }, { text: formatDD(p), format: 'dd' }, { text: formatDDD(p), format: 'ddd' }, { text: formatBpfAsm(p), format: 'bpf_asm' });
    }
    const alphabet = ' \n\t,{}()[]#:;x+*&-0123456789abcdefxMljtfd%/';
    let parsed = 0;
    let refused = 0;
    for (let i = 0; i < 2500; i++) {
      const src = texts[pick(texts.length)]!;
      const chars = [...src.text];
      const edits = 1 + pick(4);
      for (let e = 0; e < edits; e++) {
        const at = pick(chars.length + 1);
        const r = pick(3);
        if (r === 0) chars.splice(at, 1);
        else if (r === 1) chars.splice(at, 0, alphabet[pick(alphabet.length)]!);
        else chars[at] = alphabet[pick(alphabet.length)]!;
      }
      const text = chars.join('');
      for (const format of [src.format, 'auto'] as const) {
        let prog: CbpfInsn[];
        try {
          prog = parseProgram(text, format);
        } catch (err) {
          const pe = err as CbpfParseError;
          if (!(err instanceof CbpfParseError) || pe.line < 1 || pe.column < 1 || !pe.detail().includes('^')) {
            failures.push(`${String(err)} for ${JSON.stringify(text)}`);
          }
          refused++;
          continue;
        }
        parsed++;
        const again = formatDDD(parseProgram(formatDDD(prog), 'ddd')) + formatDDD(parseProgram(formatDD(prog), 'dd'));
        if (again !== formatDDD(prog).repeat(2)) failures.push(`round trip of ${JSON.stringify(text)}`);
      }
    }
    expect(failures.slice(0, 5)).toEqual([]);
    expect(parsed).toBeGreaterThan(500);
    expect(refused).toBeGreaterThan(500);
  });
});
