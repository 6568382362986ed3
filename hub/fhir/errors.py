"""FHIR errors: an OperationOutcome with an issue code and an HTTP status, never a trace."""

from __future__ import annotations

from typing import Any

from starlette.responses import JSONResponse

FHIR_JSON = "application/fhir+json"


class FhirError(Exception):
    """A request the facade refuses: ``status`` (4xx), FHIR issue ``code``, a message."""

    def __init__(self, status: int, code: str, text: str, *, details: str | None = None) -> None:
        super().__init__(text)
        self.status, self.code, self.text, self.details = status, code, text, details


ERROR_SYSTEM = "urn:hub:error"  # the hub's error codes (INVALID_ID_NUMBER, …) in details


def outcome(
    status: int, code: str, text: str, details: str | None = None, **headers: str
) -> JSONResponse:
    issue: dict[str, Any] = {"severity": "error", "code": code, "diagnostics": text}
    if details:
        issue["details"] = {"coding": [{"system": ERROR_SYSTEM, "code": details}], "text": text}
    body: dict[str, Any] = {"resourceType": "OperationOutcome", "issue": [issue]}
    return JSONResponse(body, status_code=status, media_type=FHIR_JSON, headers=headers or None)


def invalid(text: str) -> FhirError:
    return FhirError(400, "invalid", text)


def not_supported(text: str) -> FhirError:
    return FhirError(400, "not-supported", text)


def not_found(text: str) -> FhirError:
    return FhirError(404, "not-found", text)
