"""Input generator: classic pcap files (microsecond, Ethernet) of N frames, fast and seeded.

A few dozen template frames (TCP handshake/data/FIN, DNS-ish UDP, ICMP echo, IPv6 TCP/UDP/ICMPv6,
ARP; 60..1514 bytes) are built once with dpkt, each in a pool of variants with their own ports and
addresses and valid checksums. Writing is then only picking a variant per record and packing a
16-byte record header, in big chunks: a million frames take a couple of seconds.

    python -m bench.gen out.pcap 1000000           # the offline mix
    python -m bench.gen --small out.pcap 100000    # the live replay file (60-byte UDP)
"""

from __future__ import annotations

import argparse
import hashlib
import ipaddress
import random
import socket
import struct
import time
from pathlib import Path

import dpkt

SEED = 6  # issue #6
LINKTYPE_ETHERNET = 1
SNAPLEN = 65535
CHUNK = 65536  # records per write
VARIANTS = 48  # variants per template: enough flows to look like traffic, cheap to build

# the fake LAN of the live section: the namespace end sends to a MAC and IP that no one owns,
# so the host end's kernel drops the frames after the capture taps have seen them
LIVE_SRC_MAC = bytes.fromhex("02e800000002")
LIVE_DST_MAC = bytes.fromhex("02e800000099")
LIVE_NET = "198.18.251"  # its /24, inside 198.18.0.0/15 and apart from the tests' LANs (tests/fixtures/netlab.py)
LIVE_SRC_IP = f"{LIVE_NET}.2"
LIVE_DST_IP = f"{LIVE_NET}.99"
# the offline mix's (never sent) addresses: consecutive ones from the start of 198.18.0.0/15
OFFLINE_IP4_BASE = int(ipaddress.IPv4Address("198.18.0.0"))
LIVE_DPORT = 7777  # the live capturers' filter: "udp dst port 7777"


def _mac(i: int) -> bytes:
    return bytes([0x02, 0x42, 0xAC, 0x11, (i >> 8) & 0xFF, i & 0xFF])


def _ip4(i: int, host: int) -> bytes:
    """Address ``host`` (0..3) of variant ``i``: four per variant, so ~1,500 variants stay inside 198.18.0.0/15."""
    return (OFFLINE_IP4_BASE + 4 * i + host).to_bytes(4, "big")


def _ip6(i: int, host: int) -> bytes:
    return socket.inet_pton(socket.AF_INET6, f"fd00:{i:x}::{host:x}")


def _pad(frame: bytes) -> bytes:
    """Ethernet minimum: 60 bytes on the wire (without FCS)."""
    return frame if len(frame) >= 60 else frame + b"\0" * (60 - len(frame))


def _eth(i: int, ethtype: int, payload: object, swap: bool = False) -> bytes:
    a, b = _mac(2 * i), _mac(2 * i + 1)
    src, dst = (b, a) if swap else (a, b)
    return _pad(bytes(dpkt.ethernet.Ethernet(src=src, dst=dst, type=ethtype, data=payload)))


def _ip(i: int, proto: int, l4: object, swap: bool = False) -> dpkt.ip.IP:
    a, b = _ip4(i, 1), _ip4(i, 2)
    src, dst = (b, a) if swap else (a, b)
    ip = dpkt.ip.IP(src=src, dst=dst, p=proto, ttl=64, id=i & 0xFFFF, data=l4)
    ip.len = len(ip)  # dpkt fills checksums (IP and L4) when serialising
    return ip


def _ip6pkt(i: int, nxt: int, l4: object, swap: bool = False) -> dpkt.ip6.IP6:
    a, b = _ip6(i, 1), _ip6(i, 2)
    src, dst = (b, a) if swap else (a, b)
    ip6 = dpkt.ip6.IP6(src=src, dst=dst, nxt=nxt, hlim=64, data=l4)
    ip6.plen = len(bytes(l4))
    return ip6


def _tcp(sport: int, dport: int, flags: int, payload: bytes = b"", seq: int = 1000) -> dpkt.tcp.TCP:
    return dpkt.tcp.TCP(sport=sport, dport=dport, flags=flags, seq=seq, ack=seq + 1 if flags & dpkt.tcp.TH_ACK else 0,
                        win=65535, data=payload)


