"""Photo metadata: GPS forms, times, orientation, hostile text, formats, bombs, no pixel decode."""

from __future__ import annotations

import hashlib
import io
import json
import math
import threading
from datetime import datetime, timezone

import pytest
from click.testing import CliRunner
from hypothesis import given, settings as hsettings, strategies as st
from PIL import Image

from fieldkit.cli import main
from fieldkit.errors import InputError, UnsafeFileError, UnsupportedFormatError
from fieldkit.photos import exif as ex
from fieldkit.photos.metadata import (
    PhotoBombError,
    PhotoFormatError,
    extract,
    open_image,
    read_bytes_metadata,
    read_metadata,
)
from fieldkit.settings import Settings
from tests.photo_factory import (
    make_header_only_jpeg,
    make_heic,
    make_jpeg,
    make_png,
    make_tiff,
    rational,
)

HOSTILE = ["<img src=x onerror=alert(1)>", "${alert(1)}"]


def meta_of(data: bytes, name: str = "p.jpg", max_pixels: int = 250_000_000):
    return read_bytes_metadata(data, name, max_pixels)


PLACES = [(38.2178, 101.9912), (-33.8568, 151.2153), (40.4469, -3.7247), (-0.3713, -78.5)]


@pytest.mark.parametrize("gps_format", ["dms", "deg", "min"])
@pytest.mark.parametrize("lat, lon", PLACES)
def test_gps_forms_and_hemispheres(gps_format, lat, lon):
    meta = meta_of(make_jpeg(lat=lat, lon=lon, gps_format=gps_format))
    assert meta.error is None
    assert meta.lat == pytest.approx(lat, abs=1e-6)
    assert meta.lon == pytest.approx(lon, abs=1e-6)
    assert meta.location_source == "exif"


def test_zero_denominator_means_unknown_not_nan():
    gps = {2: (rational(38, 1), rational(13, 0), rational(0, 1)), 6: rational(100, 0), 17: rational(5, 0)}
    meta = meta_of(make_jpeg(lat=38.2, lon=101.9, alt=10.0, bearing=5.0, gps=gps))
    assert meta.lat is None and meta.lon is None and meta.location_source is None
    assert meta.alt is None and meta.bearing is None
    assert "NaN" not in json.dumps(meta.to_dict())


def test_gps_block_at_zero_zero_is_no_location():
    zero = (rational(0, 1), rational(0, 1), rational(0, 1))
    meta = meta_of(make_jpeg(gps={1: "N", 2: zero, 3: "E", 4: zero, 5: b"\x00", 6: rational(0, 1)}))
    assert (meta.lat, meta.lon, meta.alt, meta.location_source) == (None, None, None, None)


def test_gps_zero_over_zero_is_no_location():
    nan = (rational(0, 0), rational(0, 0), rational(0, 0))
    meta = meta_of(make_jpeg(gps={1: "N", 2: nan, 3: "E", 4: nan}))
    assert meta.lat is None and meta.error is None


def test_altitude_below_sea_level_and_bearing():
    meta = meta_of(make_jpeg(lat=31.2, lon=35.4, alt=-430.5, bearing=271.25))
    assert meta.alt == pytest.approx(-430.5, abs=0.01)
    assert meta.bearing == pytest.approx(271.25, abs=0.01)


def test_latitude_beyond_90_is_rejected():
    meta = meta_of(make_jpeg(gps={1: "N", 2: (rational(91, 1), rational(0, 1), rational(0, 1))}, lon=100.0))
    assert meta.lat is None and meta.location_source is None


@pytest.mark.parametrize("orientation", range(1, 9))
def test_orientation_gives_displayed_size(orientation):
    meta = meta_of(make_jpeg(40, 30, orientation=orientation))
    assert meta.orientation == orientation
    expected = (30, 40) if orientation >= 5 else (40, 30)
    assert (meta.width, meta.height) == expected


def test_invalid_orientation_is_none():
    meta = meta_of(make_jpeg(40, 30, orientation=9))
    assert meta.orientation is None and (meta.width, meta.height) == (40, 30)


def test_time_with_offset():
    meta = meta_of(make_jpeg(taken_at="2024:05:01 10:00:00", offset="+08:00"))
    assert meta.taken_at == "2024-05-01T10:00:00+08:00"
    assert meta.taken_at_utc == "2024-05-01T02:00:00+00:00"


