/**
 * The disassembler: instruction slots to text, in the llvm-objdump syntax
 * (default) or the uBPF / bpf_conformance syntax. With labels (the
 * default), jump and call targets get names (`L12`, `fn7`) so that the text
 * assembles back to the same slots; `objdump: true` prints llvm-objdump's
 * listing instead (slot index, bytes, text with relative offsets).
 */
import { checkInstruction } from './check.js';
import { formatLlvm, formatRaw, formatValidLlvm } from './disasm-llvm.js';
import { formatUbpf, formatValidUbpf } from './disasm-ubpf.js';
import { helperName } from './helper-ids.js';
import { type Instruction, encode } from './insn.js';
import { Class, JmpOp, LDDW, PseudoCall, Source } from './opcodes.js';
import type { Reference } from './spec.js';
import { branchTarget } from './validate.js';

export type DisasmSyntax = 'llvm' | 'ubpf';

export interface DisasmOptions {
  /** Output syntax (default 'llvm'). */
  syntax?: DisasmSyntax;
  /** Name jump and call targets (default true). Without labels, targets are relative offsets (`+3`). */
  labels?: boolean;
  /**
   * llvm syntax only: print what `llvm-objdump -d` prints for the bytes: one
   * line per instruction with its slot index and bytes, objdump's exact text
   * (lossy where objdump is, see disasm-llvm.ts) and `<unknown>` for slots
   * that are not instructions. Implies no labels and no comments.
   */
  objdump?: boolean;
  /** llvm syntax: 32-bit loads and stores with w registers (objdump --mattr=+alu32). */
  alu32?: boolean;
  /** llvm syntax: immediates and offsets in hex, as llvm-objdump 15 and later print them by default. */
  hex?: boolean;
  /** Comments: helper names after calls, and why a slot printed as `.insn` is not an instruction (default false). */
  comments?: boolean;
  /** Byte order of the bytes column in objdump mode (default little-endian). */
  bigEndian?: boolean;
  /**
   * A ProgramSpec's references: the slots they name are printed with the
   * name (`r1 = map_fd(counts) ll`, `call kfunc(bpf_foo)`), so that the text
   * assembles back to the same slots and references. Not in objdump mode.
   */
  references?: readonly Reference[];
}

const NAME = /^[A-Za-z_.$][A-Za-z0-9_.$]*$/;

/** The symbolic text of a slot that carries a reference, or undefined to print it as usual. */
function referenceText(r: Reference, ins: Instruction, syntax: DisasmSyntax): string | undefined {
  const name = r.kind === 'map' || r.kind === 'mapValue' ? r.map : r.name;
  if (!NAME.test(name)) return undefined;
  if (r.kind === 'kfunc') return ins.code === (Class.JMP | JmpOp.CALL) ? `call kfunc(${name})` : undefined;
  if (ins.code !== LDDW) return undefined;
  const dst = ins.dst;
  const operand = r.kind === 'map' ? `map_fd(${name})` : r.kind === 'mapValue' ? `map_value(${name}, ${r.offset})` : `ksym(${name})`;
  return syntax === 'llvm' ? `r${dst} = ${operand} ll` : `lddw %r${dst}, ${operand}`;
}

/** Labels for every slot that a jump, call or function address targets. */
export function branchLabels(insns: readonly Instruction[]): Map<number, string> {
  const n = insns.length;
  const second = new Uint8Array(n);
  for (let i = 0; i + 1 < n; i++) if (insns[i]!.code === LDDW) second[++i] = 1;
  const fns = new Set<number>();
  const jumps = new Set<number>();
  for (let i = 0; i < n; i++) {
    if (second[i] || checkInstruction(insns[i]!, insns[i + 1])) continue;
    const t = branchTarget(insns, i);
    if (t === undefined || t < 0 || t >= n || second[t]) continue;
    const ins = insns[i]!;
    const isCall = ins.code === LDDW || (ins.code === (Class.JMP | JmpOp.CALL | Source.K) && ins.src === PseudoCall.CALL);
    (isCall ? fns : jumps).add(t);
  }
  const out = new Map<number, string>();
  for (const t of [...jumps, ...fns].sort((a, b) => a - b)) out.set(t, fns.has(t) ? `fn${t}` : `L${t}`);
  return out;
}

/** The text of one instruction slot (slot i + 1 too for an LDDW), without labels. */
export function formatInstruction(insns: readonly Instruction[], i: number, opts: Omit<DisasmOptions, 'labels' | 'comments'> = {}): string {
  return (opts.syntax ?? 'llvm') === 'ubpf' ? formatUbpf(insns, i) : formatLlvm(insns, i, opts);
}

/** Disassemble a whole program. */
export function disassemble(insns: readonly Instruction[], opts: DisasmOptions = {}): string {
  const syntax = opts.syntax ?? 'llvm';
  const objdump = syntax === 'llvm' && opts.objdump === true;
  const labels = !objdump && opts.labels !== false ? branchLabels(insns) : new Map<number, string>();
  const label = (slot: number): string | undefined => labels.get(slot);
  const bytes = objdump ? encode(insns, !opts.bigEndian) : undefined;
  const refs = new Map<number, Reference>((opts.references ?? []).map((r) => [r.index, r]));
  const llvmOpts = { objdump, alu32: opts.alu32 === true, hex: opts.hex === true, label };
  const out: string[] = [];
  for (let i = 0; i < insns.length; i++) {
    const ins = insns[i]!;
    const l = labels.get(i);
    if (l) {
      if (l.startsWith('fn') && out.length > 0) out.push('');
      out.push(`${l}:`);
    }
    const problem = checkInstruction(ins, insns[i + 1]);
    const ref = !objdump && !problem ? refs.get(i) : undefined;
    let text = ref ? referenceText(ref, ins, syntax) : undefined;
    text ??= problem
      ? objdump
        ? '<unknown>'
        : formatRaw(ins)
      : syntax === 'ubpf'
        ? formatValidUbpf(insns, i, { label })
        : formatValidLlvm(insns, i, llvmOpts);
    const wide = !problem && ins.code === LDDW;
    if (objdump) {
      const n = wide ? 16 : 8;
      const hex = Array.from(bytes!.subarray(i * 8, i * 8 + n), (b) => b.toString(16).padStart(2, '0')).join(' ');
      out.push(`${String(i).padStart(8)}:\t${hex}\t${text}`);
    } else {
      if (opts.comments) {
        if (problem) text += ` # not an instruction: ${problem}`;
        else if (ins.code === (Class.JMP | JmpOp.CALL) && ins.src === PseudoCall.HELPER) {
          const name = helperName(ins.imm);
          if (name) text += ` # bpf_${name}`;
        }
      }
      out.push(syntax === 'llvm' ? `\t${text}` : text);
    }
    if (wide) i++;
  }
  return out.join('\n') + (out.length ? '\n' : '');
}

export { formatLlvm, formatRaw, formatUbpf };
