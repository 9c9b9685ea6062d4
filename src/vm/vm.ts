/**
 * The embedded engine: one linear memory (DESIGN.md §3), the maps and
 * programs living in it, the helpers programs may call, and the host
 * environment. `loadCollection(spec)` makes a CollectionSpec live, as the
 * kernel engine does; `createMap` and `loadProgram` do it piece by piece.
 */
import { Errno, type CollectionHandle } from '../ebpf/engine.js';
import type { Instruction } from '../ebpf/insn.js';
import { MAX_CALL_DEPTH, PseudoLd, STACK_SIZE } from '../ebpf/opcodes.js';
import type { CollectionSpec, MapSpec, ProgramSpec, Reference } from '../ebpf/spec.js';
import { ProgType, nameOf } from '../ebpf/types.js';
import { validate } from '../ebpf/validate.js';
import { decodeProgram } from './decode.js';
import { makeEnv, type EnvOptions, type HostEnv } from './env.js';
import { errnoError, VmLoadError, VmUsageError } from './errors.js';
import { builtinHelpers } from './helpers/builtin.js';
import type { HelperRegistry } from './helpers/registry.js';
import { kindOf } from './kinds.js';
import { ArrayMap } from './maps/array.js';
import { createVmMap } from './maps/create.js';
import type { MapHost, VmMap } from './maps/map.js';
import { RingBufMap } from './maps/ringbuf.js';
import { MAP_HANDLE_BASE, MAP_HANDLE_STRIDE, MAX_MAP_HANDLES, VmMemory, type MemoryOptions } from './memory.js';
import { VmProgram } from './program.js';
import { FUNC_TAG, type Run } from './run.js';
import { u32Key } from './maps/keys.js';

export interface VmOptions {
  memory?: MemoryOptions;
  /** Number of possible CPUs: per-CPU maps keep this many values (default 1). */
  cpus?: number;
  /** Clocks, randomness, CPU, task, stacks, trace output. */
  env?: EnvOptions;
  /** Default instruction budget of a run (default 100,000,000). */
  budget?: number;
  /** The helpers programs may call (default: the built-in ones). */
  helpers?: HelperRegistry;
  /** Accept `callx` (call a helper whose id is in a register), a bpf_conformance extension. */
  callx?: boolean;
  /**
   * Run the structural validator of src/ebpf on every program at load
   * (default true). Without it the VM still refuses what it cannot run.
   */
  validate?: boolean;
}

export const DEFAULT_BUDGET = 100_000_000;

export class Vm implements MapHost {
  readonly mem: VmMemory;
  readonly cpus: number;
  readonly env: HostEnv;
  readonly helpers: HelperRegistry;
  /** bpf_trace_printk output, when no trace sink was given in env. */
  readonly traceLog: string[] = [];
  budget: number;
  readonly stackTop: number;
  running = false;
  private readonly callx: boolean;
  private readonly validate: boolean;
  private readonly maps: Array<VmMap | undefined> = [undefined];
  private readonly programs: Array<VmProgram | undefined> = [undefined];
  private readonly reclaim = new Set<VmMap>();
  private readonly ringbufs: RingBufMap[] = [];

  constructor(options: VmOptions = {}) {
    this.mem = new VmMemory(options.memory);
    this.cpus = options.cpus ?? 1;
    if (!Number.isInteger(this.cpus) || this.cpus < 1 || this.cpus > 1024) throw new VmUsageError(`cpus must be 1..1024, not ${options.cpus}`);
    const envOptions = { ...options.env };
    envOptions.trace ??= (line: string) => void this.traceLog.push(line);
    this.env = makeEnv(envOptions);
    if (this.env.cpu < 0 || this.env.cpu >= this.cpus) throw new VmUsageError(`env.cpu must be below cpus (${this.cpus})`);
    this.helpers = options.helpers ?? builtinHelpers();
    this.budget = options.budget ?? DEFAULT_BUDGET;
    this.callx = options.callx ?? false;
    this.validate = options.validate ?? true;
    // The stack: MAX_CALL_DEPTH frames of STACK_SIZE bytes, frame 0 at the top.
    const size = MAX_CALL_DEPTH * STACK_SIZE;
    const base = this.mem.alloc(size);
    this.mem.regions.add({ start: base, end: base + size, kind: 'stack', name: 'stack', writable: true });
    this.stackTop = base + size;
    this.mem.regions.addDescriber((a) => {
      if (a >= MAP_HANDLE_BASE && a < MAP_HANDLE_BASE + MAX_MAP_HANDLES * MAP_HANDLE_STRIDE) {
        const m = this.maps[Math.floor((a - MAP_HANDLE_BASE) / MAP_HANDLE_STRIDE)];
        if (m) return `the handle of map '${m.name}', not memory`;
      }
      return undefined;
    });
  }

