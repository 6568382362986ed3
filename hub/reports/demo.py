"""What the reports need in the demo (`hub demo` runs it after the districts are loaded):
where residents live (乡镇/村), signed contracts at realistic coverage (about a third of
residents, two thirds of key populations) signed over the last 12 months, referrals over
the last 12 months, and a Wenzhou low-income list for this month and the last.

Rows are bulk-inserted, as the district loader does; fees come from the policy files.
"""

from __future__ import annotations

import datetime as dt
import random
from collections import defaultdict
from typing import Any

from sqlalchemy import insert, select, text
from sqlalchemy.ext.asyncio import AsyncConnection

from hub.contracts.errors import RuleViolation
from hub.contracts.facts import resident_facts
from hub.contracts.fees import package_fees
from hub.contracts.fulfilment import contract_items
from hub.contracts.lifecycle import period_end
from hub.contracts.models import (
    Contract,
    ContractPackage,
    ContractPeriod,
    ContractSequence,
    ServiceDelivery,
)
from hub.contracts.policy import get_policy
from hub.contracts.terms import FrequencyKind, PackageKind
from hub.db import Database, utcnow
from hub.directory.models import Organization
from hub.referrals.models import Referral, ReferralTransition
from hub.registry.models import Resident, ResidentCategory
from hub.reports.locality import locality
from hub.reports.models import LowIncomeMember, ResidentLocality

# The README's examples sign, refer and merge these residents of a fresh demo: left unsigned.
README_RESIDENTS = frozenset({1, 12, 21612, 27011, 27013})
KEY_SHARE, OTHER_SHARE = 0.68, 0.22  # signing probability: key populations, everyone else
BASIC_SHARE = 0.3  # of signers who take the region's paid base package when eligible
REFERRAL_SHARE = 0.03  # of signed residents referred up in the last 12 months
LOW_INCOME_HOUSEHOLDS = 0.08  # of Wenzhou's village households on the low-income list


async def add_report_demo(url: str, *, seed: int = 0, today: dt.date | None = None) -> str:
    today = today or dt.date.today()
    db = Database(url)
    try:
        async with db.engine.begin() as conn:
            counts = await _add(conn, random.Random(seed), today)
    finally:
        await db.dispose()
    return ", ".join(f"{v} {k}" for k, v in counts.items())


async def _add(conn: AsyncConnection, rng: random.Random, today: dt.date) -> dict[str, int]:
    rows = (await conn.execute(select(
        Resident.id, Resident.region_key, Resident.team_id, Resident.organization_id,
        Resident.insurance_type, Resident.birth_date, Resident.address_text,
        Resident.household_id, Resident.id_number, Resident.household_relation,
    ).order_by(Resident.id))).all()  # fmt: skip
    cats: dict[int, list[str]] = defaultdict(list)
    for rid, cat in (
        await conn.execute(select(ResidentCategory.resident_id, ResidentCategory.category))
    ).all():
        cats[rid].append(cat)
    hospitals: dict[str, list[str]] = defaultdict(list)
    for oid, region, kind in (await conn.execute(select(
        Organization.id, Organization.region_key, Organization.kind
    ))).all():  # fmt: skip
        if kind in ("SECONDARY_HOSPITAL", "TERTIARY_HOSPITAL"):
            hospitals[region].append(oid)

    localities = []
    parsed: dict[str, tuple[str, str | None] | None] = {}
    for r in rows:
        if r.address_text not in parsed:
            parsed[r.address_text] = locality(r.address_text)
        loc = parsed[r.address_text]
        if loc and r.region_key:
            localities.append(dict(resident_id=r.id, region_key=r.region_key,
                                   township=loc[0], village=loc[1]))  # fmt: skip
    await _insert(conn, ResidentLocality.__table__, localities)

    contract_id = int(await conn.scalar(text("SELECT coalesce(max(id), 0) FROM contract")) or 0)
    contracts, packages, periods, seq = [], [], [], defaultdict(int)
    signed: list[Any] = []
    deliveries: list[dict[str, Any]] = []
    owed: dict[tuple[Any, ...], list[Any]] = {}
    for r in rows:
        if r.team_id is None or r.region_key is None or r.id in README_RESIDENTS:
            continue
        policy = get_policy(r.region_key)
        stand_in = _Stand(r.birth_date, r.insurance_type)
        facts = resident_facts(stand_in, cats[r.id], today)  # type: ignore[arg-type]
        key = bool(facts.categories & set(policy.key_populations))
        if rng.random() >= (KEY_SHARE if key else OTHER_SHARE):
            continue
        signed_on = today - dt.timedelta(days=rng.randint(0, 364))
        choice = _package(policy, facts, rng)
        if choice is None:
            continue
        code, fees = choice
        contract_id += 1
        region_code = policy.demo_region_code
        seq[(region_code, signed_on.year)] += 1
        ends_on = period_end(signed_on, policy.validity)
        number = f"{region_code}-{signed_on.year}-{seq[(region_code, signed_on.year)]:06d}"
        contracts.append(dict(
            id=contract_id, number=number,
            resident_id=r.id, household_id=r.household_id, team_id=r.team_id,
            organization_id=r.organization_id, region_key=r.region_key, status="ACTIVE",
            signed_on=signed_on, paid_on=signed_on if fees.personal else None, period_no=1,
            starts_on=signed_on, ends_on=ends_on, hospital_ids=[], version=1,
            created_at=utcnow(), updated_at=utcnow(),
        ))  # fmt: skip
        packages.append(dict(
            contract_id=contract_id, code=code, kind=policy.package(code).kind.value,
            chosen_items=[], price=fees.price, public_health_fund=fees.public_health_fund,
            insurance_fund=fees.insurance_fund, personal=fees.personal,
            personal_paid_by=fees.personal_paid_by.value, charge_item=fees.charge_item_zh or None,
        ))  # fmt: skip
        periods.append(dict(
            contract_id=contract_id, period_no=1, starts_on=signed_on, ends_on=ends_on,
            origin="SIGNED", packages=[code], created_at=utcnow(),
            fees={k: str(getattr(fees, k)) for k in
                  ("price", "public_health_fund", "insurance_fund", "personal")},
        ))  # fmt: skip
        signed.append((r, contract_id, signed_on))
        deliveries += _deliveries(rng, policy, code, facts, contract_id, r, signed_on, today, owed)
    await _insert(conn, Contract.__table__, contracts)
    await _insert(conn, ContractPackage.__table__, packages)
    await _insert(conn, ContractPeriod.__table__, periods)
    await _sequences(conn, seq)
    await _insert(conn, ServiceDelivery.__table__, deliveries)

    referrals, transitions = _referrals(rng, signed, hospitals, today)
    await _insert(conn, Referral.__table__, referrals)
    await _insert(conn, ReferralTransition.__table__, transitions)

    members, categories = _low_income(rng, rows, parsed, today, cats)
    await _insert(conn, LowIncomeMember.__table__, members)
    await _insert(conn, ResidentCategory.__table__, categories)
    if conn.dialect.name == "postgresql":
        for table in ("contract", "contract_package", "contract_period", "service_delivery",
                      "referral",
                      "referral_transition", "low_income_member"):  # fmt: skip
            await conn.execute(text(
                f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), "
                f"(SELECT coalesce(max(id), 0) + 1 FROM {table}), false)"
            ))  # fmt: skip
    return {"localities": len(localities), "contracts": len(contracts),
            "service deliveries": len(deliveries),
            "referrals": len(referrals), "low-income members": len(members)}  # fmt: skip


