"""The maternal-child system's records (JSON) -> typed records the hub applies.

`read` never raises and needs no database: a record that cannot be used gets a
`Problem` with a stable code (BAD_JSON, UNKNOWN_KIND, MISSING_FIELD, BAD_DATE,
UNKNOWN_CODE, INVALID_ID_NUMBER) naming the field; the raw bytes are kept by the runtime.
Local codes go through mappings/maternal/codes.yaml.
"""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass, field
from typing import Any

from adapters.runtime.types import Message, Problem
from hub.registry import idnumber
from mappings.maternal.codes import codes

KINDS = (
    "pregnancy_registration", "prenatal_visit", "delivery", "birth_certificate",
    "postpartum_visit", "postpartum_42day", "newborn_visit", "child_exam",
)  # fmt: skip
# The log's message type (20 characters at most) of each kind.
MESSAGE_TYPES = {
    "pregnancy_registration": "MCH^REG", "prenatal_visit": "MCH^ANC", "delivery": "MCH^DEL",
    "birth_certificate": "MCH^BIRTH", "postpartum_visit": "MCH^PNC",
    "postpartum_42day": "MCH^PNC42", "newborn_visit": "MCH^NBV", "child_exam": "MCH^CHE",
}  # fmt: skip
# Required fields per kind (beyond handbook_no), and their types.
_DATES = {
    "pregnancy_registration": ("lmp", "edd", "registered_on"),
    "prenatal_visit": ("visit_date",),
    "postpartum_visit": ("visit_date",),
    "postpartum_42day": ("visit_date",),
    "newborn_visit": ("visit_date",),
    "child_exam": ("exam_date",),
    "delivery": (),
    "birth_certificate": (),
}
_TIMES = {"delivery": ("delivered_at",), "birth_certificate": ("born_at",)}
_REQUIRED = {
    "pregnancy_registration": ("mother_id_number", "mother_name"),
    "prenatal_visit": ("gestational_week", "risk_colour"),
    "delivery": ("mode", "babies"),
    "birth_certificate": ("certificate_no", "sex", "mother_id_number"),
    "newborn_visit": ("certificate_no",),
    "child_exam": ("certificate_no", "age_months"),
    "postpartum_visit": (),
    "postpartum_42day": (),
}
_OPTIONAL_DATES = {"delivery": ("discharge_date",)}
_CODED = {"risk_colour": "risk_colour", "mode": "delivery_mode", "outcome": "outcome",
          "development": "development"}  # fmt: skip
_IDS = ("mother_id_number", "child_id_number", "father_id_number")


class Bad(Exception):
    def __init__(self, code: str, where: str, text: str) -> None:
        super().__init__(text)
        self.code, self.where, self.text = code, where, text


@dataclass(frozen=True, slots=True)
class MaternalRecord:
    """One record version as the system sent it, with typed values (`values`: dates as
    dates, codes as hub codes; `local`: the local codes as sent)."""

    record_id: str
    kind: str
    version: int
    updated_at: dt.datetime
    deleted: bool
    handbook_no: str
    values: dict[str, Any] = field(default_factory=dict)
    local: dict[str, str] = field(default_factory=dict)


def encode(record: dict[str, Any]) -> bytes:
    """The bytes logged for one record: canonical JSON (a repeat is byte-identical)."""
    return json.dumps(record, ensure_ascii=False, sort_keys=True, separators=(",", ":")).encode()


def _time(value: Any) -> dt.datetime:
    t = dt.datetime.fromisoformat(str(value))
    return t if t.tzinfo else t.replace(tzinfo=dt.timezone(dt.timedelta(hours=8)))


