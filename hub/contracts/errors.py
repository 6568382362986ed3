"""Rule violations of the contracts domain: typed, with stable codes.

A violation is both a value (checks return lists of them, so a caller can show every
problem at once) and an exception (a service raises one to stop a command; it is a
``hub.errors.DomainError``). The code
is stable and reaches GraphQL as part of a union result; the message tells a person
what to do.
"""

from __future__ import annotations

from collections.abc import Iterable
from enum import StrEnum

from hub.errors import DomainError


class ViolationCode(StrEnum):
    PACKAGE_UNKNOWN = "PACKAGE_UNKNOWN"
    PACKAGE_NOT_SIGNABLE = "PACKAGE_NOT_SIGNABLE"
    PACKAGE_NOT_ELIGIBLE = "PACKAGE_NOT_ELIGIBLE"
    PREREQUISITE_PACKAGE_MISSING = "PREREQUISITE_PACKAGE_MISSING"
    EXCLUSIVE_PACKAGES = "EXCLUSIVE_PACKAGES"
    NO_PACKAGE = "NO_PACKAGE"
    ITEM_CHOICE_INVALID = "ITEM_CHOICE_INVALID"
    GUARDIAN_REQUIRED = "GUARDIAN_REQUIRED"
    TEAM_FULL = "TEAM_FULL"
    INSTITUTION_NOT_PRIMARY_CARE = "INSTITUTION_NOT_PRIMARY_CARE"
    HOSPITAL_DOCTOR_SIGNING = "HOSPITAL_DOCTOR_SIGNING"
    PERSONAL_NAME_CONTRACT = "PERSONAL_NAME_CONTRACT"
    TEAM_CHANGE_NOT_ALLOWED = "TEAM_CHANGE_NOT_ALLOWED"
    CROSS_INSTITUTION_CHANGE = "CROSS_INSTITUTION_CHANGE"
    COMBINATION_NOT_OFFERED = "COMBINATION_NOT_OFFERED"
    COMBINATION_LIMIT = "COMBINATION_LIMIT"
    PRESCRIPTION_TOO_LONG = "PRESCRIPTION_TOO_LONG"
    LONG_PRESCRIPTION_NOT_ELIGIBLE = "LONG_PRESCRIPTION_NOT_ELIGIBLE"
    PRICE_NOT_SET = "PRICE_NOT_SET"
    NO_FEE_RULE = "NO_FEE_RULE"
    PAYMENT_REQUIRED = "PAYMENT_REQUIRED"
    RENEWAL_PAYMENT_OUTSIDE_WINDOW = "RENEWAL_PAYMENT_OUTSIDE_WINDOW"
    # Rules that need the database's view (existing contracts, directory kinds).
    ALREADY_SIGNED = "ALREADY_SIGNED"
    CONTRACT_NOT_ACTIVE = "CONTRACT_NOT_ACTIVE"
    SAME_TEAM = "SAME_TEAM"
    COMBINATION_HOSPITAL_KIND = "COMBINATION_HOSPITAL_KIND"
    ITEM_NOT_IN_CONTRACT = "ITEM_NOT_IN_CONTRACT"
    DELIVERY_DATE_INVALID = "DELIVERY_DATE_INVALID"
    ABSENCE_DECISION_UNKNOWN = "ABSENCE_DECISION_UNKNOWN"
    NOT_HOUSEHOLD_MEMBER = "NOT_HOUSEHOLD_MEMBER"


class RuleViolation(DomainError):
    """A broken domain rule: ``code`` (stable), ``field`` (the input at fault), ``message``.

    A ``DomainError``, so GraphQL mutations report it as a ``userErrors`` entry.
    """

    code: ViolationCode

    def __init__(self, code: ViolationCode, field: str, message: str) -> None:
        super().__init__(message, field=field, code=code)
        self.field: str = field

    def __repr__(self) -> str:
        return f"RuleViolation({self.code!s}, {self.field!r}, {self.message!r})"

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, RuleViolation):
            return NotImplemented
        return (self.code, self.field, self.message) == (other.code, other.field, other.message)

    def __hash__(self) -> int:
        return hash((self.code, self.field, self.message))


class RuleViolations(DomainError):
    """Several violations raised together (e.g. every reason a signing is refused).

    ``code``/``field``/``message`` are the first violation's, so a caller that reports
    one error still reports a real one; ``violations`` holds them all.
    """

    def __init__(self, violations: Iterable[RuleViolation]) -> None:
        self.violations = tuple(violations)
        first = self.violations[0]
        super().__init__(
            "; ".join(v.message for v in self.violations), field=first.field, code=first.code
        )

    @property
    def codes(self) -> tuple[ViolationCode, ...]:
        return tuple(v.code for v in self.violations)


def raise_for(violations: Iterable[RuleViolation]) -> None:
    """Raise the violations, if any: one as itself, several as ``RuleViolations``."""
    found = list(violations)
    if len(found) == 1:
        raise found[0]
    if found:
        raise RuleViolations(found)
