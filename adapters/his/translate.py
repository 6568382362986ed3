"""HL7 v2.3–2.5 messages of the HIS (医院信息系统) <-> plain records for the hub.

Inbound: ADT A01/A04/A08/A28/A31 -> PersonRecord, A40 -> MergeRecord, ORU^R01 ->
ObservationBatch, RRI^I12 -> ReferralReply. Outbound: REF^I12 (`build_referral`) and ACKs
(`build_ack`, re-exported from `wire`). No database here: the hub-side handler applies
the records. Values follow one convention: None = the sender did not send the field,
'' = the sender cleared it (HL7 null `""`).
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass

from adapters.his.wire import (
    CST,
    Ack,
    Header,
    HL7ContentError,
    HL7Error,
    HL7ParseError,
    Issue,
    Message,
    build_ack,
    fld,
    header_of,
    parse_ack,
    parse_ts,
    part,
    peek_control_id,
    split,
)

__all__ = [
    "Ack", "Header", "HL7ContentError", "HL7Error", "HL7ParseError", "Issue",
    "PersonRecord", "MergeRecord", "Observation", "BloodPressure", "Glucose",
    "ObservationBatch", "ReferralReply", "parse", "build_ack", "parse_ack",
    "peek_control_id",
]  # fmt: skip

PERSON_EVENTS = frozenset({"A01", "A04", "A08", "A28", "A31"})

# HL7 table 0001 and GB/T 2261.1 itself -> GB/T 2261.1 (0 unknown, 1 male, 2 female,
# 9 unspecified). Small enough to live here; versioned local tables belong in mappings/.
SEX_CODES = {"M": "1", "F": "2", "U": "0", "O": "9", "A": "9", "N": "9",
             "0": "0", "1": "1", "2": "2", "9": "9", "男": "1", "女": "2"}  # fmt: skip

# LOINC codes the hub types; any other result is kept as received with its local code.
BP_PANEL, SYSTOLIC, DIASTOLIC = "85354-9", "8480-6", "8462-4"
FASTING_GLUCOSE = {"14771-0": "mmol/L", "1558-6": "mg/dL", "76629-5": "mmol/L"}
_CJK = re.compile(r"[\u3400-\u9fff\uf900-\ufaff]")
_NUMBER = re.compile(r"[-+]?\d+(?:\.\d+)?")


# ----------------------------------------------------------------------- records


@dataclass(frozen=True, slots=True)
class PersonRecord:
    """A person as the HIS knows them (ADT A01/A04/A08/A28/A31)."""

    source_id: str  # PID-3 repetition of type MR (病案号 / 患者ID)
    assigning_authority: str  # PID-3.4, else MSH-4: MR ids are unique per hospital only
    id_number: str | None  # PID-3 NNCHN/ID, else PID-19; as received, maybe invalid
    name: str | None
    birth_date: dt.date | None
    sex: str | None  # GB/T 2261.1 code; None when absent or unknown (see sex_raw)
    sex_raw: str | None
    address: str | None
    phone: str | None
    control_id: str
    event_type: str
    event_time: dt.datetime | None
    issues: tuple[Issue, ...] = ()  # kept-and-reported problems (unknown codes ...)
    source: str = "his"


@dataclass(frozen=True, slots=True)
class MergeRecord:
    """ADT^A40: `prior_source_id` (MRG-1) was merged into `source_id` (PID-3)."""

    source_id: str
    prior_source_id: str
    assigning_authority: str
    id_number: str | None
    control_id: str
    event_time: dt.datetime | None
    issues: tuple[Issue, ...] = ()
    event_type: str = "A40"
    source: str = "his"


@dataclass(frozen=True, slots=True)
class Observation:
    """One OBX. `code`/`code_system` as sent (LN = LOINC, anything else local)."""

    code: str
    code_system: str
    display: str
    value: str
    numeric: float | None
    unit: str
    time: dt.datetime | None
    status: str  # OBX-11: F final, C corrected, ...
    order_code: str  # OBR-4 identifier
    kind: str | None = None  # systolic / diastolic / fasting_glucose for typed results
    local_code: str = ""  # "system:code" as sent when typed by its LOINC alternate


@dataclass(frozen=True, slots=True)
class BloodPressure:
    systolic: float
    diastolic: float
    unit: str
    time: dt.datetime | None


@dataclass(frozen=True, slots=True)
class Glucose:
    value: float
    unit: str
    mmol_per_l: float
    fasting: bool
    time: dt.datetime | None


@dataclass(frozen=True, slots=True)
class ObservationBatch:
    """ORU^R01: every OBX kept in `observations`, typed views beside them."""

    source_id: str
    assigning_authority: str
    id_number: str | None
    observations: tuple[Observation, ...]
    blood_pressures: tuple[BloodPressure, ...]
    glucose: tuple[Glucose, ...]
    control_id: str
    event_time: dt.datetime | None
    issues: tuple[Issue, ...] = ()
    event_type: str = "R01"
    source: str = "his"


@dataclass(frozen=True, slots=True)
class ReferralReply:
    """RRI^I12 from the hospital: accepted True/False, or None while pending."""

    referral_id: str  # RF1-6
    accepted: bool | None
    status: str  # RF1-1, HL7 table 0283: A accepted, R rejected, P pending, E expired
    reason: str  # NTE-3 (why rejected, or a note)
    in_reply_to: str  # MSA-2: control id of our REF^I12
    facility: str  # MSH-4
    control_id: str
    event_time: dt.datetime | None
    issues: tuple[Issue, ...] = ()


Inbound = PersonRecord | MergeRecord | ObservationBatch | ReferralReply


# ------------------------------------------------------------------------ parsing


def parse(raw: bytes, *, default_encoding: str = "utf-8") -> Inbound:
    """Translate one inbound message. Raises HL7ParseError (-> AR) or HL7ContentError
    (-> AE); an invalid ID number or an unknown code is kept and reported, not raised."""
    m = split(raw, default_encoding=default_encoding)
    h = header_of(m)
    if not h.control_id:
        raise HL7ParseError(
            "MISSING_CONTROL_ID",
            "MSH-10 (message control id) is empty",
            location="MSH-10",
            hl7_code="101",
        )
    kind = (h.message_type, h.event_type)
    if h.message_type == "ADT" and h.event_type in PERSON_EVENTS:
        return _person(m, h)
    if kind == ("ADT", "A40"):
        return _merge(m, h)
    if kind == ("ORU", "R01"):
        return _observations(m, h)
    if kind == ("RRI", "I12"):
        return _referral_reply(m, h)
    if h.message_type in ("ADT", "ORU", "RRI"):
        raise HL7ContentError("UNSUPPORTED_EVENT", f"event {h.event_type or '(none)'} of "
                              f"{h.message_type} is not accepted", location="MSH-9",
                              hl7_code="201")  # fmt: skip
    raise HL7ContentError("UNSUPPORTED_MESSAGE_TYPE", f"message type "
                          f"{h.message_type or '(none)'} is not accepted", location="MSH-9",
                          hl7_code="200")  # fmt: skip


def _event_time(m: Message, h: Header) -> dt.datetime | None:
    return parse_ts(fld(m.first("EVN"), 2)) or h.message_time


def _pid(m: Message) -> list[str]:
    pid = m.first("PID")
    if pid is None:
        raise HL7ContentError("MISSING_SEGMENT", "no PID segment", location="PID", hl7_code="100")
    return pid


def _value(m: Message, raw: str) -> str | None:
    """A field's first component as sent: None absent, '' for the HL7 null ""."""
    if not raw:
        return None
    return "" if raw == '""' else m.text(m.comps(raw)[0])


