/**
 * Kernel programs: a ProgramSpec relocated (map fds, global data addresses,
 * kernel symbols) and loaded with BPF_PROG_LOAD; test runs
 * (BPF_PROG_TEST_RUN), info, pinning. Implements the engine-neutral
 * ProgramHandle.
 *
 * Loading first asks for no log (the verifier is faster without one). When
 * the kernel refuses, it loads again with a log and returns the complete log:
 * the buffer grows to the size the kernel says it needs (log_true_size, Linux
 * ≥ 6.4) or, on older kernels, fourfold until the log fits.
 */
import type { ProgramHandle, TestRunOptions, TestRunResult } from '../ebpf/engine.js';
import { encode, decode, type Instruction } from '../ebpf/insn.js';
import { LDDW, PseudoCall, PseudoLd } from '../ebpf/opcodes.js';
import type { ProgramSpec } from '../ebpf/spec.js';
import { BpfCmd, ProgType, nameOf, type ProgType as ProgTypeT } from '../ebpf/types.js';
import { UsageError } from '../errors.js';
import { ProgInfo, ProgLoadAttr, TestRunAttr } from './attr.js';
import type { KernelBtf } from './btf-load.js';
import { fdById, objGet, objInfo, objPin } from './bpf.js';
import { VerifierError, kernelError } from './errors.js';
import { Fd } from './fd.js';
import { objectName } from './map.js';
import * as sys from './sys.js';
import { parseVerifierLog } from './verifier-log.js';
import { kernelSymbolId } from './vmlinux-btf.js';

/** BPF_F_* program load flags. */
export const ProgFlags = {
  STRICT_ALIGNMENT: 1 << 0,
  ANY_ALIGNMENT: 1 << 1,
  TEST_RND_HI32: 1 << 2,
  TEST_STATE_FREQ: 1 << 3,
  SLEEPABLE: 1 << 4,
  XDP_HAS_FRAGS: 1 << 5,
} as const;

/** BPF_PROG_TEST_RUN flags. */
export const TestRunFlags = { RUN_ON_CPU: 1 << 0, XDP_LIVE_FRAMES: 1 << 1, SKB_CHECKSUM_COMPLETE: 1 << 2 } as const;

/** Anything with a map fd: a KernelMap, or a map opened elsewhere. */
export interface MapFdSource {
  readonly fd: number;
}

export interface LoadProgramOptions {
  /** Maps the program's references name, by name. */
  maps?: Record<string, MapFdSource>;
  /** Resolve a kernel symbol ('kfunc' or 'ksym' reference) to its BTF id (default: the running kernel's BTF). */
  resolveKernelSymbol?: (name: string, kind: 'kfunc' | 'ksym') => number;
  /**
   * The collection's BTF, loaded (loadBtf): spec.funcInfo and spec.lineInfo
   * are passed to the kernel against it.
   */
  btf?: KernelBtf;
  /** fd of the program's BTF (BPF_BTF_LOAD) when passing raw func_info/line_info records (bpf_func_info, bpf_line_info). */
  btfFd?: number;
  funcInfo?: Uint8Array;
  funcInfoRecSize?: number;
  lineInfo?: Uint8Array;
  lineInfoRecSize?: number;
  /** Verifier log level for a successful load too (1 = instructions, 2 = states); the log is kept in `verifierLog`. */
  logLevel?: number;
  /** Initial log buffer size in bytes (grown as needed). */
  logSize?: number;
  /** For tracing/ext/lsm programs: the BTF id of the attach target, and the object (vmlinux when 0, or a program fd for ext). */
  attachBtfId?: number;
  attachBtfObjFd?: number;
  attachProgFd?: number;
  /** Network device to offload to. */
  ifindex?: number;
  /** Extra prog_flags (ORed with spec.flags). */
  flags?: number;
}

