"""Mirror an interface's traffic, both directions, into a bridge with tc (document 003, tc-mirror).

:func:`mirror_build` makes (if missing) a bridge with MAC learning off
(``ageing_time 0``), so it floods every frame to every port, and copies every
frame that SRC receives or sends into it with a u32 match-all filter and a
``mirred egress mirror`` action.  With ``docker_network`` it also creates an
internal Docker network on that bridge: containers connected to it see the
mirrored traffic on their ``eth`` without any privilege, several at once.

Differences from tc-mirror, on purpose:

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
  Teardown removes the mirror filters, and the clsact qdisc, Docker network,
  bridge, promiscuous mode and link state only when build created or changed
  them.  Without a state file it removes only the mirror filters.
* Each filter gets its own preference, unused on both hooks: u32 filters of
  one qdisc share their hash tables, and two u32 filters at the same
  preference on ingress and egress would show up in each other's dumps.
"""

from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Callable, Optional

from ..container import BRIDGE_NAME_OPTION, docker_client
from ..errors import DockerError, NetlinkError, Pcap4pyError
from .rtnl import (IFF_PROMISC, IFF_UP, check_ifname, ethernet_link, link_by_name, link_kind, netlink_error, rollback,
                   rtnl, set_promisc)

__all__ = ["Mirror", "MirrorTeardown", "mirror_build", "mirror_teardown", "mirror_filters"]

ETH_P_ALL = 0x0003
ETH_P_ALL_BE = 0x0300  # as it appears in the low half of tcmsg.info (network order)
TC_H_CLSACT = 0xFFFFFFF1
HOOKS = {"ingress": 0xFFFFFFF2, "egress": 0xFFFFFFF3}
TCA_EGRESS_MIRROR = 2


def _run_dir() -> Path:
    return Path(os.environ.get("PCAP4PY_RUN_DIR", "/run/pcap4py")) / "mirror"


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
    docker_network: Optional[str] = None
    docker_network_id: Optional[str] = None
    created_network: bool = False

    @classmethod
    def load(cls, src: str, bridge: str) -> Optional["MirrorState"]:
        try:
            data = json.loads(state_path(src, bridge).read_text())
        except (FileNotFoundError, ValueError):
            return None
        known = {k: v for k, v in data.items() if k in cls.__dataclass_fields__}
        return cls(**known)

    def save(self) -> None:
        path = state_path(self.src, self.bridge)
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(".tmp")
        tmp.write_text(json.dumps(asdict(self), indent=1))
        tmp.replace(path)

    def forget(self) -> None:
        state_path(self.src, self.bridge).unlink(missing_ok=True)


@dataclass
class Mirror:
    """The result of :func:`mirror_build`: what is in place, and what this call added."""

    src_iface: str
    bridge: str
    prefs: dict
    docker_network: Optional[str]
    created: list = field(default_factory=list)
    warnings: list = field(default_factory=list)

    @property
    def already(self) -> bool:
        """True when the mirror was complete before this call (nothing was added)."""
        return not self.created

    def __str__(self) -> str:
        net = f", Docker network {self.docker_network}" if self.docker_network else ""
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
    found: dict = {hook: [] for hook in HOOKS}
    for hook, parent in HOOKS.items():
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
    for parent in HOOKS.values():
        used.update(msg["info"] >> 16 for msg in ipr.get_filters(src_index, parent=parent))
    return used


def _qdisc_kinds(ipr, src_index: int) -> dict:
    """parent -> kind of the qdiscs on ``src_index``."""
    return {q["parent"]: q.get_attr("TCA_KIND") for q in ipr.get_qdiscs(src_index)}


# --------------------------------------------------------------------------- docker


def _docker_error(what: str, e: Exception) -> Pcap4pyError:
    if isinstance(e, Pcap4pyError):
        return e
    return DockerError(f"{what}: {getattr(e, 'explanation', None) or e}")


def _find_network(client, name: str):
    nets = [n for n in client.networks.list(names=[name]) if n.name == name]
    return nets[0] if nets else None


def _ensure_network(client, name: str, bridge: str):
    """(network, created) for an internal bridge network named ``name`` on ``bridge``."""
    net = _find_network(client, name)
    if net is not None:
        net.reload()
        opts = net.attrs.get("Options") or {}
        if net.attrs.get("Driver") != "bridge" or opts.get(BRIDGE_NAME_OPTION) != bridge:
            raise DockerError(f"Docker network {name} already exists and is not on bridge {bridge}")
        return net, False
    net = client.networks.create(name, driver="bridge", internal=True,
                                 options={BRIDGE_NAME_OPTION: bridge})
    return net, True


