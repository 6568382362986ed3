"""structlog set-up. Personal data (PHI) never reaches a log line:

* keys that can carry it are dropped by a processor, whatever a caller passes;
* every string that is logged — the event, any value, a rendered traceback, a third-party
  (stdlib ``logging``) line — is scrubbed: runs of non-ASCII letters (Chinese names and
  addresses), ID-number and phone-like digit runs, percent-, ``\\u``- and ``\\x``-escaped
  non-ASCII text become ``[redacted]``;
* tracebacks are rendered plainly, without local variables (rich's ``show_locals`` printed
  them, PHI included, and took seconds per traceback);
* client mistakes are logged at INFO, at most a few lines per code per window
  (:func:`client_mistake`), then one summary count.
"""

from __future__ import annotations

import logging
import re
import sys
import threading
import time
from collections.abc import Mapping, MutableMapping
from typing import Any, TextIO

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
REDACTED = "[redacted]"

# A letter outside ASCII (CJK ideographs, kana, Latin-extended, Arabic script …).
_LETTER = r"[^\x00-\x7F\W\d_]"
_PHI = re.compile(
    "|".join(
        (
            # names and addresses: non-ASCII letter runs, with the digits and marks
            # an address mixes in (光明北路88号, 3栋2单元501室)
            rf"{_LETTER}+(?:[0-9A-Za-z_\-#·.]+{_LETTER}+)*",
            # ID numbers (18 and 15 digits), insurance cards, phones with a country code:
            # any run of 11 or more digits, an ID number's final X included
            r"(?<!\d)\d{11,}[Xx]?",
            # an ID number or phone written in groups: 440113 19580314 1233, 139-1234-5678
            r"(?<!\d)\d{6}[ -]\d{8}[ -]\d{3}[\dXx](?!\d)",
            r"(?<!\d)1[3-9]\d[ -]\d{4}[ -]\d{4}(?!\d)",
            # the same text escaped: URLs (%E6%B5%8B), JSON (\u6d4b), bytes reprs (\xe6)
            r"(?:%[89A-Fa-f][0-9A-Fa-f])+",
            r"(?:\\u[0-9A-Fa-f]{4})+",
            r"(?:\\x[89A-Fa-f][0-9A-Fa-f])+",
        )
    )
)


_MAX_TEXT = 16_384  # characters of one logged string; the rest is cut (bounded cost)


def redact(text: str) -> str:
    """``text`` without anything that looks like a name, an address, an ID or a phone."""
    if len(text) > _MAX_TEXT:
        # no half ID number at the cut
        cut = len(text) - _MAX_TEXT
        text = text[:_MAX_TEXT].rstrip("0123456789Xx") + f"…[{cut} characters cut]"
    return _PHI.sub(REDACTED, text)


def _redact_value(value: Any) -> Any:
    if isinstance(value, str):
        return redact(value)
    if value is None or isinstance(value, (bool, float)):
        return value
    if isinstance(value, int):
        return value if abs(value) < 10**10 else REDACTED
    if isinstance(value, BaseException):
        return redact(f"{type(value).__name__}: {value}")
    text = repr(value)
    clean = redact(text)
    return value if clean == text else clean


def _drop_pii(
    _logger: Any, _method: str, event: MutableMapping[str, Any]
) -> MutableMapping[str, Any]:
    for key in _PII_KEYS & event.keys():
        event[key] = REDACTED
    return event


def _redact_phi(
    _logger: Any, _method: str, event: MutableMapping[str, Any]
) -> MutableMapping[str, Any]:
    """Scrub every value (the event itself and a rendered ``exception`` included)."""
    for key, value in event.items():
        if key == "exc_info" or key.startswith("_"):
            continue  # exc_info is rendered (and then scrubbed) by format_exc_info
        event[key] = _redact_value(value)
    return event


class _Stream:
    """Where log lines go, looked up at each write (tests swap it; see tests/phi_support)."""

    target: TextIO | None = None

    def write(self, text: str) -> int:
        return (self.target or sys.stderr).write(text)

    def flush(self) -> None:
        (self.target or sys.stderr).flush()


STREAM = _Stream()


class _StdlibRedactor(logging.Filter):
    """Scrubs a stdlib record (uvicorn's own handlers, whatever formats them)."""

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except Exception:  # noqa: BLE001 - a broken format string: log it as it is
            message = str(record.msg)
        record.msg, record.args = redact(message), None
        if record.exc_info and not record.exc_text:
            record.exc_text = redact(logging.Formatter().formatException(record.exc_info))
        if record.exc_text:
            record.exc_text = redact(record.exc_text)
        if record.stack_info:
            record.stack_info = redact(record.stack_info)
        return True


_REDACTOR = _StdlibRedactor()
# Loggers with their own handlers (uvicorn configures them after us, keeping filters).
_THIRD_PARTY = ("uvicorn", "uvicorn.error", "uvicorn.access", "uvicorn.asgi")


