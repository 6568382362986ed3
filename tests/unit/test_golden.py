"""The golden record: source priority, recency, provenance, discrepancies."""

import datetime as dt
from dataclasses import dataclass, field
from typing import Any

from hub.registry import golden


@dataclass
class Src:
    id: int
    source: str
    payload: dict[str, Any]
    received_at: dt.datetime = field(default_factory=lambda: dt.datetime(2026, 1, 1, tzinfo=dt.UTC))


def at(day: int) -> dt.datetime:
    return dt.datetime(2026, 1, day, tzinfo=dt.UTC)


def test_priority_then_recency_decide_each_field() -> None:
    records = [
        Src(1, "his", {"name": "张伟", "phone": "13800000001", "address": "市桥街道1号"}, at(5)),
        Src(2, "vendor", {"name": "章伟", "phone": "13800000002"}, at(1)),
        Src(3, "his", {"name": "张 伟", "address": "市桥街道2号"}, at(9)),
    ]
    g = golden.build(records, ["vendor", "his"])
    assert g.values["name"] == "章伟" and g.provenance["name"] == 2  # vendor outranks his
    assert (
        g.values["address_text"] == "市桥街道2号" and g.provenance["address_text"] == 3
    )  # newer his
    assert g.phones == ["13800000002", "13800000001"]


def test_unknown_sex_and_invalid_id_never_win() -> None:
    records = [
        Src(1, "vendor", {"sex": "0", "id_number": "110105194912310021"}),
        Src(2, "his", {"sex": "2", "id_number": "11010519491231002x"}),
    ]
    g = golden.build(records, ["vendor", "his"])
    assert g.values["sex"] == "2" and g.values["id_number"] == "11010519491231002X"
    assert "INVALID_ID_NUMBER_RECEIVED" in g.id_number_flags


def test_discrepancies_list_fields_where_sources_disagree() -> None:
    records = [
        Src(1, "his", {"name": "李娜", "birth_date": "1990-03-04"}),
        Src(2, "maternal", {"name": "李娜", "birth_date": "1990-04-03"}),
    ]
    found = golden.discrepancies(records, ["his", "maternal"])
    assert [d.field for d in found] == ["birth_date"]
    assert found[0].chosen == dt.date(1990, 3, 4) and len(found[0].values) == 2


def test_age_derived_categories() -> None:
    today = dt.date(2026, 11, 1)
    assert golden.derived_categories(dt.date(2020, 11, 2), today) == {"CHILD_0_6"}
    assert golden.derived_categories(dt.date(2019, 11, 1), today) == set()  # turned 7
    assert golden.derived_categories(dt.date(1961, 11, 1), today) == {"ELDERLY_65"}
    assert golden.derived_categories(None, today) == set()
