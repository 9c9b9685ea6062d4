/**
 * bpfkit/vm: the embedded eBPF engine. See README.md in this folder.
 */
export { Vm, VmCollection, DEFAULT_BUDGET, type VmOptions } from './vm.js';
export { VmProgram, type VmRunOptions, type VmRunResult } from './program.js';
export type { Redirect } from './run.js';
export { VmMemory, NULL_GUARD, MAP_HANDLE_BASE, type MemoryOptions } from './memory.js';
export { RegionTable, type Region, type RegionKind, type SlotLayout } from './regions.js';
export { makeEnv, type HostEnv, type EnvOptions, type TaskInfo } from './env.js';
export { kindOf, type ProgKind } from './kinds.js';
export { SkBuff, XdpMd } from './context.js';
export { HelperRegistry, HelperCall, type HelperFn, type HelperDef } from './helpers/registry.js';
export { builtinHelpers } from './helpers/builtin.js';
export { VmMap, MapFlags } from './maps/map.js';
export { ArrayMap } from './maps/array.js';
export { HashMap, HashOfMaps } from './maps/hash.js';
export { LpmTrieMap } from './maps/lpm.js';
export { QueueStackMap } from './maps/queue.js';
export { BloomFilterMap } from './maps/bloom.js';
export { RingBufMap, RingbufQuery } from './maps/ringbuf.js';
export { PerfEventArrayMap, type PerfSample } from './maps/perf.js';
export { FdArray } from './maps/fd-array.js';
export { StackTraceMap, StackIdFlags } from './maps/stack-trace.js';
export { checkMapSpec, VM_MAP_TYPES } from './maps/create.js';
export {
  VmLoadError,
  VmRuntimeError,
  VmMemoryError,
  VmBudgetError,
  VmCallError,
  VmHelperError,
  VmUsageError,
  type InsnSite,
} from './errors.js';
