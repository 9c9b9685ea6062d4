/**
 * The builder: each constructor gives the same slots as the assembler does
 * for the same instruction written as text, symbols resolve to offsets,
 * names become references, and the linker resolves them.
 */
import { describe, expect, it } from 'vitest';
import {
  type Asm,
  BuilderError,
  LinkError,
  ProgType,
  R0,
  R1,
  R2,
  R3,
  R10,
  assemble,
  assembleInstructions,
  assembleText,
  asm,
  buildProgram,
  checkInstruction,
  disassemble,
  encode,
  reg,
  resolveReferences,
  validate,
} from '../../src/ebpf/index.js';

const hex = (a: Parameters<typeof encode>[0]) => Buffer.from(encode(a)).toString('hex');

/** Builder instruction → the same instruction as uBPF-syntax text. */
const pairs: [Asm, string][] = [
  [asm.add(R1, 5), 'add %r1, 5'],
  [asm.add(R1, R2), 'add %r1, %r2'],
  [asm.sub32(R3, -7), 'sub32 %r3, -7'],
  [asm.mul(R0, 0x7fffffff), 'mul %r0, 0x7fffffff'],
  [asm.div32(R1, R2), 'div32 %r1, %r2'],
  [asm.sdiv(R1, 3), 'sdiv %r1, 3'],
  [asm.smod32(R1, R2), 'smod32 %r1, %r2'],
  [asm.mod(R1, 10), 'mod %r1, 10'],
  [asm.or(R1, 1), 'or %r1, 1'],
  [asm.and32(R1, 0xff), 'and32 %r1, 0xff'],
  [asm.xor(R1, R1), 'xor %r1, %r1'],
  [asm.lsh(R1, 3), 'lsh %r1, 3'],
  [asm.rsh32(R1, R2), 'rsh32 %r1, %r2'],
  [asm.arsh(R1, 63), 'arsh %r1, 63'],
  [asm.mov(R0, R10), 'mov %r0, %r10'],
  [asm.mov32(R0, 0xffffffff), 'mov32 %r0, -1'],
  [asm.neg(R2), 'neg %r2'],
  [asm.neg32(R2), 'neg32 %r2'],
  [asm.movsx(R1, R2, 8), 'movsx864 %r1, %r2'],
  [asm.movsx(R1, R2, 32), 'movsx3264 %r1, %r2'],
  [asm.movsx32(R1, R2, 16), 'movsx1632 %r1, %r2'],
  [asm.le(R1, 16), 'le16 %r1'],
  [asm.be(R1, 64), 'be64 %r1'],
  [asm.bswap(R1, 32), 'bswap32 %r1'],
  [asm.lddw(R1, 0x1122334455667788n), 'lddw %r1, 0x1122334455667788'],
  [asm.lddw(R1, -1), 'lddw %r1, 0xffffffffffffffff'],
  [asm.ldMapFd(R1, 7), 'lddw %r1, map_fd(7)'],
  [asm.ldMapIdx(R1, 2), 'lddw %r1, map_idx(2)'],
  [asm.ldMapIdxValue(R1, 2, 16), 'lddw %r1, map_idx_value(2, 16)'],
  [asm.ldx('u8', R0, R1, 3), 'ldxb %r0, [%r1+3]'],
  [asm.ldx('u64', R0, R10, -8), 'ldxdw %r0, [%r10-8]'],
  [asm.ldxs('u16', R0, R1, 2), 'ldxsh %r0, [%r1+2]'],
  [asm.st('u32', R10, -4, 1234), 'stw [%r10-4], 1234'],
  [asm.stx('u16', R1, 6, R2), 'stxh [%r1+6], %r2'],
  [asm.atomic('add', 'u64', R10, -8, R1), 'lock add [%r10-8], %r1'],
  [asm.atomic('fetch_xor', 'u32', R1, 4, R2), 'lock fetch xor32 [%r1+4], %r2'],
  [asm.atomic('xchg', 'u64', R1, 0, R2), 'lock xchg [%r1], %r2'],
  [asm.atomic('cmpxchg', 'u32', R1, 0, R2), 'lock cmpxchg32 [%r1], %r2'],
  [asm.ldAbs('u16', 12), 'ldabsh 12'],
  [asm.ldInd('u8', R1, 14), 'ldindb %r1, 14'],
  [asm.ja(3), 'ja +3'],
  [asm.gotol(-70000), 'ja32 -70000'],
  [asm.jeq(R1, 0, 2), 'jeq %r1, 0, +2'],
  [asm.jsgt32(R1, R2, -1), 'jsgt32 %r1, %r2, -1'],
  [asm.jset(R1, 0x80, 1), 'jset %r1, 0x80, +1'],
  [asm.call('map_lookup_elem'), 'call 1'],
  [asm.call('bpf_ktime_get_ns'), 'call 5'],
  [asm.call(181), 'call 181'],
  [asm.kfunc(1234), 'call runtime 1234'],
  [asm.callx(R3), 'call %r3'],
  [asm.exit(), 'exit'],
];

