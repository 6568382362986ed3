"""Webhook signatures, event filters, visibility and the retry schedule."""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import random

from hub.access.policy import visible_events
from hub.access.principal import Principal
from hub.events.dispatch import backoff
from hub.events.repository import FeedEvent
from hub.events.settings import EventSettings
from hub.events.webhooks import sign, verify, wants


def _event(
    type_: str = "referral.accepted",
    aggregate: str = "Referral",
    orgs: tuple[str, ...] = ("H1", "C1"),
) -> FeedEvent:
    return FeedEvent(
        id=7,
        tx=0,
        at=dt.datetime(2026, 12, 1, tzinfo=dt.UTC),
        type=type_,
        aggregate_type=aggregate,
        aggregate_id="3",
        organization_ids=orgs,
        data={},
    )


def test_the_signature_is_hmac_sha256_of_the_raw_body() -> None:
    body = b'{"id":"7","type":"referral.accepted"}'
    expected = hmac.new(b"whsec_x", body, hashlib.sha256).hexdigest()
    assert sign("whsec_x", body) == f"sha256={expected}"
    assert verify("whsec_x", body, f"sha256={expected}")
    assert not verify("whsec_x", body + b" ", f"sha256={expected}")
    assert not verify("whsec_y", body, f"sha256={expected}")


def test_event_patterns() -> None:
    assert wants([], "resident.merged")
    assert wants(["referral.*"], "referral.accepted")
    assert not wants(["referral.*"], "referrals.accepted")
    assert wants(["referral.accepted", "contract.*"], "contract.signed")
    assert not wants(["referral.accepted"], "referral.rejected")


async def test_webhooks_need_the_scope_of_the_kind_of_thing() -> None:
    # Unbound clients: only the scope decides (no query is needed, hence no session).
    # Bound clients go through the access policy: tests/e2e/test_access_boundary.py.
    referrals = Principal("i", frozenset({"referrals:read"}))
    residents = Principal("v", frozenset({"residents:read"}))
    referral, merged = _event(), _event("resident.merged", "Resident", ("H1",))
    assert await visible_events(None, referrals, [referral, merged]) == [referral]  # type: ignore[arg-type]
    assert await visible_events(None, residents, [referral, merged]) == [merged]  # type: ignore[arg-type]


def test_retries_back_off_exponentially_with_jitter_up_to_a_cap() -> None:
    s = EventSettings(webhook_backoff_base=2, webhook_backoff_cap=60)
    rng = random.Random(1)
    for attempt, ceiling in [(1, 2), (2, 4), (3, 8), (5, 32), (6, 60), (20, 60)]:
        delays = [backoff(attempt, s, rng) for _ in range(200)]
        assert all(ceiling / 2 <= d <= ceiling for d in delays)
        assert max(delays) - min(delays) > ceiling / 10  # jittered, not in lockstep
