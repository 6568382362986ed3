"""FHIR forms of capacity, webhooks and deliveries validate as R4B resources."""

import datetime as dt
from types import SimpleNamespace

from fhir.resources.R4B.auditevent import AuditEvent
from fhir.resources.R4B.schedule import Schedule
from fhir.resources.R4B.subscription import Subscription

from mappings import infrastructure


def test_capacity_is_a_schedule() -> None:
    c = SimpleNamespace(
        id=3,
        organization_id="py-org-1",
        date=dt.date(2026, 12, 1),
        department="心内科",
        expert_slots=20,
        beds=10,
        reserved_expert_slots=6,
        reserved_beds=3,
        booked_expert_slots=1,
        booked_beds=0,
    )
    s = Schedule.parse_obj(infrastructure.schedule(c))
    assert (
        s.actor[0].reference == "Organization/py-org-1" and "reserved for referrals 6" in s.comment
    )


def test_webhook_is_a_rest_hook_subscription_without_its_secret() -> None:
    w = SimpleNamespace(
        id=1, active=True, events=["referral.*"], url="https://vendor.example/hook", secret="s3cret"
    )
    resource = infrastructure.subscription(w)
    sub = Subscription.parse_obj(resource)
    assert sub.channel.type == "rest-hook" and sub.criteria == "referral.*"
    assert "s3cret" not in str(resource)


def test_delivery_is_an_audit_event() -> None:
    d = SimpleNamespace(
        id=9,
        status="FAILED",
        webhook_id=1,
        event_id=42,
        last_error="HTTP 500",
        delivered_at=None,
        created_at=dt.datetime(2026, 11, 1, tzinfo=dt.UTC),
    )
    a = AuditEvent.parse_obj(infrastructure.delivery_audit(d))
    assert a.outcome == "8" and a.outcomeDesc == "HTTP 500"


def test_duplicate_review_is_a_linkage() -> None:
    from fhir.resources.R4B.linkage import Linkage

    review = SimpleNamespace(id=5, resident_id=70, status="OPEN", decision=None,
                             candidates=[{"resident_id": 12, "score": 0.8, "grade": "PROBABLE"}])
    link = Linkage.parse_obj(infrastructure.linkage(review))
    assert [i.type for i in link.item] == ["source", "alternate"] and link.active is False
    alone = SimpleNamespace(id=6, resident_id=71, status="OPEN", decision=None, candidates=[])
    Linkage.parse_obj(infrastructure.linkage(alone))


def test_household_is_a_group_with_its_head() -> None:
    from fhir.resources.R4B.group import Group

    members = [SimpleNamespace(id=1), SimpleNamespace(id=2)]
    group = Group.parse_obj(infrastructure.household_group(9, members, head_id=1))
    assert group.quantity == 2 and group.member[1].entity.reference == "Patient/2"
    assert group.characteristic[0].valueReference.reference == "Patient/1"
