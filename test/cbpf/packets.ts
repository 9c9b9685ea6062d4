/**
 * Packet bytes of capture files for the differential tests.
 */
import { libpcapPacketsOf } from '../support/libpcap.js';

export interface TestPacket {
  data: Uint8Array;
  wireLength: number;
}

/** The packets of each savefile, in order. */
export function loadPacketsOf(files: readonly string[]): TestPacket[][] {
  return libpcapPacketsOf(files).map((c) => c.packets);
}
