/** libpcap's accept.jsonl, optimised cases: bpfkit's programs are equivalent to libpcap's. */
import { describe, it } from 'vitest';
import { runAccept } from './support/accept.js';

describe('accept.jsonl', () => {
  it('optimised cases compile to programs equivalent to libpcap\'s', () => {
    runAccept('accept.jsonl', true);
  });
});
