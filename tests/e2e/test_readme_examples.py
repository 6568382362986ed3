"""The README's examples are tests: every ```graphql and ```sh block of README.md runs, in
order, against the demo data served by the real app over HTTP.

- graphql: each operation of the block is POSTed to /graphql (admin token); it must answer
  without ``errors``; a query must find something (no root field null, ``[]`` or without
  edges), a mutation must answer every payload with ``userErrors`` empty.
- sh: each command runs in bash from the repository root, with the test database as
  HUB_DATABASE_URL, the live server's URL for http://127.0.0.1:8000 and a free port for the
  HIS adapter's MLLP port 2575. ``VAR=$(…)`` keeps VAR (``$TOKEN``) for the later commands;
  ``curl`` must answer 2xx with JSON; ``… &`` runs in the background until the test ends;
  other commands must exit 0; ``make …`` lines are not run (they install and serve).
- the WebSocket transcript (``→``/``←`` lines in a plain block): sent as written, with the
  test token; the answers must be the ones shown and the subscription must be accepted.

An HTML comment right before a block changes what is expected of it:
``<!-- example: expect-error CODE -->`` (every operation must fail with that code, as a
GraphQL error code or a userErrors code). Examples depend on each other in README order
(the demo is deterministic: the same ids every time), so they run in one module, in order.
"""

from __future__ import annotations

import base64
import json
import os
import re
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import Api, LiveServer, create_client_token, make_database

ROOT = Path(__file__).resolve().parents[2]
# Another copy (HUB_TEST_README) or engine (HUB_TEST_README_ENGINE=postgres) on demand.
README = Path(os.environ.get("HUB_TEST_README") or ROOT / "README.md")
ENGINE = os.environ.get("HUB_TEST_README_ENGINE", "sqlite")
DEMO_URL = "http://127.0.0.1:8000"
MLLP_PORT = "2575"

FENCE = re.compile(r"^```([\w-]*)[ \t]*\n(.*?)^```[ \t]*$", re.S | re.M)
MARKER = re.compile(r"<!--\s*example:\s*(expect-error)\s+([A-Z_]+)\s*-->\s*\Z")


@dataclass(frozen=True)
class Example:
    lang: str  # graphql | sh | "" (the WebSocket transcript)
    code: str
    line: int  # 1-based line of the opening fence
    expect_error: str | None = None

    @property
    def id(self) -> str:
        return f"L{self.line}-{self.lang or 'ws'}"


def readme_examples(text: str) -> list[Example]:
    out = []
    for m in FENCE.finditer(text):
        lang, code = m.group(1), m.group(2)
        before = text[: m.start()]
        marker = MARKER.search(before)
        line = before.count("\n") + 1
        if lang in ("graphql", "sh"):
            out.append(Example(lang, code, line, marker.group(2) if marker else None))
        elif lang == "" and "→" in code:
            out.append(Example("", code, line))
    return out


EXAMPLES = readme_examples(README.read_text(encoding="utf-8"))


def test_the_readme_has_the_examples_this_test_runs() -> None:
    """Guards the parser: a block it cannot see is a block nobody runs."""
    text = README.read_text(encoding="utf-8")
    fences = [m.group(1) for m in FENCE.finditer(text)]
    assert fences.count("graphql") == sum(e.lang == "graphql" for e in EXAMPLES) >= 10
    assert fences.count("sh") == sum(e.lang == "sh" for e in EXAMPLES) >= 3
    assert sum("curl " in e.code for e in EXAMPLES) >= 2
    assert len(re.findall(r"<!--\s*example:", text)) == sum(
        e.expect_error is not None for e in EXAMPLES
    ), "an example marker is not right before a ```graphql or ```sh block"
    assert set(fences) <= {"", "graphql", "sh"}, "a block in a language this test does not run"


# -- the world the examples run in -------------------------------------------------------


@dataclass
class World:
    live: LiveServer
    db_url: str
    api: Api
    admin_token: str
    env: dict[str, str]
    loaded: str  # load_demo's report
    background: list[subprocess.Popen[bytes]] = field(default_factory=list)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    """The full demo (as `make run` loads it: README ids are the full demo's) on a fresh
    SQLite database (what `make run` uses), served."""
    import asyncio

    from hub.app import build_hub, create_app
    from hub.demo.load import load_demo
    from hub.settings import Settings

    url = make_database(ENGINE, tmp_path_factory.mktemp("readme"))
    message = asyncio.run(load_demo(url))
    assert message.startswith("loaded"), message
    token = create_client_token(url, "readme-admin", ["admin"])
    # The HIS listener of this server stays off: the README starts its own adapter.
    settings = Settings(database_url=url, his_enabled=False)
    with LiveServer(create_app(build_hub(settings))) as live:
        env = {
            **os.environ,
            "HUB_DATABASE_URL": url,
            "HUB_HIS_MLLP_PORT": str(_free_port()),
            "TOKEN": token,
        }
        w = World(live, url, Api(live.url, token), token, env, message)
        try:
            yield w
        finally:
            for proc in w.background:  # only the processes this test started
                proc.terminate()
                try:
                    proc.wait(timeout=10)
                except subprocess.TimeoutExpired:
                    proc.kill()


