"""Request limits at the edge (pure ASGI): bad input gets a 4xx with a stable code, fast.

* A body larger than ``max_body_bytes`` is refused — by its Content-Length before a byte
  is read, or, streamed/chunked, as soon as the count passes the limit: 413
  ``BODY_TOO_LARGE``. Nothing larger than the limit is ever held in memory.
* A POST /graphql body is checked before strawberry parses it: ``INVALID_UTF8``,
  ``TOO_DEEP`` (JSON nested deeper than ``max_json_depth``, found without recursion),
  ``MALFORMED_JSON``, ``BAD_REQUEST`` (not an object, ``query`` not a string,
  ``variables`` not an object); a body that is not JSON: 415 ``UNSUPPORTED_MEDIA_TYPE``.
  All 400s with a GraphQL-shaped body ``{"errors": [{"message", "extensions": {"code"}}]}``.
* A client that goes away mid-request is one INFO line, not a traceback; an unexpected
  error is one ERROR line with a plain, scrubbed traceback (hub.logs) and a 500.

The checked body is replayed to the app through a new ``receive``.
"""

from __future__ import annotations

import json
import re
from typing import Any

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from hub.logs import client_mistake, get_logger
from hub.settings import Settings

log = get_logger("hub.limits")

_STRING = re.compile(rb'"[^"\\]*(?:\\.[^"\\]*)*"')
_NOT_BRACKET = bytes(b for b in range(256) if b not in b"[]{}")
_AS_SQUARE = bytes.maketrans(b"{}", b"[]")
_INLINE_CHECK = 64 * 1024  # bytes; larger bodies are checked in a worker thread


def _disconnect_types() -> tuple[type[BaseException], ...]:
    import anyio
    from starlette.requests import ClientDisconnect

    return (
        ClientDisconnect,
        anyio.EndOfStream,
        anyio.ClosedResourceError,
        anyio.BrokenResourceError,
        ConnectionResetError,
        BrokenPipeError,
    )


_DISCONNECTS = _disconnect_types()


class Refused(Exception):
    """A request refused before the app sees it. Raised and caught here only (cheap:
    no traceback is rendered)."""

    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(message)
        self.status, self.code, self.message = status, code, message


def error_body(code: str, message: str) -> bytes:
    return json.dumps(
        {"errors": [{"message": message, "extensions": {"code": code}}]}, separators=(",", ":")
    ).encode()


async def send_error(
    send: Send,
    status: int,
    code: str,
    message: str,
    headers: list[tuple[bytes, bytes]] | None = None,
) -> None:
    body = error_body(code, message)
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(body)).encode()),
                *(headers or []),
            ],
        }
    )
    await send({"type": "http.response.body", "body": body, "more_body": False})


def json_too_deep(body: bytes, limit: int) -> bool:
    """Whether ``body`` nests arrays/objects deeper than ``limit``: strings are cut out,
    ``{}`` read as ``[]``, then innermost pairs removed one level per pass (C-speed, no
    recursion, at most ``limit`` passes). Unbalanced brackets are left to the parser."""
    brackets = _STRING.sub(b"", body).translate(_AS_SQUARE, _NOT_BRACKET)
    if b"[" * (limit + 1) in brackets:
        return True  # the usual attack, [[[[…, found in one scan
    for level in range(limit):
        if not brackets:
            return False
        if b"[" * (limit + 1 - level) in brackets:
            return True
        shorter = brackets.replace(b"[]", b"")  # one level: replace() does not rescan
        if len(shorter) == len(brackets):
            return False  # not balanced: the parser says MALFORMED_JSON
        brackets = shorter
    return b"[]" in brackets  # still nested: deeper than the limit


def check_graphql_body(body: bytes, max_depth: int) -> None:
    """Raise :class:`Refused` unless ``body`` is one GraphQL-over-HTTP request object."""
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError:
        raise Refused(400, "INVALID_UTF8", "The request body is not valid UTF-8.") from None
    if json_too_deep(body, max_depth):
        raise Refused(400, "TOO_DEEP", f"The request body nests deeper than {max_depth} levels.")
    try:
        data = json.loads(text)
    except RecursionError:
        raise Refused(400, "TOO_DEEP", "The request body nests too deeply.") from None
    except ValueError:  # JSONDecodeError, a number past Python's digit limit
        raise Refused(400, "MALFORMED_JSON", "The request body is not valid JSON.") from None
    if not isinstance(data, dict):
        raise Refused(
            400,
            "BAD_REQUEST",
            "The request body must be a JSON object "
            '{"query": "...", "variables": {...}}; batches are not supported.',
        )
    if not isinstance(data.get("query"), str):
        raise Refused(400, "BAD_REQUEST", "`query` must be a string (the GraphQL document).")
    if not isinstance(data.get("variables"), (dict, type(None))):
        raise Refused(400, "BAD_REQUEST", "`variables` must be an object or null.")
    if not isinstance(data.get("operationName"), (str, type(None))):
        raise Refused(400, "BAD_REQUEST", "`operationName` must be a string or null.")
    if not isinstance(data.get("extensions"), (dict, type(None))):
        raise Refused(400, "BAD_REQUEST", "`extensions` must be an object or null.")


