"""The numbers of the protocols pcap4py names: link types, ethertypes, IP protocols, TCP flags.

Each is defined here once; the Java helper has its own copy of the few it decodes
(``Summary.java``, ``Fields.java``), and the formats tests check that both name them alike.
"""

from __future__ import annotations

# link types (tcpdump.org's DLT_ values, as handles report them)
DLT_NULL = 0
DLT_EN10MB = 1
DLT_RAW = 101
DLT_LINUX_SLL = 113
DLT_LINUX_SLL2 = 276
LINKTYPE_NAMES = {DLT_NULL: "NULL (BSD loopback)", DLT_EN10MB: "EN10MB (Ethernet)", DLT_RAW: "RAW (Raw IP)",
                  DLT_LINUX_SLL: "LINUX_SLL (Linux cooked v1)", DLT_LINUX_SLL2: "LINUX_SLL2 (Linux cooked v2)"}

# Files carry LINKTYPE_ values, handles and sources DLT_ values; they differ only here (libpcap's
# linktype_to_dlt, Linux): LINKTYPE_RAW 101 is DLT_RAW 12, and so on (Java: LinkTypes.java).
LINKTYPE_TO_DLT = {100: 11, 101: 12, 102: 15, 103: 16, 106: 19}

ETHERTYPE_IPV4 = 0x0800
ETHERTYPE_IPV6 = 0x86DD
ETHERTYPE_ARP = 0x0806
ETHERTYPES = {ETHERTYPE_IPV4: "IPv4", ETHERTYPE_IPV6: "IPv6", ETHERTYPE_ARP: "ARP", 0x88CC: "LLDP",
              0x8035: "RARP", 0x8847: "MPLS"}

IPPROTO_ICMP = 1
IPPROTO_TCP = 6
IPPROTO_UDP = 17
IPPROTO_ICMPV6 = 58
IPPROTO_UDPLITE = 136
NO_PROTO = 255  # the record's ip_proto when the frame carries no IP (0 is IPv6 hop-by-hop)
IP_PROTOCOLS = {IPPROTO_ICMP: "ICMP", 2: "IGMP", IPPROTO_TCP: "TCP", IPPROTO_UDP: "UDP", 47: "GRE", 50: "ESP",
                IPPROTO_ICMPV6: "ICMPv6", 132: "SCTP", IPPROTO_UDPLITE: "UDPLite"}
PORT_PROTOCOLS = frozenset({IPPROTO_TCP, IPPROTO_UDP, IPPROTO_UDPLITE})
ICMP_PROTOCOLS = frozenset({IPPROTO_ICMP, IPPROTO_ICMPV6})
# (protocol, ICMP type) of echo requests and replies
ECHO_TYPES = frozenset({(IPPROTO_ICMP, 8), (IPPROTO_ICMP, 0), (IPPROTO_ICMPV6, 128), (IPPROTO_ICMPV6, 129)})

TCP_FLAG_LETTERS = ((0x01, "F"), (0x02, "S"), (0x04, "R"), (0x08, "P"), (0x10, "."), (0x20, "U"),
                    (0x40, "E"), (0x80, "W"))
