"""ESRI Shapefile reader (plain or zipped): sidecar checks and attribute-table encoding.

Encoding: ``--encoding`` wins; else the ``.cpg`` (unless the string bytes do not decode in
the encoding it names, which is reported); else detected from the raw ``.dbf`` string bytes.
"""

from __future__ import annotations

from ..errors import InputError
from . import encoding as enc
from .base import BaseReader, RawLayer, ReadOptions
from .ogr_ import raw_from_ogr
from .sources import Source

DBF_SAMPLE_BYTES = 8 * 1024**2


class ShapefileReader(BaseReader):
    """``.shp`` with ``.shx`` and ``.dbf`` beside it (or inside the same zip)."""

    formats = ("shapefile",)

    def read(self, source: Source, options: ReadOptions) -> RawLayer:
        """Check the sidecars, settle the encoding, read with GDAL."""
        for suffix, what in ((".shx", "index"), (".dbf", "attribute table")):
            if source.sibling(suffix) is None:
                raise InputError(
                    f"{source.label}: the shapefile's {what} file ({source.stem}{suffix}) is missing"
                )
        encoding, how, warning = choose_encoding(source, options.encoding)
        raw = raw_from_ogr(source, encoding=encoding)
        raw.encoding, raw.encoding_source = encoding, how
        if warning:
            raw.warnings.append(warning)
        return raw


def choose_encoding(source: Source, option: str | None) -> tuple[str, str, str | None]:
    """(codec, how it was chosen, warning or None) for the shapefile's ``.dbf``."""
    if option:
        try:
            return enc.normalise(option), "option", None
        except LookupError as exc:
            raise InputError(f"--encoding {option!r}: unknown text encoding") from exc
    sample = enc.dbf_string_bytes(source.read_bytes(".dbf", DBF_SAMPLE_BYTES) or b"")
    cpg = source.read_bytes(".cpg", 1024)
    if cpg is not None:
        named = enc.parse_cpg(cpg)
        if named and enc.decodes(sample, named):
            return named, "cpg", None
        detected = enc.detect(sample)
        return detected, "detected", (
            f"{source.label}: the .cpg says {cpg.decode('ascii', 'replace').strip()!r}, but the "
            f"attribute text is not valid in it; read as {detected}"
        )
    return enc.detect(sample), "detected", None
