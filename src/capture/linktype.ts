/**
 * The link-type table: LINKTYPE_ values (what capture files store) with their
 * libpcap DLT_ names (what tcpdump prints: `link-type EN10MB (Ethernet)`),
 * the LINKTYPE_ names where they differ (LINKTYPE_ETHERNET is DLT_EN10MB),
 * and the DLT_ values where they differ on Linux (LINKTYPE_RAW is 101 in a
 * file but DLT_RAW is 12 in libpcap's API). See pcap-linktype(7) and
 * https://www.tcpdump.org/linktypes.html.
 *
 * Names are matched case-insensitively, with or without a `DLT_` or
 * `LINKTYPE_` prefix, as pcap_datalink_name_to_val() does.
 */

export interface LinkTypeInfo {
  /** The LINKTYPE_ value stored in pcap and pcapng files. */
  readonly linkType: number;
  /** libpcap's DLT_ name without the prefix, as tcpdump prints it (EN10MB, LINUX_SLL, RAW). */
  readonly name: string;
  /** libpcap's description, as tcpdump prints it in parentheses. */
  readonly description: string;
  /** The LINKTYPE_ name without the prefix (ETHERNET for EN10MB; usually the same as name). */
  readonly linkTypeName: string;
  /** The DLT_ value on Linux (12 for RAW; usually the same as linkType). */
  readonly dlt: number;
}

type Row = readonly [linkType: number, name: string, description: string, linkTypeName?: string, dlt?: number];

