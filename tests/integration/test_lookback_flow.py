"""Look-backs end to end: due list and iCalendar, plan, pair new photos, verdicts, case transitions."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import func, select

from fieldkit import audit, cases
from fieldkit.errors import ConflictError, InputError, NotFoundError
from fieldkit.lookback import (
    conclude_lookback,
    confirm_pair,
    due_ics,
    due_lookbacks,
    finding_checks,
    list_pairs,
    pair_manually,
    plan_lookback,
    record_verdict,
    reject_pair,
    suggest_pairs,
)
from fieldkit.store.models_cases import AuditEntry, Finding
from tests.integration.test_lookback_setup import (
    T0,
    add_finding,
    add_photo,
    add_user,
    add_wall_layer,
    served_case,
)

D = dt.date
NORTH_10M = 10 / 111_000  # degrees of latitude for about 10 m
F1 = (101.9700, 38.2480)
F2 = (101.9800, 38.2520)


@pytest.fixture
def world(runtime):
    """Two inspectors in two teams, a wall layer, and one served case with two findings on feature A."""
    li = add_user(runtime, "li", team="一组", display="李明")
    wang = add_user(runtime, "wang", team="二组")
    layer, fa, fb = add_wall_layer(runtime)
    old1 = add_photo(runtime, F1[0], F1[1] - NORTH_10M, bearing=0.0, link=(layer, fa), seed=1)
    old2 = add_photo(runtime, F2[0], F2[1], bearing=90.0, link=(layer, fa), seed=2)
    f1 = add_finding(runtime, li, [old1], *F1, layer_id=layer, feature=(fa, "A", "明长城永昌段"),
                     place="马营沟村北侧", chainage_m=1200.0)
    f2 = add_finding(runtime, li, [old2], *F2, layer_id=layer, feature=(fa, "A", "明长城永昌段"),
                     place="马营沟村东侧", chainage_m=2150.0)
    case = served_case(runtime, li, [f1, f2], served_on=D(2025, 1, 10))
    return {"li": li, "wang": wang, "layer": layer, "fa": fa, "fb": fb, "f1": f1, "f2": f2, "case": case,
            "old": (old1, old2)}


def audit_count(rt) -> int:
    with rt.db.session() as s:
        return s.scalar(select(func.count()).select_from(AuditEntry))


def test_due_list_groups_and_filters(runtime, world):
    li, wang = world["li"], world["wang"]
    fx = add_finding(runtime, wang, [], 102.3, 38.5, category="gw-graffiti")
    overdue = served_case(runtime, wang, [fx], served_on=D(2024, 12, 1), body="金川区文化和旅游局", title="涂污")
    fy = add_finding(runtime, wang, [], 102.31, 38.5, category="gw-graffiti")
    later = served_case(runtime, wang, [fy], served_on=D(2025, 2, 20), body="金川区文化和旅游局", title="涂污二")
    listing = due_lookbacks(runtime, today=D(2025, 3, 5))
    assert [i.case_id for i in listing.overdue] == [overdue]
    assert [i.case_id for i in listing.this_week] == [world["case"]]
    assert [i.case_id for i in listing.later] == [later]
    week = listing.this_week[0]
    assert (week.due_on, week.basis, week.days_left, week.finding_count) == (D(2025, 3, 10), "reply_due", 5, 2)
    assert listing.overdue[0].days_left == -32  # reply due 2025-02-01 (28 + 4 days)
    assert [i.case_id for i in due_lookbacks(runtime, today=D(2025, 3, 5), inspector_id=li).items] == [world["case"]]
    assert [i.case_id for i in due_lookbacks(runtime, today=D(2025, 3, 5), team="二组").items] == [overdue, later]
    by_body = due_lookbacks(runtime, today=D(2025, 3, 5), responsible_body="金川区文化和旅游局")
    assert {i.case_id for i in by_body.items} == {overdue, later}
    # a planned look-back replaces the reply deadline, and its inspectors count for the filter
    lb = plan_lookback(runtime, overdue, planned_on="2025-03-07", actor_id=wang, inspector_ids=[li])
    moved = due_lookbacks(runtime, today=D(2025, 3, 5), inspector_id=li)
    assert [(i.case_id, i.basis, i.lookback_id, i.group) for i in moved.items] == [
        (overdue, "planned", lb.id, "this_week"), (world["case"], "reply_due", None, "this_week")]


def test_plan_lookback_refuses_bad_input(runtime, world):
    li = world["li"]
    with pytest.raises(InputError, match="before the service date"):
        plan_lookback(runtime, world["case"], planned_on=D(2025, 1, 1), actor_id=li)
    with pytest.raises(NotFoundError, match="user 999"):
        plan_lookback(runtime, world["case"], planned_on=D(2025, 3, 12), actor_id=li, inspector_ids=[999])
    with pytest.raises(InputError, match="not a date"):
        plan_lookback(runtime, world["case"], planned_on="12/03/2025", actor_id=li)
    lb = plan_lookback(runtime, world["case"], planned_on=D(2025, 3, 12), actor_id=li, inspection="回头看 3月")
    assert (lb.inspection_name, lb.inspector_ids, lb.planned_on) == ("回头看 3月", (), D(2025, 3, 12))


def _lookback_with_photos(runtime, world, **photos):
    lb = plan_lookback(runtime, world["case"], planned_on=D(2025, 3, 12), actor_id=world["li"],
                       inspector_ids=[world["li"], world["wang"]], inspection="回头看-永昌")
    ids = {}
    for seed, (name, (dlat, bearing, feature)) in enumerate(photos.items(), start=10):
        link = None if feature is None else (world["layer"], world[feature])
        ids[name] = add_photo(runtime, F1[0], F1[1] - dlat, bearing=bearing, inspection_id=lb.inspection_id,
                              link=link, seed=seed)
    return lb, ids


def test_pairing_scores_distance_bearing_and_feature(runtime, world):
    lb, p = _lookback_with_photos(
        runtime, world,
        good=(NORTH_10M, 0.0, "fa"),          # 10 m south of f1, facing it like the old photo, feature A
        away=(NORTH_10M, 180.0, "fa"),        # same spot, facing away
        wrong=(NORTH_10M, 0.0, "fb"),         # joined to the other wall segment
        far=(60 * NORTH_10M, 0.0, "fa"),      # 600 m away: no candidate
        near=(4 * NORTH_10M, 0.0, "fa"),      # 40 m away
    )
    pairs = suggest_pairs(runtime, lb.id, world["li"])
    of_f1 = {x.photo_id: x for x in pairs if x.finding_id == world["f1"]}
    assert p["far"] not in of_f1 and set(of_f1) == {p["good"], p["away"], p["wrong"], p["near"]}
    good, away, wrong, near = (of_f1[p[k]] for k in ("good", "away", "wrong", "near"))
    assert good.components["feature"] == 1.0 and wrong.components["feature"] == 0.0
    assert good.components["bearing_diff_deg"] == pytest.approx(0, abs=0.5) and not good.weak
    assert away.weak and away.components["bearing_diff_deg"] == pytest.approx(180, abs=0.5)
    assert good.components["distance_m"] == pytest.approx(10, abs=0.5)
    assert good.score > near.score > away.score and good.score > wrong.score
    assert max(of_f1.values(), key=lambda x: x.score).photo_id == p["good"]
    assert all(0 <= x.score <= 1 and x.state == "candidate" for x in pairs)
    # no photo is near f2 (1 km away): it stays not checked
    assert not [x for x in pairs if x.finding_id == world["f2"]]
    statuses = {c.finding_id: c.status for c in finding_checks(runtime, lb.id)}
    assert statuses == {world["f1"]: "not_checked", world["f2"]: "not_checked"}
    # re-suggesting keeps confirmed and rejected pairs, replaces candidates
    confirm_pair(runtime, good.id, world["wang"])
    reject_pair(runtime, away.id, world["wang"])
    again = suggest_pairs(runtime, lb.id, world["li"])
    states = {(x.photo_id, x.state) for x in again if x.finding_id == world["f1"]}
    assert {(p["good"], "confirmed"), (p["away"], "rejected"), (p["wrong"], "candidate")} <= states
    assert len(again) == len(pairs) and list_pairs(runtime, lb.id) == again


def test_pairing_needs_photos_and_an_open_lookback(runtime, world):
    li = world["li"]
    bare = plan_lookback(runtime, world["case"], planned_on=D(2025, 3, 12), actor_id=li)
    with pytest.raises(InputError, match="has no inspection; give photo_ids"):
        suggest_pairs(runtime, bare.id, li)
    with pytest.raises(NotFoundError, match="photo 999"):
        suggest_pairs(runtime, bare.id, li, photo_ids=[999])
    with pytest.raises(ConflictError, match="not part of case"):
        pair_manually(runtime, bare.id, add_finding(runtime, li, [], *F1), world["old"][0], li)


def test_verdict_needs_a_confirmed_photo_and_all_rectified_closes(runtime, world):
    li, f1, f2 = world["li"], world["f1"], world["f2"]
    lb, p = _lookback_with_photos(runtime, world, good=(NORTH_10M, 0.0, "fa"))
    (cand,) = suggest_pairs(runtime, lb.id, li)
    with pytest.raises(ConflictError, match="no confirmed new photo; it stays not checked"):
        record_verdict(runtime, lb.id, f1, "rectified", li)
    with pytest.raises(InputError, match="verdict 'fixed'"):
        record_verdict(runtime, lb.id, f1, "fixed", li)
    confirm_pair(runtime, cand.id, li)
    record_verdict(runtime, lb.id, f1, "rectified", li)
    # f2: the inspector corrects the pairing by hand (photo taken at f2 but not suggested)
    at_f2 = add_photo(runtime, F2[0], F2[1] - NORTH_10M, bearing=85.0, seed=40)
    manual = pair_manually(runtime, lb.id, f2, at_f2, li)
    assert manual.state == "confirmed" and manual.components["distance_m"] == pytest.approx(10, abs=0.5)
    check = record_verdict(runtime, lb.id, f2, "rectified", li, note="已回填")
    assert (check.status, check.new_photo_ids, check.note) == ("rectified", (at_f2,), "已回填")
    before = audit_count(runtime)
    result = conclude_lookback(runtime, lb.id, li, done_on=D(2025, 3, 12), at=T0 + dt.timedelta(days=12))
    assert result.outcome == "closed"
    assert [e.action.value for e in result.events] == ["start_follow_up", "close"]
    facts = cases.case_facts(runtime, world["case"])
    assert (facts.state.value, facts.ended_on) == ("closed", D(2025, 3, 12))
    with runtime.db.session() as s:
        assert {f.state for f in s.scalars(select(Finding).where(Finding.id.in_([f1, f2])))} == {"closed"}
    assert audit_count(runtime) > before and audit.verify(runtime) == []
    with pytest.raises(ConflictError, match="already concluded"):
        record_verdict(runtime, lb.id, f1, "worse", li)


def _decided(runtime, world, verdicts: dict[str, str], done_on: D):
    li = world["li"]
    lb, p = _lookback_with_photos(runtime, world)
    for key, verdict in verdicts.items():
        fid = world[key]
        if verdict != "no_access":
            photo = add_photo(runtime, F1[0], F1[1], bearing=0.0, seed=50 + fid)
            pair_manually(runtime, lb.id, fid, photo, li)
        record_verdict(runtime, lb.id, fid, verdict, li)
    return conclude_lookback(runtime, lb.id, li, done_on=done_on, at=T0 + dt.timedelta(days=20))


def test_not_rectified_after_the_deadline_goes_to_litigation_review(runtime, world):
    result = _decided(runtime, world, {"f1": "rectified", "f2": "worse"}, D(2025, 3, 20))
    assert result.outcome == "litigation_review"
    facts = cases.case_facts(runtime, world["case"])
    assert facts.state.value == "litigation_review"
    assert facts.review_due == D(2025, 4, 10)  # one month after the rectification period (2025-03-10)
    assert "worse" in result.note and str(world["f2"]) in result.note


def test_not_rectified_before_the_deadline_stays_in_follow_up(runtime, world):
    result = _decided(runtime, world, {"f1": "not_rectified", "f2": "rectified"}, D(2025, 3, 5))
    assert result.outcome == "follow_up"
    events = cases.case_events(runtime, world["case"])
    assert [e.action for e in events[-2:]] == ["start_follow_up", "record_look_back"]
    assert events[-1].to_state == "follow_up" and "not_rectified" in events[-1].note


@pytest.mark.parametrize("verdicts", [{"f1": "partly", "f2": "rectified"}, {"f1": "no_access", "f2": "rectified"},
                                      {"f2": "rectified"}])
def test_partly_no_access_or_unchecked_stay_in_follow_up_with_a_note(runtime, world, verdicts):
    result = _decided(runtime, world, verdicts, D(2025, 3, 20))
    assert result.outcome == "follow_up"
    assert cases.case_facts(runtime, world["case"]).state.value == "follow_up"
    statuses = {c.finding_id: c.status for c in result.checks}
    assert statuses[world["f1"]] == verdicts.get("f1", "not_checked")
    assert statuses[world["f1"]] in result.note or "未核查" in result.note
    # the case is due again 30 days after the look-back
    (item,) = due_lookbacks(runtime, today=D(2025, 3, 21)).items
    assert (item.basis, item.due_on) == ("revisit", D(2025, 4, 19))


def test_ics_export_parses_back_strictly(runtime, world):
    listing = due_lookbacks(runtime, today=D(2025, 3, 5))
    text = due_ics(listing.items, stamp=dt.datetime(2025, 3, 5, 1, 2, 3))
    from tests.unit.test_lookback_ics import parse_ics

    (event,) = parse_ics(text)
    assert event["DTSTART;VALUE=DATE"] == "20250310" and event["DTEND;VALUE=DATE"] == "20250311"
    assert event["UID"] == f"lookback-case-{world['case']}-20250310@fieldkit.local"
    assert "永昌县文化和旅游局" in event["SUMMARY"]
