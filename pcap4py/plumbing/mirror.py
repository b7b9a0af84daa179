"""Mirror an interface's traffic, both directions, into a bridge with tc (a port mirror, as tc-mirror does).

:func:`mirror_build` makes (if missing) a bridge with MAC learning off
(``ageing_time 0``), so it floods every frame to every port, and copies every
frame that SRC receives or sends into it with a u32 match-all filter and a
``mirred egress mirror`` action.  With ``network`` it also has a network laid
on that bridge by a container engine (``networks``, e.g.
:class:`pcap4py.container.docker.DockerBridgeNetworks`, an internal Docker
network): containers connected to it see the mirrored traffic on their ``eth``
without any privilege, several at once.  This module knows no container
engine: it calls ``networks.ensure(name, bridge)`` and ``networks.remove(name, id)``.

Build and teardown each run as one
:class:`~pcap4py.plumbing.transaction.Transaction`: a failure, SIGINT or
SIGTERM during build undoes everything build did; teardown, interrupted,
finishes first.

Differences from tc-mirror (the classic recipe: an ``ingress`` qdisc and a
``prio`` root qdisc on SRC, each with a u32 match-all filter whose action is
``mirred egress mirror dev BRIDGE``), on purpose:

* Hooks: tc-mirror uses an ``ingress`` qdisc plus a ``prio`` root qdisc.  pcap4py
  uses one ``clsact`` qdisc, whose ingress and egress hooks take the two filters:
  it leaves SRC's root qdisc (``mq`` on a multi-queue NIC, or whatever the admin
  configured) alone, and it works on kernels built without ``sch_prio`` (this
  project's CI kernel has no ``prio`` qdisc).  The filters are what tc-mirror
  adds: ``protocol all u32 match u8 0 0 action mirred egress mirror dev BRIDGE``.
* Idempotent: a second build finds its filters (u32 + mirred to BRIDGE on each
  hook) and adds nothing.
* Exact teardown: build records what it created in a state file,
  ``/run/pcap4py/mirror/SRC@BRIDGE.json`` (``$PCAP4PY_RUN_DIR`` overrides
  ``/run/pcap4py``; /run is emptied at boot, like the tc rules themselves).
  Teardown removes the mirror filters, and the clsact qdisc, network,
  bridge, promiscuous mode and link state only when build created or changed
  them.  Without a state file it removes only the mirror filters.
* Each filter gets its own preference, unused on both hooks: u32 filters of
  one qdisc share their hash tables, and two u32 filters at the same
  preference on ingress and egress would show up in each other's dumps.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Optional, Protocol

from ..errors import NetlinkError, Pcap4pyError, StateFileError
from . import state as state_file
from .rtnl import IFF_PROMISC, IFF_UP, check_ifname, ethernet_link, link_by_name, link_kind, rtnl, set_promisc
from .transaction import Transaction

__all__ = ["Mirror", "MirrorTeardown", "BridgeNetworks", "mirror_build", "mirror_teardown", "mirror_filters",
           "state_path"]

ETH_P_ALL = 0x0003
ETH_P_ALL_BE = 0x0300  # as it appears in the low half of tcmsg.info (network order)
TC_H_CLSACT = 0xFFFFFFF1
CLSACT_PARENTS = {"ingress": 0xFFFFFFF2, "egress": 0xFFFFFFF3}  # the clsact qdisc's two hooks, as filter parents
TCA_EGRESS_MIRROR = 2


def _run_dir() -> Path:
    return state_file.run_dir() / "mirror"


def state_path(src_iface: str, bridge: str) -> Path:
    """Where build records what it made for the mirror SRC -> BRIDGE."""
    return _run_dir() / f"{src_iface}@{bridge}.json"


@dataclass
class MirrorState:
    """What :func:`mirror_build` created or changed (so teardown undoes exactly that)."""

    src: str
    bridge: str
    created_bridge: bool = False
    created_clsact: bool = False
    promisc_set: bool = False
    up_set: bool = False
    prefs: dict = field(default_factory=dict)  # hook -> u32 preference of our filter
    network: Optional[str] = None
    network_id: Optional[str] = None
    created_network: bool = False

    @classmethod
    def load(cls, src: str, bridge: str) -> Optional["MirrorState"]:
        try:
            data = state_file.load(state_path(src, bridge))
        except StateFileError:
            return None
        if not isinstance(data, dict):
            return None
        known = {k: v for k, v in data.items() if k in cls.__dataclass_fields__}
        return cls(**known)

    def save(self) -> None:
        state_file.save(state_path(self.src, self.bridge), asdict(self))

    def forget(self) -> None:
        state_file.remove(state_path(self.src, self.bridge))


@dataclass
class Mirror:
    """The result of :func:`mirror_build`: what is in place, and what this call added."""

    src_iface: str
    bridge: str
    prefs: dict
    network: Optional[str]
    created: list = field(default_factory=list)
    warnings: list = field(default_factory=list)
    network_kind: str = "network"  # what kind of network, in words ("Docker network")

    @property
    def already(self) -> bool:
        """True when the mirror was complete before this call (nothing was added)."""
        return not self.created

    def __str__(self) -> str:
        net = f", {self.network_kind} {self.network}" if self.network else ""
        if self.already:
            return f"mirror {self.src_iface} -> {self.bridge} already in place{net}: nothing to do"
        return f"mirror {self.src_iface} -> {self.bridge} built{net} (created: {', '.join(self.created)})"


@dataclass
class MirrorTeardown:
    """The result of :func:`mirror_teardown`: what was removed or restored."""

    src_iface: str
    bridge: str
    removed: list = field(default_factory=list)

    def __str__(self) -> str:
        if not self.removed:
            return f"no mirror {self.src_iface} -> {self.bridge}: nothing to remove"
        return f"mirror {self.src_iface} -> {self.bridge} torn down (removed: {', '.join(self.removed)})"


# --------------------------------------------------------------------------- tc reading


def _mirred_targets(msg) -> list[int]:
    """Ifindexes that a u32 filter message mirrors to (egress mirror actions only)."""
    opts = msg.get_attr("TCA_OPTIONS")
    acts = opts.get_attr("TCA_U32_ACT") if opts is not None and hasattr(opts, "get_attr") else None
    out = []
    for slot in (acts["attrs"] if acts else []):
        act = slot[1]
        if not hasattr(act, "get_attr") or act.get_attr("TCA_ACT_KIND") != "mirred":
            continue
        opts = act.get_attr("TCA_ACT_OPTIONS")
        parms = opts.get_attr("TCA_MIRRED_PARMS") if opts is not None else None
        if parms and parms["eaction"] == TCA_EGRESS_MIRROR:
            out.append(parms["ifindex"])
    return out


def mirror_filters(ipr, src_index: int, bridge_index: int) -> dict:
    """hook -> list of u32 preferences on ``src_index`` that mirror everything into ``bridge_index``."""
    found: dict = {hook: [] for hook in CLSACT_PARENTS}
    for hook, parent in CLSACT_PARENTS.items():
        for msg in ipr.get_filters(src_index, parent=parent):
            if msg.get_attr("TCA_KIND") != "u32" or msg["info"] & 0xFFFF != ETH_P_ALL_BE:
                continue
            if bridge_index in _mirred_targets(msg):
                pref = msg["info"] >> 16
                if pref not in found[hook]:
                    found[hook].append(pref)
    return found


def _used_prefs(ipr, src_index: int) -> set:
    used = set()
    for parent in CLSACT_PARENTS.values():
        used.update(msg["info"] >> 16 for msg in ipr.get_filters(src_index, parent=parent))
    return used


def _qdisc_kinds(ipr, src_index: int) -> dict:
    """parent -> kind of the qdiscs on ``src_index``."""
    return {q["parent"]: q.get_attr("TCA_KIND") for q in ipr.get_qdiscs(src_index)}


# --------------------------------------------------------------------------- networks on the bridge


class BridgeNetworks(Protocol):
    """A container engine's networks laid on a bridge (e.g. :class:`pcap4py.container.docker.DockerBridgeNetworks`)."""

    kind: str  # in words, for messages: "Docker network"

    def ensure(self, name: str, bridge: str) -> tuple[str, bool]:
        """(id, created) of network ``name`` on ``bridge``, made if missing."""

    def remove(self, name: str, net_id: Optional[str]) -> bool:
        """Remove network ``name`` if its id is still ``net_id``; whether it did."""


