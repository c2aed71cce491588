"""Exports for the case file, the GIS office and review meetings (no Flask here).

- :func:`write_ledger` — the 台账 XLSX of findings and cases;
- :func:`write_gis` — photos and findings as GeoJSON, GeoPackage, KML or CSV (EPSG:4326);
- :func:`make_pack` / :func:`write_pack_html` — the offline HTML meeting pack;
- :func:`make_bundle` / :func:`verify_bundle` — evidence bundles of a case's originals.

Every export takes an :class:`ExportScope` (see :func:`parse_scope`) and, where photos are
shown, a ``viewer`` (the web app passes the logged-in user; the CLI passes ``UNRESTRICTED``).
"""

from .bundle import make_bundle
from .gis import FORMATS as GIS_FORMATS
from .gis import GisExport, write_gis
from .ledger import write_ledger
from .pack import PackResult, make_pack, write_pack_html
from .scope import UNRESTRICTED, ExportScope, parse_scope
from .verify import BundleCheck, Problem, verify_bundle

__all__ = [
    "GIS_FORMATS",
    "UNRESTRICTED",
    "BundleCheck",
    "ExportScope",
    "GisExport",
    "PackResult",
    "Problem",
    "make_bundle",
    "make_pack",
    "parse_scope",
    "verify_bundle",
    "write_gis",
    "write_ledger",
    "write_pack_html",
]
