"""structlog set-up. Personal data never reaches a log line: keys that can carry it are
dropped by a processor, whatever a caller passes."""

from __future__ import annotations

import logging
import sys
from collections.abc import MutableMapping
from typing import Any

import structlog

# Keys whose values may carry personal data (PII). Log ids and counts, never these.
_PII_KEYS = frozenset(
    {
        "name",
        "id_number",
        "idNumber",
        "phone",
        "address",
        "birth_date",
        "birthDate",
        "insurance_card",
        "guardian_name",
        "guardian_phone",
        "payload",
        "variables",
        "mother_id_number",
        "raw",
        "message_text",
        "query",
    }
)


def _drop_pii(
    _logger: Any, _method: str, event: MutableMapping[str, Any]
) -> MutableMapping[str, Any]:
    for key in _PII_KEYS & event.keys():
        event[key] = "[redacted]"
    return event


def configure(level: str = "INFO", json: bool = False) -> None:
    logging.basicConfig(format="%(message)s", stream=sys.stderr, level=level.upper())
    renderer: Any = (
        structlog.processors.JSONRenderer() if json else structlog.dev.ConsoleRenderer(colors=False)
    )
    structlog.configure(
        processors=[
            structlog.contextvars.merge_contextvars,
            structlog.processors.add_log_level,
            structlog.processors.TimeStamper(fmt="iso"),
            _drop_pii,
            renderer,
        ],
        wrapper_class=structlog.make_filtering_bound_logger(logging.getLevelName(level.upper())),
        # stderr: CLI commands print their results on stdout
        logger_factory=structlog.PrintLoggerFactory(sys.stderr),
        cache_logger_on_first_use=True,
    )


def get_logger(name: str) -> Any:
    return structlog.get_logger(name)
