"""Large SQLite imports go through the ADBC loader process: same rows as the in-process path,
one transaction, nothing changed when it fails, and features stored in index (west-to-east) order."""

from __future__ import annotations

import json
import sqlite3

import geopandas as gpd
import numpy as np
import pyogrio
import pytest
import shapely
from sqlalchemy import select

from fieldkit.errors import StorageError
from fieldkit.layers import import_file, sqlite_bulk, storage
from fieldkit.store.models import Feature, Layer

pytestmark = pytest.mark.usefixtures("sqlite_only")

N = 400


@pytest.fixture
def sqlite_only(runtime):
    if runtime.db.dialect != "sqlite":
        pytest.skip("the ADBC loader is the SQLite path; PostgreSQL stores through its own connection")


def segments_file(tmp_path, n=N, seed=1, name="segments.gpkg"):
    rng = np.random.default_rng(seed)
    starts = np.column_stack([rng.uniform(98, 104, n), rng.uniform(36, 40, n)])
    lines = [shapely.LineString([tuple(p), tuple(p + rng.normal(0, 0.01, 2))]) for p in starts]
    lines[7] = shapely.Polygon([(100, 37), (100.1, 37), (100, 37.1), (100.1, 37.1), (100, 37)]).boundary
    frame = gpd.GeoDataFrame(
        {"seg_id": np.arange(n), "名称": [f"长城段{i}" for i in range(n)],
         "score": np.where(np.arange(n) % 5 == 0, np.nan, np.arange(n) / 3),
         "备注": ["夯土墙\"坍塌\"\\" if i % 2 else None for i in range(n)]},
        geometry=lines, crs="EPSG:4326")
    path = tmp_path / name
    pyogrio.write_dataframe(frame, path)
    return path


def rows(rt, slug):
    with rt.db.session() as s:
        layer = s.scalar(select(Layer).where(Layer.slug == slug))
        feats = s.scalars(select(Feature).where(Feature.layer_id == layer.id).order_by(Feature.id)).all()
        return layer, feats


def as_dict(f: Feature) -> dict:
    return {"name": f.name, "geom_type": f.geom_type, "wkb": f.geom.wkb, "bbox": (f.minx, f.miny, f.maxx, f.maxy),
            "length_m": f.length_m, "properties": f.properties, "flags": f.flags}


def test_loader_stores_what_the_in_process_path_stores(runtime, tmp_path, monkeypatch):
    path = segments_file(tmp_path)
    monkeypatch.setattr(storage, "LOADER_AT", 10**9)
    small, _ = import_file(runtime, path, "great_wall", slug="inproc", id_field="seg_id")
    calls = []
    monkeypatch.setattr(storage, "LOADER_AT", 100)
    monkeypatch.setattr(sqlite_bulk, "BATCH", 64)  # several chunks, each measured as it is sent
    monkeypatch.setattr(storage, "load_features", lambda *a, **k: calls.append(1) or sqlite_bulk.load_features(*a, **k))
    big, report = import_file(runtime, path, "great_wall", slug="loader", id_field="seg_id", name="长城（批量）",
                              responsible_body="某县文物局")
    assert calls == [1]
    layer, feats = rows(runtime, "loader")
    assert (layer.name, layer.kind, layer.version, layer.feature_count) == ("长城（批量）", "great_wall", 1, N)
    assert layer.responsible_body == "某县文物局" and layer.tolerance_m == 100.0
    assert layer.report["features_stored"] == N and layer.imported_at is not None
    assert big.id == layer.id and big.feature_count == N
    reference_layer, reference = rows(runtime, "inproc")
    assert {f.fid: as_dict(f) for f in feats} == {f.fid: as_dict(f) for f in reference}
    # The report is finished after the last chunk (lengths measured chunk by chunk) and stored whole.
    total = reference_layer.report["total_length_m"]
    assert total > 0 and report.total_length_m == pytest.approx(total, rel=1e-12)
    assert layer.report["total_length_m"] == pytest.approx(total, rel=1e-12) == big.report["total_length_m"]
    assert {k: v for k, v in layer.report.items() if k != "total_length_m"} == \
        {k: v for k, v in reference_layer.report.items() if k != "total_length_m"}
    sample = next(f for f in feats if f.fid == "1")
    assert sample.name == "长城段1" and sample.properties["备注"] == "夯土墙\"坍塌\"\\"
    assert next(f for f in feats if f.fid == "0").properties["score"] is None  # NaN -> null
    assert [f.minx for f in feats] == sorted(f.minx for f in feats)  # ids follow the index order


