"""Webhooks against a real local HTTP receiver, on SQLite and PostgreSQL: signed POSTs,
retries with backoff after failures, each event delivered once, failures kept and replayed."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

from hub.app import build_hub, create_app
from hub.events.webhooks import verify
from schema.relay import int_id
from tests.conftest import LiveServer
from tests.e2e.test_referral_support import (
    DAY,
    World,
    accept,
    act,
    build_world,
    complete,
    publish,
)


@pytest.fixture(scope="module")
def world(live: LiveServer, db_url: str) -> World:
    return build_world(live, db_url)


GUARD = 60.0  # seconds to wait for a condition before failing (a hang guard, not a check)

REGISTER = """mutation($url: String!, $events: [String!]) {
  registerWebhook(url: $url, events: $events) { webhook { id url events } secret
    userErrors { code field message } } }"""
DELIVERIES = """query($id: ID!, $status: WebhookDeliveryStatus) {
  webhookDeliveries(webhookId: $id, status: $status, first: 100) {
    id eventId status attempts lastStatusCode lastError } }"""


@dataclass
class Hit:
    path: str
    headers: dict[str, str]
    body: bytes
    status: int


@dataclass
class Receiver:
    """A local HTTP server; ``fail_first`` requests get 500, and ``failing`` paths always do."""

    fail_first: int = 0
    failing: set[str] = field(default_factory=set)
    hits: list[Hit] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)
    server: ThreadingHTTPServer | None = None

    @property
    def url(self) -> str:
        assert self.server is not None
        return f"http://127.0.0.1:{self.server.server_address[1]}"

    def ok(self, path: str) -> list[Hit]:
        with self.lock:
            return [h for h in self.hits if h.path == path and h.status == 200]

    def all(self, path: str) -> list[Hit]:
        with self.lock:
            return [h for h in self.hits if h.path == path]

    def handler(self) -> type[BaseHTTPRequestHandler]:
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 - the stdlib's name
                body = self.rfile.read(int(self.headers["Content-Length"]))
                with receiver.lock:
                    failing = receiver.fail_first > 0 or self.path in receiver.failing
                    if receiver.fail_first > 0:
                        receiver.fail_first -= 1
                    status = 500 if failing else 200
                    receiver.hits.append(
                        Hit(
                            self.path, {k.lower(): v for k, v in self.headers.items()}, body, status
                        )
                    )
                self.send_response(status)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                pass

        return Handler


@pytest.fixture(scope="module")
def receiver(db_url: str) -> Iterator[Receiver]:
    """One receiver per database (engine), so hits of one run never mix with another's."""
    r = Receiver()
    r.server = ThreadingHTTPServer(("127.0.0.1", 0), r.handler())
    thread = threading.Thread(target=r.server.serve_forever, daemon=True)
    thread.start()
    yield r
    r.server.shutdown()


@pytest.fixture(scope="module")
def live(db_url: str) -> Iterator[LiveServer]:
    """This module's server retries quickly, so failures and replays finish in a test."""
    with pytest.MonkeyPatch.context() as env:
        env.setenv("HUB_EVENTS_POLL_INTERVAL", "0.1")
        env.setenv("HUB_EVENTS_WEBHOOK_BACKOFF_BASE", "0.05")
        env.setenv("HUB_EVENTS_WEBHOOK_BACKOFF_CAP", "0.2")
        env.setenv("HUB_EVENTS_WEBHOOK_MAX_ATTEMPTS", "3")
        hub = build_hub(database_url=db_url)
    with LiveServer(create_app(hub)) as server:
        yield server


def wait_for(condition: Callable[[], Any], what: str) -> Any:
    deadline = time.monotonic() + GUARD
    while time.monotonic() < deadline:
        if value := condition():
            return value
        time.sleep(0.05)
    raise AssertionError(f"gave up waiting for {what}")


def register(world: World, api_name: str, url: str, events: list[str]) -> tuple[str, str]:
    out = world.clients[api_name](REGISTER, {"url": url, "events": events})["registerWebhook"]
    assert out["userErrors"] == [], out
    return out["webhook"]["id"], out["secret"]


