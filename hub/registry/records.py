"""A resident record as it arrives from any source (GraphQL, an adapter, a bulk file)."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any

from hub.errors import DomainError
from hub.registry import idnumber

# The bulk/JSON-lines field names (snake_case), also the keys of SourceRecord.payload.
RECORD_FIELDS = (
    "source",
    "source_id",
    "name",
    "sex",
    "birth_date",
    "id_number",
    "phone",
    "address",
    "insurance_card",
    "health_record_no",
    "birth_certificate_no",
    "mother_id_number",
    "guardian_name",
    "guardian_phone",
    "guardian_relation",
    "guardian_id_number",
    "insurance_type",
    "categories",
    "address_region",
)


@dataclass(slots=True)
class ResidentRecord:
    source: str
    source_id: str
    name: str | None = None
    sex: str | None = None  # GB/T 2261.1: 0 unknown, 1 male, 2 female, 9 unspecified
    birth_date: dt.date | None = None
    id_number: str | None = None
    phone: str | None = None
    address: str | None = None
    insurance_card: str | None = None
    health_record_no: str | None = None
    birth_certificate_no: str | None = None
    mother_id_number: str | None = None
    guardian_name: str | None = None
    guardian_phone: str | None = None
    guardian_relation: str | None = None
    guardian_id_number: str | None = None
    insurance_type: str | None = None
    categories: list[str] = field(default_factory=list)
    address_region: str | None = None

    def payload(self) -> dict[str, Any]:
        """JSON-safe form, keeping only what was given."""
        out: dict[str, Any] = {}
        for key in RECORD_FIELDS:  # not asdict(): it deep-copies, and this runs per record
            value = getattr(self, key)
            if value is None or value == "" or value == []:
                continue
            if isinstance(value, dt.date):
                value = value.isoformat()
            elif isinstance(value, list):
                value = list(value)
            out[key] = value
        return out

    @classmethod
    def from_payload(cls, data: dict[str, Any]) -> ResidentRecord:
        """Build from a JSON object with RECORD_FIELDS keys; raises ValueError on bad values."""
        unknown = set(data) - set(RECORD_FIELDS)
        if unknown:
            raise ValueError(f"unknown field(s): {', '.join(sorted(unknown))}")
        kwargs: dict[str, Any] = {}
        for key, value in data.items():
            if value is None or value == "":
                continue
            if key == "birth_date":
                value = parse_date(str(value))
            elif key == "categories":
                if not isinstance(value, list):
                    raise ValueError("categories must be a list")
            elif not isinstance(value, str):
                value = str(value)
            kwargs[key] = value
        if not kwargs.get("source") or not kwargs.get("source_id"):
            raise ValueError("source and source_id are required")
        return cls(**kwargs)

    @classmethod
    def lenient(cls, data: dict[str, Any]) -> tuple[ResidentRecord, list[str]]:
        """For bulk files, where nobody can correct a record: a value that cannot be used
        is dropped (unknown) and named in the returned problems; unknown fields are
        ignored. Only a missing source or source_id raises ValueError."""
        from hub.registry.normalize import parse_date as lenient_date

        problems: list[str] = []
        kwargs: dict[str, Any] = {}
        for key, value in data.items():
            if key not in RECORD_FIELDS:
                problems.append(f"UNKNOWN_FIELD:{key}")
                continue
            if value is None or value == "" or value == []:
                continue
            if key == "birth_date":
                value = lenient_date(str(value))
                if value is None:
                    problems.append("UNUSABLE_BIRTH_DATE")
                    continue
            elif key == "categories":
                if not isinstance(value, list):
                    problems.append("UNUSABLE_CATEGORIES")
                    continue
                value = [str(v) for v in value]
            elif isinstance(value, (dict, list)):
                problems.append(f"UNUSABLE_VALUE:{key}")
                continue
            else:
                value = str(value)
            kwargs[key] = value
        if not kwargs.get("source", "").strip() or not kwargs.get("source_id", "").strip():
            raise ValueError("source and source_id are required")
        return cls(**kwargs), problems


def parse_date(text: str) -> dt.date:
    """ISO dates, and the compact / slashed forms source systems send."""
    text = text.strip()
    for fmt in ("%Y-%m-%d", "%Y%m%d", "%Y/%m/%d", "%Y.%m.%d", "%Y年%m月%d日"):
        try:
            return dt.datetime.strptime(text, fmt).date()
        except ValueError:
            continue
    if len(text) >= 10:  # a timestamp: 2024-01-02T03:04:05
        return dt.date.fromisoformat(text[:10])
    raise ValueError(f"'{text}' is not a date (expected YYYY-MM-DD)")


SEXES = {"0", "1", "2", "9"}
SEX_WORDS = {"男": "1", "M": "1", "MALE": "1", "女": "2", "F": "2", "FEMALE": "2", "未知": "0"}


class InvalidIdNumber(DomainError):
    code = "INVALID_ID_NUMBER"


def validate(record: ResidentRecord, *, strict: bool) -> list[str]:
    """Check a record. strict (a vendor who can correct it): bad input raises.
    Not strict (an adapter, which cannot): the record is kept and flagged."""
    flags: list[str] = []
    if not strict and record.sex is not None and record.sex not in SEXES:
        # Adapters pass on what their systems hold: 男/女, M/F are codes in other words.
        record.sex = SEX_WORDS.get(record.sex.strip().upper(), record.sex)
    if record.sex is not None and record.sex not in SEXES:
        if strict:
            raise DomainError(
                f"sex '{record.sex}' is not a GB/T 2261.1 code (0 unknown, 1 male, 2 female, "
                "9 unspecified)",
                field="sex",
                code="INVALID_SEX",
            )
        flags.append("UNKNOWN_SEX_CODE")
        record.sex = None
    if record.id_number:
        number = idnumber.parse(record.id_number)
        if not number.valid:
            if strict:
                raise InvalidIdNumber(
                    f"ID number is not valid per GB 11643 ({number.problem}); check the digits "
                    "and the final check character, then resubmit.",
                    field="idNumber",
                )
            flags.append(f"INVALID_ID_NUMBER:{number.problem}")
        else:
            for fld in idnumber.contradictions(
                number, birth_date=record.birth_date, sex=record.sex
            ):
                flags.append(
                    "ID_CONTRADICTS_BIRTH_DATE" if fld == "birthDate" else "ID_CONTRADICTS_SEX"
                )
    return flags