/** The instructions of `spec` with every reference resolved for this kernel. */
export function relocate(spec: ProgramSpec, options: LoadProgramOptions = {}): Instruction[] {
  const insns = spec.instructions.map((i) => ({ ...i }));
  const subject = `program "${spec.name}"`;
  const mapFd = (name: string, index: number): number => {
    const m = options.maps?.[name];
    if (!m) throw new UsageError(`${subject} refers to map "${name}" at instruction ${index}, which was not given`);
    return m.fd;
  };
  const wide = (index: number): [Instruction, Instruction] => {
    const a = insns[index];
    const b = insns[index + 1];
    if (!a || !b || a.code !== LDDW) {
      throw new UsageError(`${subject}: reference at instruction ${index} is not on a 64-bit load (LDDW)`);
    }
    return [a, b];
  };
  for (const ref of spec.references) {
    switch (ref.kind) {
      case 'map': {
        const [a, b] = wide(ref.index);
        a.src = PseudoLd.MAP_FD;
        a.imm = mapFd(ref.map, ref.index);
        b.imm = 0;
        break;
      }
      case 'mapValue': {
        const [a, b] = wide(ref.index);
        a.src = PseudoLd.MAP_VALUE;
        a.imm = mapFd(ref.map, ref.index);
        b.imm = ref.offset | 0;
        break;
      }
      case 'kfunc': {
        const call = insns[ref.index];
        if (!call) throw new UsageError(`${subject}: kfunc reference past the end (instruction ${ref.index})`);
        call.src = PseudoCall.KFUNC;
        call.imm = (options.resolveKernelSymbol ?? kernelSymbolId)(ref.name, 'kfunc');
        call.off = 0;
        break;
      }
      case 'ksym': {
        const [a, b] = wide(ref.index);
        a.src = PseudoLd.BTF_ID;
        a.imm = (options.resolveKernelSymbol ?? kernelSymbolId)(ref.name, 'ksym');
        b.imm = 0;
        break;
      }
    }
  }
  return insns;
}

const BPF_LOG_LEVEL1 = 1;
const MAX_LOG = 0x3fffffff; // the kernel's limit: UINT_MAX >> 2
const ENOSPC = 28;

interface LoadAttempt {
  fd: number;
  log: string;
  trueSize: number;
}

function progLoadOnce(
  spec: ProgramSpec,
  options: LoadProgramOptions,
  insns: sys.NativeBuffer,
  insnCount: number,
  license: sys.NativeBuffer,
  funcInfo: sys.NativeBuffer | undefined,
  lineInfo: sys.NativeBuffer | undefined,
  logLevel: number,
  logSize: number,
): LoadAttempt {
  const log = logLevel > 0 ? new sys.NativeBuffer(logSize) : undefined;
  const attr = new sys.NativeBuffer(ProgLoadAttr.size);
  try {
    ProgLoadAttr.write(attr.view, {
      prog_type: spec.type,
      insn_cnt: insnCount,
      insns: insns.addr,
      license: license.addr,
      log_level: logLevel,
      log_size: log ? logSize : 0,
      log_buf: log?.addr ?? 0,
      kern_version: spec.kernelVersion ?? 0,
      prog_flags: (spec.flags ?? 0) | (options.flags ?? 0),
      prog_name: objectName(spec.name),
      prog_ifindex: options.ifindex ?? 0,
      expected_attach_type: spec.attachType ?? 0,
      prog_btf_fd: options.btfFd ?? 0,
      func_info_rec_size: funcInfo ? (options.funcInfoRecSize ?? 8) : 0,
      func_info: funcInfo?.addr ?? 0,
      func_info_cnt: funcInfo ? funcInfo.size / (options.funcInfoRecSize ?? 8) : 0,
      line_info_rec_size: lineInfo ? (options.lineInfoRecSize ?? 16) : 0,
      line_info: lineInfo?.addr ?? 0,
      line_info_cnt: lineInfo ? lineInfo.size / (options.lineInfoRecSize ?? 16) : 0,
      attach_btf_id: options.attachBtfId ?? 0,
      attach_prog_fd: options.attachProgFd ?? options.attachBtfObjFd ?? 0,
    });
    const fd = sys.bpf(BpfCmd.PROG_LOAD, attr.addr, ProgLoadAttr.size);
    let text = '';
    if (log) {
      const nul = log.bytes.indexOf(0);
      text = new TextDecoder().decode(log.bytes.subarray(0, nul < 0 ? log.size : nul));
    }
    return { fd, log: text, trueSize: attr.view.getUint32(ProgLoadAttr.off('log_true_size'), true) };
  } finally {
    attr.free();
    log?.free();
  }
}