class _Disconnected(Exception):
    pass


class RequestLimits:
    """Pure ASGI middleware; see the module docstring."""

    def __init__(self, app: ASGIApp, settings: Settings) -> None:
        self.app = app
        self.max_body = settings.max_body_bytes
        self.max_depth = settings.max_json_depth

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        state = {"started": False, "disconnected": False}

        async def tracked_send(message: Message) -> None:
            if message["type"] == "http.response.start":
                state["started"] = True
            await send(message)

        try:
            try:
                body = await self._read(scope, receive, state)
            except Refused as e:
                client_mistake("http.refused", e.code, status=e.status, path=scope["path"])
                await send_error(
                    send,
                    e.status,
                    e.code,
                    e.message,
                    [(b"connection", b"close")] if e.status == 413 else None,
                )
                return
            except _Disconnected:
                log.info("http.client_disconnect", path=scope["path"], phase="request")
                return
            await self.app(
                scope,
                _replay(body, receive, state) if body is not None else _watch(receive, state),
                tracked_send,
            )
        except Exception as e:  # noqa: BLE001 - one plain, scrubbed line, not uvicorn's
            if isinstance(e, _DISCONNECTS) and (state["disconnected"] or _is_client_side(e)):
                log.info("http.client_disconnect", path=scope["path"], error=type(e).__name__)
                return
            log.error("http.unhandled", path=scope["path"], error_type=type(e).__name__, exc_info=e)
            if not state["started"]:
                await send_error(send, 500, "INTERNAL", "Internal error; it has been logged.")

    async def _read(self, scope: Scope, receive: Receive, state: dict[str, bool]) -> bytes | None:
        """The body (checked, at most ``max_body`` bytes), or None when there is none."""
        headers = dict(scope.get("headers") or [])
        length = headers.get(b"content-length")
        chunked = b"chunked" in headers.get(b"transfer-encoding", b"").lower()
        if length is not None:
            if not length.isdigit():
                raise Refused(400, "BAD_REQUEST", "Content-Length is not a number.")
            if int(length) > self.max_body:
                raise Refused(413, "BODY_TOO_LARGE", self._too_large())
        if not chunked and (length is None or int(length) == 0):
            body: bytes | None = None
        else:
            chunks, size, more = [], 0, True
            while more:
                message = await receive()
                if message["type"] == "http.disconnect":
                    state["disconnected"] = True
                    raise _Disconnected
                chunk = message.get("body", b"")
                size += len(chunk)
                if size > self.max_body:
                    raise Refused(413, "BODY_TOO_LARGE", self._too_large())
                chunks.append(chunk)
                more = message.get("more_body", False)
            body = b"".join(chunks)
        if scope["path"] == "/graphql" and scope.get("method") == "POST":
            content_type = headers.get(b"content-type", b"").decode("latin-1").lower()
            if "application/json" not in content_type:
                raise Refused(
                    415, "UNSUPPORTED_MEDIA_TYPE", "Send the GraphQL request as application/json."
                )
            if len(body or b"") > _INLINE_CHECK:  # a large body is checked off the loop
                import anyio.to_thread

                await anyio.to_thread.run_sync(check_graphql_body, body, self.max_depth)
            else:
                check_graphql_body(body or b"", self.max_depth)
        return body

    def _too_large(self) -> str:
        return f"The request body is larger than {self.max_body} bytes."


def _is_client_side(error: BaseException) -> bool:
    from starlette.requests import ClientDisconnect

    return isinstance(error, ClientDisconnect)


def _watch(receive: Receive, state: dict[str, bool]) -> Receive:
    async def wrapped() -> Message:
        message = await receive()
        if message["type"] == "http.disconnect":
            state["disconnected"] = True
        return message

    return wrapped


def _replay(body: bytes, receive: Receive, state: dict[str, bool]) -> Receive:
    """The body already read, once; then the client's own messages (a disconnect)."""
    pending: list[Any] = [{"type": "http.request", "body": body, "more_body": False}]
    watched = _watch(receive, state)

    async def wrapped() -> Message:
        if pending:
            return pending.pop()
        return await watched()

    return wrapped
