"""Signing status back to the maternal-child system (签约状态回传).

A `contract.signed` / `.team_changed` / `.terminated` event of a resident the maternal
system knows (a pregnancy's mother, or a child with a birth certificate) becomes one
outbound message (same transaction as the events checkpoint); the sender POSTs it with
the event's idempotency key, retried with backoff and dead-lettered after the limit
(`hub adapters replay` is for inbound; outbound dead letters show in `adapters status`).
Only what the receiver needs: handbook/certificate number, contract number, team,
doctor and dates — no name, no ID number, no phone.
"""

from __future__ import annotations

import json
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from adapters.maternal.client import MaternalClient, SourceError
from adapters.runtime.types import RetriableError

STATUS = {
    "contract.signed": "SIGNED",
    "contract.team_changed": "TEAM_CHANGED",
    "contract.terminated": "TERMINATED",
}


class SigningStatusPusher:
    name = "maternal"
    event_types: tuple[str, ...] = tuple(STATUS)

    def __init__(self, client: MaternalClient | None) -> None:
        self.client = client

    async def prepare(self, session: AsyncSession, event: Any) -> list[tuple[str, str, bytes]]:
        from hub.contracts.models import Contract
        from hub.directory.models import Practitioner, Team
        from hub.maternal.models import Birth, Pregnancy

        status = STATUS.get(event.type)
        contract = await session.get(Contract, int(event.aggregate_id)) if status else None
        if contract is None:
            return []
        handbook = await session.scalar(
            select(Pregnancy.handbook_no)
            .where(Pregnancy.resident_id == contract.resident_id, Pregnancy.deleted.is_(False))
            .order_by(Pregnancy.lmp.desc())
            .limit(1)
        )
        certificate = None
        if handbook is None:
            row = (
                await session.execute(
                    select(Birth.certificate_no, Pregnancy.handbook_no)
                    .join(Pregnancy, Pregnancy.id == Birth.pregnancy_id)
                    .where(Birth.child_resident_id == contract.resident_id)
                )
            ).first()
            if row is None:
                return []  # not a resident the maternal-child system knows
            certificate, handbook = row
        team = await session.get(Team, contract.team_id)
        doctor = (
            await session.get(Practitioner, team.leader_id) if team and team.leader_id else None
        )
        body = {
            "event_id": event.id,
            "status": status,
            "contract_no": contract.number,
            "handbook_no": handbook,
            "certificate_no": certificate,
            "subject": "CHILD" if certificate else "MOTHER",
            "organization_id": contract.organization_id,
            "team_id": contract.team_id,
            "team_name": team.name if team else None,
            "doctor_id": doctor.id if doctor else None,
            "doctor_name": doctor.name if doctor else None,
            "signed_on": contract.signed_on.isoformat(),
            "starts_on": contract.starts_on.isoformat(),
            "ends_on": contract.ends_on.isoformat(),
            "ended_on": contract.ended_on.isoformat() if contract.ended_on else None,
        }
        payload = json.dumps(body, ensure_ascii=False, sort_keys=True).encode()
        return [("maternal", f"hub-signing-{event.id}", payload)]

    async def send(self, destination: str, payload: bytes) -> bytes:
        if self.client is None:
            raise RetriableError("NO_ENDPOINT", "HUB_MATERNAL_URL is not set")
        key = f"hub-signing-{json.loads(payload)['event_id']}"
        r = await self.client.push_signing_status(key, payload)
        if r.status_code >= 400:  # a 4xx will not get better by itself: counts as failed
            raise SourceError(f"HTTP_{r.status_code}", r.text[:200])
        return r.content

    async def settle(self, session: AsyncSession, outbound: Any, reply: bytes) -> None:
        return None
