"""The benchmark's input generator: deterministic, valid frames, the promised mix."""

from __future__ import annotations

import collections

import dpkt

from bench import gen


def _read(path):
    with open(path, "rb") as f:
        return list(dpkt.pcap.Reader(f))


def test_writes_count_deterministically_and_as_prefix(tmp_path):
    a, b, c = tmp_path / "a.pcap", tmp_path / "b.pcap", tmp_path / "c.pcap"
    gen.write(a, 3000)
    gen.write(b, 3000)
    gen.write(c, 1000)
    assert a.read_bytes() == b.read_bytes()
    assert a.read_bytes().startswith(c.read_bytes())
    assert gen.count(a) == 3000 == len(_read(a))


def test_mix_has_every_protocol_and_size_with_valid_checksums(tmp_path):
    path = tmp_path / "mix.pcap"
    gen.write(path, 20000)
    kinds = collections.Counter()
    sizes = []
    for _ts, buf in _read(path):
        sizes.append(len(buf))
        eth = dpkt.ethernet.Ethernet(buf)
        ip = eth.data
        if isinstance(ip, dpkt.ip.IP):
            hdr = buf[14:14 + ip.hl * 4]
            assert dpkt.dpkt.in_cksum(hdr) == 0  # a valid header sums to 0xffff
            seg = buf[14 + len(hdr):14 + ip.len]
            if ip.p in (6, 17):
                pseudo = ip.src + ip.dst + bytes([0, ip.p]) + len(seg).to_bytes(2, "big")
                assert dpkt.dpkt.in_cksum(pseudo + seg) == 0
            kinds[type(ip.data).__name__ + "4"] += 1
        elif isinstance(ip, dpkt.ip6.IP6):
            kinds[type(ip.data).__name__ + "6"] += 1
        else:
            kinds[type(ip).__name__] += 1
    assert {"TCP4", "UDP4", "ICMP4", "TCP6", "UDP6", "ICMP66", "ARP"} <= set(kinds), kinds
    assert min(sizes) == 60 and max(sizes) == 1514


def test_small_frames_stay_on_the_fake_lan(tmp_path):
    path = tmp_path / "s.pcap"
    gen.write(path, 500, small=True)
    for _ts, buf in _read(path):
        eth = dpkt.ethernet.Ethernet(buf)
        assert len(buf) == 60
        assert eth.dst == gen.LIVE_DST_MAC and eth.src == gen.LIVE_SRC_MAC
        assert eth.data.data.dport == gen.LIVE_DPORT
