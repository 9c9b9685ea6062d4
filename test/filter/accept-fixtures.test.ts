/** libpcap's accept-fixtures.jsonl (names from the resolver fixtures): equivalent programs. */
import { describe, expect, it } from 'vitest';
import { runAccept } from './support/accept.js';

describe('accept-fixtures.jsonl', () => {
  it('optimised cases compile to programs equivalent to libpcap\'s', () => {
    const s = runAccept('accept-fixtures.jsonl', true);
    expect(s.ours / s.theirs).toBeLessThanOrEqual(0.95);
    expect(s.longer).toBe(0);
  });
  it('unoptimised cases compile to programs equivalent to libpcap\'s', () => {
    const s = runAccept('accept-fixtures.jsonl', false);
    expect(s.longer).toBe(0);
  });
});