# --------------------------------------------------------------------------- build


def _check_names(src_iface: str, bridge: str) -> None:
    for n in (src_iface, bridge):
        check_ifname(n)
    if src_iface == bridge:
        raise NetlinkError(f"cannot mirror {src_iface} into itself")


def mirror_build(src_iface: str, bridge: str, network: Optional[str] = None, *,
                 networks: Optional[BridgeNetworks] = None) -> Mirror:
    """Mirror ``src_iface``'s ingress and egress into ``bridge``; see the module notes.

    Creates ``bridge`` if missing (learning off, STP off, up).  Turns promiscuous
    mode on on ``src_iface`` (a SPAN port receives frames for other MACs) and
    brings it up, recording both to undo them at teardown.  With ``network``,
    has ``networks`` lay that network on the bridge.  Running it again adds
    nothing.  A failure, SIGINT or SIGTERM undoes what this call did.
    """
    _check_names(src_iface, bridge)
    if network and networks is None:
        raise Pcap4pyError(f"network {network} on {bridge}: no container engine given to make it "
                           f"(use pcap4py.mirror_build, which makes Docker networks)")
    old = MirrorState.load(src_iface, bridge)
    state = old or MirrorState(src_iface, bridge)
    result = Mirror(src_iface, bridge, {}, network, network_kind=networks.kind if networks else "network")
    with rtnl() as ipr:
        src = ethernet_link(ipr, src_iface, missing="no interface {name!r} to mirror",
                            loopback="cannot mirror the loopback interface {name}")
        with Transaction("mirror build", f"mirror build {src_iface} -> {bridge} failed, rolled back") as tx:
            bidx = _ensure_bridge(tx, ipr, bridge, src, state, result)
            _ensure_src_flags(tx, ipr, src, state, result)
            _ensure_filters(tx, ipr, src["index"], bidx, state, result)
            if network:
                _ensure_network(tx, networks, network, bridge, state, result)
            tx.step("state", state.save, None if old else lambda _: state.forget(),
                    doing=f"record the mirror in {state_path(src_iface, bridge)}")
    result.prefs = dict(state.prefs)
    return result


