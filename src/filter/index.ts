/**
 * bpfkit/filter: the pcap-filter language → classic BPF.
 * See README.md in this folder for the layout.
 */
export { compile, compileDetailed, type CompileOptions, type Compiled } from './compile.js';
export { parseFilter } from './parser.js';
export { tokenize, type Token } from './lexer.js';
export { printAst, printNode, type FilterAst, type Node, type Qual, type IdValue, type Arith } from './ast.js';
export { FilterSyntaxError, FilterSemanticError } from './errors.js';
export type { Cfg, Block, Stmt, Terminator } from './cfg.js';
export { linearize, fromProgram, layout } from './linearize.js';
export { optimize } from './optimize.js';
export { toDot } from './dot.js';
export { DLT, dltName, resolveLinkType } from './linktypes.js';
export { fileResolver, builtinResolver, type Resolver, type HostAddresses } from './names/resolver.js';
export { etherAton, atodn, atoan, atoin, xdtoi, getDecUint, parseIpv6 } from './names/addr.js';
export { ETHER_PROTOS, LLC_SAPS, IP_PROTOS } from './names/tables.js';
