"""Webhooks go to public addresses only, unless the operator allows private ones (SSRF)."""

from __future__ import annotations

import pytest

from hub.errors import DomainError
from hub.events.destinations import DestinationNotAllowed, check_url, is_public, refusal


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
