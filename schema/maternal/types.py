"""GraphQL types of the maternal-child facts and the Resident fields that reach them
(`pregnancies`, `childHealthExams`, `mother`, `children`, `motherRelatedPerson`). Thin:
rows come through hub/maternal/repository, residents through the one access policy."""

from __future__ import annotations

import datetime as dt
from enum import Enum
from typing import TYPE_CHECKING, Annotated, Any

import strawberry
from strawberry.scalars import JSON
from strawberry.types import Info

from hub.maternal import repository
from hub.maternal.models import ChildExam as ExamRow
from hub.maternal.models import MaternalVisit as VisitRow
from hub.maternal.models import Pregnancy as PregnancyRow
from mappings.masking import mask_id
from mappings.maternal import fhir
from mappings.maternal.codes import codes
from schema.context import Context

if TYPE_CHECKING:
    from schema.registry.types import Resident


@strawberry.enum(description="妊娠风险评估 (2017): the five colours.")
class RiskColour(Enum):
    GREEN = "GREEN"
    YELLOW = "YELLOW"
    ORANGE = "ORANGE"
    RED = "RED"
    PURPLE = "PURPLE"


@strawberry.enum
class MaternalVisitKind(Enum):
    PRENATAL = "prenatal_visit"
    POSTPARTUM = "postpartum_visit"
    POSTPARTUM_42_DAY = "postpartum_42day"


@strawberry.enum
class ChildExamKind(Enum):
    NEWBORN_VISIT = "newborn_visit"
    CHILD_EXAM = "child_exam"


@strawberry.enum
class PregnancyStatus(Enum):
    PREGNANT = "PREGNANT"
    POSTPARTUM = "POSTPARTUM"  # delivered, within 42 days
    CLOSED = "CLOSED"


def _colour(code: str | None) -> RiskColour | None:
    return RiskColour(code) if code else None


@strawberry.type(description="A maternal visit: prenatal, postpartum, or the 42-day check.")
class MaternalVisit:
    row: strawberry.Private[VisitRow]
    kind: MaternalVisitKind
    visit_on: dt.date
    gestational_week: int | None
    institution: str | None
    risk_colour: RiskColour | None
    systolic: int | None
    diastolic: int | None
    weight_kg: float | None
    findings: str | None

    @classmethod
    def of(cls, v: VisitRow) -> MaternalVisit:
        return cls(
            row=v,
            kind=MaternalVisitKind(v.kind),
            visit_on=v.visit_on,
            gestational_week=v.gestational_week,
            institution=v.institution,
            risk_colour=_colour(v.risk_colour),
            systolic=v.systolic,
            diastolic=v.diastolic,
            weight_kg=v.weight_kg,
            findings=v.findings,
        )

    @strawberry.field(description="FHIR R4B Bundle: the Encounter and its Observations.")
    def fhir(self) -> JSON:
        return fhir.visit_bundle(self.row)


@strawberry.type(description="分娩: the delivery as the maternal-child system reported it.")
class Delivery:
    delivered_on: dt.date
    delivered_at: dt.datetime | None
    discharged_on: dt.date | None
    mode: str | None
    institution: str | None
    outcome: str | None
    babies: int | None


@strawberry.type(
    description="孕产期: one pregnancy from registration to 42 days after delivery "
    "(FHIR EpisodeOfCare of type pregnancy)."
)
class Pregnancy:
    row: strawberry.Private[PregnancyRow]
    masked: strawberry.Private[bool]
    lmp: dt.date | None
    edd: dt.date | None
    gravidity: int | None
    parity: int | None
    registered_on: dt.date | None
    registered_week: int | None
    institution: str | None
    risk_colour: RiskColour | None = strawberry.field(description="The latest assessment's.")
    risk_assessed_on: dt.date | None

    @strawberry.field(description="母子健康手册 number; masked without residents:pii.")
    def handbook_number(self) -> str:
        return mask_id(self.row.handbook_no) or "" if self.masked else self.row.handbook_no

    @strawberry.field(description="Orange, red or purple: a high-risk pregnancy (高危孕产妇).")
    def high_risk(self) -> bool:
        return self.row.risk_colour in codes().high_risk

    @strawberry.field
    def status(self) -> PregnancyStatus:
        today = dt.date.today()
        if self.row.delivered_on is None:
            return PregnancyStatus.PREGNANT
        ends = self.row.category_ends_on
        return PregnancyStatus.POSTPARTUM if ends and today <= ends else PregnancyStatus.CLOSED

    @strawberry.field
    def delivery(self) -> Delivery | None:
        p = self.row
        if p.delivered_on is None:
            return None
        return Delivery(
            delivered_on=p.delivered_on,
            delivered_at=p.delivered_at,
            discharged_on=p.discharged_on,
            mode=p.delivery_mode,
            institution=p.delivery_institution,
            outcome=p.outcome,
            babies=p.babies,
        )

    @strawberry.field(description="Its visits, oldest first.")
    async def visits(self, info: Info[Context, Any]) -> list[MaternalVisit]:
        async def batch(session: Any, keys: list[int]) -> list[list[VisitRow]]:
            out: dict[int, list[VisitRow]] = {k: [] for k in keys}
            for v in await repository.visits(session, keys):
                out[v.pregnancy_id].append(v)
            return [out[k] for k in keys]

        rows = await info.context.loader("MaternalVisits", batch).load(self.row.id)
        return [MaternalVisit.of(v) for v in rows]

    @strawberry.field(description="FHIR R4B EpisodeOfCare (type pregnancy).")
    def fhir(self) -> JSON:
        return fhir.episode_of_care(self.row, mask_handbook=self.masked)


