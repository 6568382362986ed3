# ruff: noqa: E501
"""The low-income and insurance lists as the offices send them, through `hub import` on
both engines: bad rows are refused by row number and the rest imports; the month's list
drives lowIncomeReport; people who left the list lose its categories."""

from __future__ import annotations

import asyncio
import csv
import datetime as dt
import io
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select
from typer.testing import CliRunner

from hub.cli import app
from hub.db import Database
from hub.demo.load import load_demo
from hub.registry import idnumber
from hub.registry.models import Resident, ResidentCategory
from hub.reports.demo import locality
from hub.reports.models import LowIncomeMember
from tests.conftest import Api, LiveServer, create_client_token

HEAD = [
    "乡镇（街道）",
    "村（社区）",
    "户主姓名",
    "户主身份证号",
    "姓名",
    "身份证号",
    "与户主关系",
    "类别",
]


def rows_of(url: str, stmt: Any) -> list[Any]:
    async def go() -> list[Any]:
        db = Database(url)
        try:
            async with db.reader() as s:
                return list((await s.execute(stmt)).all())
        finally:
            await db.dispose()

    return asyncio.run(go())


def hub_cli(url: str, *args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(app, [*args, "--database", url])
    if result.exception and not isinstance(result.exception, SystemExit):
        raise result.exception
    return result.exit_code, result.stdout, result.stderr


@pytest.fixture(scope="module")
def people(db_url: str) -> list[Any]:
    asyncio.run(load_demo(db_url, scale=0.1, regions=("wenzhou",)))
    found = rows_of(
        db_url,
        select(
            Resident.id,
            Resident.name,
            Resident.id_number,
            Resident.address_text,
            Resident.household_id,
        )
        .where(Resident.region_key == "wenzhou")
        .order_by(Resident.id),
    )
    return [p for p in found if (loc := locality(p.address_text)) and loc[0]][:12]


def _list(people: list[Any], extra: list[list[str]] = ()) -> list[list[str]]:  # type: ignore[assignment]
    out = [HEAD]
    for p in people:
        town, village = locality(p.address_text)  # type: ignore[misc]
        head = people[0] if p.household_id == people[0].household_id else p
        out.append([town, village or "", head.name, head.id_number, p.name, p.id_number,
                    "本人" if head is p else "配偶", "低保边缘"])  # fmt: skip
    return out + list(extra)


def _csv(path: Path, table: list[list[str]]) -> Path:
    buf = io.StringIO()
    csv.writer(buf).writerows(table)
    path.write_text(buf.getvalue(), encoding="utf-8-sig")
    return path


def _xlsx(path: Path, table: list[list[str]]) -> Path:
    from openpyxl import Workbook

    wb = Workbook()
    for row in table:
        wb.active.append(row)
    wb.save(path)
    return path


def test_a_list_with_three_bad_rows_imports_the_rest(
    db_url: str, people: list[Any], tmp_path: Path
) -> None:
    newcomer = idnumber.make("330327", dt.date(1961, 4, 5), 31)
    town = locality(people[0].address_text)[0]  # type: ignore[index]
    bad_id = people[1].id_number[:-1] + ("0" if people[1].id_number[-1] != "0" else "1")
    table = _list(
        people[:8],
        [
            [
                town,
                "",
                "林大海",
                newcomer,
                "林大海",
                newcomer,
                "本人",
                "低保",
            ],  # a new resident: row 10
            [
                town,
                "",
                "张三",
                bad_id,
                "张三",
                bad_id,
                "本人",
                "低保",
            ],  # row 11: broken check digit
            [
                "火星镇",
                "",
                "李四",
                newcomer,
                "李四",
                newcomer,
                "本人",
                "低保",
            ],  # row 12: unknown township
            [
                town,
                "",
                "王五",
                people[2].id_number,
                "",
                people[2].id_number,
                "本人",
                "低保",
            ],  # row 13: no name
        ],
    )
    code, out, err = hub_cli(
        db_url,
        "import",
        "low-income",
        str(_csv(tmp_path / "list.csv", table)),
        "--region",
        "wenzhou",
        "--month",
        "2026-11",
    )
    assert code == 0, err
    # (stderr is shared with log lines other servers in this process may write meanwhile)
    lines = [ln for ln in err.strip().splitlines() if ln.startswith("row ")]
    assert [ln.split(":")[0] for ln in lines] == ["row 11", "row 12", "row 13"]
    assert [ln.split()[2] for ln in lines] == [
        "INVALID_ID_NUMBER",
        "UNKNOWN_TOWNSHIP",
        "MISSING_NAME",
    ]
    assert "9 of 12 rows imported" in out and "3 refused" in out
    members = rows_of(
        db_url,
        select(
            LowIncomeMember.resident_id, LowIncomeMember.household_key, LowIncomeMember.township
        ).where(LowIncomeMember.month == "2026-11"),
    )
    assert len(members) == 9
    by_id = {p.id_number: p.id for p in people}
    assert {m.resident_id for m in members} >= {
        by_id[p.id_number] for p in people[:8]
    }  # matched, not duplicated
    cats = {
        r
        for (r,) in rows_of(
            db_url,
            select(ResidentCategory.resident_id).where(
                ResidentCategory.category == "LOW_INCOME_HOUSEHOLD"
            ),
        )
    }
    assert {m.resident_id for m in members} <= cats

    # the report for the month equals a recount of what was imported, as GraphQL shows it
    from hub.app import build_hub, create_app

    token = create_client_token(db_url, f"li-{tmp_path.name}", ["contracts:read"])
    with LiveServer(create_app(build_hub(database_url=db_url))) as live:
        report = Api(live.url, token)("""{ lowIncomeReport(region: "wenzhou", month: "2026-11") {
          total { households persons signedPersons } rows { township persons } } }""")[
            "lowIncomeReport"
        ]
    assert report["total"]["persons"] == 9
    assert report["total"]["households"] == len({m.household_key for m in members})
    assert {r["township"]: r["persons"] for r in report["rows"]} == {
        t: sum(1 for m in members if m.township == t) for t in {m.township for m in members}
    }

    # next month as XLSX, without the last two: they leave the list and lose its category
    code, out, err = hub_cli(
        db_url,
        "import",
        "low-income",
        str(_xlsx(tmp_path / "dec.xlsx", _list(people[:6]))),
        "--region",
        "wenzhou",
        "--month",
        "2026-12",
    )
    assert code == 0, err
    assert (
        "6 of 6 rows imported" in out and "3 left the list" in out
    )  # two listed people and the newcomer
    cats = {
        r
        for (r,) in rows_of(
            db_url,
            select(ResidentCategory.resident_id).where(
                ResidentCategory.category == "LOW_INCOME_HOUSEHOLD"
            ),
        )
    }
    left = {by_id[p.id_number] for p in people[6:8]}
    assert not (left & cats) and {by_id[p.id_number] for p in people[:6]} <= cats

    # nothing importable: exit 1
    code, out, err = hub_cli(
        db_url,
        "import",
        "low-income",
        str(_csv(tmp_path / "bad.csv", [HEAD, [town, "", "x", "1", "", "1", "", "低保"]])),
        "--region",
        "wenzhou",
        "--month",
        "2026-12",
    )
    assert code == 1 and err.startswith("row 2: ")
    code, out, err = hub_cli(
        db_url,
        "import",
        "low-income",
        str(_csv(tmp_path / "h.csv", [["姓名"]])),
        "--region",
        "wenzhou",
        "--month",
        "2026-12",
    )
    assert code == 1 and "MISSING_COLUMNS" in err


def test_insurance_list_updates_the_insurance_type(
    db_url: str, people: list[Any], tmp_path: Path
) -> None:
    p = people[3]
    table = [
        ["身份证号", "姓名", "参保类型", "参保日期", "终止日期"],
        [p.id_number, p.name, "城镇职工", "2026-01-01", ""],
        [p.id_number, p.name, "不知道", "2026-01-01", ""],
    ]
    code, out, err = hub_cli(
        db_url, "import", "insurance", str(_csv(tmp_path / "ins.csv", table)), "--region", "wenzhou"
    )
    assert code == 0, err
    # (stderr is shared with log lines other servers in this process may write meanwhile)
    rows = [ln for ln in err.splitlines() if ln.startswith("row ")]
    assert rows and rows[0].startswith("row 3: UNKNOWN_INSURANCE_TYPE")
    (kind,) = rows_of(db_url, select(Resident.insurance_type).where(Resident.id == p.id))[0]
    assert kind == "URBAN_EMPLOYEE"


def test_an_operator_uploads_the_list_over_http(
    db_url: str, people: list[Any], tmp_path: Path
) -> None:
    import httpx

    from hub.app import build_hub, create_app

    town = locality(people[0].address_text)[0]  # type: ignore[index]
    table = _list(people[:3], [[town, "", "x", "123", "x", "123", "本人", "低保"]])
    body = _xlsx(tmp_path / "up.xlsx", table).read_bytes()
    admin = create_client_token(db_url, f"op-{tmp_path.name}", ["admin"])
    reader = create_client_token(db_url, f"rd-{tmp_path.name}", ["contracts:read"])
    with LiveServer(create_app(build_hub(database_url=db_url))) as live:
        url = f"{live.url}/imports/low-income?region=wenzhou&month=2027-01&filename=up.xlsx"
        r = httpx.post(url, content=body, headers={"Authorization": f"Bearer {admin}"})
        assert r.status_code == 200, r.text
        assert r.json()["imported"] == 3
        assert r.json()["rejectedRows"] == [
            {
                "row": 5,
                "code": "INVALID_ID_NUMBER",
                "message": r.json()["rejectedRows"][0]["message"],
            }
        ]
        denied = httpx.post(url, content=body, headers={"Authorization": f"Bearer {reader}"})
        assert (
            denied.status_code == 403
            and denied.json()["errors"][0]["extensions"]["code"] == "MISSING_SCOPE"
        )


def test_an_operator_uploads_the_list_through_graphql(
    db_url: str, people: list[Any], tmp_path: Path
) -> None:
    import base64

    from hub.app import build_hub, create_app

    town = locality(people[0].address_text)[0]  # type: ignore[index]
    table = _list(
        people[:4], [[town, "", "", people[5].id_number, "", people[5].id_number, "本人", "低保"]]
    )
    content = base64.b64encode(_xlsx(tmp_path / "gq.xlsx", table).read_bytes()).decode()
    mutation = """mutation($input: ImportListInput!) { importLowIncomeList(input: $input) {
      summary imported households rejectedRows { row code message } userErrors { code } } }"""
    variables = {
        "input": {
            "region": "wenzhou",
            "month": "2027-02",
            "fileName": "gq.xlsx",
            "contentBase64": content,
        }
    }
    admin = create_client_token(db_url, f"gq-{tmp_path.name}", ["admin"])
    reader = create_client_token(db_url, f"gr-{tmp_path.name}", ["contracts:read"])
    with LiveServer(create_app(build_hub(database_url=db_url))) as live:
        answer = Api(live.url, admin)(mutation, variables)["importLowIncomeList"]
        assert answer["imported"] == 4 and answer["userErrors"] == []
        assert [(r["row"], r["code"]) for r in answer["rejectedRows"]] == [(6, "MISSING_NAME")]
        denied = Api(live.url, reader)(mutation, variables)["importLowIncomeList"]
        assert denied["userErrors"] == [{"code": "MISSING_SCOPE"}] and denied["imported"] == 0
        report = Api(live.url, admin)(
            '{ lowIncomeReport(region: "wenzhou", month: "2027-02") { total { persons } } }'
        )
        assert report["lowIncomeReport"]["total"]["persons"] == 4
