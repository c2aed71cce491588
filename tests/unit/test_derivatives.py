"""Derivatives: sizes, upright orientation, reduced-scale decode, metadata-free public copies."""

from __future__ import annotations

import io

import numpy as np
import pytest
from PIL import Image

from fieldkit.errors import InputError
from fieldkit.photos.derivatives import (
    draft_scale,
    fit_size,
    make_derivatives,
    public_bytes,
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
    img = open_image(encode(pattern(3400, 1700), quality=80), "big.jpg", 10**9)
    calls = []
    original = type(img).draft
    monkeypatch.setattr(type(img), "draft", lambda self, mode, size: calls.append(size) or original(self, mode, size))
    made = make_derivatives(img, 1600, 320)
    assert calls == [(1700, 850)]
    assert made.preview_size == (1600, 800)
    assert made.thumb_size == (320, 160)
    with Image.open(io.BytesIO(made.preview)) as p, Image.open(io.BytesIO(made.thumb)) as t:
        assert (p.format, p.size, t.size) == ("JPEG", (1600, 800), (320, 160))


@pytest.mark.parametrize("orientation", [6, 8, 3])
def test_preview_is_upright(orientation):
    data = encode(pattern(3400, 1700), quality=90, exif=build_exif(orientation=orientation).tobytes())
    made = make_derivatives(open_image(data, "rot.jpg", 10**9), 1600, 320)
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
    made = make_derivatives(open_image(data, "x", 10**9), 320, 100)
    with Image.open(io.BytesIO(made.preview)) as p:
        assert (p.format, p.size) == ("JPEG", (320, 240))
    assert made.thumb_size == (100, 75)


def test_tiff_orientation_is_applied_once():
    data = encode(pattern(400, 200), "TIFF", exif=build_exif(orientation=6).tobytes())
    made = make_derivatives(open_image(data, "rot.tif", 10**9), 200, 50)
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


def test_fast_resize_matches_opencv_on_the_same_pixels():
    import cv2
    import numpy as np

    from fieldkit.photos.derivatives import encode_jpeg, resize

    rng = np.random.default_rng(7)
    rgb = rng.integers(0, 256, (150, 200, 3), dtype=np.uint8)
    out = resize(Image.fromarray(rgb), (160, 120))
    assert out.mode == "RGBX" and out.size == (160, 120)  # OpenCV's buffer, mapped without a copy
    expected = cv2.resize(rgb, (160, 120), interpolation=cv2.INTER_LINEAR)
    assert (np.asarray(out.convert("RGB")) == expected).all()
    # JPEG-encoding the mapped RGBX image gives the same file as encoding its RGB copy.
    assert encode_jpeg(out, 85) == encode_jpeg(out.convert("RGB"), 85)
    grey = resize(Image.fromarray(rgb[:, :, 1]), (160, 120))
    assert grey.mode == "L"
    assert (np.asarray(grey) == cv2.resize(rgb[:, :, 1], (160, 120), interpolation=cv2.INTER_LINEAR)).all()
    # A large reduction goes through Pillow's antialiased resize, not plain bilinear sampling.
    small = resize(Image.fromarray(rgb), (20, 15))
    assert small.size == (20, 15) and small.mode == "RGB"
