"""`hub client …` and `hub source …`: the real command line, in a subprocess, against a
migrated database on each engine. The token is the last line printed (the README does
`TOKEN=$(hub client create … | tail -1)`), refusals name their code on stderr with exit 2
and print nothing on stdout, and a token stops working when rotated, revoked or expired."""

from __future__ import annotations

import asyncio
import json
import shlex
import subprocess
import sys
import uuid
from pathlib import Path
from typing import Any

import httpx
import pytest
from typer.testing import CliRunner

from hub.access.principal import Principal
from hub.access.service import TokenCache, hash_token
from hub.cli import app
from hub.db import Database
from tests.conftest import LiveServer

HUB = Path(sys.executable).parent / "hub"
ORG, PRACT = "CLI-ORG-1", "CLI-PRACT-1"


def run(url: str, *args: str, subprocess_: bool = False) -> tuple[int, str, str]:
    """Exit code, stdout and stderr of `hub ARGS --database URL`: in a real subprocess, or
    in this process (typer's runner; the same command, without the start-up cost)."""
    if subprocess_:
        done = subprocess.run([str(HUB), *args, "--database", url], capture_output=True,
                              text=True, timeout=120)  # fmt: skip
        return done.returncode, done.stdout, done.stderr
    result = CliRunner().invoke(app, [*args, "--database", url])
    if result.exception and not isinstance(result.exception, SystemExit):
        raise result.exception
    return result.exit_code, result.stdout, result.stderr


def ok(url: str, *args: str) -> str:
    code, stdout, stderr = run(url, *args)
    assert code == 0, stderr
    return stdout


def refused(url: str, code: str, *args: str, subprocess_: bool = False) -> str:
    """Exit 2, the error's code on stderr, nothing at all on stdout."""
    exit_code, stdout, stderr = run(url, *args, subprocess_=subprocess_)
    assert exit_code == 2, (stdout, stderr)
    assert stdout == ""
    assert f"error [{code}]:" in stderr, stderr
    return stderr


def tail_1(url: str, *args: str) -> str:
    """`hub … | tail -1` through a real shell pipe: what the README's TOKEN=$(…) gets."""
    command = shlex.join([str(HUB), *args, "--database", url])
    result = subprocess.run(["bash", "-o", "pipefail", "-c", f"{command} | tail -1"],
                            capture_output=True, text=True, timeout=120)  # fmt: skip
    assert result.returncode == 0, result.stderr
    return result.stdout.strip()


def name() -> str:
    return f"cli-{uuid.uuid4().hex[:8]}"


def authenticate(url: str, token: str) -> Principal | None:
    """What a freshly started server would make of the token (no cached answer)."""

    async def run() -> Principal | None:
        db = Database(url)
        try:
            async with db.reader() as session:
                return await TokenCache().authenticate(session, token)
        finally:
            await db.dispose()

    return asyncio.run(run())


def status(live: LiveServer, token: str) -> int:
    response = httpx.post(f"{live.url}/graphql", json={"query": "{ __typename }"},
                          headers={"Authorization": f"Bearer {token}"}, timeout=30)  # fmt: skip
    return response.status_code


def client_row(url: str, client: str) -> dict[str, Any] | None:
    rows = json.loads(ok(url, "client", "list", "--json"))
    return next((r for r in rows if r["name"] == client), None)


@pytest.fixture(scope="module")
def url(db_url: str) -> str:
    """The module's database, with one organization and practitioner to bind to."""
    from hub.directory.models import Organization, Practitioner

    async def run() -> None:
        db = Database(db_url)
        try:
            async with db.transaction() as s:
                s.add(Organization(id=ORG, name="市桥街社区卫生服务中心",
                                   kind="COMMUNITY_HEALTH_CENTER", region_code="440113",
                                   primary_care=True))  # fmt: skip
                await s.flush()
                s.add(Practitioner(id=PRACT, name="李医生", role="GP", organization_id=ORG))
        finally:
            await db.dispose()

    asyncio.run(run())
    return db_url


def test_create_prints_the_token_alone_on_the_last_line(url: str, live: LiveServer) -> None:
    ok(url, "source", "add", "vendor-acme", "--name", "ACME signing app", "--trust", "10")
    who = name()
    token = tail_1(url, "client", "create", who, "--scope", "residents:read", "--scope",
                   "residents:write", "--source", "vendor-acme", "--organization", ORG,
                   "--practitioner", PRACT, "--expires-in", "90d")  # fmt: skip
    assert token.startswith("hub_") and " " not in token
    principal = authenticate(url, token)
    assert principal is not None and principal.name == who
    assert principal.scopes == {"residents:read", "residents:write"}
    assert principal.sources == ("vendor-acme",)
    assert principal.organization_ids == (ORG,) and principal.practitioner_ids == (PRACT,)
    assert status(live, token) == 200
    row = client_row(url, who)
    assert row is not None and row["status"] == "active" and row["expires_at"]