export class KernelProgram implements ProgramHandle {
  readonly #fd: Fd;

  constructor(
    fd: Fd,
    readonly name: string,
    readonly type: ProgTypeT,
    /** The verifier log of a successful load, when a log level was asked for. */
    readonly verifierLog = '',
  ) {
    this.#fd = fd;
  }

  get fd(): number {
    return this.#fd.value;
  }

  get closed(): boolean {
    return this.#fd.closed;
  }

  /** BPF_PROG_TEST_RUN. */
  testRun(options: TestRunOptions & { cpu?: number; batchSize?: number } = {}): TestRunResult {
    const data = options.data;
    const ctx = options.ctx;
    const outSize = data ? (options.dataSizeOut ?? data.length + 512) : 0;
    const bufs: sys.NativeBuffer[] = [];
    const alloc = (n: number) => {
      const b = new sys.NativeBuffer(n);
      bufs.push(b);
      return b;
    };
    try {
      const dataIn = data ? alloc(data.length) : undefined;
      if (dataIn && data) dataIn.bytes.set(data);
      const dataOut = outSize > 0 ? alloc(outSize) : undefined;
      const ctxIn = ctx ? alloc(ctx.length) : undefined;
      if (ctxIn && ctx) ctxIn.bytes.set(ctx);
      const ctxOut = ctx && ctx.length > 0 && this.type !== ProgType.RAW_TRACEPOINT && this.type !== ProgType.SYSCALL ? alloc(ctx.length) : undefined;
      const attr = alloc(TestRunAttr.size);
      let flags = options.flags ?? 0;
      if (options.cpu !== undefined) flags |= TestRunFlags.RUN_ON_CPU;
      TestRunAttr.write(attr.view, {
        prog_fd: this.fd,
        data_size_in: data?.length ?? 0,
        data_size_out: dataOut ? outSize : 0,
        data_in: dataIn?.addr ?? 0,
        data_out: dataOut?.addr ?? 0,
        repeat: options.repeat ?? 0,
        ctx_size_in: ctx?.length ?? 0,
        ctx_size_out: ctxOut ? ctxOut.size : 0,
        ctx_in: ctxIn?.addr ?? 0,
        ctx_out: ctxOut?.addr ?? 0,
        flags,
        cpu: options.cpu ?? 0,
        batch_size: options.batchSize ?? 0,
      });
      const r = sys.bpf(BpfCmd.PROG_TEST_RUN, attr.addr, TestRunAttr.size);
      if (r < 0) throw kernelError('prog test run', -r, `program "${this.name}" (${nameOf(ProgType, this.type) ?? this.type})`);
      const out = TestRunAttr.read(attr.view);
      const dataLen = Math.min(out.data_size_out as number, outSize);
      const result: TestRunResult = {
        retval: out.retval as number,
        dataOut: dataOut ? dataOut.bytes.slice(0, dataLen) : new Uint8Array(0),
        duration: out.duration as number,
      };
      if (ctxOut) result.ctxOut = ctxOut.bytes.slice(0, Math.min(out.ctx_size_out as number, ctxOut.size));
      // A syscall program may write its context back into ctx_in.
      if (this.type === ProgType.SYSCALL && ctxIn) result.ctxOut = ctxIn.bytes.slice();
      return result;
    } finally {
      for (const b of bufs) b.free();
    }
  }

  info(): ProgramInfo {
    return programInfo(this.fd);
  }

