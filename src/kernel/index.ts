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

// Links and attaching (see README.md, "Links and attaching").
export { Link, Parts, building, AttachFlags } from './link.js';
export type { ProgramRef, Part, LinkInfoRecord } from './link.js';
export { AttachError, AttachTargetError } from './attach-errors.js';
export { attachTracepoint, attachRawTracepoint, parseTracepoint, tracepointEventId } from './tracepoint.js';
export { attachTracing, attachTpBtf, attachFentry, attachFexit, attachLsm, tracingTarget, tracingTargetName, tracingLinkAttr } from './tracing.js';
export { attachUprobe, attachUretprobe, attachUprobeMulti, uprobeMultiSupported, uprobeTarget, probePmu } from './uprobe.js';
export type { UprobeOptions, UprobeMultiOptions, ProbePmu } from './uprobe.js';
export { attachUsdt, usdtSites, parseUsdtArg, parseUsdtArgs, encodeUsdtSpec, usdtRegisterOffset, UsdtArgType, USDT_SPEC_SIZE } from './usdt.js';
export type { UsdtOptions, UsdtArg, UsdtSpecMap } from './usdt.js';
export { attachKprobe, attachKretprobe, kprobeAttr, kprobeEventDefinition } from './kprobe.js';
export type { KprobeOptions } from './kprobe.js';
export { attachPerfEvent, attachTimer, attachToPerfEvent, perfEventByName, perfLinkSupported } from './perf-link.js';
export type { SamplingOptions, PerfAttachOptions } from './perf-link.js';
export { attachSocketFilter, attachClassicFilter, encodeSockFilter } from './socket.js';
export type { ClassicInsn } from './socket.js';
export { attachXdp, XdpFlags, xdpModeFlags } from './xdp.js';
export type { XdpMode, XdpOptions, NetAttachOptions } from './xdp.js';
export { attachTcx, TcxVerdict } from './tcx.js';
export type { TcxOptions } from './tcx.js';
export { attachCgroup, cgroupAttachType, cgroup2Mounts, CGROUP_ATTACH_TYPES } from './cgroup.js';
export { inNetns, interfaceIndex } from './netns.js';
export { resolveBinary, ldCache, parseLdCache } from './ld-cache.js';
export { acquireTracefs, withTracefs, findTracefs, tracepointId, listTracepoints, TRACEFS_MOUNT_POINT } from './tracefs.js';
export { parseAttachTarget, attachTo, targetFromSection, parseInterval } from './attach-target.js';
export type { AttachTarget, AttachToOptions } from './attach-target.js';
export { PacketSocket, PacketType, linkTypeOfArphrd } from './packet-socket.js';
export type { PacketSocketOptions, CapturedPacket, PacketStats } from './packet-socket.js';
