"""A small world for the export tests: a Great Wall segment, a river, photos from two inspectors
(EXIF-placed, pinned, unplaced, duplicate and Chinese file names), findings with hostile notes
and a filed case. Imported by the other ``test_exports_*`` modules; the one test here checks
the world itself, so a change in ingest or findings shows up here first.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

import pytest
import shapely
from shapely import LineString

from fieldkit import cases
from fieldkit import users as users_lib
from fieldkit.findings.service import record_finding
from fieldkit.join import clear_index_cache
from fieldkit.photos.ingest import ingest_upload
from fieldkit.store import Feature, Layer
from tests.photo_factory import make_jpeg

LON0, LAT0 = 116.02, 40.36  # 八达岭
HOSTILE_NOTE = '=HYPERLINK("http://evil.example/x","点我")'
XSS_NOTE = '</script><img src=x onerror="window.__xss=1">${alert(1)}'
CHINESE_NOTE = "墙体砖块脱落，游客攀爬"


@dataclass
class World:
    """Ids of what :func:`build_world` made."""

    rt: object
    users: dict[str, int] = field(default_factory=dict)
    photos: dict[str, int] = field(default_factory=dict)
    findings: dict[str, int] = field(default_factory=dict)
    case_id: int = 0
    other_case_id: int = 0


def _layer(rt, slug: str, kind: str, fid: str, name: str, geom) -> int:
    with rt.db.session(write=True) as s:
        layer = Layer(slug=slug, name=name, kind=kind, tolerance_m=200.0)
        s.add(layer)
        s.flush()
        minx, miny, maxx, maxy = shapely.bounds(geom)
        s.add(Feature(layer_id=layer.id, fid=fid, name=name, geom_type=geom.geom_type, geom=geom,
                      minx=minx, miny=miny, maxx=maxx, maxy=maxy))
        return layer.id


def _photo(rt, name: str, user: int, inspection: str, **kwargs) -> int:
    manual = kwargs.pop("manual", None)
    data = make_jpeg(width=64, height=48, **kwargs)
    result = ingest_upload(rt, data, name, inspection=inspection, uploaded_by=user, manual=manual)
    assert result.status == "ingested", result
    return result.photo_id


def build_world(rt) -> World:
    """Layers, users, five photos, three findings and two cases (one filed) in ``rt``."""
    clear_index_cache()
    w = World(rt)
    for name, role, team in (("insp", "inspector", "A"), ("insp2", "inspector", "B"), ("admin", "admin", None)):
        w.users[name] = users_lib.add_user(rt, name, f"pw-{name}-123456", role=role, team=team).id
    _layer(rt, "wall", "great_wall", "GW-001", "八达岭北段", LineString([(LON0 - 0.01, LAT0), (LON0 + 0.01, LAT0)]))
    _layer(rt, "river", "river", "RV-001", "妫水河", LineString([(LON0 - 0.01, LAT0 - 0.05), (LON0 + 0.01, LAT0 - 0.05)]))
    t0 = dt.datetime(2025, 5, 6, 10, 30)
    common = {"taken_at": t0, "offset": "+08:00"}
    w.photos["wall1"] = _photo(rt, "现场照片.jpg", w.users["insp"], "春季巡查", lat=LAT0 + 0.0003, lon=LON0, **common)
    w.photos["wall2"] = _photo(rt, "现场照片.jpg", w.users["insp"], "春季巡查", lat=LAT0 + 0.0004, lon=LON0 + 0.001,
                               **{**common, "taken_at": t0 + dt.timedelta(minutes=5)})
    w.photos["pinned"] = _photo(rt, "../../etc/passwd", w.users["insp2"], "春季巡查",
                                manual=(LAT0 - 0.0002, LON0 + 0.002, "wgs84"), taken_at=t0, offset="+08:00")
    w.photos["river"] = _photo(rt, "河道.jpg", w.users["insp2"], "夏季巡查", lat=LAT0 - 0.0499, lon=LON0,
                               taken_at=dt.datetime(2025, 7, 1, 9, 0), offset="+08:00")
    w.photos["unplaced"] = _photo(rt, "unplaced.jpg", w.users["insp"], "春季巡查", make="NoGPS", **common)
    insp = w.users["insp"]
    w.findings["hostile"] = record_finding(rt, photo_ids=[w.photos["wall1"], w.photos["wall2"]],
                                           category_id="gw-graffiti", actor_id=insp, note=HOSTILE_NOTE).id
    w.findings["xss"] = record_finding(rt, photo_ids=[w.photos["pinned"]], category_id="gw-illegal-construction",
                                       actor_id=insp, note=XSS_NOTE).id
    w.findings["river"] = record_finding(rt, photo_ids=[w.photos["river"]], category_id="rv-dumping-rubbish",
                                         actor_id=insp, note=CHINESE_NOTE).id
    case = cases.open_case(rt, title="八达岭长城保护案", responsible_body="延庆区文化和旅游局", actor_id=insp,
                           domain="great_wall", finding_ids=[w.findings["hostile"], w.findings["xss"]])
    cases.apply(rt, case.id, "file", insp, at=dt.datetime(2025, 5, 10, 2), filed_on=dt.date(2025, 5, 10))
    w.case_id = case.id
    w.other_case_id = cases.open_case(rt, title="-妫水河垃圾案", responsible_body="延庆区水务局", actor_id=insp,
                                      domain="rivers", finding_ids=[w.findings["river"]]).id
    return w


@pytest.fixture
def world(runtime) -> World:
    """The export test world in the test's runtime."""
    return build_world(runtime)


@pytest.fixture(scope="module")
def shared_world(tmp_path_factory) -> World:
    """One world per test module, on SQLite, for tests that only read (exports never write)."""
    from fieldkit.runtime import Runtime
    from fieldkit.settings import Settings

    rt = Runtime(Settings.from_env(env={}, data_dir=tmp_path_factory.mktemp("export-world") / "data"))
    yield build_world(rt)
    rt.db.dispose()


def test_world_is_what_the_export_tests_assume(world):
    from fieldkit.store import Photo

    with world.rt.db.session() as s:
        photos = {p.id: p for p in s.query(Photo)}
    assert len(photos) == 5
    assert photos[world.photos["wall1"]].location_source == "exif"
    assert photos[world.photos["pinned"]].location_source == "manual"
    assert photos[world.photos["unplaced"]].lat is None
    assert photos[world.photos["wall1"]].sha256 != photos[world.photos["wall2"]].sha256
    assert cases.get_case(world.rt, world.case_id).state == "filed"
