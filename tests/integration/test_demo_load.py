"""`hub demo` into real databases: counts, consistency, and the registry finds demo people."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from sqlalchemy import func, select

from hub.access.principal import system
from hub.demo.load import load_demo
from hub.registry.linking import LinkOutcome
from hub.registry.models import Household, Resident, ResidentIdentifier, SourceRecord
from hub.registry.records import ResidentRecord


@pytest.fixture(scope="module")
def loaded(db_url: str) -> str:
    message = asyncio.run(load_demo(db_url, scale=0.02, regions=("erqi", "yongkang")))
    assert message.startswith("loaded")
    again = asyncio.run(load_demo(db_url, if_empty=True))
    assert "not empty" in again  # --if-empty never loads twice
    return db_url


async def test_every_resident_has_a_household_identifiers_and_a_source(
    hub: Any, loaded: str
) -> None:
    async with hub.db.reader() as s:
        residents = await s.scalar(select(func.count()).select_from(Resident))
        sources = await s.scalar(select(func.count()).select_from(SourceRecord))
        without_household = await s.scalar(
            select(func.count()).select_from(Resident).where(Resident.household_id.is_(None))
        )
        heads = await s.scalar(
            select(func.count())
            .select_from(Household)
            .where(Household.head_resident_id.is_not(None))
        )
        households = await s.scalar(select(func.count()).select_from(Household))
        ids = await s.scalar(
            select(func.count())
            .select_from(ResidentIdentifier)
            .where(ResidentIdentifier.system == "ID_CARD")
        )
    assert residents and residents == sources == ids
    assert without_household == 0 and heads == households


async def test_a_demo_person_sent_again_links_to_the_same_resident(hub: Any, loaded: str) -> None:
    async with hub.db.reader() as s:
        r = await s.scalar(select(Resident).where(Resident.region_key == "erqi").limit(1))
    assert r is not None
    record = ResidentRecord(
        source="his",
        source_id="H-DEMO-1",
        name=r.name,
        sex=r.sex,
        birth_date=r.birth_date,
        id_number=r.id_number,
    )
    async with hub.db.transaction() as s:
        result = await hub.registry.submit(s, system("test"), record, strict=False)
    assert result.outcome is LinkOutcome.LINKED and result.resident.id == r.id
    async with hub.db.reader() as s:
        assert (
            await s.scalar(
                select(func.count())
                .select_from(SourceRecord)
                .where(SourceRecord.resident_id == r.id)
            )
            == 2
        )
