"""FHIR R4B forms of the hub's own infrastructure objects: hospital capacity (Schedule),
webhooks (Subscription) and their deliveries (AuditEvent)."""

from __future__ import annotations

import datetime as dt
from typing import Any

from mappings import codes

AUDIT_EVENT_TYPE = "http://terminology.hl7.org/CodeSystem/audit-event-type"


def _instant(value: dt.datetime | None) -> str | None:
    if value is None:
        return None
    if value.tzinfo is None:
        value = value.replace(tzinfo=dt.UTC)
    return value.isoformat()


def schedule(c: Any) -> dict[str, Any]:
    """A hospital's published expert slots and beds for one day and department."""
    day = c.date.isoformat()
    return {
        "resourceType": "Schedule",
        "id": f"capacity-{c.id}",
        "active": True,
        "serviceType": [{"text": c.department}],
        "actor": [{"reference": f"Organization/{c.organization_id}"}],
        "planningHorizon": {"start": f"{day}T00:00:00+08:00", "end": f"{day}T23:59:59+08:00"},
        "comment": (
            f"expert slots {c.expert_slots} (reserved for referrals {c.reserved_expert_slots}, "
            f"booked {c.booked_expert_slots}); beds {c.beds} (reserved {c.reserved_beds}, "
            f"booked {c.booked_beds})"
        ),
    }


def subscription(w: Any) -> dict[str, Any]:
    """A webhook as a FHIR rest-hook Subscription; the secret is never shown."""
    return {
        "resourceType": "Subscription",
        "id": f"webhook-{w.id}",
        "status": "active" if w.active else "off",
        "reason": "Hub change events for a registered client",
        "criteria": " ".join(w.events) if w.events else "*",
        "channel": {
            "type": "rest-hook",
            "endpoint": w.url,
            "payload": "application/json",
            "header": ["X-Hub-Signature-256: sha256=<HMAC of the body>"],
        },
    }


def delivery_audit(d: Any) -> dict[str, Any]:
    """One webhook delivery as an AuditEvent (transmission of an event to a client)."""
    outcome = {"DELIVERED": "0", "PENDING": "4", "FAILED": "8"}.get(d.status, "4")
    out: dict[str, Any] = {
        "resourceType": "AuditEvent",
        "id": f"delivery-{d.id}",
        "type": {"system": AUDIT_EVENT_TYPE, "code": "rest", "display": "RESTful Operation"},
        "recorded": _instant(d.delivered_at or d.created_at),
        "outcome": outcome,
        "agent": [{"requestor": False, "who": {"display": f"webhook {d.webhook_id}"}}],
        "source": {"observer": {"display": "fdhub"}},
        "entity": [
            {
                "what": {
                    "identifier": {"system": f"{codes.BASE}/sid/event", "value": str(d.event_id)}
                }
            }
        ],
    }
    if d.last_error:
        out["outcomeDesc"] = d.last_error[:500]
    return out


def linkage(review: Any) -> dict[str, Any]:
    """A duplicate-review item as a FHIR Linkage: the new resident (source) and the
    candidates the matcher found (alternate); inactive until a person decides."""
    items = [{"type": "source", "resource": {"reference": f"Patient/{review.resident_id}"}}]
    items += [
        {"type": "alternate", "resource": {"reference": f"Patient/{c['resident_id']}"}}
        for c in review.candidates or []
    ]
    if len(items) == 1:  # FHIR needs two items; a review without candidates shows itself
        items.append(
            {"type": "alternate", "resource": {"reference": f"Patient/{review.resident_id}"}}
        )
    return {
        "resourceType": "Linkage",
        "id": f"review-{review.id}",
        "active": review.status != "OPEN" and review.decision == "SAME_PERSON",
        "item": items,
    }


def household_group(household_id: int, members: list[Any], head_id: int | None) -> dict[str, Any]:
    """A household (户) as a FHIR Group of its members."""
    return {
        "resourceType": "Group",
        "id": f"household-{household_id}",
        "type": "person",
        "actual": True,
        "code": {"text": "家庭/户"},
        "quantity": len(members),
        "member": [{"entity": {"reference": f"Patient/{m.id}"}} for m in members],
        **(
            {
                "characteristic": [
                    {
                        "code": {"text": "household head"},
                        "valueReference": {"reference": f"Patient/{head_id}"},
                        "exclude": False,
                    }
                ]
            }
            if head_id
            else {}
        ),
    }
