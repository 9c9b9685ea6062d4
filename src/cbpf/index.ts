/**
 * bpfkit/cbpf — classic BPF: the instruction model, the validator (kernel and
 * libpcap rules), the interpreter (libpcap semantics, Linux ancillary data
 * through PacketMeta), the JIT, and the tcpdump -d/-dd/-ddd and bpf_asm text
 * formats. See README.md.
 */
export * from './insn.js';
export * from './errors.js';
export {
  VALID_OPCODES, isValidOpcode, isConditionalJump, ANCILLARY_NAMES, ancillaryField, ignoresK, canonicalInsn,
} from './opcodes.js';
export { checkProgram, validate, isValid, LIBPCAP_MAXINSNS } from './validate.js';
export { type PacketMeta } from './meta.js';
export {
  interpret, interpreter, decodeProgram, type DecodedProgram, MAX_BACKWARD_JUMPS, backwardJumpLimit,
} from './interpret.js';
export {
  jit, jitSource, jitStandaloneSource, jitBatch, jitBatchSource, clearJitCache, type CompiledFilter, type JitOptions, type StandaloneOptions, type BatchFilter, type PacketBatch,
} from './jit.js';
export {
  formatInsn, formatD, formatDD, formatDDD, formatBytecode, formatBpfAsm, insnParts, type DumpStyle,
} from './format.js';
export { parseD, parseDD, parseDDD, parseProgram, detectFormat, type ProgramFormat } from './parse.js';
export { parseBpfAsm } from './asm.js';
export {
  jitWasm, jitWasmBatch, wasmModuleBytes, clearWasmCache, WasmPackets, type WasmFilter, type WasmJitOptions,
} from './wasm.js';
