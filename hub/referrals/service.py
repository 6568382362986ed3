"""Referral rules: create, move through the workflow, book reserved capacity, hand back.

Every change writes a transition row (when, who) and an event in the caller's
transaction; services never commit.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from hub.access import policy
from hub.access import service as access
from hub.access.principal import Principal, Scope
from hub.directory.models import Organization, Team
from hub.errors import DomainError, Forbidden, NotFound
from hub.events.service import emit
from hub.referrals import capacity, repository, rules, signing
from hub.referrals.models import (
    Direction,
    Priority,
    Referral,
    ReferralPrescription,
    ReferralStatus,
    ReferralTransition,
    Urgency,
)
from hub.referrals.rules import PrescriptionItem
from hub.referrals.workflow import Action, InvalidTransition, Side, step
from hub.registry import golden
from hub.registry import repository as residents

ICD10 = re.compile(r"^[A-Z][0-9]{2}(\.[0-9A-Z]{1,4})?$")


@dataclass(frozen=True, slots=True)
class NewReferral:
    direction: Direction
    resident_id: int
    team_id: str
    hospital_id: str
    reason: str
    diagnosis_code: str
    priorities: Sequence[Priority] = ()
    diagnosis_text: str | None = None
    department: str | None = None
    urgency: Urgency = Urgency.ROUTINE
    documents: Sequence[dict[str, Any]] = ()
    discharge_summary: str | None = None
    rehabilitation_plan: str | None = None
    prescriptions: Sequence[PrescriptionItem] = field(default_factory=tuple)


def sides(principal: Principal, ref: Referral) -> set[Side]:
    """Which side(s) of the referral the caller acts for (an unbound client: both)."""
    if not principal.bound:
        return {Side.SENDER, Side.RECEIVER}
    sender, receiver = (
        (ref.team_organization_id, ref.hospital_id)
        if ref.direction == "UP"
        else (ref.hospital_id, ref.team_organization_id)
    )
    orgs = set(principal.organization_ids)
    return {s for s, org in ((Side.SENDER, sender), (Side.RECEIVER, receiver)) if org in orgs}


# ---- reads ----------------------------------------------------------------------------------


async def get(session: AsyncSession, principal: Principal, referral_id: int) -> Referral:
    principal.require(Scope.REFERRALS_READ)
    ref = await repository.get_visible(session, principal, referral_id)
    if ref is None:
        raise NotFound(f"No referral {referral_id} visible to this client.", field="id")
    return ref


async def find(session: AsyncSession, principal: Principal, referral_id: int) -> Referral | None:
    """A referral the caller may see, else None (other hospitals' referrals look absent)."""
    principal.require(Scope.REFERRALS_READ)
    return await repository.get_visible(session, principal, referral_id)


async def list_referrals(
    session: AsyncSession,
    principal: Principal,
    flt: repository.ReferralFilter,
    *,
    after: int | None,
    limit: int,
) -> tuple[list[Referral], int, bool]:
    principal.require(Scope.REFERRALS_READ)
    return await repository.page(
        session, repository.filtered(principal, flt), after=after, limit=limit
    )


async def for_residents(
    session: AsyncSession, principal: Principal, resident_ids: Sequence[int]
) -> dict[int, list[Referral]]:
    if not principal.has(Scope.REFERRALS_READ):
        return {i: [] for i in resident_ids}
    return await repository.for_residents(session, principal, resident_ids)


# ---- create ---------------------------------------------------------------------------------


async def create(session: AsyncSession, principal: Principal, new: NewReferral) -> Referral:
    principal.require(Scope.REFERRALS_WRITE)
    _validate(new)
    team = await session.get(Team, new.team_id)
    if team is None:
        raise NotFound(f"No team {new.team_id}.", field="teamId")
    hospital = await capacity.hospital(session, new.hospital_id, "organizationId")
    sender = team.organization_id if new.direction is Direction.UP else hospital.id
    capacity.require_member(
        principal, sender, "fromTeamId" if new.direction is Direction.UP else "fromOrganizationId"
    )
    resident_id = await _resident(session, principal, new.resident_id, team)
    team_org = await session.get(Organization, team.organization_id)
    if new.prescriptions:
        await _check_prescriptions(
            session, list(new.prescriptions), resident_id, team_org, hospital
        )
    ref = Referral(
        direction=new.direction,
        status=ReferralStatus.REQUESTED,
        resident_id=resident_id,
        team_id=team.id,
        team_organization_id=team.organization_id,
        hospital_id=hospital.id,
        department=(new.department or "").strip() or None,
        reason=new.reason.strip(),
        diagnosis_code=new.diagnosis_code,
        diagnosis_text=new.diagnosis_text,
        urgency=new.urgency,
        priorities=[p.value for p in new.priorities],
        documents=list(new.documents),
        resident_signed=await signing.is_signed(session, resident_id),
        discharge_summary=new.discharge_summary,
        rehabilitation_plan=new.rehabilitation_plan,
    )
    session.add(ref)
    await session.flush()
    _add_prescriptions(session, ref.id, new.prescriptions)
    _record(session, principal, ref, None)
    await access.audit(session, principal, "WRITE", "createReferral", [resident_id])
    return ref


def _validate(new: NewReferral) -> None:
    if not new.reason.strip():
        raise DomainError(
            "Say why the resident is referred.", field="reason", code="REASON_REQUIRED"
        )
    if not ICD10.match(new.diagnosis_code):
        raise DomainError(
            f"'{new.diagnosis_code}' is not an ICD-10 code (e.g. I10, E11.9).",
            field="diagnosisCode",
            code="INVALID_DIAGNOSIS_CODE",
        )
    for n, doc in enumerate(new.documents):
        if not str(doc.get("url", "")).startswith(("http://", "https://", "urn:")):
            raise DomainError(
                "A document is referenced by an http(s) URL or a URN.",
                field=f"documents[{n}].url",
                code="INVALID_DOCUMENT_REFERENCE",
            )


async def _resident(
    session: AsyncSession, principal: Principal, resident_id: int, team: Team
) -> int:
    """The resident (followed to the survivor of a merge) the caller may refer.

    Only a resident the access policy lets it see (a hospital: those of referrals to or from
    it, open or recently closed); anyone else is not found, exactly like no one."""
    row = await residents.get(session, resident_id)
    seen: set[int] = set()
    while row is not None and row.merged_into_id and row.id not in seen:
        seen.add(row.id)
        row = await residents.get(session, row.merged_into_id)
    if row is None or not await policy.may_see_resident(session, principal, row.id):
        raise NotFound(f"No resident {resident_id} visible to this client.", field="residentId")
    return row.id


async def _check_prescriptions(
    session: AsyncSession,
    items: list[PrescriptionItem],
    resident_id: int,
    team_org: Organization | None,
    hospital: Organization,
) -> None:
    """Cap by the long-prescription rule where the team continues the prescription."""
    region = (team_org.region_key if team_org else None) or hospital.region_key
    policy = rules.policy_of(region)
    resident = await residents.get(session, resident_id)
    cats = (await residents.categories(session, [resident_id]))[resident_id]
    cats |= golden.derived_categories(resident.birth_date if resident else None)
    rules.check_prescriptions(
        items,
        policy.long_prescription if policy else None,
        start=dt.date.today(),
        categories=cats,
        region=policy.name_en if policy else None,
    )


def _add_prescriptions(
    session: AsyncSession, referral_id: int, items: Sequence[PrescriptionItem]
) -> None:
    today = dt.date.today()
    session.add_all(
        ReferralPrescription(
            referral_id=referral_id,
            drug=i.drug.strip(),
            dose=i.dose.strip(),
            frequency=i.frequency,
            duration_amount=i.duration.amount,
            duration_unit=i.duration.unit.value,
            issued_on=today,
        )
        for i in items
    )


def _record(
    session: AsyncSession,
    principal: Principal,
    ref: Referral,
    previous: str | None,
    note: str | None = None,
    **extra: Any,
) -> None:
    """The transition row and the event, in the caller's transaction."""
    session.add(
        ReferralTransition(
            referral_id=ref.id,
            from_status=previous,
            to_status=ref.status,
            actor=principal.name,
            client_id=principal.client_id,
            note=note,
        )
    )
    emit(
        session,
        f"referral.{str(ref.status).lower()}",
        "Referral",
        ref.id,
        organization_ids=sorted({ref.team_organization_id, ref.hospital_id}),
        direction=str(ref.direction),
        status=str(ref.status),
        previous_status=previous,
        resident_id=ref.resident_id,
        team_id=ref.team_id,
        hospital_id=ref.hospital_id,
        parent_id=ref.parent_id,
        **extra,
    )


# ---- the workflow ---------------------------------------------------------------------------


async def _move(
    session: AsyncSession,
    principal: Principal,
    referral_id: int,
    action: Action,
    *,
    prepare: Any = None,
    **values: Any,
) -> tuple[Referral, str]:
    """Move the referral one step; returns it and the status it left."""
    principal.require(Scope.REFERRALS_WRITE)
    ref = await repository.get_visible(session, principal, referral_id)
    if ref is None:
        raise NotFound(f"No referral {referral_id} visible to this client.", field="id")
    s = step(action, ref.status)
    if principal.resident_ids:
        # 居民取消: through a signing app, a resident withdraws their own referral while it
        # is still pending, and does nothing else to it
        if action is not Action.CANCEL or ref.status != ReferralStatus.REQUESTED:
            raise Forbidden("A resident may only cancel a referral still pending (REQUESTED).",
                            field="id")  # fmt: skip
    elif s.side not in sides(principal, ref):
        who = (
            "the institution the resident goes to"
            if s.side is Side.RECEIVER
            else "the institution that sent the referral"
        )
        raise Forbidden(f"Only {who} can {s.verb} this referral.", field="id")
    if prepare is not None:
        await prepare(ref)
    previous = str(ref.status)
    # only from the status just checked: if it changed meanwhile, this step is refused
    if not await repository.move(session, ref.id, frozenset({previous}), s.to_status, **values):
        raise InvalidTransition(
            "The referral was changed by someone else meanwhile; read it again and retry.",
            field="id",
        )
    moved = await repository.get_visible(session, principal, referral_id)
    assert moved is not None
    return moved, previous


async def receive(session: AsyncSession, principal: Principal, referral_id: int) -> Referral:
    ref, previous = await _move(session, principal, referral_id, Action.RECEIVE)
    _record(session, principal, ref, previous)
    return ref


async def accept(
    session: AsyncSession,
    principal: Principal,
    referral_id: int,
    booking: capacity.BookingRequest | None,
) -> Referral:
    """Accept; an up-referral books a reserved slot or bed in the same transaction."""

    async def prepare(ref: Referral) -> None:
        if ref.direction == "UP" and booking is None:
            raise DomainError(
                "Accepting an up-referral books a reserved expert slot or bed: "
                "give booking { kind date department }.",
                field="booking",
                code="BOOKING_REQUIRED",
            )
        if ref.direction == "DOWN" and booking is not None:
            raise DomainError(
                "A down-referral returns the resident to the team; it books no hospital capacity.",
                field="booking",
                code="BOOKING_NOT_APPLICABLE",
            )

    ref, previous = await _move(session, principal, referral_id, Action.ACCEPT, prepare=prepare)
    extra: dict[str, Any] = {}
    if booking is not None:
        signed = await signing.is_signed(session, ref.resident_id)
        ref.resident_signed = signed
        made = await capacity.book(session, ref, booking, signed=signed)
        extra["booking"] = {
            "kind": made.kind,
            "date": made.date.isoformat(),
            "department": made.department,
        }
    _record(session, principal, ref, previous, **extra)
    return ref


async def reject(
    session: AsyncSession, principal: Principal, referral_id: int, reason: str
) -> Referral:
    if not reason.strip():
        raise DomainError(
            "Say why the referral is rejected.", field="reason", code="REASON_REQUIRED"
        )
    ref, previous = await _move(session, principal, referral_id, Action.REJECT)
    _record(session, principal, ref, previous, note=reason.strip())
    return ref


async def arrive(session: AsyncSession, principal: Principal, referral_id: int) -> Referral:
    ref, previous = await _move(session, principal, referral_id, Action.ARRIVE)
    _record(session, principal, ref, previous)
    return ref


async def cancel(
    session: AsyncSession, principal: Principal, referral_id: int, reason: str | None
) -> Referral:
    ref, previous = await _move(session, principal, referral_id, Action.CANCEL)
    released = await capacity.release(session, ref.id)
    _record(
        session,
        principal,
        ref,
        previous,
        note=(reason or "").strip() or None,
        released_booking=released is not None,
    )
    return ref


@dataclass(frozen=True, slots=True)
class Completion:
    referral: Referral
    down_referral: Referral | None


async def complete(
    session: AsyncSession,
    principal: Principal,
    referral_id: int,
    *,
    summary: str | None,
    rehabilitation_plan: str | None = None,
    prescriptions: Sequence[PrescriptionItem] = (),
) -> Completion:
    """Complete. A hospital completing an up-referral hands the resident back (回转): a
    down-referral to the team opens with the discharge summary, the rehabilitation plan
    and the prescriptions to continue, and shows in the team's work list."""
    items = list(prescriptions)

    async def prepare(ref: Referral) -> None:
        if items:
            team_org = await session.get(Organization, ref.team_organization_id)
            hospital = await session.get(Organization, ref.hospital_id)
            assert hospital is not None
            await _check_prescriptions(session, items, ref.resident_id, team_org, hospital)

    text = (summary or "").strip() or None
    up = await repository.get_visible(session, principal, referral_id)
    values: dict[str, Any] = (
        {"discharge_summary": text, "rehabilitation_plan": rehabilitation_plan}
        if up is not None and up.direction == "UP"
        else {"completion_note": text}
    )
    ref, previous = await _move(
        session, principal, referral_id, Action.COMPLETE, prepare=prepare, **values
    )
    _add_prescriptions(session, ref.id, items)
    _record(session, principal, ref, previous)
    down = None
    if ref.direction == "UP":
        down = Referral(
            direction=Direction.DOWN,
            status=ReferralStatus.REQUESTED,
            resident_id=ref.resident_id,
            team_id=ref.team_id,
            team_organization_id=ref.team_organization_id,
            hospital_id=ref.hospital_id,
            department=ref.department,
            reason=f"Back to the family doctor team after referral {ref.id} (回转)",
            diagnosis_code=ref.diagnosis_code,
            diagnosis_text=ref.diagnosis_text,
            urgency=Urgency.ROUTINE,
            priorities=[],
            documents=[],
            resident_signed=ref.resident_signed,
            parent_id=ref.id,
            discharge_summary=text,
            rehabilitation_plan=rehabilitation_plan,
        )
        session.add(down)
        await session.flush()
        _add_prescriptions(session, down.id, items)
        _record(session, principal, down, None)
    await access.audit(session, principal, "WRITE", "completeReferral", [ref.resident_id])
    return Completion(ref, down)
