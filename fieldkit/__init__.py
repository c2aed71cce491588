"""FieldKit: a geospatial toolkit for procuratorial public-interest field inspections.

The library holds all domain logic; the Flask app in ``webapp`` is a thin layer over it.
"""

import os

# GDAL reads OGR_SKIP when its drivers are registered, i.e. when pyogrio is first imported:
# disable the VRT driver (a .vrt can make GDAL read arbitrary local files) before that happens.
os.environ.setdefault("OGR_SKIP", "VRT,OGR_VRT")

__version__ = "0.1.0"
