"""The per-packet record is defined twice, once per language: the two definitions must agree."""

from __future__ import annotations

import struct

from pcap4py.engine import jvm, record


def test_python_and_java_name_the_same_fields_at_the_same_offsets():
    java = [str(line).split() for line in jvm.jclass("pcap4py.helper.Record").layout()]
    python = [(name, record.OFFSETS[name], struct.calcsize("<" + code)) for name, code in record.FIELDS]
    assert [(name, int(offset), int(size)) for name, offset, size in java] == python
    assert sum(size for _, _, size in python) == record.SIZE == 80


def test_each_index_constant_names_its_field():
    names = [name for name, _ in record.FIELDS]
    for constant, index in vars(record).items():
        if constant.isupper() and isinstance(index, int) and constant not in ("SIZE", "TS_OUT_OF_RANGE"):
            assert names[index] == constant.lower(), constant


def test_python_and_java_map_link_types_alike():
    from pcap4py.engine.numbers import LINKTYPE_TO_DLT

    java = dict(tuple(map(int, str(row).split())) for row in jvm.jclass("pcap4py.helper.LinkTypes").table())
    assert java == LINKTYPE_TO_DLT
    assert LINKTYPE_TO_DLT[106] == 19  # LINKTYPE_ATM_CLIP is DLT_ATM_CLIP on Linux
