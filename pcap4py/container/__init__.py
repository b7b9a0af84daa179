"""Docker containers: discovery, records, capture, and containers as plumbing targets.

One job per module, imports one way (each uses only those below it):

* :mod:`.capture` - capturing a container (plans, direction filters, its point of view); uses the engine;
* :mod:`.watch` - following a captured container's Docker events, to end the capture when it stops;
* :mod:`.plumbing` - containers as attach targets and Docker networks on mirror bridges;
* :mod:`.model` - the records and the lookups (:func:`get_container`, :func:`containers`);
* :mod:`.docker` - the Docker Engine API (the SDK and its errors);
* :mod:`.inventory` - the netlink inventory of a namespace (links, addresses, veth peers).
"""

from __future__ import annotations

from .model import Address, Container, ContainerInterface, ContainerNetwork, containers, get_container

__all__ = ["Address", "Container", "ContainerInterface", "ContainerNetwork", "containers", "get_container"]

