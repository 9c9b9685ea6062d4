/**
 * Name resolution for filter expressions, injectable so that compilation is
 * deterministic in tests: hosts, ethers and networks come from files in the
 * formats of hosts(5), ethers(5) and networks(5) (by default the system's
 * /etc files); services, protocols and link-layer protocol names come from
 * built-in tables. Lookups of host, ether and network names ignore case, as
 * glibc's do. No DNS: a name not in the files does not resolve.
 */
import * as nodefsModule from 'node:fs';
import * as addrModule from './addr.js';
import * as tablesModule from './tables.js';
import type { ServiceEntry } from './tables.js';
// Module-level copies of the imports: V8 folds a module's own constants into optimised code,
// not imported (live) bindings (see src/filter/README.md, "Compile speed").
const { readFileSync } = nodefsModule;
const { atoin, etherAton, parseIpv6 } = addrModule;
const { ETHER_PROTOS, IP_PROTOS, LLC_SAPS, SERVICE_TABLE } = tablesModule;

export interface HostAddresses {
  /** IPv4 addresses, host byte order as numbers. */
  v4: number[];
  /** IPv6 addresses, 16 bytes each. */
  v6: Uint8Array[];
}

export interface Resolver {
  /** Addresses of a host name, or undefined if unknown. */
  host(name: string): HostAddresses | undefined;
  /** MAC address of a host name (ethers), or undefined. */
  ether(name: string): Uint8Array | undefined;
  /** Network number of a network name (networks), unshifted as networks(5) gives it, or undefined. */
  network(name: string): number | undefined;
  /** A TCP/UDP/SCTP service name. */
  service(name: string): ServiceEntry | undefined;
  /** An IP protocol name. */
  protocol(name: string): number | undefined;
  /** An Ethernet protocol name (pcap_nametoeproto). */
  etherProto(name: string): number | undefined;
  /** An LLC SAP name (pcap_nametollc). */
  llc(name: string): number | undefined;
}

export interface FileResolverOptions {
  hosts?: string;
  ethers?: string;
  networks?: string;
}

function readLines(path: string | undefined): string[] {
  if (!path) return [];
  try {
    return readFileSync(path, 'utf8').split('\n');
  } catch {
    return [];
  }
}

function fields(line: string): string[] {
  return line.replace(/#.*/, '').trim().split(/\s+/).filter(Boolean);
}

const cmpBytes = (a: Uint8Array, b: Uint8Array): number => {
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return a[i]! - b[i]!;
  return 0;
};

/** A resolver reading hosts/ethers/networks files (the system's by default). */
export function fileResolver(opts: FileResolverOptions = {}): Resolver {
  const hostsPath = opts.hosts ?? '/etc/hosts';
  const ethersPath = opts.ethers ?? '/etc/ethers';
  const networksPath = opts.networks ?? '/etc/networks';
  let hosts: Map<string, HostAddresses> | undefined;
  let ethers: Map<string, Uint8Array> | undefined;
  let networks: Map<string, number> | undefined;

  const loadHosts = (): Map<string, HostAddresses> => {
    if (hosts) return hosts;
    hosts = new Map();
    for (const line of readLines(hostsPath)) {
      const [addr, ...names] = fields(line);
      if (!addr || !names.length) continue;
      const v4 = /^\d+\.\d+\.\d+\.\d+$/.test(addr) ? atoin(addr) : undefined;
      const v6 = v4 ? undefined : parseIpv6(addr);
      if (!v4 && !v6) continue;
      for (const n of names) {
        const key = n.toLowerCase();
        const e = hosts.get(key) ?? { v4: [], v6: [] };
        if (v4 && !e.v4.includes(v4.value)) e.v4.push(v4.value);
        if (v6 && !e.v6.some((x) => cmpBytes(x, v6) === 0)) e.v6.push(v6);
        hosts.set(key, e);
      }
    }
    for (const e of hosts.values()) {
      e.v4.sort((a, b) => a - b);
      e.v6.sort(cmpBytes);
    }
    return hosts;
  };
  const loadEthers = (): Map<string, Uint8Array> => {
    if (ethers) return ethers;
    ethers = new Map();
    for (const line of readLines(ethersPath)) {
      const [mac, name] = fields(line);
      if (!mac || !name) continue;
      const b = etherAton(mac);
      if (b && !ethers.has(name.toLowerCase())) ethers.set(name.toLowerCase(), b);
    }
    return ethers;
  };
  const loadNetworks = (): Map<string, number> => {
    if (networks) return networks;
    networks = new Map();
    for (const line of readLines(networksPath)) {
      const [name, num, ...aliases] = fields(line);
      if (!name || !num) continue;
      const v = atoin(num);
      if (!v) continue;
      // networks(5) numbers are right-justified: 10.20 means 0.0.10.20.
      const value = v.bits === 32 ? v.value : v.value >>> (32 - v.bits);
      for (const n of [name, ...aliases]) if (!networks.has(n.toLowerCase())) networks.set(n.toLowerCase(), value);
    }
    return networks;
  };

  return {
    host: (name) => loadHosts().get(name.toLowerCase()),
    ether: (name) => loadEthers().get(name.toLowerCase()),
    network: (name) => loadNetworks().get(name.toLowerCase()),
    service: (name) => SERVICE_TABLE.get(name),
    protocol: (name) => (Object.prototype.hasOwnProperty.call(IP_PROTOS, name) ? IP_PROTOS[name] : undefined),
    etherProto: (name) => (Object.prototype.hasOwnProperty.call(ETHER_PROTOS, name) ? ETHER_PROTOS[name] : undefined),
    llc: (name) => (Object.prototype.hasOwnProperty.call(LLC_SAPS, name) ? LLC_SAPS[name] : undefined),
  };
}

/** A resolver that knows only the built-in tables (no hosts, ethers or networks). */
export function builtinResolver(): Resolver {
  return fileResolver({ hosts: '', ethers: '', networks: '' });
}
