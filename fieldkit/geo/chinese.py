"""GCJ-02 (AMap, Tencent) and BD-09 (Baidu) <-> WGS84, vectorised over numpy arrays.

GCJ-02 is WGS84 plus a deliberate, smooth, position-dependent offset of a few hundred metres;
BD-09 adds a second offset on top of GCJ-02. The forward formulas are the public ones (the
same as ``eviltransform`` and ``prcoords``); the inverses are solved by fixed-point iteration
so that ``forward(inverse(p)) == p`` to far better than a centimetre.

Every function takes ``(lon, lat)`` as scalars or array-likes (broadcast together) and returns
``(lon, lat)`` of the same shape: floats for scalar input, numpy arrays otherwise. Points
outside China's rough bounding box pass through unchanged, as the official algorithm does.
"""

from __future__ import annotations

import numpy as np

_A = 6378245.0  # Krasovsky 1940 semi-major axis used by GCJ-02
_EE = 0.00669342162296594323  # its first eccentricity squared
_X_PI = np.pi * 3000.0 / 180.0
_BD_DLON = 0.0065
_BD_DLAT = 0.0060
_MAX_ITER = 30
_TOL_DEG = 1e-12  # ~0.1 micrometre


def _as_arrays(lon, lat) -> tuple[np.ndarray, np.ndarray, bool]:
    lon_a, lat_a = np.broadcast_arrays(np.asarray(lon, dtype=float), np.asarray(lat, dtype=float))
    return lon_a, lat_a, lon_a.ndim == 0


def _out(lon: np.ndarray, lat: np.ndarray, scalar: bool):
    if scalar:
        return float(lon), float(lat)
    return lon, lat


def _out_of_china(lon: np.ndarray, lat: np.ndarray) -> np.ndarray:
    return ~((lon >= 72.004) & (lon <= 137.8347) & (lat >= 0.8293) & (lat <= 55.8271))


def out_of_china(lon, lat):
    """True where the point lies outside the box in which GCJ-02/BD-09 offsets are applied."""
    lon_a, lat_a, scalar = _as_arrays(lon, lat)
    result = _out_of_china(lon_a, lat_a)
    return bool(result) if scalar else result


