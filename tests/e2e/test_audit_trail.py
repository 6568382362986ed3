"""The privacy audit trail over real HTTP and the CLI: a read by one client is listed for the
privacy officer, in GraphQL and FHIR form; the chain finds an edited or removed row; pruning
keeps it verifiable; appends from many concurrent transactions never fork it."""

from __future__ import annotations

import asyncio
import datetime as dt
from typing import Any

import pytest
from fhir.resources.R4B.auditevent import AuditEvent as FhirAuditEvent
from sqlalchemy import text
from typer.testing import CliRunner

from hub.registry.idnumber import make
from tests.conftest import Api, LiveServer, create_client_token

SUBMIT = """mutation($input: ResidentRecordInput!) { submitResidentRecord(input: $input) {
  resident { residentId } userErrors { code } } }"""
EVENTS = """query($r: Int, $c: Int, $first: Int, $after: String) {
  auditEvents(residentId: $r, clientId: $c, first: $first, after: $after) {
    totalCount pageInfo { hasNextPage endCursor }
    edges { node { at clientId clientName operation action residentIds requestId fhir } } } }"""


def sql(url: str, statement: str) -> None:
    from hub.db import Database

    async def run() -> None:
        db = Database(url)
        try:
            async with db.transaction() as session:
                await session.execute(text(statement))
        finally:
            await db.dispose()

    asyncio.run(run())


def cli(url: str, *args: str) -> Any:
    from hub.cli import app

    return CliRunner().invoke(app, [*args, "--database", url])


@pytest.fixture(scope="module")
def residents(live: LiveServer, db_url: str) -> list[int]:
    admin = Api(live.url, create_client_token(db_url, "audit-admin", ["admin"]))
    ids = []
    for i, (name, born) in enumerate([("张三", dt.date(1960, 1, 2)), ("李四", dt.date(1970, 5, 6))]):
        record = {"source": "his", "sourceId": f"AUD-{i}", "name": name, "sex": "1",
                  "birthDate": born.isoformat(), "idNumber": make("440113", born, 11 + 2 * i)}
        out = admin(SUBMIT, {"input": record})["submitResidentRecord"]
        assert out["userErrors"] == []
        ids.append(out["resident"]["residentId"])
    return ids


def test_a_read_is_listed_for_the_privacy_officer(
    live: LiveServer, db_url: str, residents: list[int]
) -> None:
    reader = Api(live.url, create_client_token(db_url, "audit-reader-app", ["residents:read"]))
    reader.http.headers["X-Request-Id"] = "req-audit-1"
    reader("query($id: ID!) { resident(id: $id) { name } }",
           {"id": _gid("Resident", residents[0])})  # fmt: skip
    officer = Api(live.url, create_client_token(db_url, "privacy-officer", ["audit:read"]))
    for _ in range(50):  # reads are written by the background batch writer
        found = officer(EVENTS, {"r": residents[0]})["auditEvents"]
        reads = [e["node"] for e in found["edges"] if e["node"]["clientName"] == "audit-reader-app"]
        if reads:
            break
        asyncio.run(asyncio.sleep(0.05))
    assert reads, found
    event = reads[0]
    assert event["action"] == "READ" and event["operation"] == "resident"
    assert event["residentIds"] == [residents[0]] and event["requestId"] == "req-audit-1"
    assert event["clientId"] is not None
    FhirAuditEvent.model_validate(event["fhir"])  # a valid R4B AuditEvent
    assert {"reference": f"Patient/{residents[0]}"} in [e["what"] for e in event["fhir"]["entity"]]
    # the other resident's trail does not contain it
    other = officer(EVENTS, {"r": residents[1]})["auditEvents"]["edges"]
    assert all(e["node"]["clientName"] != "audit-reader-app" for e in other)
    # pages: first/after
    page = officer(EVENTS, {"first": 1})["auditEvents"]
    assert page["pageInfo"]["hasNextPage"] and len(page["edges"]) == 1
    nxt = officer(EVENTS, {"first": 1, "after": page["pageInfo"]["endCursor"]})["auditEvents"]
    assert nxt["edges"][0]["node"] != page["edges"][0]["node"]
    # the CLI shows the same trail
    shown = cli(db_url, "audit", "show", "--resident", str(residents[0]))
    assert shown.exit_code == 0 and "audit-reader-app" in shown.output