class _Stand:
    """The two resident fields the fee rules read."""

    def __init__(self, birth_date: dt.date | None, insurance_type: str | None) -> None:
        self.birth_date = birth_date
        self.insurance_type = insurance_type


def _deliveries(
    rng: random.Random, policy: Any, code: str, facts: Any, contract_id: int, r: Any,
    signed_on: dt.date, today: dt.date, owed: dict[tuple[Any, ...], list[Any]],
) -> list[dict[str, Any]]:  # fmt: skip
    """Services done so far for items with a yearly count: most teams keep up, some lag."""
    key = (code, facts.categories)
    if key not in owed:
        items = contract_items(policy, [code], facts.categories)
        yearly = FrequencyKind.PER_YEAR
        owed[key] = [it for it in items if it.frequency.kind is yearly and it.frequency.count]
    days = (today - signed_on).days
    out = []
    for it in owed[key]:
        due = round((it.frequency.count or 0) * min(days / 365, 1))
        done = sum(1 for _ in range(due) if rng.random() < 0.8)
        for k in range(done):
            on = signed_on + dt.timedelta(days=rng.randint(0, max(days, 0)))
            out.append(dict(contract_id=contract_id, resident_id=r.id, item_code=it.code,
                            performed_on=on, performer_id=None, source="demo",
                            source_ref=f"demo-{contract_id}-{it.code}-{k}",
                            recorded_at=utcnow()))  # fmt: skip
    return out


def _package(policy: Any, facts: Any, rng: random.Random) -> tuple[str, Any] | None:
    base = [p for p in policy.packages
            if p.kind in (PackageKind.FREE, PackageKind.BASIC) and p.price is not None
            and not p.requires_any_of]  # fmt: skip
    paid = [p for p in base if p.kind is PackageKind.BASIC]
    free = [p for p in base if p.kind is PackageKind.FREE]
    order = (paid + free) if (rng.random() < BASIC_SHARE or not free) else free
    for p in order:
        e = p.eligibility
        if e.insurance_types and facts.insurance_type not in e.insurance_types:
            continue
        if e.categories_any and not facts.categories & set(e.categories_any):
            continue
        try:
            return p.code, package_fees(policy, p.code, facts)
        except RuleViolation:
            continue
    return None