def _ensure_bridge(tx: Transaction, ipr, bridge: str, src, state: MirrorState, result: Mirror) -> int:
    link = link_by_name(ipr, bridge)
    if link is None:
        def create() -> int:
            ipr.link("add", ifname=bridge, kind="bridge", br_ageing_time=0, br_stp_state=0, br_forward_delay=0)
            return ipr.link_lookup(ifname=bridge)[0]

        bidx = tx.step("bridge", create, lambda bidx: ipr.link("del", index=bidx), doing=f"create bridge {bridge}")
        state.created_bridge = True
        result.created.append(f"bridge {bridge}")
        link = ipr.get_links(bidx)[0]
    elif link_kind(link) != "bridge":
        raise NetlinkError(f"{bridge} exists and is not a bridge ({link_kind(link) or 'no kind'})")
    else:
        ageing = link.get_nested("IFLA_LINKINFO", "IFLA_INFO_DATA", "IFLA_BR_AGEING_TIME")
        if ageing:
            result.warnings.append(f"bridge {bridge} learns MAC addresses (ageing {ageing / 100:g} s): "
                                   "containers will see only flooded frames; set its ageing time to 0")
    bidx = link["index"]
    if src.get_attr("IFLA_MASTER") == bidx:
        raise NetlinkError(f"{src.get_attr('IFLA_IFNAME')} is a port of {bridge}: mirroring it there would loop")
    if not link["flags"] & IFF_UP:  # mirred drops frames to a device that is down
        tx.step("bridge up", lambda: ipr.link("set", index=bidx, state="up"), doing=f"bring {bridge} up")
    return bidx


def _ensure_src_flags(tx: Transaction, ipr, src, state: MirrorState, result: Mirror) -> None:
    sidx = src["index"]
    if not src["flags"] & IFF_PROMISC:
        tx.step("promisc", lambda: set_promisc(ipr, sidx, True), lambda _: set_promisc(ipr, sidx, False),
                doing=f"turn promiscuous mode on on {state.src}")
        state.promisc_set = True
        result.created.append("promiscuous mode")
    if not src["flags"] & IFF_UP:
        tx.step("up", lambda: ipr.link("set", index=sidx, state="up"),
                lambda _: ipr.link("set", index=sidx, state="down"), doing=f"bring {state.src} up")
        state.up_set = True
        result.created.append("link up")


def _ensure_filters(tx: Transaction, ipr, sidx: int, bidx: int, state: MirrorState, result: Mirror) -> None:
    kinds = _qdisc_kinds(ipr, sidx)
    if kinds.get(TC_H_CLSACT) not in (None, "clsact"):
        raise NetlinkError(f"{state.src} has an '{kinds[TC_H_CLSACT]}' qdisc; pcap4py mirrors through "
                           f"clsact, which cannot sit beside it: remove it first")
    if TC_H_CLSACT not in kinds:
        tx.step("clsact", lambda: ipr.tc("add", "clsact", sidx), lambda _: ipr.tc("del", "clsact", sidx),
                doing=f"add a clsact qdisc to {state.src}")
        state.created_clsact = True
        result.created.append("clsact qdisc")
    existing = mirror_filters(ipr, sidx, bidx)
    used = _used_prefs(ipr, sidx)
    action = {"kind": "mirred", "direction": "egress", "action": "mirror", "ifindex": bidx}
    for hook, parent in CLSACT_PARENTS.items():
        if existing[hook]:
            state.prefs[hook] = existing[hook][0]
            continue
        pref = next(p for p in range(1, 0xFFFF) if p not in used)
        used.add(pref)

        def add(parent=parent, pref=pref) -> None:
            ipr.tc("add-filter", "u32", sidx, parent=parent, prio=pref, protocol=ETH_P_ALL,
                   keys=["0x0/0x0+0"], target=0x10000, action=action)

        tx.step(f"{hook} filter", add, lambda _, parent=parent, pref=pref: _del_filter(ipr, sidx, parent, pref),
                doing=f"add the {hook} mirror filter to {state.src}")
        state.prefs[hook] = pref
        result.created.append(f"{hook} filter")


