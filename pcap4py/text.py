"""Text that reaches a terminal: names from the kernel, Docker or a file, with control characters
made visible.

An interface name may hold any byte but ``/``, ``:``, NUL and white space (a container with
``CAP_NET_ADMIN`` can name one ``"\\x1b]0;p\\x07"``, which would set the window title of whoever
lists it), and a capture file's names and comments are whatever its writer put there.
:func:`printable` is the one place they are escaped; every CLI output boundary passes its text
through it (JSON output escapes them the JSON way instead, and stays exact).

The escape is Python's: ``\\xNN`` (``\\uNNNN``) as in ``repr()``, without quotes.  Only control
characters change (C0, DEL, C1, the line and paragraph separators U+2028 and U+2029, which a
dialog such as Wireshark's breaks a line at, and the bytes a file name or kernel name held that
were not UTF-8, which Python keeps as lone surrogates), so a name without them prints exactly as
before; a backslash is left alone, so ``\\x1b`` typed literally and an escaped ESC look the same
(the price of that invariant, and no name pcap4py itself makes holds a backslash).
"""

from __future__ import annotations

import re

__all__ = ["printable"]

# C0 controls, DEL, C1 controls (U+0080-U+009F: a terminal may take U+009B as CSI), and the
# surrogates Python's surrogateescape makes of bytes that were not UTF-8 (U+DC80-U+DCFF), and the
# line and paragraph separators (str.splitlines and GUI toolkits break lines there)
_CONTROLS = re.compile("[\x00-\x1f\x7f-\x9f\u2028\u2029\udc80-\udcff]")


def _escape(match: "re.Match[str]") -> str:
    code = ord(match.group())
    if code in (0x2028, 0x2029):
        return f"\\u{code:04x}"
    return f"\\x{code - 0xdc00 if code >= 0xdc80 else code:02x}"


def printable(text: object, keep: str = "") -> str:
    """``text`` (``str()`` of it) with every control character written ``\\xNN``, except those in
    ``keep`` (``"\\n"`` for a multi-line rendering)."""
    return _CONTROLS.sub(lambda m: m.group() if m.group() in keep else _escape(m), str(text))
