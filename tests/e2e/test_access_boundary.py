"""The trust boundary, probed as outside clients: every resident a client reaches — through
any query path, `node`, FHIR, a subscription or a mutation's answer — is one it may see.

The GraphQL walk is generated from the schema: every field whose type leads to a resident
is selected, from every root field, for every object in the district. A field added later
that reaches a resident is walked too, or the coverage check fails.

Who may see whom is restated here in plain Python over the rows (the oracle), independently
of the SQL predicate in `hub.access.policy`.
"""

from __future__ import annotations

import asyncio
import base64
import datetime as dt
import json
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import httpx
import pytest
from graphql import (
    GraphQLField,
    GraphQLInterfaceType,
    GraphQLNonNull,
    GraphQLObjectType,
    GraphQLUnionType,
    get_named_type,
)
from sqlalchemy import select, update

from hub.contracts.models import Contract
from hub.db import Database
from hub.demo.load import load_demo
from hub.directory.models import Team, TeamMember
from hub.referrals.models import Referral
from hub.registry.models import Household, Resident
from tests.conftest import Api, LiveServer, create_client_token

READ_ALL = ["residents:read", "residents:pii", "contracts:read", "referrals:read"]
SIGN = """mutation($input: SignContractInput!) { signContract(input: $input) {
  contract { contractId resident { residentId } } userErrors { code field message } } }"""
REFER = """mutation($input: CreateReferralInput!) { createReferral(input: $input) {
  referral { referralId } userErrors { code field message } } }"""
SUBMIT = """mutation($input: ResidentRecordInput!) { submitResidentRecord(input: $input) {
  outcome resident { residentId name } sourceRecord { sourceId } userErrors { code field message } } }"""


@pytest.fixture(scope="module")
def live(db_url: str) -> Iterator[LiveServer]:
    """The walk asks for every field of 100-row pages at once, far over any sane cost:
    no budgets here (tests/e2e/test_budgets.py tests those)."""
    from hub.app import build_hub, create_app
    from hub.settings import get_settings

    settings = get_settings().model_copy(update=dict(
        max_query_cost=0, default_cost_per_minute=0, default_rate_per_minute=0))  # fmt: skip
    with LiveServer(create_app(build_hub(settings, database_url=db_url))) as server:
        yield server


def gid(kind: str, raw: int | str) -> str:
    return base64.b64encode(f"{kind}:{raw}".encode()).decode()


def run(url: str, fn: Callable[[Any], Any]) -> Any:
    async def go() -> Any:
        db = Database(url)
        try:
            async with db.transaction() as s:
                return await fn(s)
        finally:
            await db.dispose()

    return asyncio.run(go())


# -- the district ----------------------------------------------------------------------------


@dataclass
class District:
    live: LiveServer
    url: str
    admin: Api
    a: str = "panyu-org-001"  # a community health centre
    b: str = "panyu-org-004"  # another one
    h: str = "panyu-org-020"  # a hospital
    g: str = "panyu-org-021"  # another hospital
    residents: dict[str, int] = field(default_factory=dict)
    contracts: list[int] = field(default_factory=list)
    referrals: list[int] = field(default_factory=list)
    households: list[int] = field(default_factory=list)
    teams: dict[str, str] = field(default_factory=dict)
    practitioner: str = ""
    clients: dict[str, Api] = field(default_factory=dict)
    client_ids: dict[str, int] = field(default_factory=dict)

    def client(self, name: str, scopes: list[str], orgs: list[str] | None = None, **kw: Any) -> Api:
        token = create_client_token(self.url, name, scopes, orgs, **kw)
        api = Api(self.live.url, token)
        self.clients[name] = api
        from hub.access.models import Client

        self.client_ids[name] = run(
            self.url, lambda s: s.scalar(select(Client.id).where(Client.name == name))
        )
        return api


