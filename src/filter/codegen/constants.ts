/** Protocol numbers and header constants the code generator uses. */

export const ETHERTYPE = {
  IP: 0x0800, ARP: 0x0806, REVARP: 0x8035, IPV6: 0x86dd, ATALK: 0x809b, AARP: 0x80f3, DN: 0x6003,
  SCA: 0x6007, LAT: 0x6004, MOPDL: 0x6001, MOPRC: 0x6002, VLAN: 0x8100, QINQ_AD: 0x88a8, QINQ_OLD: 0x9100,
  MPLS: 0x8847, PPPOED: 0x8863, PPPOES: 0x8864, NS: 0x0600, TEB: 0x6558, IPX: 0x8137,
} as const;

export const LLCSAP = { IP: 0x06, ISONS: 0xfe, NETBEUI: 0xf0, IPX: 0xe0, STP: 0x42, SNAP: 0xaa } as const;

export const PPP = {
  IP: 0x0021, IPV6: 0x0057, DECNET: 0x0027, APPLE: 0x0029, NS: 0x0025, OSI: 0x0023, BRPDU: 0x0031,
  IPX: 0x002b, VJC: 0x002d, VJNC: 0x002f, MPLS_UCAST: 0x0281,
} as const;

export const ARCTYPE = { IP_OLD: 240, ARP_OLD: 241, IP: 212, ARP: 213, REVARP: 214, ATALK: 221, INET6: 0xc4 } as const;

export const ISO = { CLNP: 0x81, ESIS: 0x82, ISIS: 0x83 } as const;

export const ISIS_PDU = {
  L1_LAN_IIH: 15, L2_LAN_IIH: 16, PTP_IIH: 17, L1_LSP: 18, L2_LSP: 20, L1_CSNP: 24, L2_CSNP: 25,
  L1_PSNP: 26, L2_PSNP: 27,
} as const;

export const IPPROTO = {
  HOPOPTS: 0, ICMP: 1, IGMP: 2, TCP: 6, IGRP: 9, UDP: 17, ROUTING: 43, FRAGMENT: 44, ESP: 50, AH: 51,
  ICMPV6: 58, NONE: 59, DSTOPTS: 60, PIM: 103, VRRP: 112, CARP: 112, SCTP: 132,
} as const;

export const SLL = { P_802_3: 0x0001, P_802_2: 0x0004, OUTGOING: 4 } as const;

export const IEEE80211 = {
  FC0_TYPE_MASK: 0x0c, FC0_SUBTYPE_MASK: 0xf0, TYPE_MGT: 0x00, TYPE_CTL: 0x04, TYPE_DATA: 0x08,
  SUBTYPE_CTS: 0xc0, SUBTYPE_ACK: 0xd0, FC1_DIR_MASK: 0x03, DIR_DSTODS: 0x03,
} as const;

export const AF = { INET: 2, INET6_LINUX: 10, INET6_BSD: 24, INET6_FREEBSD: 28, INET6_DARWIN: 30 } as const;

export const GENEVE_PORT = 6081;
export const VXLAN_PORT = 4789;
