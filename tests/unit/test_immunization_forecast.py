"""Evaluation and forecast against the 2021 national schedule and its 说明.

Each case is a child a clinic could meet: birth date, doses given, a date; what counts and
what is next. Ages: "3 months" = has reached 3 months; "before 12 months" = the last
on-time day is the day before the first birthday.
"""

from __future__ import annotations

import datetime as dt
import json
import subprocess
import sys
from pathlib import Path

import pytest

from hub.immunization.forecast import (
    ForecastInputError,
    GivenDose,
    Reason,
    Status,
    forecast,
    parse_request,
)
from hub.immunization.schedule import add_months, load_schedule

BIRTH = dt.date(2024, 1, 10)
D = dt.date.fromisoformat


def run(as_of: str, *doses: tuple[str, str], birth: dt.date = BIRTH):
    result = forecast(birth, [GivenDose(v, D(d)) for v, d in doses], D(as_of))
    return result.evaluations, {r.series: r for r in result.recommendations}


def valid_flags(evaluations) -> list[bool]:
    return [e.valid for e in evaluations]


# A fully on-time child to 8 months.
ON_TIME_8M = [
    ("HepB", "2024-01-10"),
    ("BCG", "2024-01-10"),
    ("HepB", "2024-02-10"),
    ("IPV", "2024-03-10"),
    ("IPV", "2024-04-10"),
    ("DTaP", "2024-04-10"),
    ("bOPV", "2024-05-10"),
    ("DTaP", "2024-05-10"),
    ("DTaP", "2024-06-10"),
    ("HepB", "2024-07-10"),
    ("MPSV-A", "2024-07-10"),
]


def test_the_schedule_is_data_with_every_series_and_vaccine():
    schedule = load_schedule()
    assert schedule.version == "2021"
    assert list(schedule.series) == [
        "HepB", "BCG", "Polio", "DTaP", "MMR", "JE", "MenA", "MenAC", "HepA"
    ]  # fmt: skip
    assert set(schedule.vaccines) == {
        "HepB", "BCG", "IPV", "bOPV", "DTaP", "DT", "MMR", "JE-L", "JE-I",
        "MPSV-A", "MPSV-AC", "HepA-L", "HepA-I",
    }  # fmt: skip


def test_ages_are_calendar_months_and_the_31st_falls_back():
    assert add_months(dt.date(2024, 1, 31), 1) == dt.date(2024, 2, 29)
    assert add_months(dt.date(2023, 1, 31), 1) == dt.date(2023, 2, 28)
    assert add_months(dt.date(2024, 11, 15), 3) == dt.date(2025, 2, 15)


def test_newborn_on_the_birth_day_hepb_and_bcg_due():
    _, fc = run("2024-01-10")
    assert fc["HepB"].next_dose == 1 and fc["HepB"].status is Status.DUE
    assert fc["HepB"].earliest_on == BIRTH and fc["HepB"].due_by == D("2024-01-11")
    assert fc["BCG"].status is Status.DUE and fc["BCG"].due_by == D("2024-04-09")
    assert fc["Polio"].status is Status.NOT_DUE and fc["Polio"].earliest_on == D("2024-03-10")
    assert fc["MMR"].status is Status.NOT_DUE and fc["MMR"].earliest_on == D("2024-09-10")


def test_hepb_dose_1_past_24_hours_is_overdue_but_still_given():
    _, fc = run("2024-01-12")
    assert fc["HepB"].status is Status.OVERDUE
    ev, fc = run("2024-01-20", ("HepB", "2024-01-15"))
    assert valid_flags(ev) == [True]
    assert fc["HepB"].next_dose == 2 and fc["HepB"].earliest_on == D("2024-02-12")  # +28 days