  /** The instructions as the kernel holds them after its own rewriting (bpftool prog dump xlated). */
  xlated(): Instruction[] {
    return programXlated(this.fd);
  }

  pin(path: string): void {
    objPin(this.fd, path);
  }

  close(): void {
    this.#fd.close();
  }

  static fromFd(fd: Fd): KernelProgram {
    let info: ProgramInfo;
    try {
      info = programInfo(fd.value);
    } catch (err) {
      fd.close();
      throw err;
    }
    return new KernelProgram(fd, info.name, info.type as ProgTypeT);
  }

  static fromId(id: number): KernelProgram {
    return KernelProgram.fromFd(fdById('prog', id));
  }

  static fromPin(path: string): KernelProgram {
    return KernelProgram.fromFd(objGet(path, 0, `program pinned at ${path}`));
  }
}

export interface ProgramInfo {
  id: number;
  type: number;
  typeName: string;
  name: string;
  /** The program's tag (hex), as bpftool shows it. */
  tag: string;
  xlatedLength: number;
  jitedLength: number;
  /** Nanoseconds since boot. */
  loadTime: bigint;
  createdByUid: number;
  mapIds: number[];
  btfId: number;
  gplCompatible: boolean;
  runTimeNs: bigint;
  runCount: bigint;
  verifiedInsns: number;
}

export function programInfo(fd: number): ProgramInfo {
  const first = objInfo(fd, ProgInfo, undefined, 'prog info');
  const nMaps = first.nr_map_ids as number;
  let mapIds: number[] = [];
  if (nMaps > 0) {
    const ids = new sys.NativeBuffer(4 * nMaps);
    try {
      objInfo(fd, ProgInfo, { nr_map_ids: nMaps, map_ids: ids.addr }, 'prog info');
      mapIds = Array.from({ length: nMaps }, (_, i) => ids.view.getUint32(4 * i, true));
    } finally {
      ids.free();
    }
  }
  const tag = Array.from(first.tag as Uint8Array, (b) => b.toString(16).padStart(2, '0')).join('');
  return {
    id: first.id as number,
    type: first.type as number,
    typeName: nameOf(ProgType, first.type as number) ?? `type ${first.type}`,
    name: first.name as string,
    tag,
    xlatedLength: first.xlated_prog_len as number,
    jitedLength: first.jited_prog_len as number,
    loadTime: first.load_time as bigint,
    createdByUid: first.created_by_uid as number,
    mapIds,
    btfId: first.btf_id as number,
    gplCompatible: ((first.gpl_compatible_bits as number) & 1) === 1,
    runTimeNs: first.run_time_ns as bigint,
    runCount: first.run_cnt as bigint,
    verifiedInsns: first.verified_insns as number,
  };
}

export function programXlated(fd: number): Instruction[] {
  const len = programInfo(fd).xlatedLength;
  if (len === 0) return [];
  const buf = new sys.NativeBuffer(len);
  try {
    objInfo(fd, ProgInfo, { xlated_prog_len: len, xlated_prog_insns: buf.addr }, 'prog info');
    return decode(buf.bytes.slice());
  } finally {
    buf.free();
  }
}

/**
 * BPF_PROG_LOAD of a spec, its references resolved against `options.maps`.
 * Throws VerifierError (complete log, failing instruction) when the verifier
 * refuses, KernelError for other refusals, PermissionError without privileges.
 */
