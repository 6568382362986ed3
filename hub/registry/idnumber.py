"""Resident ID numbers (居民身份证号码, GB 11643-1999).

18 characters: 6-digit GB/T 2260 region code, 8-digit birth date, 3-digit sequence
(odd = male, even = female) and an ISO 7064 MOD 11-2 check character (0-9 or X).
15-digit numbers (issued before 1999) have a 2-digit year and no check character;
they are upgraded by inserting "19" and computing the check character.
"""

from __future__ import annotations

import datetime as dt
import functools
import re
import unicodedata
from dataclasses import dataclass
from enum import StrEnum

_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
_CHECK = "10X98765432"
_JUNK = re.compile(r"[\s\-_.·]")


class IdProblem(StrEnum):
    """Why an ID number cannot be used as an identifier."""

    EMPTY = "EMPTY"
    BAD_FORMAT = "BAD_FORMAT"
    BAD_CHECK_DIGIT = "BAD_CHECK_DIGIT"
    BAD_BIRTH_DATE = "BAD_BIRTH_DATE"


@dataclass(frozen=True, slots=True)
class IdNumber:
    """An ID number as received (`raw`) and in canonical 18-character form (`value`)."""

    raw: str
    value: str
    problem: IdProblem | None = None

    @property
    def valid(self) -> bool:
        return self.problem is None

    @property
    def birth_date(self) -> dt.date | None:
        if not self.valid:
            return None
        v = self.value
        return dt.date(int(v[6:10]), int(v[10:12]), int(v[12:14]))

    @property
    def sex(self) -> str | None:
        """GB/T 2261.1 sex code implied by the sequence digit: '1' male, '2' female."""
        if not self.valid:
            return None
        return "1" if int(self.value[16]) % 2 == 1 else "2"

    @property
    def region(self) -> str | None:
        return self.value[:6] if self.valid else None


def check_char(first17: str) -> str:
    """The ISO 7064 MOD 11-2 check character for the first 17 digits.

    python-stdnum's `cn.ric.validate` is not used: it also rejects region codes missing
    from its bundled list (e.g. 440113 Panyu), and region codes change over time."""
    return _CHECK[sum(int(c) * w for c, w in zip(first17, _WEIGHTS, strict=True)) % 11]


def clean(raw: str) -> str:
    """Full-width to half-width, drop spaces and separators, upper-case the x."""
    return _JUNK.sub("", unicodedata.normalize("NFKC", raw)).upper()


def parse(raw: str | None) -> IdNumber:
    """Normalise and validate; never raises. An invalid number keeps its cleaned text."""
    if raw is None or not raw.strip():
        return IdNumber(raw or "", "", IdProblem.EMPTY)
    return _parse(raw)


@functools.lru_cache(maxsize=65536)
def _parse(raw: str) -> IdNumber:
    # Cached: the golden record and the matcher parse the same numbers again and again.
    value = clean(raw)
    if re.fullmatch(r"\d{15}", value):
        body = value[:6] + "19" + value[6:]
        value = body + check_char(body)
    if not re.fullmatch(r"\d{17}[\dX]", value):
        return IdNumber(raw, value, IdProblem.BAD_FORMAT)
    if check_char(value[:17]) != value[17]:
        return IdNumber(raw, value, IdProblem.BAD_CHECK_DIGIT)
    try:
        born = dt.date(int(value[6:10]), int(value[10:12]), int(value[12:14]))
    except ValueError:
        return IdNumber(raw, value, IdProblem.BAD_BIRTH_DATE)
    if born.year < 1880 or born > dt.date.today():
        return IdNumber(raw, value, IdProblem.BAD_BIRTH_DATE)
    return IdNumber(raw, value, None)


def contradictions(number: IdNumber, *, birth_date: dt.date | None, sex: str | None) -> list[str]:
    """Fields of the record that the (valid) number contradicts: 'birthDate', 'sex'."""
    if not number.valid:
        return []
    found = []
    if birth_date is not None and birth_date != number.birth_date:
        found.append("birthDate")
    if sex in ("1", "2") and sex != number.sex:
        found.append("sex")
    return found


def make(region: str, birth_date: dt.date, sequence: int) -> str:
    """Build a valid number (used by the demo data and simulators). sequence: 0-999."""
    body = f"{region}{birth_date:%Y%m%d}{sequence:03d}"
    return body + check_char(body)
