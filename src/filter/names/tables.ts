/**
 * Built-in name tables: Ethernet protocol names, LLC SAP names, IP protocol
 * names (as /etc/protocols on Linux), and well-known TCP/UDP/SCTP services.
 * They make compilation independent of the host's /etc files.
 */

/** pcap_nametoeproto's table. */
export const ETHER_PROTOS: Record<string, number> = {
  ip: 0x0800, ip6: 0x86dd, arp: 0x0806, rarp: 0x8035, atalk: 0x809b, aarp: 0x80f3, decnet: 0x6003,
  sca: 0x6007, lat: 0x6004, mopdl: 0x6001, moprc: 0x6002, lldp: 0x88cc, loopback: 0x9000, slow: 0x8809,
};

/** pcap_nametollc's table. */
export const LLC_SAPS: Record<string, number> = { iso: 0xfe, stp: 0x42, ipx: 0xe0, netbeui: 0xf0 };

/** IP protocol numbers (Linux /etc/protocols names and aliases). */
export const IP_PROTOS: Record<string, number> = {
  ip: 0, hopopt: 0, icmp: 1, igmp: 2, ggp: 3, ipencap: 4, st: 5, tcp: 6, egp: 8, igp: 9, pup: 12,
  udp: 17, hmp: 20, 'xns-idp': 22, rdp: 27, 'iso-tp4': 29, dccp: 33, xtp: 36, ddp: 37, 'idpr-cmtp': 38,
  ipv6: 41, 'ipv6-route': 43, 'ipv6-frag': 44, idrp: 45, rsvp: 46, gre: 47, esp: 50, ah: 51, skip: 57,
  'ipv6-icmp': 58, 'ipv6-nonxt': 59, 'ipv6-opts': 60, rspf: 73, vmtp: 81, eigrp: 88, ospf: 89,
  'ax.25': 93, ipip: 94, etherip: 97, encap: 98, pim: 103, ipcomp: 108, vrrp: 112, l2tp: 115, isis: 124,
  sctp: 132, fc: 133, 'mobility-header': 135, udplite: 136, 'mpls-in-ip': 137, manet: 138, hip: 139,
  shim6: 140, wesp: 141, rohc: 142, ethernet: 143,
  // Names libpcap knows even without /etc/protocols.
  icmp6: 58, ip6: 41,
};