def test_an_on_time_child_at_eight_months():
    ev, fc = run("2024-09-10", *ON_TIME_8M)
    assert all(valid_flags(ev))
    assert [e.dose_number for e in ev] == [1, 1, 2, 1, 2, 1, 3, 2, 3, 3, 1]
    assert fc["HepB"].status is Status.COMPLETE and fc["HepB"].next_dose is None
    assert fc["BCG"].status is Status.COMPLETE
    assert (fc["Polio"].next_dose, fc["Polio"].status) == (4, Status.NOT_DUE)
    assert fc["Polio"].earliest_on == D("2028-01-10") and fc["Polio"].due_by == D("2029-01-09")
    assert (fc["DTaP"].next_dose, fc["DTaP"].status) == (4, Status.NOT_DUE)
    assert fc["DTaP"].earliest_on == D("2025-07-10")  # 18 months (and >= 6 months after dose 3)
    assert (fc["MMR"].next_dose, fc["MMR"].status) == (1, Status.DUE)
    assert fc["MMR"].due_by == D("2025-01-09")
    assert (fc["JE"].next_dose, fc["JE"].status) == (1, Status.DUE)
    assert (fc["MenA"].next_dose, fc["MenA"].status) == (2, Status.NOT_DUE)
    assert fc["MenA"].earliest_on == D("2024-10-10")  # 9 months, 3 months after dose 1


def test_nine_month_old_without_mmr_is_due_then_overdue_after_twelve_months():
    _, fc = run("2024-10-10", *ON_TIME_8M)
    assert fc["MMR"].status is Status.DUE
    _, fc = run("2025-01-09", *ON_TIME_8M)
    assert fc["MMR"].status is Status.DUE  # the day before the first birthday
    _, fc = run("2025-01-10", *ON_TIME_8M)
    assert fc["MMR"].status is Status.OVERDUE


def test_hepb_dose_2_before_one_month_does_not_count_and_is_repeated():
    ev, fc = run("2024-03-01", ("HepB", "2024-01-10"), ("HepB", "2024-02-05"))
    assert valid_flags(ev) == [True, False]
    assert ev[1].reason is Reason.BEFORE_MINIMUM_AGE and ev[1].dose_number == 2
    assert fc["HepB"].next_dose == 2 and fc["HepB"].status is Status.DUE
    assert fc["HepB"].earliest_on == D("2024-02-10")


def test_hepb_dose_2_under_28_days_after_dose_1_does_not_count():
    ev, fc = run("2024-03-20", ("HepB", "2024-01-20"), ("HepB", "2024-02-12"))
    assert valid_flags(ev) == [True, False]
    assert ev[1].reason is Reason.INTERVAL_TOO_SHORT
    assert fc["HepB"].earliest_on == D("2024-02-17")


def test_hepb_dose_3_needs_60_days_after_dose_2_and_four_months_after_dose_1():
    doses = [("HepB", "2024-01-10"), ("HepB", "2024-06-01")]
    ev, fc = run("2024-07-15", *doses, ("HepB", "2024-07-15"))
    assert valid_flags(ev) == [True, True, False]  # 6 months reached, only 44 days after dose 2
    assert fc["HepB"].earliest_on == D("2024-07-31")
    # dose 1 late (at 3 months): dose 3 at 6 months + 60 days but not 4 months after dose 1
    ev, fc = run("2024-07-20", ("HepB", "2024-04-15"), ("HepB", "2024-05-13"))
    assert fc["HepB"].earliest_on == D("2024-08-15")  # 4 months after dose 1 binds
    assert fc["HepB"].status is Status.NOT_DUE


def test_hepb_dose_3_at_five_months_is_too_early():
    ev, _ = run(
        "2024-06-11", ("HepB", "2024-01-10"), ("HepB", "2024-02-10"), ("HepB", "2024-06-10")
    )
    assert valid_flags(ev) == [True, True, False]
    assert ev[2].reason is Reason.BEFORE_MINIMUM_AGE


def test_bcg_window_catch_up_and_aged_out_from_four_years():
    _, fc = run("2024-04-09")
    assert fc["BCG"].status is Status.DUE
    _, fc = run("2024-04-10")
    assert fc["BCG"].status is Status.OVERDUE  # 3 months to 3 years: after a negative PPD
    _, fc = run("2028-01-09")
    assert fc["BCG"].status is Status.OVERDUE
    _, fc = run("2028-01-10")
    assert fc["BCG"].status is Status.AGED_OUT and fc["BCG"].due_by is None
    ev, fc = run("2028-03-01", ("BCG", "2028-02-01"))
    assert valid_flags(ev) == [False] and ev[0].reason is Reason.AGED_OUT


