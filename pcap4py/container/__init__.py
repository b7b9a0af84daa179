"""Containers of any runtime: discovery, records, capture, and containers as plumbing targets.

One job per module, imports one way (each uses only those below it):

* :mod:`.capture` - capturing containers and namespaces; uses the engine;
* :mod:`.follow` - keeping a capture of several containers in step with their runtimes' events;
* :mod:`.watch` - following a captured container's stop, to end the capture when it stops;
* :mod:`.plumbing` - containers as attach targets and Docker networks on mirror bridges;
* :mod:`.plans` - where to listen for a namespace (netns, veth, bridge) and with which filters;
* :mod:`.selection` - which containers a capture takes;
* :mod:`.lookup` - looking containers up across the runtimes present (:func:`get_container`, :func:`containers`);
* :mod:`.runtimes` - one backend per runtime (Docker, Podman) behind one interface, and which to ask;
* :mod:`.namespace` - one network namespace to capture, whoever runs in it;
* :mod:`.model` - the records (containers, their state, interfaces and networks);
* :mod:`.docker` - the Engine API through the Docker SDK (Docker's and Podman's);
* :mod:`.inventory` - the netlink inventory of a namespace (links, addresses, veth peers, bridges).
"""

from __future__ import annotations

from .lookup import containers, get_container
from .model import Address, Container, ContainerInterface, ContainerNetwork, ContainerState

__all__ = ["Address", "Container", "ContainerInterface", "ContainerNetwork", "ContainerState", "containers",
           "get_container"]
