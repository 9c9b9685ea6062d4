/**
 * bpfkit: the BPF toolchain for TypeScript. Each layer is also its own
 * subpath export (bpfkit/cbpf, bpfkit/filter, bpfkit/capture, bpfkit/ebpf,
 * bpfkit/elf, bpfkit/btf, bpfkit/vm, bpfkit/kernel).
 */
export { BpfkitError, UsageError } from './errors.js';
export { Vm, type VmOptions } from './vm/index.js';
export { TypedMap, typedMap, codec, encode, decode, CodecError, type Codec } from './ebpf/map-codec.js';
export { CaptureReader, readCaptureSync, Summarizer, PcapFormatError, type Packet } from './capture/index.js';
export { compile, FilterSyntaxError, FilterSemanticError, type CompileOptions } from './filter/index.js';
export { createMap, loadProgram, loadCollection, KernelMap, KernelProgram, KernelCollection, RingBufReader, PerfBufReader, KernelError, VerifierError, PermissionError } from './kernel/index.js';
export { Btf, BtfError, CoreResolver, parseBtf, btfFromElf, loadKernelBtf, formatC, formatRaw, type BtfType } from './btf/index.js';
