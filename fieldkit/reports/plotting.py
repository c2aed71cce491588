"""Matplotlib plumbing shared by the overview map and the charts: Agg figures, CJK font, PNG bytes.

Figures are built with :class:`matplotlib.figure.Figure` and the Agg canvas directly (never
``pyplot``), so rendering keeps no global state and is safe in a web worker. Chinese text uses
the TrueType font :func:`fieldkit.documents.fonts.resolve_pdf_fonts` finds (黑体 role first).
"""

from __future__ import annotations

import functools
import io

from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.font_manager import FontProperties

from ..documents.fonts import FontFile, resolve_pdf_fonts

#: Category colours (colour-blind-friendly Okabe–Ito first, then tab10-like).
PALETTE = ("#D55E00", "#0072B2", "#009E73", "#CC79A7", "#E69F00", "#56B4E9", "#F0E442", "#000000",
           "#8c564b", "#7f7f7f")


@functools.lru_cache(maxsize=4)
def _font_props(path: str, size: float) -> FontProperties:
    return FontProperties(fname=path, size=size)


@functools.lru_cache(maxsize=1)
def _default_font_file() -> FontFile:
    return resolve_pdf_fonts()["hei"]  # runs fc-match: once per process


def cjk_font_file(fonts: dict[str, FontFile] | None = None) -> FontFile:
    """The TrueType font used for Chinese text in images (黑体 role, falling back per fonts.py)."""
    return resolve_pdf_fonts(fonts)["hei"] if fonts else _default_font_file()


def font(size: float = 8.0, fonts: dict[str, FontFile] | None = None) -> FontProperties:
    """Font properties of the CJK font at ``size`` points."""
    return _font_props(str(cjk_font_file(fonts).path), size)


def new_figure(width_px: int, height_px: int, dpi: int = 200) -> Figure:
    """A white Agg figure exactly ``width_px`` × ``height_px`` pixels."""
    fig = Figure(figsize=(width_px / dpi, height_px / dpi), dpi=dpi, facecolor="white")
    FigureCanvasAgg(fig)
    return fig


def png_bytes(fig: Figure) -> bytes:
    """Render ``fig`` to PNG bytes (no bbox tightening, so the pixel size is as created)."""
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=fig.dpi, metadata={"Software": None})
    fig.clear()
    return buf.getvalue()
