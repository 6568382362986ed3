"""Who is calling: a client with scopes, optionally bound to organizations."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from enum import StrEnum

from hub.errors import MissingScope


class Scope(StrEnum):
    RESIDENTS_READ = "residents:read"
    RESIDENTS_WRITE = "residents:write"
    RESIDENTS_PII = "residents:pii"  # see ID numbers and phones unmasked
    DIRECTORY_WRITE = "directory:write"
    CONTRACTS_READ = "contracts:read"
    CONTRACTS_WRITE = "contracts:write"
    REFERRALS_READ = "referrals:read"
    REFERRALS_WRITE = "referrals:write"
    LINKAGE_ADMIN = "linkage:admin"
    ADMIN = "admin"


@dataclass(frozen=True, slots=True)
class Principal:
    name: str
    scopes: frozenset[str]
    organization_ids: tuple[str, ...] = ()
    client_id: int | None = None
    request_id: str | None = field(default=None, compare=False)
    practitioner_ids: tuple[str, ...] = ()
    sources: tuple[str, ...] = ()  # the source systems it may write resident records as

    def has(self, scope: str) -> bool:
        return scope in self.scopes or Scope.ADMIN in self.scopes

    def require(self, scope: str) -> None:
        if not self.has(scope):
            raise MissingScope(scope)

    @property
    def bound(self) -> bool:
        """A bound client sees only what relates to its organizations or practitioners."""
        return bool(self.organization_ids or self.practitioner_ids) and (
            Scope.ADMIN not in self.scopes
        )

    @property
    def is_admin(self) -> bool:
        return Scope.ADMIN in self.scopes

    def with_request(self, request_id: str) -> Principal:
        return dataclasses.replace(self, request_id=request_id)


SYSTEM = Principal(name="system", scopes=frozenset({Scope.ADMIN}))


def system(name: str) -> Principal:
    """An internal actor (CLI, adapter, job) with full rights, audited under its name."""
    return Principal(name=name, scopes=frozenset({Scope.ADMIN}))
