"""Trip ordering: nearest neighbour + 2-opt on geodesics, never longer than the given order."""

from __future__ import annotations

import itertools

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from fieldkit.errors import InputError
from fieldkit.geo.measure import distance_m
from fieldkit.lookback.route import distance_matrix, nearest_neighbour, plan_order, route_length, two_opt

START = (101.95, 38.23)
lonlat = st.tuples(st.floats(101.9, 102.1), st.floats(38.2, 38.4))


def path_m(start, sites, order, back=False) -> float:
    pts = [start] + [sites[i] for i in order] + ([start] if back else [])
    return sum(distance_m(a[0], a[1], b[0], b[1]) for a, b in zip(pts, pts[1:]))


@settings(max_examples=150, deadline=None)
@given(sites=st.lists(lonlat, min_size=0, max_size=12), back=st.booleans())
def test_plan_is_a_permutation_never_longer_than_the_given_order(sites, back):
    order, planned, given = plan_order(START, sites, back)
    assert sorted(order) == list(range(len(sites)))
    assert planned <= given + 1e-6
    assert planned == pytest.approx(path_m(START, sites, order, back), rel=1e-9, abs=1e-6)
    assert given == pytest.approx(path_m(START, sites, range(len(sites)), back), rel=1e-9, abs=1e-6)


@settings(max_examples=60, deadline=None)
@given(sites=st.lists(lonlat, min_size=2, max_size=7))
def test_plan_is_a_two_opt_local_optimum(sites):
    order, planned, _ = plan_order(START, sites)
    # no reversal of a stretch of the plan makes it shorter (a 2-opt local optimum)
    for i, k in itertools.combinations(range(len(order)), 2):
        other = order[:i] + order[i : k + 1][::-1] + order[k + 1 :]
        assert planned <= path_m(START, sites, other) + 1e-6
    if len(sites) == 2:  # both orders are one reversal apart: the plan is the optimum
        best = min(path_m(START, sites, p) for p in itertools.permutations(range(len(sites))))
        assert planned == pytest.approx(best, rel=1e-9, abs=1e-6)


def test_points_on_a_line_are_visited_in_line_order():
    # sites shuffled along a meridian north of the start: the plan walks them south to north
    sites = [(101.95, 38.23 + 0.01 * k) for k in (5, 1, 4, 2, 3)]
    order, planned, given = plan_order(START, sites)
    assert order == [1, 3, 4, 2, 0]
    assert planned == pytest.approx(distance_m(*START, *sites[0]), rel=1e-9)
    assert given > planned


def test_two_opt_untangles_a_crossing():
    pts = [(0.0, 0.0), (0.01, 0.01), (0.01, 0.0), (0.0, 0.01)]  # 0 -> 1 -> 2 -> 3 crosses itself
    dist = distance_matrix(pts)
    route = two_opt(dist, [0, 1, 2, 3], closed=True)
    assert route_length(dist, route, True) < route_length(dist, [0, 1, 2, 3], True)
    assert nearest_neighbour(dist)[0] == 0


@pytest.mark.parametrize("bad", [(200, 10), (10, 95), ("x", 1), (float("nan"), 1), (1,)])
def test_bad_points_are_refused(bad):
    with pytest.raises(InputError, match="site 0"):
        plan_order(START, [bad])
