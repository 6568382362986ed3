"""FHIR errors: an OperationOutcome with an issue code and an HTTP status, never a trace."""

from __future__ import annotations

from typing import Any

from starlette.responses import JSONResponse

FHIR_JSON = "application/fhir+json"


class FhirError(Exception):
    """A request the facade refuses: ``status`` (4xx), FHIR issue ``code``, a message."""

    def __init__(self, status: int, code: str, text: str) -> None:
        super().__init__(text)
        self.status, self.code, self.text = status, code, text


def outcome(status: int, code: str, text: str, **headers: str) -> JSONResponse:
    body: dict[str, Any] = {
        "resourceType": "OperationOutcome",
        "issue": [{"severity": "error", "code": code, "diagnostics": text}],
    }
    return JSONResponse(body, status_code=status, media_type=FHIR_JSON, headers=headers or None)


def invalid(text: str) -> FhirError:
    return FhirError(400, "invalid", text)


def not_supported(text: str) -> FhirError:
    return FhirError(400, "not-supported", text)


def not_found(text: str) -> FhirError:
    return FhirError(404, "not-found", text)
