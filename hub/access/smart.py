"""SMART on FHIR patient-level scopes (App Launch 1.0 ``patient/*.read`` and 2.0
``patient/*.rs``) for resident tokens issued through OAuth (hub.access.oauth).

A resident token already sees only its resident and their wards (the access policy); its
SMART scopes narrow *what* of them it reads. On /fhir every resource type is checked
against them (`allows`). On GraphQL the hub's own scopes apply, so a SMART token holds a
hub read scope only when its SMART scopes cover every FHIR type that hub scope reaches
(`hub_scopes`): narrower SMART scopes give fewer hub scopes, never more.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from hub.access.principal import Scope

# v1 verbs as v2 letters; v2 letters are a subset of "cruds", in that order
V1 = {"read": "rs", "write": "cud", "*": "cruds"}
_SCOPE = re.compile(r"^patient/(\*|[A-Z][A-Za-z]{1,63})\.(read|write|\*|c?r?u?d?s?)$")
LAUNCH_PATIENT = "launch/patient"
# what this server grants besides patient/ scopes (others are dropped, RFC 6749 §3.3)
CONTEXT = frozenset({LAUNCH_PATIENT})

# The FHIR types each delegable hub scope reaches (kept in step with hub.fhir.repository
# by tests/unit/test_smart_scopes.py): a read scope needs read (r or s) on all of them,
# a write scope create or update on all of them.
READS: dict[str, tuple[str, ...]] = {
    Scope.RESIDENTS_READ: ("Patient", "Group", "Immunization", "Encounter", "Observation"),
    Scope.CONTRACTS_READ: ("Contract", "EpisodeOfCare"),
    Scope.REFERRALS_READ: ("ServiceRequest", "Task", "Appointment"),
}
WRITES: dict[str, tuple[str, ...]] = {
    Scope.CONTRACTS_WRITE: ("Contract",),
    Scope.REFERRALS_WRITE: ("ServiceRequest",),
}


@dataclass(frozen=True, slots=True)
class SmartScopes:
    """Granted permissions: (resource type or "*", letter in "cruds")."""

    grants: frozenset[tuple[str, str]]
    granted: tuple[str, ...]  # the scope strings granted, as the token response names them
    # the app's own delegable hub scopes: a SMART scope never reads beyond them
    vendor: frozenset[str] = frozenset()

    def fhir_allows(self, resource_type: str, letter: str, hub_scope: str | None) -> bool:
        """/fhir: the SMART scope names the type, and the app itself may read it."""
        return self.allows(resource_type, letter) and (
            hub_scope is None or hub_scope in self.vendor
        )

    def allows(self, resource_type: str, letter: str) -> bool:
        return (resource_type, letter) in self.grants or ("*", letter) in self.grants

    def reads(self, resource_type: str) -> bool:
        return self.allows(resource_type, "r") or self.allows(resource_type, "s")

    def hub_scopes(self) -> frozenset[str]:
        out = {s for s, types in READS.items() if all(self.reads(t) for t in types)}
        out |= {s for s, types in WRITES.items()
                if all(self.allows(t, "c") or self.allows(t, "u") for t in types)}  # fmt: skip
        return frozenset(out)

    @property
    def scope(self) -> str:
        return " ".join(self.granted)


def parse(requested: str) -> SmartScopes:
    """What of a requested scope string this server grants: patient-level resource scopes
    and launch/patient. Granular v2 scopes (``?category=…``), user/, system/, openid and
    offline_access are not granted (no refresh tokens, no OpenID Connect)."""
    grants: set[tuple[str, str]] = set()
    granted: list[str] = []
    for item in requested.split():
        if item in CONTEXT:
            granted.append(item)
            continue
        m = _SCOPE.match(item)
        if m is None or not m.group(2):
            continue
        rtype, verb = m.groups()
        letters = V1.get(verb, verb)
        grants |= {(rtype, letter) for letter in letters}
        if item not in granted:
            granted.append(item)
    return SmartScopes(frozenset(grants), tuple(dict.fromkeys(granted)))


def has_resource_scope(scopes: SmartScopes) -> bool:
    return bool(scopes.grants)
