"""POST /imports/low-income?region=…&month=…&filename=list.xlsx and POST /imports/insurance?
region=…&filename=… — an operator (scope `admin`) uploads the office's file as the request
body; the answer lists `rejectedRows` as the CLI prints them."""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from hub.errors import DomainError, Forbidden


async def upload(request: Request) -> Response:
    kind = request.path_params["kind"]
    if kind not in ("low-income", "insurance"):
        return JSONResponse(
            {
                "errors": [
                    {
                        "message": "POST /imports/low-income or /imports/insurance",
                        "extensions": {"code": "NOT_FOUND"},
                    }
                ]
            },
            status_code=404,
        )
    hub: Any = request.app.state.hub
    q = request.query_params
    try:
        from hub.imports.service import upload as run_upload

        data = await request.body()
        async with hub.db.transaction(immediate=True) as session:
            result = await run_upload(
                session, hub.registry, request.scope["principal"], kind,
                region=q.get("region", ""), month=q.get("month"),
                name=q.get("filename") or "upload.csv", data=data,
            )  # fmt: skip
    except DomainError as e:
        status = 403 if isinstance(e, Forbidden) else 400
        return JSONResponse(
            {"errors": [{"message": e.message, "extensions": {"code": e.code}}]}, status_code=status
        )
    return JSONResponse(
        {
            "region": result.region,
            "month": result.month,
            "rows": result.rows,
            "imported": result.imported,
            "households": result.households,
            "newResidents": result.new_residents,
            "ended": result.ended,
            "summary": result.summary,
            "rejectedRows": [
                {"row": r.row, "code": r.code, "message": r.message} for r in result.rejected
            ],
        },
        status_code=200 if result.imported else 422,
    )


def routes() -> list[Route]:
    return [Route("/imports/{kind:str}", upload, methods=["POST"])]
