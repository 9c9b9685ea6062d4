/**
 * Reading the kernel verifier's log: which instruction it stopped at and why.
 *
 * The log prints each instruction it walks as `N: (op) text`, then, when it
 * refuses, the reason on the lines after the last instruction, then a
 * `processed N insns ...` summary. The failing instruction is the last one
 * printed before the reason.
 */

export interface VerifierVerdict {
  /** Slot index of the instruction the verifier stopped at. */
  insnIndex: number | undefined;
  /** That instruction as the verifier printed it (`3: (85) call bpf_map_lookup_elem#1`). */
  insnText: string | undefined;
  /** The reason it gave (one or more lines; empty when the log has none). */
  reason: string;
}

const INSN = /^(\d+): \(([0-9a-f]{2})\) (.*)$/;
const SUMMARY = /^(processed \d+ insns|verification time|stack depth|mark_read|-- END PROG LOAD LOG --)/;

export function parseVerifierLog(log: string): VerifierVerdict {
  const lines = log.split('\n').map((l) => l.trimEnd());
  let last = -1;
  for (let i = 0; i < lines.length; i++) if (INSN.test(lines[i]!)) last = i;
  const meaningful = (l: string) => l.length > 0 && !SUMMARY.test(l);
  if (last < 0) {
    const reasons = lines.filter(meaningful);
    return { insnIndex: undefined, insnText: undefined, reason: reasons.pop() ?? '' };
  }
  const m = INSN.exec(lines[last]!)!;
  const after = lines.slice(last + 1).filter(meaningful);
  // Register-state dumps (`1: R0=... R10=fp0`) are not the reason.
  const reason = after.filter((l) => !/^\d+: R\d/.test(l) && !/^from \d+ to \d+:/.test(l)).join('; ');
  return {
    insnIndex: Number(m[1]),
    insnText: lines[last],
    reason: reason || lines.filter(meaningful).pop() || '',
  };
}
