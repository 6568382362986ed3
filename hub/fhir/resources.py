"""Rows -> FHIR resources, in batches, through `mappings/` (one query per kind of child row,
never one per resource). Resources a mapping contains (a Contract's EpisodeOfCare, a
referral's Task and Appointment, a Practitioner's PractitionerRole) are also served as
resources of their own, with their `#` references pointed at the container."""

from __future__ import annotations

import copy
import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from hub.access import policy
from hub.access.principal import Principal
from hub.appointments.models import AppointmentSlot, ClinicSession
from hub.contracts import catalog
from hub.contracts import repository as contracts
from hub.directory import service as directory
from hub.directory.models import Team
from hub.maternal.models import ChildExam, MaternalVisit
from hub.referrals import repository as referrals
from hub.referrals.models import Capacity
from hub.registry import golden
from hub.registry import repository as registry
from mappings import appointments as fhir_appointments
from mappings import contract as fhir_contract
from mappings import directory as fhir_directory
from mappings import infrastructure
from mappings.immunization import fhir as fhir_immunization
from mappings.maternal import fhir as fhir_maternal
from mappings.patient import patient
from mappings.referral import service_request

Resource = dict[str, Any]


@dataclass(slots=True)
class BuildContext:
    session: AsyncSession
    principal: Principal
    mask: bool


async def patients(ctx: BuildContext, rows: Sequence[Any]) -> list[Resource]:
    ids = [r.id for r in rows]
    cats = await registry.categories(ctx.session, ids)
    replaces = await registry.merged_into(ctx.session, ids)
    active = await contracts.active_contracts(ctx.session, ids)
    teams = await directory.get_many(
        ctx.session, Team, sorted({c.team_id for c in active.values()})
    )
    out = []
    for r in rows:
        gp: list[str] = []
        if (c := active.get(r.id)) is not None:
            team = teams.get(c.team_id)
            if team is not None and team.leader_id:
                gp.append(f"Practitioner/{team.leader_id}")
            gp.append(f"Organization/{c.organization_id}")
        out.append(patient(
            r, categories=cats.get(r.id, set()) | golden.derived_categories(r.birth_date),
            mask=ctx.mask, merged_into=r.merged_into_id, replaces=replaces.get(r.id, ()),
            general_practitioner=gp,
        ))  # fmt: skip
    return out


async def organizations(ctx: BuildContext, rows: Sequence[Any]) -> list[Resource]:
    return [fhir_directory.organization(o) for o in rows]


async def practitioners(ctx: BuildContext, rows: Sequence[Any]) -> list[Resource]:
    return [fhir_directory.practitioner(p) for p in rows]


async def practitioner_roles(ctx: BuildContext, rows: Sequence[Any]) -> list[Resource]:
    out = []
    for p in rows:
        role = copy.deepcopy(fhir_directory.practitioner(p)["contained"][0])
        role["id"] = p.id
        out.append(role)
    return out


async def care_teams(ctx: BuildContext, rows: Sequence[Any]) -> list[Resource]:
    members = await directory.team_members(ctx.session, [t.id for t in rows])
    # sorted: the members' order must not depend on the engine's row order
    return [
        fhir_directory.care_team(t, sorted(members[t.id], key=lambda m: m.practitioner_id))
        for t in rows
    ]


async def households(ctx: BuildContext, rows: Sequence[Any]) -> list[Resource]:
    """A Group lists only the members this client may see."""
    out = []
    for h in rows:
        members = await registry.household_members(ctx.session, h.id)
        seen = await policy.visible_resident_ids(
            ctx.session, ctx.principal, [m.id for m in members]
        )
        shown = [m for m in members if m.id in seen]
        head = h.head_resident_id if h.head_resident_id in seen else None
        out.append(infrastructure.household_group(h.id, shown, head))
    return out


async def contract_resources(ctx: BuildContext, rows: Sequence[Any]) -> list[Resource]:
    packages = await contracts.packages(ctx.session, [c.id for c in rows])
    out = []
    for c in rows:
        try:
            names = {p.code: p.name_zh for p in catalog.policy(c.region_key).packages}
        except Exception:  # noqa: BLE001 - a region without a policy file shows codes only
            names = {}
        out.append(fhir_contract.contract(c, packages[c.id], names))
    return out


async def episodes(ctx: BuildContext, rows: Sequence[Any]) -> list[Resource]:
    out = []
    for c in rows:
        e = fhir_contract.episode_of_care(c)
        e["id"] = f"enrolment-{c.id}"
        out.append(e)
    return out


async def _referral_parts(ctx: BuildContext, ids: list[int]) -> tuple[Any, Any, Any]:
    return (
        await referrals.transitions(ctx.session, ids),
        await referrals.bookings(ctx.session, ids),
        await referrals.prescriptions(ctx.session, ids),
    )


def _point_at(resource: Resource, container: str) -> Resource:
    """A contained resource served on its own: `#` references name its container."""
    for key in ("basedOn", "focus"):
        value = resource.get(key)
        refs = value if isinstance(value, list) else [value] if value else []
        for ref in refs:
            if ref.get("reference") == "#":
                ref["reference"] = container
    return resource