def mr_id(m: Message, cx_list: str, h: Header, where: str) -> tuple[str, str, list[Issue]]:
    """(id, assigning authority, issues) of the MR repetition of a CX list. An untyped
    first repetition is taken as the MR id: older HIS send `123456^^^HOSP` alone."""
    reps = [m.comps(r) for r in m.reps(cx_list)]
    for cx in reps:
        if part(cx, 5).strip().upper() == "MR" and cx[0].strip():
            return m.text(cx[0]), _authority(m, cx) or h.sending_facility, []
    if reps and reps[0][0].strip() and not part(reps[0], 5).strip():
        issue = Issue("ASSUMED_MR", where, f"{where} has no type code; taken as MR")
        return m.text(reps[0][0]), _authority(m, reps[0]) or h.sending_facility, [issue]
    raise HL7ContentError("MISSING_PATIENT_ID", f"{where} has no medical record number "
                          "(identifier type MR)", location=where, hl7_code="101")  # fmt: skip


def _authority(m: Message, cx: list[str]) -> str:
    """CX.4 (HD): its namespace id, the code hospitals actually agree on."""
    return m.text(part(cx, 4).split(m.sub)[0])


def _id_number(m: Message, pid: list[str]) -> str | None:
    for rep in m.reps(fld(pid, 3)):
        cx = m.comps(rep)
        if part(cx, 5).strip().upper() in ("NNCHN", "ID") and cx[0].strip():
            return m.text(cx[0])
    return _value(m, fld(pid, 19))


