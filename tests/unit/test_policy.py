"""Regional policy files: the presets load, carry the seed facts, and broken files fail clearly."""

from __future__ import annotations

import datetime as dt
import shutil
from decimal import Decimal
from pathlib import Path

import pytest

from hub.contracts.policy import (
    POLICY_DIR,
    PolicyError,
    get_policy,
    load_policies,
    load_policy_file,
    policy_for_region_code,
)
from hub.contracts.terms import (
    Duration,
    DurationUnit,
    InstitutionKind,
    OtherwiseAction,
    PackageKind,
    RenewalMode,
    SigningUnit,
    parse_duration,
)


def test_all_five_presets_load() -> None:
    assert set(load_policies()) == {"panyu", "wenzhou", "jilin", "yongkang", "erqi"}


def test_region_codes_and_demo_districts() -> None:
    assert get_policy("panyu").demo_region_code == "440113"
    assert get_policy("yongkang").demo_region_code == "330784"
    assert get_policy("erqi").demo_region_code == "410103"
    assert get_policy("jilin").demo_region_code == "220200"
    assert get_policy("wenzhou").demo_region_code == "330327"
    assert {r.code for r in get_policy("jilin").region_codes} >= {"220000", "220200"}
    assert {r.code for r in get_policy("wenzhou").region_codes} >= {"330300", "330326"}


def test_region_code_lookup_prefers_the_most_specific() -> None:
    assert policy_for_region_code("330327").key == "wenzhou"  # type: ignore[union-attr]
    assert policy_for_region_code("330302").key == "wenzhou"  # type: ignore[union-attr]
    assert policy_for_region_code("220281").key == "jilin"  # type: ignore[union-attr]
    assert policy_for_region_code("220104").key == "jilin"  # province covers Changchun too
    assert policy_for_region_code("110101") is None
    assert policy_for_region_code("bad") is None


def test_panyu_price_table_is_exact_decimal() -> None:
    p = get_policy("panyu")
    basic1, basic2, child = (p.package(c) for c in ("PY-BASIC-1", "PY-BASIC-2", "PY-CHILD-CHECK"))
    assert (basic1.cost_estimate, basic1.price) == (Decimal(272), Decimal(130))
    assert (basic2.cost_estimate, basic2.price) == (Decimal(222), Decimal(70))
    assert child.list_price == Decimal("228.4") and child.price == Decimal(217)
    prices = [it.unit_price for it in child.items]
    assert prices == [Decimal("8.4"), Decimal("74.4"), Decimal("73.6"), Decimal(72)]
    assert sum(prices) == child.list_price  # type: ignore[arg-type]


def test_panyu_rules_as_data() -> None:
    p = get_policy("panyu")
    assert p.validity == Duration(1, DurationUnit.YEAR)
    assert p.exclusive_groups[0].packages == ("PY-FREE", "PY-BASIC-1", "PY-BASIC-2")
    assert set(p.package("PY-CHILD-CHECK").requires_any_of) == {
        "PY-FREE",
        "PY-BASIC-1",
        "PY-BASIC-2",
    }
    assert p.package("PY-FREE").renewal.mode is RenewalMode.AUTO  # type: ignore[union-attr]
    basic = p.package("PY-BASIC-1").renewal
    assert basic is not None and basic.otherwise is OtherwiseAction.FALL_BACK
    assert basic.otherwise_package == "PY-FREE"
    assert p.combination is not None and p.combination.max_secondary == 1
    assert p.combination.max_tertiary is None  # 1+1+N
    assert p.long_prescription is not None and str(p.long_prescription.max) == "2 months"
    assert p.fee_distribution is not None and p.fee_distribution.team == Decimal("0.8")
    assert p.change_team.same_institution_only and not p.change_team.new_fee


def test_yongkang_erqi_jilin_wenzhou_facts() -> None:
    yk = get_policy("yongkang")
    assert str(yk.long_prescription.max) == "12 weeks"  # type: ignore[union-attr]
    fee = yk.package("YK-FEE")
    assert fee.starts_on_payment and fee.renewal is not None
    assert fee.renewal.payment_window == Duration(1, DurationUnit.MONTH)
    assert sum(1 for p in yk.packages if p.kind is PackageKind.TIER) == 11

    eq = get_policy("erqi")
    assert eq.validity == Duration(3, DurationUnit.YEAR)
    assert eq.signing_unit is SigningUnit.HOUSEHOLD
    assert eq.team.capacity is not None and eq.team.capacity.max == 1500
    assert eq.team.capacity.recommended == 1000

    jl = get_policy("jilin")
    shares = {(r.effective_from.year, r.from_level): r.share for r in jl.reserved_shares}
    assert shares[(2017, InstitutionKind.TERTIARY_HOSPITAL)] == Decimal("0.30")
    assert shares[(2020, InstitutionKind.SECONDARY_HOSPITAL)] == Decimal("0.60")
    assert not jl.signing_parties.hospital_doctor_may_sign_directly
    assert jl.combination is not None and jl.combination.max_tertiary == 1

    wz = get_policy("wenzhou")
    assert wz.long_absence is not None and str(wz.long_absence.threshold) == "3 months"
    assert wz.reports[0].due_day == 3
    assert wz.package("WZ-LOW-INCOME").price == Decimal(120)


