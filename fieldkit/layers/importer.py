"""``check_file`` (read + validate, store nothing) and ``import_file`` (store a layer)."""

from __future__ import annotations

import hashlib
import re
import unicodedata
from pathlib import Path
from typing import Any

from ..errors import InputError
from ..store.models import LAYER_KINDS, Layer
from .base import ImportReport, ImportResult, ReadOptions
from .sources import open_source, reader_for
from .storage import store_layer
from .validate import validate

LAYER_FIELDS = ("tolerance_m", "responsible_body", "licence", "source")
REPORT_FIELDS = ("responsible_body_field", "demo")


def check_kind(kind: str | None) -> None:
    """Refuse a kind that is not one of :data:`LAYER_KINDS`."""
    if kind is not None and kind not in LAYER_KINDS:
        raise InputError(f"unknown layer kind {kind!r}; use one of {', '.join(LAYER_KINDS)}")


def check_file(
    path: str | Path,
    kind: str | None = None,
    crs: str | None = None,
    encoding: str | None = None,
    *,
    id_field: str | None = None,
    name_field: str | None = None,
    x_field: str | None = None,
    y_field: str | None = None,
    swap_xy: bool = False,
    measure: bool = True,
) -> ImportResult:
    """Read, check and reproject ``path`` to WGS84 without storing anything.

    ``crs`` is used only when the file declares none (except gcj02/bd09, which override a
    declared WGS84/CGCS2000). ``measure=False`` leaves line lengths to the caller (see
    :func:`~fieldkit.layers.validate.validate`). Raises :class:`~fieldkit.errors.InputError` (or a subclass:
    ``UnsafeFileError``, ``CRSError``, ``UnsupportedFormatError``) naming the file and reason.
    """
    check_kind(kind)
    source = open_source(path)
    options = ReadOptions(encoding=encoding, x_field=x_field, y_field=y_field)
    raw = reader_for(source.source_format).read(source, options)
    result = validate(raw, kind=kind, crs=crs, swap_xy=swap_xy, id_field=id_field, name_field=name_field,
                      measure=measure)
    if source.member:
        result.report.extra["zip_member"] = source.member
    return result


def import_file(
    rt,
    path: str | Path,
    kind: str,
    crs: str | None = None,
    encoding: str | None = None,
    name: str | None = None,
    slug: str | None = None,
    **manifest_fields: Any,
) -> tuple[Layer, ImportReport]:
    """Check ``path`` and store it as layer ``slug`` (replacing its features, bumping its version).

    ``manifest_fields`` may hold id_field, name_field, x_field, y_field, swap_xy, tolerance_m,
    responsible_body, responsible_body_field, source, licence and demo.
    """
    if kind is None:
        raise InputError("a layer kind is required (great_wall, river, fitness_site or boundary)")
    read_keys = ("id_field", "name_field", "x_field", "y_field", "swap_xy")
    unknown = set(manifest_fields) - set(read_keys) - set(LAYER_FIELDS) - set(REPORT_FIELDS)
    if unknown:
        raise InputError(f"import_file: unknown option(s) {', '.join(sorted(unknown))}")
    reading = {k: manifest_fields[k] for k in read_keys if manifest_fields.get(k) is not None}
    result = check_file(path, kind, crs, encoding, measure=False, **reading)  # store_layer measures
    for key in REPORT_FIELDS:
        if manifest_fields.get(key) is not None:
            result.report.extra[key] = manifest_fields[key]
    layer_fields = {k: manifest_fields.get(k) for k in LAYER_FIELDS if manifest_fields.get(k) is not None}
    path = Path(path)
    name = name or path.stem
    slug = slug or slugify(name, fallback=path.stem)
    layer = store_layer(rt, result, slug=slug, name=name, kind=kind, source_file=str(path), release=True,
                        **layer_fields)
    return layer, result.report


def slugify(text: str, fallback: str = "layer") -> str:
    """A lowercase ASCII slug of ``text`` (or of ``fallback`` when ``text`` is blank).

    Letters with no ASCII form (长城, 河流) are not dropped silently: the slug then ends with a
    short hash of the whole name, so ``长城.shp`` and ``河流.shp`` get different ids (and each
    the same id again when re-imported) instead of both becoming ``layer``.
    """
    for candidate in (text, fallback):
        candidate = unicodedata.normalize("NFC", candidate.strip())
        if not candidate:
            continue
        decomposed = unicodedata.normalize("NFKD", candidate)
        kept = "".join(c for c in decomposed if not unicodedata.combining(c))
        ascii_text = kept.encode("ascii", "ignore").decode()
        slug = re.sub(r"[^a-z0-9]+", "-", ascii_text.lower()).strip("-")
        if len(ascii_text) == len(kept) and slug:
            return slug[:100]
        digest = hashlib.blake2s(candidate.encode(), digest_size=4).hexdigest()
        return f"{slug[:90]}-{digest}" if slug else f"layer-{digest}"
    return "layer"