def test_time_without_offset_takes_offset_from_gps_rounded_to_quarter_hour():
    gps_utc = datetime(2024, 5, 1, 2, 3, 10, tzinfo=timezone.utc)
    meta = meta_of(make_jpeg(taken_at="2024:05:01 10:00:00", gps_utc=gps_utc))
    assert meta.taken_at == "2024-05-01T10:00:00+08:00"
    assert meta.taken_at_utc == "2024-05-01T02:00:00+00:00"


def test_half_hour_zone_from_gps():
    meta = meta_of(make_jpeg(taken_at="2024:05:01 10:00:00", gps_utc=datetime(2024, 5, 1, 4, 31, 0)))
    assert meta.taken_at == "2024-05-01T10:00:00+05:30"


def test_implausible_gps_difference_keeps_local_time_without_offset():
    meta = meta_of(make_jpeg(taken_at="2008:10:22 16:28:39", gps_utc=datetime(2008, 10, 23, 14, 27, 7)))
    assert meta.taken_at == "2008-10-22T16:28:39"
    assert meta.taken_at_utc == "2008-10-23T14:27:07+00:00"


def test_no_camera_time_but_gps_time():
    meta = meta_of(make_jpeg(gps_utc=datetime(2022, 2, 3, 14, 44, 9)))
    assert meta.taken_at is None and meta.taken_at_utc == "2022-02-03T14:44:09+00:00"


def test_naive_time_without_gps_stays_naive():
    meta = meta_of(make_jpeg(taken_at=datetime(2024, 5, 1, 10, 0, 0)))
    assert meta.taken_at == "2024-05-01T10:00:00" and meta.taken_at_utc is None


@pytest.mark.parametrize("bad", ["0000:00:00 00:00:00", "    :  :     :  :  ", "2024:13:45 99:00:00", ""])
def test_blank_or_impossible_times_are_none(bad):
    assert meta_of(make_jpeg(taken_at=bad)).taken_at is None


def test_invalid_offset_is_ignored():
    meta = meta_of(make_jpeg(taken_at="2024:05:01 10:00:00", offset="+25:00"))
    assert meta.taken_at == "2024-05-01T10:00:00"


@pytest.mark.parametrize("text", HOSTILE)
def test_hostile_make_model_kept_verbatim_as_text(text):
    meta = meta_of(make_jpeg(make=text, model=text))
    assert meta.make == text and meta.model == text
    assert json.loads(json.dumps(meta.to_dict()))["model"] == text


def test_text_decoding_and_cleaning():
    meta = meta_of(make_jpeg(make="华为".encode("utf-8"), model="小米手机".encode("gb18030")))
    assert meta.make == "华为" and meta.model == "小米手机"
    meta = meta_of(make_jpeg(make=b"\xff\xfe\x80bad", model=b"Can\x01on\x1b[31m\x7f EOS\x00junk"))
    assert meta.make is not None and "\x00" not in meta.make
    assert meta.model == "Canon[31m EOS"
    long = meta_of(make_jpeg(make="A" * 5000))
    assert len(long.make) == ex.TEXT_MAX_LEN


def test_clean_text_strips_bidi_and_nul():
    assert ex.clean_text("evil\u202egpj.exe\x00") == "evilgpj.exe"
    assert ex.clean_text(b"\x00\x00") is None
    assert ex.clean_text(None) is None


@pytest.mark.parametrize("maker", [make_png, make_tiff, make_heic])
def test_other_formats_carry_exif(maker):
    data = maker(64, 48, lat=-38.5, lon=-70.25, alt=12.5, taken_at="2024:05:01 10:00:00", offset="+08:00",
                 orientation=6, make="Acme")
    meta = meta_of(data, "x.bin")
    assert meta.error is None, meta.error
    assert meta.format in ("PNG", "TIFF", "HEIF")
    assert (meta.lat, meta.lon) == (pytest.approx(-38.5, abs=1e-6), pytest.approx(-70.25, abs=1e-6))
    assert meta.alt == pytest.approx(12.5, abs=0.01)
    assert meta.taken_at == "2024-05-01T10:00:00+08:00"
    assert meta.orientation == 6 and (meta.width, meta.height) == (48, 64)
    assert meta.make == "Acme"


