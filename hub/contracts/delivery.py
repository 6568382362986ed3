"""Fulfilment (履约): services delivered to signed residents, and what is still owed.

``record_service_delivery`` is the API's path (a vendor records a follow-up against a
contract); ``record_delivery`` is the adapters' (a HIS visit for a resident: find the
active contract, record it, or do nothing when the resident has not signed).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from sqlalchemy.ext.asyncio import AsyncSession

from hub.access import service as access
from hub.access.principal import Principal, Scope
from hub.contracts import catalog, facts, repository
from hub.contracts import rules as R
from hub.contracts.errors import RuleViolation, ViolationCode
from hub.contracts.models import Contract, ContractStatus, ServiceDelivery
from hub.contracts.policy import PackageItem
from hub.contracts.terms import PopulationCategory
from hub.directory.models import Practitioner
from hub.errors import NotFound
from hub.events.service import emit
from hub.logs import get_logger
from hub.registry import repository as registry

V = ViolationCode
log = get_logger("hub.contracts.delivery")


@dataclass(frozen=True, slots=True)
class Owed:
    """What a contract owes its resident on a day: the signed packages, the resident's
    population groups then, and the items that follow from both."""

    codes: list[str]
    categories: frozenset[PopulationCategory]
    items: list[PackageItem]


async def owed(session: AsyncSession, contract: Contract, on: dt.date) -> Owed:
    policy = catalog.policy(contract.region_key)
    pkgs = (await repository.packages(session, [contract.id]))[contract.id]
    resident = await registry.get(session, contract.resident_id)
    assert resident is not None
    stored = (await registry.categories(session, [resident.id]))[resident.id]
    cats = facts.resident_facts(resident, stored, on).categories
    chosen = [i for p in pkgs for i in p.chosen_items]
    codes = [p.code for p in pkgs]
    return Owed(codes, cats, R.contract_items(policy, codes, cats, chosen or None))


@dataclass(frozen=True, slots=True)
class ItemLine:
    """One item in one window: the pure progress plus the item it is about."""

    item: PackageItem
    progress: R.ItemProgress


async def fulfilment(
    session: AsyncSession, contract: Contract, *, as_of: dt.date
) -> list[ItemLine]:
    """Per item and contract year (or quarter): required vs done, due or overdue, for the
    current period as of ``as_of``."""
    items = (await owed(session, contract, min(as_of, contract.ends_on))).items
    done = (await repository.deliveries(session, [contract.id]))[contract.id]
    period = R.Period(contract.starts_on, contract.ends_on)
    # "within N hours of …" items start their clock at the event the source reported
    from hub.maternal.repository import trigger_events

    found = await trigger_events(session, contract.resident_id)
    events = [R.TriggerEvent(e, at) for e, at in found]
    rows = R.fulfilment(
        items, period, [R.Delivery(d.item_code, d.performed_on) for d in done], as_of=as_of,
        events=events,
    )
    by_code = {i.code: i for i in items}
    return [ItemLine(by_code[r.item_code], r) for r in rows]


async def _performer(session: AsyncSession, performer_id: str | None) -> None:
    if performer_id is not None and await session.get(Practitioner, performer_id) is None:
        raise NotFound(f"No practitioner {performer_id}.", field="performerId")


async def _record(
    session: AsyncSession,
    principal: Principal,
    contract: Contract,
    item: PackageItem,
    *,
    performed_on: dt.date,
    performer_id: str | None,
    source: str,
    source_ref: str | None,
) -> ServiceDelivery:
    if source_ref is not None:
        seen = await repository.delivery_by_source(session, source, source_ref)
        if seen is not None:  # the sender retried: the first record stands
            return seen
    row = await repository.add_delivery(
        session,
        contract_id=contract.id,
        resident_id=contract.resident_id,
        item_code=item.code,
        performed_on=performed_on,
        performer_id=performer_id,
        source=source,
        source_ref=source_ref,
    )
    emit(
        session,
        "contract.service_delivered",
        "Contract",
        contract.id,
        organization_ids=[contract.organization_id],
        resident_id=contract.resident_id,
        item_code=item.code,
        performed_on=performed_on.isoformat(),
        source=source,
    )
    await access.audit(session, principal, "WRITE", "recordServiceDelivery", [contract.resident_id])
    return row


async def _attended(
    session: AsyncSession, contract: Contract, appointment_id: int, performed_on: dt.date
) -> None:
    from zoneinfo import ZoneInfo

    from hub.appointments.models import Appointment, AppointmentStatus
    from hub.errors import InvalidInput

    a = await session.get(Appointment, appointment_id)
    if a is None or a.resident_id != contract.resident_id:
        raise NotFound(f"No appointment {appointment_id} of this contract's resident.",
                       field="appointmentId")  # fmt: skip
    if a.status != AppointmentStatus.ARRIVED:
        raise InvalidInput(f"The appointment is {a.status.lower()}: only an attended one "
                           "(ARRIVED) counts as a delivery.", field="appointmentId",
                           code="APPOINTMENT_NOT_ATTENDED")  # fmt: skip
    start = a.start_at if a.start_at.tzinfo else a.start_at.replace(tzinfo=dt.UTC)
    day = start.astimezone(ZoneInfo("Asia/Shanghai")).date()
    if day != performed_on:
        raise InvalidInput(f"The appointment was on {day}, not {performed_on}.",
                           field="performedOn", code="APPOINTMENT_DATE_MISMATCH")  # fmt: skip


def _check_date(contract: Contract, performed_on: dt.date, today: dt.date) -> None:
    last = contract.ended_on or today
    if not contract.signed_on <= performed_on <= min(last, today):
        raise RuleViolation(
            V.DELIVERY_DATE_INVALID,
            "performedOn",
            f"Contract {contract.number} runs from {contract.signed_on} to "
            f"{contract.ended_on or 'today'}; a service on {performed_on} cannot count for it.",
        )


async def record_service_delivery(
    session: AsyncSession,
    principal: Principal,
    contract_id: int,
    *,
    item_code: str,
    performed_on: dt.date,
    performer_id: str | None = None,
    source: str = "api",
    source_ref: str | None = None,
    today: dt.date | None = None,
    appointment_id: int | None = None,
) -> ServiceDelivery:
    """履约记录 against a contract: the item must be one the resident is owed. Through a
    booking (``appointment_id``): the resident's attended (ARRIVED) appointment on
    ``performed_on``, recorded once whoever sends it again."""
    principal.require(Scope.CONTRACTS_WRITE)
    contract = await repository.get(session, contract_id)
    if contract is None or not await repository.is_visible(session, principal, contract_id):
        raise NotFound(f"No contract {contract_id} visible to this client.", field="contractId")
    if appointment_id is not None:
        source, source_ref = "appointment", f"appointment:{appointment_id}"
        await _attended(session, contract, appointment_id, performed_on)
        if today is None:  # the appointment's day is China Standard Time's (its clinic's)
            from zoneinfo import ZoneInfo

            today = max(dt.date.today(), dt.datetime.now(ZoneInfo("Asia/Shanghai")).date())
    _check_date(contract, performed_on, today or dt.date.today())
    await _performer(session, performer_id)
    items = {i.code: i for i in (await owed(session, contract, performed_on)).items}
    if item_code not in items:
        raise RuleViolation(
            V.ITEM_NOT_IN_CONTRACT,
            "itemCode",
            f"{item_code} is not an item this resident is owed under contract "
            f"{contract.number}; owed: {', '.join(sorted(items))}.",
        )
    return await _record(
        session,
        principal,
        contract,
        items[item_code],
        performed_on=performed_on,
        performer_id=performer_id,
        source=source,
        source_ref=source_ref,
    )


async def record_delivery(
    session: AsyncSession,
    principal: Principal,
    *,
    resident_id: int,
    performed_on: dt.date,
    item_code: str | None = None,
    category: str | None = None,
    service: str = "follow_up",
    performer_id: str | None = None,
    source: str,
    source_ref: str | None = None,
) -> ServiceDelivery | None:
    """For adapters: record a service for the resident's active contract.

    Give the ``item_code``, or a registry ``category`` (``HYPERTENSION``, ``DIABETES_T2``)
    and the ``service`` (default ``follow_up``) to find the item the policy measures.
    Returns None, writing nothing, when the resident has no active contract, the contract
    owes no such item, or the date falls outside the contract.
    """
    principal.require(Scope.CONTRACTS_WRITE)
    contract = await repository.active_contract(session, resident_id)
    if contract is None or contract.status != ContractStatus.ACTIVE:
        return None
    if not contract.signed_on <= performed_on <= dt.date.today():
        return None
    if performer_id is not None and await session.get(Practitioner, performer_id) is None:
        performer_id = None  # a sender's own staff id the directory does not know
    now = await owed(session, contract, performed_on)
    if item_code is None:
        policy = catalog.policy(contract.region_key)
        wanted = facts.CATEGORY_FROM_REGISTRY.get(category or "")
        found = R.service_item(policy, now.codes, now.categories, service=service, category=wanted)
        item_code = found.code if found else None
    item = next((i for i in now.items if i.code == item_code), None)
    if item is None:
        log.info("contracts.delivery.no_item", contract_id=contract.id, source=source)
        return None
    return await _record(
        session,
        principal,
        contract,
        item,
        performed_on=performed_on,
        performer_id=performer_id,
        source=source,
        source_ref=source_ref,
    )
