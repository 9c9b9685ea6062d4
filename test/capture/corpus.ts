/** The tcpdump-tests corpus and its index (../shared/corpus/tcpdump-tests/index.tsv). */
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { CORPUS } from '../support/paths.js';

export interface CorpusEntry {
  file: string;
  path: string;
  format: string;
  linkType: string;
  packets: number;
  linkTypeValue: number;
  bytes: number;
  snaplen: number;
  notes: string;
}

let cached: CorpusEntry[] | undefined;

export function corpus(): CorpusEntry[] {
  if (cached) return cached;
  const lines = readFileSync(resolve(CORPUS, 'index.tsv'), 'utf8').trim().split('\n');
  const header = lines[0]!.split('\t');
  if (header.join(',') !== 'file,format,linktype,packets,linktype_value,bytes,snaplen,notes') {
    throw new Error(`unexpected index.tsv header: ${header.join(',')}`);
  }
  cached = lines.slice(1).map((line) => {
    const [file, format, linkType, packets, value, bytes, snaplen, notes] = line.split('\t');
    return {
      file: file!,
      path: resolve(CORPUS, file!),
      format: format!,
      linkType: linkType!,
      packets: Number(packets),
      linkTypeValue: Number(value),
      bytes: Number(bytes),
      snaplen: Number(snaplen),
      notes: notes ?? '',
    };
  });
  return cached;
}
