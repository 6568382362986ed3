"""Contract periods and expiry decisions on the seed scenarios."""

from __future__ import annotations

import datetime as dt

import pytest

from hub.contracts.policy import get_policy
from hub.contracts.rules import (
    ExpiryOutcome,
    Period,
    RuleViolation,
    ViolationCode,
    check_renewal_payment,
    contract_period,
    decide_expiry,
    period_end,
)
from hub.contracts.terms import Duration, DurationUnit

PANYU, YONGKANG, ERQI = get_policy("panyu"), get_policy("yongkang"), get_policy("erqi")
WENZHOU, JILIN = get_policy("wenzhou"), get_policy("jilin")
YEAR = Period(dt.date(2024, 7, 1), dt.date(2025, 6, 30))


def test_one_year_period_is_inclusive() -> None:
    assert contract_period(PANYU, ["PY-FREE"], signed_on=dt.date(2024, 7, 1)) == YEAR
    leap = period_end(dt.date(2024, 2, 29), Duration(1, DurationUnit.YEAR))
    assert leap == dt.date(2025, 2, 28)
    assert period_end(dt.date(2024, 1, 1), Duration(1, DurationUnit.YEAR)) == dt.date(2024, 12, 31)


def test_erqi_validity_three_years() -> None:
    p = contract_period(ERQI, ["EQ-BASIC"], signed_on=dt.date(2017, 3, 1))
    assert p == Period(dt.date(2017, 3, 1), dt.date(2020, 2, 29))


def test_yongkang_fee_signing_starts_on_payment() -> None:
    p = contract_period(
        YONGKANG, ["YK-FEE"], signed_on=dt.date(2024, 3, 1), paid_on=dt.date(2024, 3, 5)
    )
    assert p.start == dt.date(2024, 3, 5) and p.end == dt.date(2025, 3, 4)
    with pytest.raises(RuleViolation) as err:
        contract_period(YONGKANG, ["YK-FEE"], signed_on=dt.date(2024, 3, 1))
    assert err.value.code is ViolationCode.PAYMENT_REQUIRED
    assert contract_period(YONGKANG, ["YK-NO-FEE"], signed_on=dt.date(2024, 3, 1)).start == dt.date(
        2024, 3, 1
    )


def test_panyu_basic_expiring_unpaid_becomes_free_the_next_day() -> None:
    d = decide_expiry(PANYU, ["PY-BASIC-1", "PY-CHILD-CHECK"], False, period=YEAR)
    assert d.outcome is ExpiryOutcome.FALL_BACK_TO_FREE
    assert d.packages == ("PY-FREE",)
    assert set(d.ended) == {"PY-BASIC-1", "PY-CHILD-CHECK"}  # personalised ends
    assert d.next_period == Period(dt.date(2025, 7, 1), dt.date(2026, 6, 30))


def test_panyu_basic_renewed_with_payment() -> None:
    d = decide_expiry(PANYU, ["PY-BASIC-2"], True, period=YEAR)
    assert d.outcome is ExpiryOutcome.RENEW and d.packages == ("PY-BASIC-2",)
    # Paid for basic only: the personalised add-on ends, the basic renews.
    d = decide_expiry(PANYU, ["PY-BASIC-2", "PY-HOME-BED"], {"PY-BASIC-2"}, period=YEAR)
    assert d.outcome is ExpiryOutcome.RENEW and d.ended == ("PY-HOME-BED",)


def test_panyu_free_renews_automatically_unless_data_changed_or_declined() -> None:
    d = decide_expiry(PANYU, ["PY-FREE"], False, period=YEAR)
    assert d.outcome is ExpiryOutcome.RENEW and d.packages == ("PY-FREE",)
    changed = decide_expiry(PANYU, ["PY-FREE"], False, period=YEAR, personal_data_changed=True)
    assert changed.outcome is ExpiryOutcome.EXPIRE and changed.next_period is None
    declined = decide_expiry(PANYU, ["PY-FREE"], False, period=YEAR, declined=True)
    assert declined.outcome is ExpiryOutcome.EXPIRE


def test_personalised_add_on_survives_fall_back_when_paid() -> None:
    d = decide_expiry(PANYU, ["PY-BASIC-1", "PY-HOME-BED"], {"PY-HOME-BED"}, period=YEAR)
    assert d.outcome is ExpiryOutcome.FALL_BACK_TO_FREE
    assert d.packages == ("PY-FREE", "PY-HOME-BED")


def test_yongkang_fee_signing_renews_by_paying_in_the_last_month() -> None:
    period = Period(dt.date(2024, 3, 5), dt.date(2025, 3, 4))
    paid = decide_expiry(YONGKANG, ["YK-FEE"], True, period=period, paid_on=dt.date(2025, 2, 20))
    assert paid.outcome is ExpiryOutcome.RENEW
    early = decide_expiry(YONGKANG, ["YK-FEE"], True, period=period, paid_on=dt.date(2025, 1, 2))
    assert early.outcome is ExpiryOutcome.CONVERT_TO_NO_FEE
    assert early.packages == ("YK-NO-FEE",)
    unpaid = decide_expiry(YONGKANG, ["YK-FEE"], False, period=period)
    assert unpaid.outcome is ExpiryOutcome.CONVERT_TO_NO_FEE
    uninsured = decide_expiry(YONGKANG, ["YK-FEE"], True, period=period, insurance_active=False)
    assert uninsured.outcome is ExpiryOutcome.CONVERT_TO_NO_FEE


def test_yongkang_renewal_payment_window() -> None:
    expires = dt.date(2025, 3, 4)
    ok = check_renewal_payment(YONGKANG, "YK-FEE", expires_on=expires, paid_on=dt.date(2025, 2, 4))
    assert ok == []
    late = check_renewal_payment(
        YONGKANG, "YK-FEE", expires_on=expires, paid_on=dt.date(2025, 2, 3)
    )
    assert [v.code for v in late] == [ViolationCode.RENEWAL_PAYMENT_OUTSIDE_WINDOW]


def test_yongkang_no_fee_extends_yearly_and_keeps_tier_modules() -> None:
    d = decide_expiry(YONGKANG, ["YK-NO-FEE", "YK-HYPERTENSION"], False, period=YEAR)
    assert d.outcome is ExpiryOutcome.RENEW
    assert d.packages == ("YK-NO-FEE", "YK-HYPERTENSION")


def test_erqi_auto_renews_for_three_more_years() -> None:
    period = Period(dt.date(2017, 3, 1), dt.date(2020, 2, 29))
    d = decide_expiry(ERQI, ["EQ-BASIC"], False, period=period)
    assert d.outcome is ExpiryOutcome.RENEW and d.reconfirm_terms
    assert d.next_period == Period(dt.date(2020, 3, 1), dt.date(2023, 2, 28))


def test_wenzhou_and_jilin_renew_only_when_signed_again() -> None:
    assert decide_expiry(WENZHOU, ["WZ-STANDARD"], False, period=YEAR).outcome is (
        ExpiryOutcome.EXPIRE
    )
    d = decide_expiry(WENZHOU, ["WZ-STANDARD"], False, period=YEAR, resigned=True)
    assert d.outcome is ExpiryOutcome.RENEW
    assert decide_expiry(JILIN, ["JL-BASIC"], False, period=YEAR).outcome is ExpiryOutcome.EXPIRE
