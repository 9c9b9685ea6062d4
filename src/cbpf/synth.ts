/**
 * Packet synthesis: packets that drive every path of one or more classic
 * programs, for judging whether two programs are equivalent without relying
 * on what a capture happens to contain.
 *
 * The search is concolic and generational (as in SAGE): each packet is run
 * through every program by the tracer of synth-expr.ts, which records each
 * decision (a conditional jump, whether a load fit in the captured bytes,
 * whether a divisor was 0, the base of an indirect load) as a condition over
 * the packet's bytes, its lengths and, in Linux mode, the socket metadata.
 * Every decision of a new path is then turned the other way by the solver of
 * synth-solve.ts while the decisions before it are kept, which gives a packet
 * on a new path; and so on until every path has been reached or the budget is
 * spent. Running several programs on the same packet and concatenating their
 * decisions explores the product of their paths: comparing two programs on
 * the result covers every pair of paths a packet can take through both.
 *
 * Loads are decisions too, so every out-of-bounds boundary is visited from
 * both sides (captured length end - 1 and end); each new path also yields the
 * shortest packet that still takes it.
 */
import type { CbpfProgram } from './insn.js';
import type { PacketMeta } from './meta.js';
import {
  D_PIN, META_COUNT, META_DEVICE, META_CPU, META_HATYPE, META_IFINDEX, META_MARK, META_PAY_OFFSET, META_PKTTYPE,
  META_PROTOCOL, META_QUEUE, META_RXHASH, META_VLAN_PRESENT, META_VLAN_TCI, META_VLAN_TPID, SYNTH_RANDOM,
  traceAll, type Decision, type Env, type Trace,
} from './synth-expr.js';
import { solveFlip, type SolveContext } from './synth-solve.js';

export interface SynthPacket {
  data: Uint8Array;
  wireLength: number;
  /** Set in Linux mode: the socket metadata the packet is to be run with. */
  meta?: PacketMeta;
}

export interface SynthOptions {
  /**
   * Linux socket-filter semantics (ancillary loads, negative offsets): the
   * metadata is synthesised along with the bytes and returned with each
   * packet. Default false: libpcap's semantics, no metadata.
   */
  linux?: boolean;
  /** Packets to start from (a corpus); each one that takes a new path is explored from. */
  seeds?: Iterable<{ data: Uint8Array; wireLength?: number; meta?: PacketMeta }>;
  /** Stop after this many packets (default 3000). */
  maxPackets?: number;
  /** Stop after this many flip attempts (default 20000). */
  maxFlips?: number;
  /** How many times an indirect load's base may be moved to another value per instruction (default 3). */
  pinFlips?: number;
  /** PRNG seed (default 1). */
  seed?: number;
  /** Called with each new packet; return false to stop (e.g. on the first divergence). */
  onPacket?: (p: SynthPacket) => boolean | void;
}

export interface SynthResult {
  packets: SynthPacket[];
  /** Distinct paths (sequences of decisions across all programs) reached. */
  paths: number;
  /** Branch directions ((program, instruction, outcome)) reached, and those some decision could reach but was not turned to. */
  covered: number;
  /** Flips proven impossible (given the indirect-load bases on that path). */
  infeasible: number;
  /** Flips the solver could neither do nor rule out. */
  unsolved: number;
  /** Flips not tried because the budget ran out. */
  skipped: number;
  /** True when every flip was either done or proven infeasible: all paths were reached. */
  complete: boolean;
  /** True when onPacket asked to stop. */
  stopped: boolean;
}

const DEFAULT_META: number[] = (() => {
  const m = new Array<number>(META_COUNT).fill(0);
  m[META_DEVICE] = 1;
  m[META_IFINDEX] = 1;
  m[META_HATYPE] = 1;
  m[META_PROTOCOL] = 0x0800;
  return m;
})();

/** The PacketMeta a synthesised metadata vector stands for. */
export function metaOf(m: readonly number[]): PacketMeta {
  const dev = m[META_DEVICE] === 1;
  return {
    protocol: m[META_PROTOCOL]!,
    pktType: m[META_PKTTYPE]!,
    ...(dev ? { ifindex: m[META_IFINDEX]!, hatype: m[META_HATYPE]! } : {}),
    mark: m[META_MARK]!,
    queue: m[META_QUEUE]!,
    rxhash: m[META_RXHASH]!,
    cpu: m[META_CPU]!,
    vlanTci: m[META_VLAN_TCI]!,
    vlanPresent: m[META_VLAN_PRESENT] === 1,
    vlanTpid: m[META_VLAN_TPID]!,
    payloadOffset: m[META_PAY_OFFSET]!,
    random: () => SYNTH_RANDOM,
  };
}

function metaVector(meta: PacketMeta | undefined): number[] {
  if (!meta) return DEFAULT_META.slice();
  const m = DEFAULT_META.slice();
  m[META_PROTOCOL] = (meta.protocol ?? 0) & 0xffff;
  m[META_PKTTYPE] = (meta.pktType ?? 0) & 7;
  m[META_DEVICE] = meta.ifindex === undefined || meta.hatype === undefined ? 0 : 1;
  m[META_IFINDEX] = (meta.ifindex ?? 0) >>> 0;
  m[META_HATYPE] = (meta.hatype ?? 0) & 0xffff;
  m[META_MARK] = (meta.mark ?? 0) >>> 0;
  m[META_QUEUE] = (meta.queue ?? 0) & 0xffff;
  m[META_RXHASH] = (meta.rxhash ?? 0) >>> 0;
  m[META_CPU] = (meta.cpu ?? 0) >>> 0;
  m[META_VLAN_TCI] = (meta.vlanTci ?? 0) & 0xffff;
  m[META_VLAN_PRESENT] = meta.vlanPresent ? 1 : 0;
  m[META_VLAN_TPID] = (meta.vlanTpid ?? 0) & 0xffff;
  m[META_PAY_OFFSET] = (meta.payloadOffset ?? 0) >>> 0;
  return m;
}