def test_a_receiver_that_fails_twice_gets_each_event_once_signed(
    world: World, receiver: Receiver
) -> None:
    team, h2 = world.team_client("JL-CHC"), world.hospital("JL-H2")
    world.hospital("JL-HX")
    publish(h2, "JL-H2", DAY, "心内科", 10, 4)
    hook, secret = register(world, "hospital-JL-H2", receiver.url + "/h2", ["referral.*"])
    other_hook, other_secret = register(world, "hospital-JL-HX", receiver.url + "/hx", [])
    receiver.fail_first = 2

    rid = world.received(team, h2, "hook-1")
    accept(h2, rid, {"kind": "BED", "date": DAY.isoformat()})
    act(h2, "arrive", rid)
    complete(h2, rid, "出院")  # 5 transitions of the up-referral + the down-referral opened

    wait_for(lambda: len(receiver.ok("/h2")) >= 6, "six events at the receiver")
    statuses = lambda: [d["status"] for d in h2(DELIVERIES, {"id": hook})["webhookDeliveries"]]  # noqa: E731
    wait_for(lambda: statuses() and set(statuses()) == {"DELIVERED"}, "every delivery settled")

    ok = receiver.ok("/h2")
    bodies = [json.loads(h.body) for h in ok]
    ids = [b["id"] for b in bodies]
    assert len(ids) == len(set(ids)) == 6  # each event exactly once
    types = sorted(b["type"] for b in bodies)
    assert types == sorted(
        [
            "referral.requested",
            "referral.received",
            "referral.accepted",
            "referral.arrived",
            "referral.completed",
            "referral.requested",
        ]
    )
    for hit in receiver.all("/h2"):  # failed attempts were signed too
        assert verify(secret, hit.body, hit.headers["x-hub-signature-256"])
        assert not verify(other_secret, hit.body, hit.headers["x-hub-signature-256"])
        assert hit.headers["x-hub-event-id"] == json.loads(hit.body)["id"]
    failed = [h.headers["x-hub-event-id"] for h in receiver.all("/h2") if h.status == 500]
    assert len(failed) == 2
    for hit in ok:  # an event that failed n times succeeded at attempt n + 1
        assert int(hit.headers["x-hub-attempt"]) == 1 + failed.count(hit.headers["x-hub-event-id"])
    assert "resident" not in json.dumps(bodies[0]["data"]).replace("resident_id", "")

    # the other hospital's webhook got none of it: its first event is its own referral
    marker = world.refer(team, "hook-marker", to="JL-HX")["referral"]["referralId"]
    def referral_hits() -> list[Any]:
        return [h for h in receiver.ok("/hx") if json.loads(h.body)["aggregateType"] == "Referral"]

    first = wait_for(referral_hits, "the other hospital's event")
    assert [json.loads(h.body)["aggregateId"] for h in first] == [str(marker)]
    assert verify(other_secret, first[0].body, first[0].headers["x-hub-signature-256"])
    # of residents, it hears only of the one referred to it (visible once referred)
    residents = {json.loads(h.body)["aggregateId"] for h in receiver.ok("/hx")
                 if json.loads(h.body)["aggregateType"] == "Resident"}  # fmt: skip
    assert residents <= {str(world.resident_ids["hook-marker"])}
    assert other_hook != hook


def test_failed_deliveries_are_kept_and_replayed(world: World, receiver: Receiver) -> None:
    from typer.testing import CliRunner

    from hub.cli import app

    team, h2 = world.team_client("JL-CHC"), world.hospital("JL-H2")
    hook, secret = register(world, "hospital-JL-H2", receiver.url + "/down", ["referral.received"])
    receiver.failing.add("/down")
    first, second = (world.received(team, h2, f"replay-{n}") for n in range(2))
    assert first != second

    def failed() -> list[dict[str, Any]]:
        rows = h2(DELIVERIES, {"id": hook, "status": "FAILED"})["webhookDeliveries"]
        return rows if len(rows) == 2 else []

    rows = wait_for(failed, "two deliveries to run out of attempts")
    assert all(r["attempts"] == 3 and r["lastStatusCode"] == 500 for r in rows)
    assert len(receiver.all("/down")) == 6  # 2 events × 3 attempts, then nothing more

    receiver.failing.discard("/down")
    replay = """mutation($id: ID!) { replayWebhookDelivery(id: $id) {
        delivery { id status attempts } userErrors { code } } }"""
    out = h2(replay, {"id": rows[0]["id"]})["replayWebhookDelivery"]
    assert out["userErrors"] == [] and out["delivery"]["attempts"] == 0
    wait_for(lambda: len(receiver.ok("/down")) == 1, "the replayed delivery")
    # another client cannot replay this client's deliveries
    stranger = world.hospital("JL-HX")(replay, {"id": rows[1]["id"]})["replayWebhookDelivery"]
    assert stranger["userErrors"][0]["code"] == "NOT_FOUND"

    # the operator's command sends what is still failed, now (or queues it for the server)
    result = CliRunner().invoke(app, ["webhooks", "replay", "--database", world.db_url])
    assert result.exit_code == 0, result.output
    assert f"delivery {int_id(rows[1]['id'], 'WebhookDelivery')} " in result.output
    ok = wait_for(lambda: len(receiver.ok("/down")) == 2 and receiver.ok("/down"), "the rest")
    assert len({h.headers["x-hub-event-id"] for h in ok}) == 2
    assert all(verify(secret, h.body, h.headers["x-hub-signature-256"]) for h in ok)
    settled = lambda: {d["status"] for d in h2(DELIVERIES, {"id": hook})["webhookDeliveries"]}  # noqa: E731
    wait_for(lambda: settled() == {"DELIVERED"}, "both deliveries settled")
    assert len(receiver.ok("/down")) == 2  # and no third send once they settled


def test_a_webhook_to_a_private_address_is_refused_unless_the_operator_allows_it(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    world.hospital("JL-H2")
    monkeypatch.setenv("HUB_EVENTS_WEBHOOK_ALLOW_PRIVATE", "false")
    for url in ("http://169.254.169.254/latest/meta-data/", "http://127.0.0.1:5432/"):
        out = world.clients["hospital-JL-H2"](REGISTER, {"url": url, "events": ["referral.*"]})
        result = out["registerWebhook"]
        assert result["webhook"] is None and result["secret"] is None
        assert result["userErrors"][0]["code"] == "WEBHOOK_DESTINATION_NOT_ALLOWED"
        assert result["userErrors"][0]["field"] == "url"
    monkeypatch.setenv("HUB_EVENTS_WEBHOOK_ALLOW_PRIVATE", "true")
    register(world, "hospital-JL-H2", "http://127.0.0.1:9/lan-receiver", ["referral.*"])
