"""Visiting order of look-back sites: nearest neighbour, then 2-opt, on geodesic distances.

Pure functions over ``(lon, lat)`` WGS84 points; distances are WGS84 geodesics
(:data:`fieldkit.geo.measure.GEOD`). The path starts at the office and, unless
``return_to_start``, ends at the last site. 2-opt is run from the nearest-neighbour tour and
from the order given, and the shorter result is kept, so the plan is never longer than visiting
the sites in the given order (2-opt only accepts strictly shorter tours).
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np

from ..errors import InputError
from ..geo.measure import GEOD

LonLat = tuple[float, float]
_EPS = 1e-7


def check_point(point: Sequence[float], what: str) -> LonLat:
    """``point`` as a validated ``(lon, lat)``; InputError naming ``what`` otherwise."""
    try:
        lon, lat = (float(v) for v in point)
    except (TypeError, ValueError):
        raise InputError(f"{what}: expected (lon, lat), got {point!r}") from None
    if not (math.isfinite(lon) and math.isfinite(lat) and -180 <= lon <= 180 and -90 <= lat <= 90):
        raise InputError(f"{what}: lon={lon}, lat={lat} is not a WGS84 position")
    return lon, lat


def distance_matrix(points: Sequence[LonLat]) -> np.ndarray:
    """Geodesic distances in metres between every pair of points (symmetric, zero diagonal)."""
    n = len(points)
    if n == 0:
        return np.zeros((0, 0))
    xy = np.asarray(points, dtype=float)
    i, j = np.triu_indices(n, k=1)
    out = np.zeros((n, n))
    if i.size:
        _, _, d = GEOD.inv(xy[i, 0], xy[i, 1], xy[j, 0], xy[j, 1])
        out[i, j] = out[j, i] = np.asarray(d, dtype=float)
    return out


def route_length(dist: np.ndarray, route: Sequence[int], closed: bool = False) -> float:
    """Length of ``route`` (node indices into ``dist``), back to its first node when ``closed``."""
    total = float(sum(dist[a, b] for a, b in zip(route, route[1:])))
    if closed and len(route) > 1:
        total += float(dist[route[-1], route[0]])
    return total


def nearest_neighbour(dist: np.ndarray) -> list[int]:
    """A route from node 0 always going to the nearest unvisited node (ties: lowest index)."""
    n = dist.shape[0]
    route, left = [0], set(range(1, n))
    while left:
        here = route[-1]
        nxt = min(left, key=lambda k: (dist[here, k], k))
        route.append(nxt)
        left.remove(nxt)
    return route


def two_opt(dist: np.ndarray, route: list[int], closed: bool = False) -> list[int]:
    """Improve ``route`` (node 0 fixed first) by reversing segments until no reversal shortens it."""
    route = list(route)
    n = len(route)
    improved = True
    while improved:
        improved = False
        for i in range(1, n - 1):
            for k in range(i + 1, n):
                a, b, c = route[i - 1], route[i], route[k]
                d = route[k + 1] if k + 1 < n else (route[0] if closed else None)
                before = dist[a, b] + (dist[c, d] if d is not None else 0.0)
                after = dist[a, c] + (dist[b, d] if d is not None else 0.0)
                if after < before - _EPS:
                    route[i : k + 1] = reversed(route[i : k + 1])
                    improved = True
    return route


def plan_order(
    start: Sequence[float], sites: Sequence[Sequence[float]], return_to_start: bool = False
) -> tuple[list[int], float, float]:
    """Visit order of ``sites`` from ``start``: ``(order, planned_m, given_order_m)``.

    ``order`` lists indices into ``sites``; ``planned_m <= given_order_m`` always.
    """
    points = [check_point(start, "trip start")] + [check_point(p, f"site {i}") for i, p in enumerate(sites)]
    dist = distance_matrix(points)
    given = list(range(len(points)))
    candidates = [two_opt(dist, nearest_neighbour(dist), return_to_start), two_opt(dist, given, return_to_start)]
    best = min(candidates, key=lambda r: route_length(dist, r, return_to_start))
    return (
        [k - 1 for k in best[1:]],
        route_length(dist, best, return_to_start),
        route_length(dist, given, return_to_start),
    )
