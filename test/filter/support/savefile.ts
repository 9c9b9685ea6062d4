/** Minimal pcap / pcapng readers for the filter tests (link type + packets). Private to test/filter. */
import { readFileSync } from 'node:fs';

export interface TestPacket {
  data: Uint8Array;
  wireLength: number;
  linkType: number;
}

export interface Savefile {
  linkType: number;
  snaplen: number;
  swapped: boolean;
  packets: TestPacket[];
}

export function readSavefile(path: string): Savefile {
  const buf = readFileSync(path);
  const dv = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
  const magic = dv.getUint32(0, false);
  if (magic === 0xa1b2c3d4 || magic === 0xd4c3b2a1 || magic === 0xa1b23c4d || magic === 0x4d3cb2a1) {
    const le = magic === 0xd4c3b2a1 || magic === 0x4d3cb2a1;
    const snaplen = dv.getUint32(16, le);
    const linkType = dv.getUint32(20, le) & 0x03ffffff;
    const packets: TestPacket[] = [];
    let off = 24;
    while (off + 16 <= buf.length) {
      const incl = dv.getUint32(off + 8, le);
      const orig = dv.getUint32(off + 12, le);
      off += 16;
      if (off + incl > buf.length) break;
      packets.push({ data: new Uint8Array(buf.buffer, buf.byteOffset + off, incl), wireLength: orig, linkType });
      off += incl;
    }
    return { linkType, snaplen, swapped: !le, packets };
  }
  if (magic === 0x0a0d0d0a) {
    const packets: TestPacket[] = [];
    let le = true;
    const idbs: { linkType: number; snaplen: number }[] = [];
    let off = 0;
    let swapped = false;
    while (off + 12 <= buf.length) {
      const type = dv.getUint32(off, le);
      if (type === 0x0a0d0d0a) {
        const bom = dv.getUint32(off + 8, true);
        le = bom === 0x1a2b3c4d;
        swapped = !le;
        idbs.length = 0;
      }
      const blen = dv.getUint32(off + 4, le);
      if (blen < 12 || off + blen > buf.length) break;
      if (type === 1) idbs.push({ linkType: dv.getUint16(off + 8, le), snaplen: dv.getUint32(off + 12, le) });
      if (type === 6) {
        const ifid = dv.getUint32(off + 8, le);
        const cap = dv.getUint32(off + 20, le);
        const orig = dv.getUint32(off + 24, le);
        packets.push({ data: new Uint8Array(buf.buffer, buf.byteOffset + off + 28, cap), wireLength: orig, linkType: idbs[ifid]?.linkType ?? 1 });
      } else if (type === 3) {
        const orig = dv.getUint32(off + 8, le);
        const cap = Math.min(orig, blen - 16);
        packets.push({ data: new Uint8Array(buf.buffer, buf.byteOffset + off + 12, cap), wireLength: orig, linkType: idbs[0]?.linkType ?? 1 });
      }
      off += blen;
    }
    return { linkType: idbs[0]?.linkType ?? 1, snaplen: idbs[0]?.snaplen ?? 262144, swapped, packets };
  }
  throw new Error(`${path}: not a pcap or pcapng file`);
}
