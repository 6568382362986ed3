"""Who is calling: a client with scopes, optionally bound to organizations."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

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
    AUDIT_READ = "audit:read"  # an operator's: who processed whose record (PIPL)
    # a signing app may obtain resident-scoped tokens (hub.access.resident_tokens)
    RESIDENTS_DELEGATE = "residents:delegate"
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
    # A resident-scoped token (a signing app acting for one resident): that resident and
    # those they are guardian of, nobody else, whatever the client's own bindings.
    resident_ids: tuple[int, ...] = ()
    # an OAuth-issued resident token's SMART patient scopes (hub.access.smart.SmartScopes):
    # /fhir reads only the resource types they name; None = no SMART narrowing
    smart: Any = None
    # budgets (hub.access.budgets): None = the settings' default; 0 = unlimited
    rate_per_minute: int | None = None
    cost_per_minute: int | None = None
    introspection: bool | None = None  # None = by mode (hub.access.budgets)

    def has(self, scope: str) -> bool:
        return scope in self.scopes or Scope.ADMIN in self.scopes

    def require(self, scope: str) -> None:
        if not self.has(scope):
            raise MissingScope(scope)

    @property
    def bound(self) -> bool:
        """A bound client sees only what relates to its organizations or practitioners."""
        if self.resident_ids:
            return True
        return bool(self.organization_ids or self.practitioner_ids) and (
            Scope.ADMIN not in self.scopes
        )

    @property
    def is_admin(self) -> bool:
        return Scope.ADMIN in self.scopes and not self.resident_ids

    def with_request(self, request_id: str) -> Principal:
        return dataclasses.replace(self, request_id=request_id)


SYSTEM = Principal(name="system", scopes=frozenset({Scope.ADMIN}))


def system(name: str) -> Principal:
    """An internal actor (CLI, adapter, job) with full rights, audited under its name."""
    return Principal(name=name, scopes=frozenset({Scope.ADMIN}))
