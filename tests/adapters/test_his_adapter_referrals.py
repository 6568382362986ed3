"""Referrals to an HL7 hospital: REF^I12 out over MLLP (retried while the hospital is
down), the RRI^I12 answer applied through the referrals service."""

from __future__ import annotations

import asyncio
from typing import Any

from sqlalchemy import select

from adapters.his.settings import HisSettings
from adapters.his.simulator import HospitalServer, referral_rule
from tests.adapters.his_support import adt, id_number, running, scalar


async def directory(hub: Any) -> None:
    from hub.directory.models import Organization, Team

    async with hub.db.transaction() as session:
        if await session.get(Organization, "PYZXYY") is not None:
            return
        session.add_all(
            [
                Organization(
                    id="PYZXYY",
                    name="番禺区中心医院",
                    kind="TERTIARY_HOSPITAL",
                    region_code="440113",
                    integration="hl7",
                ),
                Organization(
                    id="PY-SQ1",
                    name="市桥街社区卫生服务中心",
                    kind="COMMUNITY_HEALTH_CENTER",
                    region_code="440113",
                    primary_care=True,
                ),
            ]
        )
        await session.flush()
        session.add(Team(id="PY-SQ1-T1", name="市桥一队", organization_id="PY-SQ1"))


async def refer(hub: Any, resident_id: int, code: str) -> int:
    from hub.access.principal import system
    from hub.referrals.models import Direction
    from hub.referrals.service import NewReferral, create

    async with hub.db.transaction() as session:
        ref = await create(
            session,
            system("test"),
            NewReferral(
                direction=Direction.UP,
                resident_id=resident_id,
                team_id="PY-SQ1-T1",
                hospital_id="PYZXYY",
                reason="血压控制不佳",
                diagnosis_code=code,
                department="心血管内科",
            ),
        )
        return int(ref.id)


async def referral_status(hub: Any, referral_id: int) -> str:
    from hub.referrals.models import Referral

    async with hub.db.reader() as session:
        return str(await session.scalar(select(Referral.status).where(Referral.id == referral_id)))


async def test_ref_i12_to_a_hospital_that_was_down_then_rri_applied(hub: Any) -> None:
    await directory(hub)
    hospital = HospitalServer(
        hospital_id="PYZXYY",
        rule=referral_rule("PYZXYY", reject_codes=["I10"]),
    )
    await hospital.start()
    settings = HisSettings(
        hospitals={"PYZXYY": f"127.0.0.1:{hospital.port}"},
        backoff_base=0.1,
        backoff_cap=0.3,
        send_timeout=2.0,
    )
    try:
        async with running(hub, settings) as his:
            from adapters.his.mllp import MllpClient

            async with MllpClient("127.0.0.1", his.port) as client:
                await client.send(adt("A04", "R-1", "MRREF1", id_number(801)))
            resident = await scalar(
                hub, "select resident_id from source_record where source_id='MRREF1'"
            )
            await hospital.go_down(3.0)  # refuses connections for 3 s, then is back
            rejected = await refer(hub, resident, "I10")  # the rule rejects I10
            accepted = await refer(hub, resident, "I25.1")
            for _ in range(300):
                done = {await referral_status(hub, r) for r in (rejected, accepted)}
                if "REQUESTED" not in done:
                    break
                await asyncio.sleep(0.05)
    finally:
        await hospital.stop()
    assert await referral_status(hub, rejected) == "REJECTED"
    # Accepted by the hospital; no reserved capacity was published, so the booking waits
    # for a person: the referral is RECEIVED, the answer recorded.
    assert await referral_status(hub, accepted) in ("RECEIVED", "ACCEPTED")
    assert {r.patient.mr_id for r in hospital.received} == {"MRREF1"}
    assert sorted(r.referral_id for r in hospital.received) == sorted(
        {str(rejected), str(accepted)}
    )  # each delivered once, although the first attempts found the hospital down
    attempts = await scalar(hub, "select max(attempts) from adapter_outbound")
    assert attempts >= 2
    assert await scalar(hub, "select count(*) from adapter_outbound where status='APPLIED'") == 2
