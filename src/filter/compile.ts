/**
 * The filter compiler's API: expression → classic BPF program.
 *
 *   compile('tcp port 80', { linkType: 'EN10MB' })
 *
 * Options mirror pcap_compile and tcpdump: the link type (DLT name or
 * number; EN10MB by default), the snapshot length returned for accepted
 * packets (262144), the netmask (for `ip broadcast`), whether to optimise,
 * a name resolver, Linux ancillary loads (`linuxExt`, a live Linux capture),
 * and `offline` for programs run on savefiles (libpcap's offline filter:
 * DLT_NULL/LOOP address families in the file's byte order).
 */
import type { CbpfProgram } from '../cbpf/insn.js';
import { UsageError } from '../errors.js';
import type { FilterAst } from './ast.js';
import type { Cfg } from './cfg.js';
import * as indexModule from './codegen/index.js';
import { FilterSemanticError } from './errors.js';
import * as linearizeModule from './linearize.js';
import type { SizedCfg } from './linearize.js';
import * as linktypesModule from './linktypes.js';
import * as addrModule from './names/addr.js';
import * as resolverModule from './names/resolver.js';
import type { Resolver } from './names/resolver.js';
import * as optimizeModule from './optimize.js';
import * as parserModule from './parser.js';
// Module-level copies of the imports: V8 folds a module's own constants into optimised code,
// not imported (live) bindings (see src/filter/README.md, "Compile speed").
const { generate } = indexModule;
const { layout, linearize } = linearizeModule;
const { DLT, resolveLinkType } = linktypesModule;
const { atoin } = addrModule;
const { fileResolver } = resolverModule;
const { optimize: optimizeCfg, optimizeForProgram } = optimizeModule;
const { parseFilter } = parserModule;

export interface CompileOptions {
  /** DLT name (`EN10MB`, `DLT_RAW`, `linux_sll`) or number. Default EN10MB. */
  linkType?: string | number;
  /** Value returned for accepted packets. Default 262144 (tcpdump's). */
  snaplen?: number;
  /** IPv4 netmask for `ip broadcast`, dotted quad or number; undefined = unknown. */
  netmask?: string | number;
  /** Run the optimiser (default true). */
  optimize?: boolean;
  /** Name resolver (default: /etc/hosts, /etc/ethers, /etc/networks and built-in tables). */
  resolver?: Resolver;
  /** Use Linux ancillary data loads (live Linux capture). */
  linuxExt?: boolean;
  /** Compile for a savefile: 'unswapped' (host byte order) or 'swapped'. */
  offline?: false | 'unswapped' | 'swapped';
}

export interface Compiled {
  ast: FilterAst;
  /** The graph code generation produced. */
  cfg: Cfg;
  /** The graph after optimisation (same object as cfg when not optimising). */
  optimized: Cfg;
  program: CbpfProgram;
}

let defaultResolver: Resolver | undefined;

function parseNetmask(m: string | number | undefined): number | undefined {
  if (m === undefined) return undefined;
  if (typeof m === 'number') return m >>> 0 === 0xffffffff ? undefined : m >>> 0;
  const a = atoin(m);
  if (!a || a.bits !== 32) throw new UsageError(`invalid netmask '${m}'`);
  return a.value === 0xffffffff ? undefined : a.value;
}

/** The link type's value: EN10MB when not given (no table lookup for the default). */
function linkTypeOf(spec: string | number | undefined): number {
  // `??` as before: null (from JavaScript callers) is the default too.
  return spec === undefined || spec === null ? DLT.EN10MB : resolveLinkType(spec);
}

function checkSnaplen(snaplen: number, expression: string): void {
  if (!Number.isInteger(snaplen) || snaplen < 0 || snaplen > 0xffffffff) throw new UsageError(`invalid snaplen ${snaplen}`);
  if (snaplen === 0) throw new FilterSemanticError('snaplen of 0 rejects all packets', expression);
}

