"""Referral rules as data: the workflow, reserved shares from the regional policies, the
long-prescription cap."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest

from hub.contracts.policy import get_policy
from hub.contracts.terms import Duration, DurationUnit
from hub.errors import DomainError
from hub.referrals import rules
from hub.referrals.rules import PrescriptionItem, PrescriptionTooLong
from hub.referrals.workflow import Action, InvalidTransition, Side, next_action, step

JILIN = get_policy("jilin")


def test_the_workflow_allows_only_its_transitions() -> None:
    assert step(Action.RECEIVE, "REQUESTED").to_status == "RECEIVED"
    assert step(Action.ACCEPT, "RECEIVED").side is Side.RECEIVER
    assert step(Action.CANCEL, "ACCEPTED").side is Side.SENDER
    for action, status in [
        (Action.ACCEPT, "REQUESTED"),
        (Action.COMPLETE, "ACCEPTED"),
        (Action.CANCEL, "ARRIVED"),
        (Action.RECEIVE, "COMPLETED"),
        (Action.REJECT, "ACCEPTED"),
    ]:
        with pytest.raises(InvalidTransition) as e:
            step(action, status)
        assert e.value.code == "INVALID_TRANSITION" and status in e.value.message
    assert [
        next_action(s)
        for s in (
            "REQUESTED",
            "RECEIVED",
            "ACCEPTED",
            "ARRIVED",
            "COMPLETED",
            "REJECTED",
            "CANCELLED",
        )
    ] == [Action.RECEIVE, Action.ACCEPT, Action.ARRIVE, Action.COMPLETE, None, None, None]


@pytest.mark.parametrize(
    ("kind", "day", "share"),
    [
        ("SECONDARY_HOSPITAL", dt.date(2018, 5, 1), Decimal("0.40")),
        ("SECONDARY_HOSPITAL", dt.date(2020, 1, 1), Decimal("0.60")),
        ("TERTIARY_HOSPITAL", dt.date(2019, 12, 31), Decimal("0.30")),
        ("TERTIARY_HOSPITAL", dt.date(2026, 12, 1), Decimal("0.50")),
        ("TERTIARY_HOSPITAL", dt.date(2016, 12, 31), None),  # before the policy
        ("MATERNAL_CHILD_HOSPITAL", dt.date(2026, 12, 1), None),  # no share for that kind
    ],
)
def test_reserved_share_comes_from_the_regional_policy(
    kind: str, day: dt.date, share: Decimal | None
) -> None:
    assert rules.reserved_share(JILIN, kind, day, "expert_slots") == share
    assert rules.reserved_share(JILIN, kind, day, "beds") == share


def test_regions_without_a_share_reserve_what_the_hospital_declares() -> None:
    yongkang = get_policy("yongkang")
    assert yongkang.reserved_shares == ()
    assert rules.reserved_share(yongkang, "SECONDARY_HOSPITAL", dt.date(2026, 1, 1), "beds") is None
    assert rules.reserved_units(7, None, None, field="beds") == 7
    assert rules.reserved_units(7, None, 2, field="beds") == 2
    assert rules.policy_of("nowhere") is None and rules.policy_of(None) is None


def test_reserved_units_round_the_policy_share_up() -> None:
    share = Decimal("0.60")
    assert [rules.reserved_units(n, share, None, field="beds") for n in (0, 1, 4, 5, 10)] == [
        0,
        1,
        3,
        3,
        6,
    ]
    assert rules.reserved_units(10, share, 9, field="beds") == 9
    with pytest.raises(DomainError) as e:
        rules.reserved_units(10, share, 5, field="expertSlots")
    assert (e.value.code, e.value.field) == ("RESERVED_BELOW_POLICY", "reservedExpertSlots")
    with pytest.raises(DomainError) as e:
        rules.reserved_units(3, None, 4, field="beds")
    assert e.value.code == "INVALID_CAPACITY"


def _rx(amount: int, unit: DurationUnit) -> PrescriptionItem:
    return PrescriptionItem(drug="二甲双胍片", dose="0.5g", duration=Duration(amount, unit))


@pytest.mark.parametrize(
    ("region", "ok", "too_long"),
    [
        ("yongkang", _rx(12, DurationUnit.WEEK), _rx(13, DurationUnit.WEEK)),
        ("jilin", _rx(2, DurationUnit.MONTH), _rx(9, DurationUnit.WEEK)),
        ("panyu", _rx(59, DurationUnit.DAY), _rx(3, DurationUnit.MONTH)),
    ],
)
def test_continuing_prescriptions_are_capped(
    region: str, ok: PrescriptionItem, too_long: PrescriptionItem
) -> None:
    rule = get_policy(region).long_prescription
    start = dt.date(2026, 1, 1)  # 2 months from 1 January = 59 days
    rules.check_prescriptions([ok], rule, start=start, categories=set())
    with pytest.raises(PrescriptionTooLong) as e:
        rules.check_prescriptions([ok, too_long], rule, start=start, categories=set())
    assert e.value.field == "prescriptions[1].duration"


def test_a_region_without_a_rule_caps_nothing_but_the_input_is_checked() -> None:
    rules.check_prescriptions(
        [_rx(6, DurationUnit.MONTH)], None, start=dt.date(2026, 1, 1), categories=set()
    )
    with pytest.raises(DomainError) as e:
        rules.check_prescriptions(
            [_rx(0, DurationUnit.DAY)], None, start=dt.date(2026, 1, 1), categories=set()
        )
    assert e.value.code == "INVALID_DURATION"


def test_eligible_populations_apply_above_the_ordinary_limit() -> None:
    rule = get_policy("yongkang").long_prescription.model_copy(  # type: ignore[union-attr]
        update={"ordinary_max": Duration(4, DurationUnit.WEEK)}
    )
    start = dt.date(2026, 1, 1)
    rules.check_prescriptions([_rx(4, DurationUnit.WEEK)], rule, start=start, categories=set())
    rules.check_prescriptions(
        [_rx(8, DurationUnit.WEEK)], rule, start=start, categories={"DIABETES_T2"}
    )
    with pytest.raises(PrescriptionTooLong):
        rules.check_prescriptions(
            [_rx(8, DurationUnit.WEEK)], rule, start=start, categories={"ELDERLY_65"}
        )
