/**
 * Packet bytes of capture files for the differential tests, read with
 * bpfkit's own capture reader (src/capture): the test then covers the whole
 * path a user takes (file → reader → filter) against libpcap's.
 */
import { readFileSync } from 'node:fs';
import { readCaptureSync } from '../../src/capture/index.js';

export interface TestPacket {
  data: Uint8Array;
  wireLength: number;
}

/** The packets of each savefile, in order (those before any damage). */
export function loadPacketsOf(files: readonly string[]): TestPacket[][] {
  return files.map((f) => readCaptureSync(readFileSync(f), { name: f, throwOnError: false }).packets);
}
