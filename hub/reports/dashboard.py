"""/dashboard: the integrators' page (hub/dashboard/), its script and the ECharts build that
`make install` vendored from npm (scripts/echarts.sh). The page holds no data: it asks for
a token and reads the GraphQL reports."""

from __future__ import annotations

from pathlib import Path

from starlette.requests import Request
from starlette.responses import FileResponse, PlainTextResponse, Response
from starlette.routing import Route

DIR = Path(__file__).resolve().parent.parent / "dashboard"
ECHARTS = "echarts-5.5.1.min.js"
_FILES = {
    "/dashboard": ("index.html", "text/html; charset=utf-8"),
    "/dashboard/app.js": ("app.js", "text/javascript; charset=utf-8"),
    "/dashboard/echarts.min.js": (f"vendor/{ECHARTS}", "text/javascript; charset=utf-8"),
}


async def page(request: Request) -> Response:
    name, media = _FILES[request.url.path]
    path = DIR / name
    if not path.exists():
        return PlainTextResponse(
            f"{name} is missing: run `make install` (scripts/echarts.sh).", status_code=503
        )
    return FileResponse(path, media_type=media, headers={"Cache-Control": "no-cache"})


def routes() -> list[Route]:
    return [Route(p, page, methods=["GET"]) for p in _FILES]
