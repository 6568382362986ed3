"""Contract lifecycle: sign (签约), change team (变更团队), terminate (解约), renew (续约),
long absence (长期外出). Rules come from ``hub.contracts.rules`` over the region's policy;
this module gathers the facts from the database, asks the rules, and writes the rows and
events. Services never commit: the caller owns the transaction.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm.exc import StaleDataError

from hub.access import policy as access_policy
from hub.access import service as access
from hub.access.principal import Principal, Scope
from hub.contracts import catalog, facts, repository
from hub.contracts import rules as R
from hub.contracts.errors import RuleViolation, ViolationCode
from hub.contracts.models import Contract, ContractStatus, PeriodOrigin
from hub.contracts.policy import RegionPolicy
from hub.contracts.terms import PackageKind
from hub.directory.models import Organization, Team
from hub.errors import DomainError, Forbidden, InvalidInput, NotFound
from hub.events.service import emit
from hub.registry import idnumber
from hub.registry import repository as registry
from hub.registry.models import Household, Resident, ResidentStatus

V = ViolationCode


class Conflict(DomainError):
    code = "CONFLICT"


@dataclass(frozen=True, slots=True)
class SignCommand:
    """签约: a resident, or a household whose head signs for its members."""

    team_id: str
    package_codes: Sequence[str]
    resident_id: int | None = None
    household_id: int | None = None
    member_ids: Sequence[int] | None = None  # household signing: a subset of the members
    signed_on: dt.date | None = None
    paid_on: dt.date | None = None
    guardian: Mapping[str, Any] | None = None  # name, relation, phone, id_number
    hospital_ids: Sequence[str] = ()
    chosen_items: Mapping[str, Sequence[str]] = field(default_factory=dict)


# -- shared lookups ---------------------------------------------------------------------


async def team_for_signing(
    session: AsyncSession, principal: Principal, team_id: str
) -> tuple[Team, Organization]:
    team = await repository.lock_team(session, team_id)
    if team is None:
        raise NotFound(f"No team {team_id}.", field="teamId")
    org = await session.get(Organization, team.organization_id)
    assert org is not None  # foreign key
    if principal.resident_ids:
        # 居民自主签约: a resident (through a signing app) chooses any team of their region
        me = await session.get(Resident, principal.resident_ids[0])
        if me is None or me.region_key is None or me.region_key != org.region_key:
            raise Forbidden("A resident signs with a team of their own region.",
                            field="teamId")  # fmt: skip
        return team, org
    if not await access_policy.may_act_for_team(session, principal, team):
        raise Forbidden("This client signs only for teams of its own institutions or "
                        "practitioners.", field="teamId")  # fmt: skip
    return team, org


async def contract_for_change(
    session: AsyncSession, principal: Principal, contract_id: int
) -> Contract:
    """The contract, locked, visible to the caller and still active."""
    principal.require(Scope.CONTRACTS_WRITE)
    contract = await repository.get_for_update(session, contract_id)
    if contract is None or not await repository.is_visible(session, principal, contract_id):
        raise NotFound(f"No contract {contract_id} visible to this client.", field="contractId")
    if contract.status != ContractStatus.ACTIVE:
        raise RuleViolation(
            V.CONTRACT_NOT_ACTIVE,
            "contractId",
            f"Contract {contract.number} is {contract.status.lower()}; sign a new contract.",
        )
    return contract


async def flush(session: AsyncSession) -> None:
    """Write now, so a concurrent change or a second active contract is reported here."""
    try:
        await session.flush()
    except StaleDataError:
        raise Conflict("The contract changed meanwhile; read it again and retry.") from None
    except IntegrityError as exc:
        if "uq_contract_active_resident" in str(exc.orig) or "contract.resident_id" in str(exc):
            raise RuleViolation(
                V.ALREADY_SIGNED, "residentId", "The resident signed meanwhile; read it again."
            ) from None
        raise


def dedupe(violations: Sequence[RuleViolation]) -> list[RuleViolation]:
    return list(dict.fromkeys(violations))


def _for_member(violations: Sequence[RuleViolation], resident_id: int) -> list[RuleViolation]:
    """Name the member a household violation is about (field ``members.<id>.<field>``)."""
    return [
        RuleViolation(
            v.code, f"members.{resident_id}.{v.field}", f"Resident {resident_id}: {v.message}"
        )
        for v in violations
    ]


def _guardian(raw: Mapping[str, Any] | None) -> dict[str, Any] | None:
    if raw is None:
        return None
    name = (raw.get("name") or "").strip()
    if not name:
        raise InvalidInput("A guardian needs a name.", field="guardian.name")
    out = {k: v for k, v in raw.items() if v not in (None, "")}
    out["name"] = name
    if out.get("id_number"):
        number = idnumber.parse(str(out["id_number"]))
        if not number.valid:
            raise DomainError(
                f"The guardian's ID number is not valid per GB 11643 ({number.problem}).",
                field="guardian.idNumber",
                code="INVALID_ID_NUMBER",
            )
        out["id_number"] = number.value
    return out


def _fee_values(fees: R.Fees) -> dict[str, Any]:
    return dict(
        price=fees.price,
        public_health_fund=fees.public_health_fund,
        insurance_fund=fees.insurance_fund,
        personal=fees.personal,
        personal_paid_by=fees.personal_paid_by.value,
        charge_item=fees.charge_item_zh or None,
    )


def fee_totals(fees: R.ContractFees) -> dict[str, str]:
    return {
        "price": str(fees.price),
        "public_health_fund": str(fees.public_health_fund),
        "insurance_fund": str(fees.insurance_fund),
        "personal": str(fees.personal),
    }


def package_rows(
    policy: RegionPolicy,
    fees: R.ContractFees,
    chosen: Mapping[str, Sequence[str]],
) -> list[dict[str, Any]]:
    return [
        dict(
            code=code,
            kind=policy.package(code).kind.value,
            chosen_items=list(chosen.get(code, ())),
            **_fee_values(f),
        )
        for code, f in fees.packages.items()
    ]


def signable(policy: RegionPolicy, codes: Sequence[str]) -> list[str]:
    return [c for c in codes if policy.package(c).kind is not PackageKind.TIER]


async def _hospitals(
    session: AsyncSession, policy: RegionPolicy, hospital_ids: Sequence[str]
) -> list[RuleViolation]:
    if not hospital_ids:
        return []
    from hub.directory.service import get_many

    found = await get_many(session, Organization, list(hospital_ids))
    if missing := [h for h in hospital_ids if h not in found]:
        raise NotFound(f"Unknown hospital(s): {', '.join(missing)}.", field="hospitalIds")
    kinds = [facts.institution_kind(found[h].kind) for h in hospital_ids]
    return R.check_hospitals(policy, kinds)


async def _signers(
    session: AsyncSession, principal: Principal, cmd: SignCommand
) -> tuple[list[Resident], Resident | None]:
    """(residents who get a contract, the household head signing for them or None), of
    those the caller may see: anyone else is not found, exactly like no one."""
    if (cmd.resident_id is None) == (cmd.household_id is None):
        raise InvalidInput("Give either residentId or householdId.", field="residentId")
    if cmd.resident_id is not None:
        resident = await registry.get(session, cmd.resident_id)
        if (
            resident is None
            or resident.status != ResidentStatus.ACTIVE
            or not await access_policy.may_see_resident(session, principal, resident.id)
        ):
            raise NotFound(
                f"No active resident {cmd.resident_id} visible to this client (merged "
                "residents sign as the survivor).",
                field="residentId",
            )
        return [resident], None
    assert cmd.household_id is not None
    household = await session.get(Household, cmd.household_id)
    head_id = household.head_resident_id if household is not None else None
    if head_id is None or not await access_policy.may_see_resident(session, principal, head_id):
        raise NotFound(f"No household {cmd.household_id} visible to this client.",
                       field="householdId")  # fmt: skip
    assert household is not None
    members = await registry.household_members(session, household.id)
    seen = await access_policy.visible_resident_ids(session, principal, [m.id for m in members])
    members = [m for m in members if m.id in seen]
    head = next((m for m in members if m.id == household.head_resident_id), None)
    if head is None:
        raise InvalidInput("The household has no head on record to sign.", field="householdId")
    if cmd.member_ids is not None:
        ids = {m.id for m in members}
        if stray := [i for i in cmd.member_ids if i not in ids]:
            raise RuleViolation(
                V.NOT_HOUSEHOLD_MEMBER, "memberIds", f"Residents {stray} are not in the household."
            )
        members = [m for m in members if m.id in set(cmd.member_ids)]
    return members, head


# -- sign -------------------------------------------------------------------------------


async def sign(
    session: AsyncSession, principal: Principal, cmd: SignCommand, *, today: dt.date | None = None
) -> list[Contract]:
    """签约: one contract per resident (a household gets one per member)."""
    principal.require(Scope.CONTRACTS_WRITE)
    team, org = await team_for_signing(session, principal, cmd.team_id)
    policy = catalog.policy_for_organization(org)
    signed_on = cmd.signed_on or today or dt.date.today()
    members, head = await _signers(session, principal, cmd)
    guardian = _guardian(cmd.guardian)
    codes = list(dict.fromkeys(cmd.package_codes))
    chosen = {k: list(v) for k, v in cmd.chosen_items.items()}

    violations = R.check_package_set(policy, codes)  # an unknown code raises at once
    for code in codes:
        if policy.package(code).choice_groups or code in chosen:
            violations += R.check_item_choices(policy, code, chosen.get(code, ()))
    violations += R.check_signing_party(policy, facts.institution_kind(org.kind))
    violations += await _hospitals(session, policy, cmd.hospital_ids)

    ids = [m.id for m in members]
    stored = await registry.categories(session, ids)
    existing = await repository.active_contracts(session, ids)
    head_facts = (
        facts.resident_facts(
            head,
            (await registry.categories(session, [head.id]))[head.id],
            signed_on,
            has_guardian=guardian is not None,
        )
        if head is not None
        else None
    )
    # The head signs for the family; that covers members who need a guardian, unless the
    # head needs one too (a minor head, a head with a severe mental disorder).
    head_can_sign = head_facts is not None and not R.guardian_required(
        policy, head_facts, signed_on
    )
    fees: dict[int, R.ContractFees] = {}
    to_sign = signable(policy, codes)
    for m in members:
        covered = head is not None and m.id != head.id and head_can_sign
        rf = facts.resident_facts(
            m, stored[m.id], signed_on, has_guardian=guardian is not None or covered
        )
        mine: list[RuleViolation] = []
        if m.id in existing:
            mine.append(
                RuleViolation(
                    V.ALREADY_SIGNED,
                    "residentId",
                    f"The resident already has active contract {existing[m.id].number}; change its "
                    "team or terminate it instead of signing again.",
                )
            )
        for code in codes:
            mine += R.check_package_eligibility(policy, code, rf, signed_on)
        mine += R.check_guardian(policy, rf, signed_on)
        try:
            fees[m.id] = R.contract_fees(policy, to_sign, rf)
        except RuleViolation as v:
            mine.append(v)
        violations += _for_member(mine, m.id) if head is not None else mine

    load = (await repository.team_loads(session, [team.id]))[team.id]
    already = await repository.households_signed_with(
        session, team.id, [m.household_id for m in members if m.household_id]
    )
    new_households = {m.household_id for m in members if m.household_id} - already
    singles = sum(1 for m in members if m.household_id is None)
    violations += R.check_team_load(
        policy,
        households=load.households,
        persons=load.persons,
        adding_households=len(new_households) + singles,
        adding_persons=len(members),
        team_capacity_households=team.capacity_households,
    )
    R.raise_for(dedupe(violations))

    fee_signing = any(f.personal for f in fees.values()) or any(
        policy.package(c).starts_on_payment for c in codes
    )
    paid_on = cmd.paid_on or (signed_on if fee_signing else None)
    period = R.contract_period(policy, codes, signed_on=signed_on, paid_on=paid_on or signed_on)
    numbers = await repository.allocate_numbers(
        session, org.region_code, period.start.year, len(members)
    )
    contracts = []
    for m, seq in zip(members, numbers, strict=True):
        needs = (
            head is not None
            and m.id != head.id
            and guardian is None
            and R.guardian_required(
                policy, facts.resident_facts(m, stored[m.id], signed_on), signed_on
            )
        )
        c = Contract(
            number=repository.format_number(org.region_code, period.start.year, seq),
            resident_id=m.id,
            household_id=m.household_id,
            signed_by_id=head.id if head is not None else None,
            guardian=(
                {"resident_id": head.id, "relation": "HOUSEHOLD_HEAD"}
                if needs and head
                else guardian
            ),
            team_id=team.id,
            organization_id=org.id,
            region_key=policy.key,
            status=ContractStatus.ACTIVE.value,
            signed_on=signed_on,
            paid_on=paid_on,
            period_no=1,
            starts_on=period.start,
            ends_on=period.end,
            hospital_ids=list(cmd.hospital_ids),
            personal_digest=facts.personal_digest(m),
        )
        session.add(c)
        contracts.append(c)
    await flush(session)
    for c in contracts:
        await repository.replace_packages(
            session, c.id, package_rows(policy, fees[c.resident_id], chosen)
        )
        repository.add_period(
            session, c, PeriodOrigin.SIGNED.value, to_sign, fee_totals(fees[c.resident_id])
        )
        emit(
            session,
            "contract.signed",
            "Contract",
            c.id,
            organization_ids=[org.id],
            resident_id=c.resident_id,
            team_id=team.id,
            number=c.number,
            packages=to_sign,
            household_id=c.household_id if head is not None else None,
            starts_on=c.starts_on.isoformat(),
            ends_on=c.ends_on.isoformat(),
        )
    await flush(session)
    await access.audit(session, principal, "WRITE", "signContract", ids)
    return contracts


# -- reads ------------------------------------------------------------------------------


async def get(session: AsyncSession, principal: Principal, contract_id: int) -> Contract:
    principal.require(Scope.CONTRACTS_READ)
    contract = await repository.get(session, contract_id)
    if contract is None or not await repository.is_visible(session, principal, contract_id):
        raise NotFound(f"No contract {contract_id} visible to this client.", field="id")
    return contract


async def list_contracts(
    session: AsyncSession,
    principal: Principal,
    flt: repository.ContractFilter,
    *,
    after: int | None,
    limit: int,
) -> tuple[list[Contract], int, bool]:
    principal.require(Scope.CONTRACTS_READ)
    return await repository.page(
        session, repository.filtered(principal, flt), after=after, limit=limit
    )


@dataclass(frozen=True, slots=True)
class TeamLoadView:
    """签约负荷 against what the team may hold (``None``: unbounded)."""

    households: int
    persons: int
    max_households: int | None
    max_persons: int | None


async def team_loads(session: AsyncSession, teams: Sequence[Team]) -> dict[str, TeamLoadView]:
    from hub.directory.service import get_many

    loads = await repository.team_loads(session, [t.id for t in teams])
    orgs = await get_many(session, Organization, sorted({t.organization_id for t in teams}))
    out = {}
    for t in teams:
        try:
            policy = catalog.policy_for_organization(orgs[t.organization_id])
            max_h, max_p = R.team_limits(policy, t.capacity_households)
        except DomainError:
            max_h, max_p = t.capacity_households, None
        load = loads[t.id]
        out[t.id] = TeamLoadView(load.households, load.persons, max_h, max_p)
    return out
