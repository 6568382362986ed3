"""Known personal data (PHI) and a way to capture everything the hub logs, to assert that
none of it reaches a log line. Reusable: feed PHI through any entry point (GraphQL, FHIR,
MLLP, imports) inside :func:`captured_logs`, then :func:`assert_no_phi`.

    with captured_logs() as logs, LoggedServer(create_app(build_hub(database_url=url))) as s:
        ...  # requests carrying PHI
    assert_no_phi(logs.getvalue())
"""

from __future__ import annotations

import contextlib
import datetime as dt
import io
import logging
import threading
from collections.abc import Iterator
from typing import Any

from hub.registry.idnumber import make
from tests.conftest import LiveServer

NAME = "测试甲乙"
ID_NUMBER = make("440113", dt.date(1961, 7, 9), 357)  # a valid 18-digit ID number
ID_NUMBER_15 = ID_NUMBER[:6] + ID_NUMBER[8:17]  # its 15-digit (first-generation) form
PHONE = "13912345678"
ADDRESS = "番禺区市桥街道光明北路88号"
GUARDIAN = "测试丙丁"

# Every string that must never appear in a log line (fragments a redactor might leave).
PHI = (NAME, ID_NUMBER, ID_NUMBER_15, PHONE, ADDRESS, GUARDIAN, "光明北路", "市桥街道")


def phi_record(source_id: str = "PHI-1", **extra: Any) -> dict[str, Any]:
    """A ResidentRecordInput carrying all of the PHI above."""
    return {
        "source": "vendor",
        "sourceId": source_id,
        "name": NAME,
        "sex": "1",
        "birthDate": "1961-07-09",
        "idNumber": ID_NUMBER,
        "phone": PHONE,
        "address": ADDRESS,
        "guardianName": GUARDIAN,
        "guardianPhone": PHONE,
        **extra,
    }


class _Buffer(io.StringIO):
    """A StringIO written from the server thread and read from the test."""

    def __init__(self) -> None:
        super().__init__()
        self._lock = threading.Lock()

    def write(self, text: str) -> int:
        with self._lock:
            return super().write(text)

    def getvalue(self) -> str:
        with self._lock:
            return super().getvalue()


@contextlib.contextmanager
def captured_logs(level: str = "DEBUG", json: bool = False) -> Iterator[_Buffer]:
    """Everything logged meanwhile — structlog and stdlib (uvicorn, sqlalchemy, asyncio) —
    at ``level``, into a buffer. The hub's own ``configure`` (run by ``create_app``) keeps
    the buffer as its stream."""
    from hub import logs

    buffer = _Buffer()
    previous, previous_config = logs.STREAM.target, logs.CONFIGURED
    logs.configure(level, json)
    logs.STREAM.target = buffer
    try:
        yield buffer
    finally:
        logs.STREAM.target = previous
        logs.configure(*previous_config)


class LoggedServer(LiveServer):
    """A LiveServer whose uvicorn logs (access lines included) go through the hub's
    logging: no uvicorn log config of its own, everything propagates to the root."""

    def __init__(self, app: Any, level: str = "debug") -> None:
        import uvicorn

        super().__init__(app)
        self.server = uvicorn.Server(
            uvicorn.Config(
                app,
                host="127.0.0.1",
                port=self.port,
                log_config=None,
                log_level=level,
                access_log=True,
                lifespan="on",
            )
        )
        for name in ("uvicorn", "uvicorn.error", "uvicorn.access", "uvicorn.asgi"):
            # handlers a previous server's log config left: propagate to the root instead
            logging.getLogger(name).handlers.clear()
            logging.getLogger(name).propagate = True
        self.thread = threading.Thread(target=self.server.run, daemon=True)


def phi_found(text: str) -> list[str]:
    return [p for p in PHI if p in text]


def assert_no_phi(text: str) -> None:
    found = phi_found(text)
    if found:
        lines = [line for line in text.splitlines() if any(p in line for p in found)]
        raise AssertionError(f"PHI in the logs: {found!r}; lines: {lines[:5]!r}")
