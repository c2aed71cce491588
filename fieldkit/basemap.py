"""Local basemap tiles: one reader for MBTiles and PMTiles (v3) files, addressed in XYZ.

``open_tiles(path)`` looks at the file's first bytes (``SQLite format 3`` or ``PMTiles``), not
only at its name, and returns a :class:`TileSource` whose ``get(z, x, y)`` gives a tile's bytes
or None. MBTiles store rows in TMS order (flipped here); PMTiles address tiles by their position
on the Hilbert curve and keep them behind gzip-compressed, varint-encoded directories (root
directory, then at most three levels of leaf directories, run-length entries), read here with
size limits so a corrupt or hostile file cannot make the reader allocate without bound.
Unreadable or corrupt files raise :class:`BasemapError`, which names the file and the reason.
"""

from __future__ import annotations

import io
import sqlite3
import threading
import zlib
from pathlib import Path

from pmtiles.tile import Compression, Entry, TileType, deserialize_header, find_tile, zxy_to_tileid

from .errors import ConfigError

MAX_ZOOM = 30
SQLITE_MAGIC = b"SQLite format 3\x00"
PMTILES_MAGIC = b"PMTiles"
PMTILES_HEADER = 127
MAX_DIRECTORY_BYTES = 8 << 20  # decompressed size of one PMTiles directory
MAX_TILE_BYTES = 16 << 20
MAX_LEAF_DEPTH = 3
RASTER_TYPES = {TileType.PNG, TileType.JPEG, TileType.WEBP, TileType.AVIF}


class BasemapError(ConfigError):
    """The configured basemap file cannot be read (missing, not MBTiles/PMTiles, corrupt)."""


def is_local(url: str | None) -> bool:
    """True when ``url`` names a local file (no ``scheme://``), i.e. a tile archive to open."""
    return bool(url) and "://" not in url


def in_range(z: int, x: int, y: int) -> bool:
    """Whether ``z/x/y`` is a valid XYZ tile address (0 ≤ z ≤ :data:`MAX_ZOOM`, x and y < 2^z)."""
    return 0 <= z <= MAX_ZOOM and 0 <= x < (1 << z) and 0 <= y < (1 << z)


def mime(data: bytes) -> str:
    """The MIME type of a raster tile, from its magic bytes (``application/octet-stream`` if unknown)."""
    if data[:8] == b"\x89PNG\r\n\x1a\n":
        return "image/png"
    if data[:3] == b"\xff\xd8\xff":
        return "image/jpeg"
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "image/webp"
    if data[4:12] in (b"ftypavif", b"ftypavis"):
        return "image/avif"
    return "application/octet-stream"


def detect_format(path: str | Path) -> str:
    """``"mbtiles"`` or ``"pmtiles"`` from the file's first bytes; :class:`BasemapError` otherwise."""
    path = Path(path)
    try:
        with open(path, "rb") as fh:
            head = fh.read(16)
    except OSError as exc:
        raise BasemapError(f"basemap {path}: cannot read the file ({exc.strerror or exc})") from exc
    if head.startswith(SQLITE_MAGIC):
        return "mbtiles"
    if head.startswith(PMTILES_MAGIC):
        return "pmtiles"
    raise BasemapError(f"basemap {path}: not an MBTiles (SQLite) or PMTiles file")


def open_tiles(path: str | Path) -> TileSource:
    """Open the MBTiles or PMTiles file at ``path``; raise :class:`BasemapError` if it is unusable."""
    kind = detect_format(path)
    return MBTilesSource(Path(path)) if kind == "mbtiles" else PMTilesSource(Path(path))


class TileSource:
    """A read-only tile archive addressed in XYZ (``y`` counted from the north)."""

    kind = ""

    def __init__(self, path: Path) -> None:
        self.path = path

    def get(self, z: int, x: int, y: int) -> bytes | None:
        """The tile's bytes, or None when the archive has no such tile or the address is out of range."""
        raise NotImplementedError

    def zoom_range(self) -> tuple[int, int] | None:
        """(min, max) zoom present in the archive, or None when it holds no tiles."""
        raise NotImplementedError

    mime = staticmethod(mime)

    def _error(self, reason: str) -> BasemapError:
        return BasemapError(f"basemap {self.path} ({self.kind}): {reason}")


