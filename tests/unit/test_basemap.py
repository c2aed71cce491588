"""Local basemap archives: the same XYZ tiles from MBTiles and PMTiles v3, and clear errors for bad files.

The archives are built here: MBTiles with sqlite3 (TMS rows), PMTiles once with the ``pmtiles``
package's writer and once by hand (:func:`write_pmtiles_by_hand`) with leaf directories and
run-length entries, so the reader's leaf path is exercised on a small file.
"""

from __future__ import annotations

import gzip
import io
import logging
import sqlite3

import pytest
from PIL import Image
from pmtiles.tile import Compression, Entry, TileType, serialize_directory, serialize_header, zxy_to_tileid
from pmtiles.writer import Writer

from fieldkit import basemap
from fieldkit.basemap import BasemapError, open_tiles
from fieldkit.errors import FieldkitError
from fieldkit.queries import BBox

SEA = (40, 90, 160)


def tile_png(z: int, x: int, y: int) -> bytes:
    """A small PNG whose colour encodes z/x/y; the z3 tiles of the bottom row are all plain sea."""
    color = SEA if z == 3 and y == 7 else (z * 60 % 256, x * 30 % 256, y * 30 % 256)
    buf = io.BytesIO()
    Image.new("RGB", (16, 16), color).save(buf, "PNG")
    return buf.getvalue()


def sample_tiles() -> dict[tuple[int, int, int], bytes]:
    """Every tile of z0-2, and at z3 the western half of the world (x < 4): 21 + 32 tiles."""
    tiles = {(z, x, y): tile_png(z, x, y) for z in range(3) for x in range(1 << z) for y in range(1 << z)}
    tiles.update({(3, x, y): tile_png(3, x, y) for x in range(4) for y in range(8)})
    return tiles


def write_mbtiles(path, tiles) -> None:
    """An MBTiles file (rows flipped to TMS) with a metadata table."""
    conn = sqlite3.connect(path)
    conn.execute("CREATE TABLE metadata (name TEXT, value TEXT)")
    conn.execute("INSERT INTO metadata VALUES ('format', 'png')")
    conn.execute("CREATE TABLE tiles (zoom_level INTEGER, tile_column INTEGER, tile_row INTEGER, tile_data BLOB)")
    conn.executemany("INSERT INTO tiles VALUES (?, ?, ?, ?)",
                     [(z, x, (1 << z) - 1 - y, data) for (z, x, y), data in tiles.items()])
    conn.commit()
    conn.close()


def write_pmtiles(path, tiles, tile_type=TileType.PNG) -> None:
    """A PMTiles v3 archive written by the ``pmtiles`` package (tiles in Hilbert order)."""
    with open(path, "wb") as fh:
        writer = Writer(fh)
        for tile_id, data in sorted((zxy_to_tileid(*zxy), data) for zxy, data in tiles.items()):
            writer.write_tile(tile_id, data)
        writer.finalize(_header(tile_type), {"name": "test"})


def _header(tile_type=TileType.PNG) -> dict:
    return {"tile_type": tile_type, "tile_compression": Compression.NONE, "min_lon_e7": -1800000000,
            "min_lat_e7": -850000000, "max_lon_e7": 1800000000, "max_lat_e7": 850000000,
            "center_zoom": 0, "center_lon_e7": 0, "center_lat_e7": 0}


def write_pmtiles_by_hand(path, tiles, leaf_size: int = 4, tile_gzip: bool = False) -> None:
    """A PMTiles v3 archive whose root points to leaf directories of ``leaf_size`` entries each;
    identical consecutive tiles share one run-length entry. Optionally gzip-compressed tiles."""
    blobs, offsets, entries = bytearray(), {}, []
    for tile_id, data in sorted((zxy_to_tileid(*zxy), data) for zxy, data in tiles.items()):
        data = gzip.compress(data, mtime=0) if tile_gzip else data
        last = entries[-1] if entries else None
        if last and data in offsets and last.offset == offsets[data] and tile_id == last.tile_id + last.run_length:
            last.run_length += 1
            continue
        if data not in offsets:
            offsets[data] = len(blobs)
            blobs += data
        entries.append(Entry(tile_id, offsets[data], len(data), 1))
    assert any(e.run_length > 1 for e in entries)
    leaves, root = b"", []
    for i in range(0, len(entries), leaf_size):
        leaf = serialize_directory(entries[i:i + leaf_size])
        root.append(Entry(entries[i].tile_id, len(leaves), len(leaf), 0))
        leaves += leaf
    root_bytes, meta = serialize_directory(root), gzip.compress(b"{}", mtime=0)
    header = {**_header(), "tile_compression": Compression.GZIP if tile_gzip else Compression.NONE,
              "internal_compression": Compression.GZIP, "clustered": True, "min_zoom": 0, "max_zoom": 3,
              "root_offset": 127, "root_length": len(root_bytes), "metadata_offset": 127 + len(root_bytes),
              "metadata_length": len(meta), "leaf_directory_offset": 127 + len(root_bytes) + len(meta),
              "leaf_directory_length": len(leaves), "addressed_tiles_count": len(tiles),
              "tile_entries_count": len(entries), "tile_contents_count": len(offsets)}
    header["tile_data_offset"] = header["leaf_directory_offset"] + len(leaves)
    header["tile_data_length"] = len(blobs)
    with open(path, "wb") as fh:
        fh.write(serialize_header(header) + root_bytes + meta + leaves + bytes(blobs))


