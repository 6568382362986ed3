"""The immunization adapter's hub side (the runtime's `Adapter`): subjects -> hub.

`read` is translate.read (no database); `apply` hands each subject version to
hub.immunization.service in order, each in its own savepoint; a rule violation is refused
with its code. Writes as the system principal `adapter:immunization`, source "immunization".
"""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy.ext.asyncio import AsyncSession

from adapters.immunization import translate
from adapters.immunization.translate import SubjectRecord
from adapters.runtime.types import Applied, Message, Outcome, Problem, Reject, Work
from hub.access.principal import Principal, system
from hub.errors import DomainError
from hub.immunization.service import SOURCE, SubjectCommand, record_subject
from hub.registry.service import RegistryService

NAME = "immunization"


class ImmunizationAdapter:
    name = NAME

    def __init__(self, registry: RegistryService, *, principal: Principal | None = None) -> None:
        self.registry = registry
        self.principal = principal or system("adapter:immunization")

    def read(self, raw: bytes) -> Message:
        return translate.read(raw)

    async def apply(self, session: AsyncSession, batch: Sequence[Work]) -> list[Outcome]:
        out: list[Outcome] = []
        for w in batch:
            body = w.message.body
            assert isinstance(body, SubjectRecord)
            command = SubjectCommand(
                body.subject_id, body.version, body.child, body.guardian,
                body.vaccinations, body.adverse,
            )  # fmt: skip
            try:
                async with session.begin_nested():
                    result = await record_subject(
                        session, self.principal, self.registry, command, source=SOURCE
                    )
            except DomainError as err:
                out.append(Reject(Problem(err.code, err.message, "AE", err.field or "")))
                continue
            out.append(Applied({k: v for k, v in result.items() if v is not None}))
        return out