export function loadProgram(spec: ProgramSpec, options: LoadProgramOptions = {}): KernelProgram {
  if (spec.instructions.length === 0) throw new UsageError(`program "${spec.name}" has no instructions`);
  const insns = relocate(spec, options);
  const bytes = encode(insns);
  const held: sys.NativeBuffer[] = [];
  const copy = (b: Uint8Array | string, cString = false) => {
    const n = sys.nativeCopy(b, cString);
    held.push(n);
    return n;
  };
  try {
    const code = copy(bytes);
    const license = copy(spec.license || 'GPL', true);
    const records = btfRecords(spec, options);
    const funcInfo = records.funcInfo?.length ? copy(records.funcInfo) : undefined;
    const lineInfo = records.lineInfo?.length ? copy(records.lineInfo) : undefined;
    options = { ...options, btfFd: records.btfFd };
    const wantLog = options.logLevel ?? 0;
    let logSize = Math.max(options.logSize ?? 1 << 20, 4096);
    let attempt = progLoadOnce(spec, options, code, insns.length, license, funcInfo, lineInfo, wantLog, logSize);
    if (attempt.fd >= 0) {
      return new KernelProgram(new Fd(attempt.fd, `prog ${spec.name}`), spec.name, spec.type, attempt.log);
    }
    let errno = -attempt.fd;
    // Refused: load again with a log big enough for all of it.
    const level = Math.max(wantLog, BPF_LOG_LEVEL1);
    for (;;) {
      attempt = progLoadOnce(spec, options, code, insns.length, license, funcInfo, lineInfo, level, logSize);
      if (attempt.fd >= 0) {
        // Accepted the second time (the first refusal was transient, e.g. EAGAIN).
        return new KernelProgram(new Fd(attempt.fd, `prog ${spec.name}`), spec.name, spec.type, attempt.log);
      }
      const e = -attempt.fd;
      if (e === ENOSPC && logSize < MAX_LOG) {
        logSize = attempt.trueSize > logSize ? attempt.trueSize : Math.min(logSize * 4, MAX_LOG);
        continue;
      }
      errno = e;
      break;
    }
    if (attempt.log.trim().length === 0) {
      throw kernelError('prog load', errno, `program "${spec.name}" (${nameOf(ProgType, spec.type) ?? spec.type})`);
    }
    const verdict = parseVerifierLog(attempt.log);
    // A log with no reason in it (only the summary): say what the errno means instead.
    const reason = verdict.reason || kernelError('prog load', errno).message.replace(/^prog load: /, '');
    throw new VerifierError(errno, spec.name, attempt.log, verdict.insnIndex, reason, verdict.insnText);
  } finally {
    for (const b of held) b.free();
  }
}

/** bpf_func_info / bpf_line_info records for the kernel: raw ones given in options, or spec.funcInfo/lineInfo against options.btf. */
function btfRecords(
  spec: ProgramSpec,
  options: LoadProgramOptions,
): { funcInfo?: Uint8Array; lineInfo?: Uint8Array; btfFd?: number } {
  if (options.funcInfo || options.lineInfo || !options.btf) {
    return { funcInfo: options.funcInfo, lineInfo: options.lineInfo, btfFd: options.btfFd ?? options.btf?.fd };
  }
  const btf = options.btf;
  let funcInfo: Uint8Array | undefined;
  let lineInfo: Uint8Array | undefined;
  if (spec.funcInfo?.length) {
    funcInfo = new Uint8Array(8 * spec.funcInfo.length);
    const v = new DataView(funcInfo.buffer);
    spec.funcInfo.forEach((f, i) => {
      v.setUint32(8 * i, f.insn, true);
      v.setUint32(8 * i + 4, f.typeId, true);
    });
  }
  // Line info needs func info (the kernel refuses it alone) and every string in the BTF.
  if (funcInfo && spec.lineInfo?.length) {
    const recs = spec.lineInfo.filter((l) => btf.strings.has(l.fileName) && btf.strings.has(l.line));
    if (recs.length === spec.lineInfo.length) {
      lineInfo = new Uint8Array(16 * recs.length);
      const v = new DataView(lineInfo.buffer);
      recs.forEach((l, i) => {
        v.setUint32(16 * i, l.insn, true);
        v.setUint32(16 * i + 4, btf.strings.get(l.fileName)!, true);
        v.setUint32(16 * i + 8, btf.strings.get(l.line)!, true);
        v.setUint32(16 * i + 12, ((l.lineNum << 10) | (l.column & 0x3ff)) >>> 0, true);
      });
    }
  }
  return { funcInfo, lineInfo, btfFd: funcInfo ? btf.fd : undefined };
}
