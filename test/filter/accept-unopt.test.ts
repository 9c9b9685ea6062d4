/** libpcap's accept.jsonl, unoptimised cases: bpfkit's programs are equivalent to libpcap's. */
import { describe, expect, it } from 'vitest';
import { runAccept } from './support/accept.js';

describe('accept.jsonl', () => {
  it('unoptimised cases compile to programs equivalent to libpcap\'s, none longer, most identical', () => {
    const s = runAccept('accept.jsonl', false);
    expect(s.pass).toBe(s.cases);
    expect(s.longer).toBe(0);
    // Code generation follows libpcap's, and the layout is libpcap's (1797 of 1883 cases
    // instruction for instruction when written).
    expect(s.identical / s.cases).toBeGreaterThan(0.93);
  });
});