def _referrals(
    rng: random.Random, signed: list[Any], hospitals: dict[str, list[str]], today: dt.date
) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    referrals: list[dict[str, Any]] = []
    transitions: list[dict[str, Any]] = []
    for r, _, signed_on in signed:
        options = hospitals.get(r.region_key)
        if not options or rng.random() >= REFERRAL_SHARE:
            continue
        day = signed_on + dt.timedelta(days=rng.randint(0, max((today - signed_on).days, 0)))
        at = dt.datetime.combine(day, dt.time(8 + rng.randint(0, 8)), tzinfo=dt.UTC)
        accepted = at + dt.timedelta(hours=rng.choice((1, 2, 3, 5, 8, 20, 30, 50)))
        x = rng.random()
        status = (
            "REJECTED"
            if x < 0.08
            else "REQUESTED"
            if x < 0.15
            else ("ACCEPTED" if x < 0.35 else "COMPLETED")
        )
        up = len(referrals) + 1
        referrals.append(dict(
            id=up, direction="UP", status=status, resident_id=r.id, team_id=r.team_id,
            team_organization_id=r.organization_id, hospital_id=rng.choice(options),
            department="内科", reason="演示数据：需上级医院诊治", diagnosis_code="I10",
            urgency="ROUTINE", priorities=[], documents=[], resident_signed=True,
            parent_id=None, created_at=at, updated_at=accepted,
        ))  # fmt: skip
        steps = [(None, "REQUESTED", at)]
        if status == "REJECTED":
            steps.append(("REQUESTED", "REJECTED", accepted))
        elif status != "REQUESTED":
            steps.append(("REQUESTED", "ACCEPTED", accepted))
        if status == "COMPLETED":
            done = accepted + dt.timedelta(days=rng.randint(2, 12))
            steps.append(("ACCEPTED", "COMPLETED", done))
            # a stable patient goes back to the team (下转) half of the time
            if rng.random() < 0.5:
                referrals.append(dict(referrals[-1], id=up + 1, direction="DOWN",
                                      status="COMPLETED", parent_id=up, created_at=done,
                                      updated_at=done,
                                      reason="演示数据：病情稳定，下转康复"))  # fmt: skip
                transitions.append(dict(referral_id=up + 1, from_status=None,
                                        to_status="REQUESTED", at=done, actor="demo"))  # fmt: skip
                transitions.append(dict(referral_id=up + 1, from_status="REQUESTED",
                                        to_status="COMPLETED", at=done, actor="demo"))  # fmt: skip
        for a, b, when in steps:
            transitions.append(dict(referral_id=up, from_status=a, to_status=b, at=when,
                                    actor="demo"))  # fmt: skip
    return referrals, transitions


def _low_income(
    rng: random.Random,
    rows: list[Any],
    parsed: dict[Any, Any],
    today: dt.date,
    stored: dict[int, list[str]],
) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """Wenzhou's list: village households, this month and last (a few left, a few joined)."""
    by_household: dict[int, list[Any]] = defaultdict(list)
    for r in rows:
        if r.region_key == "wenzhou" and r.household_id is not None:
            loc = parsed.get(r.address_text)
            if loc and loc[1] and loc[1].endswith("村"):
                by_household[r.household_id].append(r)
    this = today.replace(day=1)
    last = (this - dt.timedelta(days=1)).replace(day=1)
    members, listed = [], set()
    for hh in sorted(by_household):
        x = rng.random()
        if x >= LOW_INCOME_HOUSEHOLDS:
            continue
        people = by_household[hh]
        head = next((p for p in people if p.household_relation == "SELF"), people[0])
        months = [m for m, keep in ((last, x < LOW_INCOME_HOUSEHOLDS * 0.9),
                                    (this, x > LOW_INCOME_HOUSEHOLDS * 0.05)) if keep]  # fmt: skip
        category = "低保" if x < LOW_INCOME_HOUSEHOLDS * 0.4 else "低保边缘"
        for m in months:
            for p in people:
                loc = parsed[p.address_text]
                members.append(dict(
                    region_key="wenzhou", month=m.strftime("%Y-%m"), resident_id=p.id,
                    household_key=head.id_number, township=loc[0], village=loc[1],
                    relation=p.household_relation, category=category, imported_at=utcnow(),
                ))  # fmt: skip
                if m == this:
                    listed.add(p.id)
    cats = [
        dict(resident_id=rid, category="LOW_INCOME_HOUSEHOLD")
        for rid in sorted(listed)
        if "LOW_INCOME_HOUSEHOLD" not in stored[rid]
    ]
    return members, cats


async def _sequences(conn: AsyncConnection, seq: dict[tuple[str, int], int]) -> None:
    for (code, year), last in seq.items():
        current = await conn.scalar(select(ContractSequence.last).where(
            ContractSequence.region_code == code, ContractSequence.year == year))  # fmt: skip
        if current is None:
            await conn.execute(insert(ContractSequence).values(
                region_code=code, year=year, last=last))  # fmt: skip
        else:
            await conn.execute(ContractSequence.__table__.update().where(
                ContractSequence.region_code == code, ContractSequence.year == year,
            ).values(last=current + last))  # fmt: skip


async def _insert(conn: AsyncConnection, table: Any, rows: list[dict[str, Any]]) -> None:
    for i in range(0, len(rows), 2000):
        await conn.execute(insert(table), rows[i : i + 2000])
