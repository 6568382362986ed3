"""GET /reports/<name>.csv|.xlsx?region=…&groupBy=… — the GraphQL reports as files, with
the same bearer token (the Authenticate middleware has already set the principal)."""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from hub.errors import DomainError, Forbidden
from hub.reports.export import FORMATS, render
from hub.reports.service import REPORTS, run


def _error(e: DomainError) -> Response:
    status = 403 if isinstance(e, Forbidden) else 400
    return JSONResponse(
        {"errors": [{"message": e.message, "extensions": {"code": e.code}}]}, status_code=status
    )


async def export(request: Request) -> Response:
    name, fmt = request.path_params["name"], request.path_params["fmt"]
    if name not in REPORTS or fmt not in FORMATS:
        return JSONResponse(
            {
                "errors": [
                    {
                        "message": f"No report {name}.{fmt}; have "
                        f"{', '.join(REPORTS)} as .csv or .xlsx.",
                        "extensions": {"code": "UNKNOWN_REPORT"},
                    }
                ]
            },
            status_code=404,
        )
    hub: Any = request.app.state.hub
    args = dict(request.query_params)
    try:
        async with hub.db.reader() as session:
            report = await run(session, request.scope["principal"], name, args, audit=hub.audit)
    except DomainError as e:
        return _error(e)
    filename = f"{name}-{report.args.get('region')}.{fmt}"
    return Response(
        render(report, fmt),
        media_type=FORMATS[fmt],
        headers={"Content-Disposition": f'attachment; filename="{filename}"'},
    )


def routes() -> list[Route]:
    from hub.imports.routes import routes as import_routes
    from hub.reports.dashboard import routes as dashboard_routes

    return [
        Route("/reports/{name}.{fmt}", export, methods=["GET"]),
        *import_routes(),
        *dashboard_routes(),
    ]
