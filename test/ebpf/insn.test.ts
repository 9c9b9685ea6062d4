/**
 * The slot model: field normalisation, LDDW's two slots, and the register
 * nibbles and byte order of both encodings (checked against real compilers
 * in objdump.test.ts; here the exact layout of struct bpf_insn).
 */
import { describe, expect, it } from 'vitest';
import { decode, encode, insn, lddw, wideImm } from '../../src/ebpf/insn.js';

describe('struct bpf_insn', () => {
  it('puts dst in the low nibble on little-endian and the high nibble on big-endian', () => {
    // r2 = *(u32 *)(r1 - 8): code 0x61, dst 2, src 1, off -8.
    const ins = insn(0x61, 2, 1, -8, 0);
    expect(Buffer.from(encode([ins])).toString('hex')).toBe('6112f8ff00000000');
    expect(Buffer.from(encode([ins], false)).toString('hex')).toBe('6121fff800000000');
    expect(decode(Buffer.from('6112f8ff00000000', 'hex'))).toEqual([ins]);
    expect(decode(Buffer.from('6121fff800000000', 'hex'), false)).toEqual([ins]);
  });

  it('normalises off to int16 and imm to int32', () => {
    expect(insn(0xb7, 1, 0, 0xffff, 0xffffffff)).toEqual({ code: 0xb7, dst: 1, src: 0, off: -1, imm: -1 });
    expect(insn(0x05, 0, 0, 0x8000)).toMatchObject({ off: -32768 });
  });

  it('splits a 64-bit constant over the two slots of LDDW, low half first', () => {
    const pair = lddw(3, 0x1122334455667788n, 2);
    expect(pair).toEqual([
      { code: 0x18, dst: 3, src: 2, off: 0, imm: 0x55667788 },
      { code: 0, dst: 0, src: 0, off: 0, imm: 0x11223344 },
    ]);
    expect(wideImm(pair, 0)).toBe(0x1122334455667788n);
    expect(wideImm(lddw(0, -1n), 0)).toBe(0xffffffffffffffffn);
    // The low half is not sign-extended into the high half.
    expect(wideImm(lddw(0, 0x80000000n), 0)).toBe(0x80000000n);
    expect(Buffer.from(encode(lddw(1, 0x1122334455667788n))).toString('hex')).toBe('18010000887766550000000044332211');
  });
});
