/**
 * Source lines for instructions, from BTF.ext line_info: which file, line
 * and column (and the line's text, which clang stores in the string table)
 * an instruction came from, for error messages and disassembly.
 */
import type { BtfExt, LineInfo } from './ext.js';

/** The line_info records of one ELF section (or one program), by instruction slot. */
export class LineTable {
  /** Records sorted by instruction offset. */
  readonly records: readonly LineInfo[];
  private readonly slots: Int32Array;

  constructor(records: readonly LineInfo[]) {
    this.records = [...records].sort((a, b) => a.insnOff - b.insnOff);
    this.slots = Int32Array.from(this.records, (r) => r.insnOff / 8);
  }

  /** The record in effect at slot `insn`: the last one starting at or before it. */
  at(insn: number): LineInfo | undefined {
    let lo = 0;
    let hi = this.slots.length - 1;
    let found = -1;
    while (lo <= hi) {
      const mid = (lo + hi) >> 1;
      if (this.slots[mid]! <= insn) {
        found = mid;
        lo = mid + 1;
      } else hi = mid - 1;
    }
    return found < 0 ? undefined : this.records[found];
  }

  /** The records that start exactly at slot `insn` (where disassembly prints a source line). */
  startingAt(insn: number): LineInfo[] {
    const out: LineInfo[] = [];
    for (let i = 0; i < this.slots.length; i++) if (this.slots[i] === insn) out.push(this.records[i]!);
    return out;
  }

  /** The same table for a program that starts `startInsn` slots into the section, `length` slots long. */
  slice(startInsn: number, length: number): LineTable {
    return new LineTable(
      this.records
        .filter((r) => r.insnOff / 8 >= startInsn && r.insnOff / 8 < startInsn + length)
        .map((r) => ({ ...r, insnOff: r.insnOff - startInsn * 8 })),
    );
  }
}

/** One LineTable per ELF section that has line_info. */
export function lineTables(ext: BtfExt): Map<string, LineTable> {
  return new Map(ext.lineInfo.map((s) => [s.section, new LineTable(s.records)]));
}

function basename(path: string): string {
  const i = path.lastIndexOf('/');
  return i < 0 ? path : path.slice(i + 1);
}

/** `file.bpf.c:56:9` (the column only when known). */
export function formatSourceLocation(li: LineInfo, fullPath = false): string {
  const f = fullPath ? li.fileName : basename(li.fileName);
  return li.column ? `${f}:${li.lineNum}:${li.column}` : `${f}:${li.lineNum}`;
}

/**
 * A comment line for disassembly, as the kernel's verifier log and bpftool
 * print it: `; put(0, x); @ file.bpf.c:56`, or with `linum` the bpftool
 * form `; put(0, x); [file:/full/path.c line_num:56 line_col:9]`.
 */
export function formatLineInfo(li: LineInfo, style: 'log' | 'linum' = 'log'): string {
  const text = li.line.trimStart();
  if (style === 'linum') return `; ${text} [file:${li.fileName} line_num:${li.lineNum} line_col:${li.column}]`;
  return `; ${text} @ ${basename(li.fileName)}:${li.lineNum}`;
}