// [LINKTYPE value, DLT name, description, LINKTYPE name if different, Linux DLT value if different]
const ROWS: readonly Row[] = [
  [0, 'NULL', 'BSD loopback'],
  [1, 'EN10MB', 'Ethernet', 'ETHERNET'],
  [2, 'EN3MB', 'Experimental Ethernet (3Mb)', 'EXP_ETHERNET'],
  [3, 'AX25', 'Amateur Radio AX.25'],
  [4, 'PRONET', 'Proteon ProNET Token Ring'],
  [5, 'CHAOS', 'Chaos'],
  [6, 'IEEE802', 'Token ring', 'IEEE802_5'],
  [7, 'ARCNET', 'BSD ARCNET', 'ARCNET_BSD'],
  [8, 'SLIP', 'SLIP'],
  [9, 'PPP', 'PPP'],
  [10, 'FDDI', 'FDDI'],
  [50, 'PPP_SERIAL', 'PPP over serial', 'PPP_HDLC'],
  [51, 'PPP_ETHER', 'PPPoE'],
  [99, 'SYMANTEC_FIREWALL', 'Symantec Firewall'],
  [100, 'ATM_RFC1483', 'RFC 1483 LLC-encapsulated ATM', undefined, 11],
  [101, 'RAW', 'Raw IP', undefined, 12],
  [102, 'SLIP_BSDOS', 'BSD/OS SLIP', undefined, 15],
  [103, 'PPP_BSDOS', 'BSD/OS PPP', undefined, 16],
  [104, 'C_HDLC', 'Cisco HDLC'],
  [105, 'IEEE802_11', '802.11'],
  [106, 'ATM_CLIP', 'Linux Classical IP over ATM', undefined, 19],
  [107, 'FRELAY', 'Frame Relay'],
  [108, 'LOOP', 'OpenBSD loopback'],
  [109, 'ENC', 'OpenBSD encapsulated IP'],
  [112, 'HDLC', 'NetBSD HDLC framing'],
  [113, 'LINUX_SLL', 'Linux cooked v1'],
  [114, 'LTALK', 'Localtalk'],
  [115, 'ECONET', 'Acorn Econet'],
  [116, 'IPFILTER', 'OpenBSD ipfilter'],
  [117, 'PFLOG', 'OpenBSD pflog file'],
  [118, 'CISCO_IOS', 'Cisco-internal'],
  [119, 'PRISM_HEADER', '802.11 plus Prism header', 'IEEE802_11_PRISM'],
  [120, 'AIRONET_HEADER', '802.11 plus Aironet header', 'IEEE802_11_AIRONET'],
  [121, 'HHDLC', 'Siemens HiPath HDLC'],
  [122, 'IP_OVER_FC', 'RFC 2625 IP-over-Fibre Channel'],
  [123, 'SUNATM', 'Sun raw ATM'],
  [124, 'RIO', 'RapidIO'],
  [125, 'PCI_EXP', 'PCI Express'],
  [126, 'AURORA', 'Xilinx Aurora link layer'],
  [127, 'IEEE802_11_RADIO', '802.11 plus radiotap header', 'IEEE802_11_RADIOTAP'],
  [128, 'TZSP', 'Tazmen Sniffer Protocol'],
  [129, 'ARCNET_LINUX', 'Linux ARCNET'],
  [130, 'JUNIPER_MLPPP', 'Juniper Multi-Link PPP'],
  [131, 'JUNIPER_MLFR', 'Juniper Multi-Link Frame Relay'],
  [132, 'JUNIPER_ES', 'Juniper Encryption Services PIC'],
  [133, 'JUNIPER_GGSN', 'Juniper GGSN PIC'],
  [134, 'JUNIPER_MFR', 'Juniper FRF.16 Frame Relay'],
  [135, 'JUNIPER_ATM2', 'Juniper ATM2 PIC'],
  [136, 'JUNIPER_SERVICES', 'Juniper Advanced Services PIC'],
  [137, 'JUNIPER_ATM1', 'Juniper ATM1 PIC'],
  [138, 'APPLE_IP_OVER_IEEE1394', 'Apple IP-over-IEEE 1394'],
  [139, 'MTP2_WITH_PHDR', 'SS7 MTP2 with Pseudo-header'],
  [140, 'MTP2', 'SS7 MTP2'],
  [141, 'MTP3', 'SS7 MTP3'],
  [142, 'SCCP', 'SS7 SCCP'],
  [143, 'DOCSIS', 'DOCSIS'],
  [144, 'LINUX_IRDA', 'Linux IrDA'],
  [145, 'IBM_SP', 'IBM SP switch'],
  [146, 'IBM_SN', 'IBM Next Federation switch'],
  [147, 'USER0', 'User-defined 0'],
  [148, 'USER1', 'User-defined 1'],
  [149, 'USER2', 'User-defined 2'],
  [150, 'USER3', 'User-defined 3'],
  [151, 'USER4', 'User-defined 4'],
  [152, 'USER5', 'User-defined 5'],
  [153, 'USER6', 'User-defined 6'],
  [154, 'USER7', 'User-defined 7'],
  [155, 'USER8', 'User-defined 8'],
  [156, 'USER9', 'User-defined 9'],
  [157, 'USER10', 'User-defined 10'],
  [158, 'USER11', 'User-defined 11'],
  [159, 'USER12', 'User-defined 12'],
  [160, 'USER13', 'User-defined 13'],
  [161, 'USER14', 'User-defined 14'],
  [162, 'USER15', 'User-defined 15'],
  [163, 'IEEE802_11_RADIO_AVS', '802.11 plus AVS radio information header', 'IEEE802_11_AVS'],
  [164, 'JUNIPER_MONITOR', 'Juniper Passive Monitor PIC'],
  [165, 'BACNET_MS_TP', 'BACnet MS/TP'],
  [166, 'PPP_PPPD', 'PPP for pppd, with direction flag'],
  [167, 'JUNIPER_PPPOE', 'Juniper PPPoE'],
  [168, 'JUNIPER_PPPOE_ATM', 'Juniper PPPoE/ATM'],
  [169, 'GPRS_LLC', 'GPRS LLC'],
  [170, 'GPF_T', 'GPF-T'],
  [171, 'GPF_F', 'GPF-F'],
  [172, 'GCOM_T1E1', 'Gcom T1/E1 line monitoring'],
  [173, 'GCOM_SERIAL', 'Gcom serial line monitoring'],
  [174, 'JUNIPER_PIC_PEER', 'Juniper PIC Peer'],
  [175, 'ERF_ETH', 'Ethernet with Endace ERF header'],
  [176, 'ERF_POS', 'Packet-over-SONET with Endace ERF header'],
  [177, 'LINUX_LAPD', 'Linux vISDN LAPD'],
  [178, 'JUNIPER_ETHER', 'Juniper Ethernet'],
  [179, 'JUNIPER_PPP', 'Juniper PPP'],
  [180, 'JUNIPER_FRELAY', 'Juniper Frame Relay'],
  [181, 'JUNIPER_CHDLC', 'Juniper C-HDLC'],
  [182, 'MFR', 'FRF.16 Frame Relay'],
  [183, 'JUNIPER_VP', 'Juniper Voice PIC'],
  [184, 'A429', 'Arinc 429'],
  [185, 'A653_ICM', 'Arinc 653 Interpartition Communication'],
  [186, 'USB_FREEBSD', 'USB with FreeBSD header'],
  [187, 'BLUETOOTH_HCI_H4', 'Bluetooth HCI UART transport layer'],
  [188, 'IEEE802_16_MAC_CPS', 'IEEE 802.16 MAC Common Part Sublayer'],
  [189, 'USB_LINUX', 'USB with Linux header'],
  [190, 'CAN20B', 'Controller Area Network (CAN) v. 2.0B'],
  [191, 'IEEE802_15_4_LINUX', 'IEEE 802.15.4 with Linux padding'],
  [192, 'PPI', 'Per-Packet Information'],
  [193, 'IEEE802_16_MAC_CPS_RADIO', 'IEEE 802.16 MAC Common Part Sublayer plus radiotap header'],
  [194, 'JUNIPER_ISM', 'Juniper Integrated Service Module'],
  [195, 'IEEE802_15_4', 'IEEE 802.15.4 with FCS', 'IEEE802_15_4_WITHFCS'],
  [196, 'SITA', 'SITA pseudo-header'],
  [197, 'ERF', 'Endace ERF header'],
  [198, 'RAIF1', 'Ethernet with u10 Networks pseudo-header'],
  [199, 'IPMB_KONTRON', 'IPMB with Kontron pseudo-header'],
  [200, 'JUNIPER_ST', 'Juniper Secure Tunnel'],
  [201, 'BLUETOOTH_HCI_H4_WITH_PHDR', 'Bluetooth HCI UART transport layer plus pseudo-header'],
  [202, 'AX25_KISS', 'AX.25 with KISS header'],
  [203, 'LAPD', 'LAPD from an ISDN channel'],
  [204, 'PPP_WITH_DIR', 'PPP with direction pseudo-header'],
  [205, 'C_HDLC_WITH_DIR', 'Cisco HDLC with direction pseudo-header'],
  [206, 'FRELAY_WITH_DIR', 'Frame Relay with direction pseudo-header'],
  [207, 'LAPB_WITH_DIR', 'LAPB with direction pseudo-header'],
  [209, 'IPMB_LINUX', 'IPMB with Linux/Pigeon Point pseudo-header'],
  [210, 'FLEXRAY', 'FlexRay automotive bus'],
  [211, 'MOST', 'Media Oriented Systems Transport'],
  [212, 'LIN', 'Local Interconnect Network'],
  [213, 'X2E_SERIAL', 'X2E serial line capture'],
  [214, 'X2E_XORAYA', 'X2E Xoraya data logger'],
  [215, 'IEEE802_15_4_NONASK_PHY', 'IEEE 802.15.4 with non-ASK PHY data'],
  [216, 'LINUX_EVDEV', 'Linux evdev events'],
  [217, 'GSMTAP_UM', 'GSM Um with gsmtap header'],
  [218, 'GSMTAP_ABIS', 'GSM Abis with gsmtap header'],
  [219, 'MPLS', 'MPLS with label as link-layer header'],
  [220, 'USB_LINUX_MMAPPED', 'USB with padded Linux header'],
  [221, 'DECT', 'DECT'],
  [222, 'AOS', 'AOS Space Data Link protocol'],
  [223, 'WIHART', 'Wireless HART'],
  [224, 'FC_2', 'Fibre Channel FC-2'],
  [225, 'FC_2_WITH_FRAME_DELIMS', 'Fibre Channel FC-2 with frame delimiters'],
  [226, 'IPNET', 'Solaris ipnet'],
  [227, 'CAN_SOCKETCAN', 'CAN-bus with SocketCAN headers'],
  [228, 'IPV4', 'Raw IPv4'],
  [229, 'IPV6', 'Raw IPv6'],
  [230, 'IEEE802_15_4_NOFCS', 'IEEE 802.15.4 without FCS'],
  [231, 'DBUS', 'D-Bus'],
  [232, 'JUNIPER_VS', 'Juniper Virtual Server'],
  [233, 'JUNIPER_SRX_E2E', 'Juniper SRX E2E'],
  [234, 'JUNIPER_FIBRECHANNEL', 'Juniper Fibre Channel'],
  [235, 'DVB_CI', 'DVB-CI'],
  [236, 'MUX27010', 'MUX27010'],
  [237, 'STANAG_5066_D_PDU', 'STANAG 5066 D_PDUs'],
  [238, 'JUNIPER_ATM_CEMIC', 'Juniper ATM CEMIC'],
  [239, 'NFLOG', 'Linux netfilter log messages'],
  [240, 'NETANALYZER', 'Ethernet with Hilscher netANALYZER pseudo-header'],
  [241, 'NETANALYZER_TRANSPARENT', 'Ethernet with Hilscher netANALYZER pseudo-header and with preamble and SFD'],
  [242, 'IPOIB', 'RFC 4391 IP-over-Infiniband'],
  [243, 'MPEG_2_TS', 'MPEG-2 transport stream'],
  [244, 'NG40', 'ng40 protocol tester Iub/Iur'],
  [245, 'NFC_LLCP', 'NFC LLCP PDUs with pseudo-header'],
  [246, 'PFSYNC', 'Packet filter state syncing'],
  [247, 'INFINIBAND', 'InfiniBand'],
  [248, 'SCTP', 'SCTP'],
  [249, 'USBPCAP', 'USB with USBPcap header'],
  [250, 'RTAC_SERIAL', 'Schweitzer Engineering Laboratories RTAC packets'],
  [251, 'BLUETOOTH_LE_LL', 'Bluetooth Low Energy air interface'],
  [252, 'WIRESHARK_UPPER_PDU', 'Wireshark upper-protocol PDU'],
  [253, 'NETLINK', 'Linux netlink'],
  [254, 'BLUETOOTH_LINUX_MONITOR', 'Bluetooth Linux Monitor'],
  [255, 'BLUETOOTH_BREDR_BB', 'Bluetooth Basic Rate/Enhanced Data Rate baseband packets'],
  [256, 'BLUETOOTH_LE_LL_WITH_PHDR', 'Bluetooth Low Energy air interface with pseudo-header'],
  [257, 'PROFIBUS_DL', 'PROFIBUS data link layer'],
  [258, 'PKTAP', 'Apple DLT_PKTAP'],
  [259, 'EPON', 'Ethernet with 802.3 Clause 65 EPON preamble'],
  [260, 'IPMI_HPM_2', 'IPMI trace packets'],
  [261, 'ZWAVE_R1_R2', 'Z-Wave RF profile R1 and R2 packets'],
  [262, 'ZWAVE_R3', 'Z-Wave RF profile R3 packets'],
  [263, 'WATTSTOPPER_DLM', 'WattStopper Digital Lighting Management (DLM) and Legrand Nitoo Open protocol'],
  [264, 'ISO_14443', 'ISO 14443 messages'],
  [265, 'RDS', 'IEC 62106 Radio Data System groups'],
  [266, 'USB_DARWIN', 'USB with Darwin header'],
  [267, 'OPENFLOW', 'OpenBSD DLT_OPENFLOW'],
  [268, 'SDLC', 'IBM SDLC frames'],
  [269, 'TI_LLN_SNIFFER', 'TI LLN sniffer frames'],
  [270, 'LORATAP', 'LoRaTap'],
  [271, 'VSOCK', 'Linux vsock'],
  [272, 'NORDIC_BLE', 'Nordic Semiconductor Bluetooth LE sniffer frames'],
  [273, 'DOCSIS31_XRA31', 'Excentis XRA-31 DOCSIS 3.1 RF sniffer frames'],
  [274, 'ETHERNET_MPACKET', '802.3br mPackets'],
  [275, 'DISPLAYPORT_AUX', 'DisplayPort AUX channel monitoring data'],
  [276, 'LINUX_SLL2', 'Linux cooked v2'],
  [277, 'SERCOS_MONITOR', 'Sercos Monitor'],
  [278, 'OPENVIZSLA', 'OpenVizsla USB'],
  [279, 'EBHSCR', 'Elektrobit High Speed Capture and Replay (EBHSCR)'],
  [280, 'VPP_DISPATCH', 'VPP graph dispatch tracer'],
  [281, 'DSA_TAG_BRCM', 'Broadcom tag'],
  [282, 'DSA_TAG_BRCM_PREPEND', 'Broadcom tag (prepended)'],
  [283, 'IEEE802_15_4_TAP', 'IEEE 802.15.4 with pseudo-header'],
  [284, 'DSA_TAG_DSA', 'Marvell DSA'],
  [285, 'DSA_TAG_EDSA', 'Marvell EDSA'],
  [286, 'ELEE', 'ELEE lawful intercept packets'],
  [287, 'Z_WAVE_SERIAL', 'Z-Wave serial frames between host and chip'],
  [288, 'USB_2_0', 'USB 2.0/1.1/1.0 as transmitted over the cable'],
  [289, 'ATSC_ALP', 'ATSC Link-Layer Protocol packets'],
  [290, 'ETW', 'Event Tracing for Windows messages'],
  [291, 'NETANALYZER_NG', 'Hilscher netANALYZER NG'],
  [292, 'ZBOSS_NCP', 'ZBOSS NCP serial protocol'],
  [293, 'USB_2_0_LOW_SPEED', 'Low-speed USB 2.0/1.1/1.0 as transmitted over the cable'],
  [294, 'USB_2_0_FULL_SPEED', 'Full-speed USB 2.0/1.1/1.0 as transmitted over the cable'],
  [295, 'USB_2_0_HIGH_SPEED', 'High-speed USB 2.0 as transmitted over the cable'],
  [296, 'AUERSWALD_LOG', 'Auerswald logger protocol'],
  [297, 'ZWAVE_TAP', 'Z-Wave with TAP header'],
  [298, 'SILABS_DEBUG_CHANNEL', 'Silicon Labs debug channel'],
  [299, 'FIRA_UCI', 'FiRa UWB Command Interface'],
  [300, 'MDB', 'Multi-Drop Bus'],
  [301, 'DECT_NR', 'DECT NR+'],
];

