export * from './insn.js';
