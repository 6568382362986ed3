"""The HIS adapter assembled: MLLP listener -> group-commit intake -> ACK, plus its
background loops (retries of parked messages, REF^I12 pushes). Started by `hub serve`
(when HUB_HIS_ENABLED) or alone by `hub adapters run his`.
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
from typing import TYPE_CHECKING, Any

from adapters.his.apply import HisAdapter
from adapters.his.mllp import MllpServer
from adapters.his.settings import HisSettings, get_his_settings
from adapters.his.wire import HL7ContentError, HL7Error, HL7ParseError, Issue, build_ack
from adapters.runtime import metrics
from adapters.runtime.control import default_enabled
from adapters.runtime.intake import Intake
from adapters.runtime.types import Backoff, Receipt
from adapters.runtime.worker import Loop, Switch, dispatch_step, retry_step, send_step
from hub.logs import get_logger

if TYPE_CHECKING:
    from hub.core import Hub

logger = get_logger("adapters.his")


def build_adapter(hub: Hub, settings: HisSettings | None = None) -> HisAdapter:
    s = settings or get_his_settings()
    return HisAdapter(
        hub.registry,
        default_encoding=hub.settings.his_default_encoding,
        park_seconds=s.park_seconds,
    )


def ack_for(raw: bytes, receipt: Receipt, default_encoding: str) -> bytes:
    """AA with warnings, or AE/AR with the error; MSA-2 echoes MSH-10 (build_ack)."""
    warnings = tuple(w for w in receipt.warnings if isinstance(w, Issue))
    problem = receipt.problem
    if receipt.reply == "AA" or problem is None:
        return build_ack(raw, warnings=warnings, default_encoding=default_encoding)
    error = problem.detail if isinstance(problem.detail, HL7Error) else None
    if error is None:
        kind = HL7ParseError if receipt.reply == "AR" else HL7ContentError
        error = kind(problem.code, problem.text, location=problem.location)
    return build_ack(raw, error=error, default_encoding=default_encoding)


class HisService:
    """Everything the HIS adapter runs in one process."""

    def __init__(
        self,
        hub: Hub,
        *,
        host: str | None = None,
        port: int | None = None,
        settings: HisSettings | None = None,
    ) -> None:
        self.hub = hub
        self.settings = s = settings or get_his_settings()
        self.adapter = build_adapter(hub, s)
        self.backoff = Backoff(s.backoff_base, s.backoff_cap, s.max_attempts)
        self.encoding = hub.settings.his_default_encoding
        self.intake = Intake(
            hub.db,
            self.adapter,
            backoff=self.backoff,
            max_batch=s.max_batch,
            linger=s.linger_ms / 1000,
            on_commit=self._committed,
            senders=lambda: self.server.senders,
        )
        self.server = MllpServer(
            self.handle,
            host or hub.settings.his_mllp_host,
            hub.settings.his_mllp_port if port is None else port,
            frame_timeout=s.frame_timeout,
            idle_timeout=s.idle_timeout,
            first_message_timeout=s.first_message_timeout,
            max_connections=s.max_connections,
            max_connections_per_peer=s.max_connections_per_peer,
            on_discard=self.intake.discard,
            on_refused=metrics.count_mllp_refused,
        )
        self.switch = Switch(hub.db, self.adapter.name, default_enabled(hub, "his"))
        self.retries = Loop(
            "his:retries", retry_step(hub.db, self.adapter, self.backoff), self.switch
        )
        self.loops = [self.retries]
        from adapters.his.push import ReferralPusher

        pusher = ReferralPusher(s, self.encoding)
        self.loops += [
            Loop("his:referrals", dispatch_step(hub.db, pusher), self.switch, idle=1.0),
            Loop(
                "his:send",
                send_step(hub.db, pusher, self.backoff, timeout=s.send_timeout),
                self.switch,
                idle=1.0,
            ),
        ]
        self._watch: asyncio.Task[None] | None = None
        self._parked = False
        self.listening = False

    @property
    def port(self) -> int:
        return self.server.port

    async def handle(self, raw: bytes) -> bytes:
        receipt = await self.intake.receive(raw)
        return ack_for(raw, receipt, self.encoding)

    def _committed(self, receipts: list[Receipt]) -> None:
        if self._parked or any(r.status == "PARKED" for r in receipts):
            # parked messages may just have been woken: look soon, not at the next poll
            self._parked = any(r.status == "PARKED" for r in receipts)
            self.retries.poke()

    async def start(self) -> None:
        await self.intake.start()
        for loop in self.loops:
            await loop.start()
        await self._follow_switch()
        self._watch = asyncio.create_task(self._watch_switch(), name="his:switch")

    async def stop(self) -> None:
        if self._watch is not None:
            self._watch.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._watch
        await self._listen(False, "stopping")
        for loop in self.loops:
            await loop.stop()
        await self.intake.stop()

    async def _watch_switch(self) -> None:
        while True:
            await asyncio.sleep(self.switch.ttl)
            await self._follow_switch()

    async def _follow_switch(self) -> None:
        await self._listen(await self.switch.enabled())

    async def _listen(self, on: bool, reason: str = "kill switch") -> None:
        """Kill switch off: stop listening, so the HIS keeps its queue and resends later."""
        if on and not self.listening:
            try:
                await self.server.start()
            except OSError as err:
                if err.errno != errno.EADDRINUSE:
                    raise
                # Another process of this hub (`hub serve --workers N`) listens already.
                logger.warning("his.port_in_use", port=self.server.port)
                return
            self.listening = True
            logger.info("his.listening", host=self.server.host, port=self.server.port)
        elif not on and self.listening:
            await self.server.stop()
            self.listening = False
            logger.info("his.stopped_listening", reason=reason)


class HisPlugin:
    """The HIS adapter as the hub runs it (hub.plugins.Plugin): the MLLP listener and the
    outbound referral pushes, with the server, when HUB_HIS_ENABLED."""

    name = "his"

    def enabled(self, hub: Hub) -> bool:
        return bool(hub.settings.his_enabled)

    async def start(self, hub: Hub) -> None:
        service = HisService(hub)
        hub.extras["his"] = service
        await service.start()

    async def stop(self, hub: Hub) -> None:
        service = hub.extras.pop("his", None)
        if service is not None:
            await service.stop()

    def status(self, hub: Hub) -> dict[str, Any]:
        service = hub.extras.get("his")
        return {"listening": service is not None, "port": getattr(service, "port", None)}


plugin = HisPlugin()


async def run(hub: Hub, *, host: str | None = None, port: int | None = None) -> None:
    """`hub adapters run his`: the adapter alone, until interrupted."""
    service = HisService(hub, host=host, port=port)
    await service.start()
    from hub.tuning import settle_gc

    settle_gc(hub.settings.gc_threshold)
    print(f"his adapter listening on {service.server.host}:{service.port}", flush=True)
    try:
        await asyncio.Event().wait()
    finally:
        await service.stop()