class MBTilesSource(TileSource):
    """An MBTiles file (SQLite, table ``tiles``, rows in TMS order). One connection per read."""

    kind = "MBTiles"

    def __init__(self, path: Path) -> None:
        super().__init__(path)
        self._query("SELECT 1 FROM tiles LIMIT 1")  # no tiles table / corrupt → BasemapError now
        fmt = self._metadata("format")
        if fmt and fmt.lower() in ("pbf", "mvt"):
            raise self._error("holds vector tiles (pbf); a basemap must be raster (PNG, JPEG, WebP)")

    def _query(self, sql: str, params: tuple = ()) -> list[tuple]:
        try:
            conn = sqlite3.connect(f"file:{self.path}?mode=ro", uri=True)
        except sqlite3.Error as exc:
            raise self._error(f"cannot open ({exc})") from exc
        try:
            return conn.execute(sql, params).fetchall()
        except sqlite3.Error as exc:
            raise self._error(f"not a readable MBTiles database ({exc})") from exc
        finally:
            conn.close()

    def _metadata(self, name: str) -> str | None:
        try:
            rows = self._query("SELECT value FROM metadata WHERE name=?", (name,))
        except BasemapError:  # the metadata table is optional for reading tiles
            return None
        return str(rows[0][0]) if rows and rows[0][0] is not None else None

    def get(self, z: int, x: int, y: int) -> bytes | None:
        if not in_range(z, x, y):
            return None
        rows = self._query("SELECT tile_data FROM tiles WHERE zoom_level=? AND tile_column=? AND tile_row=?",
                           (z, x, (1 << z) - 1 - y))
        return bytes(rows[0][0]) if rows and rows[0][0] is not None else None

    def zoom_range(self) -> tuple[int, int] | None:
        row = self._query("SELECT min(zoom_level), max(zoom_level) FROM tiles")[0]
        return None if row[0] is None else (int(row[0]), int(row[1]))


class PMTilesSource(TileSource):
    """A PMTiles v3 archive. The header and root directory are read once; leaf directories are cached."""

    kind = "PMTiles"
    LEAF_CACHE = 64

    def __init__(self, path: Path) -> None:
        super().__init__(path)
        try:
            self.size = path.stat().st_size
        except OSError as exc:
            raise self._error(f"cannot read the file ({exc.strerror or exc})") from exc
        if self.size < PMTILES_HEADER:
            raise self._error("the file is shorter than the 127-byte header")
        raw = self._read(0, PMTILES_HEADER)
        if raw[7] != 3:
            raise self._error(f"spec version {raw[7]} is not supported (only version 3)")
        try:
            self.header = deserialize_header(raw)
        except ValueError as exc:  # an unknown compression or tile type code
            raise self._error(f"corrupt header ({exc})") from exc
        if self.header["tile_type"] not in RASTER_TYPES:
            raise self._error(f"tile type {self.header['tile_type'].name} is not a raster image type")
        if self.header["internal_compression"] not in (Compression.GZIP, Compression.NONE):
            raise self._error(f"directory compression {self.header['internal_compression'].name} "
                              "is not supported (gzip or none)")
        self.root = self._directory(self.header["root_offset"], self.header["root_length"])
        self._leaves: dict[tuple[int, int], list[Entry]] = {}
        self._lock = threading.Lock()

    def _read(self, offset: int, length: int) -> bytes:
        if offset < 0 or length < 0 or offset + length > self.size:
            raise self._error(f"a section ({offset}+{length} bytes) lies outside the file ({self.size} bytes)")
        try:
            with open(self.path, "rb") as fh:
                fh.seek(offset)
                data = fh.read(length)
        except OSError as exc:
            raise self._error(f"cannot read the file ({exc.strerror or exc})") from exc
        if len(data) != length:
            raise self._error("the file is truncated")
        return data

    def _directory(self, offset: int, length: int) -> list[Entry]:
        if length > MAX_DIRECTORY_BYTES:
            raise self._error(f"a directory of {length} bytes is larger than allowed")
        raw = self._read(offset, length)
        if self.header["internal_compression"] == Compression.GZIP:
            raw = self._gunzip(raw, MAX_DIRECTORY_BYTES, "directory")
        try:
            return parse_directory(raw)
        except (EOFError, ValueError) as exc:
            raise self._error(f"corrupt directory at byte {offset} ({exc})") from exc

    def _gunzip(self, data: bytes, limit: int, what: str) -> bytes:
        inflater = zlib.decompressobj(16 + zlib.MAX_WBITS)
        try:
            out = inflater.decompress(data, limit + 1)
        except zlib.error as exc:
            raise self._error(f"corrupt gzip data in a {what} ({exc})") from exc
        if len(out) > limit:
            raise self._error(f"a {what} decompresses to more than {limit} bytes")
        return out

    def _leaf(self, offset: int, length: int) -> list[Entry]:
        key = (offset, length)
        with self._lock:
            cached = self._leaves.get(key)
        if cached is None:
            cached = self._directory(self.header["leaf_directory_offset"] + offset, length)
            with self._lock:
                if len(self._leaves) >= self.LEAF_CACHE:
                    self._leaves.pop(next(iter(self._leaves)))
                self._leaves[key] = cached
        return cached

    def get(self, z: int, x: int, y: int) -> bytes | None:
        if not in_range(z, x, y) or not self.header["min_zoom"] <= z <= self.header["max_zoom"]:
            return None
        tile_id = zxy_to_tileid(z, x, y)
        entries = self.root
        for _depth in range(MAX_LEAF_DEPTH + 1):
            entry = find_tile(entries, tile_id)
            if entry is None:
                return None
            if entry.run_length > 0:
                return self._tile(entry)
            entries = self._leaf(entry.offset, entry.length)
        raise self._error(f"leaf directories nested deeper than {MAX_LEAF_DEPTH} levels")

    def _tile(self, entry: Entry) -> bytes:
        if entry.length > MAX_TILE_BYTES:
            raise self._error(f"a tile of {entry.length} bytes is larger than allowed")
        data = self._read(self.header["tile_data_offset"] + entry.offset, entry.length)
        if self.header["tile_compression"] == Compression.GZIP:
            data = self._gunzip(data, MAX_TILE_BYTES, "tile")
        return data

    def zoom_range(self) -> tuple[int, int] | None:
        if not self.root:
            return None
        return int(self.header["min_zoom"]), int(self.header["max_zoom"])