@strawberry.type(description="A newborn home visit or a child health exam (儿童健康检查).")
class ChildHealthExam:
    row: strawberry.Private[ExamRow]
    kind: ChildExamKind
    exam_on: dt.date
    age_months: int | None
    institution: str | None
    height_cm: float | None
    weight_kg: float | None
    development: str | None
    anaemia: bool | None
    jaundice: bool | None
    findings: str | None

    @classmethod
    def of(cls, e: ExamRow) -> ChildHealthExam:
        return cls(
            row=e,
            kind=ChildExamKind(e.kind),
            exam_on=e.exam_on,
            age_months=e.age_months,
            institution=e.institution,
            height_cm=e.height_cm,
            weight_kg=e.weight_kg,
            development=e.development,
            anaemia=e.anaemia,
            jaundice=e.jaundice,
            findings=e.findings,
        )

    @strawberry.field(description="FHIR R4B Bundle: the Encounter and its Observations.")
    def fhir(self) -> JSON:
        return fhir.exam_bundle(self.row)


# ------------------------------------------------------------ the Resident fields


async def resident_pregnancies(info: Info[Context, Any], resident_id: int) -> list[Pregnancy]:
    async def batch(session: Any, keys: list[int]) -> list[list[PregnancyRow]]:
        out: dict[int, list[PregnancyRow]] = {k: [] for k in keys}
        for p in await repository.pregnancies(session, keys):
            out[p.resident_id].append(p)
        return [out[k] for k in keys]

    rows = await info.context.loader("Pregnancies", batch).load(resident_id)
    if rows:
        info.context.audit_read("maternal.pregnancies", resident_id)
    masked = not info.context.sees_pii
    return [
        Pregnancy(
            row=p,
            masked=masked,
            lmp=p.lmp,
            edd=p.edd,
            gravidity=p.gravidity,
            parity=p.parity,
            registered_on=p.registered_on,
            registered_week=p.registered_week,
            institution=p.institution,
            risk_colour=_colour(p.risk_colour),
            risk_assessed_on=p.risk_assessed_on,
        )
        for p in rows
    ]


async def resident_exams(info: Info[Context, Any], resident_id: int) -> list[ChildHealthExam]:
    async def batch(session: Any, keys: list[int]) -> list[list[ExamRow]]:
        out: dict[int, list[ExamRow]] = {k: [] for k in keys}
        for e in await repository.exams(session, keys):
            out[e.resident_id].append(e)
        return [out[k] for k in keys]

    rows = await info.context.loader("ChildExams", batch).load(resident_id)
    if rows:
        info.context.audit_read("maternal.childHealthExams", resident_id)
    return [ChildHealthExam.of(e) for e in rows]


async def _mother_id(info: Info[Context, Any], child_id: int) -> int | None:
    async def batch(session: Any, keys: list[int]) -> list[int | None]:
        found = {
            b.child_resident_id: b.mother_resident_id
            for b in await repository.births_of_children(session, keys)
        }
        return [found.get(k) for k in keys]

    mother: int | None = await info.context.loader("MotherOf", batch).load(child_id)
    return mother


async def resident_mother(
    info: Info[Context, Any], child_id: int
) -> Annotated[Resident, strawberry.lazy("schema.registry.types")] | None:
    from schema.registry.types import load_resident

    return await load_resident(info, await _mother_id(info, child_id))


async def resident_children(
    info: Info[Context, Any], mother_id: int
) -> list[Annotated[Resident, strawberry.lazy("schema.registry.types")]]:
    from hub.registry import repository as registry
    from schema.registry.types import visible_residents

    async def batch(session: Any, keys: list[int]) -> list[list[Any]]:
        births = await repository.births_of_mothers(session, keys)
        found = await registry.get_many(session, [b.child_resident_id for b in births])
        out: dict[int, list[Any]] = {k: [] for k in keys}
        for b in births:
            if b.child_resident_id in found:
                out[b.mother_resident_id].append(found[b.child_resident_id])
        return [out[k] for k in keys]

    rows = await info.context.loader("ChildrenOf", batch).load(mother_id)
    return await visible_residents(info, rows, "maternal.children")


async def resident_mother_related_person(info: Info[Context, Any], child_id: int) -> JSON | None:
    mother = await resident_mother(info, child_id)
    if mother is None:
        return None
    return fhir.mother_related_person(child_id, mother.row, mask=not info.context.sees_pii)
