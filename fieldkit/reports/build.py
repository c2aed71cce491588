"""Build a 巡查报告 end to end: gather the scope, draw the map and charts, write DOCX or PDF.

``progress(stage, fraction)`` is called with a Chinese stage text and the share of the whole
build done (0.0 … 1.0, never decreasing), so a web page can show a progress bar.
"""

from __future__ import annotations

import dataclasses
import time
from pathlib import Path

from ..errors import InputError
from ..store import User
from .charts import render_charts
from .content import report_items
from .docx_report import write_docx
from .gather import gather
from .mapimg import render_map
from .pdf_report import write_pdf
from .scope import Progress, ReportData, ReportScope

FORMATS = ("docx", "pdf")
#: A viewer that sees every photo: for the command line and other trusted callers.
SYSTEM_VIEWER = User(id=0, username="fieldkit", role="admin", team=None)
# Shares of the whole build: gathering, map, charts, then the document itself.
_STAGES = (("收集数据", 0.05), ("绘制总览图", 0.10), ("绘制统计图表", 0.18), ("写入文档", 1.0))


@dataclasses.dataclass(frozen=True, slots=True)
class ReportResult:
    """What :func:`build_report` wrote."""

    path: Path
    format: str
    findings: int
    photos: int
    sections: int
    seconds: float


class _Scaled:
    """Maps one stage's own 0..1 onto its share of the whole build, never going backwards."""

    def __init__(self, progress: Progress | None) -> None:
        self.progress, self.done = progress, 0.0

    def stage(self, index: int, within: float = 0.0) -> None:
        if self.progress is None:
            return
        start = _STAGES[index - 1][1] if index else 0.0
        share = start + (_STAGES[index][1] - start) * min(max(within, 0.0), 1.0)
        self.done = max(self.done, share)
        self.progress(_STAGES[index][0], round(self.done, 4))


def build_report(rt, scope: ReportScope, fmt: str, out: str | Path, *, viewer: User | None = SYSTEM_VIEWER,
                 progress: Progress | None = None, data: ReportData | None = None) -> ReportResult:
    """Write the report of ``scope`` to ``out`` as ``fmt`` (``docx`` or ``pdf``).

    ``viewer`` limits the photos to those that user may see (default: all, for trusted callers);
    ``data`` reuses an earlier :func:`gather` result.
    """
    return build_reports(rt, scope, {fmt: out}, viewer=viewer, progress=progress, data=data)[0]


def build_reports(rt, scope: ReportScope, outputs: dict[str, str | Path], *,
                  viewer: User | None = SYSTEM_VIEWER, progress: Progress | None = None,
                  data: ReportData | None = None) -> list[ReportResult]:
    """Write the report of ``scope`` in several formats (``{"docx": path, "pdf": path}``).

    The scope is gathered and the map and charts drawn once for all formats.
    """
    bad = [f for f in outputs if f not in FORMATS]
    if bad or not outputs:
        raise InputError(f"report format {', '.join(map(repr, bad)) or '(none)'}: use one of {', '.join(FORMATS)}")
    started = time.perf_counter()
    steps = _Scaled(progress)
    steps.stage(0)
    data = data if data is not None else gather(rt, scope, viewer)
    steps.stage(1)
    settings = rt.settings
    map_png = render_map(data, basemap=settings.basemap_url, basemap_datum=settings.basemap_datum)
    steps.stage(2)
    charts = render_charts(data)
    steps.stage(3)
    results = []
    for n, (fmt, out) in enumerate(outputs.items()):
        items = report_items(data, rt.evidence, map_png, charts)

        def on_item(_stage: str, share: float, n: int = n) -> None:
            steps.stage(3, (n + share * 0.95) / len(outputs))

        out = Path(out)
        if fmt == "docx":
            write_docx(items, out, progress=on_item)
        else:
            write_pdf(items, out, title=data.title, progress=on_item)
        steps.stage(3, (n + 1) / len(outputs))
        results.append(ReportResult(out, fmt, len(data.findings), len(data.photos), len(data.sections),
                                    time.perf_counter() - started))
    return results


def build_docx(rt, scope: ReportScope, out: str | Path, **kwargs) -> ReportResult:
    """:func:`build_report` as DOCX."""
    return build_report(rt, scope, "docx", out, **kwargs)


def build_pdf(rt, scope: ReportScope, out: str | Path, **kwargs) -> ReportResult:
    """:func:`build_report` as PDF."""
    return build_report(rt, scope, "pdf", out, **kwargs)
