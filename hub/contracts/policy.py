"""Regional signing policies (签约服务政策) as data.

Each region that runs family doctor contract services publishes its own rules: which
packages (服务包) exist, what they cost and who pays, how long a contract runs, what
happens at expiry, how large a team may grow. The hub holds them as one YAML file per
region in ``hub/contracts/policies/``; the seed documents' regions ship as presets.
Code reads numbers and behaviours from here, never from literals.

The vocabulary (enums, ``Duration``) lives in ``hub.contracts.terms``; this module
holds the models and the loader. Every file is validated at start-up; a broken file
raises ``PolicyError`` naming the file and the field.
"""

from __future__ import annotations

import datetime as dt
import functools
import re
from decimal import Decimal
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from hub.contracts.packages import (
    AgeRange,
    ChoiceGroup,
    Eligibility,
    FeeRule,
    Frequency,
    Package,
    PackageItem,
    PersonalSharePayer,
    Renewal,
)
from hub.contracts.terms import (
    DurationField,
    InstitutionKind,
    OtherwiseAction,
    PackageKind,
    PopulationCategory,
    SigningUnit,
)

__all__ = [
    "POLICY_DIR", "AgeRange", "ChoiceGroup", "CombinationSigning", "CoverageTarget",
    "Eligibility", "ExclusiveGroup", "FeeDistribution", "FeeRule", "Frequency",
    "GuardianPolicy", "LongAbsence", "LongPrescription", "Package", "PackageItem",
    "PersonalSharePayer", "PolicyError", "RegionCode", "RegionPolicy", "Renewal", "ReportSpec",
    "ReservedShare", "SigningParties", "TeamCapacity", "TeamPolicy", "ChangeTeamPolicy",
    "get_policy", "load_policies", "load_policy_file", "policy_for_region_code",
]  # fmt: skip

POLICY_DIR = Path(__file__).parent / "policies"


class _Model(BaseModel):
    # Unknown keys are typos in a policy file; refuse them rather than ignore them.
    model_config = ConfigDict(extra="forbid", frozen=True)


class RegionCode(_Model):
    """GB/T 2260 administrative division code (行政区划代码)."""

    code: str = Field(pattern=r"^\d{6}$")
    name_zh: str
    level: str = Field(pattern=r"^(province|city|district|county)$")
    demo: bool = False


class ExclusiveGroup(_Model):
    """Packages of which a resident may hold at most one at a time (免费包 XOR 基本包)."""

    code: str
    packages: tuple[str, ...] = Field(min_length=2)
    note_zh: str = ""


class TeamCapacity(_Model):
    """团队规模: ``max`` signed units per team, counted in ``unit``."""

    unit: SigningUnit
    recommended: int | None = Field(default=None, ge=1)
    max: int = Field(ge=1)


class TeamPolicy(_Model):
    one_active_team_per_resident: bool = True
    capacity: TeamCapacity | None = None


class ChangeTeamPolicy(_Model):
    """变更签约医生/团队 during the validity period."""

    allowed: bool = True
    same_institution_only: bool = True
    new_fee: bool = False
    note_zh: str = ""


class SigningParties(_Model):
    """Who may be party 甲方 of a contract (吉林 (二十) 禁止乱签约行为)."""

    institution_kinds: tuple[InstitutionKind, ...]
    # Non-government clinics may sign only where no primary-care institution exists [JL].
    fallback_kinds_without_primary_care: tuple[InstitutionKind, ...] = ()
    hospital_doctor_may_sign_directly: bool = False
    personal_name_contract_allowed: bool = False


class CombinationSigning(_Model):
    """组合式签约 "1+1+1" / "1+1+N"; ``max_tertiary`` ``None`` means several (N)."""

    max_secondary: int = Field(ge=0)
    max_tertiary: int | None = Field(default=None, ge=0)


class LongPrescription(_Model):
    """长处方: the longest single supply for stable chronic patients."""

    max: DurationField
    # The ordinary limit above which a supply counts as "long" (not in the seeds).
    ordinary_max: DurationField | None = None
    eligible_categories: tuple[PopulationCategory, ...] = ()


