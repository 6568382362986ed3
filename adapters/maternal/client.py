"""The wire to the maternal-child system: token, paged incremental reads, pushes.

Every failure worth retrying raises `RetriableError` (5xx, timeouts, refused
connections, 429 — whose Retry-After is honoured before the next request); a 401
`token_expired` is answered by getting a new access token, once per request.
"""

from __future__ import annotations

import asyncio
import logging
import time
from typing import Any

import httpx

from adapters.runtime.types import RetriableError

logging.getLogger("httpx").setLevel(logging.WARNING)  # request lines carry cursors, no news


class SourceError(RetriableError):
    def __init__(self, code: str, text: str, retry_after: float | None = None) -> None:
        super().__init__(code, text)
        self.retry_after = retry_after


class MaternalClient:
    def __init__(self, url: str, token: str, *, timeout: float = 10.0) -> None:
        self.url, self.token = url.rstrip("/"), token
        self.http = httpx.AsyncClient(base_url=self.url, timeout=timeout)
        self.access: str | None = None
        self.not_before = 0.0  # monotonic time before which the source asked us to wait
        self.requests = 0

    async def close(self) -> None:
        await self.http.aclose()

    async def _authenticate(self) -> None:
        r = await self._send("POST", "/token", headers={"Authorization": f"Bearer {self.token}"})
        if r.status_code != 200:
            raise SourceError("AUTH_FAILED", f"POST /token answered {r.status_code}")
        self.access = str(r.json()["access_token"])

    async def _send(self, method: str, path: str, **kw: Any) -> httpx.Response:
        wait = self.not_before - time.monotonic()
        if wait > 0:
            await asyncio.sleep(wait)
        self.requests += 1
        try:
            return await self.http.request(method, path, **kw)
        except httpx.TimeoutException as err:
            raise SourceError("TIMEOUT", f"{method} {path} timed out") from err
        except httpx.TransportError as err:
            raise SourceError("UNREACHABLE", f"{method} {path}: {type(err).__name__}") from err

    async def request(self, method: str, path: str, **kw: Any) -> httpx.Response:
        for attempt in range(2):
            if self.access is None:
                await self._authenticate()
            headers = {**kw.pop("headers", {}), "Authorization": f"Bearer {self.access}"}
            r = await self._send(method, path, headers=headers, **kw)
            if r.status_code == 401 and attempt == 0:
                self.access = None  # expired or revoked: a new one, then once more
                kw["headers"] = {k: v for k, v in headers.items() if k != "Authorization"}
                continue
            if r.status_code == 429:
                after = _seconds(r.headers.get("retry-after"))
                self.not_before = time.monotonic() + after
                raise SourceError("RATE_LIMITED", f"429, Retry-After {after:g} s", after)
            if r.status_code >= 500:
                raise SourceError(
                    f"HTTP_{r.status_code}", f"{method} {path} answered {r.status_code}"
                )
            return r
        raise SourceError("AUTH_FAILED", "the access token was refused twice")

    async def records(self, cursor: str | None, limit: int) -> dict[str, Any]:
        params = {"limit": str(limit)}
        if cursor:
            params["cursor"] = cursor
        r = await self.request("GET", "/records", params=params)
        if r.status_code != 200:
            raise SourceError(f"HTTP_{r.status_code}", f"GET /records answered {r.status_code}")
        body: dict[str, Any] = r.json()
        return body

    async def push_signing_status(self, key: str, payload: bytes) -> httpx.Response:
        return await self.request(
            "POST", "/signing-status", content=payload,
            headers={"Idempotency-Key": key, "Content-Type": "application/json"},
        )  # fmt: skip


def _seconds(value: str | None) -> float:
    try:
        return max(0.0, min(300.0, float(value or 1)))
    except ValueError:
        return 1.0
