/**
 * bpfkit/kernel: the Linux engine. Maps, programs and collections made live
 * in the running kernel through bpf(2), with the same MapHandle /
 * ProgramHandle interfaces as the embedded VM; ring and perf buffer readers;
 * feature probes; pinning. See README.md in this folder.
 */
export { createMap, KernelMap, MappedMap, MapFlags, mapInfo, incompatibility, isPerCpu, holdsFds, objectName } from './map.js';
export type { CreateMapOptions, MapInfoRecord } from './map.js';
export { loadProgram, relocate, KernelProgram, ProgFlags, TestRunFlags, programInfo, programXlated } from './program.js';
export type { LoadProgramOptions, MapFdSource, ProgramInfo } from './program.js';
export { loadCollection, KernelCollection } from './collection.js';
export type { LoadCollectionOptions } from './collection.js';
export {
  KernelError,
  PermissionError,
  VerifierError,
  BtfLoadError,
  PinMismatchError,
  KernelUnavailableError,
  kernelError,
  hasBpfCapabilities,
} from './errors.js';
export { parseVerifierLog } from './verifier-log.js';
export type { VerifierVerdict } from './verifier-log.js';
export { Fd, openFds, releaseAll } from './fd.js';
export { possibleCpus, onlineCpus, parseCpuList } from './cpus.js';
export {
  objPin,
  objGet,
  listIds,
  fdById,
  linkCreate,
  linkUpdate,
  linkDetach,
  rawTracepointOpen,
  progAttach,
  progDetach,
  progQuery,
  taskFdQuery,
  enableStats,
  iterCreate,
  progBindMap,
  BPF_F_RDONLY,
  BPF_F_WRONLY,
} from './bpf.js';
export type { ObjKind } from './bpf.js';
export * as attr from './attr.js';