def _name(m: Message, raw: str) -> str | None:
    """PID-5: prefer the legal name (XPN.7 = L). Chinese names join without a space."""
    if not raw or raw == '""':
        return _value(m, raw)
    reps = [m.comps(r) for r in m.reps(raw)]
    xpn = next((x for x in reps if part(x, 7) == "L"), reps[0])
    names = [m.text(part(xpn, 1).split(m.sub)[0]), m.text(part(xpn, 2)), m.text(part(xpn, 3))]
    names = [n for n in names if n]
    return ("" if any(_CJK.search(n) for n in names) else " ").join(names)


def _address(m: Message, raw: str) -> str | None:
    """PID-11 as one line: Chinese addresses run from province down, unspaced."""
    if not raw or raw == '""':
        return _value(m, raw)
    reps = [m.comps(r) for r in m.reps(raw)]
    xad = next((x for x in reps if part(x, 7) == "H"), reps[0])
    street = " ".join(m.text(s) for s in part(xad, 1).split(m.sub) if s.strip())
    other, city, state = m.text(part(xad, 2)), m.text(part(xad, 3)), m.text(part(xad, 4))
    district = m.text(part(xad, 8))
    if _CJK.search(street + other + city + state + district):
        head = [p for p in (state, city, district) if p and p not in street]
        return "".join([*head, street, other])
    zip_code = m.text(part(xad, 5))
    return ", ".join(p for p in (street, other, district, city, state, zip_code) if p)


def _phone(m: Message, raw: str) -> str | None:
    """PID-13: a mobile (XTN.3 = CP) first, skipping e-mail; XTN.1, XTN.12 or XTN.6+7."""
    if not raw or raw == '""':
        return _value(m, raw)
    best: str | None = None
    for rep in m.reps(raw):
        xtn = m.comps(rep)
        if part(xtn, 2) == "NET" or part(xtn, 3) in ("Internet", "X.400"):
            continue
        number = m.text(xtn[0]) or m.text(part(xtn, 12))
        number = number or m.text(part(xtn, 6)) + m.text(part(xtn, 7))
        if number and (best is None or part(xtn, 3) == "CP"):
            best = number
            if part(xtn, 3) == "CP":
                break
    return best


def _person(m: Message, h: Header) -> PersonRecord:
    pid = _pid(m)
    source_id, authority, issues = mr_id(m, fld(pid, 3), h, "PID-3")
    birth_raw = _value(m, fld(pid, 7))
    birth = parse_ts(birth_raw) if birth_raw else None
    if birth_raw and birth is None:
        issues.append(Issue("BAD_BIRTH_DATE", "PID-7", "PID-7 is not a date", "102"))
    sex_raw = _value(m, fld(pid, 8))
    sex = SEX_CODES.get(sex_raw.upper()) if sex_raw else None
    if sex_raw and sex is None:
        issues.append(Issue("UNKNOWN_CODE", "PID-8", f"unknown sex code {sex_raw!r}", "103"))
    return PersonRecord(
        source_id=source_id,
        assigning_authority=authority,
        id_number=_id_number(m, pid),
        name=_name(m, fld(pid, 5)),
        birth_date=birth.date() if birth else None,
        sex=sex,
        sex_raw=sex_raw,
        address=_address(m, fld(pid, 11)),
        phone=_phone(m, fld(pid, 13)),
        control_id=h.control_id,
        event_type=h.event_type,
        event_time=_event_time(m, h),
        issues=tuple(issues),
    )


