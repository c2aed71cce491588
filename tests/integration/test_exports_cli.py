"""``fieldkit export`` and ``fieldkit pack`` end to end through click: files written and readable,
scope options applied, bad options refused with a message naming them."""

from __future__ import annotations

import zipfile

import pyogrio
import pytest
from click.testing import CliRunner
from openpyxl import load_workbook

from fieldkit.cli import main
from fieldkit.exports.pack_html import leaflet_assets
from tests.integration import test_exports_world as _world_module
from tests.integration.test_exports_world import CHINESE_NOTE

shared_world = _world_module.shared_world  # the fixture, shared from the world module


@pytest.fixture
def run(shared_world):
    env = {"FIELDKIT_DATA_DIR": str(shared_world.rt.settings.data_dir)}

    def _run(*args):
        return CliRunner().invoke(main, list(args), env=env)

    return _run


def test_export_ledger_with_scope(run, tmp_path):
    out = tmp_path / "台账.xlsx"
    result = run("export", "ledger", "-o", str(out), "--kind", "river")
    assert result.exit_code == 0, result.output
    assert "1 findings, 1 cases" in result.output and "河流" in result.output
    wb = load_workbook(out)
    assert wb["问题台账"].cell(2, 7).value == CHINESE_NOTE


@pytest.mark.parametrize("fmt", ["geojson", "gpkg", "kml", "csv"])
def test_export_gis_formats(run, tmp_path, fmt):
    out = tmp_path / f"out.{fmt}"
    result = run("export", fmt, "-o", str(out), "--inspection", "春季巡查")
    assert result.exit_code == 0, result.output
    assert "2 findings" in result.output and "EPSG:4326" in result.output
    frame = pyogrio.read_dataframe(out, layer="findings" if fmt in ("gpkg", "kml") else None)
    assert len(frame) == 2


def test_export_photos_layer_reports_unplaced(run, tmp_path):
    result = run("export", "geojson", "-o", str(tmp_path / "p.geojson"), "--layer", "photos")
    assert result.exit_code == 0 and "4 photos" in result.output
    assert "1 photo(s) without a position left out" in result.output


def test_pack_zip_and_html(run, tmp_path):
    result = run("pack", "-o", str(tmp_path / "pack.zip"), "--title", "长城巡查会商")
    assert result.exit_code == 0, result.output
    assert "3 findings" in result.output and "5 thumbnails" in result.output
    with zipfile.ZipFile(tmp_path / "pack.zip") as zf:
        names = zf.namelist()
        page = zf.read("index.html").decode("utf-8")
    assert "index.html" in names and sum(n.startswith("thumbs/") for n in names) == 5
    assert "<title>长城巡查会商</title>" in page
    leaflet_js, _css = leaflet_assets()
    assert leaflet_js in page  # inlined, not linked
    ours = page.replace(leaflet_js, "")
    assert not any(f'{a}="http' in ours or f"{a}='http" in ours for a in ("src", "href"))
    single = run("pack", "-o", str(tmp_path / "pack.html"))
    assert single.exit_code == 0 and (tmp_path / "pack.html").read_text("utf-8").count("data:image/jpeg") == 5


@pytest.mark.parametrize("args, text", [
    (["export", "ledger", "-o", "x.xlsx", "--kind", "lake"], "lake"),
    (["export", "csv", "-o", "x.csv", "--from", "2025-02-30"], "2025-02-30"),
    (["export", "kml", "-o", "x.kml", "--bbox", "1,2"], "bbox"),
    (["export", "gpkg", "-o", "x.gpkg", "--inspection", "没有这次巡查"], "没有这次巡查"),
])
def test_bad_scope_options_exit_with_a_message(run, args, text):
    result = run(*args)
    assert result.exit_code != 0 and text in result.output
