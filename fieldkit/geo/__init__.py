"""Coordinates: CRS handling, GCJ-02/BD-09, metric lengths, distances and chainage."""

from fieldkit.geo.chinese import (
    bd09_to_gcj02,
    bd09_to_wgs84,
    gcj02_to_bd09,
    gcj02_to_wgs84,
    out_of_china,
    wgs84_to_bd09,
    wgs84_to_gcj02,
)
from fieldkit.geo.crs import (
    CHINA_BBOX,
    CRSInfo,
    legacy_geojson_crs,
    looks_swapped,
    plausible_lonlat,
    resolve_crs,
    suggest_crs,
    to_wgs84,
)
from fieldkit.geo.measure import chainage_m, distance_m, format_chainage, line_lengths_m, local_metric_crs

__all__ = [
    "CHINA_BBOX", "CRSInfo", "bd09_to_gcj02", "bd09_to_wgs84", "chainage_m", "distance_m",
    "format_chainage", "gcj02_to_bd09", "gcj02_to_wgs84", "legacy_geojson_crs", "line_lengths_m",
    "local_metric_crs", "looks_swapped", "out_of_china", "plausible_lonlat", "resolve_crs",
    "suggest_crs", "to_wgs84", "wgs84_to_bd09", "wgs84_to_gcj02",
]
