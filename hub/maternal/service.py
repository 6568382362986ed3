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

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

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
_UNKNOWN: Any = object()  # not looked up yet
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


@dataclass(slots=True)
class Batch:
    """What one batch of records needs, read with one query per table (prefetch)."""

    pregnancies: dict[str, Pregnancy] = field(default_factory=dict)
    visits: dict[str, MaternalVisit] = field(default_factory=dict)
    exams: dict[str, ChildExam] = field(default_factory=dict)
    births: dict[str, Birth] = field(default_factory=dict)
    contracts: dict[int, Any] = field(default_factory=dict)  # resident -> contract or None
    mothers: dict[str, tuple[int, str]] = field(default_factory=dict)  # handbook -> linked
    children: dict[str, tuple[int, str]] = field(default_factory=dict)  # birth record -> linked
    child_ids: set[str] = field(default_factory=set)  # exams whose child ID number is applied


async def prefetch(session: AsyncSession, commands: Sequence[Command]) -> Batch:
    from sqlalchemy import select

    from hub.contracts import repository as contracts

    b = Batch()
    handbooks = list({c.handbook_no for c in commands})
    ids = [c.record_id for c in commands]
    certs = list(
        {
            str(c.values["certificate_no"]).strip()
            for c in commands
            if c.values.get("certificate_no")
        }
    )
    if handbooks:
        found_p = await session.scalars(
            select(Pregnancy).where(Pregnancy.handbook_no.in_(handbooks))
        )
        b.pregnancies = {p.handbook_no: p for p in found_p}
    if any(c.kind in VISIT_KINDS for c in commands):
        found_v = await session.scalars(
            select(MaternalVisit).where(MaternalVisit.source_record_id.in_(ids))
        )
        b.visits = {v.source_record_id: v for v in found_v}
    if any(c.kind in EXAM_KINDS for c in commands):
        found_e = await session.scalars(
            select(ChildExam).where(ChildExam.source_record_id.in_(ids))
        )
        b.exams = {e.source_record_id: e for e in found_e}
    if certs:
        found_b = await session.scalars(select(Birth).where(Birth.certificate_no.in_(certs)))
        b.births = {x.certificate_no: x for x in found_b}
    residents = {p.resident_id for p in b.pregnancies.values()}
    residents |= {x.child_resident_id for x in b.births.values()}
    found = await contracts.active_contracts(session, list(residents))
    b.contracts = {r: found.get(r) for r in residents}
    return b


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
        self, session: AsyncSession, principal: Principal, c: Command, batch: Batch | None = None
    ) -> dict[str, Any]:
        """Apply one record; the result names ids and codes, never personal data."""
        self.batch = b = batch or await prefetch(session, [c])
        if c.kind == "pregnancy_registration":
            return await self._registration(session, principal, c)
        pregnancy = b.pregnancies.get(c.handbook_no)
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
        row = self.batch.pregnancies.get(c.handbook_no)
        if c.deleted:
            if row is not None:
                row.deleted, row.category_ends_on = True, None
            return {"pregnancy_id": row.id if row else None, "deleted": True}
        if c.handbook_no in self.batch.mothers:  # linked with the batch (link_mothers)
            rid, outcome = self.batch.mothers.pop(c.handbook_no)
        else:
            linked = await self.registry.submit(session, principal, mother_record(c), strict=False)
            rid, outcome = linked.resident.id, linked.outcome.value
        if row is None:
            row = Pregnancy(handbook_no=c.handbook_no, resident_id=rid)
            session.add(row)
            self.batch.pregnancies[c.handbook_no] = row
        row.resident_id, row.source_record_id, row.deleted = rid, c.record_id, False
        return await self._registered(session, principal, c, row, rid, outcome)

    async def link_mothers(
        self, session: AsyncSession, principal: Principal, commands: Sequence[Command], b: Batch
    ) -> None:
        """Link the batch's mothers with the matcher's batch path (a few statements for
        all of them) when the registry runs the matcher; else each goes through submit."""
        from hub.registry.mpi import MatcherLinker

        regs = [c for c in commands if c.kind == "pregnancy_registration" and not c.deleted]
        if len(regs) < 2 or not isinstance(self.registry.linker, MatcherLinker):
            return
        from hub.registry.bulk import BulkLinker

        bulk = BulkLinker(self.registry, principal, operation="maternal:registration")
        linked = await bulk.link_batch(session, [(mother_record(c), []) for c in regs])
        for c, x in zip(regs, linked, strict=True):
            b.mothers[c.handbook_no] = (x.resident_id, x.outcome.value)

    async def link_newborns(
        self, session: AsyncSession, principal: Principal, commands: Sequence[Command], b: Batch
    ) -> None:
        """Link the batch's newborns (birth certificates whose mother is known: registered
        before, or with this batch) with the registry's batch path, deciding as
        `NewbornLinker` does; the rest go through submit when applied. Call after
        `link_mothers`."""
        from hub.registry.bulk_ids import IdentifierBulkLinker
        from hub.registry.mpi import MatcherLinker

        if not isinstance(self.registry.linker, MatcherLinker):
            return
        mothers: dict[str, int] = {}
        registered: set[str] = set()  # registrations of this batch so far (order matters:
        for c in commands:  # a birth before its registration waits, as in `apply`)
            if c.kind == "pregnancy_registration" and c.handbook_no in b.mothers:
                registered.add(c.handbook_no)
            if c.kind != "birth_certificate" or c.deleted:
                continue
            if c.handbook_no in registered:
                mothers[c.record_id] = b.mothers[c.handbook_no][0]
            elif (p := b.pregnancies.get(c.handbook_no)) is not None:
                mothers[c.record_id] = p.resident_id
        from hub.registry import repository as registry
        from hub.registry.models import SourceRecord

        found = await registry.get_many(session, sorted(set(mothers.values())))
        # Each child's record as it stands, by certificate: stored ones read in one query.
        payloads: dict[str, dict[str, Any]] = {}
        stored_certs = [
            str(c.values["certificate_no"]).strip()
            for c in commands
            if c.kind in EXAM_KINDS and c.values.get("child_id_number") and not c.deleted
        ]
        stored_certs = [x for x in dict.fromkeys(stored_certs) if x in b.births]
        if stored_certs:
            rows = await session.execute(
                select(SourceRecord.source_id, SourceRecord.payload).where(
                    SourceRecord.source == SOURCE,
                    SourceRecord.source_id.in_([f"birth:{x}" for x in stored_certs]),
                )
            )
            payloads = {sid.removeprefix("birth:"): dict(payload) for sid, payload in rows}
        # In the batch's order, as `apply` would submit them: births, then the child's ID
        # number when an exam brings it (an update of the same record, never a new link).
        records: list[ResidentRecord] = []
        births: list[tuple[Command, int]] = []  # with its place in `records`
        for c in commands:
            cert = str(c.values.get("certificate_no") or "").strip()
            if c.record_id in mothers and mothers[c.record_id] in found:
                record = newborn_record(c, found[mothers[c.record_id]])
                payloads[cert] = record.payload()
                births.append((c, len(records)))
                records.append(record)
            elif c.kind in EXAM_KINDS and not c.deleted and c.values.get("child_id_number"):
                number = c.values["child_id_number"]
                known = payloads.get(cert)
                if known is None:
                    continue  # its birth is not known yet: `apply` makes it wait
                b.child_ids.add(c.record_id)
                if known.get("id_number") == number:
                    continue
                payloads[cert] = {**known, "id_number": number}
                records.append(ResidentRecord.from_payload(payloads[cert]))
        if not records:
            return
        bulk = IdentifierBulkLinker(self.registry, principal, operation="maternal:birth")
        linked = await bulk.link_batch(session, [(r, []) for r in records])
        for c, i in births:
            b.children[c.record_id] = (linked[i].resident_id, linked[i].outcome.value)

    async def _registered(
        self,
        session: AsyncSession,
        principal: Principal,
        c: Command,
        row: Pregnancy,
        rid: int,
        outcome: str,
    ) -> dict[str, Any]:
        v = c.values
        row.lmp, row.edd = v["lmp"], v["edd"]
        row.gravidity, row.parity = _int(v.get("gravidity")), _int(v.get("parity"))
        row.registered_on, row.registered_week = v["registered_on"], v.get("registered_week")
        row.institution = v.get("institution")
        _category_end(row)
        await session.flush()  # births and visits of the same batch refer to it
        out: dict[str, Any] = {"resident_id": rid, "outcome": outcome, "pregnancy_id": row.id}
        out["delivery_id"] = await self._fulfil(session, principal, rid, c, v["registered_on"])
        return out

    async def _visit(
        self, session: AsyncSession, principal: Principal, p: Pregnancy, c: Command
    ) -> dict[str, Any]:
        row = self.batch.visits.get(c.record_id)
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
            self.batch.visits[c.record_id] = row
        fresh = row.id is None
        row.deleted, row.visit_on = False, v["visit_date"]
        row.gestational_week, row.institution = v.get("gestational_week"), v.get("institution")
        row.risk_colour = v.get("risk_colour")
        row.systolic, row.diastolic = _int(v.get("systolic")), _int(v.get("diastolic"))
        row.weight_kg = _float(v.get("weight_kg"))
        row.findings = (v.get("findings") or None) and str(v["findings"])[:500]
        row.local_codes = dict(c.local)
        if fresh:  # the newest assessment sets the colour; a correction recomputes it
            if row.risk_colour and (
                p.risk_assessed_on is None or row.visit_on >= p.risk_assessed_on
            ):
                p.risk_colour, p.risk_assessed_on = row.risk_colour, row.visit_on
        else:
            await _refresh_risk(session, p)
        out: dict[str, Any] = {
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
        record = newborn_record(c, mother)
        if (prelinked := self.batch.children.pop(c.record_id, None)) is not None:
            rid, outcome = prelinked  # linked with the batch (link_newborns)
            child = await session.get(Resident, rid)
            assert child is not None
        else:
            linked = await self.newborns.submit(session, principal, record, strict=False)
            child, outcome = linked.resident, linked.outcome.value
        _join_household(child, mother)
        from hub.reports.locality import place

        await place(session, [child.id])  # the child counts in the household's township
        row = self.batch.births.get(cert)
        if row is None:
            row = Birth(
                certificate_no=cert,
                pregnancy_id=p.id,
                mother_resident_id=mother.id,
                child_resident_id=child.id,
                source_record_id=c.record_id,
            )
            session.add(row)
            self.batch.births[cert] = row
        row.sex, row.born_at, row.birth_order = record.sex, born, _int(v.get("birth_order"))
        row.birth_weight_g = _int(v.get("birth_weight_g"))
        row.pregnancy_id, row.mother_resident_id = p.id, mother.id
        await session.flush()
        return {
            "birth_id": row.id,
            "resident_id": child.id,
            "mother_resident_id": mother.id,
            "outcome": outcome,
        }

    async def _exam(
        self, session: AsyncSession, principal: Principal, c: Command
    ) -> dict[str, Any]:
        row = self.batch.exams.get(c.record_id)
        if c.deleted:
            if row is not None:
                row.deleted = True
            return {"exam_id": row.id if row else None, "deleted": True}
        v = c.values
        birth = self.batch.births.get(str(v["certificate_no"]).strip())
        if birth is None:
            raise Waiting("UNKNOWN_BIRTH", "the child's birth certificate has not arrived")
        if v.get("child_id_number") and c.record_id not in self.batch.child_ids:
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
            self.batch.exams[c.record_id] = row
        row.deleted, row.exam_on, row.age_months = False, day, v.get("age_months")
        row.institution = v.get("institution")
        row.height_cm, row.weight_kg = _float(v.get("height_cm")), _float(v.get("weight_kg"))
        row.development = v.get("development")
        row.anaemia, row.jaundice = v.get("anaemia"), v.get("jaundice")
        row.findings = (v.get("findings") or None) and str(v["findings"])[:500]
        out: dict[str, Any] = {"resident_id": birth.child_resident_id}
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

        contract = self.batch.contracts.get(resident_id, _UNKNOWN)
        if contract is _UNKNOWN:
            contract = await contracts.active_contract(session, resident_id)
            self.batch.contracts[resident_id] = contract
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


def newborn_record(c: Command, mother: Resident) -> ResidentRecord:
    """The newborn as its birth certificate gives it (出生医学证明), for the registry."""
    v = c.values
    cert = str(v["certificate_no"]).strip()
    born: dt.datetime = v["born_at"]
    return ResidentRecord(
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


def mother_record(c: Command) -> ResidentRecord:
    """The mother as the maternal-child system registered her, for the matcher."""
    v = c.values
    number = idnumber.parse(v["mother_id_number"])
    return ResidentRecord(
        source=SOURCE,
        source_id=f"handbook:{c.handbook_no}",
        name=v.get("mother_name"),
        sex="2",
        birth_date=number.birth_date,
        id_number=number.value,
        phone=v.get("mother_phone") or None,
        address=v.get("address") or None,
    )


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
