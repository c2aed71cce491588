"""Derivatives: sizes, upright orientation, reduced-scale decode, metadata-free public copies."""

from __future__ import annotations

import io

import numpy as np
import pytest
from PIL import Image

from fieldkit.errors import InputError
from fieldkit.photos import derivatives
from fieldkit.photos.derivatives import (
    draft_scale,
    fit_size,
    make_derivatives,
    public_bytes,
    shrink,
    strip_jpeg_metadata,
)
from fieldkit.photos.evidence import EvidenceStore
from fieldkit.photos.metadata import open_image
from tests.photo_factory import build_exif, make_heic, make_jpeg, make_png, make_tiff

RED, BLUE, GREY = (220, 20, 20), (20, 20, 220), (128, 128, 128)


def pattern(width: int, height: int) -> Image.Image:
    """Grey image, red block in the stored top-left corner, blue block in the bottom-left."""
    a = np.full((height, width, 3), GREY, np.uint8)
    a[: height // 4, : width // 4] = RED
    a[-height // 4 :, : width // 4] = BLUE
    return Image.fromarray(a)


def encode(img: Image.Image, fmt: str = "JPEG", **params) -> bytes:
    out = io.BytesIO()
    img.save(out, fmt, **params)
    return out.getvalue()


def near(pixel, colour, tol=40) -> bool:
    return all(abs(int(p) - c) <= tol for p, c in zip(pixel, colour))


def test_fit_size_and_draft_scale():
    assert fit_size((4000, 3000), 1600) == (1600, 1200)
    assert fit_size((3000, 4000), 320) == (240, 320)
    assert fit_size((800, 600), 1600) == (800, 600)  # never enlarged
    assert draft_scale((4000, 3000), 1600) == 2
    assert draft_scale((16320, 12240), 1600) == 8
    assert draft_scale((8000, 6000), 1600) == 4
    assert draft_scale((3000, 2000), 1600) == 1


def test_jpeg_is_decoded_at_reduced_scale(monkeypatch):
    data = encode(pattern(3400, 1700), quality=80)
    shapes = []
    original = derivatives.simplejpeg.decode_jpeg
    monkeypatch.setattr(derivatives.simplejpeg, "decode_jpeg", lambda *a, **k: shapes.append(original(*a, **k).shape) or original(*a, **k))
    made = make_derivatives(open_image(data, "big.jpg", 10**9), data, 1600, 320)
    assert shapes == [(850, 1700, 4)]  # 1/2 DCT scale, straight to RGBX
    assert made.preview_size == (1600, 800)
    assert made.thumb_size == (320, 160)
    with Image.open(io.BytesIO(made.preview)) as p, Image.open(io.BytesIO(made.thumb)) as t:
        assert (p.format, p.size, t.size) == ("JPEG", (1600, 800), (320, 160))
        assert near(p.convert("RGB").getpixel((5, 5)), RED) and near(p.convert("RGB").getpixel((5, 795)), BLUE)


def test_scale_is_never_one_libjpeg_turbo_would_pick_between_the_powers_of_two():
    # For 2000x1500 → 1600 px, libjpeg-turbo could decode at 7/8 (1750 px, no SIMD); FieldKit asks
    # for the full size (and 1/2, 1/4, 1/8 when they cover the preview).
    data = encode(pattern(2000, 1500), quality=80)
    decoded = derivatives.decode_for_preview(open_image(data, "x.jpg", 10**9), data, 1600)
    assert decoded.size == (2000, 1500)


def test_jpeg_libjpeg_turbo_refuses_goes_through_pillow(monkeypatch):
    data = encode(pattern(3400, 1700), quality=80)
    expected = make_derivatives(open_image(data, "a.jpg", 10**9), data, 1600, 320)

    def refuse(*_a, **_k):
        raise ValueError("unsupported")

    monkeypatch.setattr(derivatives.simplejpeg, "decode_jpeg", refuse)
    img = open_image(data, "a.jpg", 10**9)
    made = make_derivatives(img, data, 1600, 320)
    assert img.size == (1700, 850)  # Pillow's draft decode at 1/2
    assert (made.preview_size, made.thumb_size) == (expected.preview_size, expected.thumb_size)
    with Image.open(io.BytesIO(made.preview)) as a, Image.open(io.BytesIO(expected.preview)) as b:
        diff = np.abs(np.asarray(a.convert("RGB"), np.int16) - np.asarray(b.convert("RGB"), np.int16))
        assert diff.mean() < 2


def test_truncated_jpeg_fails_in_both_decoders():
    data = encode(pattern(3400, 1700), quality=80)
    with pytest.raises(OSError, match="truncated"):
        derivatives.decode_for_preview(open_image(data[: len(data) // 2], "t.jpg", 10**9), data[: len(data) // 2], 1600)


@pytest.mark.parametrize("fmt", ["JPEG", "PNG"])
def test_grey_images_give_grey_derivatives(fmt):
    grey = pattern(900, 600).convert("L")
    data = encode(grey, fmt)
    made = make_derivatives(open_image(data, "g", 10**9), data, 300, 60)
    with Image.open(io.BytesIO(made.preview)) as p, Image.open(io.BytesIO(made.thumb)) as t:
        assert (p.mode, p.size, t.mode, t.size) == ("L", (300, 200), "L", (60, 40))
        assert abs(p.getpixel((150, 100)) - grey.getpixel((450, 300))) <= 4


def test_cmyk_jpeg_is_decoded_by_pillow():
    data = encode(pattern(640, 480).convert("CMYK"), quality=90)
    made = make_derivatives(open_image(data, "c.jpg", 10**9), data, 320, 80)
    with Image.open(io.BytesIO(made.preview)) as p:
        assert p.size == (320, 240) and near(p.convert("RGB").getpixel((5, 5)), RED)


def test_decode_buffers_are_reused_without_mixing_images():
    first = encode(pattern(3400, 1700), quality=85)
    second = encode(Image.fromarray(np.full((1700, 3400, 3), BLUE, np.uint8)), quality=85)
    alone = make_derivatives(open_image(first, "a.jpg", 10**9), first, 1600, 320)
    a = derivatives.decode_for_preview(open_image(first, "a.jpg", 10**9), first, 1600)
    derivatives.render_derivatives(a, 1600, 320)
    b = derivatives.decode_for_preview(open_image(second, "b.jpg", 10**9), second, 1600)
    assert np.shares_memory(a.pixels, b.pixels)  # the same per-thread buffer ...
    assert near(b.pixels[10, 10, :3], BLUE)
    derivatives.render_derivatives(b, 1600, 320)
    again = make_derivatives(open_image(first, "a.jpg", 10**9), first, 1600, 320)
    assert again.preview == alone.preview  # ... and nothing of one image leaks into the next


@pytest.mark.parametrize("orientation", range(1, 9))
def test_pixel_transposes_match_pillow(orientation):
    rng = np.random.default_rng(orientation)
    rgbx = rng.integers(0, 256, (5, 7, 4), dtype=np.uint8)
    img = Image.frombuffer("RGBX", (7, 5), rgbx, "raw", "RGBX", 0, 1)
    expected = img.transpose(derivatives._UPRIGHT[orientation]) if orientation > 1 else img
    got = derivatives._UPRIGHT_PIXELS[orientation](rgbx) if orientation > 1 else rgbx
    assert np.array_equal(got, np.asarray(expected))
    grey = rgbx[:, :, 0].copy()
    got = derivatives._UPRIGHT_PIXELS[orientation](grey) if orientation > 1 else grey
    assert np.array_equal(got, np.asarray(expected)[:, :, 0])


@pytest.mark.parametrize("orientation", [6, 8, 3])
def test_preview_is_upright(orientation):
    data = encode(pattern(3400, 1700), quality=90, exif=build_exif(orientation=orientation).tobytes())
    made = make_derivatives(open_image(data, "rot.jpg", 10**9), data, 1600, 320)
    with Image.open(io.BytesIO(made.preview)) as preview:
        px = preview.convert("RGB")
        w, h = px.size
        corners = {
            "tl": px.getpixel((5, 5)), "tr": px.getpixel((w - 6, 5)),
            "bl": px.getpixel((5, h - 6)), "br": px.getpixel((w - 6, h - 6)),
        }
    if orientation in (6, 8):
        assert (w, h) == (800, 1600)  # dimensions swapped
    else:
        assert (w, h) == (1600, 800)
    # Stored top-left (red) and bottom-left (blue) end up where a viewer shows them:
    expected = {6: ("tr", "tl"), 8: ("bl", "br"), 3: ("br", "tr")}[orientation]
    assert near(corners[expected[0]], RED), corners
    assert near(corners[expected[1]], BLUE), corners
    with Image.open(io.BytesIO(made.thumb)) as thumb:
        assert max(thumb.size) == 320 and (thumb.size[0] < thumb.size[1]) == (orientation in (6, 8))


@pytest.mark.parametrize("maker", [make_png, make_tiff, make_heic])
def test_other_formats_become_jpeg_derivatives(maker):
    data = maker(640, 480, orientation=1)
    made = make_derivatives(open_image(data, "x", 10**9), data, 320, 100)
    with Image.open(io.BytesIO(made.preview)) as p:
        assert (p.format, p.size) == ("JPEG", (320, 240))
    assert made.thumb_size == (100, 75)


def test_tiff_orientation_is_applied_once():
    data = encode(pattern(400, 200), "TIFF", exif=build_exif(orientation=6).tobytes())
    made = make_derivatives(open_image(data, "rot.tif", 10**9), data, 200, 50)
    with Image.open(io.BytesIO(made.preview)) as p:
        assert p.size == (100, 200)
        assert near(p.convert("RGB").getpixel((95, 5)), RED)


def _scan_data(data: bytes) -> bytes:
    """Everything from the first SOS marker to EOI (the compressed pixels)."""
    return data[data.index(b"\xff\xda") : data.rindex(b"\xff\xd9") + 2]


@pytest.mark.parametrize("progressive", [False, True])
def test_public_jpeg_has_no_metadata_and_identical_pixels(progressive):
    exif = build_exif(lat=39.9, lon=116.4, alt=50, taken_at="2024:05:01 10:00:00", make="Huawei")
    data = encode(pattern(640, 480), quality=90, exif=exif.tobytes(), comment=b"secret note",
                  xmp=b"<x:xmpmeta>GPSLatitude</x:xmpmeta>", progressive=progressive)
    public = strip_jpeg_metadata(data)
    assert _scan_data(public) == _scan_data(data)  # entropy-coded data byte for byte
    assert b"secret note" not in public and b"xmpmeta" not in public and b"Huawei" not in public
    with Image.open(io.BytesIO(public)) as out, Image.open(io.BytesIO(data)) as orig:
        assert out.getexif().get_ifd(0x8825) == {}
        assert len(out.getexif()) == 0
        assert "comment" not in out.info and "xmp" not in out.info
        assert np.array_equal(np.asarray(out), np.asarray(orig))


def test_public_jpeg_keeps_only_the_orientation():
    data = make_jpeg(300, 200, lat=39.9, lon=116.4, orientation=6)
    public = strip_jpeg_metadata(data)
    with Image.open(io.BytesIO(public)) as out:
        exif = out.getexif()
        assert dict(exif) == {0x0112: 6}
        assert exif.get_ifd(0x8825) == {}


def test_public_jpeg_drops_data_after_eoi():
    data = make_jpeg(64, 64, lat=1.0, lon=2.0) + b"PK\x03\x04 appended archive"
    assert strip_jpeg_metadata(data).endswith(b"\xff\xd9")


@pytest.mark.parametrize("bad", [b"GIF89a", b"\xff\xd8\xff\xe1\x00", b"\xff\xd8\xff\xdb\x00\x43" + b"\x00" * 10])
def test_strip_refuses_broken_jpegs(bad):
    with pytest.raises(InputError, match="JPEG"):
        strip_jpeg_metadata(bad, "bad.jpg")


@pytest.mark.parametrize("maker", [make_png, make_heic, make_tiff])
def test_public_copy_of_other_formats_is_a_clean_jpeg(maker):
    data = maker(200, 100, lat=39.9, lon=116.4, make="Apple", orientation=1)
    public = public_bytes(data, "x", 10**8)
    with Image.open(io.BytesIO(public)) as out:
        assert out.format == "JPEG" and out.size == (200, 100)
        assert len(out.getexif()) == 0
    assert b"Apple" not in public


def test_store_public_copy_is_made_once_on_demand(tmp_path):
    store = EvidenceStore(tmp_path / "ev")
    sha, _ = store.put(make_jpeg(120, 90, lat=30.0, lon=110.0))
    target = store.derivative_path(sha, "public")
    assert not target.exists()
    path = store.public_copy(sha)
    assert path == target and path.exists()
    mtime = path.stat().st_mtime_ns
    assert store.public_copy(sha).stat().st_mtime_ns == mtime
    with Image.open(path) as out:
        assert out.getexif().get_ifd(0x8825) == {}
    assert store.verify(sha)  # the original is untouched


def test_shrink_halves_with_a_box_filter_then_finishes_bilinear():
    import cv2

    rng = np.random.default_rng(7)
    rgbx = rng.integers(0, 256, (151, 201, 4), dtype=np.uint8)  # odd: the last row/column is dropped
    out = shrink(rgbx, (40, 30))
    half = cv2.resize(rgbx[:150, :200], (100, 75), interpolation=cv2.INTER_AREA)
    quarter = cv2.resize(half[:74], (50, 37), interpolation=cv2.INTER_AREA)
    assert np.array_equal(out, cv2.resize(quarter, (40, 30), interpolation=cv2.INTER_LINEAR))
    # A box of 2x2 pixels really is their mean: no aliasing from skipped pixels.
    checker = np.indices((64, 64)).sum(axis=0) % 2 * 255
    assert (shrink(checker.astype(np.uint8), (16, 16)) == 128).all()
    # Under 2x: bilinear only, into the reused buffer when asked.
    one = shrink(rgbx, (150, 100), reuse="test")
    assert np.array_equal(one, cv2.resize(rgbx, (150, 100), interpolation=cv2.INTER_LINEAR))
    assert shrink(rgbx, (201, 151)) is rgbx


def test_encoded_pixels_are_as_faithful_as_pillow_encoding_of_the_same_image():
    rng = np.random.default_rng(3)
    rgb = cv2_blur(rng.integers(0, 256, (120, 160, 3), dtype=np.uint8))
    rgbx = np.dstack([rgb, np.zeros((120, 160), np.uint8)])
    ours = np.asarray(Image.open(io.BytesIO(derivatives.encode_pixels(rgbx, 90))).convert("RGB"), np.int16)
    pillow = np.asarray(Image.open(io.BytesIO(derivatives.encode_jpeg(Image.fromarray(rgb), 90))).convert("RGB"), np.int16)
    source = rgb.astype(np.int16)
    assert np.abs(ours - source).mean() <= np.abs(pillow - source).mean() + 0.25
    assert np.abs(ours - pillow).mean() < 1.5


def cv2_blur(a: np.ndarray) -> np.ndarray:
    import cv2

    return cv2.GaussianBlur(a, (9, 9), 3)
