"""The expiry roll (期满处理): what every contract whose period has ended becomes.

For each active contract whose ``ends_on`` is before the roll date: a recorded renewal
(paid or re-signed) starts the next period with its packages; otherwise the policy
decides (``rules.decide_expiry``): auto-renew (番禺 free package, 二七 3-year household
contract), fall back to the free package (番禺 basic), convert to no-fee signing (永康),
or expire. A contract late by several periods rolls through each of them.

Idempotent and safe to run concurrently: a rolled contract no longer qualifies, rows are
locked while they roll (``SKIP LOCKED`` on PostgreSQL), the contract row carries a
version, and a period number is written once. A conflicting batch is simply re-read.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import random
from dataclasses import dataclass, fields

from sqlalchemy.exc import IntegrityError, OperationalError
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm.exc import StaleDataError

from hub.contracts import catalog, facts, repository
from hub.contracts import rules as R
from hub.contracts.models import Contract, ContractStatus, PeriodOrigin
from hub.contracts.policy import RegionPolicy
from hub.contracts.service import fee_totals, package_rows, signable
from hub.db import Database
from hub.events.service import emit
from hub.logs import get_logger
from hub.registry import repository as registry

log = get_logger("hub.contracts.roll")

ORIGIN = {
    R.ExpiryOutcome.RENEW: PeriodOrigin.RENEWED,
    R.ExpiryOutcome.FALL_BACK_TO_FREE: PeriodOrigin.FALLEN_BACK,
    R.ExpiryOutcome.CONVERT_TO_NO_FEE: PeriodOrigin.CONVERTED,
}
MAX_RETRIES = 5


@dataclass
class RollResult:
    on: dt.date
    renewed: int = 0
    converted: int = 0
    expired: int = 0
    failed: int = 0

    def add(self, other: RollResult) -> None:
        for f in ("renewed", "converted", "expired", "failed"):
            setattr(self, f, getattr(self, f) + getattr(other, f))

    def __str__(self) -> str:
        parts = (f"{f.name} {getattr(self, f.name)}" for f in fields(self) if f.name != "on")
        return f"contracts rolled to {self.on}: " + ", ".join(parts)


async def roll(db: Database, on: dt.date, *, batch: int = 200) -> RollResult:
    """Roll every active contract whose period ended before ``on``, one batch per transaction."""
    total, after, retries = RollResult(on), 0, 0
    while True:
        counts = RollResult(on)
        try:
            async with db.transaction() as session:
                rows = await repository.due_for_roll(session, on, after_id=after, limit=batch)
                for contract in rows:
                    await roll_contract(session, contract, on, counts)
        except (StaleDataError, IntegrityError, OperationalError):
            # Another process rolled some of these first (or, on SQLite, held the write
            # lock): wait a little and read the batch again.
            retries += 1
            if retries > MAX_RETRIES:
                raise
            await asyncio.sleep(random.uniform(0.05, 0.3) * retries)  # noqa: S311
            continue
        if not rows:
            break
        total.add(counts)
        after, retries = rows[-1].id, 0
    log.info(
        "contracts.roll",
        on=on.isoformat(),
        renewed=total.renewed,
        converted=total.converted,
        expired=total.expired,
        failed=total.failed,
    )
    return total


def _renewal(
    policy: RegionPolicy, contract: Contract, rf: R.ResidentFacts, on: dt.date
) -> tuple[list[str], dict[str, list[str]]] | None:
    """The recorded renewal's packages, if they can still be signed on ``on``."""
    if not contract.renewal:
        return None
    codes = list(contract.renewal.get("packages") or [])
    try:
        problems = R.check_package_set(policy, codes)
        for code in codes:
            problems += R.check_package_eligibility(policy, code, rf, on)
    except R.RuleViolation as v:
        problems = [v]
    if problems:
        log.info(
            "contracts.roll.renewal_dropped",
            contract_id=contract.id,
            codes=[p.code for p in problems],
        )
        return None
    return codes, dict(contract.renewal.get("chosen_items") or {})


async def roll_contract(
    session: AsyncSession, contract: Contract, on: dt.date, counts: RollResult
) -> None:
    policy = catalog.policy(contract.region_key)
    resident = await registry.get(session, contract.resident_id)
    assert resident is not None
    stored = (await registry.categories(session, [resident.id]))[resident.id]
    while contract.status == ContractStatus.ACTIVE and contract.ends_on < on:
        next_start = contract.ends_on + dt.timedelta(days=1)
        rf = facts.resident_facts(resident, stored, next_start, has_guardian=True)
        current = (await repository.packages(session, [contract.id]))[contract.id]
        codes = [p.code for p in current]
        renewal = _renewal(policy, contract, rf, next_start)
        if renewal is not None:
            outcome, (next_codes, chosen) = R.ExpiryOutcome.RENEW, renewal
            period = R.Period(next_start, R.period_end(next_start, policy.validity))
            reconfirm = False
        else:
            changed = contract.personal_digest not in (None, facts.personal_digest(resident))
            decision = R.decide_expiry(
                policy,
                codes,
                False,
                period=R.Period(contract.starts_on, contract.ends_on),
                personal_data_changed=changed,
                insurance_active=rf.insurance_type in facts.INSURED,
            )
            if decision.outcome is R.ExpiryOutcome.EXPIRE or decision.next_period is None:
                await _expire(session, contract, decision.reason)
                counts.expired += 1
                return
            outcome, next_codes, period = (
                decision.outcome,
                list(decision.packages),
                decision.next_period,
            )
            chosen = {p.code: list(p.chosen_items) for p in current if p.chosen_items}
            reconfirm = decision.reconfirm_terms
        try:
            fees = R.contract_fees(policy, signable(policy, next_codes), rf)
        except R.RuleViolation as v:
            # Left active and retried on the next roll; the policy or the record needs a fix.
            log.warning("contracts.roll.failed", contract_id=contract.id, code=str(v.code))
            counts.failed += 1
            return
        contract.period_no += 1
        contract.starts_on, contract.ends_on = period.start, period.end
        contract.paid_on = (
            dt.date.fromisoformat(contract.renewal["paid_on"])
            if (renewal is not None and contract.renewal and contract.renewal.get("paid_on"))
            else None
        )
        contract.renewal = None
        contract.personal_digest = facts.personal_digest(resident)
        await repository.replace_packages(session, contract.id, package_rows(policy, fees, chosen))
        repository.add_period(
            session, contract, ORIGIN[outcome].value, next_codes, fee_totals(fees)
        )
        await session.flush()
        renewed = outcome is R.ExpiryOutcome.RENEW
        emit(
            session,
            "contract.renewed" if renewed else "contract.converted",
            "Contract",
            contract.id,
            organization_ids=[contract.organization_id],
            resident_id=contract.resident_id,
            outcome=outcome.value,
            from_packages=codes,
            to_packages=next_codes,
            period_no=contract.period_no,
            starts_on=period.start.isoformat(),
            ends_on=period.end.isoformat(),
            reconfirm_terms=reconfirm,
        )
        if renewed:
            counts.renewed += 1
        else:
            counts.converted += 1


async def _expire(session: AsyncSession, contract: Contract, reason: str) -> None:
    contract.status = ContractStatus.EXPIRED.value
    contract.ended_on = contract.ends_on
    contract.renewal = None
    await session.flush()
    emit(
        session,
        "contract.expired",
        "Contract",
        contract.id,
        organization_ids=[contract.organization_id],
        resident_id=contract.resident_id,
        ended_on=contract.ends_on.isoformat(),
        reason=reason,
    )