def test_a_second_bcg_does_not_count():
    ev, fc = run("2024-03-01", ("BCG", "2024-01-10"), ("BCG", "2024-02-10"))
    assert valid_flags(ev) == [True, False]
    assert ev[1].reason is Reason.SERIES_COMPLETE and ev[1].dose_number is None
    assert fc["BCG"].status is Status.COMPLETE


def test_polio_ipv_then_bopv():
    ev, fc = run(
        "2028-02-10",
        ("IPV", "2024-03-10"), ("IPV", "2024-04-10"), ("bOPV", "2024-05-10"), ("bOPV", "2028-01-10"),
    )  # fmt: skip
    assert all(valid_flags(ev)) and [e.dose_number for e in ev] == [1, 2, 3, 4]
    assert fc["Polio"].status is Status.COMPLETE


def test_polio_bopv_before_two_ipv_doses_does_not_count():
    ev, fc = run("2024-05-20", ("IPV", "2024-03-10"), ("bOPV", "2024-04-10"))
    assert valid_flags(ev) == [True, False]
    assert ev[1].reason is Reason.WRONG_PRODUCT
    assert fc["Polio"].next_dose == 2 and fc["Polio"].status is Status.DUE


def test_polio_ipv_may_replace_bopv():
    ev, fc = run("2024-06-01", ("IPV", "2024-03-10"), ("IPV", "2024-04-10"), ("IPV", "2024-05-10"))
    assert all(valid_flags(ev))
    assert fc["Polio"].next_dose == 4


def test_polio_ipv_at_seven_weeks_is_too_early():
    ev, fc = run("2024-03-05", ("IPV", "2024-03-01"))
    assert valid_flags(ev) == [False] and ev[0].reason is Reason.BEFORE_MINIMUM_AGE
    assert fc["Polio"].next_dose == 1 and fc["Polio"].status is Status.NOT_DUE


def test_polio_doses_3_overdue_after_twelve_months_dose_4_by_five_years():
    _, fc = run("2025-01-10", ("IPV", "2024-03-10"), ("IPV", "2024-04-10"))
    assert (fc["Polio"].next_dose, fc["Polio"].status) == (3, Status.OVERDUE)
    three = [("IPV", "2024-03-10"), ("IPV", "2024-04-10"), ("bOPV", "2024-05-10")]
    _, fc = run("2028-06-01", *three)
    assert (fc["Polio"].next_dose, fc["Polio"].status) == (4, Status.DUE)
    _, fc = run("2029-01-10", *three)
    assert fc["Polio"].status is Status.OVERDUE


def test_polio_catch_up_from_four_years_completes_four_doses_28_days_apart():
    ev, fc = run("2028-04-01", ("IPV", "2028-02-01"), ("IPV", "2028-03-01"), birth=BIRTH)
    assert all(valid_flags(ev))
    assert fc["Polio"].next_dose == 3 and fc["Polio"].earliest_on == D("2028-03-29")
    ev, fc = run(
        "2028-05-01",
        ("IPV", "2028-02-01"), ("IPV", "2028-03-01"), ("bOPV", "2028-03-29"), ("bOPV", "2028-04-20"),
    )  # fmt: skip
    assert valid_flags(ev) == [True, True, True, False]
    assert fc["Polio"].earliest_on == D("2028-04-26")


def test_dtap_primary_28_days_apart_and_dose_4_six_months_after_dose_3():
    primary = [("DTaP", "2024-04-10"), ("DTaP", "2024-05-10"), ("DTaP", "2024-06-01")]
    ev, _ = run("2024-06-02", *primary)
    assert valid_flags(ev) == [True, True, False]  # 22 days after dose 2
    catch = [("DTaP", "2024-04-10"), ("DTaP", "2024-05-10"), ("DTaP", "2025-03-01")]
    ev, fc = run("2025-07-15", *catch)
    assert all(valid_flags(ev))
    assert fc["DTaP"].next_dose == 4 and fc["DTaP"].earliest_on == D(
        "2025-09-01"
    )  # 6 months > 18 months
    assert fc["DTaP"].status is Status.NOT_DUE and fc["DTaP"].due_by == D("2026-01-09")


