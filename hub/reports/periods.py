"""Report periods as the seeds name them: a day (asOf), a month (2026-11), a quarter
(2026Q4) or a year (2026). Bad input is a typed error, never a 500."""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass

from hub.errors import InvalidInput


@dataclass(frozen=True, slots=True)
class Period:
    label: str
    start: dt.date
    end: dt.date  # inclusive


def day(value: str | dt.date | None, *, field: str = "asOf") -> dt.date:
    if value is None:
        return dt.date.today()
    if isinstance(value, dt.date):
        return value
    try:
        return dt.date.fromisoformat(value)
    except ValueError:
        raise InvalidInput(
            f"{field} must be a date YYYY-MM-DD, not {value[:20]!r}.",
            field=field,
            code="INVALID_DATE",
        ) from None


def _month_end(year: int, month: int) -> dt.date:
    nxt = dt.date(year + month // 12, month % 12 + 1, 1)
    return nxt - dt.timedelta(days=1)


def month(value: str, *, field: str = "month") -> Period:
    m = re.fullmatch(r"(\d{4})-(\d{2})", value or "")
    if not m or not 1 <= int(m.group(2)) <= 12:
        raise InvalidInput(
            f"{field} must be a month YYYY-MM, not {str(value)[:20]!r}.",
            field=field,
            code="INVALID_PERIOD",
        )
    y, mo = int(m.group(1)), int(m.group(2))
    return Period(value, dt.date(y, mo, 1), _month_end(y, mo))


def period(value: str | None, *, field: str = "period") -> Period:
    """2026 (a year), 2026Q4 / 2026-Q4 (a quarter) or 2026-11 (a month); default this year."""
    value = value or str(dt.date.today().year)
    if re.fullmatch(r"\d{4}", value):
        y = int(value)
        return Period(value, dt.date(y, 1, 1), dt.date(y, 12, 31))
    q = re.fullmatch(r"(\d{4})-?Q([1-4])", value, flags=re.IGNORECASE)
    if q:
        y, n = int(q.group(1)), int(q.group(2))
        return Period(f"{y}Q{n}", dt.date(y, 3 * n - 2, 1), _month_end(y, 3 * n))
    if re.fullmatch(r"\d{4}-\d{2}", value):
        return month(value, field=field)
    raise InvalidInput(
        f"{field} must be a year (2026), a quarter (2026Q4) or a month (2026-11), "
        f"not {value[:20]!r}.",
        field=field,
        code="INVALID_PERIOD",
    )


def quarter(value: str | None, *, field: str = "quarter") -> Period:
    p = period(value or _this_quarter(), field=field)
    if "Q" not in p.label:
        raise InvalidInput(
            f"{field} must be a quarter like 2026Q4, not {value!r}.",
            field=field,
            code="INVALID_PERIOD",
        )
    return p


def _this_quarter() -> str:
    today = dt.date.today()
    return f"{today.year}Q{(today.month - 1) // 3 + 1}"
