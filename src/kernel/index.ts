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
  requireBpfCapabilities,
} from './errors.js';
export { parseVerifierLog } from './verifier-log.js';
export type { VerifierVerdict } from './verifier-log.js';
export { Fd, openFds, releaseAll, releaseOnSignals } from './fd.js';
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
export { RingBufReader } from './ringbuf.js';
export type { RingBufOptions } from './ringbuf.js';
export { PerfBufReader } from './perfbuf.js';
export type { PerfBufOptions, PerfBufRecord, PerfSampleRecord, PerfLostRecord } from './perfbuf.js';
export type { PollOptions, WaitMode } from './poll-loop.js';
export {
  perfEventOpen,
  perfIoctl,
  PerfEventAttr,
  PerfFlag,
  PerfType,
  PerfSwConfig,
  PerfSample,
  PerfRecord,
  PerfIoctl,
} from './perf-event.js';
export { loadBtf, KernelBtf, btfStrings, withStrings } from './btf-load.js';
export type { LoadBtfOptions } from './btf-load.js';
export { vmlinuxBtf, kernelSymbolId, indexBtf, BtfKind } from './vmlinux-btf.js';
export type { BtfNameIndex } from './vmlinux-btf.js';
export { bpffsMounts, isOnBpffs, unpin, openPinned, fdKind, pinName } from './pin.js';
export type { PinnedKind } from './pin.js';
export {
  mapTypeSupported,
  progTypeSupported,
  helperSupported,
  supportedHelpers,
  linkTypeSupported,
  fentrySupported,
  kprobesSupported,
  kernelFeatures,
  minimalMapSpec,
  clearProbeCache,
} from './probes.js';
export type { ProbeResult, KernelFeatures } from './probes.js';
export * as sys from './sys.js';
export { listPrograms, listMaps, parseObjectRef, openPrograms, openMaps } from './objects.js';
export type { ObjectRef } from './objects.js';