def test_dtap_dose_4_overdue_from_two_years_then_dt_at_six():
    four = [("DTaP", "2024-04-10"), ("DTaP", "2024-05-10"), ("DTaP", "2024-06-10")]
    _, fc = run("2026-01-10", *four)
    assert (fc["DTaP"].next_dose, fc["DTaP"].status) == (4, Status.OVERDUE)
    full = [*four, ("DTaP", "2025-07-10")]
    _, fc = run("2029-12-01", *full)
    assert (fc["DTaP"].next_dose, fc["DTaP"].status) == (5, Status.NOT_DUE)
    assert fc["DTaP"].earliest_on == D("2030-01-10")
    ev, fc = run("2030-02-01", *full, ("DT", "2030-01-15"))
    assert all(valid_flags(ev)) and ev[-1].dose_number == 5
    assert fc["DTaP"].status is Status.COMPLETE


def test_dt_before_six_years_and_dtap_from_six_do_not_count():
    four = [
        ("DTaP", "2024-04-10"),
        ("DTaP", "2024-05-10"),
        ("DTaP", "2024-06-10"),
        ("DTaP", "2025-07-10"),
    ]
    ev, _ = run("2029-06-01", *four, ("DT", "2029-05-01"))
    assert ev[-1].valid is False and ev[-1].reason in (
        Reason.WRONG_PRODUCT,
        Reason.BEFORE_MINIMUM_AGE,
    )
    ev, fc = run("2030-03-01", *four, ("DTaP", "2030-02-01"))
    assert ev[-1].valid is False and ev[-1].reason is Reason.WRONG_PRODUCT
    assert (fc["DTaP"].next_dose, fc["DTaP"].status) == (5, Status.DUE)
    assert fc["DTaP"].products == ("DT",)


def test_from_six_years_fewer_than_three_doses_complete_three_with_dt():
    ev, fc = run("2030-03-01", ("DTaP", "2024-04-10"))
    assert (fc["DTaP"].next_dose, fc["DTaP"].status) == (2, Status.OVERDUE)
    assert fc["DTaP"].products == ("DT",) and fc["DTaP"].earliest_on == D("2030-01-10")
    ev, fc = run("2030-03-01", ("DTaP", "2024-04-10"), ("DT", "2030-02-01"))
    assert all(valid_flags(ev))
    assert fc["DTaP"].next_dose == 3 and fc["DTaP"].earliest_on == D("2030-08-01")  # 6 months
    ev, fc = run("2030-09-01", ("DTaP", "2024-04-10"), ("DT", "2030-02-01"), ("DT", "2030-08-01"))
    assert all(valid_flags(ev)) and fc["DTaP"].status is Status.COMPLETE


def test_from_six_years_a_never_vaccinated_child_gets_three_dt_doses():
    ev, fc = run(
        "2031-03-01", ("DT", "2030-03-01"), ("DT", "2030-03-20"), ("DT", "2030-04-01"),
    )  # fmt: skip
    assert valid_flags(ev) == [True, False, True]  # the 2nd needs a month after the 1st
    assert fc["DTaP"].next_dose == 3 and fc["DTaP"].earliest_on == D("2030-10-01")


def test_from_six_years_three_doses_need_one_dt():
    three = [("DTaP", "2024-04-10"), ("DTaP", "2024-05-10"), ("DTaP", "2024-06-10")]
    _, fc = run("2030-02-01", *three)
    assert (fc["DTaP"].next_dose, fc["DTaP"].status, fc["DTaP"].products) == (
        4,
        Status.DUE,
        ("DT",),
    )
    _, fc = run("2030-03-01", *three, ("DT", "2030-02-01"))
    assert fc["DTaP"].status is Status.COMPLETE


def test_dtap_series_aged_out_from_twelve_years():
    _, fc = run("2036-01-10", ("DTaP", "2024-04-10"))
    assert fc["DTaP"].status is Status.AGED_OUT


