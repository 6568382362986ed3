# ruff: noqa: E501
"""importLowIncomeList / importInsuranceList: an operator uploads the office's file
(base64), the answer lists the refused rows as `hub import` prints them."""

from __future__ import annotations

import base64
import binascii
from typing import Any

import strawberry
from strawberry.types import Info

from hub.errors import InvalidInput
from hub.imports.service import upload
from schema.context import Context
from schema.errors import UserError


@strawberry.input
class ImportListInput:
    region: str
    month: str | None = strawberry.field(default=None, description="YYYY-MM (low-income list).")
    file_name: str = strawberry.field(description="list.xlsx or list.csv: the format.")
    content_base64: str = strawberry.field(
        description="The file, base64 (at most the request body limit)."
    )


@strawberry.type(description="A refused row: N as a spreadsheet shows it (headings are row 1).")
class RejectedRow:
    row: int
    code: str
    message: str


@strawberry.type
class ImportListPayload:
    summary: str | None
    rows: int
    imported: int
    households: int
    new_residents: int
    ended: int = strawberry.field(description="People on the previous month's list who left it.")
    rejected_rows: list[RejectedRow]
    user_errors: list[UserError]


async def _run(info: Info[Context, Any], kind: str, input: ImportListInput) -> ImportListPayload:
    ctx = info.context

    async def work(session: Any) -> Any:
        try:
            data = base64.b64decode(input.content_base64, validate=True)
        except (binascii.Error, ValueError):
            raise InvalidInput("contentBase64 is not base64.", field="contentBase64",
                               code="INVALID_BASE64") from None  # fmt: skip
        return await upload(session, ctx.hub.registry, ctx.principal, kind, region=input.region,
                            month=input.month, name=input.file_name, data=data)  # fmt: skip

    result, errors = await ctx.write(work, immediate=True)
    if result is None:
        return ImportListPayload(summary=None, rows=0, imported=0, households=0,
                                 new_residents=0, ended=0, rejected_rows=[],
                                 user_errors=errors)  # fmt: skip
    return ImportListPayload(
        summary=result.summary, rows=result.rows, imported=result.imported,
        households=result.households, new_residents=result.new_residents, ended=result.ended,
        rejected_rows=[RejectedRow(row=r.row, code=r.code, message=r.message) for r in result.rejected],
        user_errors=[],
    )  # fmt: skip


@strawberry.type
class ReportsMutation:
    @strawberry.mutation(
        description="低收入名单: an operator's (admin) upload of the month's list; bad rows come back in rejectedRows, the rest imports."
    )
    async def import_low_income_list(
        self, info: Info[Context, Any], input: ImportListInput
    ) -> ImportListPayload:
        return await _run(info, "low-income", input)

    @strawberry.mutation(
        description="参保名单: an operator's (admin) upload of the insurance office's list."
    )
    async def import_insurance_list(
        self, info: Info[Context, Any], input: ImportListInput
    ) -> ImportListPayload:
        return await _run(info, "insurance", input)