def _udp(sport: int, dport: int, payload: bytes) -> dpkt.udp.UDP:
    return dpkt.udp.UDP(sport=sport, dport=dport, ulen=8 + len(payload), data=payload)


def _dns_query(name: str, qid: int) -> bytes:
    q = dpkt.dns.DNS(id=qid, qd=[dpkt.dns.DNS.Q(name=name, type=dpkt.dns.DNS_A)])
    return bytes(q)


def _dns_answer(name: str, qid: int, n: int) -> bytes:
    d = dpkt.dns.DNS(id=qid, op=dpkt.dns.DNS_RA, qd=[dpkt.dns.DNS.Q(name=name, type=dpkt.dns.DNS_A)])
    d.qr = dpkt.dns.DNS_R
    d.an = [dpkt.dns.DNS.RR(name=name, type=dpkt.dns.DNS_A, ttl=300, rdata=_ip4(k, 3)) for k in range(n)]
    return bytes(d)


def _payload(n: int, salt: int) -> bytes:
    return bytes((salt + k) & 0xFF for k in range(n))


# (name, weight, builder(i) -> frame); weights give a bimodal, mostly-small mix (~300 bytes mean)
def _templates() -> list[tuple[str, int, object]]:
    A = dpkt.tcp.TH_ACK
    S, F, P = dpkt.tcp.TH_SYN, dpkt.tcp.TH_FIN, dpkt.tcp.TH_PUSH
    T, U = dpkt.ip.IP_PROTO_TCP, dpkt.ip.IP_PROTO_UDP
    E4, E6 = dpkt.ethernet.ETH_TYPE_IP, dpkt.ethernet.ETH_TYPE_IP6
    sp = lambda i: 32768 + (i * 7919) % 28000  # noqa: E731  an ephemeral port per variant

    def tcp4(flags: int, dport: int, size: int, swap: bool = False):
        def build(i: int) -> bytes:
            a, b = (dport, sp(i)) if swap else (sp(i), dport)
            return _eth(i, E4, _ip(i, T, _tcp(a, b, flags, _payload(size, i)), swap), swap)
        return build

    def udp4(dport: int, data, swap: bool = False):
        def build(i: int) -> bytes:
            a, b = (dport, sp(i)) if swap else (sp(i), dport)
            return _eth(i, E4, _ip(i, U, _udp(a, b, data(i)), swap), swap)
        return build

    def icmp4(typ: int, size: int):
        def build(i: int) -> bytes:
            echo = dpkt.icmp.ICMP.Echo(id=i & 0xFFFF, seq=i & 0xFF, data=_payload(size, i))
            return _eth(i, E4, _ip(i, dpkt.ip.IP_PROTO_ICMP, dpkt.icmp.ICMP(type=typ, data=echo), typ == 0), typ == 0)
        return build

    def tcp6(flags: int, dport: int, size: int):
        def build(i: int) -> bytes:
            tcp = _tcp(sp(i), dport, flags, _payload(size, i))
            return _eth(i, E6, _ip6pkt(i, T, tcp))
        return build

    def udp6(dport: int, data):
        def build(i: int) -> bytes:
            return _eth(i, E6, _ip6pkt(i, U, _udp(sp(i), dport, data(i))))
        return build

    def icmp6(typ: int, size: int):
        def build(i: int) -> bytes:
            echo = dpkt.icmp6.ICMP6.Echo(id=i & 0xFFFF, seq=i & 0xFF, data=_payload(size, i))
            return _eth(i, E6, _ip6pkt(i, dpkt.ip.IP_PROTO_ICMP6, dpkt.icmp6.ICMP6(type=typ, data=echo), typ == 129))
        return build

    def arp(op: int):
        def build(i: int) -> bytes:
            a = dpkt.arp.ARP(op=op, sha=_mac(2 * i), spa=_ip4(i, 1), tha=b"\0" * 6 if op == 1 else _mac(2 * i + 1),
                             tpa=_ip4(i, 2))
            return _pad(bytes(dpkt.ethernet.Ethernet(src=_mac(2 * i), dst=b"\xff" * 6 if op == 1 else _mac(2 * i + 1),
                                                     type=dpkt.ethernet.ETH_TYPE_ARP, data=a)))
        return build

    dns_q = lambda i: _dns_query(f"host{i % 97}.example.test", i & 0xFFFF)  # noqa: E731
    dns_a = lambda i: _dns_answer(f"host{i % 97}.example.test", i & 0xFFFF, 1 + i % 4)  # noqa: E731
    return [
        ("tcp4-syn", 40, tcp4(S, 443, 0)),
        ("tcp4-synack", 40, tcp4(S | A, 443, 0, swap=True)),
        ("tcp4-ack", 120, tcp4(A, 443, 0)),
        ("tcp4-ack-http", 40, tcp4(A, 80, 0, swap=True)),
        ("tcp4-req-small", 40, tcp4(P | A, 80, 180)),
        ("tcp4-data-512", 30, tcp4(P | A, 443, 512, swap=True)),
        ("tcp4-data-1024", 20, tcp4(A, 443, 1024, swap=True)),
        ("tcp4-data-1460", 60, tcp4(A, 443, 1460, swap=True)),
        ("tcp4-data-1460-80", 20, tcp4(P | A, 80, 1460, swap=True)),
        ("tcp4-fin", 20, tcp4(F | A, 443, 0)),
        ("tcp4-ssh", 20, tcp4(P | A, 22, 36)),
        ("udp4-dns-q", 40, udp4(53, dns_q)),
        ("udp4-dns-a", 40, udp4(53, dns_a, swap=True)),
        ("udp4-ntp", 10, udp4(123, lambda i: b"\x23" + bytes(47))),
        ("udp4-syslog", 10, udp4(514, lambda i: b"<14>bench: " + b"x" * (100 + i % 20))),
        ("udp4-quic-1200", 20, udp4(443, lambda i: _payload(1200, i), swap=True)),
        ("udp4-rtp-172", 20, udp4(5004, lambda i: _payload(172, i))),
        ("udp4-big-1472", 10, udp4(9999, lambda i: _payload(1472, i))),
        ("icmp4-echo", 15, icmp4(8, 56)),
        ("icmp4-reply", 15, icmp4(0, 56)),
        ("icmp4-echo-1400", 5, icmp4(8, 1400)),
        ("tcp6-syn", 15, tcp6(S, 443, 0)),
        ("tcp6-ack", 30, tcp6(A, 443, 0)),
        ("tcp6-data-1440", 20, tcp6(A, 443, 1440)),
        ("tcp6-data-300", 10, tcp6(P | A, 8080, 300)),
        ("udp6-dns", 15, udp6(53, dns_q)),
        ("udp6-1232", 5, udp6(443, lambda i: _payload(1232, i))),
        ("icmp6-echo", 8, icmp6(128, 56)),
        ("icmp6-reply", 8, icmp6(129, 56)),
        ("arp-req", 8, arp(1)),
        ("arp-reply", 4, arp(2)),
    ]


