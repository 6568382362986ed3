"""Shared set-up for the contract scenario tests: the demo districts, an admin client, and
ways to pick demo residents and teams straight from the database (assertions go through
GraphQL over HTTP)."""

from __future__ import annotations

import asyncio
import datetime as dt
from collections.abc import Awaitable, Callable, Iterator
from typing import Any, TypeVar

import pytest
from sqlalchemy import and_, exists, func, insert, select
from sqlalchemy.ext.asyncio import AsyncSession

from hub.contracts.models import Contract, ContractStatus
from hub.db import Database
from hub.demo.load import load_demo
from hub.directory.models import Organization, Team
from hub.registry.models import Household, Resident, ResidentCategory
from tests.conftest import Api, LiveServer, create_client_token

T = TypeVar("T")
TODAY = dt.date.today()

CONTRACT_FIELDS = """
  id contractId number status region signedOn startsOn endsOn periodNo
  resident { id residentId signed } team { id code } organization { code }
  packages { code name kind price fees { price publicHealthFund insuranceFund personal personalPaidBy } }
  fees { price publicHealthFund insuranceFund personal personalPaidBy personalByPayer { payer amount } }
  periods { periodNo startsOn endsOn origin packages }
  guardian { name relation }
"""
SIGN = f"""mutation($input: SignContractInput!) {{ signContract(input: $input) {{
  contract {{ {CONTRACT_FIELDS} fhir }}
  contracts {{ {CONTRACT_FIELDS} }}
  userErrors {{ code field message }} }} }}"""
CONTRACT = (
    f"query($id: ID!) {{ contract(id: $id) {{ {CONTRACT_FIELDS} "
    "renewal { packageCodes startsOn } } }"
)


def run(db_url: str, fn: Callable[[AsyncSession], Awaitable[T]], *, write: bool = False) -> T:
    """Run ``fn`` in a session of the test database (committed when ``write``)."""

    async def go() -> T:
        db = Database(db_url)
        try:
            if write:
                async with db.transaction() as session:
                    return await fn(session)
            async with db.reader() as session:
                return await fn(session)
        finally:
            await db.dispose()

    return asyncio.run(go())


def unsigned() -> Any:
    return ~exists().where(
        and_(Contract.resident_id == Resident.id, Contract.status == ContractStatus.ACTIVE.value)
    )


def pick_residents(
    db_url: str,
    region: str,
    *,
    insurance: str | None = None,
    category: str | None = None,
    adult: bool | None = True,
    limit: int = 1,
) -> list[Resident]:
    """Unsigned demo residents of a region, oldest id first."""
    adult_born_before = TODAY.replace(year=TODAY.year - 18)

    async def q(s: AsyncSession) -> list[Resident]:
        stmt = select(Resident).where(
            Resident.region_key == region, Resident.team_id.is_not(None), unsigned()
        )
        if insurance:
            stmt = stmt.where(Resident.insurance_type == insurance)
        if category:
            stmt = stmt.where(
                exists().where(
                    ResidentCategory.resident_id == Resident.id,
                    ResidentCategory.category == category,
                )
            )
        if adult is True:
            stmt = stmt.where(Resident.birth_date <= adult_born_before)
        elif adult is False:
            stmt = stmt.where(Resident.birth_date > adult_born_before)
        return list((await s.scalars(stmt.order_by(Resident.id).limit(limit))).all())

    found = run(db_url, q)
    assert len(found) == limit, f"demo data has too few {region} residents like that"
    return found


def teams_of_region(db_url: str, region: str) -> list[Team]:
    async def q(s: AsyncSession) -> list[Team]:
        stmt = (
            select(Team)
            .join(Organization, Organization.id == Team.organization_id)
            .where(Organization.region_key == region)
            .order_by(Team.id)
        )
        return list((await s.scalars(stmt)).all())

    return run(db_url, q)


def households(db_url: str, region: str) -> list[tuple[Household, list[Resident]]]:
    """Households of a region whose members have no contract, with their members."""

    async def q(s: AsyncSession) -> list[tuple[Household, list[Resident]]]:
        rows = (await s.scalars(select(Household).where(Household.region_key == region))).all()
        out = []
        for h in rows:
            members = list(
                (await s.scalars(select(Resident).where(Resident.household_id == h.id))).all()
            )
            signed = await s.scalar(
                select(func.count())
                .select_from(Contract)
                .where(Contract.resident_id.in_([m.id for m in members]))
            )
            if members and not signed:
                out.append((h, members))
        return out

    return run(db_url, q)


async def add_synthetic_households(s: AsyncSession, region: str, n: int, tag: str) -> list[int]:
    """``n`` one-person households (resident ids returned), for filling a team quickly."""
    now = dt.datetime.now(dt.UTC)
    hids = (
        (
            await s.execute(
                insert(Household).returning(Household.id),
                [dict(code=f"{tag}-{i}", region_key=region, created_at=now) for i in range(n)],
            )
        )
        .scalars()
        .all()
    )
    rids = (
        (
            await s.execute(
                insert(Resident).returning(Resident.id),
                [
                    dict(
                        status="ACTIVE",
                        household_id=h,
                        household_relation="SELF",
                        region_key=region,
                        phones=[],
                        id_number_flags=[],
                        provenance={},
                        created_at=now,
                        updated_at=now,
                    )
                    for h in hids
                ],
            )
        )
        .scalars()
        .all()
    )
    return list(zip(hids, rids, strict=True))  # type: ignore[arg-type]


def events(db_url: str, type_: str, contract_id: int) -> list[Any]:
    from hub.events.models import Event

    async def q(s: AsyncSession) -> list[Any]:
        stmt = select(Event).where(
            Event.type == type_,
            Event.aggregate_type == "Contract",
            Event.aggregate_id == str(contract_id),
        )
        return list((await s.scalars(stmt)).all())

    return run(db_url, q)


def roll_cli(db_url: str, day: str) -> str:
    from typer.testing import CliRunner

    from hub.cli import app

    result = CliRunner().invoke(app, ["contracts", "roll", "--date", day, "--database", db_url])
    assert result.exit_code == 0, result.output
    return result.output


def sign(api: Api, **fields: Any) -> dict[str, Any]:
    return api(SIGN, {"input": fields})["signContract"]


def codes(payload: dict[str, Any]) -> list[str]:
    return [e["code"] for e in payload["userErrors"]]


@pytest.fixture(scope="module")
def demo(db_url: str) -> Iterator[str]:
    """The five demo districts (small), loaded before the server starts."""
    message = asyncio.run(load_demo(db_url, scale=0.02))
    assert message.startswith("loaded")
    yield db_url


@pytest.fixture(scope="module")
def api(demo: str, live: LiveServer) -> Api:
    return Api(live.url, create_client_token(demo, "contracts-admin", ["admin"]))