/** Other spellings libpcap accepts for some types. */
const ALIASES: Readonly<Record<string, number>> = {
  CHDLC: 104,
  USB: 186,
  IEEE802_15_4_WITHFCS: 195,
  PPP_WITH_DIRECTION: 166,
  LINUX_PPP_WITHDIRECTION: 166,
  I2C_LINUX: 209,
};

const byLinkType = new Map<number, LinkTypeInfo>();
const byName = new Map<string, LinkTypeInfo>();
const byDlt = new Map<number, LinkTypeInfo>();

for (const [linkType, name, description, linkTypeName, dlt] of ROWS) {
  const info: LinkTypeInfo = Object.freeze({
    linkType,
    name,
    description,
    linkTypeName: linkTypeName ?? name,
    dlt: dlt ?? linkType,
  });
  byLinkType.set(linkType, info);
  byDlt.set(info.dlt, info);
  byName.set(name, info);
  byName.set(info.linkTypeName, info);
}
for (const [alias, linkType] of Object.entries(ALIASES)) byName.set(alias, byLinkType.get(linkType)!);

/** Every known link type, in LINKTYPE_ order. */
export const LINK_TYPES: readonly LinkTypeInfo[] = [...byLinkType.values()];

/** The entry for a LINKTYPE_ value (the number in a capture file), or undefined. */
export function linkTypeInfo(linkType: number): LinkTypeInfo | undefined {
  return byLinkType.get(linkType);
}