def test_mmr_before_eight_months_is_repeated_and_dose_2_by_two_years():
    ev, fc = run("2024-09-20", ("MMR", "2024-09-01"))
    assert valid_flags(ev) == [False] and ev[0].reason is Reason.BEFORE_MINIMUM_AGE
    # 8 months is 2024-09-10, but the invalid dose was still a live vaccine: 28 days after it
    assert fc["MMR"].next_dose == 1 and fc["MMR"].earliest_on == D("2024-09-29")
    ev, fc = run("2026-01-10", ("MMR", "2024-09-10"))
    assert (fc["MMR"].next_dose, fc["MMR"].status) == (2, Status.OVERDUE)


def test_injected_live_vaccines_same_day_or_28_days_apart():
    ev, fc = run("2024-10-01", ("MMR", "2024-09-10"), ("JE-L", "2024-09-10"))
    assert valid_flags(ev) == [True, True]
    ev, fc = run("2024-10-01", ("MMR", "2024-09-10"), ("JE-L", "2024-09-20"))
    assert valid_flags(ev) == [True, False] and ev[1].reason is Reason.LIVE_VACCINE_INTERVAL
    assert fc["JE"].earliest_on == D("2024-10-18")  # 28 days after the invalid live dose
    ev, _ = run("2024-10-20", ("MMR", "2024-09-10"), ("JE-L", "2024-10-08"))
    assert valid_flags(ev) == [True, True]


def test_inactivated_vaccines_and_bopv_do_not_need_the_live_interval():
    ev, _ = run("2024-10-01", ("MMR", "2024-09-10"), ("JE-I", "2024-09-15"), ("bOPV", "2024-09-16"))
    assert ev[0].valid and ev[1].valid


def test_je_live_two_doses_twelve_months_apart():
    ev, fc = run("2026-01-10", ("JE-L", "2024-09-10"))
    assert (fc["JE"].next_dose, fc["JE"].status) == (2, Status.DUE)
    assert fc["JE"].earliest_on == D("2026-01-10") and fc["JE"].due_by == D("2027-01-09")
    ev, fc = run("2026-03-01", ("JE-L", "2025-06-01"))
    assert fc["JE"].earliest_on == D("2026-06-01")  # 12 months after dose 1 binds over 2 years
    ev, fc = run("2027-02-01", ("JE-L", "2024-09-10"), ("JE-L", "2026-01-10"))
    assert fc["JE"].status is Status.COMPLETE


def test_je_inactivated_four_doses():
    doses = [("JE-I", "2024-09-10"), ("JE-I", "2024-09-17")]
    ev, fc = run("2024-10-01", *doses)
    assert all(valid_flags(ev))
    assert fc["JE"].next_dose == 3 and fc["JE"].earliest_on == D("2026-01-10")
    ev, _ = run("2024-10-01", ("JE-I", "2024-09-10"), ("JE-I", "2024-09-14"))
    assert valid_flags(ev) == [True, False]  # 7-10 days apart
    doses += [("JE-I", "2026-01-10")]
    _, fc = run("2029-12-01", *doses)
    assert (fc["JE"].next_dose, fc["JE"].earliest_on) == (4, D("2030-01-10"))
    _, fc = run("2031-01-10", *doses)
    assert fc["JE"].status is Status.OVERDUE
    _, fc = run("2030-06-01", *doses, ("JE-I", "2030-01-10"))
    assert fc["JE"].status is Status.COMPLETE


def test_je_products_are_not_mixed_within_a_series():
    ev, fc = run("2025-01-01", ("JE-L", "2024-09-10"), ("JE-I", "2024-12-01"))
    assert valid_flags(ev) == [True, False] and ev[1].reason is Reason.WRONG_PRODUCT
    assert fc["JE"].next_dose == 2 and fc["JE"].products == ("JE-L",)


def test_je_inactivated_dose_2_overdue_after_twelve_months():
    _, fc = run("2025-01-10", ("JE-I", "2024-09-10"))
    assert (fc["JE"].next_dose, fc["JE"].status) == (2, Status.OVERDUE)
    assert fc["JE"].earliest_on == D("2024-09-17")


