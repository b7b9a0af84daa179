"""BPF filter expressions: compile with libpcap, and say where a bad one goes wrong.

libpcap answers a bad expression with "syntax error" and no position.  pcap4py
finds the first token at which the expression can no longer become valid: a
prefix is still *viable* if it compiles as it is, or once a simple primitive is
appended (``tcp port 80 and`` is viable, ``tcp port 80 and and`` is not).
"""

from __future__ import annotations

import re
from functools import lru_cache
from typing import Any, Optional

from . import jvm
from ..errors import FilterError
from .parse import data_link_type

DLT_EN10MB = 1
_COMPLETIONS = ("", " tcp", " 1", " host 1")


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


def program(expression: str, linktype: int, snaplen: int = 262144) -> Any:
    """``expression`` compiled for ``linktype`` (a Pcap4J ``BpfProgram``; the caller frees it);
    raises :class:`FilterError` naming where a bad one goes wrong."""
    jpype = jvm.start()
    try:
        return _dead_handle(linktype, snaplen).compileFilter(expression, _optimize(), _netmask_unknown())
    except jpype.JException as e:
        raise filter_error(expression, str(e.getMessage()), linktype) from e


def error_position(expression: str, linktype: int = DLT_EN10MB, snaplen: int = 262144) -> int:
    """0-based offset of the first token after which no completion compiles.

    The length of the expression when it is a valid start that ends too early.
    """
    for match in re.finditer(r"\S+", expression):
        prefix = expression[: match.end()]
        if not any(_compile(prefix + tail, linktype, snaplen) is None for tail in _COMPLETIONS):
            return match.start()
    return len(expression)  # every token fits, but the expression ends too early


def filter_error(expression: str, message: str, linktype: int = DLT_EN10MB) -> FilterError:
    """A :class:`FilterError` for ``expression`` with libpcap's ``message`` and the position."""
    reason = re.sub(r"^(can't parse filter expression: |Error occurred in pcap_compile: )", "", message)
    return FilterError(expression, reason.strip(), error_position(expression, linktype))


def compile_filter(expression: str, linktype: int = DLT_EN10MB, snaplen: int = 262144) -> None:
    """Check that ``expression`` compiles for ``linktype``; raise :class:`FilterError` if not."""
    message = _compile(expression, linktype, snaplen)
    if message is not None:
        raise filter_error(expression, message, linktype)