# -- graphql ----------------------------------------------------------------------------


def operations(code: str) -> list[tuple[str, str]]:
    """(operation type, source) of each operation in a block, in order."""
    from graphql import OperationDefinitionNode, parse, print_ast

    doc = parse(code)
    ops = [d for d in doc.definitions if isinstance(d, OperationDefinitionNode)]
    assert len(ops) == len(doc.definitions), "only operations (no fragments) in README blocks"
    return [(op.operation.value, print_ast(op)) for op in ops]


def _error_codes(body: dict[str, Any]) -> list[str]:
    codes = [(e.get("extensions") or {}).get("code") for e in body.get("errors") or []]
    for payload in (body.get("data") or {}).values():
        if isinstance(payload, dict):
            codes += [e["code"] for e in payload.get("userErrors") or []]
    return [c for c in codes if c]


def _empty(value: Any) -> bool:
    if isinstance(value, dict) and "edges" in value:
        return not value["edges"]
    return value is None or value == []


def run_graphql(w: World, ex: Example) -> None:
    for kind, query in operations(ex.code):
        response = w.api.raw(query)
        assert response.status_code == 200, response.text
        body = response.json()
        if ex.expect_error:
            assert ex.expect_error in _error_codes(body), (query, body)
            continue
        assert not body.get("errors"), (query, body["errors"])
        if kind == "query":  # an example that finds nothing shows nothing
            for name, value in body["data"].items():
                assert not _empty(value), (f"{name} found nothing", query)
        if kind == "mutation":
            for name, payload in body["data"].items():
                assert isinstance(payload, dict), (name, payload)
                assert payload.get("userErrors") == [], (query, payload)


# -- sh ---------------------------------------------------------------------------------


def commands(code: str) -> list[str]:
    """The block's commands: continuation lines joined, blank and comment lines dropped."""
    out, current = [], ""
    for line in code.splitlines():
        if line.rstrip().endswith("\\"):
            current += line.rstrip()[:-1] + " "
            continue
        current += line
        if current.strip() and not current.lstrip().startswith("#"):
            out.append(current.strip())
        current = ""
    return out


def _strip_comment(cmd: str) -> str:
    """A trailing `  # …` comment (two spaces before the #), as the README writes them."""
    return re.split(r"\s{2,}#", cmd, maxsplit=1)[0].strip()


def localise(w: World, cmd: str) -> str:
    hub = Path(sys.executable).parent / "hub"
    cmd = cmd.replace(DEMO_URL, w.live.url)
    cmd = re.sub(r"(?<![\w/.-])(?:\.venv/bin/)?hub(?= )", str(hub), cmd)
    port = w.env["HUB_HIS_MLLP_PORT"]
    cmd = cmd.replace(f"--port {MLLP_PORT}", f"--port {port}")
    if " simulate his" in cmd and "--port" not in cmd:
        cmd = cmd.replace(" simulate his", f" simulate his --port {port}", 1)
    return cmd


def _bash(w: World, script: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["bash", "-o", "pipefail", "-c", script],
        cwd=ROOT,
        env=w.env,
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def _wait_for_port(port: int, proc: subprocess.Popen[bytes], seconds: float = 30) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        assert proc.poll() is None, "the background command exited"
        with socket.socket() as s:
            if s.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.1)
    raise AssertionError(f"nothing listens on {port}")


