/** Comparing packet lists in tests. */
import type { Packet } from '../../src/capture/index.js';

/** Same bytes, lengths, timestamps, link types (and interface numbers unless told otherwise). */
export function samePackets(a: readonly Packet[], b: readonly Packet[], options: { interfaceIds?: boolean } = {}): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) {
    const p = a[i]!;
    const q = b[i]!;
    if (
      p.seconds !== q.seconds ||
      p.nanos !== q.nanos ||
      p.wireLength !== q.wireLength ||
      p.linkType !== q.linkType ||
      (options.interfaceIds !== false && p.interfaceId !== q.interfaceId) ||
      Buffer.compare(p.data, q.data) !== 0
    ) {
      return false;
    }
  }
  return true;
}