def test_png_exif_after_idat_is_read_without_decoding():
    data = make_png(64, 48, lat=30.5, lon=114.3, exif_after_idat=True)
    img = open_image(data, "late.png")
    assert "exif" not in img.info
    img.load = _forbid_decode
    meta = extract(img, data, "late.png")
    assert meta.lat == pytest.approx(30.5, abs=1e-6)


def _forbid_decode(*args, **kwargs):
    raise AssertionError("pixels were decoded")


@pytest.mark.parametrize("maker", [make_jpeg, make_png, make_tiff, make_heic])
def test_extract_never_decodes_pixels(maker):
    data = maker(64, 48, lat=1.5, lon=2.5, orientation=3)
    img = open_image(data, "p", 250_000_000)
    img.load = _forbid_decode
    meta = extract(img, data, "p")
    assert meta.sha256 == hashlib.sha256(data).hexdigest()
    assert meta.lat == pytest.approx(1.5, abs=1e-6)


def test_default_cap_admits_200_megapixel_phone_photo_without_decoding():
    assert Settings.from_env(env={}).max_image_pixels == 250_000_000
    data = make_header_only_jpeg(16320, 12240)
    img = open_image(data, "phone.jpg")
    img.load = _forbid_decode
    meta = extract(img, data, "phone.jpg")
    assert (meta.width, meta.height) == (16320, 12240)
    assert meta_of(data).error is None


def test_gigapixel_header_is_refused():
    with pytest.raises(PhotoBombError, match="bomb") as info:
        open_image(make_header_only_jpeg(40000, 25000), "bomb.jpg")
    assert isinstance(info.value, UnsafeFileError)
    meta = meta_of(make_header_only_jpeg(40000, 25000), "bomb.jpg")
    assert "bomb.jpg" in meta.error and meta.lat is None


def test_pixel_cap_is_per_call_and_thread_safe():
    small, big = make_jpeg(40, 30), make_header_only_jpeg(16320, 12240)
    results: dict[str, list] = {"tight": [], "default": []}

    def work(key, cap):
        for _ in range(20):
            for data in (small, big):
                results[key].append(meta_of(data, max_pixels=cap).error is None)

    threads = [threading.Thread(target=work, args=("tight", 1000)),
               threading.Thread(target=work, args=("default", 250_000_000))]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert results["default"] == [True] * 40
    assert results["tight"] == [False] * 40


@pytest.mark.parametrize(
    "data",
    [
        b"GIF89a\x01\x00\x01\x00\x80\x00\x00\x00\x00\x00\xff\xff\xff!\xf9\x04\x01\x00\x00\x00\x00,"
        b"\x00\x00\x00\x00\x01\x00\x01\x00\x00\x02\x02D\x01\x00;",
        b"<html><script>alert(1)</script></html>",
        b"",
        b"SIMPLE  =                    T" + b" " * 50,
    ],
    ids=["gif", "html", "empty", "fits"],
)
def test_non_images_named_jpg_are_refused(data):
    with pytest.raises(PhotoFormatError) as info:
        open_image(data, "evil.jpg")
    assert isinstance(info.value, UnsupportedFormatError) and "evil.jpg" in str(info.value)


def test_gif_is_not_allowed_even_if_real():
    out = io.BytesIO()
    Image.new("RGB", (4, 4)).save(out, format="GIF")
    assert "not a JPEG" in meta_of(out.getvalue(), "a.gif").error


def test_truncated_jpeg_is_a_per_file_error_or_result():
    data = make_jpeg(lat=10.0, lon=20.0)[:40]
    meta = meta_of(data, "cut.jpg")
    assert meta.error and "cut.jpg" in meta.error


def test_read_metadata_missing_file(tmp_path):
    meta = read_metadata(tmp_path / "nope.jpg")
    assert meta.error and "nope.jpg" in meta.error and meta.sha256 is None


def test_photo_error_is_input_error():
    with pytest.raises(InputError):
        open_image(b"nope", "n.jpg")