def run_sh(w: World, ex: Example) -> None:
    for raw in commands(ex.code):
        cmd = _strip_comment(raw)
        if cmd.startswith("make "):
            continue  # installs and serves; the fixture did what `make run` does
        cmd = localise(w, cmd)
        assign = re.fullmatch(r"([A-Z_][A-Z0-9_]*)=(\$\(.*\))", cmd, re.S)
        if assign:
            name = assign.group(1)
            done = _bash(w, f'{name}={assign.group(2)} && printf %s "${name}"')
            assert done.returncode == 0 and done.stdout.strip(), (raw, done.stderr)
            w.env[name] = done.stdout.strip()
        elif cmd.endswith("&"):
            proc = subprocess.Popen(
                ["bash", "-c", "exec " + cmd[:-1].strip()],
                cwd=ROOT,
                env=w.env,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
            )
            w.background.append(proc)
            if "adapters run his" in cmd:
                _wait_for_port(int(w.env["HUB_HIS_MLLP_PORT"]), proc)
        elif cmd.startswith("curl "):
            out = "\\n%{http_code} %{content_type}"
            done = _bash(w, f"curl -w '{out}' " + cmd[len("curl ") :], timeout=60)
            assert done.returncode == 0, (raw, done.stderr)
            body, _, tail = done.stdout.rpartition("\n")
            status, _, content_type = tail.partition(" ")
            assert status.startswith("2"), (raw, status, body)
            if "json" not in content_type:  # /health: text/plain "ok"
                assert body.strip(), (raw, content_type)
                continue
            answer = json.loads(body)
            if isinstance(answer, dict) and "/graphql" in cmd:
                assert not answer.get("errors"), (raw, answer)
        else:
            done = _bash(w, cmd)
            assert done.returncode == 0, (raw, done.stdout, done.stderr)


# -- the WebSocket transcript -----------------------------------------------------------


def transcript(code: str) -> list[tuple[str, dict[str, Any]]]:
    """("→" or "←", message) pairs; a message may span lines."""
    out: list[tuple[str, str]] = []
    for line in code.splitlines():
        if line.startswith(("→", "←")):
            out.append((line[0], line[1:].strip()))
        elif out:
            out[-1] = (out[-1][0], out[-1][1] + " " + line.strip())
    return [(arrow, json.loads(text)) for arrow, text in out]


def run_ws(w: World, ex: Example) -> None:
    from websockets.sync.client import connect

    url = w.live.url.replace("http://", "ws://") + "/graphql"
    messages = transcript(ex.code.replace("hub_…", w.admin_token))
    assert messages, "no → / ← lines"
    with connect(url, subprotocols=["graphql-transport-ws"]) as ws:  # type: ignore[list-item]
        for arrow, message in messages:
            if arrow == "→":
                ws.send(json.dumps(message))
            else:
                assert json.loads(ws.recv(timeout=10)) == message
        # The subscription is accepted: no error (a bad query or argument) comes back.
        try:
            answer = json.loads(ws.recv(timeout=1.5))
        except TimeoutError:
            return
        assert answer.get("type") == "next" and not answer["payload"].get("errors"), answer


# -- the examples, in README order ------------------------------------------------------


@pytest.mark.parametrize("ex", EXAMPLES, ids=[e.id for e in EXAMPLES])
def test_readme_example(world: World, ex: Example) -> None:
    if ex.lang == "graphql":
        run_graphql(world, ex)
    elif ex.lang == "sh":
        run_sh(world, ex)
    else:
        run_ws(world, ex)


# What the README says of the demo, checked after the examples ran (names do not change).
DEMO_PEOPLE = {1: "谭文宇", 12: "莫洁", 21612: "汪红刚", 27011: "王建国"}


def test_the_demo_is_what_the_readme_says(world: World) -> None:
    text = README.read_text(encoding="utf-8")
    assert "loaded 27010 demo residents (panyu 20402, wenzhou 1201, jilin 1604," in world.loaded
    assert "1–20402" in text and "21604–23207" in text and "27,010" in text
    q = "query($id: ID!) { resident(id: $id) { name region } }"
    for number, name in DEMO_PEOPLE.items():
        assert name in text
        assert world.api(q, {"id": str(number)})["resident"]["name"] == name, number
    assert world.api(q, {"id": "21604"})["resident"]["region"] == "jilin"
    assert world.api(q, {"id": "23207"})["resident"]["region"] == "jilin"
    orgs = world.api("""{ a: organization(id: "jilin-org-009") { name kind }
        b: organization(id: "jilin-org-008") { kind } }""")
    assert orgs["a"] == {"name": "吉林市船营区人民医院", "kind": "SECONDARY_HOSPITAL"}
    assert orgs["b"]["kind"] == "TERTIARY_HOSPITAL"


def test_global_ids_are_what_the_readme_says() -> None:
    """`UmVzaWRlbnQ6MTI` is "Resident:12" (URL-safe base64, padding optional)."""
    from schema.relay import from_global_id, to_global_id

    assert to_global_id("Resident", 12) == "UmVzaWRlbnQ6MTI"
    assert base64.urlsafe_b64decode("UmVzaWRlbnQ6MTI=") == b"Resident:12"
    assert from_global_id("UmVzaWRlbnQ6MTI=", "Resident") == ("Resident", "12")
    assert from_global_id("12", "Resident") == ("Resident", "12")  # a raw id is accepted
    assert from_global_id("panyu-team-005", "Team") == ("Team", "panyu-team-005")


def test_shell_tools_exist() -> None:
    assert shutil.which("curl"), "the README's curl examples need curl"
