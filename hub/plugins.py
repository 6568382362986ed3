"""The small interface an adapter plugs into the hub through (below `hub.app`).

A plugin says whether the settings enable it, starts its loops with the server, stops
them, and reports its state. `hub.app` lists the plugins; no adapter imports `hub.app`.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Protocol, runtime_checkable

from hub.logs import get_logger

# The hub (hub.core.Hub) a plugin receives; named loosely so this interface imports nothing
# above it.
Hub = Any

log = get_logger("hub.plugins")


@runtime_checkable
class Plugin(Protocol):
    name: str

    def enabled(self, hub: Hub) -> bool:
        """Whether the settings turn it on (e.g. HUB_HIS_ENABLED, HUB_MATERNAL_URL)."""
        ...

    async def start(self, hub: Hub) -> None:
        """Start listeners and loops; return once they run."""
        ...

    async def stop(self, hub: Hub) -> None:
        """Stop them; what is in flight is finished or left to be resumed."""
        ...

    def status(self, hub: Hub) -> dict[str, Any]:
        """What an operator sees of it while it runs (port, cursor, …)."""
        ...


async def start_plugins(hub: Hub) -> None:
    if not getattr(hub.settings, "adapters_enabled", True):  # `hub serve --no-adapters`
        log.info("plugins.off", reason="adapters_enabled=false")
        return
    for plugin in hub.plugins:
        if plugin.enabled(hub):
            await plugin.start(hub)
            hub.extras.setdefault("started_plugins", []).append(plugin.name)
            log.info("plugin.started", plugin=plugin.name)


async def stop_plugins(hub: Hub) -> None:
    started = hub.extras.pop("started_plugins", [])
    for plugin in reversed(hub.plugins):
        if plugin.name in started:
            await plugin.stop(hub)


class PullPlugin:
    """A pull adapter (maternal, immunization, cdc): enabled when its source URL is set;
    its runner starts with the server and stops with it."""

    def __init__(
        self, name: str, runner: Callable[[Hub], Any], url: Callable[[], str | None]
    ) -> None:
        self.name, self._runner, self._url = name, runner, url

    def enabled(self, hub: Hub) -> bool:
        return bool(self._url())

    async def start(self, hub: Hub) -> None:
        runner = self._runner(hub)
        hub.extras[self.name] = runner
        await runner.start()

    async def stop(self, hub: Hub) -> None:
        runner = hub.extras.pop(self.name, None)
        if runner is not None:
            await runner.stop()

    def status(self, hub: Hub) -> dict[str, Any]:
        runner = hub.extras.get(self.name)
        return {"running": runner is not None, "url": self._url(),
                "pulled": getattr(runner, "pulled", 0)}  # fmt: skip
