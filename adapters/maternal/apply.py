"""The maternal-child adapter's hub side (the runtime's `Adapter`): records -> hub.

`read` is translate.read (no database); `apply` hands each record to
hub.maternal.service in order, each in its own savepoint: a visit before its pregnancy
waits (parked, woken when the registration is applied: both carry the handbook number as
their order key), a rule violation is refused with its code.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence

from sqlalchemy.ext.asyncio import AsyncSession

from adapters.maternal import translate
from adapters.maternal.translate import MaternalRecord
from adapters.runtime.types import Applied, Dead, Message, Outcome, Park, Problem, Reject, Work
from hub.access import service as access
from hub.access.principal import Principal, system
from hub.errors import DomainError
from hub.maternal.service import Command, MaternalService, Waiting, prefetch
from hub.registry.service import RegistryService

NAME = "maternal"


class MaternalAdapter:
    name = NAME

    def __init__(
        self,
        registry: RegistryService,
        *,
        park_seconds: float = 86400.0,
        principal: Principal | None = None,
    ) -> None:
        self.service = MaternalService(registry)
        self.park_seconds = park_seconds
        self.principal = principal or system("adapter:maternal")

    def read(self, raw: bytes) -> Message:
        return translate.read(raw)

    async def apply(self, session: AsyncSession, batch: Sequence[Work]) -> list[Outcome]:
        out: list[Outcome] = []
        commands = []
        for w in batch:
            body = w.message.body
            assert isinstance(body, MaternalRecord)
            commands.append(
                Command(
                    body.kind,
                    body.record_id,
                    body.handbook_no,
                    body.deleted,
                    body.values,
                    body.local,
                )
            )
        touched: set[int] = set()
        cache = await prefetch(session, commands)  # one query per table for the batch
        await self.service.link_mothers(session, self.principal, commands, cache)
        await self.service.link_newborns(session, self.principal, commands, cache)
        for w, command in zip(batch, commands, strict=True):
            try:
                # No savepoint per record: a record that waits raises before it writes, and
                # any other failure makes the runtime apply each record of the batch alone.
                result = await self.service.apply(session, self.principal, command, cache)
            except Waiting as err:
                age = (dt.datetime.now(dt.UTC) - w.received_at).total_seconds()
                if age < self.park_seconds:
                    out.append(Park(err.code, err.text))
                else:
                    out.append(Dead(err.code, f"{err.text} (waited {age / 3600:.0f} h)"))
                continue
            except DomainError as err:
                out.append(Reject(Problem(err.code, err.message, "AE", err.field or "")))
                continue
            out.append(Applied({k: v for k, v in result.items() if v is not None}))
            touched.update(r for k in ("resident_id", "mother_resident_id") if (r := result.get(k)))
        if touched:  # one audit row for the batch's writes (the registry audits its own)
            await access.audit(session, self.principal, "WRITE", "maternal.apply", sorted(touched))
        return out
