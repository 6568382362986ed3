# ruff: noqa: E501
"""Reports as an integrator sees them, on both engines: every figure equals a recount
through plain queries (or through `residents(filter:)` as the same client), an institution
sees its own rows, bad arguments are typed errors, and the files open with openpyxl."""

from __future__ import annotations

import asyncio
import datetime as dt
import io
from collections import Counter, defaultdict
from collections.abc import Iterator
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

import httpx
import pytest
from sqlalchemy import select

from hub.contracts.models import Contract, ContractPackage
from hub.db import Database
from hub.demo.load import load_demo
from hub.referrals.models import Referral
from hub.registry.models import Resident
from hub.reports.demo import add_report_demo
from hub.reports.models import LowIncomeMember, ResidentLocality
from tests.conftest import Api, LiveServer, create_client_token

TODAY = dt.date.today()
ORG = "panyu-org-001"
COVERAGE = """query($region: String!, $groupBy: CoverageGroupBy!) {
  coverageReport(region: $region, groupBy: $groupBy) { title asOf
    rows { key label residents signed households signedHouseholds coverage householdCoverage target status }
    total { residents signed households signedHouseholds coverage target status } } }"""
COUNT = """query($f: ResidentFilter) { residents(filter: $f, first: 1) { totalCount } }"""


@dataclass
class World:
    url: str
    live: LiveServer
    admin: Api
    bound: Api
    token: str


def rows_of(url: str, stmt: Any) -> list[Any]:
    async def go() -> list[Any]:
        db = Database(url)
        try:
            async with db.reader() as s:
                return list((await s.execute(stmt)).all())
        finally:
            await db.dispose()

    return asyncio.run(go())


@pytest.fixture(scope="module")
def world(db_url: str) -> Iterator[World]:
    from hub.app import build_hub, create_app

    asyncio.run(load_demo(db_url, scale=0.1, regions=("panyu", "wenzhou")))
    asyncio.run(add_report_demo(db_url))
    admin = create_client_token(db_url, "reports-admin", ["residents:read", "contracts:read"])
    bound = create_client_token(db_url, "reports-org", ["residents:read", "contracts:read"], [ORG])
    with LiveServer(create_app(build_hub(database_url=db_url))) as live:
        yield World(db_url, live, Api(live.url, admin), Api(live.url, bound), admin)


def _signed_ids(url: str) -> set[int]:
    return {r for (r,) in rows_of(url, select(Contract.resident_id).where(
        Contract.status == "ACTIVE", Contract.signed_on <= TODAY))}  # fmt: skip


def test_coverage_by_township_and_village_equals_a_recount(world: World) -> None:
    residents = rows_of(world.url, select(Resident.id, Resident.household_id).where(
        Resident.region_key == "panyu", Resident.status == "ACTIVE"))  # fmt: skip
    place = {r: (t, v) for r, t, v in rows_of(world.url, select(
        ResidentLocality.resident_id, ResidentLocality.township, ResidentLocality.village))}  # fmt: skip
    signed = _signed_ids(world.url)
    for group in ("TOWNSHIP", "VILLAGE"):
        expect: dict[str, list[Any]] = defaultdict(lambda: [0, 0, set(), set()])
        for rid, hh in residents:
            t, v = place.get(rid, (None, None))
            key = (t or "") if group == "TOWNSHIP" else f"{t or '未知'}/{v or '未知'}"
            e = expect[key]
            e[0] += 1
            e[2].add(hh or -rid)
            if rid in signed:
                e[1] += 1
                e[3].add(hh or -rid)
        report = world.admin(COVERAGE, {"region": "panyu", "groupBy": group})["coverageReport"]
        got = {r["key"]: (r["residents"], r["signed"], r["households"], r["signedHouseholds"])
               for r in report["rows"]}  # fmt: skip
        assert got == {k: (e[0], e[1], len(e[2]), len(e[3])) for k, e in expect.items()}
        assert len(got) > 3
        total = report["total"]
        assert total["residents"] == len(residents)
        assert total["signed"] == len(signed & {r for r, _ in residents})
        # realistic demo coverage: about a third, and the policy's 30 % target
        assert 0.25 < total["coverage"] < 0.45 and total["target"] == 0.3
        assert total["status"] == ("MET" if total["coverage"] >= 0.3 else "BELOW")


def test_signed_counts_equal_residents_filter_signed_for_each_client(world: World) -> None:
    for api in (world.admin, world.bound):
        for region in ("panyu", "wenzhou"):
            total = api(COVERAGE, {"region": region, "groupBy": "INSTITUTION"})["coverageReport"][
                "total"
            ]
            count = api(COUNT, {"f": {"region": region}})["residents"]["totalCount"]
            signed = api(COUNT, {"f": {"region": region, "signed": True}})["residents"][
                "totalCount"
            ]
            assert (total["residents"], total["signed"]) == (count, signed)


