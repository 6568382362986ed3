"""Referrals over HL7 v2 (双向转诊): REF^I12 out to the hospital, RRI^I12 back.

The hub builds REF^I12 (`build_referral`); the hospital — or the simulator playing one —
reads it (`parse_referral`) and answers RRI^I12 (`build_referral_reply`), which the hub
reads with `translate.parse` into a ReferralReply.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from enum import StrEnum

from adapters.his.wire import (
    CST,
    HL7ContentError,
    Message,
    escape,
    fld,
    format_ts,
    header_of,
    new_control_id,
    parse_ts,
    part,
    split,
)

_HL7_SEX = {"1": "M", "2": "F", "0": "U", "9": "O"}
_GB_SEX = {"M": "1", "F": "2", "U": "0", "O": "9"}


class ReferralPriority(StrEnum):
    """RF1-2, HL7 table 0280."""

    STAT = "S"
    ASAP = "A"
    ROUTINE = "R"


class ReferralCategory(StrEnum):
    """RF1-5, HL7 table 0284."""

    AMBULATORY = "A"
    EMERGENCY = "E"
    INPATIENT = "I"
    OUTPATIENT = "O"


@dataclass(frozen=True, slots=True)
class Facility:
    id: str  # the code both sides use in MSH-4/MSH-6
    name: str = ""


@dataclass(frozen=True, slots=True)
class ReferralPatient:
    resident_id: str  # the hub's id, sent as PID-3 type PI
    name: str
    id_number: str | None = None
    mr_id: str | None = None  # the hospital's own MR number when known
    birth_date: dt.date | None = None
    sex: str | None = None  # GB/T 2261.1
    phone: str | None = None
    address: str | None = None


@dataclass(frozen=True, slots=True)
class Referral:
    """An up-referral (上转) from a family doctor to a hospital."""

    referral_id: str  # RF1-6, the hub's referral id
    patient: ReferralPatient
    referring: Facility
    target: Facility
    reason: str
    diagnosis_code: str  # ICD-10
    diagnosis_text: str
    priority: ReferralPriority = ReferralPriority.ROUTINE
    category: ReferralCategory = ReferralCategory.OUTPATIENT
    referring_doctor: str = ""
    target_department: str = ""
    created: dt.datetime = field(default_factory=lambda: dt.datetime.now(CST))
    control_id: str = ""  # MSH-10 as received (parse_referral); builders make their own


def _msh(sending: Facility, receiving: Facility, kind: str, control_id: str) -> str:
    return "|".join([
        "MSH", "^~\\&", "FDHUB" if kind.startswith("REF") else "HIS", escape(sending.id),
        "HIS" if kind.startswith("REF") else "FDHUB", escape(receiving.id),
        format_ts(dt.datetime.now(CST)), "", kind, control_id, "P", "2.5",
        "", "", "AL", "NE", "CHN", "UNICODE UTF-8",
    ])  # fmt: skip


def _prd(role: str, label: str, doctor: str, facility: Facility, dept: str = "") -> str:
    # PRD-4 (PL): point of care = department, facility = id, description = name.
    where = f"{escape(dept)}^^^{escape(facility.id)}^^^^^{escape(facility.name)}"
    return f"PRD|{role}^{label}^HL70286|{escape(doctor)}||{where}|||{escape(facility.id)}^FI"


def _pid(p: ReferralPatient, target: Facility) -> str:
    ids = [f"{escape(p.resident_id)}^^^FDHUB^PI"]
    if p.mr_id:
        ids.append(f"{escape(p.mr_id)}^^^{escape(target.id)}^MR")
    if p.id_number:
        ids.append(f"{escape(p.id_number)}^^^CHN^NNCHN")
    birth = p.birth_date.strftime("%Y%m%d") if p.birth_date else ""
    sex = _HL7_SEX.get(p.sex or "", "")
    phone = f"{escape(p.phone)}^PRN^CP" if p.phone else ""
    address = escape(p.address or "")
    return f"PID|1||{'~'.join(ids)}||{escape(p.name)}^^^^^^L||{birth}|{sex}|||{address}||{phone}"


def build_referral(ref: Referral, *, control_id: str | None = None) -> bytes:
    """REF^I12 (v2.5, UTF-8). The hospital answers with RRI^I12 or an ACK."""
    lines = [
        _msh(ref.referring, ref.target, "REF^I12^REF_I12", control_id or new_control_id("REF")),
        f"RF1|P^Pending^HL70283|{ref.priority}^^HL70280|Med^Medical^HL70281|"
        f"AM^Assume Management^HL70282|{ref.category}^^HL70284|"
        f"{escape(ref.referral_id)}^FDHUB|{format_ts(ref.created)}|||^{escape(ref.reason)}",
        _prd("RP", "Referring Provider", ref.referring_doctor, ref.referring),
        _prd("RT", "Referred to Provider", "", ref.target, ref.target_department),
        _pid(ref.patient, ref.target),
        f"DG1|1||{escape(ref.diagnosis_code)}^{escape(ref.diagnosis_text)}^I10||"
        f"{format_ts(ref.created)}|W",
    ]
    return ("\r".join(lines) + "\r").encode("utf-8")


def parse_referral(raw: bytes, *, default_encoding: str = "utf-8") -> Referral:
    """Read a REF^I12 (what the hospital side does with `build_referral` output)."""
    m = split(raw, default_encoding=default_encoding)
    h = header_of(m)
    if (h.message_type, h.event_type) != ("REF", "I12"):
        raise HL7ContentError("UNSUPPORTED_MESSAGE_TYPE", f"expected REF^I12, got "
                              f"{h.message_type}^{h.event_type}", location="MSH-9",
                              hl7_code="200")  # fmt: skip
    rf1, pid, dg1 = m.first("RF1"), m.first("PID"), m.first("DG1")
    if rf1 is None or pid is None:
        raise HL7ContentError("MISSING_SEGMENT", "REF^I12 needs RF1 and PID", location="RF1",
                              hl7_code="100")  # fmt: skip
    referral_id = m.text(m.comps(fld(rf1, 6))[0])
    if not referral_id:
        raise HL7ContentError("MISSING_FIELD", "RF1-6 (referral id) is empty",
                              location="RF1-6", hl7_code="101")  # fmt: skip
    prds = {m.text(m.comps(fld(p, 1))[0]): p for p in m.all("PRD")}
    dx = m.comps(fld(dg1, 3))
    return Referral(
        referral_id=referral_id,
        patient=_patient(m, pid),
        referring=_facility(m, prds.get("RP"), h.sending_facility),
        target=_facility(m, prds.get("RT"), h.receiving_facility),
        reason=m.text(part(m.comps(fld(rf1, 10)), 2)),
        diagnosis_code=m.text(dx[0]),
        diagnosis_text=m.text(part(dx, 2)),
        priority=ReferralPriority(m.text(m.comps(fld(rf1, 2))[0]) or "R"),
        category=ReferralCategory(m.text(m.comps(fld(rf1, 5))[0]) or "O"),
        referring_doctor=m.text(m.comps(fld(prds.get("RP"), 2))[0]),
        target_department=m.text(m.comps(fld(prds.get("RT"), 4))[0]),
        created=parse_ts(fld(rf1, 7)) or h.message_time or dt.datetime.now(CST),
        control_id=h.control_id,
    )


def _facility(m: Message, prd: list[str] | None, fallback: str) -> Facility:
    pl = m.comps(fld(prd, 4))
    return Facility(m.text(part(pl, 4)) or fallback, m.text(part(pl, 9)))


def _patient(m: Message, pid: list[str]) -> ReferralPatient:
    ids = {part(c, 5): m.text(c[0]) for c in (m.comps(r) for r in m.reps(fld(pid, 3)))}
    birth = parse_ts(fld(pid, 7))
    return ReferralPatient(
        resident_id=ids.get("PI", ""),
        name=m.text(m.comps(fld(pid, 5))[0]),
        id_number=ids.get("NNCHN"),
        mr_id=ids.get("MR"),
        birth_date=birth.date() if birth else None,
        sex=_GB_SEX.get(m.text(fld(pid, 8))),
        phone=m.text(m.comps(fld(pid, 13))[0]) or None,
        address=m.text(m.comps(fld(pid, 11))[0]) or None,
    )


def build_referral_reply(
    ref: Referral, *, accepted: bool | None, reason: str = "", control_id: str | None = None
) -> bytes:
    """RRI^I12 answering `ref` (whose MSH-10 is `ref.control_id`): RF1-1 A/R/P, the reason
    in NTE-3."""
    status = {True: "A^Accepted", False: "R^Rejected", None: "P^Pending"}[accepted]
    lines = [
        _msh(ref.target, ref.referring, "RRI^I12^RRI_I12", control_id or new_control_id("RRI")),
        f"MSA|AA|{escape(ref.control_id)}",
        f"RF1|{status}^HL70283|{ref.priority}^^HL70280|Med^Medical^HL70281||"
        f"{ref.category}^^HL70284|{escape(ref.referral_id)}^FDHUB|{format_ts(ref.created)}",
        _prd("RT", "Referred to Provider", "", ref.target, ref.target_department),
        _pid(ref.patient, ref.target),
    ]
    if reason:
        lines.append(f"NTE|1||{escape(reason)}")
    return ("\r".join(lines) + "\r").encode("utf-8")
