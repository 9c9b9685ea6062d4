/**
 * BPF_BTF_LOAD: raw BTF bytes into the kernel, giving the fd that maps
 * (key/value types) and programs (func_info, line_info) refer to. The kernel
 * checks the BTF itself; when it refuses, its log says why (BtfLoadError).
 *
 * Line info names its file and source line by offsets into the BTF string
 * section, so `withStrings` appends any strings the section lacks before the
 * blob is loaded. Only the header and the string section are read here; the
 * type graph is src/btf's business.
 */
import { BpfCmd } from '../ebpf/types.js';
import { UsageError } from '../errors.js';
import { BtfInfo, BtfLoadAttr } from './attr.js';
import { objInfo } from './bpf.js';
import { BtfLoadError, kernelError } from './errors.js';
import { Fd } from './fd.js';
import * as sys from './sys.js';

const BTF_MAGIC = 0xeb9f;
const HEADER = 24;

interface BtfHeader {
  hdrLen: number;
  typeOff: number;
  typeLen: number;
  strOff: number;
  strLen: number;
}

function header(bytes: Uint8Array): BtfHeader {
  if (bytes.length < HEADER) throw new UsageError(`BTF blob of ${bytes.length} bytes is shorter than its header`);
  const v = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  if (v.getUint16(0, true) !== BTF_MAGIC) {
    throw new UsageError(`not little-endian BTF (magic 0x${v.getUint16(0, true).toString(16)}, expected 0xeb9f)`);
  }
  const h = {
    hdrLen: v.getUint32(4, true),
    typeOff: v.getUint32(8, true),
    typeLen: v.getUint32(12, true),
    strOff: v.getUint32(16, true),
    strLen: v.getUint32(20, true),
  };
  if (h.hdrLen + h.strOff + h.strLen > bytes.length || h.hdrLen + h.typeOff + h.typeLen > bytes.length) {
    throw new UsageError('BTF header points past the end of the blob');
  }
  return h;
}

/** The offset of every string in the BTF string section. */
export function btfStrings(bytes: Uint8Array): Map<string, number> {
  const h = header(bytes);
  const start = h.hdrLen + h.strOff;
  const sec = bytes.subarray(start, start + h.strLen);
  const out = new Map<string, number>();
  const dec = new TextDecoder();
  let i = 0;
  while (i < sec.length) {
    let j = sec.indexOf(0, i);
    if (j < 0) j = sec.length;
    const s = dec.decode(sec.subarray(i, j));
    if (!out.has(s)) out.set(s, i);
    i = j + 1;
  }
  return out;
}

/**
 * The blob with `extra` strings appended to its string section (those it
 * lacks), and the offset of every string. The string section must be last,
 * as compilers and bpfkit's encoder lay it out.
 */
export function withStrings(bytes: Uint8Array, extra: Iterable<string>): { bytes: Uint8Array; strings: Map<string, number> } {
  const h = header(bytes);
  const strings = btfStrings(bytes);
  const missing = [...new Set(extra)].filter((s) => !strings.has(s));
  if (missing.length === 0) return { bytes, strings };
  const strEnd = h.hdrLen + h.strOff + h.strLen;
  if (strEnd !== bytes.length || h.typeOff + h.typeLen > h.strOff) {
    throw new UsageError('cannot add strings to a BTF blob whose string section is not last');
  }
  const enc = new TextEncoder();
  const added = missing.map((s) => enc.encode(s));
  const grow = added.reduce((n, a) => n + a.length + 1, 0);
  const out = new Uint8Array(bytes.length + grow);
  out.set(bytes);
  let at = bytes.length;
  missing.forEach((s, i) => {
    strings.set(s, at - (h.hdrLen + h.strOff));
    out.set(added[i]!, at);
    at += added[i]!.length + 1;
  });
  new DataView(out.buffer).setUint32(20, h.strLen + grow, true);
  return { bytes: out, strings };
}

const ENOSPC = 28;

/** A BTF object in the kernel. */
export class KernelBtf {
  readonly #fd: Fd;

  constructor(
    fd: Fd,
    /** String offsets of the loaded blob (for line info). */
    readonly strings: Map<string, number>,
  ) {
    this.#fd = fd;
  }

  get fd(): number {
    return this.#fd.value;
  }

  /** The kernel's id for this BTF object. */
  id(): number {
    return objInfo(this.fd, BtfInfo, undefined, 'btf info').id as number;
  }

  close(): void {
    this.#fd.close();
  }
}

export interface LoadBtfOptions {
  /** Strings to make sure the string section holds (line info file names and source lines). */
  strings?: Iterable<string>;
  /** Log level for a successful load too (the log is discarded unless the kernel refuses). */
  logLevel?: number;
}

/** BPF_BTF_LOAD. Throws BtfLoadError with the kernel's BTF log when it refuses. */
export function loadBtf(raw: Uint8Array, options: LoadBtfOptions = {}): KernelBtf {
  const { bytes, strings } = options.strings ? withStrings(raw, options.strings) : { bytes: raw, strings: btfStrings(raw) };
  const blob = sys.nativeCopy(bytes);
  try {
    const first = attempt(blob, options.logLevel ?? 0, 0);
    if (first.fd >= 0) return new KernelBtf(new Fd(first.fd, 'btf'), strings);
    let errno = -first.fd;
    let logSize = 1 << 16;
    let log = '';
    for (;;) {
      const r = attempt(blob, 1, logSize);
      if (r.fd >= 0) return new KernelBtf(new Fd(r.fd, 'btf'), strings);
      errno = -r.fd;
      log = r.log;
      if (errno === ENOSPC && logSize < 1 << 30) {
        logSize = r.trueSize > logSize ? r.trueSize : logSize * 4;
        continue;
      }
      break;
    }
    if (!log.trim()) throw kernelError('btf load', errno);
    throw new BtfLoadError(errno, log);
  } finally {
    blob.free();
  }
}

function attempt(blob: sys.NativeBuffer, level: number, logSize: number): { fd: number; log: string; trueSize: number } {
  const log = level > 0 && logSize > 0 ? new sys.NativeBuffer(logSize) : undefined;
  const attr = new sys.NativeBuffer(BtfLoadAttr.size);
  try {
    BtfLoadAttr.write(attr.view, {
      btf: blob.addr,
      btf_size: blob.size,
      btf_log_buf: log?.addr ?? 0,
      btf_log_size: log ? logSize : 0,
      btf_log_level: log ? level : 0,
    });
    const fd = sys.bpf(BpfCmd.BTF_LOAD, attr.addr, BtfLoadAttr.size);
    let text = '';
    if (log) {
      const nul = log.bytes.indexOf(0);
      text = new TextDecoder().decode(log.bytes.subarray(0, nul < 0 ? log.size : nul));
    }
    return { fd, log: text, trueSize: attr.view.getUint32(BtfLoadAttr.off('btf_log_true_size'), true) };
  } finally {
    attr.free();
    log?.free();
  }
}
