"""Contract mutations: sign, change team, terminate, renew, long absence, service delivery."""

from __future__ import annotations

import datetime as dt
from typing import Any

import strawberry
from strawberry.types import Info

from hub.contracts import changes, delivery, repository, service
from schema.context import Context
from schema.contracts.types import AbsenceDecision, Contract, ServiceDelivery, TerminationReason
from schema.errors import UserError
from schema.relay import from_global_id, int_id


def _code(gid: strawberry.ID, type_name: str) -> str:
    return from_global_id(str(gid), type_name)[1]


@strawberry.input(
    description="监护人 signing for a minor, a person with a severe mental disorder "
    "or a severely disabled person."
)
class GuardianInput:
    name: str
    relation: str | None = None
    phone: str | None = None
    id_number: str | None = None


@strawberry.input(description='The items chosen in a package\'s "k 选 n" group.')
class ChosenItemsInput:
    package_code: str
    item_codes: list[str]


@strawberry.input(
    description="签约: give residentId, or householdId for the head to sign for "
    "the members (each member gets a contract)."
)
class SignContractInput:
    team_id: strawberry.ID
    package_codes: list[str]
    resident_id: strawberry.ID | None = None
    household_id: strawberry.ID | None = None
    member_ids: list[strawberry.ID] | None = strawberry.field(
        default=None, description="Household signing: only these members (default: all)."
    )
    signed_on: dt.date | None = strawberry.field(default=None, description="Default: today.")
    paid_on: dt.date | None = strawberry.field(
        default=None,
        description="Day the personal share was paid (default: signedOn for fee "
        "signing); Yongkang's fee signing starts on it.",
    )
    guardian: GuardianInput | None = None
    hospital_ids: list[strawberry.ID] | None = strawberry.field(
        default=None, description='Combination signing hospitals ("1+1+1" / "1+1+N").'
    )
    chosen_items: list[ChosenItemsInput] | None = None

    def command(self) -> service.SignCommand:
        g = self.guardian
        return service.SignCommand(
            team_id=_code(self.team_id, "Team"),
            package_codes=list(self.package_codes),
            resident_id=int_id(self.resident_id, "Resident") if self.resident_id else None,
            household_id=int_id(self.household_id, "Household") if self.household_id else None,
            member_ids=[int_id(i, "Resident") for i in self.member_ids]
            if self.member_ids is not None else None,
            signed_on=self.signed_on, paid_on=self.paid_on,
            guardian={"name": g.name, "relation": g.relation, "phone": g.phone,
                      "id_number": g.id_number} if g else None,
            hospital_ids=[_code(h, "Organization") for h in self.hospital_ids or []],
            chosen_items={c.package_code: list(c.item_codes) for c in self.chosen_items or []},
        )  # fmt: skip


@strawberry.type
class SignContractPayload:
    contract: Contract | None = strawberry.field(
        description="The resident's contract (household signing: the head's, or the first)."
    )
    contracts: list[Contract] = strawberry.field(description="Every contract signed.")
    user_errors: list[UserError]


@strawberry.type
class ContractPayload:
    contract: Contract | None
    user_errors: list[UserError]


@strawberry.type
class RecordServiceDeliveryPayload:
    contract: Contract | None
    delivery: ServiceDelivery | None
    user_errors: list[UserError]


def _payload(row: Any, errors: list[UserError]) -> ContractPayload:
    return ContractPayload(contract=Contract.from_row(row) if row else None, user_errors=errors)


