"""The immunization system's XML (免疫规划信息系统) -> typed records the hub applies.

A page is `<VaccinationChanges next=".." hasMore="..">` holding `<Subject>` elements, one
full version of one child each (受种者: the child, the guardian, every vaccination and
adverse event). Parsing is hardened (defusedxml): a DOCTYPE with entities (an XML bomb)
or an external entity reference is refused before anything is expanded; a document in
GBK (declared so) is decoded from that encoding. Local vaccine codes go through
`mappings/immunization/vaccine-codes.yaml`.

`split` turns a page into one message per subject (canonical UTF-8 bytes); `read` never
raises and needs no database: a subject that cannot be used gets a `Problem` with a stable
code (BAD_XML, FORBIDDEN_XML, MISSING_FIELD, BAD_DATE, UNKNOWN_VACCINE, INVALID_ID_NUMBER).
"""

from __future__ import annotations

import datetime as dt
import re
import xml.etree.ElementTree as ET
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any

import yaml
from defusedxml import DefusedXmlException
from defusedxml.ElementTree import fromstring

from adapters.runtime.types import Message, Problem
from hub.registry import idnumber

CODES_FILE = (
    Path(__file__).resolve().parents[2] / "mappings" / "immunization" / "vaccine-codes.yaml"
)
MAX_DOCUMENT = 8 * 1024 * 1024  # bytes; a page larger than this is refused unread
_DECLARATION = re.compile(rb"^\s*<\?xml[^>]*encoding=[\"']([A-Za-z0-9_\-]+)[\"'][^>]*\?>")


@lru_cache(maxsize=1)
def vaccine_codes() -> tuple[str, dict[str, str]]:
    raw = yaml.safe_load(CODES_FILE.read_text(encoding="utf-8"))
    return str(raw["version"]), {str(k): str(v) for k, v in raw["codes"].items()}


class XmlRefused(Exception):
    def __init__(self, code: str, text: str) -> None:
        super().__init__(text)
        self.code, self.text = code, text


def parse_document(raw: bytes) -> ET.Element:
    """Parse one document safely: no DTD entities, no external references, bounded size;
    a non-UTF-8 declaration (GBK, GB18030) is decoded by Python's codec first."""
    if len(raw) > MAX_DOCUMENT:
        raise XmlRefused("DOCUMENT_TOO_LARGE", f"{len(raw)} bytes (at most {MAX_DOCUMENT})")
    match = _DECLARATION.match(raw)
    text: str | bytes = raw
    if match and match.group(1).lower() not in (b"utf-8", b"utf8", b"us-ascii", b"ascii"):
        encoding = match.group(1).decode()
        try:
            decoded = raw.decode(encoding)
        except LookupError:
            raise XmlRefused("BAD_ENCODING", f"unknown encoding {encoding!r}") from None
        except UnicodeDecodeError as err:
            raise XmlRefused("BAD_ENCODING", f"not {encoding}: byte {err.start}") from None
        text = _DECLARATION.sub(b"", decoded.encode("utf-8"), count=1).decode("utf-8")
    try:
        return fromstring(text, forbid_dtd=True, forbid_entities=True, forbid_external=True)
    except DefusedXmlException as err:
        raise XmlRefused("FORBIDDEN_XML", f"refused unsafe XML ({type(err).__name__})") from None
    except ET.ParseError as err:
        raise XmlRefused("BAD_XML", f"not well-formed XML: {err}") from None


@dataclass(frozen=True, slots=True)
class Page:
    subjects: list[bytes]  # one canonical document per subject
    next_cursor: str | None
    has_more: bool


def split(root: ET.Element) -> Page:
    if root.tag != "VaccinationChanges":
        raise XmlRefused("BAD_XML", f"expected <VaccinationChanges>, got <{root.tag}>")
    subjects = [canonical(s) for s in root.findall("Subject")]
    return Page(subjects, root.get("next"), root.get("hasMore") == "true")


def canonical(element: ET.Element) -> bytes:
    """The bytes logged for one subject version: the same version is byte-identical."""
    element.tail = None
    return ET.tostring(element, encoding="utf-8", xml_declaration=False)


@dataclass(frozen=True, slots=True)
class Vaccination:
    event_id: str
    local_code: str
    vaccine: str | None  # None: a local code the map does not know (kept, reported)
    given_on: dt.date
    dose_number: int | None = None
    product_name: str | None = None
    lot: str | None = None
    manufacturer: str | None = None
    trace_code: str | None = None
    site: str | None = None
    route: str | None = None
    unit: str | None = None
    entered_in_error: bool = False


@dataclass(frozen=True, slots=True)
class Adverse:
    event_id: str
    vaccination_id: str | None
    onset_on: dt.date | None
    reaction: str | None
    severity: str | None


@dataclass(frozen=True, slots=True)
class SubjectRecord:
    """One version of one child as the immunization system holds it."""

    subject_id: str
    version: int
    updated_at: dt.datetime
    child: dict[str, Any]  # name, sex, birth_date, id_number, birth_certificate_no, ...
    guardian: dict[str, Any]
    vaccinations: tuple[Vaccination, ...] = ()
    adverse: tuple[Adverse, ...] = ()
    unknown_codes: tuple[str, ...] = field(default=())


class Bad(Exception):
    def __init__(self, code: str, where: str, text: str) -> None:
        super().__init__(text)
        self.code, self.where, self.text = code, where, text


