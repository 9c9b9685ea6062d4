/**
 * bpfkit: the BPF toolchain for TypeScript. Each layer is also its own
 * subpath export (bpfkit/cbpf, bpfkit/filter, bpfkit/capture, bpfkit/ebpf,
 * bpfkit/elf, bpfkit/btf, bpfkit/vm, bpfkit/kernel).
 */
export { BpfkitError, UsageError } from './errors.js';