# --------------------------------------------------------------------------- build


def _check_names(src_iface: str, bridge: str) -> None:
    for n in (src_iface, bridge):
        check_ifname(n)
    if src_iface == bridge:
        raise NetlinkError(f"cannot mirror {src_iface} into itself")


def mirror_build(src_iface: str, bridge: str, docker_network: Optional[str] = None) -> Mirror:
    """Mirror ``src_iface``'s ingress and egress into ``bridge``; see the module notes.

    Creates ``bridge`` if missing (learning off, STP off, up).  Turns promiscuous
    mode on on ``src_iface`` (a SPAN port receives frames for other MACs) and
    brings it up, recording both to undo them at teardown.  With
    ``docker_network``, creates that internal Docker network on the bridge.
    Running it again adds nothing.  A failure undoes what this call did.
    """
    _check_names(src_iface, bridge)
    old = MirrorState.load(src_iface, bridge)
    state = old or MirrorState(src_iface, bridge)
    result = Mirror(src_iface, bridge, {}, docker_network)
    undo: list[Callable[[], None]] = []
    with rtnl() as ipr:
        src = ethernet_link(ipr, src_iface, missing="no interface {name!r} to mirror",
                            loopback="cannot mirror the loopback interface {name}")
        sidx = src["index"]
        try:
            bidx = _ensure_bridge(ipr, bridge, src, state, result, undo)
            _ensure_src_flags(ipr, src, state, result, undo)
            _ensure_filters(ipr, sidx, bidx, state, result, undo)
            if docker_network:
                client = docker_client()
                try:
                    net, created = _ensure_network(client, docker_network, bridge)
                except Exception as e:
                    raise _docker_error(f"cannot create Docker network {docker_network} on {bridge}", e) from None
                if created:
                    undo.append(lambda: net.remove())
                    result.created.append(f"Docker network {docker_network}")
                    state.created_network = True
                state.docker_network, state.docker_network_id = docker_network, net.id
            state.save()
        except BaseException as e:
            rollback(undo)
            if old is None:
                state.forget()
            if isinstance(e, Exception) and not isinstance(e, Pcap4pyError) and hasattr(e, "code"):
                raise netlink_error(f"mirror build {src_iface} -> {bridge} failed, rolled back", e) from None
            raise
    result.prefs = dict(state.prefs)
    return result


def _ensure_bridge(ipr, bridge: str, src, state: MirrorState, result: Mirror, undo: list) -> int:
    link = link_by_name(ipr, bridge)
    if link is None:
        ipr.link("add", ifname=bridge, kind="bridge", br_ageing_time=0, br_stp_state=0, br_forward_delay=0)
        bidx = ipr.link_lookup(ifname=bridge)[0]
        undo.append(lambda: ipr.link("del", index=bidx))
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
    if not link["flags"] & IFF_UP:
        ipr.link("set", index=bidx, state="up")  # mirred drops frames to a device that is down
    return bidx


def _ensure_src_flags(ipr, src, state: MirrorState, result: Mirror, undo: list) -> None:
    sidx = src["index"]
    if not src["flags"] & IFF_PROMISC:
        set_promisc(ipr, sidx, True)
        undo.append(lambda: set_promisc(ipr, sidx, False))
        state.promisc_set = True
        result.created.append("promiscuous mode")
    if not src["flags"] & IFF_UP:
        ipr.link("set", index=sidx, state="up")
        undo.append(lambda: ipr.link("set", index=sidx, state="down"))
        state.up_set = True
        result.created.append("link up")


