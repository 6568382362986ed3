"""Tell readers when a transaction that emitted events commits.

On PostgreSQL the transaction sends ``NOTIFY hub_events`` (delivered only if it commits),
which wakes the feed of every server process; in this process the feeds are also woken
directly after the commit. Readers still poll: a wake-up is an optimisation, the outbox
is the truth.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from sqlalchemy import event
from sqlalchemy.orm import Session

CHANNEL = "hub_events"
EMITTED = "hub.events.emitted"

_wakers: set[Callable[[], None]] = set()


def add_waker(wake: Callable[[], None]) -> None:
    """``wake`` must be safe to call from any thread (commits happen in any loop)."""
    _wakers.add(wake)


def remove_waker(wake: Callable[[], None]) -> None:
    _wakers.discard(wake)


def mark(session: Any) -> None:
    session.info[EMITTED] = True


@event.listens_for(Session, "before_commit")
def _notify_other_processes(session: Session) -> None:
    if session.info.get(EMITTED) and session.get_bind().dialect.name == "postgresql":
        session.connection().exec_driver_sql(f"NOTIFY {CHANNEL}")


@event.listens_for(Session, "after_commit")
def _wake_this_process(session: Session) -> None:
    if session.info.pop(EMITTED, False):
        for wake in list(_wakers):
            wake()


@event.listens_for(Session, "after_rollback")
def _forget(session: Session) -> None:
    session.info.pop(EMITTED, None)
