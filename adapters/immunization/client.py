"""The wire to the immunization system: `GET /changes?cursor=&limit=` (XML pages).

Every failure worth retrying raises `RetriableError` (5xx, timeouts, refused connections,
429 — whose Retry-After is honoured before the next request). The body is returned as
bytes: parsing (hardened) is translate's job.
"""

from __future__ import annotations

import asyncio
import logging
import time
from dataclasses import dataclass
from typing import Any

import httpx

from adapters.runtime.types import RetriableError

logging.getLogger("httpx").setLevel(logging.WARNING)


class SourceError(RetriableError):
    def __init__(self, code: str, text: str, retry_after: float | None = None) -> None:
        super().__init__(code, text)
        self.retry_after = retry_after


@dataclass(frozen=True, slots=True)
class RawPage:
    body: bytes
    next_cursor: str | None  # from X-Next-Cursor: readable even when the body is not
    has_more: bool


class ImmunizationClient:
    def __init__(self, url: str, token: str, *, timeout: float = 10.0) -> None:
        self.url = url.rstrip("/")
        self.http = httpx.AsyncClient(
            base_url=self.url, timeout=timeout, headers={"Authorization": f"Bearer {token}"}
        )
        self.not_before = 0.0
        self.requests = 0

    async def close(self) -> None:
        await self.http.aclose()

    async def get(self, path: str, **kw: Any) -> httpx.Response:
        wait = self.not_before - time.monotonic()
        if wait > 0:
            await asyncio.sleep(wait)
        self.requests += 1
        try:
            r = await self.http.get(path, **kw)
        except httpx.TimeoutException as err:
            raise SourceError("TIMEOUT", f"GET {path} timed out") from err
        except httpx.TransportError as err:
            raise SourceError("UNREACHABLE", f"GET {path}: {type(err).__name__}") from err
        if r.status_code == 429:
            after = _seconds(r.headers.get("retry-after"))
            self.not_before = time.monotonic() + after
            raise SourceError("RATE_LIMITED", f"429, Retry-After {after:g} s", after)
        if r.status_code >= 500:
            raise SourceError(f"HTTP_{r.status_code}", f"GET {path} answered {r.status_code}")
        if r.status_code != 200:
            raise SourceError(f"HTTP_{r.status_code}", f"GET {path} answered {r.status_code}")
        return r

    async def changes(self, cursor: str | None, limit: int) -> RawPage:
        params = {"limit": str(limit)}
        if cursor:
            params["cursor"] = cursor
        r = await self.get("/changes", params=params)
        return RawPage(
            r.content, r.headers.get("x-next-cursor"), r.headers.get("x-has-more") == "true"
        )


def _seconds(value: str | None) -> float:
    try:
        return max(0.0, min(300.0, float(value or 1)))
    except ValueError:
        return 1.0