  // ---- maps ----

  /** Create a map; throws BpfErrnoError as BPF_MAP_CREATE would. */
  createMap(spec: MapSpec): VmMap {
    const id = this.maps.length;
    if (id >= MAX_MAP_HANDLES) throw errnoError('map create', Errno.ENOSPC, `the VM holds at most ${MAX_MAP_HANDLES - 1} maps`);
    const map = createVmMap(this, spec, id);
    this.maps.push(map);
    if (map instanceof RingBufMap) this.ringbufs.push(map);
    return map;
  }

  mapById(id: number): VmMap | undefined {
    const m = this.maps[id];
    return m && !m.isClosed ? m : undefined;
  }

  /** The map whose handle a program holds. */
  mapByHandle(address: number): VmMap | undefined {
    const off = address - MAP_HANDLE_BASE;
    if (off < 0 || off % MAP_HANDLE_STRIDE !== 0) return undefined;
    return this.mapById(off / MAP_HANDLE_STRIDE);
  }

  /** The ring buffer holding the reserved record at `address`. */
  ringbufRecordOwner(address: number): RingBufMap | undefined {
    return this.ringbufs.find((m) => !m.isClosed && m.isReserved(address));
  }

  deferReclaim(map: VmMap): void {
    this.reclaim.add(map);
  }

  // ---- programs ----

  programById(id: number): VmProgram | undefined {
    const p = this.programs[id];
    return p && !p.isClosed ? p : undefined;
  }

  hasProgram(id: number): boolean {
    return this.programById(id) !== undefined;
  }

  /** @internal */
  forgetProgram(p: VmProgram): void {
    if (this.programs[p.id] === p) this.programs[p.id] = undefined;
  }

  /**
   * Load a program: resolve its references to maps (by name in `maps`),
   * check that it can run (see decode.ts) and that its helpers exist for its
   * type. Throws VmLoadError.
   */
  loadProgram(spec: ProgramSpec, maps: Readonly<Record<string, VmMap>> = {}): VmProgram {
    const kind = kindOf(spec.type);
    if (!kind) throw new VmLoadError(spec.name, undefined, `program type ${nameOf(ProgType, spec.type) ?? spec.type} is not supported by the VM`);
    if (this.validate) validate(spec.instructions, { callx: this.callx });
    const id = this.programs.length;
    const used = new Set<VmMap>();
    const refs = new Map<number, Reference>();
    for (const r of spec.references ?? []) refs.set(r.index, r);
    const code = decodeProgram(spec.name, spec.instructions, {
      hasHelper: (hid) => this.helpers.allows(hid, kind),
      callx: this.callx,
      lddw: (src, imm, nextImm, pc) => this.resolveLddw(spec, maps, refs.get(pc), src, imm, nextImm, pc, id, used),
    });
    for (const r of refs.values()) {
      const ins: Instruction | undefined = spec.instructions[r.index];
      if (!ins || (r.kind !== 'kfunc' && ins.code !== 0x18)) throw new VmLoadError(spec.name, r.index, `reference to ${r.kind} '${'map' in r ? r.map : r.name}' is not at an LDDW`);
    }
    const prog = new VmProgram(this, spec, id, kind, code, used);
    this.programs.push(prog);
    return prog;
  }

