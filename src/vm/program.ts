/**
 * A program loaded into the VM: decoded once, run many times. `testRun` is
 * shaped like BPF_PROG_TEST_RUN (same inputs, same errno for bad input, same
 * outputs); `run` gives more (the full 64-bit r0, instructions executed,
 * where a redirect went).
 */
import type { ProgramHandle, TestRunOptions, TestRunResult } from '../ebpf/engine.js';
import { formatInstruction } from '../ebpf/disasm.js';
import type { ProgramSpec } from '../ebpf/spec.js';
import type { ProgType } from '../ebpf/types.js';
import { prepareInput } from './context.js';
import { VmUsageError } from './errors.js';
import { ProgramAbort, type Executable } from './interpreter.js';
import type { ProgKind } from './kinds.js';
import { Run, type Redirect } from './run.js';
import type { VmMap } from './maps/map.js';
import type { Vm } from './vm.js';

export interface VmRunOptions extends TestRunOptions {
  /** Instruction budget of each repetition (default: the VM's). */
  budget?: number;
}

export interface VmRunResult extends TestRunResult {
  /** r0 of the last repetition, all 64 bits. */
  r0: bigint;
  /** Instructions executed by the last repetition. */
  steps: number;
  /** Where the last repetition redirected the packet (bpf_redirect, bpf_redirect_map). */
  redirect?: Redirect;
  /** True when the last repetition ended early on a failed legacy packet load (r0 = 0, as in the kernel). */
  aborted: boolean;
}

export class VmProgram implements ProgramHandle, Executable {
  readonly name: string;
  readonly type: ProgType;
  readonly kind: ProgKind;
  /** The program's id, which is also its fd in prog arrays. */
  readonly id: number;
  readonly spec: Readonly<ProgramSpec>;
  /** The maps the program names (LDDW of a map or a map value): the ones it may touch. */
  readonly maps: ReadonlySet<VmMap>;
  readonly code: Int32Array;
  readonly cacheLo: Int32Array;
  readonly cacheHi: Int32Array;
  cacheEpoch = -1;
  private closed = false;

  constructor(
    private readonly vm: Vm,
    spec: ProgramSpec,
    id: number,
    kind: ProgKind,
    code: Int32Array,
    maps: ReadonlySet<VmMap>,
  ) {
    this.spec = spec;
    this.maps = maps;
    this.name = spec.name;
    this.type = spec.type;
    this.kind = kind;
    this.id = id;
    this.code = code;
    this.cacheLo = new Int32Array(code.length / 4);
    this.cacheHi = new Int32Array(code.length / 4);
  }

  describe(pc: number): string {
    try {
      return formatInstruction(this.spec.instructions, pc);
    } catch {
      return `opcode 0x${(this.code[pc * 4]! & 0xff).toString(16)}`;
    }
  }

  /** Number of instruction slots. */
  get slots(): number {
    return this.code.length / 4;
  }

  testRun(options: TestRunOptions = {}): TestRunResult {
    const { retval, dataOut, ctxOut, duration } = this.run(options);
    return ctxOut ? { retval, dataOut, ctxOut, duration } : { retval, dataOut, duration };
  }

  run(options: VmRunOptions = {}): VmRunResult {
    if (this.closed) throw new VmUsageError(`program '${this.name}' is closed`);
    const repeat = Math.max(1, Math.floor(options.repeat ?? 1));
    const budget = options.budget ?? this.vm.budget;
    const input = prepareInput(this.vm.mem, this.kind, options);
    try {
      let r0: [number, number] = [0, 0];
      let run!: Run;
      let aborted = false;
      const t0 = performance.now();
      for (let i = 0; i < repeat; i++) {
        run = new Run(this.vm, this, this.kind, input.r1, input.packet, budget);
        this.vm.enter(run);
        try {
          r0 = run.start(input.r1, input.r2);
          aborted = false;
        } catch (e) {
          if (!(e instanceof ProgramAbort)) throw e;
          r0 = [0, 0];
          aborted = true;
        } finally {
          this.vm.leave(run);
        }
      }
      const duration = ((performance.now() - t0) * 1e6) / repeat;
      const { dataOut, ctxOut } = input.finish();
      const result: VmRunResult = {
        retval: r0[0] >>> 0,
        r0: (BigInt(r0[1] >>> 0) << 32n) | BigInt(r0[0] >>> 0),
        dataOut,
        duration,
        steps: run.steps,
        aborted,
      };
      if (ctxOut) result.ctxOut = ctxOut;
      if (run.redirect) result.redirect = run.redirect;
      return result;
    } finally {
      input.dispose();
    }
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.vm.forgetProgram(this);
  }

  get isClosed(): boolean {
    return this.closed;
  }
}
