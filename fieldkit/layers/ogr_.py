"""Reading through GDAL (pyogrio) with the driver allowlist, errors and warnings made ours."""

from __future__ import annotations

import warnings
from typing import Any

import numpy as np
import pandas as pd
import pyogrio
import pyogrio.errors

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
) -> tuple[dict[str, Any], np.ndarray, pd.DataFrame, list[str]]:
    """Read one layer: (info, shapely geometries, attribute frame, GDAL warnings)."""
    info = ogr_info(source, layer=layer, encoding=encoding)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            frame = pyogrio.read_dataframe(
                source.gdal_path, layer=layer, encoding=encoding, use_arrow=True
            )
        except (pyogrio.errors.DataSourceError, pyogrio.errors.DataLayerError, pyogrio.errors.FieldError) as exc:
            raise InputError(f"{source.label}: GDAL could not read it: {exc}") from exc
        except pyogrio.errors.GeometryError as exc:
            raise InputError(f"{source.label}: unreadable geometry: {exc}") from exc
    messages = [f"{source.label}: GDAL: {w.message}" for w in caught]
    if "geometry" in frame:
        geoms = np.asarray(frame.geometry.values, dtype=object)
        attributes = pd.DataFrame(frame.drop(columns=frame.geometry.name))
    else:
        geoms = np.full(len(frame), None, dtype=object)
        attributes = pd.DataFrame(frame)
    return info, geoms, attributes, messages


def raw_from_ogr(
    source: Source,
    *,
    layer: str | int | None = None,
    encoding: str | None = None,
    default_crs: str | None = None,
) -> RawLayer:
    """Read one layer into a :class:`RawLayer` (``declared_crs`` is what GDAL reports)."""
    info, geoms, attributes, messages = ogr_read(source, layer, encoding)
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
    )