def _household_of(url: str, org: str) -> tuple[list[int], str]:
    """A household of 3+ members managed by `org`, and its members' team."""

    async def q(s: Any) -> tuple[list[int], str]:
        rows = (
            await s.execute(
                select(Resident.household_id, Resident.id, Resident.team_id, Resident.birth_date)
                .where(Resident.organization_id == org, Resident.household_id.is_not(None))
                .order_by(Resident.household_id, Resident.id)
            )
        ).all()
        by: dict[int, list[Any]] = {}
        for r in rows:
            by.setdefault(r.household_id, []).append(r)
        for members in by.values():
            adults = [m for m in members if m.birth_date and m.birth_date.year < 1990]
            if len(members) >= 3 and adults:
                head = await s.get(Household, members[0].household_id)
                ids = [head.head_resident_id] + [
                    m.id for m in members if m.id != head.head_resident_id
                ]
                return ids, members[0].team_id
        raise AssertionError(f"no household of 3 in {org}")

    return run(url, q)


@pytest.fixture(scope="module")
def district(live: LiveServer, db_url: str) -> District:
    asyncio.run(load_demo(db_url, scale=0.02, regions=("panyu",)))
    d = District(live=live, url=db_url, admin=Api(live.url, create_client_token(
        db_url, "boundary-admin", ["admin"])))  # fmt: skip
    (a1, a2, a3, *_), team_a = _household_of(db_url, d.a)
    (b1, b2, *_), team_b = _household_of(db_url, d.b)
    d.teams = {"a": team_a, "b": team_b}
    d.residents = {"a1": a1, "a2": a2, "a3": a3, "b1": b1, "b2": b2}

    async def more(s: Any) -> dict[str, int]:
        rows = await s.scalars(
            select(Resident.id).where(Resident.organization_id == d.a,
                                      Resident.id.not_in([a1, a2, a3])).order_by(Resident.id).limit(2)
        )  # fmt: skip
        ids = list(rows)
        return {"a4": ids[0], "a5": ids[1]}

    d.residents |= run(db_url, more)
    for key, team in (("a1", team_a), ("b1", team_b)):
        out = d.admin(SIGN, {"input": {"residentId": gid("Resident", d.residents[key]),
                                       "teamId": team, "packageCodes": ["PY-FREE"]}})  # fmt: skip
        assert out["signContract"]["userErrors"] == [], out
        d.contracts.append(out["signContract"]["contract"]["contractId"])
    for key, team, to in (("a1", team_a, d.h), ("b1", team_b, d.g), ("a4", team_a, d.h),
                          ("a5", team_a, d.h)):  # fmt: skip
        out = d.admin(REFER, {"input": {
            "residentId": gid("Resident", d.residents[key]), "fromTeamId": team,
            "toOrganizationId": to, "direction": "UP", "reason": "血压控制不佳，需专科评估",
            "diagnosisCode": "I10", "priorities": []}})  # fmt: skip
        assert out["createReferral"]["userErrors"] == [], out
        d.referrals.append(int(out["createReferral"]["referral"]["referralId"]))
    # a4's referral closed 60 days ago (past Panyu's grace), a5's 5 days ago (within it)
    now = dt.datetime.now(dt.UTC)

    async def close(s: Any) -> str:
        for rid, days in ((d.referrals[2], 60), (d.referrals[3], 5)):
            await s.execute(update(Referral).where(Referral.id == rid).values(
                status="COMPLETED", updated_at=now - dt.timedelta(days=days)))  # fmt: skip
        member = await s.scalar(
            select(TeamMember.practitioner_id).where(TeamMember.team_id == team_a)
        )
        # the practitioner's other teams hold no contract of these residents
        return str(member)

    d.practitioner = run(db_url, close)
    d.households = run(db_url, lambda s: _households(s, [a1, b1]))
    d.client("inst-a", READ_ALL, [d.a])
    d.client("pract-a", READ_ALL, practitioners=[d.practitioner])
    d.client("hosp-h", READ_ALL, [d.h])
    d.client("hosp-g", READ_ALL, [d.g])
    d.client("referrals-only", ["referrals:read"])
    d.client("contracts-only", ["contracts:read"])
    d.client("vendor-b", [*READ_ALL, "residents:write"], [d.b], sources=["vendor-b"])
    return d


