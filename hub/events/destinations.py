"""Where webhooks may be sent: public addresses only, unless the operator allows private
ones (`HUB_EVENTS_WEBHOOK_ALLOW_PRIVATE=true`, e.g. integrators on the same hospital LAN).

A client that registers `http://127.0.0.1:5432/`, `http://10.0.0.7/admin` or the cloud
metadata address must not turn the hub into a proxy into its own network (SSRF).

* **At registration** (`check_destination`) the URL's host is resolved once with
  `getaddrinfo`, which also reads the legacy numeric spellings of an address
  (`2130706433`, `127.1`, `0x7f000001`, `017700000001`, `0`, `[::ffff:127.0.0.1]`), and the
  URL is refused (WEBHOOK_DESTINATION_NOT_ALLOWED) if any address it resolves to is not
  public. A name that does not resolve at registration is refused too
  (WEBHOOK_HOST_UNRESOLVED): the hub cannot check it, and a receiver is registered once its
  DNS exists. `check_url` is the part without DNS (form, literal addresses, `localhost`).
* **At delivery** what a name points to may have changed since (DNS rebinding), so the
  dispatcher's HTTP client (`pinned_transport`) resolves the host when it opens a
  connection, checks every address, and connects to one of those checked addresses — the
  socket never goes through a second resolution. TLS still verifies the certificate for the
  URL's host name, and connections are pooled per host name, never shared between names
  that happen to resolve to the same address. A refused destination raises
  `DestinationRefused`, which the dispatcher records and does not retry (the delivery is
  FAILED at once); a name that does not resolve at delivery is an ordinary connection error
  and is retried (DNS outages pass).
"""

from __future__ import annotations

import asyncio
import ipaddress
import socket
from collections.abc import Awaitable, Callable, Iterable
from typing import Any
from urllib.parse import urlsplit

import httpcore
import httpx

from hub.errors import DomainError

REFUSED = "DESTINATION_NOT_ALLOWED"  # how a refusal's reason starts (never retried)
PRIVATE_HINT = "(an operator can allow private ones: HUB_EVENTS_WEBHOOK_ALLOW_PRIVATE)"

# host, port -> the addresses it resolves to (a seam for tests; getaddrinfo by default)
Resolver = Callable[[str, int], Awaitable[list[str]]]


class DestinationNotAllowed(DomainError):
    code = "WEBHOOK_DESTINATION_NOT_ALLOWED"


class HostUnresolved(DomainError):
    code = "WEBHOOK_HOST_UNRESOLVED"


