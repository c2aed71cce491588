"""Feature ids and names from attribute columns (named, or the name column detected)."""

from __future__ import annotations

import math

import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from ..errors import InputError
from .base import ImportReport, RawLayer

NAME_CANDIDATES = ("name", "名称", "名字", "name_zh", "name_cn", "name_ch", "name_tc", "mc", "river_name")
MAX_NAME = 500
MAX_FID = 200


def _column(raw: RawLayer, frame: pd.DataFrame, wanted: str, what: str) -> str:
    if wanted in frame.columns:
        return wanted
    folded = {str(c).lower(): c for c in frame.columns}
    if wanted.lower() in folded:
        return folded[wanted.lower()]
    raise InputError(
        f"{raw.path}: no attribute {wanted!r} for the feature {what}; attributes are "
        f"{', '.join(map(str, frame.columns)) or '(none)'}"
    )


def _text(value: object) -> str | None:
    if value is None or (isinstance(value, float) and math.isnan(value)) or value is pd.NA:
        return None
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def feature_ids(raw: RawLayer, id_field: str | None, report: ImportReport) -> pa.Array:
    """One id string per raw feature (an Arrow string array): ``id_field``'s value, else the
    feature/row number."""
    if not id_field:
        return pa.array(raw.rows).cast(pa.string())
    column = _column(raw, raw.attributes, id_field, "id")
    series = raw.attributes[column]
    if pd.api.types.is_integer_dtype(series) and not series.hasnans:
        fids = pa.array(series).cast(pa.string())
        duplicated = pd.Series(series.to_numpy()).duplicated(keep=False).to_numpy()
    else:
        values = [_text(v) for v in series.tolist()]
        rows = raw.rows.astype(str).tolist()
        texts = [(v or r)[:MAX_FID] for v, r in zip(values, rows)]
        fids = pa.array(texts, pa.string())
        missing = sum(v is None for v in values)
        if missing:
            report.warnings.append(f"{missing} feature(s) have no {column!r}; their row number is used as id")
        duplicated = pd.Series(texts).duplicated(keep=False).to_numpy()
    if duplicated.any():
        sample = ", ".join(sorted(set(fids.filter(pa.array(duplicated)).to_pylist()))[:5])
        report.warnings.append(f"{int(duplicated.sum())} features share an id in {column!r} (e.g. {sample})")
    report.extra["id_field"] = column
    return fids


def find_name_field(frame: pd.DataFrame) -> str | None:
    """The column that most likely holds feature names, or None."""
    folded = {str(c).lower(): c for c in frame.columns}
    for candidate in NAME_CANDIDATES:
        if candidate in folded:
            return folded[candidate]
    named = [c for lower, c in folded.items() if lower.endswith(("name", "名称")) and _is_text(frame[c])]
    if not named:
        return None
    # e.g. province_name, city_name, district_name: the most specific has the most distinct values
    return max(reversed(named), key=lambda c: frame[c].nunique())


def _is_text(series: pd.Series) -> bool:
    return series.dtype == object or pd.api.types.is_string_dtype(series)


def feature_names(raw: RawLayer, frame: pd.DataFrame, name_field: str | None, report: ImportReport) -> pa.Array:
    """One name (or null) per feature of ``frame``, as an Arrow string array; records the field
    used in the report."""
    column = _column(raw, frame, name_field, "name") if name_field else find_name_field(frame)
    report.extra["name_field"] = column
    if column is None:
        return pa.nulls(len(frame), pa.string())
    series = frame[column]
    if pd.api.types.is_string_dtype(series) and series.dtype != object:  # str / string[pyarrow]: no mixed types
        sliced = pc.utf8_slice_codeunits(pa.array(series), 0, MAX_NAME)
        return pc.if_else(pc.equal(sliced, ""), None, sliced)
    if _is_text(series) and series.map(type, na_action="ignore").isin([str]).all():
        sliced = series.str.slice(0, MAX_NAME).astype(object)
        return pa.array(sliced.where(sliced.notna() & (sliced != ""), None).tolist(), pa.string())
    return pa.array([(t[:MAX_NAME] if t else None) for t in map(_text, series.tolist())], pa.string())