def _small_template(i: int) -> bytes:
    """A 60-byte UDP frame on the live section's fake LAN (variant i varies the source port)."""
    udp = _udp(20000 + i, LIVE_DPORT, _payload(18, i))
    ip = dpkt.ip.IP(src=socket.inet_aton(LIVE_SRC_IP), dst=socket.inet_aton(LIVE_DST_IP), p=dpkt.ip.IP_PROTO_UDP,
                    ttl=64, id=i, data=udp)
    ip.len = len(ip)
    frame = bytes(dpkt.ethernet.Ethernet(src=LIVE_SRC_MAC, dst=LIVE_DST_MAC, type=dpkt.ethernet.ETH_TYPE_IP, data=ip))
    assert len(frame) == 60, len(frame)
    return frame


def pool(small: bool = False) -> tuple[list[bytes], list[int], list[str]]:
    """(frames, weights, names): every variant of every template, built once."""
    if small:
        frames = [_small_template(i) for i in range(VARIANTS)]
        return frames, [1] * len(frames), ["udp4-60"] * len(frames)
    frames, weights, names = [], [], []
    for t, (name, weight, build) in enumerate(_templates()):
        for v in range(VARIANTS):
            frames.append(build(t * VARIANTS + v + 1))  # type: ignore[operator]
            weights.append(weight)
            names.append(name)
    return frames, weights, names