def test_hepa_live_one_dose_or_inactivated_two_doses_six_months_apart():
    ev, fc = run("2025-08-01", ("HepA-L", "2025-07-10"))
    assert all(valid_flags(ev)) and fc["HepA"].status is Status.COMPLETE
    ev, fc = run("2025-08-01", ("HepA-I", "2025-07-10"))
    assert fc["HepA"].next_dose == 2 and fc["HepA"].earliest_on == D("2026-01-10")
    ev, fc = run("2026-03-01", ("HepA-I", "2025-09-01"), ("HepA-I", "2026-02-01"))
    assert valid_flags(ev) == [True, False] and ev[1].reason is Reason.INTERVAL_TOO_SHORT
    ev, fc = run("2026-03-01", ("HepA-I", "2025-07-10"), ("HepA-I", "2026-01-10"))
    assert fc["HepA"].status is Status.COMPLETE


def test_hepa_inactivated_then_live_completes():
    ev, fc = run("2026-03-01", ("HepA-I", "2025-07-10"), ("HepA-L", "2026-01-15"))
    assert all(valid_flags(ev)) and fc["HepA"].status is Status.COMPLETE


def test_hepa_before_eighteen_months_is_too_early_and_overdue_from_two_years():
    ev, fc = run("2025-07-01", ("HepA-L", "2025-06-01"))
    assert valid_flags(ev) == [False] and ev[0].reason is Reason.BEFORE_MINIMUM_AGE
    _, fc = run("2026-01-10")
    assert (fc["HepA"].next_dose, fc["HepA"].status) == (1, Status.OVERDUE)


def test_mena_two_doses_three_months_apart_overdue_after_eighteen_months():
    ev, fc = run("2024-10-01", ("MPSV-A", "2024-07-10"), ("MPSV-A", "2024-09-20"))
    assert valid_flags(ev) == [True, False]  # 9 months reached, but < 3 months after dose 1
    assert fc["MenA"].earliest_on == D("2024-10-10")
    _, fc = run("2025-07-10", ("MPSV-A", "2024-07-10"))
    assert (fc["MenA"].next_dose, fc["MenA"].status) == (2, Status.OVERDUE)


def test_mena_not_caught_up_from_24_months_and_mpsv_ac_moves_earlier():
    _, fc = run("2026-01-10", ("MPSV-A", "2024-07-10"))
    assert fc["MenA"].status is Status.AGED_OUT
    assert (fc["MenAC"].next_dose, fc["MenAC"].status) == (1, Status.DUE)
    assert fc["MenAC"].earliest_on == D("2026-01-10")
    ev, _ = run("2026-02-01", ("MPSV-A", "2024-07-10"), ("MPSV-A", "2026-01-15"))
    assert valid_flags(ev) == [True, False] and ev[1].reason is Reason.AGED_OUT


def test_mpsv_ac_twelve_months_after_mpsv_a_and_doses_three_years_apart():
    mena = [("MPSV-A", "2024-07-10"), ("MPSV-A", "2026-01-09")]  # dose 2 the day before 24 months
    ev, fc = run("2027-01-20", *mena)
    assert all(valid_flags(ev))
    assert fc["MenAC"].earliest_on == D("2027-01-10")  # 3 years (12 months after MPSV-A 2 too)
    mena_late = [("MPSV-A", "2024-07-10"), ("MPSV-A", "2025-07-01")]
    ev, fc = run("2027-01-20", *mena_late, ("MPSV-AC", "2027-01-10"))
    assert all(valid_flags(ev))
    assert (fc["MenAC"].next_dose, fc["MenAC"].earliest_on) == (2, D("2030-01-10"))
    assert fc["MenAC"].due_by == D("2031-01-09")
    ev, _ = run(
        "2026-05-01", ("MPSV-A", "2024-07-10"), ("MPSV-A", "2024-10-10"), ("MPSV-AC", "2026-03-01")
    )
    assert valid_flags(ev) == [True, True, False]  # before 3 years


def test_everything_aged_out_at_eighteen():
    _, fc = run("2042-01-10")
    assert {r.status for r in fc.values()} == {Status.AGED_OUT}