def test_audit_read_is_an_operator_scope(
    live: LiveServer, db_url: str, residents: list[int]
) -> None:
    plain = Api(live.url, create_client_token(db_url, "no-audit", ["residents:read"]))
    body = plain.raw(EVENTS, {"r": residents[0]}).json()
    assert body["errors"][0]["extensions"]["code"] == "MISSING_SCOPE"
    # a client bound to an organization sees only residents it may see, one at a time
    admin = Api(live.url, create_client_token(db_url, "audit-admin-2", ["admin"]))
    admin('mutation { upsertOrganization(input: {code: "AUD-CHC", name: "审计测试中心", '
          'kind: COMMUNITY_HEALTH_CENTER, region: "panyu", regionCode: "440113"}) '
          "{ userErrors { code } } }")  # fmt: skip
    org = admin('{ organizations(first: 50) { edges { node { id code } } } }')
    org_id = next(e["node"]["id"] for e in org["organizations"]["edges"]
                  if e["node"]["code"] == "AUD-CHC")  # fmt: skip
    from schema.relay import from_global_id

    bound = Api(live.url, create_client_token(db_url, "bound-officer", ["audit:read"],
                                              [from_global_id(org_id)[1]]))  # fmt: skip
    body = bound.raw(EVENTS, {"r": residents[0]}).json()
    assert body["errors"][0]["extensions"]["code"] == "NOT_FOUND"  # invisible = nonexistent
    body = bound.raw(EVENTS, {}).json()
    assert body["errors"][0]["extensions"]["code"] == "RESIDENT_REQUIRED"


def test_verify_finds_an_edited_or_removed_row(db_url: str, residents: list[int]) -> None:
    ok = cli(db_url, "audit", "verify")
    assert ok.exit_code == 0 and "audit chain ok" in ok.output, ok.output
    # edit a row: its hash no longer matches
    sql(db_url, "UPDATE audit_event SET operation = 'innocent' WHERE id = "
                "(SELECT MIN(id) FROM audit_event)")  # fmt: skip
    broken = cli(db_url, "audit", "verify")
    assert broken.exit_code == 1 and "edited" in broken.output
    sql(db_url, "UPDATE audit_event SET operation = 'submitResidentRecord' WHERE id = "
                "(SELECT MIN(id) FROM audit_event)")  # fmt: skip
    assert cli(db_url, "audit", "verify").exit_code == 0
    # remove the last row: the head no longer matches
    sql(db_url, "DELETE FROM audit_event WHERE id = (SELECT MAX(id) FROM audit_event)")
    gone = cli(db_url, "audit", "verify")
    assert gone.exit_code == 1 and "removed" in gone.output


def test_concurrent_appends_and_pruning_keep_the_chain(db_url: str) -> None:
    from sqlalchemy import select

    from hub.access.audit import prune, verify
    from hub.access.principal import Principal
    from hub.access.service import audit
    from hub.db import Database

    async def run() -> tuple[Any, Any, int, Any]:
        db = Database(db_url)
        try:
            async with db.transaction() as session:  # repair what the test before broke
                from hub.access.audit import AuditChainHead, row_hash
                from hub.access.models import AuditEvent

                rows = list(await session.scalars(select(AuditEvent).order_by(AuditEvent.id)))
                head = await session.get(AuditChainHead, 1)
                prev = head.pruned_hash
                for r in rows:
                    r.prev_hash, r.hash = prev, row_hash(prev, dict(
                        at=r.at, client_id=r.client_id, actor=r.actor, action=r.action,
                        operation=r.operation, resident_ids=r.resident_ids,
                        request_id=r.request_id))
                    prev = r.hash
                head.hash, head.rows = prev, len(rows)
            who = Principal(name="concurrency", scopes=frozenset({"admin"}))

            async def one(i: int) -> None:
                async with db.transaction() as session:
                    await audit(session, who, "WRITE", f"op{i}", [i + 1])

            await asyncio.gather(*(one(i) for i in range(20)))
            async with db.reader() as session:
                before = await verify(session)
            cut = dt.datetime.now(dt.UTC) + dt.timedelta(seconds=1)
            async with db.transaction() as session:
                removed = await prune(session, cut)
            async with db.transaction() as session:
                await audit(session, who, "WRITE", "after-prune", [1])
            async with db.reader() as session:
                after = await verify(session)
            return before, after, removed, None
        finally:
            await db.dispose()

    before, after, removed, _ = asyncio.run(run())
    assert before.ok, before.problems
    assert removed >= 20
    assert after.ok and after.rows == 1, after.problems


def _gid(kind: str, raw: int) -> str:
    import base64

    return base64.b64encode(f"{kind}:{raw}".encode()).decode()