def _date(value: str | None, where: str, *, required: bool = True) -> dt.date | None:
    if not value:
        if required:
            raise Bad("MISSING_FIELD", where, f"{where} is missing")
        return None
    try:
        return dt.date.fromisoformat(value)
    except ValueError:
        raise Bad("BAD_DATE", where, f"{where} {value!r} is not a date (YYYY-MM-DD)") from None


def _id(value: str | None, where: str) -> str | None:
    if not value:
        return None
    number = idnumber.parse(value)
    if not number.valid:
        raise Bad(
            "INVALID_ID_NUMBER", where, f"{where} is not a valid ID number ({number.problem})"
        )
    return number.value


def read(raw: bytes) -> Message:
    try:
        root = parse_document(raw)
    except XmlRefused as err:
        return Message(None, "IMM^BAD", problem=Problem(err.code, err.text, "AR"))
    if root.tag != "Subject":
        return Message(
            None, "IMM^BAD", problem=Problem("BAD_XML", f"unexpected <{root.tag}>", "AR")
        )
    sid = (root.get("id") or "").strip()
    control = f"{sid}:v{root.get('version')}" if sid else None
    try:
        body = _subject(root, sid)
    except Bad as err:
        return Message(control, "IMM^SUBJECT", problem=Problem(err.code, err.text, "AE", err.where))
    return Message(
        control,
        "IMM^SUBJECT",
        f"immunization:{sid}",
        f"immunization:{sid}",
        body.updated_at,
        body,
        warnings=tuple(f"UNKNOWN_VACCINE_CODE {c}" for c in body.unknown_codes),
    )


def _subject(root: ET.Element, sid: str) -> SubjectRecord:
    if not sid:
        raise Bad("MISSING_FIELD", "Subject/@id", "the subject has no id (受种者编码)")
    try:
        version = int(root.get("version") or "")
        updated = dt.datetime.fromisoformat(root.get("updated") or "")
    except ValueError:
        raise Bad(
            "BAD_DATE", "Subject/@version", "version or updated is missing or unreadable"
        ) from None
    if updated.tzinfo is None:
        updated = updated.replace(tzinfo=dt.timezone(dt.timedelta(hours=8)))
    c = root.find("Child")
    if c is None:
        raise Bad("MISSING_FIELD", "Child", "the subject has no <Child>")
    child: dict[str, Any] = {
        "name": (c.get("name") or "").strip() or None,
        "sex": c.get("sex") or None,
        "birth_date": _date(c.get("birthDate"), "Child/@birthDate"),
        "id_number": _id(c.get("idNumber"), "Child/@idNumber"),
        "birth_certificate_no": (c.get("birthCertificateNo") or "").strip() or None,
        "certificate_no": (c.get("certificateNo") or "").strip() or None,
        "address": c.get("address") or None,
    }
    if not child["name"]:
        raise Bad("MISSING_FIELD", "Child/@name", "the child has no name")
    if child["sex"] not in (None, "0", "1", "2", "9"):
        raise Bad("UNKNOWN_CODE", "Child/@sex", "sex is not a GB/T 2261.1 code")
    g = root.find("Guardian")
    guardian: dict[str, Any] = {}
    if g is not None:
        guardian = {
            "name": g.get("name") or None,
            "id_number": _id(g.get("idNumber"), "Guardian/@idNumber"),
            "phone": g.get("phone") or None,
            "relation": g.get("relation") or None,
        }
    _, codes = vaccine_codes()
    vaccinations: list[Vaccination] = []
    unknown: list[str] = []
    for i, v in enumerate(root.findall("Vaccination")):
        where = f"Vaccination[{i + 1}]"
        eid = (v.get("id") or "").strip()
        if not eid:
            raise Bad("MISSING_FIELD", f"{where}/@id", "a vaccination without an id")
        code = (v.get("code") or "").strip()
        if not code:
            raise Bad("MISSING_FIELD", f"{where}/@code", "a vaccination without a vaccine code")
        given = _date(v.get("date"), f"{where}/@date")
        assert given is not None
        if given < child["birth_date"]:
            raise Bad("BAD_DATE", f"{where}/@date", "a vaccination before the birth date")
        if code not in codes:
            unknown.append(code)
        dose = v.get("dose")
        trace = (v.get("traceCode") or "").strip() or None
        if trace is not None and not (len(trace) == 20 and trace.isdigit()):
            raise Bad("BAD_VALUE", f"{where}/@traceCode", "疫苗追溯码 is 20 digits")
        vaccinations.append(
            Vaccination(
                eid, code, codes.get(code), given,
                int(dose) if dose and dose.isdigit() else None,
                v.get("product"), v.get("lot"), v.get("manufacturer"), trace,
                v.get("site"), v.get("route"), v.get("unit"),
                v.get("status") == "entered-in-error",
            )
        )  # fmt: skip
    adverse = tuple(
        Adverse(
            (a.get("id") or f"{sid}-aefi-{i}"), a.get("vaccinationId"),
            _date(a.get("onset"), f"AdverseEvent[{i + 1}]/@onset", required=False),
            a.get("reaction"), a.get("severity"),
        )
        for i, a in enumerate(root.findall("AdverseEvent"))
    )  # fmt: skip
    return SubjectRecord(
        sid, version, updated, child, guardian, tuple(vaccinations), adverse, tuple(unknown)
    )