type Svc = [name: string, port: number, protos: string];
/** Well-known services: name, port, which of t(cp) u(dp) s(ctp) define it. */
const SERVICES: Svc[] = [
  ['tcpmux', 1, 't'], ['echo', 7, 'tu'], ['discard', 9, 'tu'], ['systat', 11, 't'], ['daytime', 13, 'tu'],
  ['netstat', 15, 't'], ['qotd', 17, 't'], ['chargen', 19, 'tu'], ['ftp-data', 20, 'ts'], ['ftp', 21, 'ts'],
  ['ssh', 22, 'ts'], ['telnet', 23, 't'], ['smtp', 25, 't'], ['time', 37, 'tu'], ['whois', 43, 't'],
  ['tacacs', 49, 'tu'], ['domain', 53, 'tu'], ['gopher', 70, 't'], ['finger', 79, 't'], ['http', 80, 'ts'],
  ['www', 80, 't'], ['kerberos', 88, 'tu'], ['iso-tsap', 102, 't'], ['acr-nema', 104, 't'],
  ['pop3', 110, 't'], ['sunrpc', 111, 'tu'], ['auth', 113, 't'], ['nntp', 119, 't'], ['ntp', 123, 'u'],
  ['epmap', 135, 'tu'], ['netbios-ns', 137, 'u'], ['netbios-dgm', 138, 'u'], ['netbios-ssn', 139, 't'],
  ['imap2', 143, 't'], ['imap', 143, 't'], ['snmp', 161, 'tu'], ['snmp-trap', 162, 'tu'],
  ['cmip-man', 163, 'tu'], ['cmip-agent', 164, 'tu'], ['mailq', 174, 't'], ['xdmcp', 177, 'u'],
  ['bgp', 179, 'ts'], ['smux', 199, 't'], ['qmtp', 209, 't'], ['z3950', 210, 't'], ['ipx', 213, 'u'],
  ['ptp-event', 319, 'u'], ['ptp-general', 320, 'u'], ['pawserv', 345, 't'], ['zserv', 346, 't'],
  ['rpc2portmap', 369, 'tu'], ['codaauth2', 370, 'tu'], ['clearcase', 371, 'u'], ['ldap', 389, 'tu'],
  ['svrloc', 427, 'tu'], ['https', 443, 'tus'], ['snpp', 444, 't'], ['microsoft-ds', 445, 't'],
  ['kpasswd', 464, 'tu'], ['submissions', 465, 't'], ['saft', 487, 't'], ['isakmp', 500, 'u'],
  ['rtsp', 554, 'tu'], ['nqs', 607, 't'], ['asf-rmcp', 623, 'u'], ['qmqp', 628, 't'], ['ipp', 631, 't'],
  ['ldp', 646, 'tu'], ['exec', 512, 't'], ['biff', 512, 'u'], ['login', 513, 't'], ['who', 513, 'u'],
  ['shell', 514, 't'], ['syslog', 514, 'u'], ['printer', 515, 't'], ['talk', 517, 'u'], ['ntalk', 518, 'u'],
  ['route', 520, 'u'], ['gdomap', 538, 'tu'], ['uucp', 540, 't'], ['klogin', 543, 't'], ['kshell', 544, 't'],
  ['dhcpv6-client', 546, 'tu'], ['dhcpv6-server', 547, 'tu'], ['afpovertcp', 548, 't'],
  ['nntps', 563, 't'], ['submission', 587, 't'], ['ldaps', 636, 'tu'], ['tinc', 655, 'tu'],
  ['silc', 706, 't'], ['kerberos-adm', 749, 't'], ['domain-s', 853, 'tu'], ['rsync', 873, 't'],
  ['ftps-data', 989, 't'], ['ftps', 990, 't'], ['telnets', 992, 't'], ['imaps', 993, 't'],
  ['pop3s', 995, 't'], ['socks', 1080, 't'], ['proofd', 1093, 't'], ['rootd', 1094, 't'],
  ['openvpn', 1194, 'tu'], ['rmiregistry', 1099, 't'], ['lotusnote', 1352, 't'], ['ms-sql-s', 1433, 't'],
  ['ms-sql-m', 1434, 't'], ['ingreslock', 1524, 't'], ['datametrics', 1645, 'tu'], ['sa-msg-port', 1646, 'tu'],
  ['kermit', 1649, 't'], ['groupwise', 1677, 't'], ['l2f', 1701, 'u'], ['radius', 1812, 'tu'],
  ['radius-acct', 1813, 'tu'], ['cisco-sccp', 2000, 't'], ['nfs', 2049, 'tus'], ['gnunet', 2086, 'tu'],
  ['rtcm-sc104', 2101, 'tu'], ['gsigatekeeper', 2119, 't'], ['gris', 2135, 't'], ['cvspserver', 2401, 't'],
  ['venus', 2430, 'tu'], ['venus-se', 2431, 'tu'], ['codasrv', 2432, 'tu'], ['codasrv-se', 2433, 'tu'],
  ['mon', 2583, 'tu'], ['dict', 2628, 't'], ['f5-globalsite', 2792, 't'], ['gsiftp', 2811, 't'],
  ['gpsd', 2947, 't'], ['gds-db', 3050, 't'], ['icpv2', 3130, 'u'], ['isns', 3205, 'tu'],
  ['iscsi-target', 3260, 't'], ['mysql', 3306, 't'], ['ms-wbt-server', 3389, 't'], ['nut', 3493, 'tu'],
  ['distcc', 3632, 't'], ['daap', 3689, 't'], ['svn', 3690, 't'], ['suucp', 4031, 't'], ['sysrqd', 4094, 't'],
  ['sieve', 4190, 't'], ['epmd', 4369, 't'], ['remctl', 4373, 't'], ['f5-iquery', 4353, 't'],
  ['ntske', 4460, 't'], ['ipsec-nat-t', 4500, 'u'], ['iax', 4569, 'u'], ['mtn', 4691, 't'],
  ['radmin-port', 4899, 't'], ['sip', 5060, 'tu'], ['sip-tls', 5061, 'tu'], ['xmpp-client', 5222, 't'],
  ['xmpp-server', 5269, 't'], ['cfengine', 5308, 't'], ['mdns', 5353, 'u'], ['postgresql', 5432, 't'],
  ['freeciv', 5556, 't'], ['amqps', 5671, 't'], ['amqp', 5672, 'ts'], ['x11', 6000, 't'],
  ['x11-1', 6001, 't'], ['x11-2', 6002, 't'], ['x11-3', 6003, 't'], ['x11-4', 6004, 't'],
  ['x11-5', 6005, 't'], ['x11-6', 6006, 't'], ['x11-7', 6007, 't'], ['gnutella-svc', 6346, 'tu'],
  ['gnutella-rtr', 6347, 'tu'], ['redis', 6379, 't'], ['sge-qmaster', 6444, 't'], ['sge-execd', 6445, 't'],
  ['mysql-proxy', 6446, 't'], ['babel', 6696, 'u'], ['ircs-u', 6697, 't'], ['bbs', 7000, 't'],
  ['afs3-fileserver', 7000, 'u'], ['font-service', 7100, 't'], ['http-alt', 8080, 't'],
  ['puppet', 8140, 't'], ['bacula-dir', 9101, 't'], ['bacula-fd', 9102, 't'], ['bacula-sd', 9103, 't'],
  ['xmms2', 9667, 't'], ['nbd', 10809, 't'], ['zabbix-agent', 10050, 't'], ['zabbix-trapper', 10051, 't'],
  ['amanda', 10080, 't'], ['dicom', 11112, 't'], ['hkp', 11371, 't'], ['db-lsp', 17500, 't'],
  ['dcap', 22125, 't'], ['gsidcap', 22128, 't'], ['wnn6', 22273, 't'], ['bootps', 67, 'u'],
  ['bootpc', 68, 'u'], ['tftp', 69, 'u'], ['bgmp', 264, 'tu'], ['irc', 194, 'tu'], ['geneve', 6081, 'u'],
  ['vxlan', 4789, 'u'], ['openflow', 6653, 'tu'], ['git', 9418, 't'], ['zope', 9673, 't'],
  ['webmin', 10000, 't'], ['kamanda', 10081, 't'], ['amandaidx', 10082, 't'], ['amidxtape', 10083, 't'],
  ['isdnlog', 20011, 't'], ['vboxd', 20012, 't'], ['binkp', 24554, 't'], ['asp', 27374, 't'],
  ['csync2', 30865, 't'], ['dircproxy', 57000, 't'], ['tfido', 60177, 't'], ['fido', 60179, 't'],
];

export interface ServiceEntry {
  port: number;
  tcp: boolean;
  udp: boolean;
  sctp: boolean;
}

export const SERVICE_TABLE: Map<string, ServiceEntry> = new Map();
for (const [name, port, protos] of SERVICES) {
  const e = SERVICE_TABLE.get(name) ?? { port, tcp: false, udp: false, sctp: false };
  if (protos.includes('t')) e.tcp = true;
  if (protos.includes('u')) e.udp = true;
  if (protos.includes('s')) e.sctp = true;
  SERVICE_TABLE.set(name, e);
}