def test_an_institution_sees_its_own_rows_only(world: World) -> None:
    everyone = world.admin(COVERAGE, {"region": "panyu", "groupBy": "INSTITUTION"})[
        "coverageReport"
    ]
    own = world.bound(COVERAGE, {"region": "panyu", "groupBy": "INSTITUTION"})["coverageReport"]
    assert own["total"]["residents"] < everyone["total"]["residents"]
    mine = {r["key"]: r for r in own["rows"]}
    assert (
        mine[ORG]["residents"] == next(r for r in everyone["rows"] if r["key"] == ORG)["residents"]
    )
    # a Wenzhou figure is not this Panyu centre's to see
    wz = world.bound(COVERAGE, {"region": "wenzhou", "groupBy": "TOWNSHIP"})["coverageReport"]
    assert wz["total"]["residents"] == 0 and wz["rows"] == []


def test_key_populations_against_their_target(world: World) -> None:
    report = world.admin(COVERAGE, {"region": "panyu", "groupBy": "CATEGORY"})["coverageReport"]
    rows = {r["key"]: r for r in report["rows"]}
    elderly = rows["ELDERLY_65"]
    born = rows_of(world.url, select(Resident.id, Resident.birth_date).where(
        Resident.region_key == "panyu"))  # fmt: skip
    cutoff = TODAY.replace(year=TODAY.year - 65)
    old = {r for r, b in born if b is not None and b <= cutoff}
    assert elderly["residents"] == len(old)
    assert elderly["signed"] == len(old & _signed_ids(world.url))
    assert elderly["target"] == 0.6 and elderly["status"] in ("MET", "BELOW")
    key = rows["KEY_POPULATIONS"]
    assert 0.55 < key["coverage"] < 0.8  # the demo signs about two thirds of key populations


def test_low_income_report_equals_the_list(world: World) -> None:
    month = TODAY.strftime("%Y-%m")
    members = rows_of(world.url, select(LowIncomeMember.township, LowIncomeMember.household_key,
                                        LowIncomeMember.resident_id).where(
        LowIncomeMember.region_key == "wenzhou", LowIncomeMember.month == month))  # fmt: skip
    assert members, "the demo lists Wenzhou low-income households this month"
    signed = _signed_ids(world.url)
    data = world.admin(
        """query($m: String!) { lowIncomeReport(region: "wenzhou", month: $m) {
      title rows { township households persons signedHouseholds signedPersons personCoverage }
      total { households persons signedHouseholds signedPersons } } }""",
        {"m": month},
    )
    report = data["lowIncomeReport"]
    by_town: dict[str, list[Any]] = defaultdict(lambda: [set(), 0, set(), 0])
    for town, hh, rid in members:
        e = by_town[town]
        e[0].add(hh)
        e[1] += 1
        if rid in signed:
            e[2].add(hh)
            e[3] += 1
    assert {r["township"]: (r["households"], r["persons"], r["signedHouseholds"], r["signedPersons"])
            for r in report["rows"]} == {t: (len(e[0]), e[1], len(e[2]), e[3]) for t, e in by_town.items()}  # fmt: skip
    assert report["total"]["persons"] == len(members)
    assert "低收入农户" in report["title"]


def test_fee_package_and_referral_reports_equal_recounts(world: World) -> None:
    year = str(TODAY.year)
    packages = rows_of(world.url, select(ContractPackage.price, ContractPackage.public_health_fund,
                                         ContractPackage.insurance_fund, ContractPackage.personal)
                       .join(Contract, Contract.id == ContractPackage.contract_id)
                       .where(Contract.region_key == "panyu", Contract.starts_on >= dt.date(TODAY.year, 1, 1),
                              Contract.starts_on <= dt.date(TODAY.year, 12, 31)))  # fmt: skip
    fee = world.admin("""query($p: String) { feeReport(region: "panyu", period: $p) {
      funds { key amount } total { packages price publicHealthFund insuranceFund personal } } }""",
                      {"p": year})["feeReport"]  # fmt: skip
    t = fee["total"]
    assert t["packages"] == len(packages) > 0
    for i, name in enumerate(("price", "publicHealthFund", "insuranceFund", "personal")):
        assert Decimal(str(t[name])) == sum((p[i] for p in packages), Decimal(0))
    assert t["price"] == t["publicHealthFund"] + t["insuranceFund"] + t["personal"]

    contracts = rows_of(world.url, select(Contract.id).where(Contract.region_key == "panyu"))
    pkg = world.admin("""{ packageReport(region: "panyu") { rows { institution code signed }
      total { signed newlySigned } } }""")["packageReport"]  # fmt: skip
    assert pkg["total"]["signed"] == len(contracts)
    assert {r["code"] for r in pkg["rows"]} <= {"PY-FREE", "PY-BASIC-1", "PY-BASIC-2"}

    start = dt.datetime(TODAY.year, 1, 1, tzinfo=dt.UTC)
    refs = rows_of(world.url, select(Referral.direction, Referral.status).where(
        Referral.team_organization_id.like("panyu-%"), Referral.created_at >= start))  # fmt: skip
    ref = world.admin("""query($p: String) { referralReport(region: "panyu", period: $p) {
      directions { key total completed rejected medianHoursToAccept p90HoursToAccept }
      total { total } hospitals { key up down } } }""", {"p": year})["referralReport"]  # fmt: skip
    counts = Counter(d for d, _ in refs)
    assert {r["key"]: r["total"] for r in ref["directions"]} == {
        "UP": counts["UP"],
        "DOWN": counts["DOWN"],
    }
    assert ref["total"]["total"] == len(refs)
    up = next(r for r in ref["directions"] if r["key"] == "UP")
    if up["medianHoursToAccept"] is not None:
        assert up["medianHoursToAccept"] <= up["p90HoursToAccept"]


