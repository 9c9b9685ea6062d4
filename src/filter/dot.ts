/**
 * Graphviz output of a CFG, like the figures of the BPF paper: one box per
 * basic block listing its statements and its test; solid edges for true,
 * dashed for false.
 */
import { insnParts } from '../cbpf/format.js';
import type { Block, Cfg } from './cfg.js';
import { layout } from './linearize.js';

const esc = (s: string): string => s.replace(/\\/g, '\\\\').replace(/"/g, '\\"');

function text(code: number, k: number): string {
  const p = insnParts({ code, jt: 0, jf: 0, k }, 0, 'libpcap-1.11');
  if (!p) return `unimp 0x${code.toString(16)}`;
  return p.operand ? `${p.op} ${p.operand}` : p.op;
}

function label(b: Block): string {
  const lines = b.stmts.map((s) => text(s.code, s.k));
  const t = b.term;
  if (t.kind === 'ret') lines.push(text(t.code, t.k));
  else if (t.kind === 'branch') lines.push(text(t.code, t.k));
  return [`B${b.id}`, ...lines].map(esc).join('\\l') + '\\l';
}

/** The graph as a Graphviz digraph named `name`. */
export function toDot(cfg: Cfg, name = 'cfg'): string {
  const out = [`digraph ${name} {`, '  node [shape=box, fontname="monospace"];'];
  for (const b of layout(cfg)) {
    out.push(`  b${b.id} [label="${label(b)}"];`);
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