rationals = st.one_of(
    st.builds(rational, st.integers(-(2**31), 2**32 - 1), st.integers(0, 2**32 - 1)),
    st.floats(allow_nan=True, allow_infinity=True),
    st.tuples(st.integers(-(2**31), 2**32), st.integers(-5, 2**32)),
)
triples = st.one_of(st.lists(rationals, min_size=0, max_size=4).map(tuple), rationals)


@hsettings(max_examples=300, deadline=None)
@given(lat=triples, lon=triples, lat_ref=st.sampled_from(["N", "S", "", b"S", None, "x"]),
       lon_ref=st.sampled_from(["E", "W", "", b"W", None]))
def test_any_gps_rationals_give_sane_coordinates_or_none(lat, lon, lat_ref, lon_ref):
    gps = {2: lat, 4: lon}
    if lat_ref is not None:
        gps[1] = lat_ref
    if lon_ref is not None:
        gps[3] = lon_ref
    position = ex.gps_position(gps)
    if position is None:
        return
    la, lo = position
    assert math.isfinite(la) and math.isfinite(lo)
    assert abs(la) <= 90 and abs(lo) <= 180
    if lat_ref in ("S", b"S"):
        assert la <= 0
    if lon_ref in ("W", b"W"):
        assert lo <= 0


# --- CLI -----------------------------------------------------------------------------------


def _write(tmp_path, name, data):
    path = tmp_path / name
    path.write_bytes(data)
    return str(path)


def test_cli_read_json_mixed_files(tmp_path, settings):
    good = _write(tmp_path, "good.jpg", make_jpeg(lat=38.5, lon=102.1, make=HOSTILE[0]))
    bad = _write(tmp_path, "bad.jpg", b"<html>")
    args = ["--data-dir", str(settings.data_dir), "photos", "read", "--json", good, bad]
    result = CliRunner().invoke(main, args)
    assert result.exit_code == 1, result.output
    rows = json.loads(result.output)
    assert [r["file"] for r in rows] == [good, bad]
    assert rows[0]["error"] is None and rows[0]["lat"] == pytest.approx(38.5)
    assert rows[0]["make"] == HOSTILE[0]
    assert rows[1]["error"] and rows[1]["sha256"] == hashlib.sha256(b"<html>").hexdigest()
    assert set(rows[0]) >= {"file", "sha256", "lat", "lon", "alt", "bearing", "taken_at", "taken_at_utc",
                            "width", "height", "orientation", "make", "model", "location_source", "error"}


def test_cli_read_table_all_good_exits_zero(tmp_path, settings):
    good = _write(tmp_path, "good.jpg", make_jpeg(lat=38.5, lon=102.1, taken_at="2024:05:01 10:00:00"))
    result = CliRunner().invoke(main, ["--data-dir", str(settings.data_dir), "photos", "read", good])
    assert result.exit_code == 0, result.output
    for expected in ("38.500000", "2024-05-01T10:00:00", "400x300"):
        assert expected in result.output


def test_cli_read_uses_configured_pixel_cap(tmp_path, monkeypatch):
    good = _write(tmp_path, "good.jpg", make_jpeg(400, 300))
    monkeypatch.setenv("FIELDKIT_MAX_IMAGE_PIXELS", "1000")
    result = CliRunner().invoke(main, ["--data-dir", str(tmp_path / "d"), "photos", "read", "--json", good])
    assert result.exit_code == 1
    assert "max_image_pixels" in json.loads(result.output)[0]["error"]


@pytest.mark.parametrize("maker", [make_jpeg, make_png, make_tiff, make_heic])
def test_truncated_and_corrupted_files_never_raise(maker):
    import random

    rng = random.Random(7)
    data = maker(64, 48, lat=1.0, lon=2.0, alt=3.0, bearing=4.0, taken_at="2024:01:01 00:00:00",
                 gps_utc=datetime(2024, 1, 1), make="x")
    samples = [data[:cut] for cut in range(1, len(data), max(1, len(data) // 60))]
    for _ in range(120):
        damaged = bytearray(data)
        for _ in range(rng.randint(1, 8)):
            damaged[rng.randrange(len(damaged))] = rng.randrange(256)
        samples.append(bytes(damaged))
    for sample in samples:
        meta = meta_of(sample, "f")
        assert meta.error is None or meta.error.startswith("f: ")
        assert meta.lat is None or (math.isfinite(meta.lat) and abs(meta.lat) <= 90)
