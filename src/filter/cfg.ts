/**
 * The filter compiler's intermediate form: a control-flow graph of basic
 * blocks, as in the BPF paper and libpcap. Code generation builds it, the
 * optimiser rewrites it (Cfg → Cfg), and linearisation turns it into a
 * classic program (inserting `ja` where a block does not fall through and
 * fixing up branch offsets over 255).
 *
 * A block is a straight-line list of statements ending in either a return or
 * a two-way conditional branch. Statements are classic instructions that are
 * neither jumps nor returns: LD/LDX (all modes), ST/STX (k = scratch slot
 * 0..15), ALU, MISC (tax/txa). Blocks form a DAG (edges only go forward).
 */

/** A non-branching classic instruction. */
export interface Stmt {
  code: number;
  k: number;
}

export type Terminator =
  /** BPF_RET|BPF_K (return k) or BPF_RET|BPF_A (return the accumulator). */
  | { kind: 'ret'; code: number; k: number }
  /** BPF_JMP|op|src with op in JEQ/JGT/JGE/JSET: if true go to jt, else jf. */
  | { kind: 'branch'; code: number; k: number; jt: Block; jf: Block };

export interface Block {
  /** Unique within its graph; stable for printing (Graphviz, debugging). */
  id: number;
  stmts: Stmt[];
  term: Terminator;
}

export interface Cfg {
  entry: Block;
}
