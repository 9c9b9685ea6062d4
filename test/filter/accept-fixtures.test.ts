/** libpcap's accept-fixtures.jsonl (names from the resolver fixtures): equivalent programs. */
import { describe, it } from 'vitest';
import { runAccept } from './support/accept.js';

describe('accept-fixtures.jsonl', () => {
  it('optimised cases compile to programs equivalent to libpcap\'s', () => {
    runAccept('accept-fixtures.jsonl', true);
  });
  it('unoptimised cases compile to programs equivalent to libpcap\'s', () => {
    runAccept('accept-fixtures.jsonl', false);
  });
});