@pytest.fixture(scope="module")
def archives(tmp_path_factory):
    base = tmp_path_factory.mktemp("tiles")
    tiles = sample_tiles()
    write_mbtiles(base / "t.mbtiles", tiles)
    write_pmtiles(base / "t.pmtiles", tiles)
    write_pmtiles_by_hand(base / "leaves.pmtiles", tiles)
    write_pmtiles_by_hand(base / "gz.pmtiles", tiles, leaf_size=7, tile_gzip=True)
    return base, tiles


ALL_ADDRESSES = [(z, x, y) for z in range(5) for x in range(1 << z) for y in range(1 << z)]


@pytest.mark.parametrize("name", ["t.mbtiles", "t.pmtiles", "leaves.pmtiles", "gz.pmtiles"])
def test_every_address_matches_the_tiles_written(archives, name):
    base, tiles = archives
    source = open_tiles(base / name)
    assert source.zoom_range() == (0, 3)
    for zxy in ALL_ADDRESSES:  # z0-4: present tiles exact, absent (east half of z3, all z4) None
        assert source.get(*zxy) == tiles.get(zxy), zxy


def test_mbtiles_and_pmtiles_agree_and_rows_are_flipped(archives):
    base, _ = archives
    mb, pm = open_tiles(base / "t.mbtiles"), open_tiles(base / "t.pmtiles")
    assert (mb.kind, pm.kind) == ("MBTiles", "PMTiles")
    north_west = mb.get(3, 0, 0)
    assert north_west == pm.get(3, 0, 0) == tile_png(3, 0, 0) != mb.get(3, 0, 7)
    with Image.open(io.BytesIO(pm.get(3, 1, 7))) as img:  # XYZ y=7 is the southern row: the sea
        assert img.getpixel((0, 0)) == SEA


def test_out_of_range_addresses_give_none(archives):
    base, _ = archives
    for name in ("t.mbtiles", "t.pmtiles"):
        source = open_tiles(base / name)
        for zxy in [(-1, 0, 0), (1, 2, 0), (1, 0, 2), (2, -1, 0), (31, 0, 0), (40, 1, 1)]:
            assert source.get(*zxy) is None


def test_format_detected_by_magic_not_extension(archives, tmp_path):
    base, tiles = archives
    renamed = tmp_path / "really-pmtiles.mbtiles"
    renamed.write_bytes((base / "t.pmtiles").read_bytes())
    assert basemap.detect_format(renamed) == "pmtiles"
    assert open_tiles(renamed).get(2, 1, 3) == tiles[(2, 1, 3)]
    text = tmp_path / "notes.pmtiles"
    text.write_text("hello, not tiles")
    with pytest.raises(BasemapError, match=r"notes\.pmtiles.*not an MBTiles"):
        open_tiles(text)
    with pytest.raises(BasemapError, match="cannot read"):
        open_tiles(tmp_path / "absent.pmtiles")


def test_mime_from_magic_bytes():
    assert basemap.mime(tile_png(0, 0, 0)) == "image/png"
    buf = io.BytesIO()
    Image.new("RGB", (4, 4)).save(buf, "JPEG")
    assert basemap.mime(buf.getvalue()) == "image/jpeg"
    assert basemap.mime(b"RIFF\x00\x00\x00\x00WEBPVP8 ") == "image/webp"
    assert basemap.mime(b"<svg onload=alert(1)>") == "application/octet-stream"


def _corrupt(path, offset: int, data: bytes):
    raw = bytearray(path.read_bytes())
    raw[offset:offset + len(data)] = data
    path.write_bytes(bytes(raw))


