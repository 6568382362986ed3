"""Where webhooks may be sent: public addresses only, unless the operator allows private
ones (`HUB_EVENTS_WEBHOOK_ALLOW_PRIVATE=true`, e.g. integrators on the same hospital LAN).

A client that registers `http://127.0.0.1:5432/`, `http://10.0.0.7/admin` or the cloud
metadata address must not turn the hub into a proxy into its own network (SSRF). A URL
naming an address is checked when registered; a host name is resolved and checked before
every delivery, since what a name points to can change after registration.
"""

from __future__ import annotations

import asyncio
import ipaddress
import socket
from urllib.parse import urlsplit

from hub.errors import DomainError


class DestinationNotAllowed(DomainError):
    code = "WEBHOOK_DESTINATION_NOT_ALLOWED"


def is_public(address: str) -> bool:
    """A globally routable unicast address (not private, loopback, link-local, shared,
    reserved, multicast or unspecified)."""
    ip = ipaddress.ip_address(address.split("%", 1)[0])
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    return ip.is_global and not ip.is_multicast


def check_url(url: str, *, allow_private: bool) -> None:
    """Raise DomainError (INVALID_URL) or DestinationNotAllowed for a URL the hub will not
    POST to."""
    try:
        parts = urlsplit(url)
        host = parts.hostname
        parts.port  # noqa: B018 - raises ValueError for a port out of range
    except ValueError:
        host = None
    if parts.scheme not in ("http", "https") or not host or any(c.isspace() for c in url):
        raise DomainError("The URL must be http(s)://host/…", field="url", code="INVALID_URL")
    if parts.username or parts.password:
        raise DomainError("Put no credentials in the URL: every delivery is signed "
                          "(X-Hub-Signature-256) for the receiver to check.",
                          field="url", code="INVALID_URL")  # fmt: skip
    if allow_private:
        return
    if host == "localhost" or host.endswith(".localhost"):
        raise DestinationNotAllowed(f"{host} is this machine; webhooks go to public addresses.",
                                    field="url")  # fmt: skip
    try:
        public = is_public(host)
    except ValueError:
        return  # a host name: resolved and checked at each delivery
    if not public:
        raise DestinationNotAllowed(
            f"{host} is not a public address; webhooks go to public addresses "
            "(an operator can allow private ones: HUB_EVENTS_WEBHOOK_ALLOW_PRIVATE).",
            field="url",
        )


async def refusal(url: str, *, allow_private: bool) -> str | None:
    """Why a delivery to `url` must not be attempted now, or None. Resolves the host."""
    if allow_private:
        return None
    parts = urlsplit(url)
    host = parts.hostname or ""
    port = parts.port or (443 if parts.scheme == "https" else 80)
    try:
        infos = await asyncio.get_running_loop().getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except OSError:
        return "DNS: the host name does not resolve"
    if not infos or any(not is_public(str(info[4][0])) for info in infos):
        return "DESTINATION_NOT_ALLOWED: the host resolves to a non-public address"
    return None
