/**
 * Printers: the three dump formats of `tcpdump -d`, `-dd` and `-ddd`
 * (libpcap's bpf_dump()/bpf_image()), and the kernel's bpf_asm syntax.
 *
 * `-d` comes in two styles, because libpcap changed it:
 * - 'libpcap-1.10' (default): byte for byte what Debian's tcpdump 4.99 /
 *   libpcap 1.10 prints. An instruction without operand keeps the padding
 *   of the operand column (`(005) tax      ` with trailing blanks), and
 *   `ldx #pktlen` (LDX|W|LEN), which 1.10's bpf_image() does not know, is
 *   printed `unimp 0x81`.
 * - 'libpcap-1.11': what libpcap 1.11 prints (the `expected` texts of the
 *   shared libpcap conformance suite): no trailing blanks, and `ldx #pktlen`.
 */
import {
  BPF_A, BPF_ABS, BPF_ADD, BPF_ALU, BPF_AND, BPF_B, BPF_DIV, BPF_H, BPF_IMM, BPF_IND, BPF_JA, BPF_JEQ,
  BPF_JGE, BPF_JGT, BPF_JMP, BPF_JSET, BPF_K, BPF_LD, BPF_LDX, BPF_LEN, BPF_LSH, BPF_MEM, BPF_MISC,
  BPF_MOD, BPF_MSH, BPF_MUL, BPF_NEG, BPF_OR, BPF_RET, BPF_RSH, BPF_ST, BPF_STX, BPF_SUB, BPF_TAX,
  BPF_TXA, BPF_W, BPF_X, BPF_XOR, type CbpfInsn, type CbpfProgram,
} from './insn.js';
import { UsageError } from '../errors.js';
import { ANCILLARY_NAMES, SKF_AD_OFF_U32 } from './opcodes.js';

export type DumpStyle = 'libpcap-1.10' | 'libpcap-1.11';

const i32 = (k: number): number => k | 0;
const hex = (k: number): string => `0x${(k >>> 0).toString(16)}`;

function absOperand(k: number): string {
  const u = k >>> 0;
  if (u >= SKF_AD_OFF_U32) {
    const name = ANCILLARY_NAMES.get(u - SKF_AD_OFF_U32);
    if (name !== undefined) return `[${name}]`;
  }
  return `[${i32(k)}]`;
}

const ALU_NAMES: Record<number, string> = {
  [BPF_ADD]: 'add', [BPF_SUB]: 'sub', [BPF_MUL]: 'mul', [BPF_DIV]: 'div', [BPF_MOD]: 'mod',
  [BPF_AND]: 'and', [BPF_OR]: 'or', [BPF_XOR]: 'xor', [BPF_LSH]: 'lsh', [BPF_RSH]: 'rsh',
};
const JMP_NAMES: Record<number, string> = { [BPF_JEQ]: 'jeq', [BPF_JGT]: 'jgt', [BPF_JGE]: 'jge', [BPF_JSET]: 'jset' };
const LOAD_NAMES: Record<number, string> = { [BPF_W]: 'ld', [BPF_H]: 'ldh', [BPF_B]: 'ldb' };

/**
 * The mnemonic and operand that bpf_image() shows for an instruction at
 * index n, or undefined when it prints it as `unimp`.
 */