@strawberry.type
class ContractsMutation:
    @strawberry.mutation(description="签约 for a resident or a household.")
    async def sign_contract(
        self, info: Info[Context, Any], input: SignContractInput
    ) -> SignContractPayload:
        ctx = info.context
        rows, errors = await ctx.write(lambda s: service.sign(s, ctx.principal, input.command()))
        contracts = [Contract.from_row(r) for r in rows or []]
        head = next((c for c in contracts if c.row.signed_by_id == c.row.resident_id), None)
        return SignContractPayload(
            contract=head or (contracts[0] if contracts else None),
            contracts=contracts,
            user_errors=errors,
        )

    @strawberry.mutation(description="变更签约团队 within the same institution during validity.")
    async def change_contract_team(
        self,
        info: Info[Context, Any],
        contract_id: strawberry.ID,
        team_id: strawberry.ID,
        reason: str | None = None,
    ) -> ContractPayload:
        ctx = info.context
        row, errors = await ctx.write(
            lambda s: changes.change_team(
                s,
                ctx.principal,
                int_id(contract_id, "Contract"),
                _code(team_id, "Team"),
                reason=reason,
            )
        )
        return _payload(row, errors)

    @strawberry.mutation(description="解约: reason and note are recorded; nothing is refunded.")
    async def terminate_contract(
        self,
        info: Info[Context, Any],
        contract_id: strawberry.ID,
        reason: TerminationReason,
        note: str | None = None,
        terminated_at: dt.datetime | None = None,
    ) -> ContractPayload:
        ctx = info.context
        row, errors = await ctx.write(
            lambda s: changes.terminate(
                s,
                ctx.principal,
                int_id(contract_id, "Contract"),
                reason.value,
                note=note,
                at=terminated_at,
            )
        )
        return _payload(row, errors)

    @strawberry.mutation(
        description="续约: record a paid or re-signed renewal (default: the same "
        "packages); the next period starts the day after endsOn."
    )
    async def renew_contract(
        self,
        info: Info[Context, Any],
        contract_id: strawberry.ID,
        package_codes: list[str] | None = None,
        paid_on: dt.date | None = None,
        chosen_items: list[ChosenItemsInput] | None = None,
    ) -> ContractPayload:
        ctx = info.context
        chosen = {c.package_code: list(c.item_codes) for c in chosen_items or []}
        row, errors = await ctx.write(
            lambda s: changes.renew(
                s,
                ctx.principal,
                int_id(contract_id, "Contract"),
                package_codes,
                paid_on=paid_on,
                chosen_items=chosen,
            )
        )
        return _payload(row, errors)

    @strawberry.mutation(description="长期外出: record a long absence and the resident's decision.")
    async def record_long_absence(
        self,
        info: Info[Context, Any],
        contract_id: strawberry.ID,
        since: dt.date,
        decision: AbsenceDecision,
        note: str | None = None,
    ) -> ContractPayload:
        ctx = info.context
        row, errors = await ctx.write(
            lambda s: changes.record_long_absence(
                s, ctx.principal, int_id(contract_id, "Contract"), since, decision.value, note=note
            )
        )
        return _payload(row, errors)

    @strawberry.mutation(description="履约: record a service of a package item delivered.")
    async def record_service_delivery(
        self,
        info: Info[Context, Any],
        contract_id: strawberry.ID,
        item_code: str,
        performed_on: dt.date,
        performer_id: strawberry.ID | None = None,
        source_ref: str | None = None,
        # an attended (ARRIVED) appointment it happened at: recorded once for it
        appointment_id: strawberry.ID | None = None,
    ) -> RecordServiceDeliveryPayload:
        ctx = info.context

        async def run(s: Any) -> tuple[Any, Any]:
            cid = int_id(contract_id, "Contract")
            aid = int_id(appointment_id, "Appointment") if appointment_id else None
            row = await delivery.record_service_delivery(
                s,
                ctx.principal,
                cid,
                item_code=item_code,
                performed_on=performed_on,
                performer_id=_code(performer_id, "Practitioner") if performer_id else None,
                # Per client, so one client's sourceRef never matches another's.
                source=f"api:{ctx.principal.client_id or ctx.principal.name}"[:40],
                source_ref=source_ref,
                appointment_id=aid,
            )
            return row, await repository.get(s, cid)

        result, errors = await ctx.write(run)
        if result is None:
            return RecordServiceDeliveryPayload(contract=None, delivery=None, user_errors=errors)
        row, contract = result
        return RecordServiceDeliveryPayload(
            contract=Contract.from_row(contract),
            delivery=ServiceDelivery.from_row(row),
            user_errors=[],
        )
