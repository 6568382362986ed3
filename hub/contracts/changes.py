"""Changes to a signed contract: change team (变更团队), terminate (解约), renew (续约),
long absence (长期外出). Rules from ``hub.contracts.rules``; services never commit.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence

from sqlalchemy.ext.asyncio import AsyncSession

from hub.access import service as access
from hub.access.principal import Principal
from hub.contracts import catalog, facts, repository
from hub.contracts import rules as R
from hub.contracts.errors import RuleViolation, ViolationCode
from hub.contracts.models import AbsenceDecision, Contract, ContractStatus, TerminationReason
from hub.contracts.service import (
    contract_for_change,
    dedupe,
    flush,
    signable,
    team_for_signing,
)
from hub.errors import InvalidInput
from hub.events.service import emit
from hub.registry import repository as registry

V = ViolationCode
# When a policy names no options, every decision is open.
LONG_ABSENCE_OPTIONS = tuple(d.value for d in AbsenceDecision)


async def change_team(
    session: AsyncSession,
    principal: Principal,
    contract_id: int,
    team_id: str,
    *,
    reason: str | None = None,
) -> Contract:
    """变更签约团队 during the validity period: same institution (per policy), no new fee."""
    contract = await contract_for_change(session, principal, contract_id)
    team, org = await team_for_signing(session, principal, team_id)
    if team.id == contract.team_id:
        raise RuleViolation(V.SAME_TEAM, "teamId", "The contract is already with this team.")
    policy = catalog.policy(contract.region_key)
    violations = R.check_team_change(
        policy, from_institution=contract.organization_id, to_institution=org.id
    )
    violations = [RuleViolation(v.code, "teamId", v.message) for v in violations]
    if org.id != contract.organization_id:
        violations += R.check_signing_party(policy, facts.institution_kind(org.kind))
    load = (await repository.team_loads(session, [team.id]))[team.id]
    joined = contract.household_id is not None and contract.household_id in (
        await repository.households_signed_with(session, team.id, [contract.household_id])
    )
    violations += R.check_team_load(
        policy,
        households=load.households,
        persons=load.persons,
        adding_households=0 if joined else 1,
        adding_persons=1,
        team_capacity_households=team.capacity_households,
    )
    R.raise_for(dedupe(violations))
    old_team, old_org = contract.team_id, contract.organization_id
    contract.team_id, contract.organization_id = team.id, org.id
    await flush(session)
    emit(
        session,
        "contract.team_changed",
        "Contract",
        contract.id,
        organization_ids=sorted({old_org, org.id}),
        resident_id=contract.resident_id,
        from_team_id=old_team,
        to_team_id=team.id,
        reason=reason,
    )
    await access.audit(session, principal, "WRITE", "changeContractTeam", [contract.resident_id])
    return contract


async def terminate(
    session: AsyncSession,
    principal: Principal,
    contract_id: int,
    reason: str,
    *,
    note: str | None = None,
    at: dt.datetime | None = None,
) -> Contract:
    """解约: reason and time recorded; no refund or re-payment within the period."""
    if reason not in TerminationReason.__members__:
        raise InvalidInput(
            f"Unknown reason '{reason}'; use one of {', '.join(TerminationReason)}.",
            field="reason",
            code="INVALID_CODE",
        )
    contract = await contract_for_change(session, principal, contract_id)
    await _end(session, contract, reason, note, at or dt.datetime.now(dt.UTC))
    await access.audit(session, principal, "WRITE", "terminateContract", [contract.resident_id])
    return contract


async def _end(
    session: AsyncSession, contract: Contract, reason: str, note: str | None, at: dt.datetime
) -> None:
    contract.status = ContractStatus.TERMINATED.value
    contract.termination_reason = reason
    contract.termination_note = note
    contract.terminated_at = at
    contract.ended_on = at.date()
    contract.renewal = None
    await flush(session)
    emit(
        session,
        "contract.terminated",
        "Contract",
        contract.id,
        organization_ids=[contract.organization_id],
        resident_id=contract.resident_id,
        reason=reason,
        ended_on=contract.ended_on.isoformat(),
    )


# -- renew, long absence -------------------------------------------------------------------


async def renew(
    session: AsyncSession,
    principal: Principal,
    contract_id: int,
    package_codes: Sequence[str] | None = None,
    *,
    paid_on: dt.date | None = None,
    chosen_items: Mapping[str, Sequence[str]] | None = None,
    today: dt.date | None = None,
) -> Contract:
    """续约: record a paid (or re-signed) renewal; the expiry roll starts the next period
    with these packages the day after ``endsOn``."""
    contract = await contract_for_change(session, principal, contract_id)
    policy = catalog.policy(contract.region_key)
    current = (await repository.packages(session, [contract.id]))[contract.id]
    codes = list(dict.fromkeys(package_codes or [p.code for p in current]))
    chosen = {p.code: list(p.chosen_items) for p in current if p.chosen_items}
    chosen.update({k: list(v) for k, v in (chosen_items or {}).items()})
    next_start = contract.ends_on + dt.timedelta(days=1)
    paid = paid_on or today or dt.date.today()
    violations = R.check_package_set(policy, codes)
    for code in codes:
        if policy.package(code).choice_groups:
            violations += R.check_item_choices(policy, code, chosen.get(code, ()))
    resident = await registry.get(session, contract.resident_id)
    assert resident is not None
    stored = (await registry.categories(session, [resident.id]))[resident.id]
    rf = facts.resident_facts(resident, stored, next_start, has_guardian=True)
    for code in codes:
        violations += R.check_package_eligibility(policy, code, rf, next_start)
        pkg = policy.package(code)
        if code in {p.code for p in current} and pkg.renewal and pkg.renewal.payment_window:
            violations += R.check_renewal_payment(
                policy, code, expires_on=contract.ends_on, paid_on=paid
            )
    try:
        R.contract_fees(policy, signable(policy, codes), rf)
    except RuleViolation as v:
        violations.append(v)
    R.raise_for(dedupe(violations))
    contract.renewal = {
        "packages": codes,
        "chosen_items": {k: v for k, v in chosen.items() if k in codes},
        "paid_on": paid.isoformat(),
        "recorded_at": dt.datetime.now(dt.UTC).isoformat(),
    }
    await flush(session)
    emit(
        session,
        "contract.renewal_recorded",
        "Contract",
        contract.id,
        organization_ids=[contract.organization_id],
        resident_id=contract.resident_id,
        packages=codes,
        starts_on=next_start.isoformat(),
    )
    await access.audit(session, principal, "WRITE", "renewContract", [contract.resident_id])
    return contract


async def record_long_absence(
    session: AsyncSession,
    principal: Principal,
    contract_id: int,
    since: dt.date,
    decision: str,
    *,
    note: str | None = None,
    today: dt.date | None = None,
) -> Contract:
    """长期外出: the resident is away; terminate, move the record (both end the contract
    here) or keep the contract, as the policy offers."""
    contract = await contract_for_change(session, principal, contract_id)
    policy = catalog.policy(contract.region_key)
    options = policy.long_absence.options if policy.long_absence else LONG_ABSENCE_OPTIONS
    if decision not in options:
        raise RuleViolation(
            V.ABSENCE_DECISION_UNKNOWN,
            "decision",
            f"{policy.name_en} offers {', '.join(options)} for a long absence.",
        )
    if since > (today or dt.date.today()):
        raise InvalidInput("The absence cannot start in the future.", field="since")
    contract.away_since, contract.absence_decision = since, decision
    contract.absence_recorded_at = dt.datetime.now(dt.UTC)
    await flush(session)
    emit(
        session,
        "contract.long_absence_recorded",
        "Contract",
        contract.id,
        organization_ids=[contract.organization_id],
        resident_id=contract.resident_id,
        since=since.isoformat(),
        decision=decision,
    )
    if decision != "KEEP":
        await _end(
            session,
            contract,
            TerminationReason.MOVED_AWAY.value,
            note or f"long absence since {since.isoformat()} ({decision})",
            dt.datetime.now(dt.UTC),
        )
    await access.audit(session, principal, "WRITE", "recordLongAbsence", [contract.resident_id])
    return contract
