"""Unit tests of .dbf/.cpg encoding detection (fieldkit.layers.encoding)."""

from __future__ import annotations

import struct

import pytest

from fieldkit.layers import encoding as enc


def make_dbf(values: list[str], codec: str, width: int = 30) -> bytes:
    """A minimal dBASE III file with one numeric and one character field."""
    fields = [(b"ID", b"N", 5), (b"NAME", b"C", width)]
    header_len = 32 + 32 * len(fields) + 1
    record_len = 1 + sum(f[2] for f in fields)
    out = bytearray(struct.pack("<BBBBIHH20x", 3, 99, 1, 1, len(values), header_len, record_len))
    for name, kind, length in fields:
        out += name.ljust(11, b"\0") + kind + b"\0" * 4 + bytes([length, 0]) + b"\0" * 14
    out += b"\r"
    for i, value in enumerate(values):
        out += b" " + str(i).rjust(5).encode() + value.encode(codec).ljust(width, b" ")
    return bytes(out + b"\x1a")


def test_dbf_string_bytes_takes_only_character_fields():
    data = make_dbf(["黄河", "长江"], "gbk")
    sample = enc.dbf_string_bytes(data)
    assert sample == "黄河".encode("gbk") + b"\n" + "长江".encode("gbk")


@pytest.mark.parametrize("codec, expected", [("gbk", "gb18030"), ("utf-8", "utf-8"), ("ascii", "utf-8")])
def test_detect(codec, expected):
    names = ["黄河", "额尔古纳河", "嫩江"] if codec != "ascii" else ["Yellow River"]
    assert enc.detect(enc.dbf_string_bytes(make_dbf(names, codec))) == expected


def test_detect_gbk_sample_decodes_to_chinese():
    sample = enc.dbf_string_bytes(make_dbf(["黄河", "松花江"], "gbk"))
    assert sample.decode(enc.detect(sample)).split("\n") == ["黄河", "松花江"]


@pytest.mark.parametrize(
    "cpg, expected",
    [(b"UTF-8", "utf-8"), (b"GBK\r\n", "gb18030"), (b"936", "gb18030"), (b"65001", "utf-8"),
     (b"ANSI 936", "gb18030"), (b"nonsense-codec", None)],
)
def test_parse_cpg(cpg, expected):
    assert enc.parse_cpg(cpg) == expected


def test_truncated_dbf_gives_empty_sample():
    assert enc.dbf_string_bytes(b"\x03abc") == b""