export function insnParts(insn: CbpfInsn, n: number, style: DumpStyle = 'libpcap-1.10'): { op: string; operand: string } | undefined {
  const { code } = insn;
  const k = insn.k >>> 0;
  switch (code) {
    case BPF_RET | BPF_K: return { op: 'ret', operand: `#${i32(k)}` };
    case BPF_RET | BPF_A: return { op: 'ret', operand: '' };
    case BPF_LD | BPF_W | BPF_ABS:
    case BPF_LD | BPF_H | BPF_ABS:
    case BPF_LD | BPF_B | BPF_ABS:
      return { op: LOAD_NAMES[code & 0x18]!, operand: absOperand(k) };
    case BPF_LD | BPF_W | BPF_LEN: return { op: 'ld', operand: '#pktlen' };
    case BPF_LDX | BPF_W | BPF_LEN: return style === 'libpcap-1.11' ? { op: 'ldx', operand: '#pktlen' } : undefined;
    case BPF_LD | BPF_W | BPF_IND:
    case BPF_LD | BPF_H | BPF_IND:
    case BPF_LD | BPF_B | BPF_IND:
      return { op: LOAD_NAMES[code & 0x18]!, operand: `[x + ${i32(k)}]` };
    case BPF_LD | BPF_IMM: return { op: 'ld', operand: `#${hex(k)}` };
    case BPF_LDX | BPF_IMM: return { op: 'ldx', operand: `#${hex(k)}` };
    case BPF_LDX | BPF_MSH | BPF_B: return { op: 'ldxb', operand: `4*([${i32(k)}]&0xf)` };
    case BPF_LD | BPF_MEM: return { op: 'ld', operand: `M[${i32(k)}]` };
    case BPF_LDX | BPF_MEM: return { op: 'ldx', operand: `M[${i32(k)}]` };
    case BPF_ST: return { op: 'st', operand: `M[${i32(k)}]` };
    case BPF_STX: return { op: 'stx', operand: `M[${i32(k)}]` };
    case BPF_JMP | BPF_JA: return { op: 'ja', operand: `${(n + 1 + k) | 0}` };
    case BPF_ALU | BPF_NEG: return { op: 'neg', operand: '' };
    case BPF_MISC | BPF_TAX: return { op: 'tax', operand: '' };
    case BPF_MISC | BPF_TXA: return { op: 'txa', operand: '' };
  }
  const cls = code & 0x07;
  const op = code & 0xf0;
  if (code > 0xff) return undefined;
  if (cls === BPF_JMP && JMP_NAMES[op] !== undefined) {
    return { op: JMP_NAMES[op]!, operand: (code & 0x08) === BPF_X ? 'x' : `#${hex(k)}` };
  }
  if (cls === BPF_ALU && ALU_NAMES[op] !== undefined) {
    if ((code & 0x08) === BPF_X) return { op: ALU_NAMES[op]!, operand: 'x' };
    const isHex = op === BPF_AND || op === BPF_OR || op === BPF_XOR;
    return { op: ALU_NAMES[op]!, operand: isHex ? `#${hex(k)}` : `#${i32(k)}` };
  }
  return undefined;
}

/** One line of `tcpdump -d` for the instruction at index n (without newline). */
export function formatInsn(insn: CbpfInsn, n: number, style: DumpStyle = 'libpcap-1.10'): string {
  const idx = String(n).padStart(3, '0');
  const parts = insnParts(insn, n, style) ?? { op: 'unimp', operand: hex(insn.code) };
  if ((insn.code & 0x07) === BPF_JMP && (insn.code & 0xf0) !== BPF_JA) {
    return `(${idx}) ${parts.op.padEnd(8)} ${parts.operand.padEnd(16)} jt ${(n + 1 + insn.jt) | 0}\tjf ${(n + 1 + insn.jf) | 0}`;
  }
  if (style === 'libpcap-1.11' && parts.operand === '') return `(${idx}) ${parts.op}`;
  return `(${idx}) ${parts.op.padEnd(8)} ${parts.operand}`;
}

/** `tcpdump -d`: one line per instruction, each ending in a newline. */
export function formatD(prog: CbpfProgram, style: DumpStyle = 'libpcap-1.10'): string {
  let out = '';
  for (let i = 0; i < prog.length; i++) out += formatInsn(prog[i]!, i, style) + '\n';
  return out;
}

/** `tcpdump -dd`: a C array body, `{ 0x28, 0, 0, 0x0000000c },` per instruction. */
export function formatDD(prog: CbpfProgram): string {
  let out = '';
  for (const insn of prog) {
    out += `{ 0x${insn.code.toString(16)}, ${insn.jt}, ${insn.jf}, 0x${(insn.k >>> 0).toString(16).padStart(8, '0')} },\n`;
  }
  return out;
}

/** `tcpdump -ddd`: the instruction count, then `code jt jf k` in decimal per line. */
export function formatDDD(prog: CbpfProgram): string {
  let out = `${prog.length}\n`;
  for (const insn of prog) out += `${insn.code} ${insn.jt} ${insn.jf} ${insn.k >>> 0}\n`;
  return out;
}

/** The `-ddd` program on one line, comma-separated, as bpf_asm and iptables' xt_bpf take it. */
export function formatBytecode(prog: CbpfProgram): string {
  return `${prog.length},` + prog.map((i) => `${i.code} ${i.jt} ${i.jf} ${i.k >>> 0}`).join(',');
}

/** bpf_asm's names for the ancillary fields (tools/bpf/bpf_exp.l). */
export const BPF_ASM_EXTENSIONS: ReadonlyMap<number, string> = new Map([
  [0, 'proto'], [4, 'type'], [8, 'ifidx'], [12, 'nla'], [16, 'nlan'], [20, 'mark'], [24, 'queue'],
  [28, 'hatype'], [32, 'rxhash'], [36, 'cpu'], [44, 'vlan_tci'], [48, 'vlan_avail'], [52, 'poff'],
  [56, 'rand'], [60, 'vlan_tpid'],
]);