interface Task {
  env: Env;
  trace: Trace;
  index: number;
}

function pathKey(t: Trace): string {
  let s = t.verdicts.join(',');
  for (const d of t.decisions) s += `|${d.prog}.${d.pc}.${d.kind}${d.taken ? 'T' : 'F'}`;
  return s;
}

function dirKey(d: Decision, taken: boolean): string {
  return `${d.prog}.${d.pc}.${d.kind}${taken ? 'T' : 'F'}`;
}

/** Packets that drive the paths of `programs` (one program, or several explored together). */
export function synthesize(programs: CbpfProgram | readonly CbpfProgram[], options: SynthOptions = {}): SynthResult {
  const progs: readonly CbpfProgram[] = Array.isArray(programs) && (programs.length === 0 || Array.isArray(programs[0]))
    ? (programs as readonly CbpfProgram[])
    : [programs as CbpfProgram];
  const linux = options.linux ?? false;
  const maxPackets = options.maxPackets ?? 3000;
  const maxFlips = options.maxFlips ?? 20000;
  const pinFlips = options.pinFlips ?? 3;
  let state = (options.seed ?? 1) >>> 0 || 1;
  const rnd = (): number => {
    state ^= state << 13;
    state ^= state >>> 17;
    state ^= state << 5;
    return (state >>> 0) / 4294967296;
  };
  const ctx: SolveContext = { rnd, stats: { exact: 0, inverted: 0, searched: 0, infeasible: 0, failed: 0 } };
  const packets: SynthPacket[] = [];
  const seenPaths = new Set<string>();
  const covered = new Set<string>();
  const pinCount = new Map<string, number>();
  const hi: Task[] = [];
  const lo: Task[] = [];
  let hiHead = 0, loHead = 0;
  let stopped = false;
  let flips = 0;

  const emit = (env: Env): void => {
    if (stopped) return;
    const p: SynthPacket = { data: env.data, wireLength: env.wire };
    if (linux) p.meta = metaOf(env.meta);
    packets.push(p);
    if (options.onPacket && options.onPacket(p) === false) stopped = true;
  };

  /** Run a packet; if it takes a new path, keep it and queue the flips of decisions from `bound` on. */
  const visit = (env: Env, bound: number): void => {
    if (env.wire < env.data.length) env.wire = env.data.length;
    const trace = traceAll(progs, env, linux);
    const key = pathKey(trace);
    if (seenPaths.has(key)) return;
    seenPaths.add(key);
    emit(env);
    for (const d of trace.decisions) covered.add(dirKey(d, d.taken));
    // The shortest packet on the same path: the boundary of its last load.
    let maxEnd = 0;
    for (const d of trace.decisions) if (d.kind === 1 && d.taken && d.c.b.t === 0) maxEnd = Math.max(maxEnd, d.c.b.v);
    if (maxEnd < env.data.length) {
      const short: Env = { data: env.data.slice(0, maxEnd), wire: env.wire, meta: env.meta };
      const st = traceAll(progs, short, linux);
      const sk = pathKey(st);
      if (!seenPaths.has(sk)) {
        seenPaths.add(sk);
        emit(short);
      }
    }
    for (let i = bound; i < trace.decisions.length; i++) {
      const d = trace.decisions[i]!;
      const task = { env, trace, index: i };
      if (d.kind === D_PIN) lo.push(task);
      else if (!covered.has(dirKey(d, !d.taken))) hi.push(task);
      else lo.push(task);
    }
  };

  const seeds: Env[] = [];
  for (const s of options.seeds ?? []) {
    seeds.push({ data: s.data, wire: Math.max(s.wireLength ?? s.data.length, s.data.length), meta: metaVector(s.meta) });
  }
  seeds.push({ data: new Uint8Array(0), wire: 0, meta: metaVector(undefined) });
  seeds.push({ data: new Uint8Array(64), wire: 64, meta: metaVector(undefined) });
  for (const s of seeds) {
    if (stopped || packets.length >= maxPackets) break;
    visit(s, 0);
  }

  let infeasible = 0, unsolved = 0;
  while (!stopped && packets.length < maxPackets && flips < maxFlips) {
    let task: Task | undefined;
    if (hiHead < hi.length) {
      task = hi[hiHead++]!;
      const d = task.trace.decisions[task.index]!;
      // Covered meanwhile: it is now only a new path, not a new direction.
      if (covered.has(dirKey(d, !d.taken))) {
        lo.push(task);
        continue;
      }
    } else if (loHead < lo.length) task = lo[loHead++]!;
    else break;
    const d = task.trace.decisions[task.index]!;
    if (d.kind === D_PIN) {
      const site = `${d.prog}.${d.pc}`;
      const n = pinCount.get(site) ?? 0;
      if (n >= pinFlips) continue;
      pinCount.set(site, n + 1);
    }
    flips++;
    const prefix = task.trace.decisions.slice(0, task.index);
    const r = solveFlip(prefix, d.c, !d.taken, task.env, ctx);
    if (r === 'infeasible') infeasible++;
    else if (r === undefined) unsolved++;
    else visit(r, task.index + 1);
  }
  const skipped = hi.length - hiHead + lo.length - loHead;
  return {
    packets,
    paths: seenPaths.size,
    covered: covered.size,
    infeasible,
    unsolved,
    skipped,
    complete: skipped === 0 && unsolved === 0 && !stopped,
    stopped,
  };
}
