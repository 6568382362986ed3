"""The hub as every request, job and adapter sees it: settings, database, services, and the
plugins (adapters) it runs. Built once per process by `build_hub`; `hub.app` composes it with
the HTTP app. Nothing here imports `hub.app`, `schema` or `adapters`."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from hub.access.service import AuditBuffer, TokenCache
from hub.db import Database
from hub.plugins import Plugin
from hub.registry.linking import IdentifierLinker, Linker
from hub.registry.service import RegistryService
from hub.settings import Settings, get_settings


@dataclass
class Hub:
    """Everything a request, job or adapter needs, built once per process."""

    settings: Settings
    db: Database
    registry: RegistryService
    tokens: TokenCache = field(default_factory=TokenCache)
    audit: AuditBuffer = field(init=False)
    extras: dict[str, Any] = field(default_factory=dict)
    plugins: list[Plugin] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.audit = AuditBuffer(self.db)

    def plug(self, plugin: Plugin) -> None:
        """Add a plugin (an adapter); started with the server when it is enabled."""
        if all(p.name != plugin.name for p in self.plugins):
            self.plugins.append(plugin)

    def plugin(self, name: str) -> Plugin | None:
        return next((p for p in self.plugins if p.name == name), None)


def make_linker(settings: Settings) -> Linker:
    """The probabilistic matcher when its model is available, else identifiers only."""
    try:
        from hub.registry.mpi import MatcherLinker
    except ImportError:
        return IdentifierLinker()
    return MatcherLinker.from_settings(settings)


def build_hub(settings: Settings | None = None, *, database_url: str | None = None) -> Hub:
    settings = settings or get_settings()
    from hub import crypto

    crypto.configure(settings)  # no usable key: KeyConfigError now, not on the first row
    db = Database(database_url or settings.database_url)
    registry = RegistryService(make_linker(settings), settings.source_priority)
    hub = Hub(settings=settings, db=db, registry=registry)
    from hub.events.runtime import install as install_events

    install_events(hub)  # the outbox feed (subscriptions) and the webhook dispatcher
    return hub
