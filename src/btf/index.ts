/**
 * bpfkit/btf: BTF and BTF.ext — parse, look up, size, encode, print (raw like
 * bpftool, or C), CO-RE relocations, line info.
 *
 * Entry points:
 *   parseBtf(bytes, {base?})        raw .BTF bytes (either byte order) → Btf
 *   parseBtfExt(bytes, btf)         .BTF.ext bytes → {funcInfo, lineInfo, coreRelos} per ELF section
 *   loadBtf(bytes) / btfFromElf()   raw BTF or an ELF object's .BTF/.BTF.ext
 *   loadKernelBtf()                 /sys/kernel/btf/vmlinux, cached
 *   Btf                             type(id), byName(name, kind?), find(), get(name, kind),
 *                                   resolve(id) (through typedefs/qualifiers), skipModifiers(id),
 *                                   sizeOf(id), alignOf(id), member(), field(), types(), length
 *   BtfType                         plain objects discriminated by `kind` ('int', 'struct', ...)
 *
 * Errors: BtfError (code EBTF...) with section / typeId / offset.
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
