"""GraphQL types of the registry: Resident, its identifiers, household and source records."""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any

import strawberry
from strawberry.scalars import JSON
from strawberry.types import Info

from hub.access import policy
from hub.access.principal import Principal, Scope
from hub.registry import golden, repository
from hub.registry.models import Household as HouseholdRow
from hub.registry.models import Resident as ResidentRow
from hub.registry.models import SourceRecord as SourceRow
from mappings import infrastructure
from mappings.masking import mask_id, mask_payload, mask_phone
from mappings.patient import patient
from schema.context import Context
from schema.directory.types import Organization, Team, load_organization, load_team
from schema.referrals.resident import resident_referrals
from schema.relay import Node, to_global_id
from schema.scalars import IdentifierSystem, InsuranceType, PopulationCategory


@strawberry.type
class Identifier:
    system: IdentifierSystem
    value: str


@strawberry.type(description="A person's address: GB/T 2260 region code and free text.")
class Address:
    region_code: str | None
    text: str | None


@strawberry.type(description="监护人: the guardian who signs for a minor or a dependent adult.")
class Guardian:
    name: str | None
    phone: str | None
    relation: str | None


@strawberry.type(description="A record as one source system sent it, linked to this resident.")
class SourceRecord:
    row: strawberry.Private[SourceRow]
    source: str
    source_id: str
    received_at: dt.datetime
    flags: list[str]
    link_grade: str | None
    link_score: float | None

    @strawberry.field(description="The record exactly as received (JSON).")
    def payload(self, info: Info[Context, Any]) -> JSON:
        payload = self.row.payload
        return dict(payload) if info.context.sees_pii else mask_payload(payload)

    @classmethod
    def from_row(cls, r: SourceRow) -> SourceRecord:
        return cls(row=r, source=r.source, source_id=r.source_id, received_at=r.received_at,
                   flags=list(r.flags), link_grade=r.link_grade, link_score=r.link_score)


@strawberry.type(description="Which source record gave a golden-record field.")
class FieldProvenance:
    field: str
    source: str
    source_id: str


async def _source_records(info: Info[Context, Any], resident_id: int) -> list[SourceRow]:
    async def batch(session: Any, keys: list[int]) -> list[list[SourceRow]]:
        rows = await repository.source_records(session, keys)
        out: dict[int, list[SourceRow]] = {k: [] for k in keys}
        for r in rows:
            out[r.resident_id].append(r)
        return [out[k] for k in keys]

    return await info.context.loader("SourceRecords", batch).load(resident_id)


async def _merged_into_this(info: Info[Context, Any], resident_id: int) -> list[int]:
    """Residents merged into this one (FHIR Patient.link replaces)."""

    async def batch(session: Any, keys: list[int]) -> list[list[int]]:
        found = await repository.merged_into(session, keys)
        return [found.get(k, []) for k in keys]

    return await info.context.loader("MergedInto", batch).load(resident_id)


async def _categories(info: Info[Context, Any], r: ResidentRow) -> list[str]:
    async def batch(session: Any, keys: list[int]) -> list[set[str]]:
        found = await repository.categories(session, keys)
        return [found[k] for k in keys]

    stored = await info.context.loader("Categories", batch).load(r.id)
    return sorted(stored | golden.derived_categories(r.birth_date))


FULL, BASIC = "FULL", "BASIC"


def resident_view(principal: Principal, via: str | None = None) -> str | None:
    """How much of a resident this client sees: everything with residents:read; id, name and
    age when it reaches the resident through something it may read (`via`: the scope of a
    referral or contract); nothing otherwise."""
    if principal.has(Scope.RESIDENTS_READ):
        return FULL
    if via is not None and principal.has(via):
        return BASIC
    return None


async def visible_ids(info: Info[Context, Any], ids: list[int]) -> set[int]:
    """Which residents the access policy lets this client see (batched, cached per request)."""

    async def batch(session: Any, keys: list[int]) -> list[bool]:
        seen = await policy.visible_resident_ids(session, info.context.principal, keys)
        return [k in seen for k in keys]

    flags = await info.context.loader("VisibleResident", batch).load_many(ids)
    return {i for i, ok in zip(ids, flags, strict=True) if ok}


