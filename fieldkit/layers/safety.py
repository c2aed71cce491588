"""Checks that run before GDAL sees a file: hostile zips, XML entities, forbidden drivers.

Zips are never extracted: after :func:`check_zip` passes, readers open members through GDAL's
``/vsizip/`` and read small sidecar files (``.cpg``, ``.dbf``) with :mod:`zipfile`.
"""

from __future__ import annotations

import re
import stat
import zipfile
from pathlib import Path, PurePosixPath

from ..errors import InputError, UnsafeFileError

MAX_ZIP_ENTRIES = 1000
MAX_ZIP_TOTAL_BYTES = 2 * 1024**3
MAX_ZIP_RATIO = 200  # uncompressed / compressed, for entries above RATIO_MIN_BYTES
RATIO_MIN_BYTES = 1024**2
NESTED_ARCHIVE_SUFFIXES = {".zip", ".kmz", ".gz", ".tgz", ".tar", ".7z", ".rar", ".bz2", ".xz"}
FORBIDDEN_SUFFIXES = {".vrt", ".ovr", ".xml.aux"}
XML_SCAN_BYTES = 64 * 1024**2

# GDAL driver names each source format may be opened with.
ALLOWED_DRIVERS = {
    "geojson": {"GeoJSON"},
    "shapefile": {"ESRI Shapefile"},
    "gpkg": {"GPKG"},
    "kml": {"KML", "LIBKML"},
}


def check_not_empty(path: Path) -> None:
    """Refuse a missing or 0-byte file."""
    if not path.is_file():
        raise InputError(f"{path}: no such file")
    if path.stat().st_size == 0:
        raise InputError(f"{path}: the file is empty (0 bytes)")


def check_driver(path: Path, source_format: str, driver: str) -> None:
    """Refuse a file GDAL opened with a driver not allowed for its format."""
    allowed = ALLOWED_DRIVERS.get(source_format, set())
    if driver not in allowed:
        raise UnsafeFileError(
            f"{path}: opened by GDAL driver {driver!r}, but a {source_format} file must be one of "
            f"{sorted(allowed)}; refusing it"
        )


def check_zip(path: Path) -> list[zipfile.ZipInfo]:
    """Check a zip's directory (no decompression) and return its file entries.

    Refuses zip slip (``..``, absolute paths), symlinks, nested archives, ``.vrt`` files,
    encrypted entries, too many entries, too much uncompressed data and high ratios.
    """
    try:
        with zipfile.ZipFile(path) as zf:
            infos = zf.infolist()
    except (zipfile.BadZipFile, OSError) as exc:
        raise InputError(f"{path}: not a readable zip file ({exc})") from exc
    if len(infos) > MAX_ZIP_ENTRIES:
        raise UnsafeFileError(f"{path}: zip has {len(infos)} entries (limit {MAX_ZIP_ENTRIES}); refusing it")
    total = 0
    for info in infos:
        _check_zip_entry(path, info)
        total += info.file_size
        if total > MAX_ZIP_TOTAL_BYTES:
            raise UnsafeFileError(
                f"{path}: zip would expand to more than {MAX_ZIP_TOTAL_BYTES // 1024**2} MiB; refusing it"
            )
    return [i for i in infos if not i.is_dir()]


def _check_zip_entry(path: Path, info: zipfile.ZipInfo) -> None:
    name = info.filename
    pure = PurePosixPath(name.replace("\\", "/"))
    if name.startswith(("/", "\\")) or re.match(r"^[A-Za-z]:", name) or pure.is_absolute():
        raise UnsafeFileError(f"{path}: zip entry {name!r} has an absolute path; refusing it")
    if ".." in pure.parts:
        raise UnsafeFileError(f"{path}: zip entry {name!r} points outside the archive (..); refusing it")
    if stat.S_ISLNK(info.external_attr >> 16):
        raise UnsafeFileError(f"{path}: zip entry {name!r} is a symbolic link; refusing it")
    if info.flag_bits & 0x1:
        raise UnsafeFileError(f"{path}: zip entry {name!r} is encrypted; refusing it")
    lower = name.lower()
    if any(lower.endswith(s) for s in NESTED_ARCHIVE_SUFFIXES):
        raise UnsafeFileError(f"{path}: zip entry {name!r} is a nested archive; refusing it")
    if any(lower.endswith(s) for s in FORBIDDEN_SUFFIXES):
        raise UnsafeFileError(f"{path}: zip entry {name!r} is a GDAL virtual file (.vrt); refusing it")
    if info.file_size > RATIO_MIN_BYTES and info.file_size > MAX_ZIP_RATIO * max(info.compress_size, 1):
        ratio = info.file_size / max(info.compress_size, 1)
        raise UnsafeFileError(
            f"{path}: zip entry {name!r} has compression ratio {ratio:.0f}:1 "
            f"(limit {MAX_ZIP_RATIO}:1), a zip bomb; refusing it"
        )


MAGIC = {"shapefile": b"\x00\x00\x27\x0a", "gpkg": b"SQLite format 3\x00"}


def check_magic(name: str, source_format: str, head: bytes) -> None:
    """Refuse a shapefile or GeoPackage whose first bytes are not that format's signature."""
    magic = MAGIC.get(source_format)
    if magic and not head.startswith(magic):
        raise UnsafeFileError(f"{name}: does not start with the {source_format} signature; "
                              f"refusing a file that is not what its name says")


_DOCTYPE = re.compile(rb"<!\s*(DOCTYPE|ENTITY)", re.IGNORECASE)
_NETWORK_LINK = re.compile(rb"<(\w+:)?NetworkLink[\s>]")


def check_xml_bytes(name: str, data: bytes) -> None:
    """Refuse XML (KML) with a DTD or entity declarations (XXE, billion laughs) or NetworkLinks."""
    if _DOCTYPE.search(data):
        raise UnsafeFileError(
            f"{name}: XML declares a DOCTYPE or ENTITY (external entities / entity expansion); refusing it"
        )
    if b"OGRVRTDataSource" in data:
        raise UnsafeFileError(f"{name}: is a GDAL virtual file (VRT), not KML; refusing it")
    if _NETWORK_LINK.search(data):
        raise UnsafeFileError(f"{name}: KML contains a NetworkLink (fetches remote content); refusing it")


def check_xml_file(path: Path) -> None:
    """:func:`check_xml_bytes` on a file on disk (the first :data:`XML_SCAN_BYTES`)."""
    with open(path, "rb") as fh:
        data = fh.read(XML_SCAN_BYTES)
    check_xml_bytes(str(path), data)
