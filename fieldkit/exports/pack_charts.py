"""The meeting pack's charts: the 巡查报告 charts (:mod:`fieldkit.reports.charts`) of exactly the
findings the pack's map shows.

An :class:`ExportScope` is mapped onto a :class:`ReportScope` (inspection by name, kinds, bbox,
dates) and gathered with :func:`fieldkit.reports.gather`; the result is then narrowed to the
pack's own finding ids, so the charts and the map always count the same findings even where the
two scopes differ in detail (export dates are UTC days, report dates China days: the report
scope is widened by a day and the ids decide).

The charts draw findings only (category, responsible body, state, close time). The map shows
every finding of the scope to every viewer and limits only photos, so the charts gather with no
viewer at all: no photo is loaded, nothing a viewer may not see can reach them, and a scope of
many photos is not capped by the report's photo limit.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import Iterable

from sqlalchemy import select

from ..reports.charts import CHART_SIZE, CHART_TITLES, CHARTS, render_charts
from ..reports.gather import gather
from ..reports.scope import ReportData, ReportScope
from ..store import Inspection
from .scope import ExportScope, inspection_id

#: Pixel size of each chart PNG: the report's (its label margins are laid out for it).
PACK_CHART_SIZE = CHART_SIZE
CHART_CAPTIONS = {
    "category": "按问题类别统计的问题数",
    "body": "按责任主体统计的问题数",
    "state": "问题状态及所属案件状态",
    "rectification": "逐日累计发现与累计关闭（整改）的问题数，两线之差为仍待整改",
}


@dataclasses.dataclass(frozen=True, slots=True)
class PackChart:
    """One chart of the pack: its name (file stem), Chinese title and caption, PNG bytes."""

    name: str
    title: str
    caption: str
    png: bytes

    @property
    def alt(self) -> str:
        """The ``alt`` text of the chart image."""
        return f"统计图：{self.title}（{self.caption}）"


def report_scope(rt, scope: ExportScope) -> ReportScope:
    """A report scope covering at least the findings of ``scope`` (inspection resolved to its
    name, ``date_to`` one day later for the UTC/China day offset). Unknown inspection →
    :class:`~fieldkit.errors.NotFoundError`."""
    name = None
    insp = inspection_id(rt, scope)
    if insp is not None:
        with rt.db.session() as s:
            name = s.scalar(select(Inspection.name).where(Inspection.id == insp))
    return ReportScope(inspection=name, bbox=scope.bbox, kinds=scope.kinds or None, date_from=scope.date_from,
                       date_to=scope.date_to + dt.timedelta(days=1) if scope.date_to else None)


def chart_data(rt, scope: ExportScope, finding_ids: Iterable[int]) -> ReportData:
    """The report data the charts are drawn from: ``scope``'s findings, only ``finding_ids``."""
    wanted = set(finding_ids)
    data = gather(rt, report_scope(rt, scope), None)
    data.findings = [f for f in data.findings if f.id in wanted]
    return data


def pack_charts(rt, scope: ExportScope, finding_ids: Iterable[int],
                size: tuple[int, int] = PACK_CHART_SIZE) -> list[PackChart]:
    """The four charts (category, body, state, rectification) of the pack's findings, in order."""
    pngs = render_charts(chart_data(rt, scope, finding_ids), size)
    return [PackChart(name, CHART_TITLES[name], CHART_CAPTIONS[name], pngs[name]) for name in CHARTS]
