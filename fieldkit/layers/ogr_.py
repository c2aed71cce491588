"""Reading through GDAL (pyogrio) with the driver allowlist, errors and warnings made ours."""

from __future__ import annotations

import warnings
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyogrio
import pyogrio.errors
import shapely

from ..errors import InputError
from . import safety
from .base import RawLayer
from .sources import Source


def ogr_info(source: Source, layer: str | int | None = None, **kwargs: Any) -> dict[str, Any]:
    """``pyogrio.read_info`` with the driver checked against the format's allowlist."""
    with warnings.catch_warnings(record=True):
        warnings.simplefilter("always")
        try:
            info = pyogrio.read_info(source.gdal_path, layer=layer, **kwargs)
        except (pyogrio.errors.DataSourceError, pyogrio.errors.DataLayerError) as exc:
            raise InputError(f"{source.label}: GDAL cannot read it as {source.source_format}: {exc}") from exc
    safety.check_driver(source.path, source.source_format, info["driver"])
    return info


def ogr_layers(source: Source) -> list[str]:
    """Names of the layers in the dataset."""
    try:
        return [str(name) for name in pyogrio.list_layers(source.gdal_path)[:, 0]]
    except (pyogrio.errors.DataSourceError, pyogrio.errors.DataLayerError) as exc:
        raise InputError(f"{source.label}: GDAL cannot read it as {source.source_format}: {exc}") from exc


def ogr_read(
    source: Source, layer: str | int | None = None, encoding: str | None = None
) -> tuple[dict[str, Any], np.ndarray, pd.DataFrame, list[str], pa.Array | None]:
    """Read one layer: (info, shapely geometries, attribute frame, GDAL warnings, the file's WKB).

    Layers with only plain attribute types are read as Arrow and decoded here, keeping the WKB
    that GDAL returned (storage reuses it for unchanged geometries). Layers with date-time or
    JSON fields go through ``pyogrio.read_dataframe``, which parses those (WKB is then None).
    """
    info = ogr_info(source, layer=layer, encoding=encoding)
    plain = not any(str(t).startswith("datetime") and t != "datetime64[D]" for t in info.get("dtypes", ())) \
        and "OFSTJSON" not in list(info.get("ogr_subtypes", ()) or ())
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            if plain:
                geoms, attributes, wkb = _read_arrow(source, layer, encoding)
            else:
                geoms, attributes, wkb = _read_frame(source, layer, encoding)
        except (pyogrio.errors.DataSourceError, pyogrio.errors.DataLayerError, pyogrio.errors.FieldError) as exc:
            raise InputError(f"{source.label}: GDAL could not read it: {exc}") from exc
        except (pyogrio.errors.GeometryError, shapely.errors.GEOSException) as exc:
            raise InputError(f"{source.label}: unreadable geometry: {exc}") from exc
    messages = [f"{source.label}: GDAL: {w.message}" for w in caught]
    return info, geoms, attributes, messages, wkb


def _read_frame(source: Source, layer, encoding):
    frame = pyogrio.read_dataframe(source.gdal_path, layer=layer, encoding=encoding, use_arrow=True)
    if "geometry" in frame:
        return (np.asarray(frame.geometry.values, dtype=object),
                pd.DataFrame(frame.drop(columns=frame.geometry.name)), None)
    return np.full(len(frame), None, dtype=object), pd.DataFrame(frame), None


def _read_arrow(source: Source, layer, encoding):
    """``read_dataframe(use_arrow=True)``'s work for plain attribute types, keeping the WKB."""
    meta, table = pyogrio.read_arrow(source.gdal_path, layer=layer, encoding=encoding, datetime_as_string=True)
    name = meta["geometry_name"] or "wkb_geometry"
    if name not in table.column_names:
        return np.full(table.num_rows, None, dtype=object), table.to_pandas(), None
    column = table[name]
    if isinstance(column.type, pa.ExtensionType):  # geoarrow.wkb
        column = pa.chunked_array([chunk.storage for chunk in column.chunks], column.type.storage_type)
    wkb = column.combine_chunks()
    try:
        attributes = table.drop_columns([name]).to_pandas()
    except UnicodeDecodeError as exc:
        raise InputError(f"{source.label}: attribute text is not valid in its encoding ({exc})") from exc
    return shapely.from_wkb(wkb.to_numpy(zero_copy_only=False)), attributes, wkb


def raw_from_ogr(
    source: Source,
    *,
    layer: str | int | None = None,
    encoding: str | None = None,
    default_crs: str | None = None,
) -> RawLayer:
    """Read one layer into a :class:`RawLayer` (``declared_crs`` is what GDAL reports)."""
    info, geoms, attributes, messages, wkb = ogr_read(source, layer, encoding)
    return RawLayer(
        path=source.path,
        source_format=source.source_format,
        driver=info["driver"],
        geoms=geoms,
        attributes=attributes,
        rows=np.arange(1, len(geoms) + 1),
        declared_crs=info["crs"],
        default_crs=default_crs,
        warnings=messages,
        wkb=wkb,
    )