def read(raw: bytes) -> Message:
    try:
        rec = json.loads(raw)
        if not isinstance(rec, dict):
            raise ValueError("not an object")
    except ValueError as err:
        return Message(None, "BAD", problem=Problem("BAD_JSON", f"not a JSON record: {err}", "AR"))
    rid, version = str(rec.get("id") or ""), rec.get("version")
    control = f"{rid}:v{version}" if rid else None
    kind = str(rec.get("kind") or "")
    try:
        body = _parse(rec, rid, kind)
    except Bad as err:
        return Message(
            control,
            MESSAGE_TYPES.get(kind, "MCH^?"),
            problem=Problem(err.code, err.text, "AE", err.where),
        )
    return Message(
        control, MESSAGE_TYPES[kind], body.handbook_no, f"maternal:{rid}", body.updated_at, body
    )


def _parse(rec: dict[str, Any], rid: str, kind: str) -> MaternalRecord:
    if not rid:
        raise Bad("MISSING_FIELD", "id", "the record has no id")
    if kind not in KINDS:
        raise Bad("UNKNOWN_KIND", "kind", f"unknown record kind {kind!r}")
    try:
        version = int(rec.get("version"))  # type: ignore[arg-type]
        updated = _time(rec.get("updated_at"))
    except (TypeError, ValueError):
        raise Bad(
            "BAD_DATE", "updated_at", "version or updated_at is missing or unreadable"
        ) from None
    data = rec.get("data")
    if not isinstance(data, dict):
        raise Bad("MISSING_FIELD", "data", "the record has no data")
    handbook = str(data.get("handbook_no") or "").strip()
    if not handbook:
        raise Bad("MISSING_FIELD", "data.handbook_no", "no 母子健康手册 number")
    deleted = bool(rec.get("deleted"))
    if deleted:  # a deletion needs only the record's identity
        return MaternalRecord(rid, kind, version, updated, True, handbook)
    values: dict[str, Any] = dict(data)
    for name in _REQUIRED[kind]:
        if data.get(name) in (None, ""):
            raise Bad("MISSING_FIELD", f"data.{name}", f"{kind} without {name}")
    for name in _DATES[kind] + _OPTIONAL_DATES.get(kind, ()):
        value = data.get(name)
        if value in (None, ""):
            if name in _DATES[kind]:
                raise Bad("MISSING_FIELD", f"data.{name}", f"{kind} without {name}")
            continue
        try:
            values[name] = dt.date.fromisoformat(str(value))
        except ValueError:
            raise Bad("BAD_DATE", f"data.{name}", f"{name} {value!r} is not a date") from None
    for name in _TIMES.get(kind, ()):
        try:
            values[name] = _time(data.get(name))
        except (TypeError, ValueError):
            raise Bad("BAD_DATE", f"data.{name}", f"{name} is not a date and time") from None
    local: dict[str, str] = {}
    for name, table in _CODED.items():
        if data.get(name) in (None, ""):
            continue
        found = codes().lookup(table, data[name])
        if found is None:
            raise Bad("UNKNOWN_CODE", f"data.{name}", f"{name} {data[name]!r} is not in "
                      f"mappings/maternal/codes.yaml ({codes().version})")  # fmt: skip
        local[name], values[name] = str(data[name]), found.code
    for name in _IDS:
        if data.get(name):
            number = idnumber.parse(str(data[name]))
            if not number.valid:
                raise Bad("INVALID_ID_NUMBER", f"data.{name}",
                          f"{name} is not a valid ID number ({number.problem})")  # fmt: skip
            values[name] = number.value
    for name in ("gestational_week", "babies", "age_months", "registered_week"):
        if data.get(name) not in (None, ""):
            try:
                values[name] = int(data[name])
            except (TypeError, ValueError):
                raise Bad("BAD_VALUE", f"data.{name}", f"{name} is not a number") from None
    if kind == "birth_certificate" and str(data.get("sex")) not in ("1", "2", "0", "9"):
        raise Bad("UNKNOWN_CODE", "data.sex", "sex is not a GB/T 2261.1 code")
    return MaternalRecord(rid, kind, version, updated, False, handbook, values, local)