def test_the_summary_comes_first(url: str) -> None:
    who = name()
    lines = ok(url, "client", "create", who, "--scope", "residents:read").splitlines()
    assert len(lines) == 2 and who in lines[0] and "residents:read" in lines[0]
    assert authenticate(url, lines[-1]) is not None


def test_a_second_create_for_the_same_name_is_refused(url: str) -> None:
    who = name()
    first = ok(url, "client", "create", who, "--scope", "residents:read").splitlines()[-1]
    stderr = refused(
        url, "CLIENT_EXISTS", "client", "create", who, "--scope", "admin", subprocess_=True
    )
    assert f"hub client rotate {who}" in stderr
    principal = authenticate(url, first)  # the first client is untouched
    assert principal is not None and principal.scopes == {"residents:read"}


@pytest.mark.parametrize(
    ("code", "option"),
    [
        ("UNKNOWN_ORGANIZATION", ["--organization", "NO-SUCH-ORG"]),
        ("UNKNOWN_PRACTITIONER", ["--practitioner", "NO-SUCH-PRACT"]),
        ("UNKNOWN_SOURCE", ["--source", "no-such-source"]),
        ("UNKNOWN_SCOPE", ["--scope", "residents:everything"]),
        ("INVALID_EXPIRY", ["--expires", "next tuesday"]),
        ("INVALID_EXPIRY", ["--expires-in", "90 days"]),
    ],
)
def test_unknown_bindings_create_nothing(url: str, code: str, option: list[str]) -> None:
    who = name()
    refused(
        url,
        code,
        "client",
        "create",
        who,
        "--scope",
        "residents:read",
        *option,
        subprocess_=code == "UNKNOWN_ORGANIZATION",
    )
    assert client_row(url, who) is None


def test_rotate_refuses_the_old_token(url: str, live: LiveServer) -> None:
    who = name()
    old = ok(url, "client", "create", who, "--scope", "residents:read").splitlines()[-1]
    assert authenticate(url, old) is not None
    new = tail_1(url, "client", "rotate", who)
    assert new.startswith("hub_") and new != old
    assert authenticate(url, old) is None
    assert status(live, old) == 401
    assert status(live, new) == 200
    row = client_row(url, who)
    assert row is not None and row["rotated_at"] and row["status"] == "active"
    refused(url, "NOT_FOUND", "client", "rotate", name())


def test_revoke_refuses_the_token_and_rotate_brings_it_back(url: str, live: LiveServer) -> None:
    who = name()
    token = ok(url, "client", "create", who, "--scope", "residents:read").splitlines()[-1]
    assert "revoked" in ok(url, "client", "revoke", who)
    assert authenticate(url, token) is None
    assert status(live, token) == 401
    row = client_row(url, who)
    assert row is not None and row["status"] == "revoked" and row["revoked_at"]
    new = ok(url, "client", "rotate", who).splitlines()[-1]
    assert authenticate(url, new) is not None and authenticate(url, token) is None
    refused(url, "NOT_FOUND", "client", "revoke", name())


def test_an_expired_client_is_refused(url: str, live: LiveServer) -> None:
    past = name()
    token = ok(url, "client", "create", past, "--scope", "residents:read",
               "--expires", "2020-01-31").splitlines()[-1]  # fmt: skip
    assert authenticate(url, token) is None
    assert status(live, token) == 401
    row = client_row(url, past)
    assert row is not None and row["status"] == "expired"
    assert row["expires_at"] == "2020-01-31T00:00:00+00:00"

    later = name()
    token = ok(url, "client", "create", later, "--scope", "residents:read",
               "--expires", "2999-01-01T08:00:00+08:00").splitlines()[-1]  # fmt: skip
    assert authenticate(url, token) is not None
    ok(url, "client", "update", later, "--expires", "2020-01-01")
    assert authenticate(url, token) is None
    ok(url, "client", "update", later, "--no-expiry")
    assert authenticate(url, token) is not None
    row = client_row(url, later)
    assert row is not None and row["expires_at"] is None and row["status"] == "active"
    refused(url, "INVALID_EXPIRY", "client", "create", name(), "--scope", "admin",
            "--expires", "2030-01-01", "--expires-in", "1d")  # fmt: skip


