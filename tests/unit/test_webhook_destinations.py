"""Webhooks go to public addresses only, unless the operator allows private ones (SSRF)."""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import socket
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest

from hub.errors import DomainError
from hub.events import destinations
from hub.events.destinations import (
    DestinationNotAllowed,
    DestinationRefused,
    HostUnresolved,
    Resolver,
    check_destination,
    check_url,
    http_client,
    is_public,
    literal_address,
    refusal,
)


@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.1:5432/",
        "http://localhost/hook",
        "http://api.localhost/hook",
        "http://10.1.2.3/hook",
        "http://192.168.0.10/hook",
        "http://172.16.5.4/hook",
        "http://169.254.169.254/latest/meta-data/",  # cloud metadata
        "http://100.64.0.1/hook",  # carrier-grade NAT
        "http://0.0.0.0:8000/",
        "http://[::1]/hook",
        "http://[::ffff:127.0.0.1]/hook",
        "http://[fd00::1]/hook",
    ],
)
def test_private_destinations_are_refused(url: str) -> None:
    with pytest.raises(DestinationNotAllowed) as err:
        check_url(url, allow_private=False)
    assert err.value.code == "WEBHOOK_DESTINATION_NOT_ALLOWED" and err.value.field == "url"
    check_url(url, allow_private=True)  # an operator may allow the LAN


@pytest.mark.parametrize(
    "url", ["https://hooks.example.com/fdhub", "http://8.8.8.8/hook", "https://[2001:4860::8888]/"]
)
def test_public_destinations_pass(url: str) -> None:
    check_url(url, allow_private=False)


@pytest.mark.parametrize(
    "url",
    ["ftp://example.com/x", "https://user:pw@example.com/", "http:///nohost", "http://x:99999/"],
)
def test_malformed_urls_are_invalid(url: str) -> None:
    with pytest.raises(DomainError) as err:
        check_url(url, allow_private=True)
    assert err.value.code == "INVALID_URL"


def test_addresses() -> None:
    assert is_public("8.8.8.8") and is_public("2001:4860::8888")
    assert not is_public("127.0.0.1") and not is_public("224.0.0.1") and not is_public("fe80::1")


async def test_a_name_resolving_to_this_machine_is_not_delivered_to() -> None:
    reason = await refusal("http://localhost:9/hook", allow_private=False)
    assert reason is not None and reason.startswith("DESTINATION_NOT_ALLOWED")
    assert await refusal("http://localhost:9/hook", allow_private=True) is None
    unresolvable = await refusal("http://no-such-host.invalid/hook", allow_private=False)
    assert unresolvable is not None and unresolvable.startswith("DNS")


def test_a_url_with_whitespace_is_invalid() -> None:
    with pytest.raises(DomainError) as err:
        check_url("https://hooks.example .com/x", allow_private=False)
    assert err.value.code == "INVALID_URL"


# ------------------------------------------ loopback in disguise, resolution, pinning

DISGUISED = [
    "http://2130706433/",
    "http://127.1/",
    "http://0x7f000001/",
    "http://017700000001/",
    "http://localhost./",
    "http://LOCALHOST/",
    "http://[::ffff:127.0.0.1]/",
    "http://[::ffff:7f00:1]/",
    "http://0/",
    "http://0x7f.1/",
    "http://10.1/",
]


@pytest.mark.parametrize("url", DISGUISED)
def test_loopback_in_another_spelling_is_refused_without_dns(url: str) -> None:
    with pytest.raises(DestinationNotAllowed):
        check_url(url, allow_private=False)


@pytest.mark.parametrize("url", DISGUISED)
async def test_loopback_in_another_spelling_is_refused_at_registration(url: str) -> None:
    with pytest.raises(DestinationNotAllowed) as err:
        await check_destination(url, allow_private=False)
    assert err.value.code == "WEBHOOK_DESTINATION_NOT_ALLOWED" and err.value.field == "url"
    await check_destination(url, allow_private=True)


def test_literal_addresses_in_every_spelling() -> None:
    for host in ("2130706433", "127.1", "0x7f000001", "017700000001", "127.0.0.1"):
        assert literal_address(host) == "127.0.0.1"
    assert literal_address("0") == "0.0.0.0"
    assert literal_address("::ffff:127.0.0.1") == "::ffff:7f00:1"
    assert literal_address("hooks.example.com") is None
    assert literal_address("cafe.face") is None


def fake_dns(table: dict[str, list[str]], calls: list[str] | None = None) -> Resolver:
    async def resolver(host: str, port: int) -> list[str]:
        if calls is not None:
            calls.append(host)
        if host not in table:
            raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")
        return table[host]

    return resolver


async def test_a_name_is_resolved_at_registration() -> None:
    dns = fake_dns(
        {
            "hooks.example.com": ["93.184.215.14", "2606:2800:21f:cb07:6820:80da:af6b:8b2c"],
            "internal.example.com": ["93.184.215.14", "10.0.0.7"],  # one private is enough
            "rebind.example.com": ["::ffff:127.0.0.1"],
        }
    )
    await check_destination("https://hooks.example.com/fdhub", allow_private=False, resolver=dns)
    for url in ("https://internal.example.com/x", "http://rebind.example.com/"):
        with pytest.raises(DestinationNotAllowed):
            await check_destination(url, allow_private=False, resolver=dns)
    with pytest.raises(HostUnresolved) as err:
        await check_destination("https://typo.example.com/x", allow_private=False, resolver=dns)
    assert err.value.code == "WEBHOOK_HOST_UNRESOLVED" and err.value.field == "url"
    # an operator who allows the LAN gets no DNS check at all
    await check_destination("https://typo.example.com/x", allow_private=True, resolver=dns)