def test_fulfilment_report_counts_every_signed_resident(world: World) -> None:
    report = world.admin("""{ fulfilmentReport(region: "panyu") {
      teams { teamId contracts required done rate } items { itemCode required done }
      total { contracts required done } } }""")["fulfilmentReport"]  # fmt: skip
    active = rows_of(world.url, select(Contract.id).where(
        Contract.region_key == "panyu", Contract.status == "ACTIVE"))  # fmt: skip
    assert report["total"]["contracts"] == len(active)
    assert sum(t["required"] for t in report["teams"]) == report["total"]["required"]
    assert sum(i["required"] for i in report["items"]) == report["total"]["required"]


def test_bad_arguments_are_typed_errors(world: World) -> None:
    for query, code in (
        ('{ coverageReport(region: "atlantis") { title } }', "UNKNOWN_REGION"),
        ('{ lowIncomeReport(region: "wenzhou", month: "2026-13") { title } }', "INVALID_PERIOD"),
        ('{ feeReport(region: "panyu", period: "last year") { title } }', "INVALID_PERIOD"),
        ('{ packageReport(region: "panyu", quarter: "2026") { title } }', "INVALID_PERIOD"),
    ):
        body = world.admin.raw(query).json()
        assert body["errors"][0]["extensions"]["code"] == code, body
    nobody = create_client_token(world.url, "reports-none", ["residents:read"])
    body = Api(world.live.url, nobody).raw('{ coverageReport(region: "panyu") { title } }').json()
    assert body["errors"][0]["extensions"]["code"] == "MISSING_SCOPE"


def test_exports_open_with_openpyxl_and_match_graphql(world: World) -> None:
    from openpyxl import load_workbook

    http = httpx.Client(base_url=world.live.url, timeout=30)
    auth = {"Authorization": f"Bearer {world.token}"}
    assert http.get("/reports/coverage.xlsx?region=panyu").status_code == 401
    r = http.get("/reports/coverage.xlsx?region=panyu&groupBy=TOWNSHIP", headers=auth)
    assert r.status_code == 200 and r.headers["content-type"].startswith("application/vnd.openxml")
    ws = load_workbook(io.BytesIO(r.content)).active
    assert "签约覆盖情况" in ws["A1"].value
    assert [c.value for c in ws[2]][:5] == [
        "乡镇（街道）",
        "常住人口数",
        "签约人数",
        "户数",
        "签约户数",
    ]
    report = world.admin(COVERAGE, {"region": "panyu", "groupBy": "TOWNSHIP"})["coverageReport"]
    last = [c.value for c in ws[ws.max_row]]
    assert last[0] == "合计" and last[2] == report["total"]["signed"]
    assert ws.cell(row=3, column=6).number_format == "0.00%"
    month = TODAY.strftime("%Y-%m")
    r = http.get(f"/reports/low-income.xlsx?region=wenzhou&month={month}", headers=auth)
    headings = [c.value for c in load_workbook(io.BytesIO(r.content)).active[2]]
    assert headings == ["乡镇（街道）", "低收入农户户数", "低收入农户人数", "签约户数", "签约人数",
                        "户签约率", "人签约率"]  # fmt: skip
    r = http.get("/reports/fee.csv?region=panyu", headers=auth)
    assert r.status_code == 200 and r.content.startswith("\ufeff".encode())
    assert "基本公共卫生经费" in r.content.decode("utf-8-sig")
    bad = http.get("/reports/coverage.csv?region=atlantis", headers=auth)
    assert (
        bad.status_code == 400 and bad.json()["errors"][0]["extensions"]["code"] == "UNKNOWN_REGION"
    )
    assert http.get("/reports/nothing.csv?region=panyu", headers=auth).status_code == 404