def _ensure_network(tx: Transaction, networks: BridgeNetworks, name: str, bridge: str, state: MirrorState,
                    result: Mirror) -> None:
    def undo(made: tuple[str, bool]) -> None:
        if made[1]:
            networks.remove(name, made[0])

    net_id, created = tx.step("network", lambda: networks.ensure(name, bridge), undo,
                              doing=f"create {networks.kind} {name} on {bridge}")
    if created:
        result.created.append(f"{networks.kind} {name}")
        state.created_network = True
    state.network, state.network_id = name, net_id


def _del_filter(ipr, sidx: int, parent: int, pref: int) -> None:
    ipr.tc("del-filter", index=sidx, parent=parent, info=(pref << 16) | ETH_P_ALL_BE)


# --------------------------------------------------------------------------- teardown


def mirror_teardown(src_iface: str, bridge: str, *, networks: Optional[BridgeNetworks] = None) -> MirrorTeardown:
    """Undo :func:`mirror_build` for ``src_iface`` -> ``bridge``: remove what it made, nothing else.

    The mirror filters go always; the clsact qdisc, the network (through
    ``networks``) and the bridge go only if build created them; promiscuous
    mode and link state are restored only if build changed them.  Tearing down
    a mirror that is not there is a no-op.  SIGINT or SIGTERM let it finish,
    then it reports the interruption.
    """
    _check_names(src_iface, bridge)
    state = MirrorState.load(src_iface, bridge) or MirrorState(src_iface, bridge)
    if state.created_network and state.network and networks is None:
        raise Pcap4pyError(f"the mirror {src_iface} -> {bridge} has a network {state.network}: no container "
                           f"engine given to remove it (use pcap4py.mirror_teardown)")
    out = MirrorTeardown(src_iface, bridge)
    with Transaction("mirror teardown", f"mirror teardown {src_iface} -> {bridge}", on_signal="finish") as tx:
        with rtnl() as ipr:
            src = link_by_name(ipr, src_iface)
            br = link_by_name(ipr, bridge)
            if src is not None and br is not None:
                _remove_filters(tx, ipr, src["index"], br["index"], out)
            if src is not None:
                _restore_src(tx, ipr, src, state, out)
            if state.created_network and state.network:
                if tx.step("network", lambda: networks.remove(state.network, state.network_id),
                           doing=f"remove {networks.kind} {state.network}"):
                    out.removed.append(f"{networks.kind} {state.network}")
            if state.created_bridge:
                br = link_by_name(ipr, bridge)  # again: removing the network may have removed it
                if br is not None and link_kind(br) == "bridge":
                    tx.step("bridge", lambda: ipr.link("del", index=br["index"]), doing=f"remove bridge {bridge}")
                    out.removed.append(f"bridge {bridge}")
        tx.step("state", state.forget, doing=f"remove {state_path(src_iface, bridge)}")
    return out


def _remove_filters(tx: Transaction, ipr, sidx: int, bidx: int, out: MirrorTeardown) -> None:
    for hook, prefs in mirror_filters(ipr, sidx, bidx).items():
        for pref in prefs:
            parent = CLSACT_PARENTS[hook]
            tx.step(f"{hook} filter", lambda parent=parent, pref=pref: _del_filter(ipr, sidx, parent, pref),
                    doing=f"remove the {hook} mirror filter")
            out.removed.append(f"{hook} filter")


def _restore_src(tx: Transaction, ipr, src, state: MirrorState, out: MirrorTeardown) -> None:
    sidx = src["index"]
    if state.created_clsact and _qdisc_kinds(ipr, sidx).get(TC_H_CLSACT) == "clsact":
        others = any(ipr.get_filters(sidx, parent=p) for p in CLSACT_PARENTS.values())
        if not others:  # someone added filters meanwhile: leave their qdisc in place
            tx.step("clsact", lambda: ipr.tc("del", "clsact", sidx), doing="remove the clsact qdisc")
            out.removed.append("clsact qdisc")
    if state.promisc_set and src["flags"] & IFF_PROMISC:
        tx.step("promisc", lambda: set_promisc(ipr, sidx, False), doing="turn promiscuous mode off")
        out.removed.append("promiscuous mode")
    if state.up_set and src["flags"] & IFF_UP:
        tx.step("up", lambda: ipr.link("set", index=sidx, state="down"), doing=f"bring {state.src} down")
        out.removed.append("link up")
