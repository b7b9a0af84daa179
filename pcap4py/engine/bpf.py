"""BPF filter expressions: compile with libpcap, and say where a bad one goes wrong.

libpcap answers a bad expression with "syntax error" and no position.  pcap4py
finds the first token at which the expression can no longer become valid: a
prefix is still *viable* if it compiles as it is, or once a simple primitive is
appended (``tcp port 80 and`` is viable, ``tcp port 80 and and`` is not).

Viability is monotone (once a prefix is dead, every longer one is), so the
search bisects over token boundaries: about log2(tokens) probes, not one per
token.  A probe must not pay for code generation's back end either (a valid
500-term expression takes seconds to finish compiling): it appends a primitive
that libpcap rejects as soon as it parses it (``port 99917``), so a prefix whose
probe fails with exactly that complaint parsed, and generated, cleanly.
"""

from __future__ import annotations

import re
from functools import lru_cache
from typing import Any, Optional

from . import jvm
from ..errors import FilterError
from .limits import MAX_SNAPLEN
from .numbers import DLT_EN10MB
from .parse import data_link_type

# what may follow a prefix: nothing, a primitive, an operand, the end of a comparison
UNKNOWN_LINK_TYPE = "unknown data link type"  # libpcap's words when it has no BPF code generator for it
_COMPLETIONS = ("", " tcp", " 1", " host 1", " = 1", " 1 = 1")
# DLT_ values every libpcap (1.0 on) generates filter code for: NULL, EN10MB, RAW (Linux's 12),
# LINUX_SLL, LINUX_SLL2 (1.10; files of it are only written by a libpcap that knows it)
FILTERABLE_LINK_TYPES = frozenset({0, 1, 12, 113, 276})


def _compile(expression: str, linktype: int, snaplen: int) -> Optional[str]:
    """None if ``expression`` compiles for ``linktype``, else libpcap's message."""
    jpype = jvm.start()
    try:
        program = _dead_handle(linktype, snaplen).compileFilter(expression, _optimize(), _netmask_unknown())
    except jpype.JException as e:
        return str(e.getMessage())
    program.free()
    return None


@lru_cache(maxsize=16)
def _dead_handle(linktype: int, snaplen: int) -> Any:
    """A pcap_open_dead handle: compiles filters for a link type without any capture."""
    return jvm.jclass("org.pcap4j.core.Pcaps").openDead(data_link_type(linktype), snaplen)


@lru_cache(maxsize=None)
def _optimize() -> Any:
    return jvm.jclass("org.pcap4j.core.BpfProgram$BpfCompileMode").OPTIMIZE


@lru_cache(maxsize=None)
def _netmask_unknown() -> Any:
    # 255.255.255.255 is libpcap's PCAP_NETMASK_UNKNOWN
    return jvm.jclass("java.net.InetAddress").getByName("255.255.255.255")


def program(expression: str, linktype: int, snaplen: int = MAX_SNAPLEN) -> Any:
    """``expression`` compiled for ``linktype`` (a Pcap4J ``BpfProgram``; the caller frees it);
    raises :class:`FilterError` naming where a bad one goes wrong."""
    with jvm.java_errors(lambda message: filter_error(expression, message, linktype)):
        return _dead_handle(linktype, snaplen).compileFilter(expression, _optimize(), _netmask_unknown())


def error_position(expression: str, linktype: int = DLT_EN10MB, snaplen: int = MAX_SNAPLEN) -> int:
    """0-based offset of the first token after which no completion compiles.

    The length of the expression when it is a valid start that ends too early.
    """
    tokens = [m for m in re.finditer(r"\S+", expression)]
    if not tokens:
        return 0
    probe = _Probe(expression, linktype, snaplen)
    if probe.viable(expression):
        return len(expression)  # every token fits, but the expression ends too early
    # invariant: the first `alive` tokens form a viable prefix, the first `dead` do not
    alive, dead = 0, len(tokens)
    while dead - alive > 1:
        middle = (alive + dead) // 2
        if probe.viable(expression[: tokens[middle - 1].end()]):
            alive = middle
        else:
            dead = middle
    return tokens[dead - 1].start()


class _Probe:
    """Whether a prefix of an expression can still become a valid filter (see the module docstring)."""

    def __init__(self, expression: str, linktype: int, snaplen: int):
        # a port number the user did not write, so that its complaint cannot be theirs
        port = next(p for p in range(99917, 199917) if str(p) not in expression)
        self._sentinel = f" and port {port}"
        self._complaint = f"illegal port number {port} > 65535"
        self._linktype, self._snaplen = linktype, snaplen

    def viable(self, prefix: str) -> bool:
        return any(self._complaint in (_compile(prefix + tail + self._sentinel, self._linktype, self._snaplen) or "")
                   for tail in _COMPLETIONS)


def filter_error(expression: str, message: str, linktype: int = DLT_EN10MB) -> FilterError:
    """A :class:`FilterError` for ``expression`` with libpcap's ``message`` and the position."""
    # Pcap4J and libpcap each put their words in front: "Error occurred in pcap_compile: can't parse ..."
    reason = re.sub(r"^(?:(?:can't parse filter expression|Error occurred in pcap_compile): )+", "", message)
    return FilterError(expression, reason.strip(), error_position(expression, linktype))


def knows_link_type(linktype: int) -> bool:
    """Whether libpcap can filter packets of ``linktype`` (tcpdump refuses files of a type it cannot:
    it compiles a filter, if only an empty one).  The common types are known without asking
    libpcap (a plain file read then never loads it)."""
    if linktype in FILTERABLE_LINK_TYPES:
        return True
    message = _compile("", linktype, MAX_SNAPLEN)
    return message is None or UNKNOWN_LINK_TYPE not in message


def compile_filter(expression: str, linktype: int = DLT_EN10MB, snaplen: int = MAX_SNAPLEN) -> None:
    """Check that ``expression`` compiles for ``linktype``; raise :class:`FilterError` if not."""
    message = _compile(expression, linktype, snaplen)
    if message is not None:
        raise filter_error(expression, message, linktype)
