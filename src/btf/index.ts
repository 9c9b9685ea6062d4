/**
 * bpfkit/btf: BTF and BTF.ext — parse, look up, size, encode, sanitise, print
 * (raw like bpftool, or C), CO-RE relocations, line info. See README.md.
 *
 * Reading
 *   parseBtf(bytes, {base?})        raw BTF (either byte order; split on a base) → Btf
 *   parseBtfExt(bytes, btf)         .BTF.ext → {funcInfo, lineInfo, coreRelos} per ELF section
 *   loadBtf(bytes) / btfFromElf()   raw BTF, or an ELF object's .BTF (+ .BTF.ext)
 *   loadKernelBtf()                 /sys/kernel/btf/vmlinux, parsed once; loadKernelModuleBtf(name)
 * The type graph
 *   Btf                             type(id), byName(name, kind?), find(), get(name, kind),
 *                                   resolve(id), skipModifiers(id), sizeOf(id), alignOf(id),
 *                                   member(id, name), field(id, name), types(), kindOf/nameOf,
 *                                   length, firstId, base
 *   BtfType                         plain objects discriminated by `kind` ('int', 'struct', ...)
 * Writing
 *   encodeBtf(btf)                  → bytes the kernel and bpftool accept
 *   sanitizeBtf(btf, features)      libbpf's rewrites for kernels lacking kinds
 * Printing
 *   formatRaw / formatRawBytes      `bpftool btf dump file` text
 *   formatC, CPrinter               a compilable header (vmlinux.h)
 *   typeToC / declarationToC / definitionToC   one type as C
 * CO-RE
 *   new CoreResolver(local, target) .resolve(relo) → CoreResult {origValue, newValue, poison, ...}
 *   patchInstruction(insns, i, res) libbpf's instruction patching (or poisoning)
 * Source lines
 *   lineTables(ext), LineTable.at(insn), formatLineInfo, formatSourceLocation
 *
 * Errors: BtfError (code EBTF...) with section / typeId / offset; CoreRelocationError (EBTF_CORE).
 */
export { Btf, MAX_RESOLVE_DEPTH, type BtfOptions, type TypeOfKind } from './btf.js';
export { BtfError, CoreRelocationError, type BtfErrorWhere } from './errors.js';
export { StringTable, StringTableBuilder } from './strings.js';
export * from './types.js';
export { parseBtf, parseBtfHeader, btfByteOrder, BtfSource, BTF_MAGIC, BTF_HEADER_LEN, type ParseOptions, type BtfHeader } from './parse.js';
export {
  parseBtfExt,
  insnIndex,
  CoreReloKind,
  CORE_RELO_KIND_NAMES,
  type BtfExt,
  type ExtSection,
  type FuncInfo,
  type LineInfo,
  type CoreRelo,
} from './ext.js';
export { elfSections, isElf, type ElfSection } from './elf-sections.js';
export { btfFromElf, loadBtf, loadKernelBtf, loadKernelModuleBtf, KERNEL_BTF_PATH, type LoadedBtf } from './load.js';
export { encodeBtf, type EncodeOptions } from './encode.js';
export { formatRaw, formatRawBytes, formatRawType } from './format-raw.js';
export {
  CoreResolver,
  patchInstruction,
  applyCoreRelocation,
  parseCoreSpec,
  matchCoreSpec,
  calcCoreResult,
  formatCoreSpec,
  POISON_IMM,
  CORE_SPEC_MAX_LEN,
  type CoreResult,
  type CoreSpec,
  type CoreAccessor,
  type CorePatch,
  type CoreResolverOptions,
} from './core.js';
export { essentialName, essentialNameLength, fieldsCompatible, typesCompatible, typesMatch } from './core-match.js';
export { CPrinter, formatC, typeToC, declarationToC, definitionToC, isPacked, type CDumpOptions } from './format-c.js';
export { LineTable, lineTables, formatLineInfo, formatSourceLocation } from './lineinfo.js';
export { sanitizeBtf, needsSanitizing, type BtfFeatures } from './sanitize.js';