class ReservedShare(_Model):
    """预留专家号和床位: share a hospital level reserves for the level below, from a date."""

    effective_from: dt.date
    from_level: InstitutionKind
    to_level: str = Field(pattern=r"^(secondary|primary)$")
    share: Decimal = Field(ge=0, le=1)
    resources: tuple[str, ...] = ("expert_slots", "beds")


class GuardianPolicy(_Model):
    """监护人代签: who must sign through a guardian."""

    under_age: int | None = Field(default=18, ge=1)
    categories_any: tuple[PopulationCategory, ...] = ()
    source: str = ""


class LongAbsence(_Model):
    """长期外出: away longer than ``threshold`` → resident informs; pick an option."""

    threshold: DurationField
    options: tuple[str, ...] = ("TERMINATE", "MOVE_RECORD", "KEEP")


class CoverageTarget(_Model):
    """签约覆盖率目标 for reports (section 6 of RULES.md)."""

    by_year: int
    scope: str = Field(pattern=r"^(overall|key_populations|urban|rural|poor|low_income)$")
    min_share: Decimal | None = Field(default=None, ge=0, le=1)
    min_persons: int | None = Field(default=None, ge=1)


class ReportSpec(_Model):
    """A periodic report the region requires."""

    code: str
    name_zh: str
    period: str = Field(pattern=r"^(monthly|quarterly|yearly)$")
    due_day: int | None = Field(default=None, ge=1, le=28)
    group_by: tuple[str, ...] = ()


class FeeDistribution(_Model):
    """How signing-fee income is shared after assessment (番禺: 80% team, 20% institution)."""

    team: Decimal = Field(ge=0, le=1)
    institution: Decimal = Field(ge=0, le=1)


class AccessPolicy(_Model):
    """Who may see a resident beyond the resident's own team and institution."""

    # A hospital sees a referred resident while the referral is open and this many days
    # after it closed (to finish discharge papers and answer follow-up questions).
    referral_grace_days: int = Field(default=30, ge=0, le=3650)


class AppointmentPolicy(_Model):
    """Time-slot appointments (分时段预约) with the family doctor team (hub.appointments)."""

    # How many days ahead a signed resident of the team may book a slot.
    booking_window_days: int = Field(default=14, ge=1, le=365)
    # Signed residents of the team book this many days before others (签约居民优先): an
    # unsigned resident may book only slots within booking_window_days - this.
    signed_priority_days: int = Field(default=3, ge=0, le=365)
    # A booking is cancelled (or moved) up to this many hours before the slot starts.
    cancel_deadline_hours: int = Field(default=2, ge=0, le=720)
    # The shortest slot a team may publish (a visit of at least this many minutes).
    min_slot_minutes: int = Field(default=5, ge=1, le=480)


class RegionPolicy(_Model):
    """One region's signing policy (a preset or a local variant)."""

    key: str = Field(pattern=r"^[a-z][a-z0-9_]*$")
    name_zh: str
    name_en: str
    sources: tuple[str, ...] = ()
    # How ambiguities in the sources were resolved, in English, for reviewers.
    notes: tuple[str, ...] = ()
    region_codes: tuple[RegionCode, ...] = Field(min_length=1)
    validity: DurationField
    signing_unit: SigningUnit = SigningUnit.PERSON
    packages: tuple[Package, ...] = Field(min_length=1)
    exclusive_groups: tuple[ExclusiveGroup, ...] = ()
    team: TeamPolicy = TeamPolicy()
    change_team: ChangeTeamPolicy = ChangeTeamPolicy()
    signing_parties: SigningParties
    combination: CombinationSigning | None = None
    long_prescription: LongPrescription | None = None
    reserved_shares: tuple[ReservedShare, ...] = ()
    guardian: GuardianPolicy = GuardianPolicy()
    long_absence: LongAbsence | None = None
    key_populations: tuple[PopulationCategory, ...] = ()
    coverage_targets: tuple[CoverageTarget, ...] = ()
    reports: tuple[ReportSpec, ...] = ()
    fee_distribution: FeeDistribution | None = None
    team_subsidy_per_person_year: Decimal | None = None
    home_treatment_allowed: bool = True
    access: AccessPolicy = AccessPolicy()
    appointments: AppointmentPolicy = AppointmentPolicy()

    def package(self, code: str) -> Package:
        for p in self.packages:
            if p.code == code:
                return p
        raise KeyError(f"{self.key}: no package {code!r}")

    @property
    def demo_region_code(self) -> str:
        return next((r.code for r in self.region_codes if r.demo), self.region_codes[0].code)

    @model_validator(mode="after")
    def _references_and_sums(self) -> RegionPolicy:
        _check_cross_references(self)
        return self