class DestinationRefused(Exception):
    """Raised by the pinned transport instead of connecting: a permanent failure."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def is_public(address: str) -> bool:
    """A globally routable unicast address (not private, loopback, link-local, shared,
    reserved, multicast or unspecified)."""
    ip = ipaddress.ip_address(address.split("%", 1)[0])
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    return ip.is_global and not ip.is_multicast


def literal_address(host: str) -> str | None:
    """The address a host written as a number stands for, in any spelling the C resolver
    accepts (`127.1`, `2130706433`, `0x7f000001`, `017700000001`, `0`), or None for a name."""
    try:
        return str(ipaddress.ip_address(host))
    except ValueError:
        pass
    try:
        return socket.inet_ntoa(socket.inet_aton(host))
    except OSError:
        return None


def _is_localhost(host: str) -> bool:
    name = host.rstrip(".")
    return name == "localhost" or name.endswith(".localhost")


def _not_public(host: str, addresses: Iterable[str] = ()) -> DestinationNotAllowed:
    shown = ", ".join(sorted(set(addresses)))
    where = f"{host} ({shown})" if shown and shown != host else host
    return DestinationNotAllowed(
        f"{where} is not a public address; webhooks go to public addresses {PRIVATE_HINT}.",
        field="url",
    )


def check_url(url: str, *, allow_private: bool) -> None:
    """Raise DomainError (INVALID_URL) or DestinationNotAllowed for a URL the hub will not
    POST to, as far as can be told without DNS (see `check_destination`)."""
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
    if _is_localhost(host):
        raise DestinationNotAllowed(f"{host} is this machine; webhooks go to public addresses.",
                                    field="url")  # fmt: skip
    address = literal_address(host)
    if address is not None and not is_public(address):
        raise _not_public(host, [address])


async def resolve(host: str, port: int) -> list[str]:
    """Every address `host` resolves to (the event loop's getaddrinfo); OSError if none."""
    infos = await asyncio.get_running_loop().getaddrinfo(host, port, type=socket.SOCK_STREAM)
    addresses = list(dict.fromkeys(str(info[4][0]) for info in infos))
    if not addresses:
        raise socket.gaierror(socket.EAI_NONAME, "no address")
    return addresses


def _host_port(url: str) -> tuple[str, int]:
    parts = urlsplit(url)
    return parts.hostname or "", parts.port or (443 if parts.scheme == "https" else 80)


async def check_destination(
    url: str, *, allow_private: bool, resolver: Resolver | None = None
) -> None:
    """What registration checks: `check_url`, then the host resolved once and every
    address public. Raises DomainError (INVALID_URL), DestinationNotAllowed or
    HostUnresolved."""
    check_url(url, allow_private=allow_private)
    if allow_private:
        return
    host, port = _host_port(url)
    try:
        addresses = await (resolver or resolve)(host, port)
    except OSError:
        raise HostUnresolved(
            f"{host} does not resolve; register the webhook once its DNS name exists.",
            field="url",
        ) from None
    if any(not is_public(a) for a in addresses):
        raise _not_public(host, [a for a in addresses if not is_public(a)])


async def refusal(url: str, *, allow_private: bool, resolver: Resolver | None = None) -> str | None:
    """Why a delivery to `url` must not be attempted now, or None. Resolves the host.
    (Delivery itself goes through `pinned_transport`, which checks at connect time.)"""
    if allow_private:
        return None
    host, port = _host_port(url)
    try:
        addresses = await (resolver or resolve)(host, port)
    except OSError:
        return "DNS: the host name does not resolve"
    bad = [a for a in addresses if not is_public(a)]
    if bad:
        return f"{REFUSED}: {host} resolves to a non-public address ({bad[0]})"
    return None


class PinnedBackend(httpcore.AsyncNetworkBackend):
    """Resolves a host when a connection is opened, refuses it unless every address is
    public, and connects to a checked address (never resolving again)."""

    def __init__(
        self,
        resolver: Resolver | None = None,
        backend: httpcore.AsyncNetworkBackend | None = None,
    ) -> None:
        self._resolve = resolver or resolve
        self._backend = backend or httpcore.AnyIOBackend()

    async def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: Iterable[Any] | None = None,
    ) -> httpcore.AsyncNetworkStream:
        if _is_localhost(host):
            raise DestinationRefused(f"{REFUSED}: {host} is this machine")
        try:
            async with asyncio.timeout(timeout):
                addresses = await self._resolve(host, port)
        except (OSError, TimeoutError) as err:
            raise httpcore.ConnectError(f"DNS: {host} does not resolve ({err})") from err
        bad = [a for a in addresses if not is_public(a)]
        if bad:
            raise DestinationRefused(
                f"{REFUSED}: {host} resolves to a non-public address ({bad[0]})"
            )
        error: Exception | None = None
        for address in addresses:  # each one checked above; try them in the resolver's order
            try:
                return await self._backend.connect_tcp(
                    address.split("%", 1)[0], port, timeout, local_address, socket_options
                )
            except (httpcore.ConnectError, httpcore.ConnectTimeout) as err:
                error = err
        assert error is not None
        raise error

    async def connect_unix_socket(
        self, path: str, timeout: float | None = None, socket_options: Iterable[Any] | None = None
    ) -> httpcore.AsyncNetworkStream:
        raise DestinationRefused(f"{REFUSED}: no Unix sockets")

    async def sleep(self, seconds: float) -> None:
        await self._backend.sleep(seconds)


_LIMITS = httpx.Limits(max_connections=100, max_keepalive_connections=20, keepalive_expiry=5.0)


class PinnedTransport(httpx.AsyncHTTPTransport):
    """httpx's transport with its connection pool on a `PinnedBackend` (and no proxy: a
    proxy would resolve the name itself)."""

    def __init__(self, resolver: Resolver | None = None, limits: httpx.Limits = _LIMITS) -> None:
        super().__init__(limits=limits, trust_env=False)
        self._pool = httpcore.AsyncConnectionPool(
            ssl_context=httpx.create_ssl_context(trust_env=False),
            max_connections=limits.max_connections,
            max_keepalive_connections=limits.max_keepalive_connections,
            keepalive_expiry=limits.keepalive_expiry,
            network_backend=PinnedBackend(resolver),
        )


def http_client(
    *, allow_private: bool, timeout: float, resolver: Resolver | None = None
) -> httpx.AsyncClient:
    """The dispatcher's client: pinned and checked unless private destinations are allowed."""
    if allow_private:
        return httpx.AsyncClient(timeout=timeout)
    return httpx.AsyncClient(timeout=timeout, transport=PinnedTransport(resolver), trust_env=False)
