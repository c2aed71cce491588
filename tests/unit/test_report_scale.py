"""The overview map's scale bar, frame and scope parsing (no database)."""

from __future__ import annotations

import datetime as dt
import math

import pytest

from fieldkit.errors import InputError
from fieldkit.geo.measure import GEOD
from fieldkit.queries import BBox
from fieldkit.reports import ReportScope, fit_extent, metres_per_degree_lon, scale_bar
from fieldkit.reports.content import _numeral


def _parallel_degree_m(lat: float) -> float:
    """Length of one degree of longitude on WGS84 (series from the ellipsoid, independent of pyproj)."""
    phi = math.radians(lat)
    return 111412.84 * math.cos(phi) - 93.5 * math.cos(3 * phi) + 0.118 * math.cos(5 * phi)


@pytest.mark.parametrize("lat", [0.0, 23.5, 40.5, 52.0])
def test_metres_per_degree_lon_matches_ellipsoid(lat):
    assert metres_per_degree_lon(lat) == pytest.approx(_parallel_degree_m(lat), rel=2e-4)


def test_scale_bar_for_known_bbox():
    # A 1°×1° box at 40–41°N drawn 1000 px wide: 84.5 km across, so a quarter is ~21 km → 20 km bar.
    frame = fit_extent(BBox(116.0, 40.0, 117.0, 41.0), 1000, 1000, pad=0.0)
    lat = 40.5
    ground = frame.extent.width * _parallel_degree_m(lat)
    bar = scale_bar(frame)
    assert bar.length_m == 20_000 and bar.label == "20 千米"
    assert bar.length_px == pytest.approx(20_000 / ground * 1000, rel=1e-3)
    # The bar's two ends, placed on the centre parallel, are that far apart along the ellipsoid.
    lon0 = 116.2
    lon1 = lon0 + bar.length_px / frame.width_px * frame.extent.width
    assert GEOD.inv(lon0, lat, lon1, lat)[2] == pytest.approx(20_000, rel=1e-3)


@pytest.mark.parametrize(("width_deg", "want"), [(0.01, 200.0), (0.05, 1000.0), (2.0, 50_000.0)])
def test_scale_bar_nice_lengths(width_deg, want):
    frame = fit_extent(BBox(116.0, 40.0, 116.0 + width_deg, 40.0 + width_deg / 2), 800, 400, pad=0.0)
    bar = scale_bar(frame)
    assert bar.length_m == want
    assert bar.length_px <= 0.25 * 800 + 1e-6
    assert bar.label.endswith("米")


def test_fit_extent_keeps_ground_aspect_and_contains_box():
    box = BBox(101.9, 38.2, 102.0, 38.3)
    frame = fit_extent(box, 1200, 800)
    e = frame.extent
    assert e.minx < box.minx and e.maxx > box.maxx and e.miny < box.miny and e.maxy > box.maxy
    k = math.cos(math.radians((e.miny + e.maxy) / 2))
    assert e.width * k / e.height == pytest.approx(1200 / 800, rel=1e-9)
    x, y = frame.to_pixel(e.minx, e.maxy)
    assert (x, y) == (0.0, 0.0)


def test_scope_from_args_and_errors():
    scope = ReportScope.from_args({"inspection": " 2025-05 长城巡查 ", "kind": "great_wall,river",
                                   "from": "2025-05-01", "to": "2025-05-31", "bbox": "116,40,117,41"})
    assert scope.inspection == "2025-05 长城巡查" and scope.kinds == ("great_wall", "river")
    assert scope.date_to == dt.date(2025, 5, 31) and scope.bbox == BBox(116, 40, 117, 41)
    assert dict(scope.describe())["图层类型"] == "长城、河流"
    with pytest.raises(InputError, match="kind"):
        ReportScope.from_args({"kind": "castle"})
    with pytest.raises(InputError, match="after"):
        ReportScope.from_args({"from": "2025-06-01", "to": "2025-05-01"})
    with pytest.raises(InputError, match="boundary='x'"):
        ReportScope.from_args({"boundary": "x"})


def test_section_numerals():
    assert [_numeral(n) for n in (1, 10, 11, 20, 23, 99)] == ["一", "十", "十一", "二十", "二十三", "九十九"]
