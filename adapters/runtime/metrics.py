"""The adapters' counters in the Prometheus text format (served at /metrics)."""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from typing import Any

from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from starlette.routing import Route

from adapters.runtime.control import AdapterStatus

_COUNTERS = (
    ("received", "Messages received and logged (duplicates and rejected ones included)"),
    ("applied", "Messages applied"),
    ("duplicates", "Messages recognised as already received and not applied again"),
    ("failed", "Messages answered AE/AR: unreadable or unusable as sent"),
    ("dead_lettered", "Messages given up after their retries"),
)
_GAUGES = (
    ("pending", "Messages waiting to be applied (parked or to be retried)"),
    ("parked", "Messages waiting for what they depend on (an update before its create)"),
    ("lag_seconds", "Age of the oldest message waiting to be applied"),
    ("enabled", "1 when the adapter's kill switch is on (running), else 0"),
)


# This process's MLLP connections refused or closed early, by reason (peer_limit,
# server_full, evicted_silent, first_message_timeout): the listener adds to it.
MLLP_REFUSED: Counter[str] = Counter()
_MLLP_REASONS = ("peer_limit", "server_full", "evicted_silent", "first_message_timeout")


def count_mllp_refused(reason: str) -> None:
    MLLP_REFUSED[reason] += 1


def render(statuses: Sequence[AdapterStatus]) -> str:
    lines: list[str] = []
    for name, text in _COUNTERS:
        metric = f"hub_adapter_{name}_total"
        lines += [f"# HELP {metric} {text}.", f"# TYPE {metric} counter"]
        lines += [f'{metric}{{adapter="{s.name}"}} {getattr(s, name)}' for s in statuses]
    for name, text in _GAUGES:
        metric = f"hub_adapter_{name}"
        lines += [f"# HELP {metric} {text}.", f"# TYPE {metric} gauge"]
        lines += [f'{metric}{{adapter="{s.name}"}} {float(getattr(s, name)):g}' for s in statuses]
    metric = "hub_adapter_outbound"
    lines += [f"# HELP {metric} Outbound messages by status.", f"# TYPE {metric} gauge"]
    for s in statuses:
        lines += [
            f'{metric}{{adapter="{s.name}",status="{k}"}} {v}'
            for k, v in sorted(s.outbound.items())
        ]
    metric = "hub_mllp_connections_refused_total"
    lines += [
        f"# HELP {metric} MLLP connections refused or closed early by this process, by reason.",
        f"# TYPE {metric} counter",
    ]
    reasons = sorted({*_MLLP_REASONS, *MLLP_REFUSED})
    lines += [f'{metric}{{reason="{r}"}} {MLLP_REFUSED[r]}' for r in reasons]
    return "\n".join(lines) + "\n"


def route(hub: Any) -> Route:
    """GET /metrics for operators' scrapers: a bearer token with the admin scope."""

    async def metrics(request: Request) -> Response:
        from adapters.runtime import control
        from hub.access.principal import Scope

        principal = request.scope.get("principal")
        if principal is None or not principal.has(Scope.ADMIN):
            return PlainTextResponse("the admin scope is needed\n", status_code=403)
        async with hub.db.reader() as session:
            statuses = [
                await control.status(
                    session, principal, name, default=control.default_enabled(hub, name)
                )
                for name in sorted(control.KNOWN)
            ]
        return PlainTextResponse(render(statuses), media_type="text/plain; version=0.0.4")

    return Route("/metrics", metrics)