class PolicyError(ValueError):
    """A policy file cannot be used; names the file and the field."""

    def __init__(self, path: Path | str, field: str, message: str) -> None:
        self.path, self.field, self.message = str(path), field, message
        super().__init__(f"{path}: {field}: {message}")


class _CrossRefError(ValueError):
    def __init__(self, field: str, message: str) -> None:
        self.field, self.message = field, message
        super().__init__(f"{field}: {message}")


def _check_cross_references(p: RegionPolicy) -> None:
    """Checks a field validator cannot see: codes that point at other packages, sums."""
    codes = [pk.code for pk in p.packages]
    dupes = sorted({c for c in codes if codes.count(c) > 1})
    if dupes:
        raise _CrossRefError("packages", f"duplicate package codes {dupes}")
    known = set(codes)

    def must_exist(field: str, refs: tuple[str, ...] | list[str]) -> None:
        missing = [r for r in refs if r not in known]
        if missing:
            raise _CrossRefError(field, f"unknown package code(s) {missing}; known: {codes}")

    for i, pk in enumerate(p.packages):
        at = f"packages[{i}]({pk.code})"
        must_exist(f"{at}.requires_any_of", pk.requires_any_of)
        must_exist(f"{at}.bundled_in", pk.bundled_in)
        must_exist(f"{at}.includes", pk.includes)
        _check_renewal(at, pk, must_exist)
        item_codes = {it.code for it in pk.items}
        for n, it in enumerate(pk.items):
            unknown = [c for c in it.counts_toward if c not in item_codes]
            if unknown:
                raise _CrossRefError(f"{at}.items[{n}].counts_toward", f"unknown items {unknown}")
        for g, grp in enumerate(pk.choice_groups):
            unknown = [c for c in grp.items if c not in item_codes]
            if unknown:
                raise _CrossRefError(f"{at}.choice_groups[{g}].items", f"unknown items {unknown}")
            if grp.choose > len(grp.items):
                raise _CrossRefError(
                    f"{at}.choice_groups[{g}].choose",
                    f"cannot choose {grp.choose} of {len(grp.items)} items",
                )
        for f, rule in enumerate(pk.fees):
            total = rule.public_health_fund + rule.insurance_fund + rule.personal
            if pk.price is not None and total != pk.price:
                raise _CrossRefError(
                    f"{at}.fees[{f}]",
                    f"public_health_fund {rule.public_health_fund} + insurance_fund "
                    f"{rule.insurance_fund} + personal {rule.personal} = {total}, "
                    f"but the package price is {pk.price}",
                )
    for g, excl in enumerate(p.exclusive_groups):
        must_exist(f"exclusive_groups[{g}].packages", excl.packages)
    if p.fee_distribution and p.fee_distribution.team + p.fee_distribution.institution != 1:
        raise _CrossRefError("fee_distribution", "team + institution must add up to 1")


def _check_renewal(at: str, pk: Package, must_exist: Any) -> None:
    r = pk.renewal
    if r is None:
        if pk.kind is not PackageKind.TIER:
            raise _CrossRefError(f"{at}.renewal", "required for every package except TIER modules")
        if not pk.bundled_in:
            raise _CrossRefError(f"{at}.bundled_in", "a TIER module must name its base packages")
        return
    if r.otherwise_package is not None:
        must_exist(f"{at}.renewal.otherwise_package", [r.otherwise_package])
    if r.otherwise in (OtherwiseAction.FALL_BACK, OtherwiseAction.CONVERT) and (
        r.otherwise_package is None
    ):
        raise _CrossRefError(
            f"{at}.renewal.otherwise_package", f"required when otherwise is {r.otherwise.value}"
        )


