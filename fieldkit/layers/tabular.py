"""CSV and XLSX readers: points from coordinate columns, detected or named.

Columns are matched case-insensitively: x from lon/lng/long/longitude/经度/x, y from
lat/latitude/纬度/y; ``--x-field``/``--y-field`` name them explicitly (e.g. HK1980 EASTING /
NORTHING with ``--crs EPSG:2326``). Rows whose coordinates are not numbers are dropped and
reported with their spreadsheet row number (the header is row 1).
"""

from __future__ import annotations

import io
import warnings

import numpy as np
import pandas as pd
import shapely

from ..errors import InputError
from . import encoding as enc
from .base import BaseReader, Problem, RawLayer, ReadOptions
from .sources import Source

X_NAMES = ("lon", "lng", "long", "longitude", "经度", "x")
Y_NAMES = ("lat", "latitude", "纬度", "y")
MAX_TABLE_BYTES = 512 * 1024**2


class CSVReader(BaseReader):
    """Comma-separated text; UTF-8 (with or without BOM) or GBK/GB18030, detected."""

    formats = ("csv",)

    def read(self, source: Source, options: ReadOptions) -> RawLayer:
        """Decode, parse with pandas (all columns as text), build points."""
        data = source.read_bytes(limit=MAX_TABLE_BYTES) or b""
        if options.encoding:
            try:
                codec, how = enc.normalise(options.encoding), "option"
            except LookupError as exc:
                raise InputError(f"--encoding {options.encoding!r}: unknown text encoding") from exc
        else:
            codec, how = enc.detect(data), "detected"
        try:
            text = data.decode(codec)
        except UnicodeDecodeError as exc:
            raise InputError(f"{source.label}: not valid {codec} text at byte {exc.start}") from exc
        try:
            frame = pd.read_csv(io.StringIO(text), dtype=str, keep_default_na=False, skipinitialspace=True)
        except (pd.errors.ParserError, pd.errors.EmptyDataError) as exc:
            raise InputError(f"{source.label}: not a readable CSV table ({exc})") from exc
        return points_from_table(source, "CSV", frame, options, codec, how)


class XLSXReader(BaseReader):
    """The first sheet of an Excel workbook (the zip container is checked first)."""

    formats = ("xlsx",)

    def read(self, source: Source, options: ReadOptions) -> RawLayer:
        """Read the first sheet with openpyxl through pandas."""
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            try:
                frame = pd.read_excel(source.path, sheet_name=0, dtype=object, engine="openpyxl")
            except Exception as exc:  # openpyxl raises many types for a broken workbook
                raise InputError(f"{source.label}: not a readable XLSX workbook ({exc})") from exc
        raw = points_from_table(source, "XLSX", frame, options, "utf-8", "format")
        raw.warnings.extend(f"{source.label}: {w.message}" for w in caught)
        return raw


def find_column(columns: list[str], wanted: str | None, candidates: tuple[str, ...], axis: str, label: str) -> str:
    """The column named ``wanted`` or the first candidate present (case-insensitive)."""
    by_lower = {str(c).strip().lower(): c for c in columns}
    if wanted:
        if wanted in columns:
            return wanted
        if wanted.strip().lower() in by_lower:
            return by_lower[wanted.strip().lower()]
        raise InputError(f"{label}: no column {wanted!r} for {axis}; columns are {', '.join(map(str, columns))}")
    for name in candidates:
        if name in by_lower:
            return by_lower[name]
    raise InputError(
        f"{label}: no {axis} column found (looked for {', '.join(candidates)}); columns are "
        f"{', '.join(map(str, columns))}. Name them with --x-field/--y-field"
    )


def points_from_table(
    source: Source, driver: str, frame: pd.DataFrame, options: ReadOptions, codec: str, how: str
) -> RawLayer:
    """Point geometries from the x/y columns of ``frame``; bad rows become problems."""
    columns = list(frame.columns)
    x_col = find_column(columns, options.x_field, X_NAMES, "x (longitude/easting)", source.label)
    y_col = find_column(columns, options.y_field, Y_NAMES, "y (latitude/northing)", source.label)
    xs = pd.to_numeric(frame[x_col].map(_clean), errors="coerce").to_numpy(dtype=float)
    ys = pd.to_numeric(frame[y_col].map(_clean), errors="coerce").to_numpy(dtype=float)
    rows = np.arange(2, len(frame) + 2)
    ok = np.isfinite(xs) & np.isfinite(ys)
    problems = [
        Problem(int(r), None, "bad_coordinates",
                f"row {r}: {x_col}={frame[x_col].iloc[i]!r}, {y_col}={frame[y_col].iloc[i]!r} are not numbers")
        for i, r in zip(np.flatnonzero(~ok), rows[~ok])
    ]
    geoms = np.full(len(frame), None, dtype=object)
    geoms[ok] = shapely.points(xs[ok], ys[ok])
    attributes = frame.drop(columns=[x_col, y_col]).map(_json_safe)
    attributes.columns = [str(c) for c in attributes.columns]
    return RawLayer(
        path=source.path, source_format=source.source_format, driver=driver, geoms=geoms,
        attributes=attributes, rows=rows, encoding=codec, encoding_source=how, problems=problems,
    )


def _clean(value: object) -> object:
    return value.strip() if isinstance(value, str) else value


def _json_safe(value: object) -> object:
    if value is None or (isinstance(value, float) and not np.isfinite(value)):
        return None
    if isinstance(value, (str, int, float, bool)):
        return value
    return str(value)
