"""Wire the event feed and the webhook dispatcher into a hub (called by hub.app.build_hub).

Both start with the server (``hub.extras["on_start"]``) and stop with it; every server
process runs its own, and they coordinate through the database only.
"""

from __future__ import annotations

from typing import Any

from hub.events.dispatch import WebhookDispatcher
from hub.events.feed import EventFeed
from hub.events.settings import EventSettings

Hub = Any  # hub.core.Hub, which installs this: named loosely to import nothing above

FEED = "event_feed"
DISPATCHER = "webhook_dispatcher"


def install(hub: Hub, settings: EventSettings | None = None) -> None:
    settings = settings or EventSettings()
    feed = EventFeed(hub.db, settings)
    hub.extras[FEED] = feed
    dispatcher = WebhookDispatcher(hub.db, settings) if settings.dispatch_webhooks else None
    hub.extras[DISPATCHER] = dispatcher

    async def start(h: Hub) -> None:
        await feed.start()
        if dispatcher is not None:
            feed.on_events(dispatcher.wake)
            await dispatcher.start()

    async def stop(h: Hub) -> None:
        if dispatcher is not None:
            await dispatcher.stop()
        await feed.stop()

    hub.extras.setdefault("on_start", []).append(start)
    hub.extras.setdefault("on_stop", []).append(stop)


def feed_of(hub: Hub) -> EventFeed:
    feed = hub.extras.get(FEED)
    if not isinstance(feed, EventFeed):
        raise RuntimeError("the event feed is not installed (hub.events.runtime.install)")
    return feed