describe('builder', () => {
  it('encodes each constructor as the assembler does, and validly', () => {
    for (const [a, text] of pairs) {
      expect(hex(a.slots), text).toBe(hex(assemble(text)));
      expect(checkInstruction(a.slots[0]!, a.slots[1]), text).toBeUndefined();
    }
  });

  it('resolves symbols: jumps, local calls and function addresses', () => {
    const built = assembleInstructions([
      asm.mov(R0, 0),
      asm.jeq(R1, 0, 'skip'),
      asm.callLocal('double'),
      asm.ldFunc(R2, 'double'),
      asm.gotol('skip'),
      asm.exit().sym('skip'),
      asm.mov(R0, R1).sym('double'),
      asm.add(R0, R0),
      asm.exit(),
    ]);
    const text = `
      mov %r0, 0
      jeq %r1, 0, skip
      call local double
      lddw %r2, func(double)
      ja32 skip
    skip:
      exit
    double:
      mov %r0, %r1
      add %r0, %r0
      exit`;
    expect(hex(built.instructions)).toBe(hex(assemble(text)));
    expect(built.symbols.get('double')).toBe(7);
    validate(built.instructions);
  });

  it('turns names into references, and the linker resolves them', () => {
    const spec = buildProgram(
      'count',
      ProgType.XDP,
      [
        asm.st('u32', R10, -4, 0),
        asm.mov(R2, R10),
        asm.add(R2, -4),
        asm.ldMap(R1, 'counts'),
        asm.call('map_lookup_elem'),
        asm.jeq(R0, 0, 'out'),
        asm.ldMapValue(R3, '.data', 8),
        asm.kfunc('bpf_rcu_read_lock'),
        asm.ldKsym(R3, 'bpf_prog_active'),
        asm.mov(R0, 2).sym('out'),
        asm.exit(),
      ],
      { license: 'Dual MIT/GPL' },
    );
    expect(spec.license).toBe('Dual MIT/GPL');
    expect(spec.references).toEqual([
      { kind: 'map', index: 3, map: 'counts' },
      { kind: 'mapValue', index: 7, map: '.data', offset: 8 },
      { kind: 'kfunc', index: 9, name: 'bpf_rcu_read_lock' },
      { kind: 'ksym', index: 10, name: 'bpf_prog_active' },
    ]);
    // The assembler gives the same slots and references for the same program as text.
    const text = `
      *(u32 *)(r10 - 4) = 0
      r2 = r10
      r2 += -4
      r1 = map_fd(counts) ll
      call bpf_map_lookup_elem
      if r0 == 0 goto out
      r3 = map_value(.data, 8) ll
      call kfunc(bpf_rcu_read_lock)
      r3 = ksym(bpf_prog_active) ll
    out:
      r0 = 2
      exit`;
    const a = assembleText(text);
    expect(hex(a.instructions)).toBe(hex(spec.instructions));
    expect(a.references).toEqual(spec.references);

    // Disassembled with its references, the spec assembles back to itself.
    for (const syntax of ['llvm', 'ubpf'] as const) {
      const back = assembleText(disassemble(spec.instructions, { syntax, references: spec.references }));
      expect(hex(back.instructions), syntax).toBe(hex(spec.instructions));
      expect(back.references, syntax).toEqual(spec.references);
    }

    const linked = resolveReferences(spec.instructions, spec.references, {
      map: (n) => (n === 'counts' ? 5 : n === '.data' ? 6 : undefined),
      kfunc: () => ({ btfId: 777, btfFdIndex: 1 }),
      ksym: () => ({ btfId: 888 }),
    });
    expect(disassemble(linked, { syntax: 'ubpf', labels: false })).toBe(
      [
        'stw [%r10-4], 0',
        'mov %r2, %r10',
        'add %r2, -4',
        'lddw %r1, map_fd(5)',
        'call 1',
        'jeq %r0, 0, +5',
        'lddw %r3, map_value(6, 8)',
        'call kfunc(777, 1)',
        'lddw %r3, btf_id(888)',
        'mov %r0, 2',
        'exit',
        '',
      ].join('\n'),
    );
    // The original spec is untouched (specs are plain data).
    expect(spec.instructions[3]!.imm).toBe(0);
    expect(() => resolveReferences(spec.instructions, spec.references, { map: () => undefined })).toThrow(LinkError);
    expect(() => resolveReferences(spec.instructions, [{ kind: 'map', index: 0, map: 'counts' }], { map: () => 1 })).toThrow(
      /not on an lddw/,
    );
  });

  it('refuses mistakes with BuilderError', () => {
    expect(() => assembleInstructions([asm.ja('nowhere')])).toThrow(/entry 0: unknown symbol 'nowhere'/);
    expect(() => assembleInstructions([asm.exit().sym('a'), asm.exit().sym('a')])).toThrow(/symbol 'a' is defined twice/);
    expect(() => asm.add(R1, 2 ** 32)).toThrow(BuilderError);
    expect(() => asm.ldx('u32', R1, R2, 40000)).toThrow(/offset 40000 does not fit/);
    expect(() => asm.call('no_such_helper' as never)).toThrow(/unknown helper/);
    expect(() => reg(11)).toThrow(/no register r11/);
    const far = [asm.ja('end'), ...Array.from({ length: 40000 }, () => asm.mov(R0, 0)), asm.exit().sym('end')];
    expect(() => assembleInstructions(far)).toThrow(/too far for a 16-bit offset/);
    far[0] = asm.gotol('end');
    expect(assembleInstructions(far).instructions[0]!.imm).toBe(40000);
  });
});

describe('assembler labels', () => {
  it('refuses duplicate labels and register names as labels, with the place', () => {
    expect(() => assemble('a:\nexit\na: exit')).toThrow(/^3:1: label 'a' is already defined on line 1$/);
    expect(() => assemble('r1: exit')).toThrow(/^1:1: 'r1' is a register, not a label name$/);
    expect(() => assemble('goto +1\n  L1: exit\nL1:', { file: 'x.s' })).toThrow(/^x\.s:3:1: label 'L1' is already defined on line 2$/);
  });
});
