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
 *
 * What code generation guarantees (src/filter/codegen):
 * - A block may also end in an unconditional `jump` (linearised as `ja`, or
 *   nothing when the target is laid out next).
 * - The graph is acyclic except for `protochain`, whose header walk is a
 *   loop: its back edge is always a `jump`, and such graphs have
 *   `cyclic: true`. An optimiser may leave cyclic graphs alone, as libpcap's
 *   does.
 * - The accumulator A may be live across a block boundary (Geneve's offset
 *   computation continues from the value left by the preceding test); X
 *   likewise after `tax` in an offset prologue. Scratch slots hold variable
 *   header offsets: a slot is written (ST/STX) in the entry prologue or in the
 *   test that introduces the encapsulation (vlan with Linux extensions,
 *   Geneve, VXLAN) and read (LD/LDX M[k]) by later tests; relational
 *   expressions use slots as temporaries exactly as libpcap does.
 * - Loads may read outside the packet: classic BPF then returns 0, and
 *   programs rely on that (a truncated packet is rejected).
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
  | { kind: 'branch'; code: number; k: number; jt: Block; jf: Block }
  /** Unconditional jump (BPF_JMP|BPF_JA); the only edge that may point backwards (see `cyclic`). */
  | { kind: 'jump'; target: Block };

export interface Block {
  /**
   * Set only on code generation's blocks: 'test' on a test's block (made before lowering, see
   * pred.ts), 'block' on the others (one shape for all of them).
   */
  k?: 'test' | 'block';
  /** Unique within its graph; stable for printing (Graphviz, debugging). */
  id: number;
  stmts: Stmt[];
  term: Terminator;
  /**
   * Set only on the optimiser's working copies (optimize.ts `cloneCfg`): a dense index, unique
   * among the blocks of one copy, used to key per-block tables by array position.
   */
  ix?: number;
  /**
   * Set only on code generation's blocks (GraphBuilder makes them 0): scratch for linearize()'s
   * walk of such a graph. `tail` (instructions from the block's start to the program's end, -1
   * while the block is on the walk's path) holds for the walk whose number is in `walk`; while
   * lowering lays out the program (pred.ts GraphBuilder startProgram), for that program.
   */
  walk?: number;
  tail?: number;
}

/** The same statements: codes equal and k equal as unsigned 32-bit numbers. */
export function sameStmts(x: readonly Stmt[], y: readonly Stmt[]): boolean {
  if (x.length !== y.length) return false;
  for (let i = 0; i < x.length; i++) if (x[i]!.code !== y[i]!.code || x[i]!.k >>> 0 !== y[i]!.k >>> 0) return false;
  return true;
}

export interface Cfg {
  entry: Block;
  /** True when a `jump` points back to an earlier block (protochain's header loop). */
  cyclic?: boolean;
}
