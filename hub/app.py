"""Composition root: wires the hub (hub.core), its plugins (the adapters) and the HTTP app.
It only composes: nothing below imports it."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from starlette.routing import Route, WebSocketRoute

from adapters.cdc.adapter import plugin as cdc_plugin
from adapters.his.adapter import plugin as his_plugin
from adapters.immunization.adapter import plugin as immunization_plugin
from adapters.maternal.adapter import plugin as maternal_plugin
from hub.auth import Authenticate
from hub.core import Hub, build_hub
from hub.logs import configure, get_logger
from hub.plugins import Plugin, start_plugins, stop_plugins

log = get_logger("hub.app")

__all__ = ["PLUGINS", "Hub", "build_hub", "create_app"]

# The source systems' adapters, each behind the small plugin interface (hub.plugins).
PLUGINS: list[Plugin] = [his_plugin, maternal_plugin, immunization_plugin, cdc_plugin]


def create_app(hub: Hub | None = None) -> Starlette:
    hub = hub or build_hub()
    configure(hub.settings.log_level, hub.settings.log_json)
    from hub.contracts.jobs import install as install_contract_jobs

    install_contract_jobs(hub)  # the daily contract expiry roll (期满处理)
    from hub.reports.jobs import install as install_report_jobs

    install_report_jobs(hub)  # the report rollup's refresh (HUB_REPORTS_REFRESH_EVERY)
    for plugin in PLUGINS:
        hub.plug(plugin)

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        log.info("hub.start", database=hub.db.engine.url.render_as_string(hide_password=True))
        log.debug("hub.settings", **hub.settings.sanitized())  # secrets masked
        hub.audit.start()
        for start in hub.extras.get("on_start", []):
            await start(hub)
        await start_plugins(hub)
        from hub.tuning import settle_gc

        settle_gc(hub.settings.gc_threshold)
        yield
        await stop_plugins(hub)
        for stop in hub.extras.get("on_stop", []):
            await stop(hub)
        await hub.audit.close()
        await hub.db.dispose()

    async def health(_: Request) -> Response:
        return PlainTextResponse("ok")

    from schema.http import HubGraphQL

    graphql = HubGraphQL(hub)
    from adapters.runtime.metrics import route as metrics_route
    from hub.access.oauth_routes import routes as oauth_routes
    from hub.fhir_api import routes as fhir_routes
    from hub.health import routes as health_routes
    from hub.reports.routes import routes as report_routes

    app = Starlette(routes=[Route("/health", health), Route("/graphql", graphql,
                                                            methods=["GET", "POST"]),
                            WebSocketRoute("/graphql", graphql),  # subscriptions
                            *health_routes(hub),  # /healthz, /readyz
                            *oauth_routes, *fhir_routes, metrics_route(hub),
                            *report_routes()],
                    lifespan=lifespan)
    app.state.hub = hub
    # outermost: body size and shape are checked before a token is looked up
    from hub.budgets import RateLimit  # each client's request rate, after authentication
    from hub.limits import RequestLimits

    guarded = Authenticate(RateLimit(app, hub), hub)
    return RequestLimits(guarded, hub.settings)  # type: ignore[return-value]
