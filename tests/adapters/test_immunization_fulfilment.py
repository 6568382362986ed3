"""A valid dose counts toward the child package's immunization item (履约), on both engines:
a signed 9-month-old in Yongkang (YK-CHILD owes IMMUNIZATION) gets `contract.fulfilment`
done incremented by a valid MMR dose 1 from the immunization system — not by an invalid
early HepA-L dose (before the minimum age), not by doses given before signing, and not twice
when the record is re-sent."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from sqlalchemy import select

from adapters.immunization.translate import Vaccination
from hub.access.principal import system
from hub.contracts.models import ServiceDelivery
from hub.immunization.schedule import add_months
from hub.immunization.service import SubjectCommand, record_subject
from hub.registry.idnumber import make
from mappings.immunization.fulfilment import item_for
from tests.e2e.contract_support import api, demo, run, sign, teams_of_region  # noqa: F401

TODAY = dt.date.today()
BORN = add_months(TODAY, -9)
ID = make("330784", BORN, 533)
GIVEN = [("HepB", 0), ("BCG", 0), ("HepB", 1), ("IPV", 2), ("IPV", 3), ("DTaP", 3),
         ("DTaP", 4), ("bOPV", 4), ("DTaP", 5), ("HepB", 6), ("MPSV-A", 6)]  # fmt: skip
CHILD = {"name": "胡子墨", "sex": "1", "birth_date": BORN, "id_number": ID}
FULFILMENT = """query($id: ID!) { resident(id: $id) { contracts { status
  fulfilment { itemCode done } } } }"""


def _dose(n: str, vaccine: str, on: dt.date) -> Vaccination:
    return Vaccination(f"T-IMF-{n}", "0000", vaccine, on, trace_code="2" * 20,
                       unit="永康市东城街道社区卫生服务中心预防接种门诊")  # fmt: skip


def _send(db_url: str, version: int, doses: list[Vaccination]) -> dict[str, Any]:
    command = SubjectCommand("T-IMF-1", version, CHILD, {}, doses)

    async def go(s: Any) -> dict[str, Any]:
        from hub.core import build_hub

        hub = build_hub(database_url=db_url)
        try:
            return await record_subject(s, system("adapter:immunization"), hub.registry, command)
        finally:
            await hub.db.dispose()

    return run(db_url, go, write=True)


def _done(api: Any, rid: int) -> int:  # noqa: F811
    contracts = api(FULFILMENT, {"id": str(rid)})["resident"]["contracts"]
    (active,) = [c for c in contracts if c["status"] == "ACTIVE"]
    (line,) = [f for f in active["fulfilment"] if f["itemCode"] == "IMMUNIZATION"]
    done: int = line["done"]
    return done


HISTORY = [_dose(str(n), v, add_months(BORN, m)) for n, (v, m) in enumerate(GIVEN)]


@pytest.fixture(scope="module")
def child(api: Any, demo: str) -> int:  # noqa: F811
    team = teams_of_region(demo, "yongkang")[0]
    out = api("""mutation($in: ResidentRecordInput!) { submitResidentRecord(input: $in) {
        resident { residentId } userErrors { code message } } }""",
        {"in": {"source": "maternal", "sourceId": "birth:T-IMF-1", "name": "胡子墨", "sex": "1",
                "birthDate": BORN.isoformat(), "idNumber": ID,
                "address": "浙江省永康市东城街道胜利路3号"}})["submitResidentRecord"]  # fmt: skip
    assert out["userErrors"] == [], out
    rid: int = out["resident"]["residentId"]
    signed = sign(api, residentId=str(rid), teamId=team.id, packageCodes=["YK-NO-FEE"],
                  guardian={"name": "胡丽娟", "relation": "MOTHER", "phone": "13800138124",
                            "idNumber": make("330784", dt.date(1993, 3, 2), 324)})  # fmt: skip
    assert signed["userErrors"] == [], signed
    return rid


def test_the_mapping_names_the_regions_immunization_item() -> None:
    assert item_for("yongkang") == "IMMUNIZATION" and item_for("nowhere") is None


def test_a_valid_dose_counts_once_an_invalid_early_one_and_a_resend_do_not(api, demo, child):  # noqa: F811
    first = _send(demo, 1, HISTORY)  # all given before the contract was signed
    assert first["resident_id"] == child and first["deliveries"] == 0
    assert _done(api, child) == 0

    early = _dose("HEPA", "HepA-L", TODAY)  # before its minimum age (18 months): not valid
    mmr = _dose("MMR", "MMR", TODAY)  # MMR dose 1 at 9 months: valid
    second = _send(demo, 2, [*HISTORY, early, mmr])
    assert second["deliveries"] == 1
    assert _done(api, child) == 1

    again = _send(demo, 3, [*HISTORY, early, mmr])  # the same record, re-sent
    assert again["new_doses"] == 0
    assert _done(api, child) == 1

    async def rows(s: Any) -> list[str | None]:
        found = await s.scalars(select(ServiceDelivery.source_ref).where(
            ServiceDelivery.resident_id == child, ServiceDelivery.source == "immunization"))  # fmt: skip
        return list(found)

    assert run(demo, rows) == ["dose:T-IMF-MMR"]
