"""Fulfilment (履约): required versus delivered per item and window."""

from __future__ import annotations

import datetime as dt

from hub.contracts.policy import get_policy
from hub.contracts.rules import (
    Delivery,
    ItemStatus,
    Period,
    TriggerEvent,
    contract_items,
    fulfilment,
)
from hub.contracts.terms import PopulationCategory as PC

YONGKANG, PANYU, ERQI = get_policy("yongkang"), get_policy("panyu"), get_policy("erqi")
YEAR = Period(dt.date(2024, 1, 1), dt.date(2024, 12, 31))


def _row(rows, code, n=0):  # type: ignore[no-untyped-def]
    return [r for r in rows if r.item_code == code][n]


def test_contract_items_expand_tier_modules_for_the_residents_groups() -> None:
    items = contract_items(YONGKANG, ["YK-FEE"], {PC.HYPERTENSION})
    got = {i.code for i in items}
    assert {"HT_FOLLOW_UP", "BASE_KNOWLEDGE_PUSH"} <= got
    assert "DM_FOLLOW_UP" not in got and "CHILD_HANDBOOK" not in got
    panyu = {i.code for i in contract_items(PANYU, ["PY-FREE"], set())}
    assert "CHRONIC_FOLLOW_UP" not in panyu and "HEALTH_RECORD" in panyu


def test_hypertension_three_follow_ups_shows_the_fourth_due() -> None:
    items = contract_items(YONGKANG, ["YK-FEE"], {PC.HYPERTENSION})
    done = [("HT_FOLLOW_UP", dt.date(2024, m, 10)) for m in (2, 5, 8)]
    rows = fulfilment(items, YEAR, done, as_of=dt.date(2024, 10, 1))
    ht = _row(rows, "HT_FOLLOW_UP")
    assert (ht.required, ht.done, ht.remaining, ht.status) == (4, 3, 1, ItemStatus.DUE)
    assert ht.window_end == dt.date(2024, 12, 31)
    after = fulfilment(items, YEAR, done, as_of=dt.date(2025, 1, 1))
    assert _row(after, "HT_FOLLOW_UP").status is ItemStatus.OVERDUE
    met = fulfilment(
        items, YEAR, [*done, ("HT_FOLLOW_UP", dt.date(2024, 11, 1))], as_of=dt.date(2024, 11, 2)
    )
    assert _row(met, "HT_FOLLOW_UP").status is ItemStatus.MET
    assert _row(met, "HT_RECORD").status is ItemStatus.ON_DEMAND


def test_quarterly_knowledge_push() -> None:
    items = contract_items(YONGKANG, ["YK-NO-FEE"], set())
    rows = fulfilment(
        items,
        YEAR,
        [Delivery("BASE_KNOWLEDGE_PUSH", dt.date(2024, 2, 1))],
        as_of=dt.date(2024, 5, 15),
    )
    pushes = [r for r in rows if r.item_code == "BASE_KNOWLEDGE_PUSH"]
    assert [(r.window_start, r.status) for r in pushes] == [
        (dt.date(2024, 1, 1), ItemStatus.MET),
        (dt.date(2024, 4, 1), ItemStatus.DUE),
    ]
    late = fulfilment(items, YEAR, [], as_of=dt.date(2024, 7, 1))
    statuses = [r.status for r in late if r.item_code == "BASE_KNOWLEDGE_PUSH"]
    assert statuses == [ItemStatus.OVERDUE, ItemStatus.OVERDUE, ItemStatus.DUE]


def test_tb_first_visit_within_72_hours_of_notification() -> None:
    items = contract_items(YONGKANG, ["YK-FEE"], {PC.TUBERCULOSIS})
    note = TriggerEvent("TB_NOTIFICATION", dt.datetime(2024, 3, 1, 9, 0))
    due = fulfilment(items, YEAR, [], as_of=dt.datetime(2024, 3, 3, 9, 0), events=[note])
    first = _row(due, "TB_FIRST_VISIT")
    assert first.status is ItemStatus.DUE and first.window_end == dt.datetime(2024, 3, 4, 9, 0)
    overdue = fulfilment(items, YEAR, [], as_of=dt.date(2024, 3, 5), events=[note])
    assert _row(overdue, "TB_FIRST_VISIT").status is ItemStatus.OVERDUE
    visit = [("TB_FIRST_VISIT", dt.datetime(2024, 3, 3, 15, 0))]
    met = fulfilment(items, YEAR, visit, as_of=dt.date(2024, 3, 5), events=[note])
    assert _row(met, "TB_FIRST_VISIT").status is ItemStatus.MET
    too_late = [("TB_FIRST_VISIT", dt.datetime(2024, 3, 4, 10, 0))]
    missed = fulfilment(items, YEAR, too_late, as_of=dt.date(2024, 3, 5), events=[note])
    assert _row(missed, "TB_FIRST_VISIT").status is ItemStatus.OVERDUE


def test_face_to_face_follow_up_also_counts_as_a_follow_up() -> None:
    items = contract_items(YONGKANG, ["YK-FEE"], {PC.SEVERE_MENTAL_DISORDER})
    done = [("SMD_FOLLOW_UP", dt.date(2024, m, 1)) for m in (2, 5, 8)]
    done.append(("SMD_FACE_TO_FACE", dt.date(2024, 11, 1)))
    rows = fulfilment(items, YEAR, done, as_of=dt.date(2024, 11, 2))
    assert _row(rows, "SMD_FOLLOW_UP").status is ItemStatus.MET
    assert _row(rows, "SMD_FACE_TO_FACE").status is ItemStatus.MET


def test_three_year_contract_is_measured_per_contract_year() -> None:
    items = contract_items(PANYU, ["PY-FREE"], {PC.ELDERLY_65})
    period = Period(dt.date(2024, 3, 1), dt.date(2027, 2, 28))
    rows = fulfilment(
        items, period, [("ELDERLY_EXAM", dt.date(2024, 6, 1))], as_of=dt.date(2025, 4, 1)
    )
    exams = [r for r in rows if r.item_code == "ELDERLY_EXAM"]
    assert [(r.window_start, r.window_end, r.status) for r in exams] == [
        (dt.date(2024, 3, 1), dt.date(2025, 2, 28), ItemStatus.MET),
        (dt.date(2025, 3, 1), dt.date(2026, 2, 28), ItemStatus.DUE),
    ]


def test_higher_tier_includes_lower_tier_services() -> None:
    wenzhou = get_policy("wenzhou")
    got = {i.code for i in contract_items(wenzhou, ["WZ-CUSTOMISED"], set())}
    assert {"HOME_SERVICES", "PRIORITY_OUTPATIENT", "EHR"} <= got
