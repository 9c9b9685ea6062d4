/**
 * Graphviz output of a CFG, like the figures of the BPF paper: one box per
 * basic block listing its statements and its branch; solid edges for true,
 * dashed for false.
 */
import type { Block, Cfg, Stmt } from './cfg.js';
import { layout } from './linearize.js';
import { formatInsn } from './format.js';

const esc = (s: string): string => s.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\l');

function label(b: Block): string {
  const lines = b.stmts.map((s: Stmt) => formatInsn({ code: s.code, jt: 0, jf: 0, k: s.k }));
  const t = b.term;
  if (t.kind === 'ret') lines.push(formatInsn({ code: t.code, jt: 0, jf: 0, k: t.k }));
  else if (t.kind === 'branch') lines.push(formatInsn({ code: t.code, jt: 0, jf: 0, k: t.k }, true));
  else lines.push('ja');
  return `B${b.id}\n${lines.join('\n')}\n`;
}

export function toDot(cfg: Cfg, name = 'cfg'): string {
  const out = [`digraph ${name} {`, '  node [shape=box, fontname="monospace"];'];
  for (const b of layout(cfg)) {
    out.push(`  b${b.id} [label="${esc(label(b))}"];`);
    const t = b.term;
    if (t.kind === 'branch') {
      out.push(`  b${b.id} -> b${t.jt.id} [label="T"];`);
      out.push(`  b${b.id} -> b${t.jf.id} [label="F", style=dashed];`);
    } else if (t.kind === 'jump') {
      out.push(`  b${b.id} -> b${t.target.id};`);
    }
  }
  out.push('}');
  return out.join('\n') + '\n';
}