/**
 * The program in the Linux kernel's bpf_asm syntax (tools/bpf/bpf_asm):
 * jump targets get labels `lN` (N = instruction index), ancillary loads are
 * written `ld #proto` etc. Parsing the result with `parseBpfAsm` gives the
 * same instructions back (k of instructions that ignore it becomes 0).
 */
export function formatBpfAsm(prog: CbpfProgram): string {
  const targets = new Set<number>();
  const label = (t: number): string => {
    targets.add(t);
    return `l${t}`;
  };
  const bodies = prog.map((insn, i) => asmInsn(insn, i, label));
  const lines = bodies.map((body, i) => `${(targets.has(i) ? `l${i}:` : '').padEnd(7)}${body}`);
  return lines.join('\n') + '\n';
}

function asmInsn(insn: CbpfInsn, i: number, label: (t: number) => string): string {
  const { code } = insn;
  const k = insn.k >>> 0;
  const cls = code & 0x07;
  switch (code) {
    case BPF_RET | BPF_K: return `ret #${k}`;
    case BPF_RET | BPF_A: return 'ret a';
    case BPF_RET | BPF_X: return 'ret x';
    case BPF_LD | BPF_W | BPF_ABS:
    case BPF_LD | BPF_H | BPF_ABS:
    case BPF_LD | BPF_B | BPF_ABS: {
      const op = LOAD_NAMES[code & 0x18]!;
      if (k >= SKF_AD_OFF_U32) {
        const ext = BPF_ASM_EXTENSIONS.get(k - SKF_AD_OFF_U32);
        if (ext !== undefined) return `${op} #${ext}`;
      }
      return `${op} [${k >= 0x80000000 ? k | 0 : k}]`;
    }
    case BPF_LD | BPF_W | BPF_IND:
    case BPF_LD | BPF_H | BPF_IND:
    case BPF_LD | BPF_B | BPF_IND:
      return `${LOAD_NAMES[code & 0x18]!} [x + ${k >= 0x80000000 ? k | 0 : k}]`;
    case BPF_LD | BPF_W | BPF_LEN: return 'ld #len';
    case BPF_LDX | BPF_W | BPF_LEN: return 'ldx #len';
    case BPF_LD | BPF_IMM: return `ld #${hex(k)}`;
    case BPF_LDX | BPF_IMM: return `ldx #${hex(k)}`;
    case BPF_LDX | BPF_MSH | BPF_B: return `ldxb 4*([${k}]&0xf)`;
    case BPF_LD | BPF_MEM: return `ld M[${k}]`;
    case BPF_LDX | BPF_MEM: return `ldx M[${k}]`;
    case BPF_ST: return `st M[${k}]`;
    case BPF_STX: return `stx M[${k}]`;
    case BPF_JMP | BPF_JA: return `ja ${label((i + 1 + k) >>> 0)}`;
    case BPF_ALU | BPF_NEG: return 'neg';
    case BPF_MISC | BPF_TAX: return 'tax';
    case BPF_MISC | BPF_TXA: return 'txa';
  }
  const op = code & 0xf0;
  if (cls === BPF_JMP && JMP_NAMES[op] !== undefined && code <= 0xff) {
    const src = (code & 0x08) === BPF_X ? 'x' : `#${hex(k)}`;
    const name = JMP_NAMES[op]!;
    if (insn.jf === 0) return `${name} ${src}, ${label(i + 1 + insn.jt)}`;
    if (insn.jt === 0 && op === BPF_JEQ) return `jneq ${src}, ${label(i + 1 + insn.jf)}`;
    if (insn.jt === 0 && op === BPF_JGE) return `jlt ${src}, ${label(i + 1 + insn.jf)}`;
    if (insn.jt === 0 && op === BPF_JGT) return `jle ${src}, ${label(i + 1 + insn.jf)}`;
    return `${name} ${src}, ${label(i + 1 + insn.jt)}, ${label(i + 1 + insn.jf)}`;
  }
  if (cls === BPF_ALU && ALU_NAMES[op] !== undefined && code <= 0xff) {
    return (code & 0x08) === BPF_X ? `${ALU_NAMES[op]!} x` : `${ALU_NAMES[op]!} #${k}`;
  }
  throw new UsageError(`instruction ${i}: opcode 0x${code.toString(16)} has no bpf_asm form`);
}

