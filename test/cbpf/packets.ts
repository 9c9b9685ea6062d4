/**
 * Packet bytes of capture files for the differential tests, read with
 * bpfkit's own capture reader (src/capture): the test then covers the whole
 * path a user takes (file → reader → filter) against libpcap's.
 */
import { readFileSync } from 'node:fs';
import { readCaptureSync } from '../../src/capture/index.js';

export interface TestPacket {
  /** A view into the file's bytes. */
  data: Uint8Array;
  wireLength: number;
}

/** The packets of each savefile, in order (those before any damage), and each file's bytes. */
export function loadPacketsOf(files: readonly string[]): { packets: TestPacket[][]; buffers: Uint8Array[] } {
  const buffers = files.map((f) => {
    const b = readFileSync(f);
    return new Uint8Array(b.buffer, b.byteOffset, b.length);
  });
  const packets = buffers.map((b, i) => readCaptureSync(b, { name: files[i]!, throwOnError: false }).packets);
  for (const [i, list] of packets.entries()) {
    for (const p of list) {
      if (p.data.buffer !== buffers[i]!.buffer) throw new Error(`${files[i]}: the reader copied a packet; expected views into the file`);
    }
  }
  return { packets, buffers };
}
