/**
 * bpfkit/elf: ELF objects → CollectionSpec.
 *
 *   ElfFile.parse(bytes)              a generic ELF64 reader (sections, symbols, relocations, notes, program headers)
 *   loadCollectionSpec(bytes | path)  a clang-compiled BPF object → ElfCollectionSpec (programs, maps, variables)
 *   matchSection(name)                libbpf's SEC() conventions: program type, attach type, flags, target
 *
 * See README.md.
 */
export * from './errors.js';
export * from './reader.js';
export { SECTION_DEFS, matchSection, BPF_F_SLEEPABLE, BPF_F_XDP_HAS_FRAGS, type SectionDef, type SectionMatch, type Hook } from './sections.js';
export { loadCollectionSpec, kernelBtfFromFile, type LoadOptions, type ElfCollectionSpec } from './collection.js';
export { Variable, type VariableValue } from './variables.js';
export { BpfObject, R_BPF, R_BPF_NAMES, relocName } from './object.js';
export { parseKconfig, parseKallsyms, kernelVersionCode, readRunningKconfig } from './externs.js';
export { BPF_F_MMAPABLE, BPF_F_RDONLY_PROG } from './maps.js';
export { usdtProbes, NT_STAPSDT, type UsdtProbe } from './usdt.js';
export { resolveSymbol, type ResolvedSymbol } from './symbols.js';
