"""Fuzzing layer import: mutated GeoJSON, CSV and KML give a result or an InputError naming the file.

``check_file`` documents :class:`~fieldkit.errors.InputError` (and its subclasses) as the only
errors it raises; anything else escaping is a bug. Bounded example counts keep it quick.
"""

from __future__ import annotations

import json
import tempfile
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from fieldkit.errors import InputError
from fieldkit.layers.importer import check_file

FUZZ = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])

GEOJSON = json.dumps({"type": "FeatureCollection", "features": [
    {"type": "Feature", "properties": {"名称": "八达岭段", "id": 1},
     "geometry": {"type": "LineString", "coordinates": [[116.01, 40.35], [116.02, 40.36]]}},
    {"type": "Feature", "properties": {"名称": "健身点", "id": 2},
     "geometry": {"type": "Point", "coordinates": [116.3, 39.9]}},
]}, ensure_ascii=False).encode()
CSV = "名称,经度,纬度\n健身点一,116.30,39.90\n健身点二,116.31,39.91\n".encode()
KML = ('<?xml version="1.0" encoding="UTF-8"?><kml xmlns="http://www.opengis.net/kml/2.2"><Document>'
       '<Placemark><name>河段</name><LineString><coordinates>116.0,40.0 116.1,40.1</coordinates></LineString>'
       '</Placemark></Document></kml>').encode()
SEEDS = {".geojson": GEOJSON, ".csv": CSV, ".kml": KML}

JSON_TOKENS = [b"null", b"[]", b"{}", b'"x"', b"1e999", b"-0", b'"coordinates"', b"NaN", b"]]]]", b"{{{{", b'"\\ud800"']


@st.composite
def mutated(draw) -> tuple[str, bytes]:
    suffix = draw(st.sampled_from(sorted(SEEDS)))
    data = bytearray(SEEDS[suffix])
    for _ in range(draw(st.integers(1, 6))):
        at = draw(st.integers(0, len(data)))
        op = draw(st.sampled_from(["flip", "token", "delete", "truncate"]))
        if op == "flip" and at < len(data):
            data[at] ^= draw(st.integers(1, 255))
        elif op == "token":
            data[at:at] = draw(st.sampled_from(JSON_TOKENS + [b",", b"\n", b'"', b"<", b"&x;"]))
        elif op == "delete":
            del data[at:at + draw(st.integers(1, 20))]
        else:
            del data[at:]
    return suffix, bytes(data)


def check(suffix: str, data: bytes) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / f"fuzz{suffix}"
        path.write_bytes(data)
        try:
            result = check_file(path)
        except InputError as exc:
            assert "fuzz" in str(exc), f"error does not name the file: {exc}"
            return
        assert len(result.geoms) == len(result.fids)


@FUZZ
@given(mutated())
def test_mutated_layers_only_raise_input_errors(case):
    check(*case)


@FUZZ
@given(st.sampled_from(sorted(SEEDS)), st.binary(max_size=512))
def test_random_bytes_only_raise_input_errors(suffix, data):
    check(suffix, data)
