"""The privacy audit trail as GraphQL: `auditEvents`, who read or changed whose record."""

from __future__ import annotations

import datetime as dt
from typing import Any

import strawberry
from strawberry.scalars import JSON
from strawberry.types import Info

from hub.access import audit as service
from hub.errors import InvalidInput
from schema.context import Context
from schema.relay import Connection, connection, decode_cursor


@strawberry.type(description="One read or write of personal data (个人信息处理记录).")
class AuditEvent:
    at: dt.datetime
    client_id: int | None = strawberry.field(description="The client (null: CLI, adapter).")
    client_name: str = strawberry.field(description="The client, or the internal actor.")
    operation: str = strawberry.field(description="The GraphQL field or FHIR interaction.")
    action: str = strawberry.field(description="READ or WRITE.")
    resident_ids: list[int]
    request_id: str | None
    row: strawberry.Private[Any]

    @strawberry.field(description="The FHIR R4 AuditEvent.")
    def fhir(self) -> JSON:
        from mappings.audit import audit_event

        return audit_event(self.row)

    @classmethod
    def from_row(cls, row: Any) -> AuditEvent:
        return cls(at=row.at, client_id=row.client_id, client_name=row.actor,
                   operation=row.operation, action=row.action,
                   resident_ids=[int(i) for i in row.resident_ids if str(i).isdigit()],
                   request_id=row.request_id, row=row)  # fmt: skip


@strawberry.type
class AuditQuery:
    @strawberry.field(description="The audit trail, newest first (needs audit:read: the "
                      "district's privacy officer). Filter by resident, client and time.")
    async def audit_events(
        self,
        info: Info[Context, Any],
        resident_id: int | None = None,
        client_id: int | None = None,
        since: dt.datetime | None = None,
        until: dt.datetime | None = None,
        first: int | None = None,
        after: str | None = None,
    ) -> Connection[AuditEvent]:
        from hub.ids import parse_int_id

        ctx = info.context
        limit, key = ctx.page_size(first), decode_cursor(after)
        if key is not None and parse_int_id(key) is None:
            raise InvalidInput(f"'{after}' is not a cursor from this API.", field="after",
                               code="INVALID_CURSOR")  # fmt: skip
        rows, total, more = await ctx.run(lambda s: service.list_events(
            s, ctx.principal, resident_id=resident_id, client_id=client_id, since=since,
            until=until, after=parse_int_id(key) if key else None, limit=limit))  # fmt: skip
        return connection(rows, total, more, after=after, convert=AuditEvent.from_row)