async def _households(s: Any, ids: list[int]) -> list[int]:
    return [h for h in await s.scalars(select(Resident.household_id).where(Resident.id.in_(ids)))]


# -- the oracle ------------------------------------------------------------------------------


def allowed(d: District, client: str) -> set[int] | None:
    """Who `client` may see, from the rows (None: everyone)."""
    if client in ("boundary-admin", "referrals-only", "contracts-only"):
        return None

    async def q(s: Any) -> set[int]:
        residents = (await s.execute(select(Resident.id, Resident.organization_id,
                                            Resident.team_id, Resident.created_by_client_id))).all()  # fmt: skip
        teams = {t.id: t.organization_id for t in await s.scalars(select(Team))}
        contracts = list(await s.scalars(select(Contract).where(Contract.status == "ACTIVE")))
        referrals = list(await s.scalars(select(Referral)))
        members = (await s.execute(select(TeamMember.team_id, TeamMember.practitioner_id))).all()
        orgs = {"inst-a": {d.a}, "hosp-h": {d.h}, "hosp-g": {d.g}, "vendor-b": {d.b}}.get(
            client, set()
        )
        pract_teams = {t for t, p in members if client == "pract-a" and p == d.practitioner}
        now = dt.datetime.now(dt.UTC)
        out = set()
        for r in residents:
            if r.organization_id in orgs or teams.get(r.team_id) in orgs:
                out.add(r.id)
            if r.created_by_client_id == d.client_ids.get(client):
                out.add(r.id)
        for c in contracts:
            if c.organization_id in orgs or c.team_id in pract_teams:
                out.add(c.resident_id)
        for ref in referrals:
            closed_long_ago = ref.status not in ("REQUESTED", "RECEIVED", "ACCEPTED", "ARRIVED") and (
                ref.updated_at < now - dt.timedelta(days=30))  # fmt: skip
            if (
                ref.hospital_id in orgs or ref.team_organization_id in orgs
            ) and not closed_long_ago:
                out.add(ref.resident_id)
        return out

    return run(d.url, q)


# -- the walk, generated from the schema ------------------------------------------------------

MAX_DEPTH = 9  # below the server's depth limit (12), counting edges { node { … } }


def _object_types(t: Any, schema: Any) -> list[GraphQLObjectType]:
    named = get_named_type(t)
    if isinstance(named, GraphQLObjectType):
        return [named]
    if isinstance(named, GraphQLInterfaceType | GraphQLUnionType):
        return list(schema.get_possible_types(named))
    return []


def reaching(schema: Any) -> set[str]:
    """Object types from which a Resident can be reached (Resident included)."""
    found = {"Resident"}
    changed = True
    while changed:
        changed = False
        for name, t in schema.type_map.items():
            if name in found or name.startswith("__") or not isinstance(t, GraphQLObjectType):
                continue
            if any(
                o.name in found for f in t.fields.values() for o in _object_types(f.type, schema)
            ):
                found.add(name)
                changed = True
    return found


def _required_args(f: GraphQLField) -> list[str]:
    return [
        n
        for n, a in f.args.items()
        if isinstance(a.type, GraphQLNonNull) and a.default_value is None
    ]


# Arguments for nested fields that require them (none today); a new one must be added here.
NESTED_ARGS: dict[tuple[str, str], str] = {}
RESIDENT_LEAVES = "__typename residentId name phones idNumber address { text } fhir"
# Resident -> Resident relations: the resident reached is checked by its leaves (its own
# fields are walked from its own root query), so the walk stays under the token limit.
SHALLOW = {("Resident", "mother"), ("Resident", "children"), ("Resident", "mergedInto")}


def selection(schema: Any, t: GraphQLObjectType, depth: int, path: frozenset[tuple[str, str]],
              covered: set[tuple[str, str]], reach: set[str]) -> str:  # fmt: skip
    return " ".join(selection_parts(schema, t, depth, path, covered, reach))


