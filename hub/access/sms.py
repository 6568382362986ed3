"""One-time codes to a resident's phone: a sender behind one small interface.

`HUB_SMS_SENDER` picks it: ``file:PATH`` appends ``<loginId> <code>`` per code (the
development default, ``var/sms.log``), ``console`` prints the same line to stdout. A real
gateway implements `SmsSender` and is registered in `SENDERS`. The phone number and the code
never reach a log line.
"""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path
from typing import Protocol


class SmsSender(Protocol):
    async def send_code(self, login_id: str, phone: str, code: str) -> None:
        """Deliver `code` to `phone`; `login_id` tells which login it belongs to."""


class FileSender:
    """Development and tests: one line per code, appended."""

    def __init__(self, path: Path) -> None:
        self.path = path

    async def send_code(self, login_id: str, phone: str, code: str) -> None:
        await asyncio.to_thread(self._append, f"{login_id} {code}\n")

    def _append(self, line: str) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with self.path.open("a", encoding="utf-8") as f:
            f.write(line)


class ConsoleSender:
    async def send_code(self, login_id: str, phone: str, code: str) -> None:
        print(f"{login_id} {code}", file=sys.stdout, flush=True)


class NoSender:
    """A login for nobody on record: nothing is sent (the caller sees the same answer)."""

    async def send_code(self, login_id: str, phone: str, code: str) -> None:
        return None


def sender_from(spec: str) -> SmsSender:
    """`file:PATH` or `console`."""
    kind, _, arg = spec.partition(":")
    if kind == "file":
        return FileSender(Path(arg or "var/sms.log"))
    if kind == "console":
        return ConsoleSender()
    raise ValueError(f"HUB_SMS_SENDER: unknown sender {kind!r}; use file:PATH or console")
