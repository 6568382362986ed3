"""Contract periods and what happens at expiry (签约周期、续约), as pure functions.

Dates are inclusive: a 1-year contract signed on 2024-07-01 runs to 2025-06-30 and the
next period (renewed, or fallen back to the free package) starts on 2025-07-01.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Collection, Iterable
from dataclasses import dataclass
from decimal import Decimal
from enum import StrEnum

from hub.contracts.errors import RuleViolation, ViolationCode
from hub.contracts.policy import Package, RegionPolicy
from hub.contracts.terms import Duration, InstitutionKind, OtherwiseAction, PackageKind, RenewalMode

ONE_DAY = dt.timedelta(days=1)


@dataclass(frozen=True, slots=True)
class Period:
    """An inclusive date range."""

    start: dt.date
    end: dt.date

    def __contains__(self, day: object) -> bool:
        if isinstance(day, dt.datetime):
            day = day.date()
        return isinstance(day, dt.date) and self.start <= day <= self.end


def period_end(start: dt.date, length: Duration) -> dt.date:
    """Last day of a period of ``length`` starting on ``start``.

    When the anniversary does not exist (29 Feb + 1 year), the period ends on the last
    day of that month rather than a day early.
    """
    anniversary = length.add_to(start)
    return anniversary if anniversary.day < start.day else anniversary - ONE_DAY


def contract_period(
    policy: RegionPolicy,
    package_codes: Iterable[str],
    *,
    signed_on: dt.date,
    paid_on: dt.date | None = None,
) -> Period:
    """签约有效期. Fee signing in Yongkang starts on the day of payment, others on signing."""
    packages = [policy.package(c) for c in package_codes]
    if any(p.starts_on_payment for p in packages):
        if paid_on is None:
            raise RuleViolation(
                ViolationCode.PAYMENT_REQUIRED,
                "paid_on",
                "This contract starts on the day the personal share is paid and the "
                "insurance card swiped; record the payment date.",
            )
        start = paid_on
    else:
        start = signed_on
    return Period(start, period_end(start, policy.validity))


class ExpiryOutcome(StrEnum):
    RENEW = "RENEW"
    FALL_BACK_TO_FREE = "FALL_BACK_TO_FREE"
    CONVERT_TO_NO_FEE = "CONVERT_TO_NO_FEE"
    EXPIRE = "EXPIRE"


@dataclass(frozen=True, slots=True)
class ExpiryDecision:
    """What the contract becomes the day after ``period.end``."""

    outcome: ExpiryOutcome
    packages: tuple[str, ...]  # packages of the next period; empty when EXPIRE
    ended: tuple[str, ...]  # packages that do not continue
    next_period: Period | None
    reconfirm_terms: bool = False
    reason: str = ""


def _paid(paid_for_renewal: bool | Collection[str], code: str) -> bool:
    if isinstance(paid_for_renewal, bool):
        return paid_for_renewal
    return code in paid_for_renewal


def in_payment_window(pkg: Package, expires_on: dt.date, paid_on: dt.date) -> bool:
    window = pkg.renewal.payment_window if pkg.renewal else None
    if window is None:
        return paid_on <= expires_on
    return window.subtract_from(expires_on) <= paid_on <= expires_on


def check_renewal_payment(
    policy: RegionPolicy, package_code: str, *, expires_on: dt.date, paid_on: dt.date
) -> list[RuleViolation]:
    """续签交费 must fall in the window before expiry (Yongkang: within one month)."""
    pkg = policy.package(package_code)
    if in_payment_window(pkg, expires_on, paid_on):
        return []
    window = pkg.renewal.payment_window if pkg.renewal else None
    opens = window.subtract_from(expires_on) if window else None
    return [
        RuleViolation(
            ViolationCode.RENEWAL_PAYMENT_OUTSIDE_WINDOW,
            "paid_on",
            f"Renewal of {pkg.code} is paid between {opens or 'signing'} and {expires_on}; "
            f"{paid_on} is outside that window.",
        )
    ]


def _renews(
    pkg: Package,
    paid: bool,
    *,
    expires_on: dt.date,
    paid_on: dt.date | None,
    resigned: bool,
    personal_data_changed: bool,
    insurance_active: bool,
) -> bool:
    r = pkg.renewal
    if r is None:
        return False
    if r.ends_when_insurance_stops and not insurance_active:
        return False
    if r.mode is RenewalMode.AUTO:
        return not (r.requires_unchanged_personal_data and personal_data_changed)
    if r.mode is RenewalMode.ON_RESIGN:
        return resigned or paid
    return paid and (paid_on is None or in_payment_window(pkg, expires_on, paid_on))


def decide_expiry(
    policy: RegionPolicy,
    packages: Iterable[str],
    paid_for_renewal: bool | Collection[str],
    *,
    period: Period,
    paid_on: dt.date | None = None,
    resigned: bool = False,
    declined: bool = False,
    personal_data_changed: bool = False,
    insurance_active: bool = True,
) -> ExpiryDecision:
    """续约 at the end of ``period``.

    ``paid_for_renewal``: True/False for every paid package, or the codes paid for.
    ``resigned``: both sides signed again (renews ON_RESIGN packages). ``declined``: the
    resident said they want neither renewal nor another package (签名确认).
    """
    codes = list(dict.fromkeys(packages))
    pkgs = [policy.package(c) for c in codes]
    if declined:
        return ExpiryDecision(ExpiryOutcome.EXPIRE, (), tuple(codes), None, reason="declined")
    bases = [p for p in pkgs if p.kind is not PackageKind.TIER and not p.requires_any_of]
    addons = [p for p in pkgs if p.kind is not PackageKind.TIER and p.requires_any_of]
    kept: list[str] = []
    outcome, reconfirm, reasons = ExpiryOutcome.RENEW, False, []
    for p in bases:
        if _renews(
            p,
            _paid(paid_for_renewal, p.code),
            expires_on=period.end,
            paid_on=paid_on,
            resigned=resigned,
            personal_data_changed=personal_data_changed,
            insurance_active=insurance_active,
        ):
            kept.append(p.code)
            reconfirm = reconfirm or bool(p.renewal and p.renewal.reconfirm_terms)
            continue
        assert p.renewal is not None  # validated at load: only TIER modules lack renewal
        if p.renewal.otherwise is OtherwiseAction.FALL_BACK:
            outcome = ExpiryOutcome.FALL_BACK_TO_FREE
        elif p.renewal.otherwise is OtherwiseAction.CONVERT:
            outcome = ExpiryOutcome.CONVERT_TO_NO_FEE
        else:
            reasons.append(f"{p.code} ends")
            continue
        kept.append(p.renewal.otherwise_package or "")
        reasons.append(f"{p.code} -> {p.renewal.otherwise_package}")
    if not kept:
        return ExpiryDecision(
            ExpiryOutcome.EXPIRE, (), tuple(codes), None, reason="; ".join(reasons)
        )
    for p in addons:
        paid = _paid(paid_for_renewal, p.code)
        prerequisite_kept = set(kept) & set(p.requires_any_of)
        if prerequisite_kept and _renews(
            p,
            paid,
            expires_on=period.end,
            paid_on=paid_on,
            resigned=resigned,
            personal_data_changed=personal_data_changed,
            insurance_active=insurance_active,
        ):
            kept.append(p.code)
    # Tier modules follow whichever base they are bundled in.
    kept += [
        t.code
        for t in policy.packages
        if t.kind is PackageKind.TIER and (t.code in codes) and set(t.bundled_in) & set(kept)
    ]
    start = period.end + ONE_DAY
    return ExpiryDecision(
        outcome,
        tuple(kept),
        tuple(c for c in codes if c not in kept),
        Period(start, period_end(start, policy.validity)),
        reconfirm_terms=reconfirm,
        reason="; ".join(reasons),
    )


def is_long_absence(policy: RegionPolicy, away_since: dt.date, on: dt.date) -> bool:
    """长期外出: away longer than the policy's threshold (Wenzhou: 3 months)."""
    la = policy.long_absence
    return la is not None and on > la.threshold.add_to(away_since)


def reserved_share(
    policy: RegionPolicy, from_level: InstitutionKind, on: dt.date
) -> Decimal | None:
    """预留专家号和床位 share a hospital level reserves for the level below, as of ``on``."""
    current = [
        r for r in policy.reserved_shares if r.from_level is from_level and r.effective_from <= on
    ]
    return max(current, key=lambda r: r.effective_from).share if current else None