def selection_parts(schema: Any, t: GraphQLObjectType, depth: int, path: frozenset[tuple[str, str]],
                    covered: set[tuple[str, str]], reach: set[str]) -> list[str]:  # fmt: skip
    parts = [RESIDENT_LEAVES] if t.name == "Resident" else ["__typename"]
    if t.name == "SourceRecord":
        parts.append("payload")
    if t.name == "Household":
        parts.append("fhir")
    if depth >= MAX_DEPTH:
        return parts
    for name, f in t.fields.items():
        targets = [o for o in _object_types(f.type, schema) if o.name in reach]
        if not targets or (t.name, name) in path or all(_twice(o.name, path) for o in targets):
            continue
        required = _required_args(f)
        if required and (t.name, name) not in NESTED_ARGS:
            continue  # reported by the coverage check
        args = NESTED_ARGS.get((t.name, name), "")
        inner = []
        for o in targets:
            below = MAX_DEPTH if (t.name, name) in SHALLOW else depth + 1
            sub = selection(schema, o, below, path | {(t.name, name)}, covered, reach)
            inner.append(sub if len(targets) == 1 else f"... on {o.name} {{ {sub} }}")
        covered.add((t.name, name))
        parts.append(f"{name}{f'({args})' if args else ''} {{ {' '.join(inner)} }}")
    return parts


def tokens(query: str) -> int:
    from graphql.language import Lexer, Source, TokenKind

    lexer, n = Lexer(Source(query)), 0
    while lexer.advance().kind != TokenKind.EOF:
        n += 1
    return n


def packed(head: str, parts: list[str], fragment: str | None, limit: int = 3500) -> list[str]:
    """Queries `{ head { parts } }`, as few as fit under the server's token limit."""

    def query(chunk: list[str]) -> str:
        body = " ".join(chunk)
        return f"{{ {head} {{ {f'... on {fragment} {{ {body} }}' if fragment else body} }} }}"

    out, chunk = [], [parts[0]]
    for part in parts[1:]:
        if tokens(query([*chunk, part])) > limit:
            out.append(query(chunk))
            chunk = [parts[0]]
        chunk.append(part)
    out.append(query(chunk))
    return out


def _twice(type_name: str, path: frozenset[tuple[str, str]]) -> bool:
    """A type entered twice on a path already (referral → resident → household → resident
    is walked; a third resident deeper is not)."""
    return sum(1 for owner, _ in path if owner == type_name) >= 2


def root_args(d: District) -> dict[str, Any]:
    """For each root field that reaches a resident, the arguments to walk it with: every
    object of the district, visible to the client or not."""
    rids = list(d.residents.values()) + [999_999]
    return {
        "node": {
            "Resident": [f'id: "{gid("Resident", i)}"' for i in rids],
            "Contract": [f'id: "{gid("Contract", c)}"' for c in d.contracts],
            "Referral": [f'id: "{gid("Referral", r)}"' for r in d.referrals],
            "Team": [f'id: "{gid("Team", t)}"' for t in d.teams.values()],
        },
        "resident": [f'id: "{gid("Resident", i)}"' for i in rids],
        "residentByIdentifier": ['system: HEALTH_RECORD_NO, value: "none"'],
        "residents": ["first: 100", f'first: 100, filter: {{organizationId: "{d.b}"}}'],
        "residentDiscrepancies": ["first: 20"]
        + [f'residentId: "{gid("Resident", i)}"' for i in rids],
        "matchResident": [],  # input-driven: its answers go through the same policy (tested below)
        "duplicateReviews": ["first: 20"],
        "contract": [f'id: "{gid("Contract", c)}"' for c in d.contracts],
        "contractByNumber": [],  # numbers are looked up by the same service as contract(id:)
        "contracts": ["first: 100"],
        "referral": [f'id: "{gid("Referral", r)}"' for r in d.referrals],
        "referrals": ["first: 100"],
        "teamWorkList": [f'teamId: "{t}"' for t in d.teams.values()],
        "organization": [f'id: "{o}"' for o in (d.a, d.b, d.h)],
        "organizations": ["first: 30"],
        "team": [f'id: "{t}"' for t in d.teams.values()],
        "teams": ["first: 100"],
        "practitioner": [f'id: "{d.practitioner}"'],
        "practitioners": ["first: 100"],
    }