def _merge(m: Message, h: Header) -> MergeRecord:
    if len(m.all("MRG")) > 1:
        raise HL7ContentError("UNSUPPORTED_MULTI_MERGE", "send one PID/MRG pair per A40",
                              location="MRG", hl7_code="207")  # fmt: skip
    pid, mrg = _pid(m), m.first("MRG")
    if mrg is None:
        raise HL7ContentError("MISSING_SEGMENT", "A40 without MRG segment", location="MRG",
                              hl7_code="100")  # fmt: skip
    source_id, authority, issues = mr_id(m, fld(pid, 3), h, "PID-3")
    prior_id, _, more = mr_id(m, fld(mrg, 1), h, "MRG-1")
    if prior_id == source_id:
        raise HL7ContentError("SELF_MERGE", "MRG-1 names the surviving patient itself",
                              location="MRG-1", hl7_code="207")  # fmt: skip
    return MergeRecord(
        source_id=source_id,
        prior_source_id=prior_id,
        assigning_authority=authority,
        id_number=_id_number(m, pid),
        control_id=h.control_id,
        event_time=_event_time(m, h),
        issues=tuple(issues + more),
    )


def _observations(m: Message, h: Header) -> ObservationBatch:
    if len(m.all("PID")) > 1:  # results after a second PID would land on the first patient
        raise HL7ContentError("UNSUPPORTED_MULTI_PATIENT", "send one patient per ORU^R01",
                              location="PID", hl7_code="207")  # fmt: skip
    pid = _pid(m)
    source_id, authority, issues = mr_id(m, fld(pid, 3), h, "PID-3")
    event_time = _event_time(m, h)
    observations: list[Observation] = []
    pressures: list[BloodPressure] = []
    glucose: list[Glucose] = []
    obr_time, order, obr_index = event_time, "", 0
    # Systolic and diastolic pair up within one OBR and OBX-4 sub-id; a repeated kind in
    # the same group starts the next reading.
    groups: list[dict[str, Observation]] = []
    open_groups: dict[tuple[int, str], dict[str, Observation]] = {}
    for seg in m.segments:
        if seg[0] == "OBR":
            order = m.text(m.comps(fld(seg, 4))[0])
            obr_time = parse_ts(fld(seg, 7)) or event_time
            obr_index += 1
        elif seg[0] == "OBX":
            obs = _obx(m, seg, order, obr_time, issues)
            observations.append(obs)
            if obs.kind in ("systolic", "diastolic"):
                key = (obr_index, fld(seg, 4))
                parts = open_groups.get(key)
                if parts is None or obs.kind in parts:
                    parts = open_groups[key] = {}
                    groups.append(parts)
                parts[obs.kind] = obs
            elif obs.kind == "blood_pressure":  # one OBX "130/85" under the panel code
                pair = re.findall(r"\d+(?:\.\d+)?", obs.value)
                if len(pair) == 2:
                    pressures.append(
                        BloodPressure(
                            float(pair[0]), float(pair[1]), obs.unit or "mm[Hg]", obs.time
                        )
                    )
            elif obs.kind == "fasting_glucose" and obs.numeric is not None:
                unit = obs.unit or FASTING_GLUCOSE[obs.code]
                mmol = obs.numeric / 18.016 if unit.lower() == "mg/dl" else obs.numeric
                glucose.append(Glucose(obs.numeric, unit, round(mmol, 2), True, obs.time))
    for parts in groups:
        sys_, dia = parts.get("systolic"), parts.get("diastolic")
        if sys_ and dia and sys_.numeric is not None and dia.numeric is not None:
            pressures.append(BloodPressure(sys_.numeric, dia.numeric, sys_.unit or "mm[Hg]",
                                           sys_.time))  # fmt: skip
        else:
            issues.append(
                Issue(
                    "INCOMPLETE_BLOOD_PRESSURE",
                    "OBX",
                    "systolic and diastolic must come together",
                    "101",
                )
            )
    if not observations:
        issues.append(Issue("NO_OBSERVATIONS", "OBX", "ORU^R01 without OBX segments", "100"))
    return ObservationBatch(
        source_id=source_id,
        assigning_authority=authority,
        id_number=_id_number(m, pid),
        observations=tuple(observations),
        blood_pressures=tuple(pressures),
        glucose=tuple(glucose),
        control_id=h.control_id,
        event_time=event_time,
        issues=tuple(issues),
    )


