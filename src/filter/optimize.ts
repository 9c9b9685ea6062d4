/**
 * The optimiser's entry point: a pass Cfg → Cfg.
 *
 * OWNER: the optimiser colleague (issue 3, item 4) owns this file and
 * src/filter/optimize*.ts. What is here now is only what code generation
 * needed to make progress, and is safe on any graph: it removes nothing that
 * could change a verdict. It
 *  - threads jumps through empty `jump` blocks,
 *  - folds a branch whose two targets are the same block into a jump when the
 *    branch's block has no statements left to run (A/X are dead at a return),
 *  - leaves graphs with loops (`cyclic`, protochain) untouched.
 * Unreachable blocks disappear by construction: a Cfg is what is reachable
 * from its entry.
 */
import type { Block, Cfg } from './cfg.js';

export interface OptimizeOptions {
  /** Reserved for the real optimiser's switches. */
  level?: number;
}

export function optimize(cfg: Cfg, _options: OptimizeOptions = {}): Cfg {
  if (cfg.cyclic) return cfg;
  const resolve = (b: Block, seen = new Set<Block>()): Block => {
    while (b.term.kind === 'jump' && b.stmts.length === 0 && !seen.has(b)) {
      seen.add(b);
      b = b.term.target;
    }
    return b;
  };
  // A jump into `ret #0` is `ret #0`: the skipped statements could only make the program
  // return 0 earlier (an out-of-bounds load, a division by zero).
  const sinkReject = (b: Block): void => {
    const t = b.term;
    if (t.kind === 'jump' && t.target.term.kind === 'ret' && t.target.term.k === 0 && t.target.term.code === 0x06) {
      b.stmts = [];
      b.term = { ...t.target.term };
    }
  };
  const visited = new Set<Block>();
  const stack: Block[] = [cfg.entry];
  while (stack.length) {
    const b = stack.pop()!;
    if (visited.has(b)) continue;
    visited.add(b);
    sinkReject(b);
    const t = b.term;
    if (t.kind === 'branch') {
      t.jt = resolve(t.jt);
      t.jf = resolve(t.jf);
      stack.push(t.jt, t.jf);
    } else if (t.kind === 'jump') {
      t.target = resolve(t.target);
      stack.push(t.target);
    }
  }
  const entry = resolve(cfg.entry);
  sinkReject(entry);
  return { ...cfg, entry };
}