def walk_queries(
    schema: Any, d: District
) -> tuple[list[str], set[tuple[str, str]], set[tuple[str, str]]]:
    reach = reaching(schema)
    covered: set[tuple[str, str]] = set()
    queries = []
    provided = root_args(d)
    missing = []
    for name, f in schema.query_type.fields.items():
        targets = [o for o in _object_types(f.type, schema) if o.name in reach]
        if not targets:
            continue
        if name not in provided:
            missing.append(name)
            continue
        covered.add(("Query", name))
        args_by_type = (
            provided[name] if isinstance(provided[name], dict) else {None: provided[name]}
        )
        for type_name, arg_list in args_by_type.items():
            for o in targets:
                if type_name is not None and o.name != type_name:
                    continue
                parts = selection_parts(schema, o, 1, frozenset({("Query", name)}), covered, reach)
                fragment = o.name if len(targets) > 1 else None
                for args in arg_list:
                    queries += packed(f"{name}({args})", parts, fragment)
    assert not missing, f"root fields reaching a resident without arguments to walk them: {missing}"
    from_query = {"Query"}
    todo = [schema.query_type]
    while todo:  # the object types a query can reach
        for f in todo.pop().fields.values():
            for o in _object_types(f.type, schema):
                if o.name not in from_query:
                    from_query.add(o.name)
                    todo.append(o)
    every = {
        (t.name, n)
        for t in (schema.type_map[x] for x in (reach & from_query) | {"Query"})
        for n, f in t.fields.items()
        if any(o.name in reach for o in _object_types(f.type, schema))
    }
    return queries, covered, every


def residents_in(value: Any) -> Iterator[dict[str, Any]]:
    stack = [value]
    while stack:
        v = stack.pop()
        if isinstance(v, dict):
            if v.get("__typename") == "Resident":
                yield v
            stack.extend(v.values())
        elif isinstance(v, list):
            stack.extend(v)


PATIENT_REF = re.compile(r"^Patient/(\d+)$")


def patient_refs(value: Any) -> set[int]:
    """Patient references inside FHIR JSON (a household Group's members…)."""
    out = set()
    stack = [value]
    while stack:
        v = stack.pop()
        if isinstance(v, dict):
            if v.get("resourceType") == "Patient" and str(v.get("id", "")).isdigit():
                out.add(int(v["id"]))
            stack.extend(v.values())
        elif isinstance(v, list):
            stack.extend(v)
        elif isinstance(v, str) and (m := PATIENT_REF.match(v)):
            out.add(int(m.group(1)))
    return out


@pytest.fixture(scope="module")
def walk(district: District) -> tuple[list[str], set[tuple[str, str]], set[tuple[str, str]]]:
    from schema import build_schema

    return walk_queries(build_schema()._schema, district)


def test_the_walk_covers_every_field_that_reaches_a_resident(walk: Any) -> None:
    queries, covered, every = walk
    skipped = {("Query", "matchResident"), ("Query", "contractByNumber")}
    assert every - covered - skipped == set(), (
        "fields reaching a resident not walked (add NESTED_ARGS)"
    )
    assert len(queries) > 30


def _reached(api: Api, queries: list[str]) -> tuple[set[int], list[dict[str, Any]]]:
    seen: set[int] = set()
    shown: list[dict[str, Any]] = []
    for q in queries:
        response = api.raw(q)
        assert response.status_code == 200, (q[:200], response.text[:500])
        body = response.json()
        for e in body.get("errors") or []:
            code = (e.get("extensions") or {}).get("code")
            assert code in ("MISSING_SCOPE", "FORBIDDEN", "NOT_FOUND"), (q[:200], e)
        data = body.get("data") or {}
        for r in residents_in(data):
            seen.add(int(r["residentId"]))
            shown.append(r)
        seen |= patient_refs(data)
    return seen, shown


