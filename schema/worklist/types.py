"""The team work list in GraphQL: one `WorkItem` type for every kind of open item."""

from __future__ import annotations

import datetime as dt
from typing import Any

import strawberry
from strawberry.scalars import JSON
from strawberry.types import Info

from hub.referrals.workflow import next_action
from hub.worklist import service
from schema.context import Context
from schema.referrals.queries import find_referral
from schema.referrals.types import Referral, ReferralAction
from schema.registry.types import Resident, load_resident

WorkItemKind = strawberry.enum(service.WorkItemKind, description="What the team has to do.")
WorkItemStatus = strawberry.enum(service.WorkItemStatus)


@strawberry.type(description="工作清单: one open item of a family doctor team's work list — a "
                 "resident handed back by a hospital, a visit, a vaccination due… — whatever "
                 "the source, one list.")  # fmt: skip
class WorkItem:
    item: strawberry.Private[service.WorkItem]
    kind: WorkItemKind
    status: WorkItemStatus
    source: str = strawberry.field(description="Where the need comes from (referral, maternal, …).")
    title: str
    due_on: dt.date | None = strawberry.field(description="When it falls due.")
    due_by: dt.date | None = strawberry.field(description="The end of its window: OVERDUE after.")
    since: dt.datetime | None
    detail: JSON = strawberry.field(description="Codes and ids of the item; no personal data.")

    @classmethod
    def of(cls, i: service.WorkItem) -> WorkItem:
        return cls(item=i, kind=i.kind, status=i.status, source=i.source, title=i.title,
                   due_on=i.due_on, due_by=i.due_by, since=i.since, detail=i.detail)  # fmt: skip

    @strawberry.field(description="The resident it is owed to.")
    async def resident(self, info: Info[Context, Any]) -> Resident | None:
        return await load_resident(info, self.item.resident_id, via=self.item.scope)

    @strawberry.field(description="The referral, for REFERRAL_FOLLOW_UP items.")
    async def referral(self, info: Info[Context, Any]) -> Referral | None:
        if self.item.subject_type != "Referral":
            return None
        return await find_referral(info, int(self.item.subject_id))

    @strawberry.field(description="The referral's next step, for REFERRAL_FOLLOW_UP items.")
    def next_action(self) -> ReferralAction | None:
        status = self.item.detail.get("status") if self.item.subject_type == "Referral" else None
        action = next_action(status) if status else None
        return ReferralAction(action) if action else None


@strawberry.type
class WorkListQuery:
    @strawberry.field(description="A family doctor team's work list: every open item it owes its "
                      "residents, most urgent first (OVERDUE, DUE, UPCOMING), of the residents "
                      "this client may see.")  # fmt: skip
    async def team_work_list(
        self, info: Info[Context, Any], team_id: strawberry.ID, as_of: dt.date | None = None,
        kinds: list[WorkItemKind] | None = None, status: list[WorkItemStatus] | None = None,
    ) -> list[WorkItem]:  # fmt: skip
        from schema.relay import raw_id

        ctx = info.context
        team = raw_id(team_id, "Team") or ""
        items = await ctx.run(lambda s: service.team_items(
            s, ctx.principal, team, as_of=as_of, kinds=[k.value for k in kinds or []],
            statuses=[x.value for x in status or []]))  # fmt: skip
        return [WorkItem.of(i) for i in items]
