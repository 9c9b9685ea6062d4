/**
 * Random filter expressions shaped by the grammar, with values seen in the
 * corpus. (No `N - proto[i]` forms: libpcap 1.10 drops the protocol test of
 * a load on the right of an operator, which 1.11 and bpfkit keep.)
 */

/** Values seen in the corpus, so generated expressions match something. */
export function harvest(packets: Uint8Array[]): { ips: string[]; ports: number[]; macs: string[] } {
  const ips = new Set<string>(), ports = new Set<number>(), macs = new Set<string>();
  for (const p of packets.slice(0, 3000)) {
    if (p.length < 34) continue;
    macs.add(Array.from(p.slice(6, 12), (b) => b.toString(16).padStart(2, '0')).join(':'));
    if (p[12] === 8 && p[13] === 0) {
      ips.add(`${p[26]}.${p[27]}.${p[28]}.${p[29]}`);
      const hl = (p[14]! & 0xf) * 4;
      if (p.length >= 14 + hl + 4) ports.add((p[14 + hl]! << 8) | p[15 + hl]!);
    }
  }
  return { ips: [...ips].slice(0, 40), ports: [...ports].slice(0, 40), macs: [...macs].slice(0, 20) };
}

/** A random expression from the grammar (deterministic for a seed). */
export function generator(seed: number, vals: ReturnType<typeof harvest>): () => string {
  let s = seed >>> 0 || 1;
  const rnd = (): number => {
    s ^= s << 13;
    s ^= s >>> 17;
    s ^= s << 5;
    return (s >>> 0) / 4294967296;
  };
  const pick = <T>(xs: T[]): T => xs[Math.floor(rnd() * xs.length)]!;
  const dir = (): string => pick(['', 'src ', 'dst ', 'src or dst ', 'src and dst ']);
  const ip = (): string => pick(vals.ips.length ? vals.ips : ['10.0.0.1']);
  const port = (): number => pick(vals.ports.length ? vals.ports : [80]);
  const prims: (() => string)[] = [
    () => pick(['ip', 'ip6', 'arp', 'tcp', 'udp', 'icmp', 'icmp6', 'igmp', 'sctp', 'stp', 'llc', 'vlan', 'mpls', 'pppoes', 'isis']),
    () => `${pick(['', 'ip ', 'arp ', 'rarp '])}${dir()}host ${ip()}`,
    () => `${dir()}net ${ip().split('.').slice(0, 2).join('.')}.0.0/${pick([8, 16, 24])}`.replace(/\.\d+\.0\.0\/8$/, '.0.0.0/8'),
    () => `${pick(['', 'tcp ', 'udp '])}${dir()}port ${port()}`,
    () => `${pick(['', 'tcp ', 'udp '])}${dir()}portrange ${port()}-${port()}`,
    () => `ether ${dir()}host ${pick(vals.macs.length ? vals.macs : ['00:00:00:00:00:01'])}`,
    () => `${pick(['ip', 'tcp', 'udp', 'icmp', 'ether'])}[${Math.floor(rnd() * 40)}${pick(['', ':2', ':4'])}] ${pick(['>', '<', '=', '!=', '>=', '<='])} ${Math.floor(rnd() * 300)}`,
    () => `${pick(['less', 'greater'])} ${Math.floor(rnd() * 1500)}`,
    () => `ip proto ${pick([1, 6, 17, 47, 50, 58, 132])}`,
    () => `vlan ${Math.floor(rnd() * 4096)}`,
    () => `${pick(['ether', 'ip', 'ip6'])} ${pick(['broadcast', 'multicast'])}`.replace('ip6 broadcast', 'ip6 multicast').replace('ip broadcast', 'ip multicast'),
    () => `tcp[tcpflags] & (${pick(['tcp-syn', 'tcp-ack', 'tcp-fin', 'tcp-rst', 'tcp-push'])}) != 0`,
    () => `${pick(['', '- '])}${pick(['ip', 'udp', 'ether'])}[${Math.floor(rnd() * 30)}] ${pick(['+', '-', '&', '|', '*', '>>', '<<', '%', '^'])} ${1 + Math.floor(rnd() * 7)} ${pick(['>', '=', '!=', '<'])} ${Math.floor(rnd() * 200)}`,
    () => `${pick(['ip', 'tcp', 'ip6'])}[${Math.floor(rnd() * 40)}:${pick([1, 2])}] & ${pick([1, 2, 0x10, 0xf0, 0x1fff])} ${pick(['=', '!='])} 0`,
  ];
  const expr = (depth: number): string => {
    const r = rnd();
    if (depth > 2 || r < 0.45) return pick(prims)();
    if (r < 0.55) return `not ${expr(depth + 1)}`;
    if (r < 0.65) return `(${expr(depth + 1)})`;
    return `${expr(depth + 1)} ${pick(['and', 'or', '&&', '||'])} ${expr(depth + 1)}`;
  };
  return () => expr(0);
}

