/**
 * `npm run bench -- vm`: the embedded VM's interpreter in instructions per
 * second on four workloads (a sum loop of 10^7 iterations, a xorshift64 loop,
 * 10^6 bpf-to-bpf calls, FNV-1a over 1 MiB), next to the kernel's own run time
 * for the same loops through BPF_PROG_TEST_RUN with repeat (JIT-compiled), in
 * the same run, and uBPF's published figures for reference.
 *
 * The kernel's verifier walks every iteration of a bounded loop, so its copy
 * of each program runs fewer iterations per run (the same instructions with a
 * smaller bound) and is repeated; its rate is instructions executed (counted
 * by running that copy in the VM) over the kernel's mean duration per run.
 * VM rates are given per second of wall time and per second of CPU time (the
 * kernel's test-run clock also leaves out time the CPU was taken away).
 */
import { readFileSync } from 'node:fs';
import { cpus } from 'node:os';
import { assembleText } from '../src/ebpf/asm.js';
import type { CollectionSpec, MapSpec } from '../src/ebpf/spec.js';
import { MapType, ProgType } from '../src/ebpf/types.js';
import { hasBpfCapabilities, loadCollection } from '../src/kernel/index.js';
import { Vm } from '../src/vm/index.js';

interface Workload {
  name: string;
  /** Program text with `N` for the iteration count. */
  text: string;
  /** Iterations in the VM and in the kernel's copy, and the kernel's repeat count. */
  vmN: number;
  kernelN: number;
  repeat: number;
  maps?: Record<string, MapSpec>;
}

const MiB = 1 << 20;

const workloads: Workload[] = [
  {
    name: 'sum loop, 10^7 iterations',
    vmN: 10_000_000,
    kernelN: 100_000,
    repeat: 100,
    text: `
      r0 = 0
      r1 = 0
    loop:
      r0 += r1
      r1 += 1
      if r1 < N goto loop
      exit`,
  },
  {
    name: 'xorshift64, 2*10^6 iterations',
    vmN: 2_000_000,
    kernelN: 50_000,
    repeat: 40,
    text: `
      r0 = 88172645463325252 ll
      r1 = 0
    loop:
      r2 = r0
      r2 <<= 13
      r0 ^= r2
      r2 = r0
      r2 >>= 7
      r0 ^= r2
      r2 = r0
      r2 <<= 17
      r0 ^= r2
      r1 += 1
      if r1 < N goto loop
      exit`,
  },
  {
    name: '10^6 bpf-to-bpf calls',
    vmN: 1_000_000,
    kernelN: 50_000,
    repeat: 20,
    text: `
      r6 = 0
      r7 = 0
    loop:
      r1 = r6
      call triple
      r7 += r0
      r6 += 1
      if r6 < N goto loop
      r0 = r7
      exit
    triple:
      r0 = r1
      r0 *= 3
      exit`,
  },
  {
    name: 'FNV-1a over 1 MiB',
    vmN: MiB,
    kernelN: 65_536,
    repeat: 16,
    maps: { buf: { name: 'buf', type: MapType.ARRAY, keySize: 4, valueSize: MiB, maxEntries: 1, flags: 0 } },
    text: `
      r1 = 0
      *(u32 *)(r10 - 4) = r1
      r1 = map_fd(buf) ll
      r2 = r10
      r2 += -4
      call 1
      if r0 == 0 goto out
      r6 = r0
      r7 = 0xcbf29ce484222325 ll
      r8 = 0x100000001b3 ll
      r1 = 0
    loop:
      r2 = r6
      r2 += r1
      r3 = *(u8 *)(r2 + 0)
      r7 ^= r3
      r7 *= r8
      r1 += 1
      if r1 < N goto loop
      r0 = r7
    out:
      exit`,
  },
];

function collection(w: Workload, n: number): CollectionSpec {
  const asm = assembleText(w.text.replace(/\bN\b/g, String(n)));
  return {
    programs: { main: { name: 'bench', type: ProgType.SOCKET_FILTER, license: 'GPL', instructions: asm.instructions, references: asm.references } },
    maps: w.maps ?? {},
  };
}