def parse_directory(raw: bytes) -> list[Entry]:
    """Decode an uncompressed PMTiles v3 directory: count, then tile-id deltas, run lengths,
    lengths and offsets as varint columns (offset 0 means "right after the previous tile")."""
    buf = io.BytesIO(raw)
    count = _varint(buf)
    if count > len(raw):  # every entry takes at least four bytes
        raise ValueError(f"{count} entries cannot fit in {len(raw)} bytes")
    entries, last = [], 0
    for _ in range(count):
        last += _varint(buf)
        entries.append(Entry(last, 0, 0, 0))
    for entry in entries:
        entry.run_length = _varint(buf)
    for entry in entries:
        entry.length = _varint(buf)
    for i, entry in enumerate(entries):
        value = _varint(buf)
        if value == 0 and i == 0:
            raise ValueError("the first entry has no offset")
        entry.offset = entries[i - 1].offset + entries[i - 1].length if value == 0 else value - 1
    return entries


def _varint(buf: io.BytesIO) -> int:
    result = shift = 0
    while True:
        byte = buf.read(1)
        if not byte:
            raise EOFError("unexpected end of a varint")
        result |= (byte[0] & 0x7F) << shift
        if not byte[0] & 0x80:
            return result
        shift += 7
        if shift > 63:
            raise ValueError("varint longer than 64 bits")


_CACHE: dict[tuple[str, int, int], TileSource] = {}
_CACHE_LOCK = threading.Lock()


def cached_tiles(path: str | Path) -> TileSource:
    """:func:`open_tiles`, reusing the source while the file's size and mtime stay the same."""
    try:
        st = Path(path).stat()
    except OSError as exc:
        raise BasemapError(f"basemap {path}: cannot read the file ({exc.strerror or exc})") from exc
    key = (str(path), st.st_mtime_ns, st.st_size)
    with _CACHE_LOCK:
        source = _CACHE.get(key)
    if source is None:
        source = open_tiles(path)
        with _CACHE_LOCK:
            _CACHE.clear()  # one basemap per process: drop stale versions
            _CACHE[key] = source
    return source


__all__ = ["BasemapError", "TileSource", "cached_tiles", "detect_format", "in_range", "is_local", "mime",
           "open_tiles", "parse_directory"]