async def test_an_unresolvable_name_is_refused_at_registration_with_real_dns() -> None:
    with pytest.raises(HostUnresolved):
        await check_destination("http://no-such-host.invalid/hook", allow_private=False)


@pytest.fixture
async def receiver() -> AsyncIterator[tuple[int, list[bytes]]]:
    """A bare HTTP/1.1 server on 127.0.0.1 answering 204 and keeping each request head."""
    heads: list[bytes] = []

    async def serve(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        with contextlib.suppress(Exception):
            while True:
                head = await reader.readuntil(b"\r\n\r\n")
                length = next(
                    (int(line.split(b":", 1)[1]) for line in head.split(b"\r\n")
                     if line.lower().startswith(b"content-length:")), 0)  # fmt: skip
                await reader.readexactly(length)
                heads.append(head)
                writer.write(b"HTTP/1.1 204 No Content\r\ncontent-length: 0\r\n\r\n")
                await writer.drain()
        writer.close()

    server = await asyncio.start_server(serve, "127.0.0.1", 0)
    yield server.sockets[0].getsockname()[1], heads
    server.close()
    await server.wait_closed()


async def test_delivery_connects_to_the_address_it_checked(
    receiver: tuple[int, list[bytes]], monkeypatch: pytest.MonkeyPatch
) -> None:
    """DNS rebinding: the name answers a checked address once, then a private one. The
    connection goes to the checked address; the host name stays in the Host header."""
    port, heads = receiver
    # for this test only, 127.0.0.1 counts as public so that a local server can stand in
    real = destinations.is_public
    monkeypatch.setattr(destinations, "is_public", lambda a: a == "127.0.0.1" or real(a))
    answers = [["127.0.0.1"], ["10.0.0.7"]]
    calls: list[str] = []

    async def rebinding(host: str, port: int) -> list[str]:
        calls.append(host)
        return answers[min(len(calls), len(answers)) - 1]

    async with http_client(allow_private=False, timeout=5, resolver=rebinding) as http:
        r = await http.post(f"http://hooks.example.com:{port}/hook", content=b"{}")
        assert r.status_code == 204
        assert calls == ["hooks.example.com"]  # resolved once, for the connection
        assert heads and f"Host: hooks.example.com:{port}".encode() in heads[0]
        r = await http.post(f"http://hooks.example.com:{port}/hook", content=b"{}")
        assert r.status_code == 204 and calls == ["hooks.example.com"]  # pooled connection
        # a new connection resolves again, and now the name points inside: refused
        await http.aclose()
    async with http_client(allow_private=False, timeout=5, resolver=rebinding) as http:
        with pytest.raises(DestinationRefused) as err:
            await http.post(f"http://hooks.example.com:{port}/hook", content=b"{}")
        assert err.value.reason.startswith("DESTINATION_NOT_ALLOWED") and "10.0.0.7" in str(err)
    assert len(heads) == 2  # nothing reached any server after the refusal


async def test_delivery_refuses_loopback_spellings_and_localhost() -> None:
    async with http_client(allow_private=False, timeout=2) as http:
        for url in ("http://127.1:9/", "http://2130706433:9/", "http://localhost.:9/"):
            with pytest.raises(DestinationRefused):
                await http.post(url, content=b"{}")


async def test_delivery_of_an_unresolvable_name_is_a_retriable_connect_error() -> None:
    async with http_client(allow_private=False, timeout=2, resolver=fake_dns({})) as http:
        with pytest.raises(httpx.ConnectError):
            await http.post("https://gone.example.com/hook", content=b"{}")


class _Session:
    def __init__(self, seen: list[dict[str, object]]) -> None:
        self.seen = seen

    async def get(self, *args: object) -> None:
        return None

    async def execute(self, stmt: Any) -> None:
        self.seen.append(dict(stmt.compile().params))


class _Db:
    def __init__(self) -> None:
        self.updates: list[dict[str, object]] = []

    @contextlib.asynccontextmanager
    async def transaction(self) -> AsyncIterator[_Session]:
        yield _Session(self.updates)


async def test_a_refused_delivery_fails_at_once_and_says_why(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The dispatcher does not retry a destination its client refused: FAILED on the first
    attempt, with the reason kept; a connection error is retried as before."""
    from hub.events.dispatch import Claimed, WebhookDispatcher
    from hub.events.models import DeliveryStatus
    from hub.events.repository import FeedEvent
    from hub.events.settings import EventSettings

    db = _Db()
    dns = fake_dns({"inside.example.com": ["10.0.0.7"]})
    settings = EventSettings(webhook_allow_private=False, webhook_max_attempts=8)
    http = http_client(allow_private=False, timeout=2, resolver=dns)
    dispatcher = WebhookDispatcher(db, settings, http=http)  # type: ignore[arg-type]
    event = FeedEvent(1, 1, dt.datetime.now(dt.UTC), "referral.accepted", "Referral", "7", (), {})
    only = [1]

    async def claim(_: object) -> list[Claimed]:
        url = "https://inside.example.com/x" if only == [1] else "https://gone.example.com/x"
        return [Claimed(1, "t", 1, url, "s", event)]

    monkeypatch.setattr(dispatcher, "_claim", claim)
    assert await dispatcher.deliver_due(only) == 1
    refused = db.updates.pop()
    assert refused["status"] == DeliveryStatus.FAILED
    assert str(refused["last_error"]).startswith("DESTINATION_NOT_ALLOWED")
    assert "10.0.0.7" in str(refused["last_error"])

    only = [2]
    assert await dispatcher.deliver_due(only) == 1
    retried = db.updates.pop()
    assert "status" not in retried and retried["last_error"] == "ConnectError"
    assert retried["next_attempt_at"] is not None
    await http.aclose()
