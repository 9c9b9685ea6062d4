export * from './opcodes.js';
export * from './insn.js';
export * from './spec.js';
export * from './types.js';
export * from './helper-ids.js';
export * from './engine.js';
