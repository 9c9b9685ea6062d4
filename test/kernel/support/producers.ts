/**
 * BPF programs that produce ring/perf buffer records when test-run, so the
 * readers can be tested without attaching anything. They are raw_tracepoint
 * programs: BPF_PROG_TEST_RUN hands them ctx_in as their u64 arguments.
 *
 *   args[0] = N records, args[1] = record size S (8..63 bytes), args[2] = D:
 *   every D-th record (i % D == 0) is discarded (reserve variant only).
 *
 * Each record starts with its sequence number i (u64), so order and loss can
 * be checked. The program returns how many records the kernel refused (ring
 * full).
 */
import { HelperId } from '../../../src/ebpf/helper-ids.js';
import { insn } from '../../../src/ebpf/insn.js';
import type { ProgramSpec } from '../../../src/ebpf/spec.js';
import { ProgType } from '../../../src/ebpf/types.js';
import {
  Prog,
  R0,
  R1,
  R2,
  R3,
  R4,
  R5,
  R6,
  R7,
  R8,
  R9,
  R10,
  add64,
  call,
  exit,
  ja,
  jeq,
  ldxdw,
  lddw,
  mov64,
  mov64r,
  stdw,
  stxdw,
} from './insns.js';

export const MAX_RECORDS = 2000;

/** Common prologue: r6 = N (≤ MAX_RECORDS), r8 = S (8..63), r9 = ctx; zero a 64-byte stack buffer; r7 = i = 0; fails = 0. */
function prologue(p: Prog): void {
  p.emit(
    mov64r(R9, R1),
    ldxdw(R6, R1, 0),
    ldxdw(R8, R1, 8),
    insn(0x25, R6, 0, 1, MAX_RECORDS), // if r6 > MAX goto +1
    ja(1),
    mov64(R6, MAX_RECORDS),
    insn(0x57, R8, 0, 0, 63), // r8 &= 63
    insn(0x35, R8, 0, 1, 8), // if r8 >= 8 goto +1
    mov64(R8, 8),
  );
  for (let off = -64; off < 0; off += 8) p.emit(stdw(R10, off, 0));
  p.emit(stdw(R10, -72, 0), mov64(R7, 0));
}

function failInc(p: Prog): void {
  p.emit(ldxdw(R1, R10, -72), add64(R1, 1), stxdw(R10, R1, -72));
}

/** bpf_ringbuf_output of N records of S bytes. */
export function ringbufOutputProgram(map: string): ProgramSpec {
  const p = new Prog();
  prologue(p);
  const loop = p.length;
  p.emit(insn(0x3d, R7, R6, 0, 0)); // if r7 >= r6 goto end (patched)
  const jEnd = p.length - 1;
  p.emit(stxdw(R10, R7, -64));
  p.ldMap(R1, map);
  p.emit(mov64r(R2, R10), add64(R2, -64), mov64r(R3, R8), mov64(R4, 0), call(HelperId.ringbuf_output));
  p.emit(jeq(R0, 0, 3));
  failInc(p);
  p.emit(add64(R7, 1));
  p.emit(ja(loop - p.length - 1));
  const end = p.length;
  p.instructions[jEnd] = insn(0x3d, R7, R6, end - jEnd - 1, 0);
  p.emit(ldxdw(R0, R10, -72), exit());
  return spec('rb_output', p);
}

/** bpf_ringbuf_reserve 16 bytes per record; records with i % D == 0 are discarded, the others submitted. */
export function ringbufReserveProgram(map: string): ProgramSpec {
  const p = new Prog();
  prologue(p);
  // r9 = D (ctx args[2]); D == 0 means never discard: use 2^30.
  p.emit(ldxdw(R9, R9, 16), jeq(R9, 0, 0));
  const jZero = p.length - 1;
  p.emit(ja(1));
  const setBig = p.length;
  p.instructions[jZero] = jeq(R9, 0, setBig - jZero - 1);
  p.emit(mov64(R9, 1 << 30));
  const loop = p.length;
  p.emit(insn(0x3d, R7, R6, 0, 0));
  const jEnd = p.length - 1;
  p.ldMap(R1, map);
  p.emit(mov64(R2, 16), mov64(R3, 0), call(HelperId.ringbuf_reserve));
  p.emit(jeq(R0, 0, 0));
  const jFail = p.length - 1;
  p.emit(stxdw(R0, R7, 0), stdw(R0, 8, 0x5a5a5a5a), mov64r(R1, R0), mov64(R2, 0));
  p.emit(mov64r(R3, R7), insn(0x9f, R3, R9, 0, 0)); // r3 = i % D
  p.emit(jeq(R3, 0, 2), call(HelperId.ringbuf_submit), ja(1), call(HelperId.ringbuf_discard));
  const next = p.length;
  p.emit(add64(R7, 1), ja(loop - p.length - 2));
  const fail = p.length;
  p.instructions[jFail] = jeq(R0, 0, fail - jFail - 1);
  failInc(p);
  p.emit(ja(next - p.length - 1));
  const end = p.length;
  p.instructions[jEnd] = insn(0x3d, R7, R6, end - jEnd - 1, 0);
  p.emit(ldxdw(R0, R10, -72), exit());
  return spec('rb_reserve', p);
}

/** bpf_perf_event_output(ctx, map, BPF_F_CURRENT_CPU, buf, S) N times. */
export function perfOutputProgram(map: string): ProgramSpec {
  const p = new Prog();
  prologue(p);
  const loop = p.length;
  p.emit(insn(0x3d, R7, R6, 0, 0));
  const jEnd = p.length - 1;
  p.emit(stxdw(R10, R7, -64), mov64r(R1, R9));
  p.ldMap(R2, map);
  p.emit(...lddw(R3, 0xffffffffn), mov64r(R4, R10), add64(R4, -64), mov64r(R5, R8), call(HelperId.perf_event_output));
  p.emit(jeq(R0, 0, 3));
  failInc(p);
  p.emit(add64(R7, 1), ja(loop - p.length - 2));
  const end = p.length;
  p.instructions[jEnd] = insn(0x3d, R7, R6, end - jEnd - 1, 0);
  p.emit(ldxdw(R0, R10, -72), exit());
  return spec('perf_output', p);
}

function spec(name: string, p: Prog): ProgramSpec {
  return { name, type: ProgType.RAW_TRACEPOINT, license: 'GPL', instructions: p.instructions, references: p.references };
}

/** ctx_in for the producers: N, S, D as u64s. */
export function producerArgs(n: number, size = 8, discardEvery = 0): Uint8Array {
  const b = new Uint8Array(24);
  const v = new DataView(b.buffer);
  v.setBigUint64(0, BigInt(n), true);
  v.setBigUint64(8, BigInt(size), true);
  v.setBigUint64(16, BigInt(discardEvery), true);
  return b;
}