def write(path: str | Path, count: int, *, small: bool = False, seed: int = SEED, start: float = 1.7e9) -> dict:
    """Writes `count` frames to `path`; returns a description (frames, bytes, mean size, seconds).

    Deterministic: the same (count, small, seed) gives the same file, and a shorter file is a
    prefix of a longer one.
    """
    t0 = time.perf_counter()
    frames, weights, names = pool(small)
    rng = random.Random(seed)
    # pre-packed (caplen, len) halves of the record header, one per variant
    lens = [struct.pack("<II", len(f), len(f)) for f in frames]
    idx_all = range(len(frames))
    pack_ts = struct.Struct("<II").pack
    sec, usec = int(start), 0
    total_bytes = 0
    path.parent.mkdir(parents=True, exist_ok=True)  # a section run alone: no other made bench/out
    with open(path, "wb", buffering=0) as out:
        out.write(struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, SNAPLEN, LINKTYPE_ETHERNET))
        done = 0
        while done < count:
            n = min(CHUNK, count - done)
            picks = rng.choices(idx_all, weights, k=n)
            parts = []
            append = parts.append
            for k in picks:
                usec += 7  # ~140 kpps of simulated time; a plain increment keeps it cheap
                if usec >= 1_000_000:
                    sec += 1
                    usec -= 1_000_000
                append(pack_ts(sec, usec))
                append(lens[k])
                append(frames[k])
            blob = b"".join(parts)
            out.write(blob)
            total_bytes += len(blob)
            done += n
    seconds = time.perf_counter() - t0
    return {
        "path": str(path),
        "frames": count,
        "bytes": total_bytes + 24,
        "mean_frame": round((total_bytes - 16 * count) / max(count, 1), 1),
        "templates": len(set(names)),
        "seconds": round(seconds, 2),
    }


def count(path: str | Path) -> int:
    """Records in a classic pcap file, or packet blocks in a pcapng file (walks the headers only)."""
    n = 0
    with open(path, "rb") as f:
        head = f.read(24)
        if head[:4] == b"\x0a\x0d\x0d\x0a":
            return _count_pcapng(f)
        if len(head) < 24:
            return 0
        endian = "<" if head[:4] in (b"\xd4\xc3\xb2\xa1", b"\x4d\x3c\xb2\xa1") else ">"
        rec = struct.Struct(endian + "IIII")
        while True:
            hdr = f.read(16)
            if len(hdr) < 16:
                return n
            f.seek(rec.unpack(hdr)[2], 1)
            n += 1


def _count_pcapng(f) -> int:
    """Enhanced and simple packet blocks of a little-endian pcapng file (as pcap4py writes it)."""
    n = 0
    f.seek(0)
    while True:
        hdr = f.read(8)
        if len(hdr) < 8:
            return n
        kind, length = struct.unpack("<II", hdr)
        if length < 12:
            return n
        n += kind in (3, 6)
        f.seek(length - 8, 1)


def _digest(frames: list[bytes]) -> str:
    h = hashlib.sha256()
    for frame in frames:
        h.update(len(frame).to_bytes(4, "big") + frame)
    return h.hexdigest()[:16]


def ensure(path: str | Path, count: int, *, small: bool = False) -> dict:
    """Writes the file unless an identical one (by a sidecar stamp) is already there.

    The stamp holds a digest of the frames themselves, so a file an older
    generator left in bench/out is written again rather than reused.
    """
    path = Path(path)
    stamp = path.with_suffix(path.suffix + ".stamp")
    key = f"{count} {small} {SEED} {_digest(pool(small)[0])}"
    if path.exists() and stamp.exists() and stamp.read_text() == key:
        return {"path": str(path), "frames": count, "bytes": path.stat().st_size, "cached": True}
    info = write(path, count, small=small)
    stamp.write_text(key)
    return info


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("path", type=Path)
    ap.add_argument("count", type=int)
    ap.add_argument("--small", action="store_true", help="60-byte UDP frames for the live replay")
    args = ap.parse_args()
    print(write(args.path, args.count, small=args.small))


if __name__ == "__main__":
    main()