/** The entry for a Linux DLT_ value (the number libpcap's API uses), or undefined. */
export function linkTypeInfoByDlt(dlt: number): LinkTypeInfo | undefined {
  return byDlt.get(dlt);
}

/** LINKTYPE_ value → DLT_ value, as libpcap maps it when reading a file (unknown values map to themselves). */
export function linkTypeToDlt(linkType: number): number {
  return byLinkType.get(linkType)?.dlt ?? linkType;
}

/** DLT_ value → LINKTYPE_ value, as libpcap maps it when writing a file (unknown values map to themselves). */
export function dltToLinkType(dlt: number): number {
  return byDlt.get(dlt)?.linkType ?? dlt;
}

/**
 * A name (EN10MB, DLT_EN10MB, LINKTYPE_ETHERNET, linux_sll, ...) or a decimal
 * LINKTYPE_ number → its entry. A number without an entry gives a bare entry
 * named by its value; an unknown name gives undefined.
 */
export function lookupLinkType(nameOrNumber: string | number): LinkTypeInfo | undefined {
  if (typeof nameOrNumber === 'number' || /^\d+$/.test(nameOrNumber)) {
    const value = typeof nameOrNumber === 'number' ? nameOrNumber : Number(nameOrNumber);
    if (!Number.isInteger(value) || value < 0 || value > 0xffff) return undefined;
    return byLinkType.get(value) ?? { linkType: value, name: String(value), description: `link type ${value}`, linkTypeName: String(value), dlt: value };
  }
  const key = nameOrNumber.toUpperCase().replace(/^(DLT_|LINKTYPE_)/, '');
  return byName.get(key);
}

