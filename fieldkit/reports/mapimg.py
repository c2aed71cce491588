"""The report's overview map as a PNG, rendered offline with matplotlib (Agg).

The map is drawn in lon/lat with the x axis stretched by 1/cos(φ) at the centre latitude φ
(an equirectangular view true to scale along the centre parallel), so the scale bar is exact
there: its length comes from a geodesic on the WGS84 ellipsoid (:data:`fieldkit.geo.measure.GEOD`).
Layers: boundaries, Great Wall lines, rivers, fitness sites; findings coloured by category,
filled when open and hollow when closed; a north arrow, a scale bar and a Chinese legend beside
the map. With ``FIELDKIT_BASEMAP_URL`` naming a local ``.mbtiles`` or ``.pmtiles`` file its raster tiles are
drawn underneath (shifted to WGS84 when ``FIELDKIT_BASEMAP_DATUM=gcj02``); otherwise, or for
an unreadable file or a remote URL (no downloads), the map has no basemap.
"""

from __future__ import annotations

import dataclasses
import math

from matplotlib.lines import Line2D
from matplotlib.patches import Patch

from ..geo.measure import GEOD
from ..queries import BBox
from .plotting import PALETTE, font, new_figure, png_bytes
from ..labels import FINDING_STATES_ZH, LAYER_KINDS_ZH
from .scope import ReportData
from .tiles import draw_basemap

MAP_FRACTION = 0.74  # share of the image width taken by the map; the legend panel has the rest
DEFAULT_SIZE = (1600, 1100)
_NICE = (1, 2, 5)
_STYLE = {
    "boundary": {"color": "#6b6b6b", "linewidth": 0.9, "linestyle": (0, (4, 2)), "zorder": 2},
    "river": {"color": "#2b7bba", "linewidth": 1.2, "zorder": 3},
    "great_wall": {"color": "#8b4513", "linewidth": 1.8, "zorder": 4},
    "fitness_site": {"color": "#2e8b57", "linewidth": 1.0, "zorder": 5},
}


@dataclasses.dataclass(frozen=True, slots=True)
class MapFrame:
    """The map's lon/lat window and its size in pixels (top-left origin)."""

    extent: BBox
    width_px: int
    height_px: int

    def to_pixel(self, lon: float, lat: float) -> tuple[float, float]:
        """Pixel (x from left, y from top) of a WGS84 point in the rendered PNG."""
        e = self.extent
        return ((lon - e.minx) / e.width * self.width_px, (e.maxy - lat) / e.height * self.height_px)

    @property
    def metres_per_px(self) -> float:
        """Ground metres per pixel along the centre parallel."""
        lat = (self.extent.miny + self.extent.maxy) / 2
        return metres_per_degree_lon(lat) * self.extent.width / self.width_px


@dataclasses.dataclass(frozen=True, slots=True)
class ScaleBar:
    """A scale bar: its ground length, its length on the image and its label."""

    length_m: float
    length_px: float
    label: str


def metres_per_degree_lon(lat: float) -> float:
    """Metres per degree of longitude along the parallel ``lat`` (WGS84 geodesic)."""
    half = 0.005
    return GEOD.inv(-half, lat, half, lat)[2] / (2 * half)


def fit_extent(extent: BBox, width_px: int, height_px: int, pad: float = 0.08) -> MapFrame:
    """A frame around ``extent`` (padded by ``pad`` of its size) with the map's aspect ratio."""
    lat = (extent.miny + extent.maxy) / 2
    k = math.cos(math.radians(max(min(lat, 85.0), -85.0)))
    w = max(extent.width, 0.002) * (1 + 2 * pad)
    h = max(extent.height, 0.002) * (1 + 2 * pad)
    target = width_px / height_px  # ground width / ground height
    if w * k / h < target:
        w = h * target / k
    else:
        h = w * k / target
    cx, cy = (extent.minx + extent.maxx) / 2, (extent.miny + extent.maxy) / 2
    return MapFrame(BBox(cx - w / 2, cy - h / 2, cx + w / 2, cy + h / 2), width_px, height_px)


def scale_bar(frame: MapFrame, fraction: float = 0.25) -> ScaleBar:
    """The longest 1/2/5×10ⁿ metre bar not longer than ``fraction`` of the map's width."""
    m_per_px = frame.metres_per_px
    target = frame.width_px * fraction * m_per_px
    exp = math.floor(math.log10(target))
    length = max(n * 10 ** exp for n in _NICE if n * 10 ** exp <= target)
    label = f"{length / 1000:g} 千米" if length >= 1000 else f"{length:g} 米"
    return ScaleBar(float(length), length / m_per_px, label)


def map_frame(data: ReportData, size: tuple[int, int] = DEFAULT_SIZE) -> MapFrame | None:
    """The frame :func:`render_map` draws for ``data`` at ``size`` (None when nothing is placed)."""
    if data.extent is None:
        return None
    return fit_extent(data.extent, round(size[0] * MAP_FRACTION), size[1])


def category_colours(data: ReportData) -> dict[str, str]:
    """Category id → colour, in order of frequency (the charts use the same colours)."""
    counts: dict[str, int] = {}
    for f in data.findings:
        counts[f.category_id] = counts.get(f.category_id, 0) + 1
    order = sorted(counts, key=lambda c: (-counts[c], c))
    return {c: PALETTE[min(i, len(PALETTE) - 1)] for i, c in enumerate(order)}


