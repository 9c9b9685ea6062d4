/**
 * A small classic BPF interpreter for the filter tests (bpf_filter's
 * semantics: out-of-bounds loads and division by zero return 0, jumps are
 * relative and `ja` may wrap backwards as libpcap's protochain does, scratch
 * memory starts zeroed, Linux ancillary loads read the given metadata).
 * Private to test/filter until src/cbpf's interpreter lands.
 */
import type { CbpfProgram } from '../../../src/cbpf/insn.js';

export interface Meta {
  vlanTagPresent?: number;
  vlanTag?: number;
  pktType?: number;
  ifindex?: number;
}

const MAX_STEPS = 1_000_000;

export function runFilter(prog: CbpfProgram, pkt: Uint8Array, wireLength = pkt.length, meta: Meta = {}): number {
  let A = 0, X = 0;
  const M = new Uint32Array(16);
  const len = pkt.length;
  const ld = (k: number, size: number): number | undefined => {
    if (k < 0 || k + size > len) return undefined;
    if (size === 1) return pkt[k]!;
    if (size === 2) return (pkt[k]! << 8) | pkt[k + 1]!;
    return ((pkt[k]! << 24) | (pkt[k + 1]! << 16) | (pkt[k + 2]! << 8) | pkt[k + 3]!) >>> 0;
  };
  const anc = (k: number): number | undefined => {
    const off = (k | 0) + 0x1000;
    switch (off) {
      case 4: return meta.pktType ?? 0;
      case 8: return meta.ifindex ?? 0;
      case 44: return meta.vlanTag ?? 0;
      case 48: return meta.vlanTagPresent ?? 0;
      default: return 0;
    }
  };
  let pc = 0;
  for (let steps = 0; steps < MAX_STEPS; steps++) {
    if (pc >= prog.length) return 0;
    const ins = prog[pc++]!;
    const k = ins.k >>> 0;
    const code = ins.code;
    switch (code & 7) {
      case 0: // LD
      case 1: { // LDX
        const mode = code & 0xe0;
        const size = (code & 0x18) === 0x00 ? 4 : (code & 0x18) === 0x08 ? 2 : 1;
        let v: number | undefined;
        if (mode === 0x00) v = k;
        else if (mode === 0x80) v = wireLength >>> 0;
        else if (mode === 0x60) v = M[k & 15]!;
        else if (mode === 0x20) v = (k | 0) < 0 && (k | 0) >= -0x1000 ? anc(k) : ld(k, size);
        else if (mode === 0x40) v = ld((X + k) >>> 0, size);
        else if (mode === 0xa0) {
          const b = ld(k, 1);
          v = b === undefined ? undefined : (b & 0xf) << 2;
        }
        if (v === undefined) return 0;
        if ((code & 7) === 0) A = v >>> 0;
        else X = v >>> 0;
        break;
      }
      case 2: M[k & 15] = A; break;
      case 3: M[k & 15] = X; break;
      case 4: { // ALU
        const src = code & 0x08 ? X : k;
        switch (code & 0xf0) {
          case 0x00: A = (A + src) >>> 0; break;
          case 0x10: A = (A - src) >>> 0; break;
          case 0x20: A = Math.imul(A, src) >>> 0; break;
          case 0x30: if (src === 0) return 0; A = Math.floor(A / src) >>> 0; break;
          case 0x90: if (src === 0) return 0; A = (A % src) >>> 0; break;
          case 0x40: A = (A | src) >>> 0; break;
          case 0x50: A = (A & src) >>> 0; break;
          case 0xa0: A = (A ^ src) >>> 0; break;
          case 0x60: A = src >= 32 ? 0 : (A << src) >>> 0; break;
          case 0x70: A = src >= 32 ? 0 : A >>> src; break;
          case 0x80: A = -A >>> 0; break;
          default: return 0;
        }
        break;
      }
      case 5: { // JMP
        const op = code & 0xf0;
        if (op === 0x00) {
          pc = (pc + k) >>> 0;
          break;
        }
        const src = code & 0x08 ? X : k;
        let c: boolean;
        if (op === 0x10) c = A === src;
        else if (op === 0x20) c = A > src;
        else if (op === 0x30) c = A >= src;
        else if (op === 0x40) c = (A & src) !== 0;
        else return 0;
        pc += c ? ins.jt : ins.jf;
        break;
      }
      case 6: return (code & 0x18) === 0x10 ? A : k;
      case 7: if (code & 0x80) A = X; else X = A; break;
    }
  }
  throw new Error('filter did not terminate');
}
