"""Text encodings of shapefile attribute tables and CSV files.

A ``.cpg`` names the ``.dbf`` encoding when present. Otherwise the raw bytes of the string
fields decide: valid UTF-8 (or plain ASCII) is UTF-8, anything else is taken as GB18030 (a
superset of GBK/GB2312, which is what Chinese agencies hand over), with charset-normalizer as
a last resort when the bytes are not valid GB18030 either.
"""

from __future__ import annotations

import codecs
import struct

import charset_normalizer

SAMPLE_BYTES = 4 * 1024**2

_CPG_ALIASES = {
    "65001": "utf-8",
    "936": "gb18030",
    "ansi 936": "gb18030",
    "gbk": "gb18030",
    "gb2312": "gb18030",
    "cp936": "gb18030",
    "950": "big5",
    "ansi 950": "big5",
    "1252": "cp1252",
    "ansi 1252": "cp1252",
    "88591": "latin-1",
    "8859_1": "latin-1",
}


def normalise(name: str) -> str:
    """A Python codec name for ``name`` (GBK/GB2312/CP936 widen to GB18030); raises LookupError."""
    key = name.strip().lower()
    codec = _CPG_ALIASES.get(key, key)
    return codecs.lookup(codec).name


def parse_cpg(text: bytes) -> str | None:
    """The codec a ``.cpg`` file names, or None when it names nothing Python knows."""
    try:
        return normalise(text.decode("ascii", "replace"))
    except LookupError:
        return None


def dbf_string_bytes(data: bytes, limit: int = SAMPLE_BYTES) -> bytes:
    """Concatenated raw bytes of the character (``C``) fields of a ``.dbf`` (first records only)."""
    if len(data) < 32:
        return b""
    n_records, header_len, record_len = struct.unpack("<IHH", data[4:12])
    spans, offset = [], 1  # byte 0 of each record is the deletion flag
    for pos in range(32, min(header_len, len(data)) - 31, 32):
        desc = data[pos : pos + 32]
        if desc[0] == 0x0D:
            break
        length = desc[16]
        if desc[11:12] == b"C":
            spans.append((offset, offset + length))
        offset += length
    if not spans or record_len == 0:
        return b""
    chunks: list[bytes] = []
    total = 0
    for i in range(n_records):
        start = header_len + i * record_len
        record = data[start : start + record_len]
        if len(record) < record_len or total > limit:
            break
        for a, b in spans:
            value = record[a:b].strip(b" \x00")
            if value:
                chunks.append(value)
                total += len(value)
    return b"\n".join(chunks)


def detect(sample: bytes) -> str:
    """``utf-8`` when ``sample`` is valid UTF-8 (or ASCII), else ``gb18030`` (or a best guess)."""
    if sample.startswith(codecs.BOM_UTF8):
        return "utf-8-sig"
    try:
        sample.decode("utf-8")
        return "utf-8"
    except UnicodeDecodeError:
        pass
    try:
        sample.decode("gb18030")
        return "gb18030"
    except UnicodeDecodeError:
        best = charset_normalizer.from_bytes(sample).best()
        return normalise(best.encoding) if best is not None else "gb18030"


def decodes(sample: bytes, encoding: str) -> bool:
    """Whether ``sample`` decodes without error in ``encoding``."""
    try:
        sample.decode(encoding)
        return True
    except (UnicodeDecodeError, LookupError):
        return False
