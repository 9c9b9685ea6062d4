/**
 * The operand of `call`, the same in both syntaxes:
 *
 *   call 5            a helper by id           call helper 5       (the same)
 *   call LABEL        a bpf-to-bpf call        call local LABEL    call local +3 / -7
 *   call kfunc(123)   a kfunc by BTF id        call runtime 123    (the same)
 *   call kfunc(123, 2)  ... in the module whose BTF is fd_array[2]
 *   call kfunc(NAME)  a kfunc by name, resolved at load
 *   call %r2          callx (uBPF syntax)      callx r2            (llvm syntax)
 *   call bpf_map_lookup_elem   a helper by name, when no label has that name
 */
import { describe, type Cursor } from './asm-lexer.js';
import { type Stmt, I16, I32, isIntStart, isLabelToken, looksLikeRegister, one, parseInteger, parseReg, parseTarget, s16, s32 } from './asm-operands.js';
import { Class, JmpOp, PseudoCall, Source } from './opcodes.js';

const CALL = Class.JMP | JmpOp.CALL;

export function parseCall(c: Cursor): Stmt {
  const t = c.peek();
  if (looksLikeRegister(t) || (t.kind === 'ident' && t.text.startsWith('%'))) {
    const r = parseReg(c, true);
    return one(CALL | Source.X, r.n);
  }
  if (t.kind === 'ident' && (t.text === 'helper' || t.text === 'local' || t.text === 'runtime') && !c.is(':', 1)) {
    const next = c.peek(1);
    if (next.kind !== 'end' && !(next.kind === 'op' && next.text !== '+' && next.text !== '-')) {
      c.next();
      if (t.text === 'helper') {
        if (looksLikeRegister(c.peek()) || c.peek().text.startsWith('%')) {
          const r = parseReg(c, true);
          return one(CALL | Source.X, r.n);
        }
        return one(CALL, 0, PseudoCall.HELPER, 0, s32(parseInteger(c, I32('helper id'))));
      }
      if (t.text === 'runtime') return one(CALL, 0, PseudoCall.KFUNC, 0, s32(parseInteger(c, I32('BTF id'))));
      if (c.peek().kind === 'number') {
        // `call local 3`: an unsigned relative offset is unambiguous here.
        return one(CALL, 0, PseudoCall.CALL, 0, s32(parseInteger(c, I32('call offset'))));
      }
      const { value, fixup } = parseTarget(c, 'call', I32('call offset'));
      return { slots: one(CALL, 0, PseudoCall.CALL, 0, value).slots, ...(fixup ? { fixup } : {}) };
    }
  }
  if (t.kind === 'ident' && t.text === 'kfunc' && c.is('(', 1)) {
    c.next();
    c.next();
    const a = c.peek();
    let s: Stmt;
    if (isLabelToken(a)) {
      c.next();
      s = { slots: one(CALL, 0, PseudoCall.KFUNC).slots, ref: { kind: 'kfunc', name: a.text } };
    } else {
      const id = s32(parseInteger(c, I32('BTF id')));
      // The offset: the index of the kfunc's module BTF in fd_array.
      const off = c.accept(',') ? s16(parseInteger(c, I16('BTF fd index'))) : 0;
      s = one(CALL, 0, PseudoCall.KFUNC, off, id);
    }
    c.expect(')', "')'");
    return s;
  }
  if (isIntStart(c)) return one(CALL, 0, PseudoCall.HELPER, 0, s32(parseInteger(c, I32('helper id'))));
  if (isLabelToken(t)) {
    c.next();
    return { slots: one(CALL, 0, PseudoCall.CALL).slots, fixup: { kind: 'call', label: t.text, tok: t } };
  }
  throw c.error(`expected a helper id, a label, 'local', 'kfunc(...)' or a register after call, found ${describe(t)}`);
}