class _DecimalLoader(yaml.SafeLoader):  # type: ignore[misc,unused-ignore]
    """YAML loader that reads decimals as ``Decimal`` so 8.4 stays exactly 8.4."""


def _construct_decimal(loader: yaml.SafeLoader, node: yaml.Node) -> Decimal:
    return Decimal(str(loader.construct_scalar(node)).replace("_", ""))


_DecimalLoader.add_constructor("tag:yaml.org,2002:float", _construct_decimal)


def _loc(loc: tuple[int | str, ...], data: Any) -> str:
    """Render a pydantic location as ``packages[1](PY-BASIC-1).fees[0].personal``."""
    out, node = "", data
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
            node = node[part] if isinstance(node, list) and part < len(node) else None
            if isinstance(node, dict) and "code" in node:
                out += f"({node['code']})"
        else:
            out += f".{part}" if out else str(part)
            node = node.get(part) if isinstance(node, dict) else None
    return out or "(file)"


def load_policy_file(path: Path) -> RegionPolicy:
    """Read and validate one policy file."""
    try:
        data = yaml.load(path.read_text(encoding="utf-8"), Loader=_DecimalLoader)  # noqa: S506
    except yaml.YAMLError as exc:
        raise PolicyError(path, "(yaml)", str(exc)) from exc
    if not isinstance(data, dict):
        raise PolicyError(path, "(file)", "expected a mapping at the top level")
    try:
        return RegionPolicy.model_validate(data)
    except ValidationError as exc:
        err = exc.errors(include_url=False)[0]
        ctx_err = (err.get("ctx") or {}).get("error")
        if isinstance(ctx_err, _CrossRefError):
            raise PolicyError(path, ctx_err.field, ctx_err.message) from exc
        raise PolicyError(path, _loc(tuple(err["loc"]), data), err["msg"]) from exc


def load_policies(dir: Path | str | None = None) -> dict[str, RegionPolicy]:  # noqa: A002
    """Load every ``*.yaml`` policy in ``dir`` (default: the shipped presets), keyed by region."""
    folder = Path(dir) if dir is not None else POLICY_DIR
    policies: dict[str, RegionPolicy] = {}
    for path in sorted(folder.glob("*.y*ml")):
        policy = load_policy_file(path)
        if path.stem != policy.key:
            raise PolicyError(path, "key", f"key {policy.key!r} must match the file name")
        policies[policy.key] = policy
    if not policies:
        raise PolicyError(folder, "(dir)", "no policy files found")
    return policies


@functools.cache
def _presets() -> dict[str, RegionPolicy]:
    return load_policies()


def get_policy(region_key: str) -> RegionPolicy:
    """The shipped policy for ``region_key`` (loaded and validated once per process)."""
    policies = _presets()
    try:
        return policies[region_key]
    except KeyError:
        known = sorted(policies)
        raise PolicyError(POLICY_DIR, "key", f"no policy {region_key!r}; have {known}") from None


def policy_for_region_code(code: str) -> RegionPolicy | None:
    """The policy whose GB/T 2260 code covers ``code`` most specifically.

    A county or district code beats its city, a city beats its province.
    """
    if not re.fullmatch(r"\d{6}", code):
        return None
    best: tuple[int, RegionPolicy] | None = None
    for policy in _presets().values():
        for rc in policy.region_codes:
            prefix = rc.code[: _PREFIX_LEN[rc.level]]
            if code.startswith(prefix) and (best is None or len(prefix) > best[0]):
                best = (len(prefix), policy)
    return best[1] if best else None


_PREFIX_LEN = {"province": 2, "city": 4, "district": 6, "county": 6}
