"""Put the generated demo districts into a database (`hub demo`).

Demo people are distinct by construction, so they are bulk-inserted rather than linked
one by one; each still becomes a resident with a `demo` source record, identifiers,
categories and matcher blocking keys — exactly what the online path would store.
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Sequence
from typing import Any

from sqlalchemy import Table, func, insert, select, text
from sqlalchemy.ext.asyncio import AsyncConnection

from hub.db import Database, utcnow
from hub.demo.generate import generate
from hub.demo.model import District
from hub.directory.models import Organization, Practitioner, Team, TeamMember
from hub.registry import golden, mpi_index
from hub.registry.models import (
    Household,
    IdentifierSystem,
    Resident,
    ResidentCategory,
    ResidentIdentifier,
    SourceRecord,
)
from hub.registry.records import ResidentRecord

REGIONS = ("panyu", "wenzhou", "jilin", "yongkang", "erqi")
BATCH = 2000


async def load_demo(
    url: str,
    *,
    if_empty: bool = False,
    scale: float = 1.0,
    seed: int = 0,
    regions: Sequence[str] = REGIONS,
) -> str:
    db = Database(url)
    started = time.perf_counter()
    try:
        async with db.engine.begin() as conn:
            residents = await conn.scalar(select(func.count()).select_from(Resident))
            orgs = await conn.scalar(select(func.count()).select_from(Organization))
            if residents or orgs:
                if if_empty:
                    return f"database not empty ({residents} residents): demo data not loaded"
                raise SystemExit("the database already holds data; use an empty database")
            counts = {}
            offsets = {"resident": 0, "household": 0, "source_record": 0}
            for key in regions:
                district = generate(key, seed=seed, scale=scale)
                counts[key] = await _load(conn, district, offsets)
            if conn.dialect.name == "postgresql":
                for table in ("resident", "household", "source_record", "resident_identifier"):
                    await conn.execute(
                        text(
                            f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), "
                            f"(SELECT coalesce(max(id), 0) + 1 FROM {table}), false)"
                        )
                    )
    finally:
        await db.dispose()
    total = sum(counts.values())
    detail = ", ".join(f"{k} {v}" for k, v in counts.items())
    return f"loaded {total} demo residents ({detail}) in {time.perf_counter() - started:.1f}s"


async def _rows(conn: AsyncConnection, table: Table, rows: Iterable[dict[str, Any]]) -> None:
    batch: list[dict[str, Any]] = []
    for row in rows:
        batch.append(row)
        if len(batch) >= BATCH:
            await conn.execute(insert(table), batch)
            batch = []
    if batch:
        await conn.execute(insert(table), batch)


async def _load(conn: AsyncConnection, d: District, offsets: dict[str, int]) -> int:
    now = utcnow()
    await _rows(
        conn,
        Organization.__table__,
        (
            dict(
                id=o.id,
                name=o.name,
                kind=o.kind,
                region_key=d.key,
                region_code=o.region_code,
                parent_id=o.parent_id,
                primary_care=o.primary_care,
                address=o.address,
                phone=o.phone,
                integration="hl7"
                if o.kind in ("SECONDARY_HOSPITAL", "TERTIARY_HOSPITAL")
                else None,
                updated_at=now,
            )
            for o in _parents_first(d.organizations)
        ),
    )
    await _rows(
        conn,
        Practitioner.__table__,
        (
            dict(
                id=p.id,
                name=p.name,
                sex=p.sex,
                role=p.role,
                organization_id=p.organization_id,
                phone=p.phone,
                updated_at=now,
            )
            for p in d.practitioners
        ),
    )
    await _rows(
        conn,
        Team.__table__,
        (
            dict(
                id=t.id,
                name=t.name,
                organization_id=t.organization_id,
                leader_id=t.leader_id,
                grid_area=f"{t.grid.street} {'、'.join(t.grid.communities)}",
                capacity_households=t.capacity_households,
                updated_at=now,
            )
            for t in d.teams
        ),
    )
    await _rows(
        conn,
        TeamMember.__table__,
        (
            dict(team_id=t.id, practitioner_id=m.practitioner_id, role=m.role)
            for t in d.teams
            for m in t.members
        ),
    )

    team_org = {t.id: t.organization_id for t in d.teams}
    rid0, hid0, sid0 = offsets["resident"], offsets["household"], offsets["source_record"]
    household_ids = {h.id: hid0 + i + 1 for i, h in enumerate(d.households)}
    household_of = {m.resident_index: h for h in d.households for m in h.members}
    await _rows(
        conn,
        Household.__table__,
        (
            dict(
                id=household_ids[h.id],
                code=h.id,
                head_resident_id=rid0 + h.head_index + 1,
                address=h.address,
                region_key=d.key,
                created_at=now,
            )
            for h in d.households
        ),
    )

    residents, sources, identifiers, categories, keys = [], [], [], [], []
    for r in d.residents:
        rid, sid = rid0 + r.index + 1, sid0 + r.index + 1
        p = r.person
        household = household_of.get(r.index)
        guardian = d.residents[r.guardian_index].person if r.guardian_index is not None else None
        record = ResidentRecord(
            source="demo",
            source_id=r.id,
            name=p.name,
            sex=p.sex,
            birth_date=p.birth_date,
            id_number=p.id_number,
            phone=p.phone,
            address=p.address,
            insurance_card=p.insurance_card,
            health_record_no=p.health_record_no,
            insurance_type=p.insurance_type,
            address_region=p.region_code,
            categories=[c for c in r.categories if c not in golden.AGE_DERIVED],
            guardian_name=guardian.name if guardian else None,
            guardian_phone=guardian.phone if guardian else None,
            guardian_relation=r.guardian_relation,
            guardian_id_number=guardian.id_number if guardian else None,
        )
        payload = record.payload()
        features = mpi_index.features_of(payload)
        team_id = household.team_id if household else None
        residents.append(
            dict(
                id=rid,
                status="ACTIVE",
                name=p.name,
                sex=p.sex,
                birth_date=p.birth_date,
                id_number=p.id_number,
                id_number_flags=[],
                insurance_card=p.insurance_card,
                health_record_no=p.health_record_no,
                phones=[p.phone] if p.phone else [],
                address_region=p.region_code,
                address_text=p.address,
                insurance_type=p.insurance_type,
                household_id=household_ids.get(r.household_id),
                household_relation=r.relation,
                guardian={
                    k: v
                    for k, v in (
                        ("name", record.guardian_name),
                        ("phone", record.guardian_phone),
                        ("relation", record.guardian_relation),
                    )
                    if v
                }
                or None,
                region_key=d.key,
                team_id=team_id,
                organization_id=team_org.get(team_id or ""),
                provenance={
                    f: sid
                    for f in (
                        "name",
                        "sex",
                        "birth_date",
                        "id_number",
                        "address_text",
                        "insurance_type",
                    )
                },
                created_at=now,
                updated_at=now,
            )
        )
        sources.append(
            dict(
                id=sid,
                source="demo",
                source_id=r.id,
                resident_id=rid,
                payload=payload,
                features=features.to_dict(),
                flags=[],
                link_grade=None,
                link_score=None,
                received_at=now,
                updated_at=now,
            )
        )
        identifiers.append(
            dict(resident_id=rid, system=IdentifierSystem.ID_CARD.value, value=p.id_number)
        )
        if p.insurance_card:
            identifiers.append(
                dict(
                    resident_id=rid,
                    system=IdentifierSystem.INSURANCE_CARD.value,
                    value=p.insurance_card,
                )
            )
        identifiers.append(
            dict(
                resident_id=rid,
                system=IdentifierSystem.HEALTH_RECORD_NO.value,
                value=p.health_record_no,
            )
        )
        identifiers.extend(
            dict(resident_id=rid, system=system, value=value)
            for system, value in golden.lookup_identifiers(residents[-1])
        )
        categories.extend(dict(resident_id=rid, category=c) for c in record.categories)
        keys.extend(dict(key=k, source_record_id=sid) for k in mpi_index.keys_of(features))
    await _rows(conn, Resident.__table__, residents)
    await _rows(conn, SourceRecord.__table__, sources)
    await _rows(conn, ResidentIdentifier.__table__, identifiers)
    await _rows(conn, ResidentCategory.__table__, categories)
    await _rows(conn, mpi_index.BlockingKey.__table__, _unique(keys))
    offsets["resident"] += len(d.residents)
    offsets["source_record"] += len(d.residents)
    offsets["household"] += len(d.households)
    return len(d.residents)


def _unique(rows: list[dict[str, Any]]) -> Iterable[dict[str, Any]]:
    seen = set()
    for row in rows:
        k = (row["key"], row["source_record_id"])
        if k not in seen:
            seen.add(k)
            yield row


def _parents_first(orgs: Sequence[Any]) -> list[Any]:
    done: set[str] = set()
    out: list[Any] = []
    pending = list(orgs)
    while pending:
        rest = []
        for o in pending:
            if o.parent_id is None or o.parent_id in done:
                out.append(o)
                done.add(o.id)
            else:
                rest.append(o)
        if len(rest) == len(pending):  # a parent outside the list: keep going regardless
            out.extend(rest)
            break
        pending = rest
    return out
