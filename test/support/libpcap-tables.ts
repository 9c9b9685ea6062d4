/** libpcap's own filter test tables (../shared/conformance/libpcap/*.jsonl), shared by the cbpf and filter tests. */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { LIBPCAP_CONFORMANCE } from './paths.js';

/** A case of apply.jsonl: an expression and its verdict on each packet of a savefile. */
export interface ApplyCase {
  name: string;
  savefile: string;
  expr: string;
  optimize: boolean;
  netmask: string | null;
  results: number[];
}

/** The records of a table, one JSON object per line. */
export function loadJsonl<T>(file: string): T[] {
  return readFileSync(join(LIBPCAP_CONFORMANCE, file), 'utf8')
    .split('\n')
    .filter((l) => l.trim())
    .map((l) => JSON.parse(l) as T);
}
