"""GIS layers: readers per source format, validation, import and the layers manifest.

``OGR_SKIP`` must be in the environment before GDAL (pyogrio) is first imported, or GDAL
registers the VRT driver and a ``.vrt`` smuggled into a zip can make it read local files.
"""

import os

os.environ.setdefault("OGR_SKIP", "VRT,OGR_VRT")

from .base import ImportReport, ImportResult, Problem  # noqa: E402
from .importer import check_file, import_file  # noqa: E402
from .manifest import Manifest, ManifestEntry, import_manifest, load_manifest  # noqa: E402

__all__ = [
    "ImportReport",
    "ImportResult",
    "Manifest",
    "ManifestEntry",
    "Problem",
    "check_file",
    "import_file",
    "import_manifest",
    "load_manifest",
]
