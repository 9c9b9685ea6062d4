/**
 * One run of a program: the state helpers see (context, packet, tail-call
 * count, verdicts) and the Machine the interpreter drives (helper dispatch,
 * legacy packet loads, callbacks into the program for bpf_loop and
 * bpf_for_each_map_elem).
 */
import { MAX_CALL_DEPTH, MAX_TAIL_CALLS, STACK_SIZE } from '../ebpf/opcodes.js';
import { setNum } from './arith.js';
import { VmCallError, type InsnSite } from './errors.js';
import { HelperCall } from './helpers/registry.js';
import { execute, site, type Executable, type Frame, type Machine } from './interpreter.js';
import type { ProgKind } from './kinds.js';
import type { VmMemory } from './memory.js';
import type { Packet } from './packet.js';
import type { Vm } from './vm.js';
import type { VmProgram } from './program.js';

/** High word of a function address (LDDW with src = BPF_PSEUDO_FUNC): the tag, or'ed with the program id; the low word is the instruction. */
export const FUNC_TAG = 0x7f00_0000;

/** Where bpf_redirect / bpf_redirect_map sent the packet. */
export type Redirect = { ifindex: number; flags: number } | { map: string; key: number; flags: number };

const siteOf = (frame: Frame): InsnSite => site(frame.prog, frame.pc);

export class Run implements Machine {
  readonly mem: VmMemory;
  steps = 0;
  depth = 0;
  tail: Executable | undefined = undefined;
  tailCalls = 0;
  redirect: Redirect | undefined = undefined;
  readonly stackTop: number;
  /** The maps the run may touch: those its programs name, and inner maps it looked up. */
  readonly grants: Set<object>;
  /** True once the run was granted maps beyond its entry program's (bounds cached meanwhile must not outlive it). */
  widened = false;
  private readonly calls: HelperCall[] = [];
  private nesting = 0;

  constructor(
    readonly vm: Vm,
    /** The program the run started in (tail calls move on from it). */
    readonly program: VmProgram,
    readonly kind: ProgKind,
    readonly ctx: number,
    readonly packet: Packet | undefined,
    public budget: number,
  ) {
    this.mem = vm.mem;
    this.stackTop = vm.stackTop;
    this.grants = new Set(program.maps);
  }

  /** Let the run touch a map (an inner map it looked up, the maps of a program it tail-called). */
  grant(map: object): void {
    if (this.grants.has(map)) return;
    this.grants.add(map);
    this.widened = true;
  }

  /** Run the program from its first instruction with r1, r2; returns r0 as [lo, hi]. */
  start(r1: number, r2: number): [number, number] {
    const L = new Int32Array(16);
    const H = new Int32Array(16);
    setNum(L, H, 1, r1);
    setNum(L, H, 2, r2);
    L[10] = this.stackTop;
    execute(this, this.program, 0, L, H);
    return [L[0]!, H[0]!];
  }

  callHelper(id: number, frame: Frame): void {
    const def = this.vm.helpers.get(id);
    if (!def) throw new VmCallError(siteOf(frame), `unknown helper id ${id}`);
    const call = (this.calls[this.nesting] ??= new HelperCall(this));
    call.frame = frame;
    call.def = def;
    this.nesting++;
    let v: number | bigint | void;
    try {
      v = def.fn(call);
    } finally {
      this.nesting--;
    }
    const { L, H } = frame;
    if (typeof v === 'number') {
      if (!Number.isSafeInteger(v)) throw new VmCallError(siteOf(frame), `helper ${def.name} returned ${v}, not an integer`);
      setNum(L, H, 0, v);
    } else if (typeof v === 'bigint') {
      L[0] = Number(BigInt.asIntN(32, v));
      H[0] = Number(BigInt.asIntN(32, v >> 32n));
    } else {
      L[0] = H[0] = 0;
    }
  }

  loadPacket(offset: number, size: number, frame: Frame): number {
    if (!this.packet || this.packet.kind !== 'skb') {
      throw new VmCallError(siteOf(frame), 'legacy packet loads (LD_ABS/LD_IND) need a socket filter or tc program');
    }
    return this.packet.loadAbs(offset, size);
  }

  /** bpf_tail_call: switch to the program at `index` of a prog array; false when the call falls through. */
  tailCall(progId: number): boolean {
    if (progId === 0 || this.tailCalls >= MAX_TAIL_CALLS) return false;
    const target = this.vm.programById(progId);
    if (!target) return false;
    this.tailCalls++;
    this.tail = target;
    for (const m of target.maps) this.grant(m);
    return true;
  }

  /**
   * Call a function of the program (a callback given to bpf_loop or
   * bpf_for_each_map_elem) one frame below the caller, with up to five
   * arguments; returns its r0 as a number (low 32 bits, signed) — callbacks
   * return 0 or 1.
   */
  invoke(frame: Frame, fn: number, args: ReadonlyArray<number | bigint>): number {
    const site = siteOf(frame);
    const hi = frame.H[fn]!;
    const pc = frame.L[fn]!;
    const prog = (hi & 0xff00_0000) === FUNC_TAG ? this.vm.programById(hi & 0xff_ffff) : undefined;
    if (!prog || pc < 0 || pc * 4 >= prog.code.length) throw new VmCallError(site, `r${fn} is not a function of the program`);
    const depth = this.depth;
    if (depth + 1 >= MAX_CALL_DEPTH) throw new VmCallError(site, `callback exceeds the call depth of ${MAX_CALL_DEPTH} frames`);
    const L = new Int32Array(16);
    const H = new Int32Array(16);
    args.forEach((a, i) => {
      if (typeof a === 'number') setNum(L, H, i + 1, a);
      else {
        L[i + 1] = Number(BigInt.asIntN(32, a));
        H[i + 1] = Number(BigInt.asIntN(32, a >> 32n));
      }
    });
    L[10] = frame.L[10]! - STACK_SIZE;
    this.depth = depth + 1;
    try {
      execute(this, prog, pc, L, H);
    } finally {
      this.depth = depth;
    }
    return L[0]!;
  }
}
