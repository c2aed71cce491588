"""Fuzzing photo metadata reading: mutated and random files never raise anything undocumented.

``read_bytes_metadata`` is documented never to raise for a bad image (it sets ``error``);
``open_image`` raises only :class:`PhotoError` subclasses. Bounded: a fixed number of examples
(derandomized in CI by the ``ci`` hypothesis profile).
"""

from __future__ import annotations

import functools

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from fieldkit.photos.metadata import PhotoError, open_image, read_bytes_metadata
from tests.photo_factory import make_jpeg, make_png

FUZZ = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@functools.cache
def seeds() -> tuple[bytes, ...]:
    return (
        make_jpeg(64, 48, lat=40.35, lon=116.01, alt=620.0, bearing=271.5, taken_at="2025:03:01 10:00:00",
                  offset="+08:00", make="华为".encode(), model=b"\xff\xfe bad"),
        make_png(32, 24, lat=-33.9, lon=18.4, taken_at="2024:12:31 23:59:59"),
    )


@st.composite
def mutated(draw) -> bytes:
    data = bytearray(draw(st.sampled_from(seeds())))
    for _ in range(draw(st.integers(1, 8))):
        op = draw(st.sampled_from(["flip", "insert", "delete", "truncate", "splice_int"]))
        at = draw(st.integers(0, max(0, len(data) - 1)))
        if op == "flip" and data:
            data[at] ^= draw(st.integers(1, 255))
        elif op == "insert":
            data[at:at] = draw(st.binary(min_size=1, max_size=16))
        elif op == "delete":
            del data[at:at + draw(st.integers(1, 64))]
        elif op == "truncate":
            del data[at:]
        else:  # overwrite with a boundary integer: the classic way to break length fields
            data[at:at + 4] = draw(st.sampled_from([b"\x00\x00\x00\x00", b"\xff\xff\xff\xff", b"\x7f\xff\xff\xff",
                                                    b"\x00\x00\xff\xff"]))
    return bytes(data)


def check(data: bytes) -> None:
    meta = read_bytes_metadata(data, "fuzz.jpg", max_pixels=4_000_000)
    assert meta.error is None or isinstance(meta.error, str)
    if meta.error is None:
        assert meta.sha256 and len(meta.sha256) == 64
    try:
        open_image(data, "fuzz.jpg", max_pixels=4_000_000)
    except PhotoError as exc:
        assert "fuzz.jpg" in str(exc)


@FUZZ
@given(mutated())
def test_mutated_photos_only_raise_documented_errors(data):
    check(data)


@FUZZ
@given(st.binary(max_size=2048))
def test_random_bytes_only_raise_documented_errors(data):
    check(data)
