"""GraphQL type of a TB episode and the Resident field that reaches it (`tuberculosis`).
Thin: rows through hub/tuberculosis; the resident already passed the one access policy
(this is a field of a visible Resident); every read is audited."""

from __future__ import annotations

import datetime as dt
from typing import Any

import strawberry
from sqlalchemy import select
from strawberry.scalars import JSON
from strawberry.types import Info

from hub.tuberculosis import service as tb
from hub.tuberculosis.models import TbEpisode
from mappings.tuberculosis import episode_of_care
from schema.context import Context


@strawberry.type(description="A TB patient's episode (结核病患者健康管理) from the CDC system.")
class TuberculosisEpisode:
    row: strawberry.Private[TbEpisode]
    notification_id: str = strawberry.field(description="The notification (报告卡) id.")
    source: str
    notified_at: dt.datetime = strawberry.field(description="Starts the first-visit clock.")
    diagnosed_on: dt.date | None
    diagnosis_type: str | None
    hospital: str | None = strawberry.field(description="Designated hospital (定点医疗机构).")
    treatment_start: dt.date | None
    regimen: str | None
    outcome: str | None
    closed_on: dt.date | None
    closed: bool
    first_visit_due: dt.datetime = strawberry.field(
        description="The primary-care first visit is due by then (72 hours after notification)."
    )
    first_visit_on: dt.date | None = strawberry.field(
        description="The first visit recorded for the resident after the notification."
    )
    first_visit_done: bool

    @strawberry.field(description="FHIR R4B EpisodeOfCare (type tuberculosis).")
    def fhir(self) -> JSON:
        return episode_of_care(
            self.row, first_visit_due=self.first_visit_due, first_visit_on=self.first_visit_on
        )

    @classmethod
    def of(cls, e: TbEpisode, visited: dt.date | None) -> TuberculosisEpisode:
        return cls(
            row=e, notification_id=e.source_id, source=e.source, notified_at=e.notified_at,
            diagnosed_on=e.diagnosed_on, diagnosis_type=e.diagnosis_type, hospital=e.hospital,
            treatment_start=e.treatment_start, regimen=e.regimen, outcome=e.outcome,
            closed_on=e.closed_on, closed=e.closed_on is not None,
            first_visit_due=tb.due_at(e), first_visit_on=visited,
            first_visit_done=visited is not None,
        )  # fmt: skip


async def resident_tuberculosis(
    info: Info[Context, Any], resident_id: int
) -> list[TuberculosisEpisode]:
    async def batch(session: Any, keys: list[int]) -> list[list[TuberculosisEpisode]]:
        rows = list(await session.scalars(
            select(TbEpisode).where(TbEpisode.resident_id.in_(keys))
            .order_by(TbEpisode.notified_at, TbEpisode.id)
        ))  # fmt: skip
        visits = await tb.first_visits(session, rows)
        found: dict[int, list[TuberculosisEpisode]] = {}
        for e in rows:
            found.setdefault(e.resident_id, []).append(TuberculosisEpisode.of(e, visits.get(e.id)))
        return [found.get(k, []) for k in keys]

    episodes: list[TuberculosisEpisode] = await info.context.loader(
        "TuberculosisEpisodes", batch
    ).load(resident_id)
    if episodes:
        info.context.audit_read("tuberculosis", resident_id)
    return episodes