def test_rotate_can_set_a_new_expiry(url: str) -> None:
    who = name()
    ok(url, "client", "create", who, "--scope", "residents:read", "--expires", "2020-01-01")
    token = ok(url, "client", "rotate", who, "--expires-in", "2w").splitlines()[-1]
    assert authenticate(url, token) is not None


def test_update_replaces_the_lists_given(url: str) -> None:
    who = name()
    token = ok(url, "client", "create", who, "--scope", "residents:read", "--scope",
               "residents:write", "--source", "his", "--source", "maternal").splitlines()[-1]  # fmt: skip
    ok(url, "client", "update", who, "--source", "demo", "--organization", ORG)
    principal = authenticate(url, token)
    assert principal is not None
    assert principal.sources == ("demo",)
    assert principal.organization_ids == (ORG,)
    assert principal.scopes == {"residents:read", "residents:write"}  # not given: kept
    refused(url, "UNKNOWN_SOURCE", "client", "update", who, "--source", "his", "--source", "nope")
    principal = authenticate(url, token)
    assert principal is not None and principal.sources == ("demo",)  # nothing changed
    ok(url, "client", "update", who, "--scope", "referrals:read", "--practitioner", PRACT)
    principal = authenticate(url, token)
    assert principal is not None and principal.scopes == {"referrals:read"}
    assert principal.practitioner_ids == (PRACT,) and principal.sources == ("demo",)
    refused(url, "NOT_FOUND", "client", "update", name(), "--scope", "admin")


def test_list_and_show_never_print_tokens(url: str) -> None:
    who = name()
    token = ok(url, "client", "create", who, "--scope", "residents:read", "--source", "his",
               "--organization", ORG).splitlines()[-1]  # fmt: skip
    table = ok(url, "client", "list")
    header = table.splitlines()[0].split()
    assert header == ["id", "name", "scopes", "organizations", "practitioners", "sources",
                      "status", "expires"]  # fmt: skip
    line = next(line for line in table.splitlines() if who in line)
    assert "residents:read" in line and ORG in line and "his" in line and "active" in line
    shown = json.loads(ok(url, "client", "show", who, "--json"))
    assert shown["name"] == who and shown["sources"] == ["his"]
    assert shown["organization_ids"] == [ORG] and shown["status"] == "active"
    details = ok(url, "client", "show", who)
    assert who in details and ORG in details
    everything = table + details + ok(url, "client", "list", "--json") + json.dumps(shown)
    assert token not in everything and hash_token(token) not in everything
    assert "token" not in json.dumps(shown)
    refused(url, "NOT_FOUND", "client", "show", name())


def test_source_add_and_list(url: str) -> None:
    ok(url, "source", "add", "clinic-x", "--name", "Clinic X app", "--trust", "95",
       "--verifies-identity")  # fmt: skip
    sources = json.loads(ok(url, "source", "list", "--json"))
    keys = [s["key"] for s in sources]
    assert keys.index("his") < keys.index("clinic-x") < keys.index("maternal")
    assert next(s for s in sources if s["key"] == "clinic-x") == {
        "key": "clinic-x", "name": "Clinic X app", "trust": 95, "verifies_identity": True}  # fmt: skip
    # re-ranking keeps the name and the identity flag unless told otherwise
    assert "re-ranked: trust 95 -> 20" in ok(url, "source", "add", "clinic-x", "--trust", "20")
    sources = json.loads(ok(url, "source", "list", "--json"))
    assert next(s for s in sources if s["key"] == "clinic-x") == {
        "key": "clinic-x", "name": "Clinic X app", "trust": 20, "verifies_identity": True}  # fmt: skip
    keys = [s["key"] for s in sources]
    assert keys.index("demo") < keys.index("clinic-x")
    ok(url, "source", "add", "clinic-x", "--trust", "20", "--no-verifies-identity")
    table = ok(url, "source", "list")
    assert table.splitlines()[0].split() == ["key", "name", "trust", "verifies", "identity"]
    line = next(line for line in table.splitlines() if line.startswith("clinic-x"))
    assert line.split()[-2:] == ["20", "no"]
    refused(url, "INVALID_SOURCE_KEY", "source", "add", "Bad Key!", "--trust", "10")
    refused(url, "INVALID_TRUST", "source", "add", "clinic-y", "--trust", "5000")
    # a client may now be bound to the new source
    token = ok(url, "client", "create", name(), "--scope", "residents:write",
               "--source", "clinic-x").splitlines()[-1]  # fmt: skip
    principal = authenticate(url, token)
    assert principal is not None and principal.sources == ("clinic-x",)
