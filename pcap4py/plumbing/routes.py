"""Default routes saved, replaced and put back: attach's gateway step and detach's restore.

A saved route is a small dict that can re-create it (``{"gw", "dev", "metric",
"proto"}``): the form attach keeps in its record (:mod:`pcap4py.plumbing.record`),
by interface name because the record outlives interface indexes.  Routes are those
of the main table, in the namespace of the ``IPRoute`` given.
"""

from __future__ import annotations

from typing import Optional

from .rtnl import link_by_index

__all__ = ["RT_TABLE_MAIN", "default_routes", "replace_default", "unreplace_default", "restore_routes"]

RT_TABLE_MAIN = 254
RTN_UNICAST = 1
RTPROT_BOOT = 3  # what `ip route add` records when no protocol is given


def default_routes(ipr, family: int) -> list[dict]:
    """The main table's default routes of ``family``, as small dicts that can re-create them."""
    out = []
    for r in ipr.get_routes(family=family, table=RT_TABLE_MAIN):
        if r["dst_len"] != 0 or r.get_attr("RTA_DST") is not None or r["type"] != RTN_UNICAST:
            continue
        oif = r.get_attr("RTA_OIF")
        link = link_by_index(ipr, oif) if oif else None
        out.append({"gw": r.get_attr("RTA_GATEWAY"), "dev": link.get_attr("IFLA_IFNAME") if link else None,
                    "metric": r.get_attr("RTA_PRIORITY"), "proto": r["proto"]})
    return out


def _route_args(ipr, family: int, route: dict) -> Optional[dict]:
    args = {"dst": "default", "family": family, "table": RT_TABLE_MAIN, "proto": route.get("proto") or RTPROT_BOOT}
    if route.get("dev"):
        found = ipr.link_lookup(ifname=route["dev"])
        if not found:
            return None  # its interface has gone: nothing to route through
        args["oif"] = found[0]
    if route.get("gw"):
        args["gateway"] = route["gw"]
    if route.get("metric") is not None:
        args["priority"] = route["metric"]
    return args


def restore_routes(ipr, family: int, routes: list[dict]) -> list[dict]:
    """Add back those of ``routes`` that are missing; the ones added."""
    restored = []
    present = default_routes(ipr, family)
    for route in routes:
        if any(p["gw"] == route.get("gw") and p["dev"] == route.get("dev") for p in present):
            continue
        args = _route_args(ipr, family, route)
        if args is None:
            continue
        ipr.route("add", **args)
        restored.append(route)
    return restored


def replace_default(ipr, family: int, gateway: str, oif: int, prev: list[dict]) -> None:
    """pipework's order: delete the default routes ``prev``, then add one through ``gateway`` on ``oif``.
    A failure half-way puts ``prev`` back before raising."""
    for route in prev:
        args = _route_args(ipr, family, route)
        if args:
            ipr.route("del", **args)
    try:
        ipr.route("replace", dst="default", family=family, gateway=gateway, oif=oif, table=RT_TABLE_MAIN)
    except BaseException:
        restore_routes(ipr, family, prev)
        raise


def unreplace_default(ipr, family: int, oif: int, prev: list[dict]) -> None:
    """Undo :func:`replace_default`: the default route through ``oif`` removed, ``prev`` put back."""
    # ours first: the kernel refuses a second default route of the same metric
    for r in ipr.get_routes(family=family, table=RT_TABLE_MAIN):
        if r["dst_len"] == 0 and r.get_attr("RTA_OIF") == oif:
            ipr.route("del", dst="default", family=family, oif=oif, table=RT_TABLE_MAIN,
                      gateway=r.get_attr("RTA_GATEWAY"))
    restore_routes(ipr, family, prev)
