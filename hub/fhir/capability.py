"""The CapabilityStatement, generated from the type table and the operations the routes
serve, so it cannot list what is not implemented."""

from __future__ import annotations

from typing import Any

from hub.fhir.params import CONTROL
from hub.fhir.repository import TYPES

# (name, definition canonical, resource type or None for the system level)
OPERATIONS: list[tuple[str, str, str | None]] = []


def operation(name: str, definition: str, resource: str | None) -> None:
    if (name, definition, resource) not in OPERATIONS:
        OPERATIONS.append((name, definition, resource))


# resource type -> the write interactions it serves (create, update: see hub.fhir.writes)
WRITES: dict[str, list[str]] = {}


def interaction(resource: str, code: str) -> None:
    if code not in WRITES.setdefault(resource, []):
        WRITES[resource].append(code)


def capability_statement() -> dict[str, Any]:
    resources = []
    for td in TYPES.values():
        entry: dict[str, Any] = {
            "type": td.name,
            "interaction": [{"code": c} for c in ["read", "search-type", *WRITES.get(td.name, [])]],
            "versioning": "versioned",
            "conditionalRead": "not-match",
            "searchParam": [{"name": n, "type": p.type} for n, p in td.params.items()],
        }
        if "create" in WRITES.get(td.name, []):
            entry["conditionalCreate"] = True
        if "update" in WRITES.get(td.name, []):
            entry["updateCreate"] = False
        refs = [n for n, p in td.params.items() if p.type == "reference"]
        if refs:
            entry["searchInclude"] = [f"{td.name}:{n}" for n in refs]
        rev = sorted(f"{s.name}:{n}" for s in TYPES.values() for n, p in s.params.items()
                     if p.type == "reference" and td.name in p.targets)  # fmt: skip
        if rev:
            entry["searchRevInclude"] = rev
        ops = [{"name": n, "definition": d} for n, d, r in OPERATIONS if r == td.name]
        if ops:
            entry["operation"] = ops
        resources.append(entry)
    system_ops = [{"name": n, "definition": d} for n, d, r in OPERATIONS if r is None]
    rest: dict[str, Any] = {
        "mode": "server",
        "documentation": "Search control parameters: " + ", ".join(sorted(CONTROL)) + ".",
        "security": {"description": "Bearer token of a hub client; scopes and bindings apply."},
        "resource": resources,
    }
    if system_ops:
        rest["operation"] = system_ops
    return {
        "resourceType": "CapabilityStatement",
        "status": "active",
        "date": "2026-12-03",
        "kind": "instance",
        "software": {"name": "fdhub"},
        "implementation": {"description": "Family doctor contract services hub, FHIR facade"},
        "fhirVersion": "4.3.0",
        "format": ["json"],
        "rest": [rest],
    }
