"""巡查报告 (inspection reports): scope, gathering, overview map, charts, DOCX and PDF.

Public API::

    from fieldkit.reports import (ReportScope, gather, build_report, build_docx, build_pdf,
                                  render_map, render_charts, scale_bar, fit_extent)

No Flask here; a web page calls :func:`build_report` with a ``progress(stage, fraction)``
callback and the logged-in ``viewer``.
"""

from .build import FORMATS, SYSTEM_VIEWER, ReportResult, build_docx, build_pdf, build_report, build_reports
from .charts import CHARTS, render_chart, render_charts
from .gather import MAX_PHOTOS, gather
from .mapimg import MapFrame, ScaleBar, fit_extent, map_frame, metres_per_degree_lon, render_map, scale_bar
from .scope import FeatureSection, FindingItem, PhotoItem, Progress, ReportData, ReportScope

__all__ = [
    "CHARTS", "FORMATS", "MAX_PHOTOS", "SYSTEM_VIEWER", "FeatureSection", "FindingItem", "MapFrame",
    "PhotoItem", "Progress", "ReportData", "ReportResult", "ReportScope", "ScaleBar", "build_docx",
    "build_pdf", "build_report", "build_reports", "fit_extent", "gather", "map_frame", "metres_per_degree_lon",
    "render_chart", "render_charts", "render_map", "scale_bar",
]
