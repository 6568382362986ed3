"""Referrals to hospitals that speak HL7 (organization.integration == "hl7").

The push side follows the outbox: a `referral.requested` event of an up-referral to such a
hospital becomes a REF^I12 in the outbound queue (same transaction as the checkpoint);
the sender delivers it over MLLP to the hospital's endpoint (HUB_HIS_HOSPITALS) with
retries, and the hospital's RRI^I12 answer — on the same connection, or later as its own
message to the hub's listener — accepts or rejects the referral through the referrals
service. An ACK instead of an RRI means "received, answer to follow".
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from adapters.his import translate
from adapters.his.mllp import MllpClient, MllpError
from adapters.his.referral import (
    Facility,
    Referral,
    ReferralPatient,
    ReferralPriority,
    build_referral,
)
from adapters.his.settings import HisSettings
from adapters.his.wire import CST, HL7Error, new_control_id
from adapters.runtime.types import Applied, Outcome, Problem, Reject, RetriableError
from hub.access.principal import Principal, system
from hub.errors import DomainError

_PRIORITY = {
    "ROUTINE": ReferralPriority.ROUTINE,
    "URGENT": ReferralPriority.ASAP,
    "EMERGENCY": ReferralPriority.STAT,
}


class ReferralPusher:
    name = "his"
    event_types: tuple[str, ...] = ("referral.requested",)

    def __init__(self, settings: HisSettings, default_encoding: str = "utf-8") -> None:
        self.settings, self.encoding = settings, default_encoding
        self.principal = system("adapter:his")

    async def prepare(self, session: AsyncSession, event: Any) -> list[tuple[str, str, bytes]]:
        from hub.directory.models import Organization
        from hub.referrals.models import Referral as Row
        from hub.registry.models import Resident, SourceRecord

        ref = await session.get(Row, int(event.aggregate_id))
        if ref is None or ref.direction != "UP":
            return []
        hospital = await session.get(Organization, ref.hospital_id)
        if hospital is None or (hospital.integration or "").lower() != "hl7":
            return []
        team_org = await session.get(Organization, ref.team_organization_id)
        resident = await session.get(Resident, ref.resident_id)
        if resident is None:
            return []
        from sqlalchemy import select

        mr = await session.scalar(
            select(SourceRecord.source_id).where(
                SourceRecord.resident_id == resident.id, SourceRecord.source == "his"
            )
        )
        message = Referral(
            referral_id=str(ref.id),
            patient=ReferralPatient(
                resident_id=str(resident.id),
                name=resident.name or "",
                mr_id=mr,
                id_number=resident.id_number,
                birth_date=resident.birth_date,
                sex=resident.sex,
                phone=resident.phones[0] if resident.phones else None,
                address=resident.address_text,
            ),
            referring=Facility(ref.team_organization_id, team_org.name if team_org else ""),
            target=Facility(hospital.id, hospital.name),
            reason=ref.reason,
            diagnosis_code=ref.diagnosis_code,
            diagnosis_text=ref.diagnosis_text or "",
            priority=_PRIORITY.get(str(ref.urgency), ReferralPriority.ROUTINE),
            target_department=ref.department or "",
            created=ref.created_at.astimezone(CST),
        )
        control_id = new_control_id("REF")
        return [(hospital.id, control_id, build_referral(message, control_id=control_id))]

    async def send(self, destination: str, payload: bytes) -> bytes:
        endpoint = self.settings.hospitals.get(destination)
        if not endpoint:
            raise RetriableError(
                "NO_ENDPOINT", f"no MLLP endpoint configured for {destination} (HUB_HIS_HOSPITALS)"
            )
        host, _, port = endpoint.rpartition(":")
        try:
            async with MllpClient(host, int(port), timeout=self.settings.send_timeout) as client:
                return await client.send(payload)
        except MllpError as err:
            raise RetriableError(type(err).__name__.upper(), str(err)) from err

    async def settle(self, session: AsyncSession, outbound: Any, reply: bytes) -> None:
        try:
            body = translate.parse(reply, default_encoding=self.encoding)
        except HL7Error:
            ack = translate.parse_ack(reply, default_encoding=self.encoding)
            if ack.code not in ("AA", "CA"):
                outbound.error_code = (ack.error_codes or ("REFUSED",))[0][:60]
                outbound.error_text = ack.text[:500] or f"the hospital answered {ack.code}"
            return
        if isinstance(body, translate.ReferralReply):
            outcome = await apply_reply(session, self.principal, body)
            if isinstance(outcome, Reject):
                outbound.error_code = outcome.problem.code[:60]
                outbound.error_text = outcome.problem.text[:500]


async def apply_reply(
    session: AsyncSession, principal: Principal, reply: translate.ReferralReply
) -> Outcome:
    """RRI^I12: accept (booking the reserved expert slot when the hospital published one)
    or reject the referral. A repeated answer changes nothing."""
    from hub.referrals import service as referrals
    from hub.referrals.capacity import BookingRequest
    from hub.referrals.models import BookingKind, ReferralStatus

    try:
        referral_id = int(reply.referral_id)
    except ValueError:
        return Reject(
            Problem(
                "UNKNOWN_REFERRAL",
                f"RF1-6 {reply.referral_id!r} is not a hub referral id",
                "AE",
                "RF1-6",
            )
        )
    ref = await referrals.find(session, principal, referral_id)
    if ref is None:
        return Reject(Problem("UNKNOWN_REFERRAL", f"no referral {referral_id}", "AE", "RF1-6"))
    if reply.accepted is None:
        return Applied({"referral_id": referral_id, "status": str(ref.status), "pending": True})
    if ref.status not in (ReferralStatus.REQUESTED, ReferralStatus.RECEIVED):
        return Applied({"referral_id": referral_id, "status": str(ref.status), "repeat": True})
    if ref.status == ReferralStatus.REQUESTED:
        ref = await referrals.receive(session, principal, referral_id)
    result: dict[str, Any] = {"referral_id": referral_id}
    if not reply.accepted:
        ref = await referrals.reject(
            session, principal, referral_id, reply.reason or "rejected by the hospital (RRI^I12)"
        )
    else:
        day = (reply.event_time or dt.datetime.now(CST)).astimezone(CST).date()
        try:
            async with session.begin_nested():
                ref = await referrals.accept(
                    session,
                    principal,
                    referral_id,
                    BookingRequest(BookingKind.EXPERT_SLOT, day, ref.department),
                )
        except DomainError as err:
            # Accepted by the hospital, but no reserved slot to book: a person finishes it.
            result["booking_error"] = err.code
            ref = await referrals.find(session, principal, referral_id) or ref
    result["status"] = str(ref.status)
    return Applied(result)
