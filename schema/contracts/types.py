"""GraphQL types of contracts: Contract, its packages, fees, fulfilment, and TeamLoad."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from decimal import Decimal
from typing import Any

import strawberry
from strawberry.scalars import JSON
from strawberry.types import Info

from hub.access.principal import Scope
from hub.contracts import catalog, delivery, repository, service
from hub.contracts import models as m
from hub.directory.models import Team as TeamRow
from mappings import contract as fhir
from mappings.masking import mask_id, mask_phone
from schema.context import Context
from schema.contracts.packages import ItemStatus, PackageKind, Payer, ServicePackage
from schema.directory.types import Organization, Team, load_organization, load_team
from schema.registry.types import Household, Resident, load_resident
from schema.relay import Node, to_global_id

ContractStatus = strawberry.enum(m.ContractStatus, description="签约状态")
TerminationReason = strawberry.enum(m.TerminationReason, description="解约原因")
PeriodOrigin = strawberry.enum(m.PeriodOrigin, description="How a contract period began")
AbsenceDecision = strawberry.enum(m.AbsenceDecision, description="长期外出: the decision")
ZERO = Decimal("0.00")


@strawberry.type
class PayerShare:
    payer: Payer
    amount: Decimal


@strawberry.type(description="签约服务费: price = publicHealthFund + insuranceFund + personal.")
class Fees:
    price: Decimal
    public_health_fund: Decimal
    insurance_fund: Decimal
    personal: Decimal
    personal_paid_by: Payer | None = strawberry.field(
        description="Who pays the personal share (PERSON when nothing is personal; null when "
        "several payers share it, see personalByPayer)."
    )
    personal_by_payer: list[PayerShare]

    @classmethod
    def of(cls, rows: Sequence[m.ContractPackage]) -> Fees:
        by_payer: dict[str, Decimal] = {}
        for r in rows:
            if r.personal:
                by_payer[r.personal_paid_by] = by_payer.get(r.personal_paid_by, ZERO) + r.personal
        payers = list(by_payer)
        paid_by = Payer(payers[0]) if len(payers) == 1 else (None if payers else Payer.PERSON)
        return cls(
            price=sum((r.price for r in rows), ZERO),
            public_health_fund=sum((r.public_health_fund for r in rows), ZERO),
            insurance_fund=sum((r.insurance_fund for r in rows), ZERO),
            personal=sum((r.personal for r in rows), ZERO),
            personal_paid_by=paid_by,
            personal_by_payer=[PayerShare(payer=Payer(p), amount=a) for p, a in by_payer.items()],
        )  # fmt: skip


@strawberry.type(description="A package on the contract, with this resident's fee split.")
class ContractPackage:
    row: strawberry.Private[m.ContractPackage]
    region: strawberry.Private[str]
    code: str
    kind: PackageKind
    chosen_items: list[str] = strawberry.field(description='Items chosen in "k 选 n" groups.')

    @strawberry.field
    def name(self) -> str | None:
        pkg = self._package()
        return pkg.name if pkg else None

    @strawberry.field
    def name_en(self) -> str | None:
        pkg = self._package()
        return pkg.name_en if pkg else None

    @strawberry.field
    def price(self) -> Decimal:
        return self.row.price

    @strawberry.field
    def fees(self) -> Fees:
        return Fees.of([self.row])

    @strawberry.field(description="The package as the regional policy describes it.")
    def package(self) -> ServicePackage | None:
        return self._package()

    def _package(self) -> ServicePackage | None:
        try:
            pkg = catalog.policy(self.region).package(self.code)
        except KeyError:
            return None
        return ServicePackage.from_model(self.region, pkg)


@strawberry.type(description="履约: one item in one window (contract year, quarter or event).")
class FulfilmentItem:
    item_code: str
    item_name: str
    item_name_en: str
    window_start: dt.date
    window_end: dt.date
    required: int | None
    done: int
    remaining: int
    status: ItemStatus
    trigger: str | None


@strawberry.type(description="A service recorded against the contract.")
class ServiceDelivery:
    id: strawberry.ID
    item_code: str
    performed_on: dt.date
    source: str
    recorded_at: dt.datetime

    @classmethod
    def from_row(cls, r: m.ServiceDelivery) -> ServiceDelivery:
        return cls(
            id=strawberry.ID(to_global_id("ServiceDelivery", r.id)),
            item_code=r.item_code,
            performed_on=r.performed_on,
            source=r.source,
            recorded_at=r.recorded_at,
        )


@strawberry.type(description="One period the contract ran.")
class ContractPeriod:
    period_no: int
    starts_on: dt.date
    ends_on: dt.date
    origin: PeriodOrigin
    packages: list[str]


@strawberry.type(description="A paid or re-signed renewal, applied the day after endsOn.")
class ContractRenewal:
    package_codes: list[str]
    paid_on: dt.date | None
    starts_on: dt.date


@strawberry.type(description="长期外出 as the resident reported it.")
class LongAbsence:
    since: dt.date
    decision: AbsenceDecision
    recorded_at: dt.datetime | None
    long: bool = strawberry.field(description="Away longer than the policy's threshold today.")


@strawberry.type(description="解约: when and why.")
class Termination:
    reason: TerminationReason
    note: str | None
    at: dt.datetime | None


@strawberry.type(description="监护人 who signed for the resident.")
class ContractGuardian:
    name: str | None
    relation: str | None
    phone: str | None
    id_number: str | None
    resident_id: strawberry.Private[int | None]

    @strawberry.field(description="The guardian as a resident, when known (the household head).")
    async def resident(self, info: Info[Context, Any]) -> Resident | None:
        return await load_resident(info, self.resident_id, via=Scope.CONTRACTS_READ)


async def _children(info: Info[Context, Any], name: str, fetch: Any, key: int) -> list[Any]:
    async def batch(session: Any, keys: list[int]) -> list[Any]:
        found = await fetch(session, keys)
        return [found[k] for k in keys]

    return await info.context.loader(name, batch).load(key)


async def contract_packages(info: Info[Context, Any], contract_id: int) -> list[m.ContractPackage]:
    return await _children(info, "ContractPackages", repository.packages, contract_id)


@strawberry.type(description="签约协议: a resident's contract with a family doctor team.")
class Contract(Node):
    row: strawberry.Private[m.Contract]
    contract_id: int = strawberry.field(description="The hub's numeric id (the FHIR Contract id).")
    number: str = strawberry.field(description="签约号: region code, year and sequence.")
    status: ContractStatus
    region: str
    signed_on: dt.date
    paid_on: dt.date | None
    starts_on: dt.date = strawberry.field(description="First day of the current period.")
    ends_on: dt.date = strawberry.field(description="Last day of the current period (inclusive).")
    period_no: int
    ended_on: dt.date | None

    @classmethod
    def from_row(cls, r: m.Contract) -> Contract:
        return cls(
            row=r, id=strawberry.ID(to_global_id("Contract", r.id)), contract_id=r.id,
            number=r.number, status=ContractStatus(r.status), region=r.region_key,
            signed_on=r.signed_on, paid_on=r.paid_on, starts_on=r.starts_on, ends_on=r.ends_on,
            period_no=r.period_no, ended_on=r.ended_on,
        )  # fmt: skip

    @strawberry.field
    async def resident(self, info: Info[Context, Any]) -> Resident | None:
        return await load_resident(info, self.row.resident_id, via=Scope.CONTRACTS_READ)

    @strawberry.field
    async def team(self, info: Info[Context, Any]) -> Team | None:
        return await load_team(info, self.row.team_id)

    @strawberry.field(description="甲方: the primary-care institution of the team.")
    async def organization(self, info: Info[Context, Any]) -> Organization | None:
        return await load_organization(info, self.row.organization_id)

    @strawberry.field(description="The household, when its head signed for it.")
    def household(self) -> Household | None:
        h = self.row.household_id if self.row.signed_by_id is not None else None
        return (
            None
            if h is None
            else Household(id=strawberry.ID(to_global_id("Household", h)), household_id=h)
        )

    @strawberry.field(description="The household head who signed for the members.")
    async def signed_by(self, info: Info[Context, Any]) -> Resident | None:
        return await load_resident(info, self.row.signed_by_id, via=Scope.CONTRACTS_READ)

    @strawberry.field
    def guardian(self, info: Info[Context, Any]) -> ContractGuardian | None:
        g, pii = self.row.guardian, info.context.sees_pii
        if not g:
            return None
        return ContractGuardian(
            name=g.get("name"), relation=g.get("relation"),
            phone=g.get("phone") if pii else mask_phone(g.get("phone")),
            id_number=g.get("id_number") if pii else mask_id(g.get("id_number")),
            resident_id=g.get("resident_id"),
        )  # fmt: skip

    @strawberry.field
    async def packages(self, info: Info[Context, Any]) -> list[ContractPackage]:
        rows = await contract_packages(info, self.row.id)
        return [ContractPackage(row=r, region=self.row.region_key, code=r.code,
                                kind=PackageKind(r.kind), chosen_items=list(r.chosen_items))
                for r in rows]  # fmt: skip

    @strawberry.field(description="Fees of the current period, split by fund.")
    async def fees(self, info: Info[Context, Any]) -> Fees:
        return Fees.of(await contract_packages(info, self.row.id))

    @strawberry.field(description='Hospitals chosen for combination signing ("1+1+1" / "1+1+N").')
    async def hospitals(self, info: Info[Context, Any]) -> list[Organization]:
        found = [await load_organization(info, h) for h in self.row.hospital_ids]
        return [o for o in found if o is not None]

    @strawberry.field(
        description="履约 of the current period: per item and contract year (or "
        "quarter), required vs done and what is due or overdue as of asOf (today)."
    )
    async def fulfilment(
        self, info: Info[Context, Any], as_of: dt.date | None = None
    ) -> list[FulfilmentItem]:
        day = as_of or dt.date.today()
        lines = await info.context.run(lambda s: delivery.fulfilment(s, self.row, as_of=day))
        return [
            FulfilmentItem(
                item_code=ln.item.code, item_name=ln.item.name_zh, item_name_en=ln.item.name_en,
                window_start=_day(ln.progress.window_start),
                window_end=_day(ln.progress.window_end),
                required=ln.progress.required, done=ln.progress.done,
                remaining=ln.progress.remaining, status=ln.progress.status,
                trigger=ln.progress.trigger)
            for ln in lines
        ]  # fmt: skip

    @strawberry.field(description="Services recorded against the contract.")
    async def deliveries(self, info: Info[Context, Any]) -> list[ServiceDelivery]:
        rows = await _children(info, "ContractDeliveries", repository.deliveries, self.row.id)
        return [ServiceDelivery.from_row(r) for r in rows]

    @strawberry.field
    async def periods(self, info: Info[Context, Any]) -> list[ContractPeriod]:
        rows = await _children(info, "ContractPeriods", repository.periods, self.row.id)
        return [ContractPeriod(period_no=p.period_no, starts_on=p.starts_on, ends_on=p.ends_on,
                               origin=PeriodOrigin(p.origin), packages=list(p.packages))
                for p in rows]  # fmt: skip

    @strawberry.field
    def renewal(self) -> ContractRenewal | None:
        r = self.row.renewal
        if not r:
            return None
        paid = r.get("paid_on")
        return ContractRenewal(
            package_codes=list(r.get("packages") or []),
            paid_on=dt.date.fromisoformat(paid) if paid else None,
            starts_on=self.row.ends_on + dt.timedelta(days=1),
        )

    @strawberry.field
    def long_absence(self) -> LongAbsence | None:
        r = self.row
        if r.away_since is None or r.absence_decision is None:
            return None
        from hub.contracts.rules import is_long_absence

        long = is_long_absence(catalog.policy(r.region_key), r.away_since, dt.date.today())
        return LongAbsence(
            since=r.away_since,
            decision=AbsenceDecision(r.absence_decision),
            recorded_at=r.absence_recorded_at,
            long=long,
        )

    @strawberry.field
    def termination(self) -> Termination | None:
        r = self.row
        if r.termination_reason is None:
            return None
        return Termination(
            reason=TerminationReason(r.termination_reason),
            note=r.termination_note,
            at=r.terminated_at,
        )

    @strawberry.field(description="FHIR R4B Contract; the enrolment is a contained EpisodeOfCare.")
    async def fhir(self, info: Info[Context, Any]) -> JSON:
        rows = await contract_packages(info, self.row.id)
        policy = catalog.policy(self.row.region_key)
        names = {p.code: p.name_zh for p in policy.packages}
        return fhir.contract(self.row, rows, names)


def _day(value: dt.date | dt.datetime) -> dt.date:
    return value.date() if isinstance(value, dt.datetime) else value


@strawberry.type(description="签约负荷: households and persons signed with a team vs its capacity.")
class TeamLoad:
    households: int
    persons: int
    capacity_households: int | None = strawberry.field(
        description="The lower of the team's own capacity and the policy's household cap."
    )
    capacity_persons: int | None = strawberry.field(description="The policy's per-person cap.")

    @strawberry.field
    def available_households(self) -> int | None:
        cap = self.capacity_households
        return None if cap is None else max(cap - self.households, 0)

    @strawberry.field(description="No room for another household (or person).")
    def full(self) -> bool:
        households, persons = self.capacity_households, self.capacity_persons
        return (households is not None and self.households >= households) or (
            persons is not None and self.persons >= persons
        )


async def team_load(info: Info[Context, Any], team: TeamRow) -> TeamLoad:
    """For ``Team.load``: batched over the teams of a request."""

    async def batch(session: Any, keys: list[str]) -> list[Any]:
        from hub.directory.service import get_many

        teams = await get_many(session, TeamRow, keys)
        views = await service.team_loads(session, [teams[k] for k in keys if k in teams])
        return [views.get(k) for k in keys]

    view = await info.context.loader("TeamLoads", batch).load(team.id)
    return TeamLoad(
        households=view.households,
        persons=view.persons,
        capacity_households=view.max_households,
        capacity_persons=view.max_persons,
    )


async def resident_contracts(info: Info[Context, Any], resident_id: int) -> list[Contract]:
    """For ``Resident.contracts`` (newest first); needs contracts:read."""
    from hub.access.principal import Scope

    info.context.principal.require(Scope.CONTRACTS_READ)
    rows = await _children(info, "ResidentContracts", repository.of_residents, resident_id)
    return [Contract.from_row(r) for r in rows]


async def resident_signed(info: Info[Context, Any], resident_id: int) -> bool:
    """For ``Resident.signed``: has an active contract."""
    rows = await _children(info, "ResidentContracts", repository.of_residents, resident_id)
    return any(r.status == m.ContractStatus.ACTIVE for r in rows)


async def load_contract(info: Info[Context, Any], raw: str) -> Contract | None:
    """A contract by raw id, when visible to the caller (``node(id:)``)."""
    from hub.errors import NotFound

    ctx = info.context
    try:
        row = await ctx.run(lambda s: service.get(s, ctx.principal, int(raw)))
    except (NotFound, ValueError):
        return None
    ctx.audit_read("contract", row.resident_id)
    return Contract.from_row(row)