def test_corrupt_pmtiles_raise_errors_naming_file_and_reason(archives, tmp_path):
    base, _ = archives
    good = (base / "leaves.pmtiles").read_bytes()
    cases = {
        "truncated header": (good[:60], "shorter than the 127-byte header"),
        "version 2": (good[:7] + b"\x02" + good[8:], "version 2 is not supported"),
        "bad tile type": (good[:99] + b"\x09" + good[100:], "corrupt header"),
        "vector": (good[:99] + bytes([TileType.MVT.value]) + good[100:], "not a raster"),
        "root outside": (good[:8] + (10**9).to_bytes(8, "little") + good[16:], "outside the file"),
        "root too big": (good[:16] + (10**9).to_bytes(8, "little") + good[24:], "larger than allowed"),
        "root garbage": (good[:127] + b"\x1f\x8b\x08\x00" + b"\xff" * 12 + good[143:], "corrupt gzip"),
    }
    for name, (data, reason) in cases.items():
        path = tmp_path / f"{name.replace(' ', '_')}.pmtiles"
        path.write_bytes(data)
        with pytest.raises(BasemapError, match=reason) as info:
            open_tiles(path)
        assert path.name in str(info.value) and isinstance(info.value, FieldkitError), name


def test_corrupt_leaf_and_truncated_tiles_fail_on_read(archives, tmp_path):
    base, tiles = archives
    good = (base / "leaves.pmtiles").read_bytes()
    source = open_tiles(base / "leaves.pmtiles")
    leaf_at = source.header["leaf_directory_offset"]
    bad_leaf = tmp_path / "bad_leaf.pmtiles"
    bad_leaf.write_bytes(good[:leaf_at] + b"\x00" * 40 + good[leaf_at + 40:])
    reader = open_tiles(bad_leaf)  # header and root are fine
    with pytest.raises(BasemapError, match="bad_leaf.pmtiles.*corrupt gzip"):
        reader.get(0, 0, 0)
    short = tmp_path / "short.pmtiles"
    short.write_bytes(good[:-200])
    reader = open_tiles(short)
    with pytest.raises(BasemapError, match="outside the file"):
        for zxy in sorted(tiles, key=lambda zxy: zxy_to_tileid(*zxy)):
            reader.get(*zxy)


def test_directory_parser_rejects_impossible_counts():
    with pytest.raises(ValueError, match="cannot fit"):
        basemap.parse_directory(b"\xff\xff\x03")
    with pytest.raises(EOFError):
        basemap.parse_directory(b"\x02\x01")


def test_mbtiles_without_tiles_table_or_vector(tmp_path):
    empty = tmp_path / "empty.mbtiles"
    sqlite3.connect(empty).execute("CREATE TABLE other (a)").connection.commit()
    with pytest.raises(BasemapError, match="empty.mbtiles.*not a readable MBTiles"):
        open_tiles(empty)
    vector = tmp_path / "vector.mbtiles"
    write_mbtiles(vector, {(0, 0, 0): b"\x1a\x00"})
    conn = sqlite3.connect(vector)
    conn.execute("UPDATE metadata SET value='pbf' WHERE name='format'")
    conn.commit()
    conn.close()
    with pytest.raises(BasemapError, match="vector tiles"):
        open_tiles(vector)


def test_cached_source_reopens_when_the_file_changes(tmp_path):
    path = tmp_path / "base.pmtiles"
    write_pmtiles(path, {(0, 0, 0): tile_png(0, 0, 0)})
    first = basemap.cached_tiles(path)
    assert basemap.cached_tiles(path) is first
    write_pmtiles(path, {(0, 0, 0): tile_png(1, 1, 1), (1, 0, 0): tile_png(1, 0, 0)})
    second = basemap.cached_tiles(path)
    assert second.get(0, 0, 0) == tile_png(1, 1, 1) and second.get(1, 0, 0) == tile_png(1, 0, 0)


@pytest.mark.parametrize("name", ["t.mbtiles", "leaves.pmtiles"])
def test_report_map_draws_tiles_from_either_archive(archives, name):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from fieldkit.reports.tiles import draw_basemap

    base, _ = archives
    fig, ax = plt.subplots()
    try:
        drawn = draw_basemap(ax, str(base / name), BBox(-170.0, -80.0, -10.0, 80.0), 400)
    finally:
        plt.close(fig)
    assert drawn > 0


def test_report_map_skips_a_corrupt_archive_with_a_warning(tmp_path, caplog):
    from fieldkit.reports.tiles import draw_basemap

    path = tmp_path / "broken.pmtiles"
    path.write_bytes(b"PMTiles\x03" + b"\x00" * 20)
    with caplog.at_level(logging.WARNING, logger="fieldkit.reports.tiles"):
        assert draw_basemap(None, str(path), BBox(0, 0, 10, 10), 400) == 0
    assert "broken.pmtiles" in caplog.text
