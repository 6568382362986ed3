"""CDC notifications (JSON) -> typed notifications. `read` never raises: a notification
that cannot be used gets a Problem (BAD_JSON, MISSING_FIELD, BAD_DATE, INVALID_ID_NUMBER,
UNKNOWN_KIND) naming the field."""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

from adapters.runtime.types import Message, Problem
from hub.registry import idnumber
from hub.tuberculosis.service import Notification

KINDS = ("notification", "outcome", "closing")
CST = dt.timezone(dt.timedelta(hours=8))


def encode(n: dict[str, Any]) -> bytes:
    return json.dumps(n, ensure_ascii=False, sort_keys=True, separators=(",", ":")).encode()


class Bad(Exception):
    def __init__(self, code: str, where: str, text: str) -> None:
        super().__init__(text)
        self.code, self.where, self.text = code, where, text


def _date(value: Any, where: str) -> dt.date | None:
    if value in (None, ""):
        return None
    try:
        return dt.date.fromisoformat(str(value))
    except ValueError:
        raise Bad("BAD_DATE", where, f"{where} {value!r} is not a date") from None


def read(raw: bytes) -> Message:
    try:
        rec = json.loads(raw)
        if not isinstance(rec, dict):
            raise ValueError("not an object")
    except ValueError as err:
        return Message(None, "CDC^BAD", problem=Problem("BAD_JSON", f"not JSON: {err}", "AR"))
    nid, version = str(rec.get("id") or ""), rec.get("version")
    control = f"{nid}:v{version}" if nid else None
    try:
        body = _parse(rec, nid)
    except Bad as err:
        return Message(control, "CDC^TB", problem=Problem(err.code, err.text, "AE", err.where))
    return Message(control, "CDC^TB", f"cdc:{nid}", f"cdc:{nid}", body.notified_at, body)


def _parse(rec: dict[str, Any], nid: str) -> Notification:
    if not nid:
        raise Bad("MISSING_FIELD", "id", "the notification has no id")
    kind = str(rec.get("kind") or "")
    if kind not in KINDS:
        raise Bad("UNKNOWN_KIND", "kind", f"unknown kind {kind!r}")
    try:
        version = int(rec.get("version"))  # type: ignore[arg-type]
        notified = dt.datetime.fromisoformat(str(rec.get("notified_at")))
    except (TypeError, ValueError):
        raise Bad(
            "BAD_DATE", "notified_at", "version or notified_at is missing or unreadable"
        ) from None
    if notified.tzinfo is None:
        notified = notified.replace(tzinfo=CST)
    p = rec.get("patient")
    if not isinstance(p, dict) or not p.get("name"):
        raise Bad("MISSING_FIELD", "patient.name", "the notification names no patient")
    patient = {"name": p.get("name"), "sex": p.get("sex"), "phone": p.get("phone"),
               "address": p.get("address"),
               "birth_date": _date(p.get("birth_date"), "patient.birth_date")}  # fmt: skip
    if p.get("id_number"):
        number = idnumber.parse(str(p["id_number"]))
        if not number.valid:
            raise Bad(
                "INVALID_ID_NUMBER",
                "patient.id_number",
                f"not a valid ID number ({number.problem})",
            )
        patient["id_number"] = number.value
    values = {
        "diagnosed_on": _date(rec.get("diagnosis_date"), "diagnosis_date"),
        "diagnosis_type": rec.get("diagnosis_type"), "hospital": rec.get("hospital"),
        "treatment_start": _date(rec.get("treatment_start"), "treatment_start"),
        "regimen": rec.get("regimen"), "outcome": rec.get("outcome"),
        "closed_on": _date(rec.get("closed_on"), "closed_on"),
    }  # fmt: skip
    if kind == "closing" and values["closed_on"] is None:
        raise Bad("MISSING_FIELD", "closed_on", "a closing without closed_on")
    return Notification(nid, version, kind, notified, patient, values)
