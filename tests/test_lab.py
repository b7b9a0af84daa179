"""The test fixtures' own promises: every address they assign is numbered from 198.18.0.0/15.

A test sends traffic only to addresses it created; these check that the labs
(netlab's namespaces, the test dockerd's containers and networks) never hand out
10/8, 172.16/12 or 192.168/16, and that the Docker gateway the tests use is the
real address of docker0 (found without ``IPAM.Config``, which Docker 20.10 leaves
out on a new machine).
"""

from __future__ import annotations

import ipaddress
import json
import re
from pathlib import Path

import pytest

from tests.fixtures import dockerlab as dockerlab_mod
from tests.fixtures.netlab import FIXED_OCTETS, SECOND_LAN_COUNT, lan_ip, next_subnet, sh

TEST_RANGE = ipaddress.ip_network("198.18.0.0/15")
NAMESPACE_LANS = (ipaddress.ip_network("198.18.0.0/16"), ipaddress.ip_network("198.19.0.0/17"))
DOCKER_LANS = ipaddress.ip_network("198.19.128.0/17")
REPO = Path(__file__).resolve().parent.parent


def _in(address: str, network: ipaddress.IPv4Network) -> bool:
    return ipaddress.ip_address(address) in network


def test_namespace_lans_stay_in_their_half_of_the_test_range():
    assert all(net.subnet_of(TEST_RANGE) for net in (*NAMESPACE_LANS, DOCKER_LANS))
    for n in (1, 127, 128, 250, next_subnet()):
        first, second = lan_ip(n, 1), lan_ip(n, 254, second=True)
        assert _in(first, NAMESPACE_LANS[0]) and _in(second, NAMESPACE_LANS[1]), (n, first, second)
    assert lan_ip(SECOND_LAN_COUNT + 1, 1, second=True) == lan_ip(1, 1, second=True) == "198.19.1.1"
    with pytest.raises(ValueError):
        lan_ip(3, 255)


def _fixed_lab_octets() -> dict[str, int]:
    """The third octet of 198.18 each lab with fixed numbers uses, read from the lab itself."""
    from bench import gen, remote
    from tests.fixtures import containerdlab, nerdctllab, podmanlab, remotelab

    octet = lambda text: int(re.search(r"198\.18\.(\d+)\.", text).group(1))  # noqa: E731
    k8s = (REPO / "tests" / "k8s" / "env.sh").read_text()
    return {"remote (tests)": remotelab.TEST_OCTET, "remote (bench)": remote.OCTET,
            "bench LAN": octet(gen.LIVE_NET + "."), "containerd": octet(containerdlab.SUBNET),
            "nerdctl": octet(nerdctllab.SUBNET), "podman": octet(podmanlab.SUBNET),
            **{name: octet(re.search(rf"{name}=(\S+)", k8s).group(1))
               for name in ("NODE_IP", "SVC_CIDR", "POD_CIDR")}}


def test_veth_labs_never_take_a_fixed_labs_numbers():
    """A veth lab on the remote engine's 198.18.120 had its pings routed to that engine (a CI run)."""
    fixed = _fixed_lab_octets()
    assert set(fixed.values()) <= set(FIXED_OCTETS), fixed
    drawn = {next_subnet() for _ in range(600)}
    assert drawn and not drawn & set(FIXED_OCTETS)
    assert len(drawn) == 250 - sum(1 for o in FIXED_OCTETS if o <= 250)  # the others all come round
    second = {int(lan_ip(n, 1, second=True).split(".")[2]) for n in drawn}
    assert max(second) < 120  # the second engines' bridges stay theirs


def test_veth_lab_addresses(veth):
    addrs = json.loads(sh("ip", "-j", "-4", "addr", "show", "dev", veth.host_if).stdout)[0]["addr_info"]
    assert [a["local"] for a in addrs] == [veth.host_ip] == [veth.ip(1)]
    assert veth.peer_ip == veth.ip(2) and _in(veth.peer_ip, NAMESPACE_LANS[0])
    assert _in(veth.second_ip(2), NAMESPACE_LANS[1])


def _ipv4_of(ifname: str) -> list[str]:
    out = json.loads(sh("ip", "-j", "-4", "addr", "show", "dev", ifname).stdout or "[]")
    return [a["local"] for link in out for a in link["addr_info"]]


@pytest.mark.docker
def test_test_dockerd_numbers_containers_and_networks_from_198_19_128_0_17(dockerlab, docker_engine):
    if docker_engine.host != f"unix://{dockerlab_mod.LAB_DIR / 'docker.sock'}":
        pytest.skip(f"a daemon of the machine's own answers ({docker_engine.host}): its addresses are its own")
    box = dockerlab.run("addr")
    assert _in(box.ip("bridge"), DOCKER_LANS), box.networks()
    # the gateway comes from the container's endpoint, and it is docker0's address
    assert box.gateway("bridge") in _ipv4_of("docker0")
    assert _in(box.gateway("bridge"), DOCKER_LANS)

    net = dockerlab.network("addr")
    other = dockerlab.run("addr2", network=net.name)
    assert _in(other.ip(net.name), DOCKER_LANS), other.networks()
    assert other.gateway(net.name) in _ipv4_of(f"br-{net.id[:12]}")