def render_map(data: ReportData, size: tuple[int, int] = DEFAULT_SIZE, *, basemap: str | None = None,
               basemap_datum: str = "wgs84", dpi: int = 200) -> bytes:
    """The overview map of ``data`` as PNG bytes, exactly ``size`` pixels."""
    fig = new_figure(*size, dpi=dpi)
    frame = map_frame(data, size)
    ax = fig.add_axes((0, 0, MAP_FRACTION, 1))
    ax.set_facecolor("#f7f7f2")
    ax.set_xticks([])
    ax.set_yticks([])
    if frame is None:
        ax.text(0.5, 0.5, "范围内没有已定位的问题或照片", transform=ax.transAxes, ha="center",
                fontproperties=font(10))
        _legend(fig, data, {})
        return png_bytes(fig)
    e = frame.extent
    if basemap:
        draw_basemap(ax, basemap, e, frame.width_px, basemap_datum)
    _draw_layers(ax, data)
    colours = category_colours(data)
    _draw_findings(ax, data, colours)
    ax.set_xlim(e.minx, e.maxx)
    ax.set_ylim(e.miny, e.maxy)
    ax.set_aspect("auto")
    _north_arrow(ax)
    _scale(ax, frame)
    _legend(fig, data, colours)
    return png_bytes(fig)


def _lines(geom):
    """Exterior/interior rings and line parts of ``geom`` as coordinate arrays."""
    kind = geom.geom_type
    if kind.startswith("Multi") or kind == "GeometryCollection":
        for part in geom.geoms:
            yield from _lines(part)
    elif kind == "Polygon":
        yield geom.exterior.coords
        for ring in geom.interiors:
            yield ring.coords
    elif kind in ("LineString", "LinearRing"):
        yield geom.coords


def _draw_layers(ax, data: ReportData) -> None:
    for kind, geom in data.map_layers:
        style = _STYLE.get(kind, _STYLE["boundary"])
        if geom.geom_type in ("Point", "MultiPoint"):
            pts = list(geom.geoms) if geom.geom_type == "MultiPoint" else [geom]
            ax.scatter([p.x for p in pts], [p.y for p in pts], marker="s", s=14, c=style["color"],
                       zorder=style["zorder"], linewidths=0)
            continue
        for coords in _lines(geom):
            xy = list(coords)
            ax.plot([c[0] for c in xy], [c[1] for c in xy], **style)
    if data.area is not None:
        for coords in _lines(data.area):
            xy = list(coords)
            ax.plot([c[0] for c in xy], [c[1] for c in xy], color="#c0392b", linewidth=1.4, zorder=2)


def _draw_findings(ax, data: ReportData, colours: dict[str, str]) -> None:
    for state, face in (("open", True), ("closed", False)):
        pts = [f for f in data.findings if f.lon is not None and f.state == state]
        if not pts:
            continue
        cols = [colours[f.category_id] for f in pts]
        ax.scatter([f.lon for f in pts], [f.lat for f in pts], s=40, zorder=10,
                   c=cols if face else "none", edgecolors="white" if face else cols,
                   linewidths=0.6 if face else 1.4)


def _north_arrow(ax) -> None:
    ax.annotate("", xy=(0.95, 0.96), xytext=(0.95, 0.86), xycoords="axes fraction",
                arrowprops={"facecolor": "black", "width": 3, "headwidth": 10, "headlength": 10})
    ax.text(0.95, 0.965, "北", transform=ax.transAxes, ha="center", va="bottom", fontproperties=font(9))


def _scale(ax, frame: MapFrame) -> None:
    bar = scale_bar(frame)
    x0, y0 = 0.04, 0.04
    frac = bar.length_px / frame.width_px
    ax.plot([x0, x0 + frac], [y0, y0], transform=ax.transAxes, color="black", linewidth=2.5,
            solid_capstyle="butt", zorder=20)
    for x in (x0, x0 + frac):
        ax.plot([x, x], [y0, y0 + 0.012], transform=ax.transAxes, color="black", linewidth=1, zorder=20)
    ax.text(x0 + frac / 2, y0 + 0.015, bar.label, transform=ax.transAxes, ha="center", va="bottom",
            fontproperties=font(7), zorder=20)


def _legend(fig, data: ReportData, colours: dict[str, str]) -> None:
    kinds = [k for k in ("boundary", "great_wall", "river", "fitness_site")
             if any(kind == k for kind, _ in data.map_layers)]
    handles = [Line2D([], [], **{k: v for k, v in _STYLE[k].items() if k != "zorder"}, label=LAYER_KINDS_ZH[k])
               for k in kinds]
    if data.area is not None:
        handles.append(Line2D([], [], color="#c0392b", linewidth=1.4, label=f"报告范围：{data.area_name}"))
    names = {f.category_id: f.category_zh for f in data.findings}
    shown = list(colours)[:len(PALETTE) - 1]
    handles += [Patch(color=colours[c], label=names[c]) for c in shown]
    if len(colours) > len(shown):
        handles.append(Patch(color=PALETTE[-1], label="其他问题类别"))
    handles += [Line2D([], [], marker="o", linestyle="", color="#444", label=f"问题（{FINDING_STATES_ZH['open']}）"),
                Line2D([], [], marker="o", linestyle="", markerfacecolor="none", color="#444",
                       label=f"问题（{FINDING_STATES_ZH['closed']}）")]
    fig.legend(handles=handles, loc="upper left", bbox_to_anchor=(MAP_FRACTION + 0.01, 0.98),
               prop=font(6.5), title="图例", title_fontproperties=font(8), frameon=False,
               handlelength=1.8, borderaxespad=0)
