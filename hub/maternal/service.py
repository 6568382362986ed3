"""Applying maternal-child records: mothers through the registry's matcher, newborns as
residents linked to their mother, pregnancies, visits, births and child exams, and the
package items they fulfil.

Services never commit. A record that depends on one not received yet (a visit before its
pregnancy's registration) raises `Waiting`; the adapter parks it until that arrives.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from hub.access import service as access
from hub.access.principal import Principal
from hub.maternal import repository
from hub.maternal.models import Birth, ChildExam, MaternalVisit, Pregnancy
from hub.maternal.schedule import schedule
from hub.registry import idnumber
from hub.registry.linking import Candidate, LinkDecision, Linker, LinkOutcome, MatchGrade
from hub.registry.models import IdentifierSystem, Resident
from hub.registry.records import ResidentRecord
from hub.registry.service import RegistryService
from mappings.maternal.codes import item_for

SOURCE = "maternal"
VISIT_KINDS = ("prenatal_visit", "postpartum_visit", "postpartum_42day")
EXAM_KINDS = ("newborn_visit", "child_exam")


class Waiting(Exception):
    """The record needs another one first (its pregnancy, its birth certificate)."""

    def __init__(self, code: str, text: str) -> None:
        super().__init__(text)
        self.code, self.text = code, text


@dataclass(frozen=True, slots=True)
class Command:
    """One record of the maternal-child system, typed (adapters/maternal/translate.py)."""

    kind: str
    record_id: str
    handbook_no: str
    deleted: bool = False
    values: dict[str, Any] = field(default_factory=dict)
    local: dict[str, str] = field(default_factory=dict)


class NewbornLinker:
    """Newborns are linked by their birth certificate number only: before an ID number a
    baby is known by little more than the mother and the birth date, which twins share —
    so the probabilistic matcher must not join them. The matcher still indexes them, so a
    later record of the child from another source can find them."""

    def __init__(self, inner: Linker) -> None:
        self.inner = inner

    async def match(
        self, session: AsyncSession, record: ResidentRecord, count: int
    ) -> list[Candidate]:
        from hub.registry import repository as registry

        ids: list[int] = []
        number = idnumber.parse(record.id_number)
        if number.valid:
            ids = await registry.by_identifier(session, IdentifierSystem.ID_CARD, number.value)
        if not ids and record.birth_certificate_no:
            ids = await registry.by_identifier(
                session, IdentifierSystem.BIRTH_CERTIFICATE_NO, record.birth_certificate_no
            )
        return [Candidate(i, 1.0, MatchGrade.CERTAIN, "id") for i in ids[:count]]

    async def decide(self, session: AsyncSession, record: ResidentRecord) -> LinkDecision:
        found = await self.match(session, record, 1)
        if found:
            return LinkDecision(LinkOutcome.LINKED, found[0].resident_id, found)
        return LinkDecision(LinkOutcome.NEW, provisional=True)

    async def index(self, session: AsyncSession, source_record: Any) -> None:
        await self.inner.index(session, source_record)

    async def unindex(self, session: AsyncSession, source_record: Any) -> None:
        await self.inner.unindex(session, source_record)


class MaternalService:
    def __init__(self, registry: RegistryService) -> None:
        self.registry = registry
        self.newborns = RegistryService(NewbornLinker(registry.linker), registry.priority)

    async def apply(
        self, session: AsyncSession, principal: Principal, c: Command
    ) -> dict[str, Any]:
        """Apply one record; the result names ids and codes, never personal data."""
        if c.kind == "pregnancy_registration":
            return await self._registration(session, principal, c)
        pregnancy = await repository.pregnancy_by_handbook(session, c.handbook_no)
        if pregnancy is None:
            raise Waiting(
                "UNKNOWN_PREGNANCY", "the handbook's pregnancy registration has not arrived"
            )
        if c.kind in VISIT_KINDS:
            return await self._visit(session, principal, pregnancy, c)
        if c.kind == "delivery":
            return await self._delivery(session, principal, pregnancy, c)
        if c.kind == "birth_certificate":
            return await self._birth(session, principal, pregnancy, c)
        return await self._exam(session, principal, c)

    # ------------------------------------------------------------------ mothers

    async def _registration(
        self, session: AsyncSession, principal: Principal, c: Command
    ) -> dict[str, Any]:
        row = await repository.pregnancy_by_handbook(session, c.handbook_no)
        if c.deleted:
            if row is not None:
                row.deleted, row.category_ends_on = True, None
            return {"pregnancy_id": row.id if row else None, "deleted": True}
        v = c.values
        number = idnumber.parse(v["mother_id_number"])
        record = ResidentRecord(
            source=SOURCE,
            source_id=f"handbook:{c.handbook_no}",
            name=v.get("mother_name"),
            sex="2",
            birth_date=number.birth_date,
            id_number=number.value,
            phone=v.get("mother_phone") or None,
            address=v.get("address") or None,
        )
        linked = await self.registry.submit(session, principal, record, strict=False)
        if row is None:
            row = Pregnancy(handbook_no=c.handbook_no, resident_id=linked.resident.id)
            session.add(row)
        row.resident_id, row.source_record_id, row.deleted = linked.resident.id, c.record_id, False
        row.lmp, row.edd = v["lmp"], v["edd"]
        row.gravidity, row.parity = _int(v.get("gravidity")), _int(v.get("parity"))
        row.registered_on, row.registered_week = v["registered_on"], v.get("registered_week")
        row.institution = v.get("institution")
        _category_end(row)
        await session.flush()
        out = {
            "resident_id": linked.resident.id,
            "outcome": linked.outcome.value,
            "pregnancy_id": row.id,
        }
        out["delivery_id"] = await self._fulfil(
            session, principal, linked.resident.id, c, v["registered_on"]
        )
        return out

    async def _visit(
        self, session: AsyncSession, principal: Principal, p: Pregnancy, c: Command
    ) -> dict[str, Any]:
        row = await repository.visit_by_source(session, c.record_id)
        if c.deleted:
            if row is not None:
                row.deleted = True
                await _refresh_risk(session, p)
            return {"visit_id": row.id if row else None, "deleted": True}
        v = c.values
        if row is None:
            row = MaternalVisit(
                source_record_id=c.record_id,
                pregnancy_id=p.id,
                resident_id=p.resident_id,
                kind=c.kind,
                visit_on=v["visit_date"],
            )
            session.add(row)
        row.deleted, row.visit_on = False, v["visit_date"]
        row.gestational_week, row.institution = v.get("gestational_week"), v.get("institution")
        row.risk_colour = v.get("risk_colour")
        row.systolic, row.diastolic = _int(v.get("systolic")), _int(v.get("diastolic"))
        row.weight_kg = _float(v.get("weight_kg"))
        row.findings = (v.get("findings") or None) and str(v["findings"])[:500]
        row.local_codes = dict(c.local)
        await session.flush()
        await _refresh_risk(session, p)
        out: dict[str, Any] = {
            "visit_id": row.id,
            "pregnancy_id": p.id,
            "resident_id": p.resident_id,
        }
        out["delivery_id"] = await self._fulfil(session, principal, p.resident_id, c, row.visit_on)
        return out

    async def _delivery(
        self, session: AsyncSession, principal: Principal, p: Pregnancy, c: Command
    ) -> dict[str, Any]:
        if c.deleted:
            p.delivered_at = p.delivered_on = p.discharged_on = None
            _category_end(p)
            return {"pregnancy_id": p.id, "deleted": True}
        v = c.values
        at: dt.datetime = v["delivered_at"]
        p.delivered_at, p.delivered_on = at, at.date()
        p.discharged_on, p.delivery_mode = v.get("discharge_date"), v.get("mode")
        p.delivery_institution, p.outcome = v.get("institution"), v.get("outcome")
        p.babies = v.get("babies")
        _category_end(p)
        await access.audit(session, principal, "WRITE", "maternal.delivery", [p.resident_id])
        return {"pregnancy_id": p.id, "resident_id": p.resident_id}

    # ---------------------------------------------------------------- children

    async def _birth(
        self, session: AsyncSession, principal: Principal, p: Pregnancy, c: Command
    ) -> dict[str, Any]:
        v = c.values
        cert = str(v["certificate_no"]).strip()
        born: dt.datetime = v["born_at"]
        mother = await session.get(Resident, p.resident_id)
        assert mother is not None
        record = ResidentRecord(
            source=SOURCE,
            source_id=f"birth:{cert}",
            name=(v.get("child_name") or None),
            sex=str(v["sex"]),
            birth_date=born.date(),
            birth_certificate_no=cert,
            mother_id_number=v["mother_id_number"],
            address=mother.address_text,
            id_number=v.get("child_id_number") or None,
            guardian_name=v.get("mother_name"),
            guardian_relation="PARENT",
            guardian_id_number=v["mother_id_number"],
            guardian_phone=mother.phones[0] if mother.phones else None,
        )
        linked = await self.newborns.submit(session, principal, record, strict=False)
        child = linked.resident
        _join_household(child, mother)
        row = await repository.birth_by_certificate(session, cert)
        if row is None:
            row = Birth(
                certificate_no=cert,
                pregnancy_id=p.id,
                mother_resident_id=mother.id,
                child_resident_id=child.id,
                source_record_id=c.record_id,
            )
            session.add(row)
        row.sex, row.born_at, row.birth_order = record.sex, born, _int(v.get("birth_order"))
        row.birth_weight_g = _int(v.get("birth_weight_g"))
        row.pregnancy_id, row.mother_resident_id = p.id, mother.id
        await session.flush()
        return {
            "birth_id": row.id,
            "resident_id": child.id,
            "mother_resident_id": mother.id,
            "outcome": linked.outcome.value,
        }

    async def _exam(
        self, session: AsyncSession, principal: Principal, c: Command
    ) -> dict[str, Any]:
        row = await repository.exam_by_source(session, c.record_id)
        if c.deleted:
            if row is not None:
                row.deleted = True
            return {"exam_id": row.id if row else None, "deleted": True}
        v = c.values
        birth = await repository.birth_by_certificate(session, str(v["certificate_no"]).strip())
        if birth is None:
            raise Waiting("UNKNOWN_BIRTH", "the child's birth certificate has not arrived")
        if v.get("child_id_number"):
            await self._child_id(session, principal, birth, v["child_id_number"])
        day: dt.date = v.get("exam_date") or v["visit_date"]
        if row is None:
            row = ChildExam(
                source_record_id=c.record_id,
                birth_id=birth.id,
                resident_id=birth.child_resident_id,
                kind=c.kind,
                exam_on=day,
            )
            session.add(row)
        row.deleted, row.exam_on, row.age_months = False, day, v.get("age_months")
        row.institution = v.get("institution")
        row.height_cm, row.weight_kg = _float(v.get("height_cm")), _float(v.get("weight_kg"))
        row.development = v.get("development")
        row.anaemia, row.jaundice = v.get("anaemia"), v.get("jaundice")
        row.findings = (v.get("findings") or None) and str(v["findings"])[:500]
        await session.flush()
        out: dict[str, Any] = {"exam_id": row.id, "resident_id": birth.child_resident_id}
        out["delivery_id"] = await self._fulfil(
            session, principal, birth.child_resident_id, c, day, age_months=row.age_months
        )
        return out

    async def _child_id(
        self, session: AsyncSession, principal: Principal, birth: Birth, number: str
    ) -> None:
        """The child's ID number arrived: it joins the same resident (never a new one)."""
        from hub.registry import repository as registry

        src = await registry.source_record(session, SOURCE, f"birth:{birth.certificate_no}")
        if src is None or src.payload.get("id_number") == number:
            return
        record = ResidentRecord.from_payload({**src.payload, "id_number": number})
        await self.newborns.submit(session, principal, record, strict=False)

    # -------------------------------------------------------------- fulfilment

    async def _fulfil(
        self,
        session: AsyncSession,
        principal: Principal,
        resident_id: int,
        c: Command,
        day: dt.date,
        *,
        age_months: int | None = None,
    ) -> int | None:
        """Count the record as a delivery of the resident's signed package item (履约)."""
        from hub.contracts import repository as contracts
        from hub.contracts.delivery import record_delivery

        contract = await contracts.active_contract(session, resident_id)
        if contract is None:
            return None
        code = item_for(contract.region_key, c.kind, age_months=age_months)
        if code is None:
            return None
        row = await record_delivery(
            session,
            principal,
            resident_id=resident_id,
            performed_on=day,
            item_code=code,
            source=SOURCE,
            source_ref=c.record_id,
        )
        return row.id if row is not None else None