def test_loader_replaces_a_layer_in_one_step(runtime, tmp_path, monkeypatch):
    monkeypatch.setattr(storage, "LOADER_AT", 100)
    import_file(runtime, segments_file(tmp_path), "great_wall", slug="wall", id_field="seg_id")
    _, before = rows(runtime, "wall")
    import_file(runtime, segments_file(tmp_path, n=300, seed=2, name="v2.gpkg"), "great_wall", slug="wall",
                id_field="seg_id")
    layer, after = rows(runtime, "wall")
    assert layer.version == 2 and layer.feature_count == 300 == len(after)
    assert {f.fid for f in after} == {str(i) for i in range(300)} and len(before) == N
    with runtime.db.session() as s:
        assert s.query(Feature).count() == 300


def test_loader_failure_changes_nothing(runtime, tmp_path, monkeypatch):
    monkeypatch.setattr(storage, "LOADER_AT", 100)
    import_file(runtime, segments_file(tmp_path), "great_wall", slug="wall", id_field="seg_id")
    _, before = rows(runtime, "wall")
    monkeypatch.setattr(sqlite_bulk, "PRAGMAS", ("busy_timeout=50", *sqlite_bulk.PRAGMAS[1:]))
    blocker = sqlite3.connect(runtime.db.engine.url.database, isolation_level=None)
    blocker.execute("BEGIN IMMEDIATE")  # another writer holds the lock
    try:
        with pytest.raises(StorageError, match=r"storing layer 'wall' \(300 features\) failed; nothing was "
                                               r"changed: .*locked"):
            import_file(runtime, segments_file(tmp_path, n=300, seed=2, name="v2.gpkg"), "great_wall",
                        slug="wall", id_field="seg_id")
    finally:
        blocker.execute("ROLLBACK")
        blocker.close()
    layer, after = rows(runtime, "wall")
    assert layer.version == 1 and [as_dict(f) for f in after] == [as_dict(f) for f in before]


def test_layer_row_values_use_the_column_types(runtime):
    values = sqlite_bulk.layer_row_values(runtime.db.engine, {"report": {"名": [1]}, "name": "河", "licence": None})
    assert json.loads(values.pop("report")) == {"名": [1]}  # JSON text, as the ORM stores it
    assert values == {"name": "河", "licence": None}


def test_repaired_features_are_stored_re_encoded_and_the_rest_as_the_file_had_them(runtime, tmp_path, monkeypatch):
    squares = [shapely.box(100 + i * 0.01, 37, 100.005 + i * 0.01, 37.005) for i in range(150)]
    squares[3] = shapely.Polygon([(100, 38), (100.1, 38.1), (100.1, 38), (100, 38.1), (100, 38)])  # bowtie
    path = tmp_path / "parks.gpkg"
    pyogrio.write_dataframe(gpd.GeoDataFrame({"pid": np.arange(150)}, geometry=squares, crs="EPSG:4326"), path)
    file_wkb = dict(zip(range(150), pyogrio.read_arrow(path)[1]["geom"].to_pylist()))
    monkeypatch.setattr(storage, "LOADER_AT", 100)
    _, report = import_file(runtime, path, "boundary", slug="parks", id_field="pid")
    assert report.repaired == 1
    _, feats = rows(runtime, "parks")
    stored = {int(f.fid): f for f in feats}
    assert stored[3].flags == ["repaired"] and stored[3].geom.wkb != file_wkb[3]
    assert shapely.from_wkb(stored[3].geom.wkb).equals(shapely.make_valid(squares[3]))
    assert all(stored[i].geom.wkb == file_wkb[i] for i in stored if i != 3)