CLIENTS = ["inst-a", "pract-a", "hosp-h", "hosp-g", "vendor-b", "referrals-only", "contracts-only"]


@pytest.mark.parametrize("client", CLIENTS)
def test_every_resident_reached_through_graphql_is_one_the_client_may_see(
    district: District, walk: Any, client: str
) -> None:
    queries, _, _ = walk
    seen, shown = _reached(district.clients[client], queries)
    may = allowed(district, client)
    if may is not None:
        assert seen <= may, f"{client} reached residents it may not see: {sorted(seen - may)}"
    expected = {
        "inst-a": {"a1", "a2", "a3", "a4", "a5"},
        "pract-a": {"a1"},
        "hosp-h": {"a1", "a5"},
        "hosp-g": {"b1"},
        "vendor-b": {"b1", "b2"},
        "referrals-only": {"a1", "b1", "a4", "a5"},
        "contracts-only": {"a1", "b1"},
    }[client]
    assert {district.residents[k] for k in expected} <= seen, "the walk reached nobody: broken?"
    forbidden = {"inst-a": {"b1", "b2"}, "pract-a": {"a2", "a3", "b1"}, "hosp-h": {"a2", "a3", "a4", "b1"},
                 "hosp-g": {"a1", "b2"}, "vendor-b": {"a1"}}.get(client, set())  # fmt: skip
    assert not {district.residents[k] for k in forbidden} & seen
    if client in ("referrals-only", "contracts-only"):
        # Reached through a referral or a contract without residents:read: id, name, age.
        for r in shown:
            assert r["phones"] == [] and r["idNumber"] is None and r["address"]["text"] is None
            assert set(r["fhir"]) == {"resourceType", "id", "name"}


def test_the_admin_walk_reaches_everyone_so_the_walk_can_fail(
    district: District, walk: Any
) -> None:
    seen, _ = _reached(district.admin, walk[0])
    assert set(district.residents.values()) <= seen


def test_an_invisible_resident_is_exactly_a_nonexistent_one(district: District) -> None:
    api, b1 = district.clients["inst-a"], district.residents["b1"]
    q = "query($id: ID!) { resident(id: $id) { residentId } node(id: $id) { id } }"
    assert api(q, {"id": gid("Resident", b1)}) == api(q, {"id": gid("Resident", 999_999)})
    for rid in (b1, 999_999):
        r = httpx.get(f"{district.live.url}/fhir/Patient/{rid}", headers=api.http.headers)
        assert r.status_code == 404 and "not known or not visible" in r.text

    def sign(rid: int) -> list[dict[str, Any]]:
        out = api.raw(SIGN, {"input": {"residentId": gid("Resident", rid),
                                       "teamId": district.teams["a"], "packageCodes": ["PY-FREE"]}})  # fmt: skip
        return out.json()["data"]["signContract"]["userErrors"]

    # inst-a lacks contracts:write: grant a writer bound to the same institution
    writer = district.client(
        "inst-a-writer", [*READ_ALL, "contracts:write", "referrals:write"], [district.a]
    )
    api = writer
    invisible, absent = sign(b1), sign(999_999)
    assert [e["code"] for e in invisible] == ["NOT_FOUND"]
    assert invisible[0]["message"].replace(str(b1), "N") == absent[0]["message"].replace(
        "999999", "N"
    )
    # …and nothing changed: the Panyu team B's resident is still unsigned by team A
    assert (
        district.admin(
            "query($id: ID!) { resident(id: $id) { contracts { team { id } } } }",
            {"id": gid("Resident", b1)},
        )["resident"]["contracts"][0]["team"]["id"]
        != district.teams["a"]
    )
    refer = writer.raw(REFER, {"input": {
        "residentId": gid("Resident", b1), "fromTeamId": district.teams["a"],
        "toOrganizationId": district.h, "direction": "UP", "reason": "x", "diagnosisCode": "I10",
        "priorities": []}}).json()["data"]["createReferral"]["userErrors"]  # fmt: skip
    assert [e["code"] for e in refer] == ["NOT_FOUND"]


