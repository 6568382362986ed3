"""Shared set-up for the immunization adapter tests: the simulator as a real separate
process on 127.0.0.1, and fast settings for the runner."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import httpx

from adapters.immunization.settings import ImmunizationSettings

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
TOKEN = "immunization-test-token"


@contextmanager
def simulator(*args: str, token: str = TOKEN) -> Iterator[str]:
    """`hub simulate immunization` in its own process on a free port; yields its URL."""
    proc = subprocess.Popen(
        [sys.executable, "-m", "adapters.immunization.simulator", "--port", "0",
         "--token", token, *args],
        cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )  # fmt: skip
    try:
        assert proc.stdout is not None
        line = proc.stdout.readline()
        found = re.search(r"http://127\.0\.0\.1:\d+", line)
        assert found, f"simulator did not start: {line!r}"
        yield found.group(0)
    finally:
        proc.terminate()
        proc.wait(timeout=10)


def client(url: str, token: str = TOKEN) -> httpx.Client:
    return httpx.Client(base_url=url, headers={"Authorization": f"Bearer {token}"}, timeout=10)


def stats(url: str) -> dict[str, Any]:
    with client(url) as c:
        out: dict[str, Any] = c.get("/stats").json()
        return out


def fast_settings(url: str, **kw: Any) -> ImmunizationSettings:
    base = dict(url=url, token=TOKEN, page_size=40, timeout=2.0, backoff_base=0.02,
                backoff_cap=0.2, poll_seconds=0.1)  # fmt: skip
    return ImmunizationSettings(**{**base, **kw})
