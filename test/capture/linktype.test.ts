/**
 * The link-type table against libpcap (a tiny C program built at test time
 * against Debian's libpcap-dev): every DLT libpcap names has our entry with
 * the same name and description, libpcap maps our names back to the same
 * DLT, the LINKTYPE_/DLT_ differences are libpcap's, and the corpus index's
 * names (what tcpdump printed) are ours.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync } from 'node:fs';
import { resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import {
  LINK_TYPES,
  adjustSnaplen,
  dltToLinkType,
  linkTypeInfo,
  linkTypeInfoByDlt,
  linkTypeName,
  linkTypeToDlt,
  lookupLinkType,
} from '../../src/capture/index.js';
import { REPO, TMP } from '../support/paths.js';
import { corpus } from './corpus.js';

function libpcapNames(names: string[]): { byDlt: Map<number, { name: string; description: string }>; toVal: Map<string, number> } {
  const dir = resolve(TMP, 'capture');
  mkdirSync(dir, { recursive: true });
  const exe = resolve(dir, 'linktypes');
  if (!existsSync(exe)) execFileSync('gcc', ['-O1', '-o', exe, resolve(REPO, 'test/capture/c/linktypes.c'), '-lpcap']);
  const out = execFileSync(exe, names, { encoding: 'utf8' });
  const byDlt = new Map<number, { name: string; description: string }>();
  const toVal = new Map<string, number>();
  for (const line of out.split('\n')) {
    if (line.startsWith('V ')) {
      const m = /^V (\d+) (\S+)\t(.*)$/.exec(line)!;
      byDlt.set(Number(m[1]), { name: m[2]!, description: m[3]! });
    } else if (line.startsWith('N ')) {
      const [, name, val] = line.split(' ');
      toVal.set(name!, Number(val));
    }
  }
  return { byDlt, toVal };
}

describe('link-type table', () => {
  const names = LINK_TYPES.flatMap((t) => [t.name, t.name.toLowerCase()]);
  const lib = libpcapNames(names);

  it('has an entry, with libpcap\'s name and description, for every DLT libpcap names', () => {
    expect(lib.byDlt.size).toBeGreaterThan(140);
    for (const [dlt, { name, description }] of lib.byDlt) {
      const ours = linkTypeInfoByDlt(dlt);
      expect(ours, `DLT ${dlt} (${name})`).toBeDefined();
      expect([ours!.name, ours!.description]).toEqual([name, description]);
    }
  });

  it('names that libpcap knows map to the same DLT there (in any case)', () => {
    let known = 0;
    for (const t of LINK_TYPES) {
      const v = lib.toVal.get(t.name)!;
      if (v === -1) continue; // newer than Debian's libpcap 1.10
      known++;
      expect(v, t.name).toBe(t.dlt);
      expect(lib.toVal.get(t.name.toLowerCase())).toBe(t.dlt);
      expect(lookupLinkType(t.name.toLowerCase())?.dlt).toBe(t.dlt);
      expect(lookupLinkType(`DLT_${t.name}`)?.linkType).toBe(t.linkType);
    }
    expect(known).toBeGreaterThan(140);
  });

  it('knows where LINKTYPE_ and DLT_ values differ (pcap-linktype(7))', () => {
    const differ = LINK_TYPES.filter((t) => t.dlt !== t.linkType).map((t) => [t.name, t.linkType, t.dlt]);
    expect(differ).toEqual([
      ['ATM_RFC1483', 100, 11],
      ['RAW', 101, 12],
      ['SLIP_BSDOS', 102, 15],
      ['PPP_BSDOS', 103, 16],
      ['ATM_CLIP', 106, 19],
    ]);
    expect(linkTypeToDlt(101)).toBe(12);
    expect(dltToLinkType(12)).toBe(101);
    expect(linkTypeToDlt(4242)).toBe(4242);
    // LINKTYPE_ names where they differ from the DLT_ ones.
    expect(lookupLinkType('LINKTYPE_ETHERNET')?.name).toBe('EN10MB');
    expect(lookupLinkType('LINKTYPE_IEEE802_11_RADIOTAP')?.name).toBe('IEEE802_11_RADIO');
    expect(lookupLinkType('LINKTYPE_PPP_HDLC')?.name).toBe('PPP_SERIAL');
    expect(lookupLinkType('113')?.name).toBe('LINUX_SLL');
    expect(lookupLinkType('no-such-type')).toBeUndefined();
  });

  it('gives the names tcpdump printed for the corpus (index.tsv)', () => {
    for (const e of corpus()) expect(linkTypeName(e.linkTypeValue), e.file).toBe(e.linkType);
  });

  it('adjusts snapshot lengths as libpcap does', () => {
    expect(adjustSnaplen(1, 0)).toBe(262144);
    expect(adjustSnaplen(1, 2164523008)).toBe(262144);
    expect(adjustSnaplen(1, 96)).toBe(96);
    expect(adjustSnaplen(231, 200_000_000)).toBe(128 * 1024 * 1024);
    expect(linkTypeInfo(231)?.name).toBe('DBUS');
  });
});