async def load_resident(
    info: Info[Context, Any], key: int | None, *, via: str | None = None
) -> Resident | None:
    """A resident by id, through the one access policy: None when it does not exist, when
    the client may not see it, and when it lacks the scope for it."""
    view = resident_view(info.context.principal, via)
    if key is None or view is None or not await visible_ids(info, [key]):
        return None

    async def batch(session: Any, keys: list[int]) -> list[Any]:
        found = await repository.get_many(session, keys)
        return [found.get(k) for k in keys]

    row = await info.context.loader("Resident", batch).load(key)
    if row is None:
        return None
    info.context.audit_read("resident", row.id)
    return Resident.from_row(row, view)


async def visible_residents(
    info: Info[Context, Any], rows: list[ResidentRow], operation: str, *, via: str | None = None
) -> list[Resident]:
    """Of `rows` read some other way (a household's members, a write's result), those the
    access policy lets this client see, audited as read."""
    view = resident_view(info.context.principal, via)
    if view is None or not rows:
        return []
    seen = await visible_ids(info, [r.id for r in rows])
    shown = [r for r in rows if r.id in seen]
    info.context.audit_read(operation, *(r.id for r in shown))
    return [Resident.from_row(r, view) for r in shown]


@strawberry.type(description="签约居民: one person's shared, deduplicated record (FHIR Patient).")
class Resident(Node):
    row: strawberry.Private[ResidentRow]
    resident_id: int = strawberry.field(description="The hub's numeric id (the FHIR Patient id).")
    name: str | None
    sex: str | None = strawberry.field(description="GB/T 2261.1: 0 unknown, 1 male, 2 female, 9 unspecified.")
    birth_date: dt.date | None
    active: bool = strawberry.field(description="False once merged into another resident.")
    id_number_flags: list[str] = strawberry.field(
        description="Problems with the identity: an invalid number received, a number contradicting "
        "the birth date or sex.")
    insurance_type: InsuranceType | None
    region: str | None

    view: strawberry.Private[str] = FULL

    @classmethod
    def from_row(cls, r: ResidentRow, view: str) -> Resident:
        """Only through `load_resident` / `visible_residents`, or for rows the access policy
        filtered in the query that read them."""
        full = view == FULL
        return cls(
            row=r, id=strawberry.ID(to_global_id("Resident", r.id)), resident_id=r.id, name=r.name,
            sex=r.sex if full else None, birth_date=r.birth_date if full else None,
            active=r.status == "ACTIVE", view=view,
            id_number_flags=list(r.id_number_flags) if full else [],
            insurance_type=InsuranceType(r.insurance_type) if r.insurance_type and full else None,
            region=r.region_key if full else None,
        )

    @strawberry.field(description="Age in whole years today.")
    def age(self) -> int | None:
        b = self.row.birth_date
        if b is None:
            return None
        t = dt.date.today()
        return t.year - b.year - ((t.month, t.day) < (b.month, b.day))

    @strawberry.field(description="18-digit ID number; masked without the residents:pii scope.")
    def id_number(self, info: Info[Context, Any]) -> str | None:
        if self.view != FULL:
            return None
        v = self.row.id_number
        return v if info.context.sees_pii else mask_id(v)

    @strawberry.field
    def identifiers(self, info: Info[Context, Any]) -> list[Identifier]:
        if self.view != FULL:
            return []
        r, pii = self.row, info.context.sees_pii
        out = []
        for system, value in (("ID_CARD", r.id_number), ("INSURANCE_CARD", r.insurance_card),
                              ("HEALTH_RECORD_NO", r.health_record_no),
                              ("BIRTH_CERTIFICATE_NO", r.birth_certificate_no)):
            if value:
                out.append(Identifier(system=IdentifierSystem(system),
                                      value=value if pii else mask_id(value) or ""))
        return out

    @strawberry.field
    def phones(self, info: Info[Context, Any]) -> list[str]:
        if self.view != FULL:
            return []
        pii = info.context.sees_pii
        return [p if pii else mask_phone(p) or "" for p in self.row.phones]

    @strawberry.field
    def address(self, info: Info[Context, Any]) -> Address:
        if self.view != FULL:
            return Address(region_code=None, text=None)
        text = self.row.address_text
        return Address(region_code=self.row.address_region,
                       text=text if info.context.sees_pii or not text else "****")

    @strawberry.field(description="Stored categories plus those that follow from age (0–6, 65+).")
    async def categories(self, info: Info[Context, Any]) -> list[PopulationCategory]:
        if self.view != FULL:
            return []
        return [PopulationCategory(c) for c in await _categories(info, self.row)]

    @strawberry.field
    def guardian(self, info: Info[Context, Any]) -> Guardian | None:
        if self.view != FULL:
            return None
        g = self.row.guardian
        if not g:
            return None
        phone = g.get("phone")
        return Guardian(name=g.get("name"), relation=g.get("relation"),
                        phone=phone if info.context.sees_pii else mask_phone(phone))

    @strawberry.field
    async def household(self, info: Info[Context, Any]) -> Household | None:
        if self.view != FULL:
            return None
        if self.row.household_id is None:
            return None
        return Household(id=strawberry.ID(to_global_id("Household", self.row.household_id)),
                         household_id=self.row.household_id)

    @strawberry.field(description="Relation to the household head (SELF, SPOUSE, CHILD, …).")
    def household_relation(self) -> str | None:
        if self.view != FULL:
            return None
        return self.row.household_relation

    @strawberry.field(description="The institution keeping this resident's health record.")
    async def organization(self, info: Info[Context, Any]) -> Organization | None:
        if self.view != FULL:
            return None
        return await load_organization(info, self.row.organization_id)

    @strawberry.field(description="The family doctor team responsible for the resident's grid.")
    async def team(self, info: Info[Context, Any]) -> Team | None:
        if self.view != FULL:
            return None
        return await load_team(info, self.row.team_id)

    @strawberry.field(description="The surviving resident, when this one was merged away.")
    async def merged_into(self, info: Info[Context, Any]) -> Resident | None:
        if self.view != FULL:
            return None
        return await load_resident(info, self.row.merged_into_id)

    @strawberry.field(description="Every record received for this person, from every source.")
    async def source_records(self, info: Info[Context, Any]) -> list[SourceRecord]:
        if self.view != FULL:
            return []
        return [SourceRecord.from_row(r) for r in await _source_records(info, self.row.id)]

    @strawberry.field(description="Which source record gave each golden-record field.")
    async def provenance(self, info: Info[Context, Any]) -> list[FieldProvenance]:
        if self.view != FULL:
            return []
        by_id = {r.id: r for r in await _source_records(info, self.row.id)}
        return [FieldProvenance(field=f, source=by_id[sid].source, source_id=by_id[sid].source_id)
                for f, sid in sorted(self.row.provenance.items()) if sid in by_id]

    @strawberry.field(description="签约协议 of this resident, newest first (needs contracts:read).")
    async def contracts(
        self, info: Info[Context, Any]
    ) -> list[Annotated[Contract, strawberry.lazy("schema.contracts.types")]]:
        if self.view != FULL:
            return []
        from schema.contracts.types import resident_contracts

        return await resident_contracts(info, self.row.id)

    @strawberry.field(description="Has an active contract (已签约).")
    async def signed(self, info: Info[Context, Any]) -> bool:
        if self.view != FULL:
            return False
        from schema.contracts.types import resident_signed

        return await resident_signed(info, self.row.id)

    referrals = strawberry.field(
        resolver=resident_referrals,
        description="Referrals of this resident the client may see.",
    )

    @strawberry.field(description="孕产期 from the maternal-child system, newest first.")
    async def pregnancies(
        self, info: Info[Context, Any]
    ) -> list[Annotated[Pregnancy, strawberry.lazy("schema.maternal.types")]]:
        if self.view != FULL:
            return []
        from schema.maternal.types import resident_pregnancies

        return await resident_pregnancies(info, self.row.id)

    @strawberry.field(description="Newborn visits and child health exams, oldest first.")
    async def child_health_exams(
        self, info: Info[Context, Any]
    ) -> list[Annotated[ChildHealthExam, strawberry.lazy("schema.maternal.types")]]:
        if self.view != FULL:
            return []
        from schema.maternal.types import resident_exams

        return await resident_exams(info, self.row.id)

    @strawberry.field(description="The mother, from the birth certificate (出生医学证明).")
    async def mother(self, info: Info[Context, Any]) -> Resident | None:
        if self.view != FULL:
            return None
        from schema.maternal.types import resident_mother

        return await resident_mother(info, self.row.id)

    @strawberry.field(description="Children born to this resident (birth certificates).")
    async def children(self, info: Info[Context, Any]) -> list[Resident]:
        if self.view != FULL:
            return []
        from schema.maternal.types import resident_children

        return await resident_children(info, self.row.id)

    @strawberry.field(description="FHIR R4B RelatedPerson (MTH) of the child's mother.")
    async def mother_related_person(self, info: Info[Context, Any]) -> JSON | None:
        if self.view != FULL:
            return None
        from schema.maternal.types import resident_mother_related_person

        return await resident_mother_related_person(info, self.row.id)

    @strawberry.field(description="Doses given (接种记录) from the immunization system.")
    async def immunizations(
        self, info: Info[Context, Any]
    ) -> list[Annotated[Immunization, strawberry.lazy("schema.immunization.types")]]:
        if self.view != FULL:
            return []
        from schema.immunization.types import resident_immunizations

        return await resident_immunizations(info, self.row.id)

    @strawberry.field(description="Evaluation and forecast by the national schedule.")
    async def immunization_forecast(
        self, info: Info[Context, Any], as_of: dt.date | None = None
    ) -> Annotated[ImmunizationForecast, strawberry.lazy("schema.immunization.types")] | None:
        if self.view != FULL:
            return None
        from schema.immunization.types import resident_forecast

        return await resident_forecast(info, self.row.id, self.row.birth_date, as_of)

    @strawberry.field(description="TB episodes (结核病患者健康管理) from the CDC system.")
    async def tuberculosis(
        self, info: Info[Context, Any]
    ) -> list[Annotated[TuberculosisEpisode, strawberry.lazy("schema.tuberculosis.types")]]:
        if self.view != FULL:
            return []
        from schema.tuberculosis.types import resident_tuberculosis

        return await resident_tuberculosis(info, self.row.id)

    @strawberry.field(description="FHIR R4B Patient.")
    async def fhir(self, info: Info[Context, Any]) -> JSON:
        if self.view != FULL:  # what the BASIC view shows, as a Patient
            return {"resourceType": "Patient", "id": str(self.row.id),
                    "name": [{"text": self.row.name}] if self.row.name else []}
        return patient(self.row, categories=await _categories(info, self.row),
                       mask=not info.context.sees_pii, merged_into=self.row.merged_into_id,
                       replaces=await _merged_into_this(info, self.row.id))


@strawberry.type(description="家庭/户: a household and its members.")
class Household(Node):
    household_id: strawberry.Private[int]

    async def _row(self, info: Info[Context, Any]) -> HouseholdRow | None:
        return await info.context.run(lambda s: s.get(HouseholdRow, self.household_id))

    @strawberry.field
    async def head(self, info: Info[Context, Any]) -> Resident | None:
        row = await self._row(info)
        return await load_resident(info, row.head_resident_id if row else None)

    @strawberry.field(description="FHIR R4B Group of the household's members the client may see.")
    async def fhir(self, info: Info[Context, Any]) -> JSON:
        row = await self._row(info)
        members = await self.members(info)
        shown = {m.resident_id for m in members}
        head = row.head_resident_id if row and row.head_resident_id in shown else None
        return infrastructure.household_group(self.household_id, [m.row for m in members], head)

    @strawberry.field(description="The members the client may see.")
    async def members(self, info: Info[Context, Any]) -> list[Resident]:
        rows = await info.context.run(
            lambda s: repository.household_members(s, self.household_id))
        return await visible_residents(info, rows, "household")
