"""Raster tiles from a local MBTiles or PMTiles file under the overview map (offline; never downloads).

The file is read through :mod:`fieldkit.basemap`. A remote URL (anything with ``://``), a missing
file or a file that is not a readable tile archive is skipped (with a logged warning for a file
that exists but cannot be read): the basemap is decoration, the map is complete without it.
"""

from __future__ import annotations

import io
import logging
import math
from pathlib import Path

import numpy as np
from PIL import Image, UnidentifiedImageError

from ..basemap import BasemapError, TileSource, is_local, open_tiles
from ..geo import chinese
from ..queries import BBox

MAX_TILES = 64
log = logging.getLogger(__name__)


def tile_bounds(z: int, x: int, y: int) -> tuple[float, float, float, float]:
    """WGS84-style lon/lat bounds (west, south, east, north) of XYZ tile ``z/x/y``."""
    n = 1 << z

    def lat(row: int) -> float:
        return math.degrees(math.atan(math.sinh(math.pi * (1 - 2 * row / n))))

    return x / n * 360 - 180, lat(y + 1), (x + 1) / n * 360 - 180, lat(y)


def _tile_xy(lon: float, lat: float, z: int) -> tuple[int, int]:
    n = 1 << z
    lat = max(min(lat, 85.05), -85.05)
    x = int((lon + 180) / 360 * n)
    y = int((1 - math.asinh(math.tan(math.radians(lat))) / math.pi) / 2 * n)
    return min(max(x, 0), n - 1), min(max(y, 0), n - 1)


def choose_zoom(extent: BBox, width_px: int, zooms: tuple[int, int]) -> int:
    """The zoom whose tiles best match the map's resolution, capped at :data:`MAX_TILES` tiles."""
    deg_per_px = extent.width / max(width_px, 1)
    z = round(math.log2(360 / (256 * deg_per_px))) if deg_per_px > 0 else zooms[1]
    z = min(max(z, zooms[0]), zooms[1])
    while z > zooms[0]:
        x0, y0 = _tile_xy(extent.minx, extent.maxy, z)
        x1, y1 = _tile_xy(extent.maxx, extent.miny, z)
        if (x1 - x0 + 1) * (y1 - y0 + 1) <= MAX_TILES:
            break
        z -= 1
    return z


def draw_basemap(ax, source: str, extent: BBox, width_px: int, datum: str = "wgs84") -> int:
    """Draw the tiles of ``source`` (a .mbtiles or .pmtiles path) covering ``extent``; return tiles drawn."""
    if not is_local(source) or not Path(source).is_file():
        return 0
    try:
        return _draw(ax, open_tiles(source), extent, width_px, datum)
    except BasemapError as exc:
        log.warning("report map drawn without basemap: %s", exc)
        return 0


def _draw(ax, tiles: TileSource, extent: BBox, width_px: int, datum: str) -> int:
    zooms = tiles.zoom_range()
    if zooms is None:
        return 0
    dx = dy = 0.0
    if datum == "gcj02":  # tiles drawn in GCJ-02: shift them back by the offset at the centre
        cx, cy = (extent.minx + extent.maxx) / 2, (extent.miny + extent.maxy) / 2
        gx, gy = chinese.wgs84_to_gcj02(np.array([cx]), np.array([cy]))
        dx, dy = float(gx[0]) - cx, float(gy[0]) - cy
    z = choose_zoom(extent, width_px, zooms)
    x0, y0 = _tile_xy(extent.minx + dx, extent.maxy + dy, z)
    x1, y1 = _tile_xy(extent.maxx + dx, extent.miny + dy, z)
    drawn = 0
    for x in range(x0, x1 + 1):
        for y in range(y0, y1 + 1):
            data = tiles.get(z, x, y)
            if data is None:
                continue
            try:
                with Image.open(io.BytesIO(data)) as img:
                    pixels = np.asarray(img.convert("RGB"))
            except (OSError, UnidentifiedImageError):
                continue
            w, s, e, n = tile_bounds(z, x, y)
            ax.imshow(pixels, extent=(w - dx, e - dx, s - dy, n - dy), interpolation="bilinear", zorder=0)
            drawn += 1
    return drawn