def test_duration_parsing() -> None:
    assert parse_duration("3 years") == Duration(3, DurationUnit.YEAR)
    assert parse_duration({"amount": 12, "unit": "week"}) == Duration(12, DurationUnit.WEEK)
    with pytest.raises(ValueError, match="expected a duration"):
        parse_duration("forever")
    assert Duration(1, DurationUnit.MONTH).add_to(dt.date(2024, 1, 31)) == dt.date(2024, 2, 29)


# -- broken files ---------------------------------------------------------------------


@pytest.fixture()
def policy_dir(tmp_path: Path) -> Path:
    shutil.copy(POLICY_DIR / "panyu.yaml", tmp_path / "panyu.yaml")
    return tmp_path


def _edit(path: Path, old: str, new: str) -> None:
    text = path.read_text(encoding="utf-8")
    assert old in text
    path.write_text(text.replace(old, new, 1), encoding="utf-8")


def test_fee_split_that_does_not_add_up_names_file_and_field(policy_dir: Path) -> None:
    f = policy_dir / "panyu.yaml"
    _edit(f, "insurance_fund: 70, personal: 30", "insurance_fund: 75, personal: 30")
    with pytest.raises(PolicyError) as err:
        load_policies(policy_dir)
    assert err.value.path == str(f)
    assert err.value.field == "packages[1](PY-BASIC-1).fees[0]"
    assert "= 135" in err.value.message and "130" in err.value.message


def test_wrong_type_names_the_field(policy_dir: Path) -> None:
    _edit(policy_dir / "panyu.yaml", "price: 217", "price: lots")
    with pytest.raises(PolicyError) as err:
        load_policies(policy_dir)
    assert err.value.field == "packages[3](PY-CHILD-CHECK).price"
    assert "panyu.yaml" in str(err.value)


def test_unknown_key_is_refused(policy_dir: Path) -> None:
    _edit(policy_dir / "panyu.yaml", "validity: 1 year", "validity: 1 year\nvalidty: 2 years")
    with pytest.raises(PolicyError, match=r"panyu\.yaml: validty: Extra inputs"):
        load_policies(policy_dir)


def test_bad_duration_and_unknown_enum(policy_dir: Path) -> None:
    f = policy_dir / "panyu.yaml"
    _edit(f, "validity: 1 year", "validity: one year")
    with pytest.raises(PolicyError) as err:
        load_policy_file(f)
    assert err.value.field == "validity"
    _edit(f, "validity: one year", "validity: 1 year")
    _edit(f, "kind: PERSONALISED", "kind: LUXURY")
    with pytest.raises(PolicyError) as err:
        load_policy_file(f)
    assert err.value.field == "packages[3](PY-CHILD-CHECK).kind"


def test_dangling_package_reference(policy_dir: Path) -> None:
    _edit(policy_dir / "panyu.yaml", "otherwise_package: PY-FREE", "otherwise_package: PY-GONE")
    with pytest.raises(PolicyError) as err:
        load_policies(policy_dir)
    assert err.value.field == "packages[1](PY-BASIC-1).renewal.otherwise_package"
    assert "PY-GONE" in err.value.message


def test_choice_group_cannot_choose_more_than_it_lists(policy_dir: Path) -> None:
    _edit(policy_dir / "panyu.yaml", "choose: 3", "choose: 5")
    with pytest.raises(PolicyError, match="cannot choose 5 of 4"):
        load_policies(policy_dir)


def test_yaml_syntax_error_and_key_mismatch(policy_dir: Path) -> None:
    bad = policy_dir / "broken.yaml"
    bad.write_text("key: [unclosed\n", encoding="utf-8")
    with pytest.raises(PolicyError) as err:
        load_policies(policy_dir)
    assert err.value.path.endswith("broken.yaml") and err.value.field == "(yaml)"
    bad.unlink()
    shutil.copy(policy_dir / "panyu.yaml", policy_dir / "other.yaml")
    with pytest.raises(PolicyError, match="must match the file name"):
        load_policies(policy_dir)


def test_empty_dir_and_unknown_region(tmp_path: Path) -> None:
    with pytest.raises(PolicyError, match="no policy files"):
        load_policies(tmp_path)
    with pytest.raises(PolicyError, match="no policy 'atlantis'"):
        get_policy("atlantis")
