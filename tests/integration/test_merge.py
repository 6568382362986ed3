"""Merge and unmerge on both engines: records move, the merged resident stays readable and
points on, dependent rows follow, separations stick, events and audit are written."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from sqlalchemy import func, select

from hub.access.models import AuditEvent
from hub.access.principal import Principal, system
from hub.errors import DomainError, MissingScope
from hub.events.models import Event
from hub.registry.merge import merge, unmerge_record
from hub.registry.models import LinkSeparation, Resident, ResidentStatus, SourceRecord
from hub.registry.records import ResidentRecord

ADMIN = system("test-merge")


async def _submit(hub: Any, source: str, source_id: str, **kw: Any) -> int:
    record = ResidentRecord(source=source, source_id=source_id, **kw)
    async with hub.db.transaction() as s:
        result = await hub.registry.submit(s, ADMIN, record, strict=False)
        return result.resident.id


async def test_merge_then_unmerge_round_trip(hub: Any) -> None:
    a = await _submit(
        hub,
        "his",
        "M-1",
        name="王秀英",
        sex="2",
        birth_date=dt.date(1960, 3, 1),
        phone="13800000001",
    )
    b = await _submit(
        hub,
        "maternal",
        "M-2",
        name="王秀英",
        sex="2",
        birth_date=dt.date(1960, 3, 1),
        id_number="110105196003010029",
    )
    async with hub.db.transaction() as s:
        survivor = await merge(s, ADMIN, survivor_id=a, merged_id=b, reason="same person")
        assert survivor.id == a
    async with hub.db.reader() as s:
        merged = await s.get(Resident, b)
        kept = await s.get(Resident, a)
        assert merged is not None and kept is not None
        assert merged.status == ResidentStatus.MERGED and merged.merged_into_id == a
        assert kept.id_number == "110105196003010029" and kept.phones
        n = await s.scalar(
            select(func.count()).select_from(SourceRecord).where(SourceRecord.resident_id == a)
        )
        assert n == 2
        types = set(await s.scalars(select(Event.type).where(Event.aggregate_id == str(a))))
        assert "resident.merged" in types
        ops = set(await s.scalars(select(AuditEvent.operation)))
        assert "mergeResidents" in ops
    async with hub.db.transaction() as s:
        back = await unmerge_record(s, ADMIN, source="maternal", source_id="M-2", reason="twins")
        assert back.id == b  # its former resident, reactivated
    async with hub.db.reader() as s:
        former = await s.get(Resident, b)
        kept = await s.get(Resident, a)
        assert former is not None and kept is not None
        assert former.status == ResidentStatus.ACTIVE and former.merged_into_id is None
        assert former.id_number == "110105196003010029" and kept.id_number is None
        seps = set(await s.execute(select(LinkSeparation.record_key, LinkSeparation.resident_id)))
        assert ("maternal:M-2", a) in seps and ("his:M-1", b) in seps


async def test_merge_rules(hub: Any) -> None:
    a = await _submit(hub, "his", "R-1", name="李四", sex="1")
    b = await _submit(hub, "his", "R-2", name="张三", sex="1")
    reader = Principal(name="r", scopes=frozenset({"residents:read"}))
    async with hub.db.transaction() as s:
        with pytest.raises(MissingScope):
            await merge(s, reader, survivor_id=a, merged_id=b, reason="x")
        with pytest.raises(DomainError):
            await merge(s, ADMIN, survivor_id=a, merged_id=a, reason="x")
        with pytest.raises(DomainError):
            await merge(s, ADMIN, survivor_id=a, merged_id=b, reason=" ")
        with pytest.raises(DomainError):  # nothing to separate from
            await unmerge_record(s, ADMIN, source="his", source_id="R-1", reason="x")
    async with hub.db.transaction() as s:
        await merge(s, ADMIN, survivor_id=a, merged_id=b, reason="dup")
    async with hub.db.transaction() as s:
        with pytest.raises(DomainError):
            await merge(s, ADMIN, survivor_id=a, merged_id=b, reason="again")
    async with hub.db.transaction() as s:  # a record that never had a resident of its own
        new = await unmerge_record(s, ADMIN, source="his", source_id="R-1", reason="wrong")
        assert new.id not in (a, b)


async def test_dependent_rows_follow_the_survivor(hub: Any) -> None:
    from hub.contracts.models import Contract
    from hub.directory.models import Organization, Team
    from hub.records.models import Encounter

    async with hub.db.transaction() as s:
        s.add(Organization(id="DEP-ORG", name="市桥街社区卫生服务中心", kind="COMMUNITY_HEALTH_CENTER",
                           region_code="440113", primary_care=True))  # fmt: skip
        await s.flush()
        s.add(Team(id="DEP-TEAM", name="第1团队", organization_id="DEP-ORG"))
    a = await _submit(hub, "his", "DEP-1", name="黄小明", sex="1", birth_date=dt.date(1990, 1, 1))
    b = await _submit(
        hub, "vendor", "DEP-2", name="张大伟", sex="1", birth_date=dt.date(1991, 2, 2)
    )
    async with hub.db.transaction() as s:
        team = await s.get(Team, "DEP-TEAM")
        assert team is not None
        day = dt.date(2026, 1, 1)
        for n, rid in enumerate((a, b)):  # both have an ACTIVE contract: only one may move
            s.add(Contract(number=f"DEP-C{n}", resident_id=rid, team_id=team.id,
                           organization_id=team.organization_id, region_key="panyu",
                           status="ACTIVE", signed_on=day, starts_on=day,
                           ends_on=dt.date(2026, 12, 31)))  # fmt: skip
        s.add(Encounter(resident_id=b, source="his", origin="DEP-E1"))
    async with hub.db.transaction() as s:
        await merge(s, ADMIN, survivor_id=a, merged_id=b, reason="same person")
    async with hub.db.reader() as s:
        enc = await s.scalar(select(Encounter).where(Encounter.origin == "DEP-E1"))
        contracts = {c.number: c.resident_id for c in await s.scalars(
            select(Contract).where(Contract.number.in_(["DEP-C0", "DEP-C1"])))}  # fmt: skip
    assert enc is not None and enc.resident_id == a
    assert contracts == {"DEP-C0": a, "DEP-C1": b}  # the second active contract stays
    async with hub.db.transaction() as s:
        back = await unmerge_record(s, ADMIN, source="vendor", source_id="DEP-2", reason="no")
    async with hub.db.reader() as s:
        enc = await s.scalar(select(Encounter).where(Encounter.origin == "DEP-E1"))
    assert back.id == b and enc is not None and enc.resident_id == b  # moved back with it


async def test_an_explicit_merge_may_join_two_id_numbers(hub: Any) -> None:
    """The matcher never joins two valid ID numbers; a person (or a hospital's A40) who
    says they are one patient, one of them mistyped, may."""
    from hub.registry.idnumber import make

    born = dt.date(1977, 7, 7)
    a = await _submit(hub, "his", "IDS-1", name="吴刚", sex="1", birth_date=born,
                      id_number=make("440113", born, 15))  # fmt: skip
    b = await _submit(hub, "vendor", "IDS-2", name="吴刚", sex="1", birth_date=born,
                      id_number=make("440113", born, 17))  # fmt: skip
    assert a != b  # never automatically
    async with hub.db.transaction() as s:
        survivor = await merge(s, ADMIN, survivor_id=a, merged_id=b, reason="typo in IDS-2")
    assert survivor.id == a