def test_a_client_writes_only_as_its_own_source_and_never_renames_another_s_resident(
    district: District,
) -> None:
    vendor, admin = district.clients["vendor-b"], district.admin
    a1 = district.residents["a1"]
    before = admin("query($id: ID!) { resident(id: $id) { name idNumber phones sourceRecords { source } } }",
                   {"id": gid("Resident", a1)})["resident"]  # fmt: skip
    # as another source (a demo record's key): refused, nothing stored
    out = vendor(
        SUBMIT, {"input": {"source": "demo", "sourceId": "panyu-res-000012", "name": "冒名顶替"}}
    )
    assert [e["code"] for e in out["submitResidentRecord"]["userErrors"]] == ["FORBIDDEN_SOURCE"]
    # as itself, a record of a resident it cannot see: stored, linked, but neither shown nor
    # allowed to rename a record the HIS/demo source is trusted more for
    full = admin("query($id: ID!) { resident(id: $id) { idNumber birthDate sex } }",
                 {"id": gid("Resident", a1)})["resident"]  # fmt: skip
    out = vendor(SUBMIT, {"input": {"sourceId": "V-1", "name": "李四", "sex": full["sex"],
                                    "birthDate": full["birthDate"], "idNumber": full["idNumber"]}})  # fmt: skip
    answer = out["submitResidentRecord"]
    assert answer["userErrors"] == [] and answer["outcome"] == "LINKED"
    assert answer["resident"] is None  # it may not see whom it linked to
    after = admin("query($id: ID!) { resident(id: $id) { name idNumber phones sourceRecords { source } } }",
                  {"id": gid("Resident", a1)})["resident"]  # fmt: skip
    assert after["name"] == before["name"] and after["idNumber"] == before["idNumber"]
    assert vendor(
        "query($id: ID!) { resident(id: $id) { name } }", {"id": gid("Resident", a1)}
    ) == {"resident": None}
    # a new person it submits is its own to see
    born = dt.date(1980, 2, 2)
    from hub.registry.idnumber import make

    out = vendor(SUBMIT, {"input": {"sourceId": "V-2", "name": "新居民", "sex": "1",
                                    "birthDate": born.isoformat(), "idNumber": make("440113", born, 771)}})  # fmt: skip
    assert out["submitResidentRecord"]["outcome"] == "NEW"
    assert out["submitResidentRecord"]["resident"]["name"] == "新居民"
    # another client cannot replace vendor-b's record, even registered as the same source
    other = district.client("vendor-b2", ["residents:write"], sources=["vendor-b"])
    out = other(SUBMIT, {"input": {"sourceId": "V-2", "name": "改名"}})
    assert [e["code"] for e in out["submitResidentRecord"]["userErrors"]] == ["FORBIDDEN_SOURCE"]


def test_source_record_payloads_are_masked_without_pii(district: District) -> None:
    api = district.client("reader-no-pii", ["residents:read"])
    data = api("query($id: ID!) { resident(id: $id) { sourceRecords { payload } } }",
               {"id": gid("Resident", district.residents["a1"])})  # fmt: skip
    payload = data["resident"]["sourceRecords"][0]["payload"]
    assert "*" in payload["id_number"] and payload.get("address") in (None, "****")
    text = json.dumps(payload, ensure_ascii=False)
    full = district.admin("query($id: ID!) { resident(id: $id) { idNumber phones } }",
                          {"id": gid("Resident", district.residents["a1"])})["resident"]  # fmt: skip
    assert full["idNumber"] not in text and all(p not in text for p in full["phones"])