/** Code generation's graph for a parsed expression (the options checked in compile()'s order). */
function generateFor(ast: FilterAst, expression: string, options: CompileOptions, linkType: number, snaplen: number, doOpt: boolean): Cfg {
  return generate(ast, {
    linkType,
    snaplen,
    netmask: options.netmask === undefined ? undefined : parseNetmask(options.netmask),
    linuxExt: options.linuxExt ?? false,
    offline: options.offline ?? false,
    resolver: options.resolver ?? (defaultResolver ??= fileResolver()),
    expression,
    fold: doOpt,
    program: !doOpt,
  });
}

const rejectsAll = (expression: string): FilterSemanticError => new FilterSemanticError('expression rejects all packets', expression, 0);

/** An optimised graph, refusing an expression that rejects every packet. */
function checked(out: Cfg, expression: string): Cfg {
  const e = out.entry;
  if (e.term.kind === 'ret' && e.term.code === 0x06 && e.term.k === 0) throw rejectsAll(expression);
  return out;
}

/** The optimised graph, refusing an expression that rejects every packet. */
function optimized(cfg: Cfg, expression: string): Cfg {
  return checked(optimizeCfg(cfg), expression);
}

/**
 * Give every block reachable from the entry statement objects (and arrays) of its own. Code
 * generation shares some with every compile (the load arrays, scratch-slot and constant
 * statements of codegen/context.ts and encap.ts): the graphs compileDetailed hands out may be
 * edited by the caller.
 */
function ownStatements(cfg: Cfg): void {
  for (const b of layout(cfg)) b.stmts = b.stmts.map((x) => ({ code: x.code, k: x.k }));
}

/**
 * Compile and keep every stage (AST, CFG before/after optimisation, program). The graphs come
 * without code generation's size bound (a hint to linearize() that holds only for the graph as
 * generated) and with statements of their own: a caller may edit what it gets, and linearize it
 * again.
 */
export function compileDetailed(expression: string, options: CompileOptions = {}): Compiled {
  const linkType = linkTypeOf(options.linkType);
  const snaplen = options.snaplen ?? 262144;
  checkSnaplen(snaplen, expression);
  const ast = parseFilter(expression);
  const doOpt = options.optimize ?? true;
  const cfg = generateFor(ast, expression, options, linkType, snaplen, doOpt);
  const opt = doOpt ? optimized(cfg, expression) : cfg;
  const program = linearize(opt);
  const plain: Cfg = cfg.cyclic ? { entry: cfg.entry, cyclic: true } : { entry: cfg.entry };
  ownStatements(cfg);
  if (opt !== cfg) ownStatements(opt);
  return { ast, cfg: plain, optimized: opt === cfg ? plain : opt, program };
}

/**
 * Compile a filter expression to a classic BPF program: what compileDetailed does, without
 * keeping the stages (no result object per call).
 */
export function compile(expression: string, options: CompileOptions = {}): CbpfProgram {
  const linkType = linkTypeOf(options.linkType);
  const snaplen = options.snaplen ?? 262144;
  checkSnaplen(snaplen, expression);
  const doOpt = options.optimize ?? true;
  const cfg = generateFor(parseFilter(expression), expression, options, linkType, snaplen, doOpt);
  if (!doOpt) {
    // (The program laid out while lowering, where code generation made one: see SizedCfg.)
    const laid = (cfg as SizedCfg).program;
    return laid !== undefined ? laid : linearize(cfg);
  }
  // (Where the optimiser gives the program itself, its graph would have been linearised to it.)
  const out = optimizeForProgram(cfg);
  if (!Array.isArray(out)) return linearize(checked(out as Cfg, expression));
  const p = out as CbpfProgram;
  // The program of a graph whose entry is `ret #0` (both routes sink such a block: no statements).
  if (p.length === 1 && p[0]!.code === 0x06 && p[0]!.k === 0) throw rejectsAll(expression);
  return p;
}