async def service_requests(ctx: BuildContext, rows: Sequence[Any]) -> list[Resource]:
    ids = [r.id for r in rows]
    trans, books, rx = await _referral_parts(ctx, ids)
    return [
        service_request(r, transitions=trans[r.id], booking=books.get(r.id), prescriptions=rx[r.id])
        for r in rows
    ]


async def tasks(ctx: BuildContext, rows: Sequence[Any]) -> list[Resource]:
    out = []
    for sr in await service_requests(ctx, rows):
        t = next(c for c in sr["contained"] if c["resourceType"] == "Task")
        t["id"] = sr["id"]
        out.append(_point_at(t, f"ServiceRequest/{sr['id']}"))
    return out


async def appointments(ctx: BuildContext, rows: Sequence[Any]) -> list[Resource]:
    """`rows` are bookings; the Appointment is built from its referral."""
    refs = await referrals.get_many(ctx.session, sorted({b.referral_id for b in rows}))
    out = []
    for b in rows:
        ref = refs[b.referral_id]
        a = next(
            c for c in service_request(ref, booking=b)["contained"]
            if c["resourceType"] == "Appointment"
        )  # fmt: skip
        a["id"] = f"booking-{b.id}"
        out.append(_point_at(a, f"ServiceRequest/referral-{ref.id}"))
    return out


async def _by_part(ctx: BuildContext, rows: Sequence[Any], tables: dict[int, Any]
                   ) -> dict[tuple[int, int], Any]:  # fmt: skip
    """The rows of a union type's parts: (part, row id) -> the table's row."""
    out: dict[tuple[int, int], Any] = {}
    for n, table in tables.items():
        ids = sorted({r.row_key for r in rows if r.part == n})
        if ids:
            found = await ctx.session.scalars(select(table).where(table.id.in_(ids)))
            out.update({(n, row.id): row for row in found})
    return out


async def schedules(ctx: BuildContext, rows: Sequence[Any]) -> list[Resource]:
    """Capacity rows (part 1) and clinic sessions (part 2, with their slots' span)."""
    found = await _by_part(ctx, rows, {1: Capacity, 2: ClinicSession})
    sessions = [r.row_key for r in rows if r.part == 2]
    span: dict[int, tuple[Any, Any]] = {}
    if sessions:
        s = AppointmentSlot
        stmt = (
            select(s.session_id, func.min(s.start_at), func.max(s.end_at))
            .where(s.session_id.in_(sessions))
            .group_by(s.session_id)
        )
        span = {sid: (lo, hi) for sid, lo, hi in await ctx.session.execute(stmt)}
    out = []
    for r in rows:
        row = found[(r.part, r.row_key)]
        if r.part == 1:
            out.append(infrastructure.schedule(row))
        else:
            lo, hi = span.get(row.id) or (_local(row.day, row.start), _local(row.day, row.end))
            out.append(fhir_appointments.schedule(row, lo, hi))
    return out


def _local(day: dt.date, hhmm: str) -> dt.datetime:
    """A session's local time (China, UTC+8) for a session without slots."""
    hour, minute = (int(x) for x in hhmm.split(":"))
    return dt.datetime.combine(day, dt.time(hour, minute), dt.timezone(dt.timedelta(hours=8)))


async def slots(ctx: BuildContext, rows: Sequence[Any]) -> list[Resource]:
    return [fhir_appointments.slot(s) for s in rows]


async def _maternal(ctx: BuildContext, rows: Sequence[Any], kinds: dict[int, int]
                    ) -> dict[str, Resource]:  # fmt: skip
    """The resources of the visits (table 1) and exams (table 2) behind `rows`, by FHIR id;
    `kinds` maps a union part to its table."""
    keyed = [(kinds[r.part], r.row_key) for r in rows]
    out: dict[str, Resource] = {}
    for table, build in ((MaternalVisit, fhir_maternal.visit_bundle),
                         (ChildExam, fhir_maternal.exam_bundle)):  # fmt: skip
        n = 1 if table is MaternalVisit else 2
        ids = sorted({k for t, k in keyed if t == n})
        if ids:
            for row in await ctx.session.scalars(select(table).where(table.id.in_(ids))):
                for e in build(row)["entry"]:
                    out[e["resource"]["id"]] = e["resource"]
    return out


async def encounters(ctx: BuildContext, rows: Sequence[Any]) -> list[Resource]:
    from hub.fhir.repository import ENCOUNTER

    built = await _maternal(ctx, rows, {1: 1, 2: 2})
    return [built[ENCOUNTER.fhir_id(r)] for r in rows]


async def observations(ctx: BuildContext, rows: Sequence[Any]) -> list[Resource]:
    from hub.fhir.repository import OBSERVATION, OBSERVATION_KINDS

    kinds = {n: 1 if table is MaternalVisit else 2 for n, _, table, _, _ in OBSERVATION_KINDS}
    built = await _maternal(ctx, rows, kinds)
    return [built[OBSERVATION.fhir_id(r)] for r in rows]


async def immunizations(ctx: BuildContext, rows: Sequence[Any]) -> list[Resource]:
    return [fhir_immunization.immunization(e) for e in rows]