/** The name tcpdump prints for a LINKTYPE_ value: `EN10MB`, or the number for a type without a name. */
export function linkTypeName(linkType: number): string {
  return byLinkType.get(linkType)?.name ?? String(linkType);
}

/**
 * The largest captured length libpcap accepts for a link type (max_snaplen_for_dlt):
 * 262144, except D-Bus (128 MiB), EBHSCR (8 MiB) and USBPcap (1 MiB).
 */
export function maxSnaplenForLinkType(linkType: number): number {
  switch (linkType) {
    case 231:
      return 128 * 1024 * 1024;
    case 279:
      return 8 * 1024 * 1024;
    case 249:
      return 1024 * 1024;
    default:
      return MAXIMUM_SNAPLEN;
  }
}

/** libpcap's MAXIMUM_SNAPLEN, also tcpdump's default snapshot length. */
export const MAXIMUM_SNAPLEN = 262144;

/**
 * The snapshot length libpcap uses for a file whose header says `snaplen`
 * (pcap_adjust_snapshot): 0 or anything above the type's maximum becomes the maximum.
 */
export function adjustSnaplen(linkType: number, snaplen: number): number {
  const max = maxSnaplenForLinkType(linkType);
  return snaplen === 0 || snaplen > max ? max : snaplen;
}

/** Frequently used LINKTYPE_ values. */
export const LINKTYPE = {
  NULL: 0,
  ETHERNET: 1,
  PPP: 9,
  RAW: 101,
  C_HDLC: 104,
  IEEE802_11: 105,
  LOOP: 108,
  LINUX_SLL: 113,
  IEEE802_11_RADIOTAP: 127,
  IPV4: 228,
  IPV6: 229,
  LINUX_SLL2: 276,
} as const;