def _shared(level: str) -> list[Any]:
    return [
        structlog.contextvars.merge_contextvars,
        structlog.processors.add_log_level,
        structlog.processors.TimeStamper(fmt="iso"),
        _drop_pii,
        # plain traceback text (no locals, no rich), scrubbed by the next processor
        structlog.processors.format_exc_info,
        _redact_phi,
    ]


def _renderer(json: bool) -> Any:
    if json:
        return structlog.processors.JSONRenderer()
    return structlog.dev.ConsoleRenderer(
        colors=False, exception_formatter=structlog.dev.plain_traceback
    )


CONFIGURED: tuple[str, bool] = ("INFO", False)  # the last configure()'s (level, json)


def configure(level: str = "INFO", json: bool = False) -> None:
    global CONFIGURED
    level = level.upper()
    CONFIGURED = (level, json)
    renderer = _renderer(json)
    # The stdlib root (sqlalchemy, asyncio, uvicorn's error log when it propagates):
    # the same processors, so a third-party line is scrubbed too.
    formatter = structlog.stdlib.ProcessorFormatter(
        foreign_pre_chain=[
            structlog.stdlib.add_logger_name,
            structlog.processors.add_log_level,
            structlog.processors.TimeStamper(fmt="iso"),
            structlog.stdlib.ExtraAdder(),
            _drop_pii,
            structlog.processors.format_exc_info,
            _redact_phi,
        ],
        processors=[structlog.stdlib.ProcessorFormatter.remove_processors_meta, renderer],
    )
    root = logging.getLogger()
    for old in [h for h in root.handlers if getattr(h, "_hub", False)]:
        root.removeHandler(old)
    handler = logging.StreamHandler(STREAM)
    handler._hub = True  # type: ignore[attr-defined]
    handler.setFormatter(formatter)
    handler.addFilter(_REDACTOR)
    root.addHandler(handler)
    root.setLevel(level)
    for name in _THIRD_PARTY:
        third = logging.getLogger(name)
        if _REDACTOR not in third.filters:
            third.addFilter(_REDACTOR)
    structlog.configure(
        processors=[*_shared(level), renderer],
        wrapper_class=structlog.make_filtering_bound_logger(logging.getLevelName(level)),
        # stderr: CLI commands print their results on stdout
        logger_factory=structlog.PrintLoggerFactory(STREAM),  # type: ignore[arg-type]
        # not cached: a later configure() (another level, another stream) applies to all
        cache_logger_on_first_use=False,
    )


def get_logger(name: str) -> Any:
    return structlog.get_logger(name)


# -- client mistakes: INFO, rate-limited ------------------------------------------------

_WINDOW_SECONDS = 10.0
_LINES_PER_WINDOW = 5


class _RateLimit:
    """At most ``lines`` log lines per code per window, then one count of those dropped."""

    def __init__(self, lines: int = _LINES_PER_WINDOW, window: float = _WINDOW_SECONDS) -> None:
        self.lines, self.window = lines, window
        self._state: dict[str, list[float]] = {}  # code -> [window start, lines, dropped]
        self._lock = threading.Lock()

    def admit(self, code: str) -> tuple[bool, int]:
        """(log this line?, lines dropped in the window that just closed)."""
        now = time.monotonic()
        with self._lock:
            state = self._state.get(code)
            if state is None or now - state[0] >= self.window:
                dropped = int(state[2]) if state else 0
                self._state[code] = [now, 1, 0]
                if len(self._state) > 1000:  # codes are a small set; bound it anyway
                    self._state = {code: self._state[code]}
                return True, dropped
            if state[1] < self.lines:
                state[1] += 1
                return True, 0
            state[2] += 1
            return False, 0


_CLIENT_LIMIT = _RateLimit()
_client_log = structlog.get_logger("hub.client")


def client_mistake(event: str, code: str, **fields: Any) -> None:
    """A 4xx: the caller's mistake, not the hub's. INFO, a few lines per code per window."""
    admit, dropped = _CLIENT_LIMIT.admit(code)
    if dropped:
        _client_log.info(
            "client.mistakes_suppressed",
            code=code,
            count=dropped,
            window_seconds=_CLIENT_LIMIT.window,
        )
    if admit:
        _client_log.info(event, code=code, **fields)


# -- settings as they may be logged -------------------------------------------------------

_SECRET_KEY = re.compile(r"pass|secret|token|key|credential|auth", re.IGNORECASE)
_URL_PASSWORD = re.compile(r"(//[^/:@\s]*:)[^@/\s]*@")


def sanitize_settings(data: Mapping[str, Any]) -> dict[str, Any]:
    """Settings without secrets: secret-named keys masked, passwords cut out of URLs."""
    out: dict[str, Any] = {}
    for key, value in data.items():
        if _SECRET_KEY.search(key) and value not in (None, "", [], {}):
            out[key] = "***"
        elif isinstance(value, str):
            out[key] = _URL_PASSWORD.sub(r"\1***@", value)
        elif isinstance(value, Mapping):
            out[key] = sanitize_settings(value)
        else:
            out[key] = value
    return out