  private resolveLddw(
    spec: ProgramSpec,
    maps: Readonly<Record<string, VmMap>>,
    ref: Reference | undefined,
    src: number,
    imm: number,
    nextImm: number,
    pc: number,
    progId: number,
    used: Set<VmMap>,
  ): [number, number] {
    const fail = (msg: string): never => {
      throw new VmLoadError(spec.name, pc, msg);
    };
    const byName = (name: string): VmMap => maps[name] ?? fail(`map '${name}' is not in the collection`);
    let map: VmMap | undefined;
    let offset = nextImm;
    if (ref?.kind === 'map') {
      map = byName(ref.map);
      if (src !== PseudoLd.MAP_FD && src !== PseudoLd.MAP_IDX) fail(`reference to map '${ref.map}' at an LDDW of kind ${src}`);
      used.add(map);
      return [map.handle, 0];
    }
    if (ref?.kind === 'mapValue') {
      map = byName(ref.map);
      offset = ref.offset;
    } else if (ref?.kind === 'ksym' || ref?.kind === 'kfunc') {
      return fail(`kernel symbol '${ref.name}' is not available in the VM`);
    } else if (src === PseudoLd.MAP_FD) {
      map = this.mapById(imm) ?? fail(`no map with fd ${imm}`);
      used.add(map);
      return [map.handle, 0];
    } else if (src === PseudoLd.MAP_VALUE) {
      map = this.mapById(imm) ?? fail(`no map with fd ${imm}`);
    } else if (src === PseudoLd.FUNC) {
      const target = pc + imm + 1;
      if (target < 0 || target >= spec.instructions.length) fail(`function at ${target} is outside the program`);
      return [target, FUNC_TAG | progId];
    } else {
      fail(`LDDW of kind ${src} (${src === PseudoLd.BTF_ID ? 'BTF id' : 'map index'}) needs the kernel`);
    }
    if (!(map instanceof ArrayMap) || map.spec.maxEntries < 1) return fail(`map '${map!.name}' has no direct value address (only arrays do)`);
    if (offset < 0 || offset >= map.spec.valueSize) fail(`offset ${offset} is outside the value of map '${map.name}' (${map.spec.valueSize} bytes)`);
    used.add(map);
    return [map.elementAddress(0, 0) + offset, 0];
  }

  /**
   * Make a collection live: create its maps (and fill them), load its
   * programs, then fill prog arrays and maps of maps, and freeze what is to
   * be frozen.
   */
  loadCollection(spec: CollectionSpec): VmCollection {
    const maps: Record<string, VmMap> = {};
    const programs: Record<string, VmProgram> = {};
    const collection = new VmCollection(programs, maps);
    try {
      for (const [name, ms] of Object.entries(spec.maps)) maps[name] = this.createMap({ ...ms, name: ms.name || name });
      for (const [name, ps] of Object.entries(spec.programs)) programs[name] = this.loadProgram(ps, maps);
      for (const [name, ms] of Object.entries(spec.maps)) {
        const map = maps[name]!;
        if (ms.data) {
          const value = new Uint8Array(ms.valueSize);
          value.set(ms.data.subarray(0, ms.valueSize));
          map.update(u32Key(0), value);
        }
        for (const entry of ms.contents ?? []) {
          let value: Uint8Array;
          if (entry.value instanceof Uint8Array) value = entry.value;
          else if ('program' in entry.value) {
            const p = programs[entry.value.program];
            if (!p) throw new VmLoadError(entry.value.program, undefined, `map '${name}' refers to a program not in the collection`);
            value = u32Key(p.id);
          } else {
            const m = maps[entry.value.map];
            if (!m) throw errnoError('map update', Errno.EBADF, `map '${name}' refers to map '${entry.value.map}', not in the collection`);
            value = u32Key(m.id);
          }
          map.update(entry.key, value);
        }
        if (ms.freeze) map.freeze();
      }
    } catch (e) {
      collection.close();
      throw e;
    }
    return collection;
  }

  // ---- runs ----

  /** @internal A run starts. */
  enter(_run: Run): void {
    if (this.running) throw new VmUsageError('a program is already running in this VM (runs do not nest)');
    this.running = true;
  }

  /** @internal A run ended: free what was deleted during it, discard ring buffer records left reserved. */
  leave(run: Run): void {
    this.running = false;
    // Bounds cached under grants the next run may not have.
    if (run.widened) this.mem.regions.epoch++;
    for (const m of this.reclaim) m.reclaim();
    this.reclaim.clear();
    for (const m of this.ringbufs) if (!m.isClosed) m.discardAll();
  }
}

/** What loadCollection gives: the live programs and maps, by name. */
export class VmCollection implements CollectionHandle {
  constructor(
    readonly programs: Record<string, VmProgram>,
    readonly maps: Record<string, VmMap>,
  ) {}

  close(): void {
    for (const p of Object.values(this.programs)) p.close();
    for (const m of Object.values(this.maps)) m.close();
  }
}