const PACKET = (() => {
  const b = new Uint8Array(64);
  b[12] = 0x08;
  return b;
})();

/** Fill a map of 1 MiB of pseudo-random bytes (the same in both engines). */
function fill(map: { update(k: Uint8Array, v: Uint8Array): void; spec: { valueSize: number } }): void {
  const v = new Uint8Array(map.spec.valueSize);
  let x = 0x12345678;
  for (let i = 0; i < v.length; i++) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    v[i] = x & 0xff;
  }
  map.update(new Uint8Array(4), v);
}

interface VmFigures {
  steps: number;
  wall: number;
  cpu: number;
  retval: number;
}

function runVm(w: Workload, n: number, rounds: number): VmFigures {
  const vm = new Vm({ budget: 1e12 });
  const live = vm.loadCollection(collection(w, n));
  if (live.maps.buf) fill(live.maps.buf);
  const prog = live.programs.main!;
  let wall = Infinity;
  let cpu = Infinity;
  let steps = 0;
  let retval = 0;
  for (let i = 0; i < rounds; i++) {
    const c0 = process.cpuUsage();
    const t0 = performance.now();
    const r = prog.run({ data: PACKET });
    const t = (performance.now() - t0) / 1000;
    const c = process.cpuUsage(c0);
    wall = Math.min(wall, t);
    cpu = Math.min(cpu, (c.user + c.system) / 1e6);
    steps = r.steps;
    retval = r.retval;
  }
  live.close();
  return { steps, wall, cpu, retval };
}

/** The kernel's mean run time (ns) of its copy of the workload, best of a few test runs; undefined when it cannot run. */
function runKernel(w: Workload): { ns: number; retval: number } | string {
  const live = loadCollection(collection(w, w.kernelN));
  try {
    if (live.maps.buf) fill(live.maps.buf);
    const prog = live.programs.main!;
    let ns = Infinity;
    let retval = 0;
    for (let i = 0; i < 5; i++) {
      const r = prog.testRun({ data: PACKET, repeat: w.repeat });
      ns = Math.min(ns, r.duration);
      retval = r.retval;
    }
    return { ns, retval };
  } finally {
    live.close();
  }
}

const M = (x: number): string => (x / 1e6).toFixed(1);

export async function run(): Promise<void> {
  const cpu = cpus()[0]?.model ?? 'unknown CPU';
  let jit = 'unknown';
  try {
    jit = readFileSync('/proc/sys/net/core/bpf_jit_enable', 'utf8').trim() === '0' ? 'interpreter' : 'JIT';
  } catch {}
  const kernel = typeof process.getuid === 'function' && process.getuid() === 0 && hasBpfCapabilities();
  console.log(`${new Date().toISOString()}, ${cpus().length} × ${cpu}, Node ${process.version}; kernel BPF: ${kernel ? jit : 'not available (needs root)'}`);
  console.log('uBPF for reference (published, this kind of machine): interpreter 62-97 M insn/s, x86-64 JIT 2.2-9.4 G insn/s\n');
  console.log('| workload | VM insns | VM M insn/s (wall) | VM M insn/s (CPU) | kernel M insn/s | kernel / VM (CPU) |');
  console.log('| --- | ---: | ---: | ---: | ---: | ---: |');
  for (const w of workloads) {
    const v = runVm(w, w.vmN, 3);
    let kcol = '—';
    let ratio = '—';
    if (kernel) {
      const k = runKernel(w);
      if (typeof k !== 'string') {
        // The kernel copy's instruction count and result, from the VM.
        const kv = runVm(w, w.kernelN, 1);
        if (kv.retval !== k.retval) throw new Error(`${w.name}: the kernel returned ${k.retval}, the VM ${kv.retval}`);
        const rate = kv.steps / (k.ns / 1e9);
        kcol = M(rate);
        ratio = `${(rate / (v.steps / v.cpu)).toFixed(0)}x`;
      } else kcol = k;
    }
    console.log(`| ${w.name} | ${v.steps.toLocaleString('en')} | ${M(v.steps / v.wall)} | ${M(v.steps / v.cpu)} | ${kcol} | ${ratio} |`);
  }
}