def test_catch_up_never_restarts_a_series():
    ev, fc = run("2027-01-01", ("HepB", "2024-01-10"), ("HepB", "2026-12-01"))
    assert all(valid_flags(ev))
    assert fc["HepB"].next_dose == 3 and fc["HepB"].earliest_on == D("2027-01-30")


def test_evaluations_keep_input_order_and_doses_are_processed_by_date():
    ev, _ = run("2024-03-01", ("HepB", "2024-02-10"), ("HepB", "2024-01-10"))
    assert [e.date for e in ev] == [D("2024-02-10"), D("2024-01-10")]
    assert [e.dose_number for e in ev] == [2, 1] and all(valid_flags(ev))


@pytest.mark.parametrize(
    ("raw", "field"),
    [
        ({}, "birthDate"),
        ({"birthDate": "2024-13-01", "asOf": "2025-01-01"}, "birthDate"),
        ({"birthDate": "2024-01-01", "asOf": "2023-01-01"}, "asOf"),
        ({"birthDate": "2024-01-01", "asOf": "2025-01-01", "doses": {}}, "doses"),
        ({"birthDate": "2024-01-01", "asOf": "2025-01-01", "doses": [{"vaccine": "XYZ", "date": "2024-02-01"}]}, "doses[0].vaccine"),
        ({"birthDate": "2024-01-01", "asOf": "2025-01-01", "doses": [{"vaccine": "HepB"}]}, "doses[0].date"),
        ({"birthDate": "2024-01-01", "asOf": "2025-01-01", "doses": [{"vaccine": "HepB", "date": "2024-01-01"}, {"vaccine": "BCG", "date": "2023-12-01"}]}, "doses[1].date"),
        ({"birthDate": "2024-01-01", "asOf": "2025-01-01", "doses": [{"vaccine": "HepB", "date": "2026-01-01"}]}, "doses[0].date"),
        ([], "(input)"),
    ],
)  # fmt: skip
def test_bad_input_names_the_field(raw, field):
    with pytest.raises(ForecastInputError) as info:
        parse_request(raw)
    assert info.value.field == field


def _cli(stdin: str, *args: str) -> subprocess.CompletedProcess[str]:
    hub = Path(sys.executable).parent / "hub"
    return subprocess.run(
        [str(hub), "immunization", "forecast", *args],
        input=stdin,
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_the_command_reads_json_and_prints_the_issue_format(tmp_path):
    request = {
        "birthDate": "2024-01-10",
        "asOf": "2024-10-10",
        "doses": [
            {"vaccine": "HepB", "date": "2024-01-10"},
            {"vaccine": "HepB", "date": "2024-02-01"},
        ],
    }
    path = tmp_path / "child.json"
    path.write_text(json.dumps(request))
    done = _cli("", str(path))
    assert done.returncode == 0, done.stderr
    out = json.loads(done.stdout)
    assert out["evaluations"][1] == {
        "vaccine": "HepB", "date": "2024-02-01", "doseNumber": 2, "valid": False,
        "reason": "BEFORE_MINIMUM_AGE", "message": out["evaluations"][1]["message"],
    }  # fmt: skip
    assert [f["series"] for f in out["forecast"]] == [
        "HepB", "BCG", "Polio", "DTaP", "MMR", "JE", "MenA", "MenAC", "HepA"
    ]  # fmt: skip
    assert out["forecast"][0] == {
        "series": "HepB", "nextDose": 2, "status": "DUE", "earliestOn": "2024-02-10", "dueBy": "2025-01-09",
    }  # fmt: skip
    piped = _cli(json.dumps(request), "-")
    assert json.loads(piped.stdout) == out


def test_the_command_refuses_bad_input_with_exit_2_naming_the_field():
    done = _cli(
        '{"birthDate": "2024-01-10", "asOf": "2024-10-10", "doses": [{"vaccine": "MMR", "date": "10/01/2024"}]}',
        "-",
    )
    assert done.returncode == 2 and done.stdout == ""
    assert "doses[0].date" in done.stderr
    done = _cli("{not json", "-")
    assert done.returncode == 2 and "not JSON" in done.stderr
