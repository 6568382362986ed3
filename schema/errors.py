"""`userErrors` in mutation payloads: a stable code, the input field, an actionable message."""

from __future__ import annotations

import strawberry

from hub.errors import DomainError


@strawberry.type(description="A problem with the input or a rule the request broke.")
class UserError:
    code: str = strawberry.field(description="Stable machine-readable code, e.g. INVALID_ID_NUMBER.")
    field: str | None = strawberry.field(description="The input field at fault, if one is.")
    message: str = strawberry.field(description="What is wrong and how to correct it.")


def user_errors(error: DomainError) -> list[UserError]:
    """One entry per problem: an error carrying several (``violations``) lists each."""
    found = getattr(error, "violations", None) or (error,)
    return [UserError(code=str(e.code), field=e.field, message=e.message) for e in found]