def _ensure_filters(ipr, sidx: int, bidx: int, state: MirrorState, result: Mirror, undo: list) -> None:
    kinds = _qdisc_kinds(ipr, sidx)
    if kinds.get(TC_H_CLSACT) not in (None, "clsact"):
        raise NetlinkError(f"{state.src} has an '{kinds[TC_H_CLSACT]}' qdisc; pcap4py mirrors through "
                           f"clsact, which cannot sit beside it: remove it first")
    if TC_H_CLSACT not in kinds:
        ipr.tc("add", "clsact", sidx)
        undo.append(lambda: ipr.tc("del", "clsact", sidx))
        state.created_clsact = True
        result.created.append("clsact qdisc")
    existing = mirror_filters(ipr, sidx, bidx)
    used = _used_prefs(ipr, sidx)
    action = {"kind": "mirred", "direction": "egress", "action": "mirror", "ifindex": bidx}
    for hook, parent in HOOKS.items():
        if existing[hook]:
            state.prefs[hook] = existing[hook][0]
            continue
        pref = next(p for p in range(1, 0xFFFF) if p not in used)
        used.add(pref)
        ipr.tc("add-filter", "u32", sidx, parent=parent, prio=pref, protocol=ETH_P_ALL,
               keys=["0x0/0x0+0"], target=0x10000, action=action)
        undo.append(lambda parent=parent, pref=pref: _del_filter(ipr, sidx, parent, pref))
        state.prefs[hook] = pref
        result.created.append(f"{hook} filter")


def _del_filter(ipr, sidx: int, parent: int, pref: int) -> None:
    ipr.tc("del-filter", index=sidx, parent=parent, info=(pref << 16) | ETH_P_ALL_BE)


# --------------------------------------------------------------------------- teardown


def mirror_teardown(src_iface: str, bridge: str) -> MirrorTeardown:
    """Undo :func:`mirror_build` for ``src_iface`` -> ``bridge``: remove what it made, nothing else.

    The mirror filters go always; the clsact qdisc, the Docker network and the
    bridge go only if build created them; promiscuous mode and link state are
    restored only if build changed them.  Tearing down a mirror that is not
    there is a no-op.
    """
    _check_names(src_iface, bridge)
    state = MirrorState.load(src_iface, bridge) or MirrorState(src_iface, bridge)
    out = MirrorTeardown(src_iface, bridge)
    try:
        with rtnl() as ipr:
            src = link_by_name(ipr, src_iface)
            br = link_by_name(ipr, bridge)
            if src is not None and br is not None:
                found = mirror_filters(ipr, src["index"], br["index"])
                for hook, prefs in found.items():
                    for pref in prefs:
                        _del_filter(ipr, src["index"], HOOKS[hook], pref)
                        out.removed.append(f"{hook} filter")
            if src is not None:
                _restore_src(ipr, src, state, out)
        if state.created_network and state.docker_network:
            _remove_network(state, out)
        if state.created_bridge:
            with rtnl() as ipr:
                br = link_by_name(ipr, bridge)
                if br is not None and link_kind(br) == "bridge":
                    ipr.link("del", index=br["index"])
                    out.removed.append(f"bridge {bridge}")
    except Exception as e:
        if isinstance(e, Pcap4pyError) or not hasattr(e, "code"):
            raise
        raise netlink_error(f"mirror teardown {src_iface} -> {bridge}", e) from None
    state.forget()
    return out


def _restore_src(ipr, src, state: MirrorState, out: MirrorTeardown) -> None:
    sidx = src["index"]
    if state.created_clsact and _qdisc_kinds(ipr, sidx).get(TC_H_CLSACT) == "clsact":
        others = any(ipr.get_filters(sidx, parent=p) for p in HOOKS.values())
        if not others:  # someone added filters meanwhile: leave their qdisc in place
            ipr.tc("del", "clsact", sidx)
            out.removed.append("clsact qdisc")
    if state.promisc_set and src["flags"] & IFF_PROMISC:
        set_promisc(ipr, sidx, False)
        out.removed.append("promiscuous mode")
    if state.up_set and src["flags"] & IFF_UP:
        ipr.link("set", index=sidx, state="down")
        out.removed.append("link up")


def _remove_network(state: MirrorState, out: MirrorTeardown) -> None:
    try:
        client = docker_client()
        net = _find_network(client, state.docker_network)
        if net is None or (state.docker_network_id and net.id != state.docker_network_id):
            return  # gone already, or replaced by someone else's network of that name
        net.reload()
        # the network is going away: its endpoints go with it
        for cid in list((net.attrs.get("Containers") or {}).keys()):
            net.disconnect(cid, force=True)
        net.remove()
        out.removed.append(f"Docker network {state.docker_network}")
    except Exception as e:
        raise _docker_error(f"cannot remove Docker network {state.docker_network}", e) from None
