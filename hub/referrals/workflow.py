"""The referral workflow as data: which action moves which status, and which side acts.

    REQUESTED → RECEIVED → ACCEPTED | REJECTED;  ACCEPTED → ARRIVED → COMPLETED
    REQUESTED | RECEIVED | ACCEPTED → CANCELLED (by the sender)

The *sender* is the side the resident leaves (the team's institution for an up-referral,
the hospital for a down-referral); the *receiver* is the side the resident goes to.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from hub.errors import DomainError
from hub.referrals.models import ReferralStatus as S


class Action(StrEnum):
    RECEIVE = "RECEIVE"
    ACCEPT = "ACCEPT"
    REJECT = "REJECT"
    ARRIVE = "ARRIVE"
    COMPLETE = "COMPLETE"
    CANCEL = "CANCEL"


class Side(StrEnum):
    SENDER = "SENDER"
    RECEIVER = "RECEIVER"


@dataclass(frozen=True, slots=True)
class Step:
    from_statuses: frozenset[S]
    to_status: S
    side: Side
    verb: str  # for messages: "receive", "accept", ...


STEPS: dict[Action, Step] = {
    Action.RECEIVE: Step(frozenset({S.REQUESTED}), S.RECEIVED, Side.RECEIVER, "receive"),
    Action.ACCEPT: Step(frozenset({S.RECEIVED}), S.ACCEPTED, Side.RECEIVER, "accept"),
    Action.REJECT: Step(frozenset({S.RECEIVED}), S.REJECTED, Side.RECEIVER, "reject"),
    Action.ARRIVE: Step(frozenset({S.ACCEPTED}), S.ARRIVED, Side.RECEIVER, "mark arrived"),
    Action.COMPLETE: Step(frozenset({S.ARRIVED}), S.COMPLETED, Side.RECEIVER, "complete"),
    Action.CANCEL: Step(
        frozenset({S.REQUESTED, S.RECEIVED, S.ACCEPTED}), S.CANCELLED, Side.SENDER, "cancel"
    ),
}

OPEN = frozenset({S.REQUESTED, S.RECEIVED, S.ACCEPTED, S.ARRIVED})
WAITING = frozenset({S.REQUESTED, S.RECEIVED})  # not yet holding a booking


class InvalidTransition(DomainError):
    code = "INVALID_TRANSITION"


def step(action: Action, current: str) -> Step:
    """The step ``action`` takes from ``current``; refuses what the workflow does not allow."""
    s = STEPS[action]
    if S(current) not in s.from_statuses:
        allowed = " or ".join(sorted(x.value for x in s.from_statuses))
        raise InvalidTransition(
            f"Cannot {s.verb} a referral that is {current}; only one that is {allowed}.", field="id"
        )
    return s


def next_action(status: str) -> Action | None:
    """What the receiving side has to do next (the work list), None once closed."""
    for action in (Action.RECEIVE, Action.ACCEPT, Action.ARRIVE, Action.COMPLETE):
        if S(status) in STEPS[action].from_statuses:
            return action
    return None
