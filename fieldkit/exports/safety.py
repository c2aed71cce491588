"""Output hygiene shared by every export: spreadsheet cells, XML text and archive member names.

- Spreadsheet and CSV cells that start like a formula (``= + - @``, tab, CR, or their full-width
  forms) get a leading ``'`` so Excel, WPS and LibreOffice show them as text (CWE-1236).
- Characters XML 1.0 forbids (``\\x00``-``\\x08``, ``\\x0b``, ``\\x0c``, ``\\x0e``-``\\x1f``) are
  removed: openpyxl refuses them and they would break XLSX and KML files.
- Zip member names are one safe path component each; Chinese is kept, collisions get ``(2)``.
"""

from __future__ import annotations

import posixpath
import re
import unicodedata
from typing import Any

from ..photos.names import clean_name

#: First characters that make a spreadsheet treat a cell as a formula or command. The
#: full-width forms are included because some spreadsheet tools fold them to ASCII on entry.
FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r", "\n", "＝", "＋", "－", "＠")
XML_ILLEGAL_RE = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")
_MEMBER_BAD_RE = re.compile(r'[\\/:*?"<>|\x00-\x1f\x7f]')
MEMBER_NAME_MAX = 120


def strip_xml_illegal(text: str) -> str:
    """``text`` without the control characters XML 1.0 (and so XLSX, KML) cannot hold."""
    return XML_ILLEGAL_RE.sub("", text)


def neutralise_cell(value: Any) -> Any:
    """A spreadsheet/CSV cell value made inert: text starting like a formula gets a ``'`` prefix.

    Non-text values (numbers, dates, ``None``) pass unchanged, so ``-105.2`` stays a number.
    """
    if not isinstance(value, str):
        return value
    text = strip_xml_illegal(value)
    return "'" + text if text.startswith(FORMULA_PREFIXES) else text


def safe_member_name(name: str, used: set[str] | None = None, *, default: str = "photo") -> str:
    """One archive member component from a client file name: no directories, no ``..``, no
    drive letters or reserved characters, NFC, at most :data:`MEMBER_NAME_MAX` characters.

    With ``used`` (a set of lower-cased names already taken, updated here), a duplicate becomes
    ``name (2).ext``, ``name (3).ext`` and so on.
    """
    raw = (name or "").replace("\\", "/").rsplit("/", 1)[-1]
    stem, ext = posixpath.splitext(raw)
    if len(ext) > 10 or not stem.strip(" ."):
        stem, ext = raw, ""
    stem = _MEMBER_BAD_RE.sub("_", unicodedata.normalize("NFC", clean_name(stem))).strip(" .")
    ext = _MEMBER_BAD_RE.sub("_", clean_name(ext)) if ext else ""
    if not stem or stem == "unnamed" and not raw.strip(" ."):
        stem, ext = default, ""
    stem = stem[: MEMBER_NAME_MAX - len(ext)]
    candidate = stem + ext
    if used is None:
        return candidate
    counter = 2
    while candidate.lower() in used:
        candidate = f"{stem} ({counter}){ext}"
        counter += 1
    used.add(candidate.lower())
    return candidate


def is_safe_member(name: str) -> bool:
    """Whether a zip member name is a plain relative path (no ``..``, no absolute or drive path)."""
    if not name or "\\" in name or "\x00" in name or name.startswith("/"):
        return False
    if re.match(r"^[A-Za-z]:", name):
        return False
    parts = name.split("/")
    return all(p not in ("", ".", "..") for p in parts[:-1]) and parts[-1] not in ("", ".", "..")
