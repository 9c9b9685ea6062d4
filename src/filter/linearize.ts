/**
 * CFG → classic program, and classic program → CFG.
 *
 * Linearisation lays blocks out in a topological order (depth-first, false
 * branch first so that chains of `and` fall through), turns `jump`s into
 * `ja` (dropped when the target comes next), and fixes up conditional
 * branches whose offset would not fit the 8-bit jt/jf fields by routing
 * them through an inserted `ja` right after the branch.
 */
import type { CbpfInsn, CbpfProgram } from '../cbpf/insn.js';
import { BPF_JA, BPF_JMP, BPF_RET, bpfClass, bpfOp } from '../cbpf/insn.js';
import type { Block, Cfg, Stmt } from './cfg.js';

/** Blocks reachable from the entry, in layout order. */
export function layout(cfg: Cfg): Block[] {
  const order: Block[] = [];
  const state = new Map<Block, 1 | 2>(); // 1 = on stack, 2 = done
  // Iterative DFS producing reverse postorder; false edges are visited last so they end up first.
  const stack: { b: Block; succ: Block[]; i: number }[] = [];
  const succs = (b: Block): Block[] =>
    b.term.kind === 'branch' ? [b.term.jt, b.term.jf] : b.term.kind === 'jump' ? [b.term.target] : [];
  const push = (b: Block): void => {
    state.set(b, 1);
    stack.push({ b, succ: succs(b), i: 0 });
  };
  push(cfg.entry);
  while (stack.length) {
    const top = stack[stack.length - 1]!;
    if (top.i < top.succ.length) {
      const s = top.succ[top.i++]!;
      if (!state.has(s)) push(s);
    } else {
      state.set(top.b, 2);
      order.push(top.b);
      stack.pop();
    }
  }
  order.reverse();
  return order;
}

interface Item {
  block: Block;
  /** Extra `ja` trampolines inserted after the block for far jt / jf targets. */
  farJt: boolean;
  farJf: boolean;
}

export function linearize(cfg: Cfg): CbpfProgram {
  const blocks = layout(cfg);
  const items: Item[] = blocks.map((block) => ({ block, farJt: false, farJf: false }));
  for (;;) {
    // Sizes and start positions with the current trampoline decisions.
    const start = new Map<Block, number>();
    let pc = 0;
    for (let i = 0; i < items.length; i++) {
      const it = items[i]!;
      start.set(it.block, pc);
      pc += it.block.stmts.length + termSize(it, items[i + 1]?.block);
    }
    let changed = false;
    for (const it of items) {
      const t = it.block.term;
      if (t.kind !== 'branch') continue;
      const at = start.get(it.block)! + it.block.stmts.length;
      const after = at + 1 + (it.farJt ? 1 : 0) + (it.farJf ? 1 : 0);
      if (!it.farJt && start.get(t.jt)! - (at + 1) > 255) {
        it.farJt = true;
        changed = true;
      }
      if (!it.farJf && start.get(t.jf)! - (at + 1) > 255) {
        it.farJf = true;
        changed = true;
      }
      void after;
    }
    if (changed) continue;
    return emit(items, start);
  }
}

function termSize(it: Item, next: Block | undefined): number {
  const t = it.block.term;
  if (t.kind === 'jump') return t.target === next ? 0 : 1;
  if (t.kind === 'branch') return 1 + (it.farJt ? 1 : 0) + (it.farJf ? 1 : 0);
  return 1;
}

function emit(items: Item[], start: Map<Block, number>): CbpfProgram {
  const out: CbpfInsn[] = [];
  for (let i = 0; i < items.length; i++) {
    const it = items[i]!;
    for (const s of it.block.stmts) out.push({ code: s.code, jt: 0, jf: 0, k: s.k >>> 0 });
    const t = it.block.term;
    if (t.kind === 'ret') {
      out.push({ code: t.code, jt: 0, jf: 0, k: t.k >>> 0 });
    } else if (t.kind === 'jump') {
      if (t.target !== items[i + 1]?.block) {
        const here = out.length;
        out.push({ code: BPF_JMP | BPF_JA, jt: 0, jf: 0, k: (start.get(t.target)! - here - 1) >>> 0 });
      }
    } else {
      const here = out.length;
      let slot = here + 1;
      const jtPc = it.farJt ? slot++ : start.get(t.jt)!;
      const jfPc = it.farJf ? slot++ : start.get(t.jf)!;
      out.push({ code: t.code, jt: jtPc - here - 1, jf: jfPc - here - 1, k: t.k >>> 0 });
      if (it.farJt) out.push({ code: BPF_JMP | BPF_JA, jt: 0, jf: 0, k: start.get(t.jt)! - out.length - 1 });
      if (it.farJf) out.push({ code: BPF_JMP | BPF_JA, jt: 0, jf: 0, k: start.get(t.jf)! - out.length - 1 });
    }
  }
  return out;
}

/** Split a classic program into basic blocks (for optimising or drawing any program). */
export function fromProgram(prog: CbpfProgram): Cfg {
  const n = prog.length;
  const leader = new Set<number>([0]);
  for (let i = 0; i < n; i++) {
    const ins = prog[i]!;
    const cls = bpfClass(ins.code);
    if (cls === BPF_JMP) {
      if (bpfOp(ins.code) === BPF_JA) leader.add((i + 1 + ins.k) >>> 0);
      else {
        leader.add(i + 1 + ins.jt);
        leader.add(i + 1 + ins.jf);
      }
      leader.add(i + 1);
    } else if (cls === BPF_RET) {
      leader.add(i + 1);
    }
  }
  const blocks = new Map<number, Block>();
  let id = 0;
  const starts = [...leader].filter((x) => x < n).sort((a, b) => a - b);
  for (const s of starts) blocks.set(s, { id: id++, stmts: [], term: { kind: 'ret', code: BPF_RET, k: 0 } });
  let cyclic = false;
  // A jump past the end (an invalid program) returns 0.
  const at = (pc: number): Block => {
    const b = blocks.get(pc);
    if (b) return b;
    const dead: Block = { id: id++, stmts: [], term: { kind: 'ret', code: BPF_RET, k: 0 } };
    blocks.set(pc, dead);
    return dead;
  };
  for (let si = 0; si < starts.length; si++) {
    const s = starts[si]!;
    const end = si + 1 < starts.length ? starts[si + 1]! : n;
    const b = blocks.get(s)!;
    const stmts: Stmt[] = [];
    let term: Block['term'] | undefined;
    for (let i = s; i < end; i++) {
      const ins = prog[i]!;
      const cls = bpfClass(ins.code);
      if (cls === BPF_RET) {
        term = { kind: 'ret', code: ins.code, k: ins.k };
        break;
      }
      if (cls === BPF_JMP) {
        if (bpfOp(ins.code) === BPF_JA) {
          const target = (i + 1 + ins.k) >>> 0;
          if (target <= i) cyclic = true;
          term = { kind: 'jump', target: at(target) };
        } else {
          term = { kind: 'branch', code: ins.code, k: ins.k, jt: at(i + 1 + ins.jt), jf: at(i + 1 + ins.jf) };
        }
        break;
      }
      stmts.push({ code: ins.code, k: ins.k });
    }
    b.stmts = stmts;
    b.term = term ?? { kind: 'jump', target: at(end) };
  }
  return cyclic ? { entry: blocks.get(0) ?? at(0), cyclic } : { entry: blocks.get(0) ?? at(0) };
}
