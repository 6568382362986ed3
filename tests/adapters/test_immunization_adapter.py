"""The immunization adapter against its simulator (a separate process, every fault on),
through the real runtime and database (SQLite and PostgreSQL): every valid subject applied
once, every malformed one and every unsafe page dead-lettered with its code, the raw bytes
kept; a child known by birth certificate is the same resident; a second run applies
nothing; overdue doses emit `immunization.overdue` once."""

from __future__ import annotations

import asyncio
import datetime as dt
import xml.etree.ElementTree as ET
from collections import Counter
from collections.abc import Iterator
from typing import Any

import pytest
from sqlalchemy import func, select

from adapters.immunization import translate
from adapters.immunization.adapter import ImmunizationRunner
from adapters.runtime.models import InboundMessage
from hub.access.principal import system
from hub.events.models import Event
from hub.immunization.models import OverdueMarker, VaccinationEvent, VaccinationSubject
from hub.registry.records import ResidentRecord
from tests.adapters import immunization_support as S
from tests.e2e.contract_support import run

TODAY = dt.date.today()


@pytest.fixture(scope="module")
def sim() -> Iterator[str]:
    with S.simulator("--children", "60", "--seed", "5", "--faults", "all",
                     "--today", TODAY.isoformat()) as url:  # fmt: skip
        yield url


def _first_child(url: str) -> ET.Element:
    with S.client(url) as c:
        for _ in range(20):  # faults may answer first
            r = c.get("/changes", params={"limit": "5"})
            if r.status_code == 200 and b"<!DOCTYPE" not in r.content:
                break
    root = translate.parse_document(r.content)
    child = root.find("Subject/Child")
    assert child is not None
    return child


async def _until_idle(db_url: str, url: str) -> dict[str, Any]:
    from hub.core import build_hub

    hub = build_hub(database_url=db_url)
    runner = ImmunizationRunner(hub, S.fast_settings(url))
    try:
        return await runner.until_idle()
    finally:
        await runner.stop()
        await hub.db.dispose()


@pytest.fixture(scope="module")
def pulled(db_url: str, sim: str) -> dict[str, Any]:
    child = _first_child(sim)

    async def known_by_birth_certificate(session: Any) -> int:
        from hub.core import build_hub

        hub = build_hub(database_url=db_url)
        result = await hub.registry.submit(
            session, system("test:maternal"),
            ResidentRecord(source="maternal", source_id="birth:" + child.get("birthCertificateNo", ""),
                           name=child.get("name"), sex=child.get("sex"),
                           birth_date=dt.date.fromisoformat(child.get("birthDate", "")),
                           birth_certificate_no=child.get("birthCertificateNo")),
            strict=False,
        )  # fmt: skip
        await hub.db.dispose()
        return result.resident.id

    newborn = run(db_url, known_by_birth_certificate, write=True)
    first = asyncio.run(_until_idle(db_url, sim))
    second = asyncio.run(_until_idle(db_url, sim))
    return {"first": first, "second": second, "newborn": newborn,
            "certificate": child.get("birthCertificateNo")}  # fmt: skip


def _inbound(db_url: str) -> list[InboundMessage]:
    async def q(s: Any) -> list[InboundMessage]:
        rows = await s.scalars(
            select(InboundMessage).where(InboundMessage.adapter == "immunization")
        )
        return list(rows)

    return run(db_url, q)


def test_every_valid_subject_is_applied_once_and_every_bad_one_dead_lettered(db_url, sim, pulled):
    held = S.stats(sim)
    rows = _inbound(db_url)
    by_status = Counter(r.status for r in rows)
    assert by_status["APPLIED"] == held["valid"]
    rejected = [r for r in rows if r.status == "REJECTED"]
    assert len(rejected) == held["malformed"] + held["fault_documents"]
    codes = Counter(r.error_code for r in rejected)
    assert (
        codes["FORBIDDEN_XML"]
        == held["fault_documents_by_kind"]["bomb"] + held["fault_documents_by_kind"]["xxe"]
    )
    assert codes["BAD_XML"] == held["fault_documents_by_kind"]["xml"]
    assert all(r.payload for r in rejected)  # the raw bytes are kept
    bombs = [r for r in rejected if b"lol9" in r.payload]
    assert bombs and all(len(r.payload) < 4096 for r in bombs)  # stored as sent, never expanded
    applied_ids = [r.control_id for r in rows if r.status == "APPLIED"]
    assert len(applied_ids) == len(set(applied_ids))  # 0 applied twice
    assert pulled["second"]["pulled"] <= 1 and pulled["second"]["refused_pages"] == 0


def test_doses_children_and_guardians_are_stored(db_url, sim, pulled):
    held = S.stats(sim)

    async def q(s: Any) -> tuple[int, int, int]:
        doses = await s.scalar(select(func.count()).select_from(VaccinationEvent))
        subjects = await s.scalar(select(func.count()).select_from(VaccinationSubject))
        guardians = await s.scalar(
            select(func.count()).select_from(VaccinationSubject)
            .where(VaccinationSubject.guardian_resident_id.is_not(None))
        )  # fmt: skip
        return doses, subjects, guardians

    doses, subjects, guardians = run(db_url, q)
    assert doses == held["vaccinations"]
    assert subjects == held["children"] == guardians


def test_a_child_known_by_birth_certificate_is_the_same_resident(db_url, pulled):
    async def q(s: Any) -> list[int]:
        from hub.registry.models import IdentifierSystem, ResidentIdentifier

        rows = await s.scalars(
            select(ResidentIdentifier.resident_id).where(
                ResidentIdentifier.system == IdentifierSystem.BIRTH_CERTIFICATE_NO,
                ResidentIdentifier.value == pulled["certificate"],
            )
        )
        return list(set(rows))

    assert run(db_url, q) == [pulled["newborn"]]

    async def subject(s: Any) -> int | None:
        return await s.scalar(
            select(VaccinationSubject.resident_id).where(
                VaccinationSubject.resident_id == pulled["newborn"]
            )
        )

    assert run(db_url, subject) == pulled["newborn"]


def test_overdue_doses_emit_one_event_each_and_a_recompute_adds_none(db_url, pulled):
    from hub.immunization.service import recompute

    async def counts(s: Any) -> tuple[int, int]:
        markers = await s.scalar(select(func.count()).select_from(OverdueMarker))
        events = await s.scalar(
            select(func.count()).select_from(Event).where(Event.type == "immunization.overdue")
        )
        return markers, events

    markers, events = run(db_url, counts)
    assert markers > 0 and markers == events
    again = run(db_url, lambda s: recompute(s, TODAY), write=True)
    assert again["overdue_events"] == 0
    assert run(db_url, counts) == (markers, events)