def _category_end(p: Pregnancy) -> None:
    s = schedule()
    if p.deleted:
        p.category_ends_on = None
    elif p.delivered_on is not None:
        p.category_ends_on = p.delivered_on + dt.timedelta(days=s.postpartum_days)
    elif p.edd is not None:
        p.category_ends_on = p.edd + dt.timedelta(days=s.overdue_pregnancy_days)


async def _refresh_risk(session: AsyncSession, p: Pregnancy) -> None:
    """The pregnancy's colour is its latest assessment's."""
    assessed = [v for v in await repository.visits(session, [p.id]) if v.risk_colour]
    last = max(assessed, key=lambda v: (v.visit_on, v.id), default=None)
    p.risk_colour = last.risk_colour if last else None
    p.risk_assessed_on = last.visit_on if last else None


def _join_household(child: Resident, mother: Resident) -> None:
    """The household gains the child; the mother's team and institution look after it."""
    if child.household_id is None and mother.household_id is not None:
        child.household_id = mother.household_id
        child.household_relation = (
            "CHILD" if mother.household_relation in ("SELF", "SPOUSE", None) else "GRANDCHILD"
        )
    child.team_id = child.team_id or mother.team_id
    child.organization_id = child.organization_id or mother.organization_id
    child.region_key = child.region_key or mother.region_key


def _int(v: Any) -> int | None:
    try:
        return int(v) if v not in (None, "") else None
    except (TypeError, ValueError):
        return None


def _float(v: Any) -> float | None:
    try:
        return float(v) if v not in (None, "") else None
    except (TypeError, ValueError):
        return None


__all__: Sequence[str] = ("Command", "MaternalService", "NewbornLinker", "SOURCE", "Waiting")
