"""Pure rules of look-backs: pair scores (distance, bearing, feature) and the case decision."""

from __future__ import annotations

import datetime as dt

import pytest

from fieldkit.errors import ConflictError
from fieldkit.lookback.pairing import angle_between, mean_bearing, score_pair
from fieldkit.lookback.verdicts import FindingCheck, decide

D = dt.date


def test_angles_and_mean_bearing():
    assert angle_between(350, 10) == pytest.approx(20)
    assert angle_between(90, 270) == pytest.approx(180)
    assert mean_bearing([350, 10]) == pytest.approx(0, abs=1e-9) or mean_bearing([350, 10]) == pytest.approx(360)
    assert mean_bearing([]) is None and mean_bearing([0, 180]) is None


def test_score_components():
    best = score_pair(0.0, True, 45.0, 45.0)
    assert best["score"] == pytest.approx(1.0) and not best["weak"]
    away = score_pair(0.0, True, 225.0, 45.0)
    assert away["weak"] and away["bearing"] == pytest.approx(0.0) and away["score"] == pytest.approx(0.7)
    wrong = score_pair(0.0, False, 45.0, 45.0)
    assert wrong["feature"] == 0.0 and wrong["score"] == pytest.approx(0.65)
    unknown = score_pair(50.0, None, None, 45.0)
    assert (unknown["feature"], unknown["bearing"], unknown["distance"]) == (0.5, 0.5, 0.5)
    assert score_pair(100.0, True, 45.0, 45.0)["distance"] == 0.0
    scores = [score_pair(d, True, 45.0, 45.0)["score"] for d in (0, 10, 50, 90)]
    assert scores == sorted(scores, reverse=True)
    side = score_pair(0.0, True, 135.0, 45.0)
    assert not side["weak"] and side["bearing"] == pytest.approx(0.5)


def check(fid: int, status: str) -> FindingCheck:
    return FindingCheck(fid, "gw-graffiti", None, status, (), None, None, None, None)


DEADLINE = D(2025, 3, 10)


@pytest.mark.parametrize(
    ("statuses", "day", "outcome"),
    [
        (["rectified", "rectified"], D(2025, 3, 1), "closed"),
        (["rectified", "rectified"], D(2025, 4, 1), "closed"),
        (["rectified", "not_rectified"], D(2025, 3, 11), "litigation_review"),
        (["rectified", "worse"], D(2025, 3, 11), "litigation_review"),
        (["worse", "partly"], D(2025, 3, 11), "litigation_review"),
        (["rectified", "not_rectified"], D(2025, 3, 10), "follow_up"),  # the last day still runs
        (["rectified", "partly"], D(2025, 4, 1), "follow_up"),
        (["rectified", "no_access"], D(2025, 4, 1), "follow_up"),
        (["rectified", "not_checked"], D(2025, 4, 1), "follow_up"),
        (["rectified", "paired"], D(2025, 4, 1), "follow_up"),
    ],
)
def test_decide(statuses, day, outcome):
    got, note = decide([check(i, s) for i, s in enumerate(statuses, start=1)], day, DEADLINE)
    assert got == outcome
    assert str(day) in note and all(s in note for s in statuses)


def test_decide_needs_findings_and_without_deadline_never_refers():
    with pytest.raises(ConflictError):
        decide([], D(2025, 3, 1), DEADLINE)
    assert decide([check(1, "worse")], D(2030, 1, 1), None)[0] == "follow_up"
