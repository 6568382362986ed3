"""TB rules: a notification links the patient through the matcher (source "cdc") with the
TUBERCULOSIS category and starts the 72-hour first-visit clock; a visit recorded for the
resident after it (an encounter from any source, or `recordServiceDelivery`) fulfils it;
closing ends the category. `mark_overdue` emits `tb.visit_overdue` once per episode."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

import yaml
from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from hub.access.principal import Principal
from hub.events.service import emit
from hub.registry.records import ResidentRecord
from hub.registry.service import RegistryService
from hub.tuberculosis.models import TbEpisode

SOURCE = "cdc"
RULES = Path(__file__).resolve().parents[2] / "mappings" / "immunization" / "tuberculosis.yaml"


@lru_cache(maxsize=1)
def rules() -> dict[str, Any]:
    data: dict[str, Any] = yaml.safe_load(RULES.read_text(encoding="utf-8"))
    return data


@dataclass(frozen=True)
class Notification:
    notification_id: str
    version: int
    kind: str  # notification | outcome | closing
    notified_at: dt.datetime
    patient: dict[str, Any]
    values: dict[str, Any]


async def apply_notification(
    session: AsyncSession, principal: Principal, registry: RegistryService, n: Notification
) -> dict[str, Any]:
    episode = await session.scalar(
        select(TbEpisode).where(
            TbEpisode.source == SOURCE, TbEpisode.source_id == n.notification_id
        )
    )
    closed = n.kind == "closing" or bool(episode and episode.closed_on)
    p = n.patient
    linked = await registry.submit(
        session, principal,
        ResidentRecord(source=SOURCE, source_id=f"tb:{n.notification_id}", name=p.get("name"),
                       sex=p.get("sex"), birth_date=p.get("birth_date"),
                       id_number=p.get("id_number"), phone=p.get("phone"), address=p.get("address"),
                       categories=[] if closed else [rules()["category"]]),
        strict=False,
    )  # fmt: skip
    if episode is None:
        episode = TbEpisode(source=SOURCE, source_id=n.notification_id, notified_at=n.notified_at,
                            resident_id=linked.resident.id)  # fmt: skip
        session.add(episode)
    if n.version < (episode.version or 0):
        return {"resident_id": linked.resident.id, "stale": True}
    episode.resident_id, episode.version = linked.resident.id, n.version
    for key in ("diagnosed_on", "diagnosis_type", "hospital", "treatment_start", "regimen",
                "outcome", "closed_on"):  # fmt: skip
        if n.values.get(key) is not None:
            setattr(episode, key, n.values[key])
    episode.updated_at = dt.datetime.now(dt.UTC)
    await session.flush()
    emit(session, f"tb.{n.kind}", "Resident", linked.resident.id, notification=n.notification_id)
    return {"resident_id": linked.resident.id, "episode_id": episode.id, "kind": n.kind}


def due_at(episode: TbEpisode) -> dt.datetime:
    return episode.notified_at + dt.timedelta(hours=int(rules()["first_visit_hours"]))


async def first_visits(session: AsyncSession, episodes: Sequence[TbEpisode]) -> dict[int, dt.date]:
    """episode id -> the first visit recorded for its resident on or after the notification."""
    from hub.contracts.models import ServiceDelivery
    from hub.records.models import Encounter

    out: dict[int, dt.date] = {}
    for e in episodes:
        since = e.notified_at
        enc = await session.scalar(
            select(func.min(Encounter.started_at)).where(
                Encounter.resident_id == e.resident_id, Encounter.started_at >= since
            )
        )
        delivered = await session.scalar(
            select(func.min(ServiceDelivery.performed_on)).where(
                ServiceDelivery.resident_id == e.resident_id,
                ServiceDelivery.performed_on >= since.date(),
            )
        )
        days = [d for d in (enc.date() if enc else None, delivered) if d is not None]
        if days:
            out[e.id] = min(days)
    return out


async def open_episodes(
    session: AsyncSession, resident_ids: Sequence[int] | None = None
) -> list[TbEpisode]:
    stmt = select(TbEpisode).where(TbEpisode.closed_on.is_(None))
    if resident_ids is not None:
        stmt = stmt.where(TbEpisode.resident_id.in_(list(resident_ids)))
    return list(await session.scalars(stmt))


async def mark_overdue(session: AsyncSession, now: dt.datetime) -> int:
    """Emit `tb.visit_overdue` once for each open episode past 72 hours without a visit.
    A conditional UPDATE decides who emits when several processes run it."""
    episodes = [
        e for e in await open_episodes(session) if e.overdue_marked_at is None and due_at(e) < now
    ]
    visited = await first_visits(session, episodes)
    emitted = 0
    for e in episodes:
        if e.id in visited:
            continue
        won = await session.execute(
            update(TbEpisode).where(TbEpisode.id == e.id, TbEpisode.overdue_marked_at.is_(None))
            .values(overdue_marked_at=now)
        )  # fmt: skip
        if won.rowcount == 1:  # type: ignore[attr-defined]
            emit(session, "tb.visit_overdue", "Resident", e.resident_id,
                 notification=e.source_id, dueAt=due_at(e).isoformat())  # fmt: skip
            emitted += 1
    return emitted
