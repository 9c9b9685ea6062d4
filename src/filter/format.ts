/**
 * Program text in tcpdump's formats (`-d`, `-dd`, `-ddd`), as Debian's
 * tcpdump 4.99 / libpcap 1.10 prints them. A private adapter until
 * src/cbpf's printers exist; the layout rules are libpcap's bpf_image.
 */
import type { CbpfInsn, CbpfProgram } from '../cbpf/insn.js';

const ANC: Record<number, string> = {
  0: 'proto', 4: 'type', 8: 'ifidx', 12: 'nla', 16: 'nlan', 20: 'mark', 24: 'queue', 28: 'hatype',
  32: 'rxhash', 36: 'cpu', 44: 'vlan_tci', 48: 'vlanp', 52: 'poff', 56: 'rand', 60: 'vlan_tpid',
};

function absOperand(k: number): string {
  const sk = k | 0;
  if (sk >= -0x1000 && sk < 0) {
    const name = ANC[sk + 0x1000];
    if (name) return `[${name}]`;
  }
  return `[${k >>> 0}]`;
}

const hex = (k: number): string => `#0x${(k >>> 0).toString(16)}`;
const dec = (k: number): string => `#${k >>> 0}`;

/** [op, operand] of one instruction; `target` is the absolute target of `ja`. */
export function insnParts(ins: CbpfInsn, pc = 0): [string, string] {
  const k = ins.k >>> 0;
  switch (ins.code) {
    case 0x06: return ['ret', dec(k)];
    case 0x16: return ['ret', ''];
    case 0x20: return ['ld', absOperand(k)];
    case 0x28: return ['ldh', absOperand(k)];
    case 0x30: return ['ldb', absOperand(k)];
    case 0x80: return ['ld', '#pktlen'];
    case 0x81: return ['ldx', '#pktlen'];
    case 0x40: return ['ld', `[x + ${k}]`];
    case 0x48: return ['ldh', `[x + ${k}]`];
    case 0x50: return ['ldb', `[x + ${k}]`];
    case 0x00: return ['ld', hex(k)];
    case 0x01: return ['ldx', hex(k)];
    case 0xb1: return ['ldxb', `4*([${k}]&0xf)`];
    case 0x60: return ['ld', `M[${k}]`];
    case 0x61: return ['ldx', `M[${k}]`];
    case 0x02: return ['st', `M[${k}]`];
    case 0x03: return ['stx', `M[${k}]`];
    case 0x05: return ['ja', String((pc + 1 + k) >>> 0)];
    case 0x25: return ['jgt', hex(k)];
    case 0x35: return ['jge', hex(k)];
    case 0x15: return ['jeq', hex(k)];
    case 0x45: return ['jset', hex(k)];
    case 0x2d: return ['jgt', 'x'];
    case 0x3d: return ['jge', 'x'];
    case 0x1d: return ['jeq', 'x'];
    case 0x4d: return ['jset', 'x'];
    case 0x04: return ['add', dec(k)];
    case 0x14: return ['sub', dec(k)];
    case 0x24: return ['mul', dec(k)];
    case 0x34: return ['div', dec(k)];
    case 0x94: return ['mod', dec(k)];
    case 0x54: return ['and', hex(k)];
    case 0x44: return ['or', hex(k)];
    case 0xa4: return ['xor', hex(k)];
    case 0x64: return ['lsh', dec(k)];
    case 0x74: return ['rsh', dec(k)];
    case 0x0c: return ['add', 'x'];
    case 0x1c: return ['sub', 'x'];
    case 0x2c: return ['mul', 'x'];
    case 0x3c: return ['div', 'x'];
    case 0x9c: return ['mod', 'x'];
    case 0x5c: return ['and', 'x'];
    case 0x4c: return ['or', 'x'];
    case 0xac: return ['xor', 'x'];
    case 0x6c: return ['lsh', 'x'];
    case 0x7c: return ['rsh', 'x'];
    case 0x84: return ['neg', ''];
    case 0x07: return ['tax', ''];
    case 0x87: return ['txa', ''];
    default: return ['unimp', `0x${ins.code.toString(16)}`];
  }
}

const isCond = (code: number): boolean => (code & 0x07) === 0x05 && (code & 0xf0) !== 0x00;

/** One instruction as text without the `(nnn)` prefix (for graphs); `bare` omits jump targets. */
export function formatInsn(ins: CbpfInsn, bare = false): string {
  const [op, operand] = insnParts(ins);
  if (isCond(ins.code) && !bare) return `${op.padEnd(8)} ${operand.padEnd(16)} jt ${ins.jt}\tjf ${ins.jf}`;
  return operand ? `${op.padEnd(8)} ${operand}` : op;
}

/** tcpdump -d */
export function formatProgram(prog: CbpfProgram): string {
  return prog
    .map((ins, pc) => {
      const [op, operand] = insnParts(ins, pc);
      const n = String(pc).padStart(3, '0');
      if (isCond(ins.code)) {
        return `(${n}) ${op.padEnd(8)} ${operand.padEnd(16)} jt ${pc + 1 + ins.jt}\tjf ${pc + 1 + ins.jf}\n`;
      }
      return `(${n}) ${op.padEnd(8)} ${operand}\n`;
    })
    .join('');
}

/** tcpdump -dd */
export function formatProgramC(prog: CbpfProgram): string {
  return prog.map((i) => `{ 0x${i.code.toString(16)}, ${i.jt}, ${i.jf}, 0x${(i.k >>> 0).toString(16).padStart(8, '0')} },\n`).join('');
}

/** tcpdump -ddd */
export function formatProgramDecimal(prog: CbpfProgram): string {
  return `${prog.length}\n` + prog.map((i) => `${i.code} ${i.jt} ${i.jf} ${i.k >>> 0}\n`).join('');
}