def _gcj_delta(lon: np.ndarray, lat: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """GCJ-02 offset (dlon, dlat) in degrees at WGS84 position (lon, lat)."""
    x = lon - 105.0
    y = lat - 35.0
    xp, yp = x * np.pi, y * np.pi
    common = 20.0 * np.sin(6.0 * xp) + 20.0 * np.sin(2.0 * xp)
    sqrt_abs_x = np.sqrt(np.abs(x))
    dlat_m = -100.0 + 2.0 * x + 3.0 * y + 0.2 * y * y + 0.1 * x * y + 0.2 * sqrt_abs_x
    dlat_m += (common + 20.0 * np.sin(yp) + 40.0 * np.sin(yp / 3.0)
               + 160.0 * np.sin(yp / 12.0) + 320.0 * np.sin(yp / 30.0)) * 2.0 / 3.0
    dlon_m = 300.0 + x + 2.0 * y + 0.1 * x * x + 0.1 * x * y + 0.1 * sqrt_abs_x
    dlon_m += (common + 20.0 * np.sin(xp) + 40.0 * np.sin(xp / 3.0)
               + 150.0 * np.sin(xp / 12.0) + 300.0 * np.sin(xp / 30.0)) * 2.0 / 3.0
    rad_lat = np.radians(lat)
    magic = 1.0 - _EE * np.sin(rad_lat) ** 2
    sqrt_magic = np.sqrt(magic)
    dlat = dlat_m * 180.0 / ((_A * (1.0 - _EE)) / (magic * sqrt_magic) * np.pi)
    dlon = dlon_m * 180.0 / (_A / sqrt_magic * np.cos(rad_lat) * np.pi)
    return dlon, dlat


def _wgs_to_gcj(lon: np.ndarray, lat: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    dlon, dlat = _gcj_delta(lon, lat)
    outside = _out_of_china(lon, lat)
    return np.where(outside, lon, lon + dlon), np.where(outside, lat, lat + dlat)


def _gcj_to_bd(lon: np.ndarray, lat: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    z = np.hypot(lon, lat) + 0.00002 * np.sin(lat * _X_PI)
    theta = np.arctan2(lat, lon) + 0.000003 * np.cos(lon * _X_PI)
    bd_lon = z * np.cos(theta) + _BD_DLON
    bd_lat = z * np.sin(theta) + _BD_DLAT
    outside = _out_of_china(lon, lat)
    return np.where(outside, lon, bd_lon), np.where(outside, lat, bd_lat)


def _bd_to_gcj_rough(lon: np.ndarray, lat: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    x = lon - _BD_DLON
    y = lat - _BD_DLAT
    z = np.hypot(x, y) - 0.00002 * np.sin(y * _X_PI)
    theta = np.arctan2(y, x) - 0.000003 * np.cos(x * _X_PI)
    return z * np.cos(theta), z * np.sin(theta)


def _invert(forward, lon: np.ndarray, lat: np.ndarray, guess) -> tuple[np.ndarray, np.ndarray]:
    """Solve forward(p) == (lon, lat) by fixed-point iteration from ``guess``.

    Both offsets vary slowly (their Jacobian is close to the identity), so each step
    shrinks the error by orders of magnitude; a handful of iterations reach 1e-12 degrees.
    """
    out_lon, out_lat = guess
    for _ in range(_MAX_ITER):
        f_lon, f_lat = forward(out_lon, out_lat)
        err_lon, err_lat = f_lon - lon, f_lat - lat
        out_lon, out_lat = out_lon - err_lon, out_lat - err_lat
        if np.all(np.abs(err_lon) < _TOL_DEG) and np.all(np.abs(err_lat) < _TOL_DEG):
            break
    outside = _out_of_china(lon, lat)
    return np.where(outside, lon, out_lon), np.where(outside, lat, out_lat)


def wgs84_to_gcj02(lon, lat):
    """WGS84 -> GCJ-02 (the coordinates AMap and Tencent maps show)."""
    lon_a, lat_a, scalar = _as_arrays(lon, lat)
    return _out(*_wgs_to_gcj(lon_a, lat_a), scalar)


def gcj02_to_wgs84(lon, lat):
    """GCJ-02 -> WGS84, iterative: ``wgs84_to_gcj02`` of the result reproduces the input to <1 cm."""
    lon_a, lat_a, scalar = _as_arrays(lon, lat)
    dlon, dlat = _gcj_delta(lon_a, lat_a)
    result = _invert(_wgs_to_gcj, lon_a, lat_a, (lon_a - dlon, lat_a - dlat))
    return _out(*result, scalar)


def gcj02_to_bd09(lon, lat):
    """GCJ-02 -> BD-09 (Baidu maps)."""
    lon_a, lat_a, scalar = _as_arrays(lon, lat)
    return _out(*_gcj_to_bd(lon_a, lat_a), scalar)


def bd09_to_gcj02(lon, lat):
    """BD-09 -> GCJ-02, iterative: ``gcj02_to_bd09`` of the result reproduces the input to <1 cm."""
    lon_a, lat_a, scalar = _as_arrays(lon, lat)
    result = _invert(_gcj_to_bd, lon_a, lat_a, _bd_to_gcj_rough(lon_a, lat_a))
    return _out(*result, scalar)


def wgs84_to_bd09(lon, lat):
    """WGS84 -> BD-09."""
    lon_a, lat_a, scalar = _as_arrays(lon, lat)
    return _out(*_gcj_to_bd(*_wgs_to_gcj(lon_a, lat_a)), scalar)


def bd09_to_wgs84(lon, lat):
    """BD-09 -> WGS84 (via GCJ-02, both steps iterative)."""
    lon_a, lat_a, scalar = _as_arrays(lon, lat)
    gcj_lon, gcj_lat = bd09_to_gcj02(lon_a, lat_a)
    return _out(*gcj02_to_wgs84(gcj_lon, gcj_lat), scalar)
