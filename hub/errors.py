"""Domain errors: a stable code, the input field at fault, and a message a person can act on."""

from __future__ import annotations


class DomainError(Exception):
    code = "DOMAIN_ERROR"

    def __init__(self, message: str, *, field: str | None = None, code: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.field = field
        if code is not None:
            self.code = code


class NotFound(DomainError):
    code = "NOT_FOUND"


class Forbidden(DomainError):
    code = "FORBIDDEN"


class MissingScope(Forbidden):
    code = "MISSING_SCOPE"

    def __init__(self, scope: str) -> None:
        super().__init__(
            f"This client lacks the scope '{scope}'; ask the hub operator to grant it."
        )
        self.scope = scope


class InvalidInput(DomainError):
    code = "INVALID_INPUT"