def _obx(m: Message, seg: list[str], order: str, default_time: dt.datetime | None,
         issues: list[Issue]) -> Observation:  # fmt: skip
    ce = m.comps(fld(seg, 3))
    code, display, system = m.text(ce[0]), m.text(part(ce, 2)), m.text(part(ce, 3))
    local_code = ""
    if system.upper() not in ("LN", "LOINC") and part(ce, 6).upper() in ("LN", "LOINC"):
        # A local code with its LOINC alternate (CE.4-6): type by LOINC, keep the local one.
        local_code = f"{system}:{code}" if system else code
        code, display, system = m.text(part(ce, 4)), m.text(part(ce, 5)), "LN"
    if not code:
        raise HL7ContentError("MISSING_FIELD", "OBX-3 (observation identifier) is empty",
                              location="OBX-3", hl7_code="101")  # fmt: skip
    vtype, raw_value = fld(seg, 2).upper(), fld(seg, 5)
    first = raw_value.split(m.rep)[0]
    if raw_value == '""':
        value = ""
    elif vtype == "SN":  # structured numeric: comparator^number
        sn = m.comps(first)
        value = (m.text(sn[0]) if sn[0] not in ("", "=") else "") + m.text(part(sn, 2))
    elif vtype in ("ST", "TX", "FT"):  # free text may hold the component separator
        value = m.text(first)
    else:
        value = m.text(m.comps(first)[0])
    match = _NUMBER.fullmatch(value.strip()) if vtype in ("NM", "SN", "") else None
    unit_ce = m.comps(fld(seg, 6))
    kind = None
    if system.upper() in ("LN", "LOINC"):
        kind = {SYSTOLIC: "systolic", DIASTOLIC: "diastolic", BP_PANEL: "blood_pressure"}.get(
            code, "fasting_glucose" if code in FASTING_GLUCOSE else None
        )
    elif not system:
        issues.append(Issue("UNKNOWN_CODE", "OBX-3", f"code {code!r} has no coding system",
                            "103"))  # fmt: skip
    return Observation(
        code=code,
        code_system=system,
        display=display,
        value=value,
        numeric=float(match.group()) if match else None,
        unit=m.text(unit_ce[0]) or m.text(part(unit_ce, 2)),
        time=parse_ts(fld(seg, 14)) or default_time,
        status=m.text(fld(seg, 11)),
        order_code=order,
        kind=kind,
        local_code=local_code,
    )


def _referral_reply(m: Message, h: Header) -> ReferralReply:
    rf1, msa = m.first("RF1"), m.first("MSA")
    if rf1 is None:
        raise HL7ContentError("MISSING_SEGMENT", "RRI^I12 without RF1", location="RF1",
                              hl7_code="100")  # fmt: skip
    status = m.text(m.comps(fld(rf1, 1))[0]).upper()
    referral_id = m.text(m.comps(fld(rf1, 6))[0])
    if not referral_id:
        raise HL7ContentError("MISSING_FIELD", "RF1-6 (referral id) is empty",
                              location="RF1-6", hl7_code="101")  # fmt: skip
    notes = [m.text(fld(nte, 3)) for nte in m.all("NTE")]
    return ReferralReply(
        referral_id=referral_id,
        accepted={"A": True, "R": False}.get(status),
        status=status,
        reason="; ".join(n for n in notes if n),
        in_reply_to=m.text(fld(msa, 2)),
        facility=h.sending_facility,
        control_id=h.control_id,
        event_time=_event_time(m, h),
    )


__all__ += ["CST", "Inbound", "PERSON_EVENTS", "SEX_CODES", "mr_id"]
