"""Every FHIR search query: each resource type's rows, its search parameters as SQL
conditions, its sort keys and its keyset pages.

Each type starts from its domain repository's filtered query (`hub.registry.repository`,
`hub.contracts.repository`, `hub.referrals.repository`), so the one access policy is
always the first condition; the parameters only narrow it. A key that cannot name a row
(`hub.ids.parse_int_id`) is a condition that matches nothing."""

from __future__ import annotations

import datetime as dt
import typing
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import (
    ColumnElement,
    Date,
    DateTime,
    Integer,
    Select,
    String,
    and_,
    cast,
    false,
    func,
    literal_column,
    not_,
    null,
    or_,
    select,
    union_all,
)
from sqlalchemy.ext.asyncio import AsyncSession

from hub.access import policy
from hub.access.principal import Principal, Scope
from hub.appointments.models import AppointmentSlot, ClinicSession
from hub.contracts import repository as contracts
from hub.contracts.models import Contract, ContractStatus
from hub.directory.models import Organization, Practitioner, Team, TeamMember
from hub.fhir import resources
from hub.fhir.errors import invalid, not_supported
from hub.fhir.params import Clause, DateValue, parse_date, parse_reference, parse_token
from hub.ids import parse_int_id
from hub.immunization.models import VaccinationEvent
from hub.maternal.models import ChildExam, MaternalVisit
from hub.referrals import repository as referrals
from hub.referrals.models import Booking, Capacity, Referral
from hub.registry import idnumber
from hub.registry import repository as registry
from hub.registry.models import Household, Resident, ResidentIdentifier, ResidentStatus
from mappings import codes
from mappings.contract import CONTRACT_NUMBER

Condition = ColumnElement[bool]


def cast_bool(expr: Any) -> Condition:
    """A comparison on an untyped column expression, typed as the condition it is."""
    return typing.cast(Condition, expr)


@dataclass(frozen=True, slots=True)
class Param:
    """One search parameter: its FHIR type, `where(modifier, value) -> condition`, the
    types a reference may name and the element paths it reads (for `_include`)."""

    type: str  # token | string | date | reference
    where: Callable[[str | None, str], Condition]
    targets: tuple[str, ...] = ()
    paths: tuple[str, ...] = ()
    modifiers: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class TypeDef:
    name: str
    key: Any  # the primary-key column
    prefix: str  # the FHIR id is prefix + key
    base: Callable[[Principal], Select[Any]]  # rows this client may see
    build: Callable[..., Any]  # resources.<fn>(ctx, rows)
    params: dict[str, Param] = field(default_factory=dict)
    sorts: dict[str, tuple[Any, str]] = field(default_factory=dict)  # name -> (column, kind)
    scope: Scope | None = None
    resident: Callable[[Any], int | None] | None = None  # for the audit trail
    int_key: bool = True
    # a type served from several tables (see `Union`): its parts, by part number
    parts: Mapping[int, tuple[str, str]] = field(default_factory=dict)
    table: Any = None  # the union subquery of a type with parts

    def key_of(self, fhir_id: str) -> Any:
        """The row key a FHIR id names, or None (it names no row)."""
        if self.parts:
            found = self.part_key(fhir_id)
            return None if found is None else found[1] * PARTS + found[0]
        if not fhir_id.startswith(self.prefix):
            return None
        raw = fhir_id[len(self.prefix) :]
        if self.int_key:
            return parse_int_id(raw)
        return raw if 0 < len(raw) <= 64 else None

    def part_key(self, fhir_id: str) -> tuple[int, int] | None:
        """(part, row id) of a FHIR id of a type with parts."""
        for n, (prefix, suffix) in self.parts.items():
            if fhir_id.startswith(prefix) and fhir_id.endswith(suffix):
                raw = fhir_id[len(prefix) : len(fhir_id) - len(suffix)]
                key = parse_int_id(raw)
                if key is not None and key < 2**31 // PARTS:
                    return n, key
        return None

    def key_condition(self, key: Any) -> Condition:
        """The row of `key`; for a union on (part, row id), so each branch uses its index."""
        if self.parts:
            c = self.table.c
            return and_(c.part == key % PARTS, c.row_key == key // PARTS)
        return cast_bool(self.key == key)

    def fhir_id(self, row: Any) -> str:
        if self.parts:
            prefix, suffix = self.parts[row.part]
            return f"{prefix}{row.row_key}{suffix}"
        return f"{self.prefix}{getattr(row, self.key.key)}"


# -- types served from several tables ---------------------------------------------------------

PARTS = 16  # a union row's key is row id * PARTS + part


@dataclass(frozen=True, slots=True)
class Part:
    """One table's rows of a union type: FHIR id = prefix + row id + suffix; `columns` are
    the union's columns (label -> expression; a label left out is NULL of `TYPES_OF`)."""

    n: int
    prefix: str
    suffix: str
    source: Any  # the mapped class
    columns: Mapping[str, Any]
    where: tuple[Any, ...] = ()


UNION_TYPES = {"resident_id": Integer, "date": Date, "updated_at": DateTime, "code": String,
               "kind": String, "encounter": Integer, "organization_id": String,
               "team_id": String}  # fmt: skip


def union(name: str, parts: Sequence[Part], labels: Sequence[str]) -> Any:
    """UNION ALL of the parts' rows as one subquery: ukey, part, row_key and `labels`."""
    selects = []
    for p in parts:
        cols = [
            (p.source.id * PARTS + literal_column(str(p.n))).label("ukey"),
            literal_column(str(p.n)).label("part"),
            p.source.id.label("row_key"),
        ]
        for label in labels:
            expr = p.columns.get(label)
            cols.append((expr if expr is not None else cast(null(), UNION_TYPES[label]))
                        .label(label))  # fmt: skip
        selects.append(select(*cols).where(*p.where))
    return union_all(*selects).subquery(name)


def _part_ids(parts: Sequence[Part]) -> dict[int, tuple[str, str]]:
    return {p.n: (p.prefix, p.suffix) for p in parts}


# -- parameter kinds ----------------------------------------------------------------------


def _string(*columns: Any) -> Param:
    """FHIR string: starts with (default), `:exact`, `:contains` — on any of `columns`."""

    def where(modifier: str | None, value: str) -> Condition:
        if modifier == "exact":
            return or_(*(c == value for c in columns))
        if modifier == "contains":
            return or_(*(c.contains(value, autoescape=True) for c in columns))
        return or_(*(c.startswith(value, autoescape=True) for c in columns))

    return Param("string", where, modifiers=("exact", "contains"))


def _date(column: Any, *, instant: bool = False) -> Param:
    def where(modifier: str | None, raw: str) -> Condition:
        v = parse_date("date", raw)
        lo, hi = (v.start, v.end) if instant else (v.start_date, v.end_date)
        return _date_condition(column, v, lo, hi)

    return Param("date", where)


def _date_condition(column: Any, v: DateValue, lo: Any, hi: Any) -> Condition:
    """`hi` is exclusive: [lo, hi) is the range the value's precision covers."""
    match v.prefix:
        case "eq" | "ap":
            return and_(column >= lo, column < hi)
        case "ne":
            return or_(column < lo, column >= hi)
        case "gt" | "sa":
            return cast_bool(column >= hi)
        case "lt" | "eb":
            return cast_bool(column < lo)
        case "ge":
            return cast_bool(column >= lo)
        case _:  # le
            return cast_bool(column < hi)


def _token(column: Any, codes_: Mapping[str, Sequence[Any]] | None = None) -> Param:
    """A code; `codes_` maps a FHIR code to the stored values it stands for."""

    def where(modifier: str | None, raw: str) -> Condition:
        _, code = parse_token(raw)
        if code is None:
            return cast_bool(column.is_not(None))
        if codes_ is None:
            return cast_bool(column == code)
        stored = codes_.get(code)
        if stored is None:
            raise invalid(f"{code!r} is not one of {', '.join(sorted(codes_))}.")
        return column.in_(list(stored)) if stored else false()

    return Param("token", where)


def _ids(td: Callable[[], TypeDef]) -> Param:
    def where(modifier: str | None, raw: str) -> Condition:
        key = td().key_of(raw)
        return td().key_condition(key) if key is not None else false()

    return Param("token", where)


def _reference(targets: dict[str, Callable[[Any], Condition]], *paths: str) -> Param:
    """`targets`: type -> (row key of that type -> condition)."""

    def where(modifier: str | None, raw: str) -> Condition:
        rtype, rid = parse_reference("reference", raw, targets)
        key = TYPES[rtype].key_of(rid)
        return targets[rtype](key) if key is not None else false()

    return Param("reference", where, targets=tuple(targets), paths=paths)


# -- Patient --------------------------------------------------------------------------------

SYSTEM_BY_URI = {uri: name for name, uri in codes.IDENTIFIER_SYSTEMS.items()}
GENDERS = {"male": ["1"], "female": ["2"], "unknown": ["0", "9"], "other": []}


def _patient_base(principal: Principal) -> Select[Any]:
    return registry.filtered(principal, registry.ResidentFilter(), dt.date.today())


def _identifier(modifier: str | None, raw: str) -> Condition:
    uri, value = parse_token(raw)
    systems = list(codes.IDENTIFIER_SYSTEMS)
    if uri:
        system = SYSTEM_BY_URI.get(uri) or (uri if uri in codes.IDENTIFIER_SYSTEMS else None)
        if system is None:
            raise not_supported(f"Unknown identifier system {uri!r}; known: "
                                f"{', '.join(codes.IDENTIFIER_SYSTEMS.values())}.")  # fmt: skip
        systems = [system]
    cond: Condition = ResidentIdentifier.system.in_(systems)
    if value is not None:
        number = idnumber.parse(value) if "ID_CARD" in systems else None
        values = {value.strip(), *([number.value] if number and number.valid else [])}
        cond = and_(cond, ResidentIdentifier.value.in_(sorted(values)))
    return Resident.id.in_(select(ResidentIdentifier.resident_id).where(cond))


def _phone(modifier: str | None, raw: str) -> Condition:
    _, value = parse_token(raw)
    digits = (value or "").replace(" ", "").replace("-", "")
    if not digits.isdigit() or len(digits) > 20:
        raise invalid("phone is a number of digits.")
    # the phones are encrypted: an exact match through the HMAC index
    return Resident.id.in_(
        select(ResidentIdentifier.resident_id).where(
            ResidentIdentifier.system == "PHONE", ResidentIdentifier.value == digits
        )
    )


def _active_contract_residents(*conds: Condition) -> Condition:
    return Resident.id.in_(
        select(Contract.resident_id).where(Contract.status == ContractStatus.ACTIVE, *conds)
    )


def _gp_practitioner(key: Any) -> Condition:
    return _active_contract_residents(
        Contract.team_id.in_(select(Team.id).where(Team.leader_id == key))
    )


def _gp_organization(key: Any) -> Condition:
    return _active_contract_residents(Contract.organization_id == key)


def _given(modifier: str | None, value: str) -> Condition:
    given = func.substr(Resident.name, 2)
    if modifier == "exact":
        return given == value
    if modifier == "contains":
        return given.contains(value, autoescape=True)
    return given.startswith(value, autoescape=True)


def _family(modifier: str | None, value: str) -> Condition:
    # Chinese names: the family name is the first character (the mapping's `family`);
    # a longer value (a compound surname, a whole name) matches the start of the name.
    if modifier == "exact":
        return func.substr(Resident.name, 1, 1) == value
    if modifier == "contains":
        return Resident.name.contains(value, autoescape=True)
    return Resident.name.startswith(value, autoescape=True)


def _name(modifier: str | None, value: str) -> Condition:
    if modifier == "exact":
        return Resident.name == value
    return or_(_family(modifier, value), _given(modifier, value))


PATIENT: TypeDef = TypeDef(
    "Patient",
    Resident.id,
    "",
    _patient_base,
    resources.patients,
    params={
        "_id": _ids(lambda: PATIENT),
        "identifier": Param("token", _identifier),
        "name": Param("string", _name, modifiers=("exact", "contains")),
        "family": Param("string", _family, modifiers=("exact", "contains")),
        "given": Param("string", _given, modifiers=("exact", "contains")),
        "birthdate": _date(Resident.birth_date),
        "gender": _token(Resident.sex, GENDERS),
        "phone": Param("token", _phone),
        "telecom": Param("token", _phone),
        "address": _string(Resident.address_text),
        "address-district": _string(Resident.address_region),
        "general-practitioner": _reference(
            {"Practitioner": _gp_practitioner, "Organization": _gp_organization},
            "generalPractitioner",
        ),
        "organization": _reference(
            {"Organization": lambda k: Resident.organization_id == k}, "managingOrganization"
        ),
        "_lastUpdated": _date(Resident.updated_at, instant=True),
    },
    sorts={
        "_id": (Resident.id, "int"),
        "birthdate": (Resident.birth_date, "date"),
        "name": (Resident.name, "str"),
        "family": (Resident.name, "str"),
        "_lastUpdated": (Resident.updated_at, "datetime"),
    },  # fmt: skip
    scope=Scope.RESIDENTS_READ,
    resident=lambda r: r.id,
)

# -- directory --------------------------------------------------------------------------------

ORGANIZATION: TypeDef = TypeDef(
    "Organization",
    Organization.id,
    "",
    lambda p: select(Organization),
    resources.organizations,
    params={
        "_id": _ids(lambda: ORGANIZATION),
        "identifier": _token(Organization.id),
        "name": _string(Organization.name),
        "type": _token(Organization.kind),
        "address": _string(Organization.address, Organization.region_code),
        "partof": _reference({"Organization": lambda k: Organization.parent_id == k}, "partOf"),
        "_lastUpdated": _date(Organization.updated_at, instant=True),
    },
    sorts={"_id": (Organization.id, "str"), "name": (Organization.name, "str")},
    int_key=False,
)

PRACTITIONER: TypeDef = TypeDef(
    "Practitioner",
    Practitioner.id,
    "",
    lambda p: select(Practitioner),
    resources.practitioners,
    params={
        "_id": _ids(lambda: PRACTITIONER),
        "identifier": _token(Practitioner.id),
        "name": _string(Practitioner.name),
        "_lastUpdated": _date(Practitioner.updated_at, instant=True),
    },
    sorts={"_id": (Practitioner.id, "str"), "name": (Practitioner.name, "str")},
    int_key=False,
)

PRACTITIONER_ROLE: TypeDef = TypeDef(
    "PractitionerRole",
    Practitioner.id,
    "",
    lambda p: select(Practitioner),
    resources.practitioner_roles,
    params={
        "_id": _ids(lambda: PRACTITIONER_ROLE),
        "practitioner": _reference(
            {"Practitioner": lambda k: Practitioner.id == k}, "practitioner"
        ),
        "organization": _reference(
            {"Organization": lambda k: Practitioner.organization_id == k}, "organization"
        ),
        "role": _token(Practitioner.role),
    },
    sorts={"_id": (Practitioner.id, "str")},
    int_key=False,
)


def _team_participant(key: Any) -> Condition:
    members = select(TeamMember.team_id).where(TeamMember.practitioner_id == key)
    return or_(Team.leader_id == key, Team.id.in_(members))


CARE_TEAM: TypeDef = TypeDef(
    "CareTeam",
    Team.id,
    "",
    lambda p: select(Team),
    resources.care_teams,
    params={
        "_id": _ids(lambda: CARE_TEAM),
        "participant": _reference({"Practitioner": _team_participant}, "participant.member"),
        "organization": _reference(
            {"Organization": lambda k: Team.organization_id == k}, "managingOrganization"
        ),
    },
    sorts={"_id": (Team.id, "str"), "name": (Team.name, "str")},
    int_key=False,
)

# -- households ------------------------------------------------------------------------------


def _household_base(principal: Principal) -> Select[Any]:
    """Households with at least one active member this client may see."""
    members = select(Resident.household_id).where(Resident.status == ResidentStatus.ACTIVE)
    if (cond := policy.residents(principal)) is not None:
        members = members.where(cond)
    return select(Household).where(Household.id.in_(members))


def _household_member(key: Any) -> Condition:
    return Household.id.in_(select(Resident.household_id).where(Resident.id == key))


GROUP: TypeDef = TypeDef(
    "Group",
    Household.id,
    "household-",
    _household_base,
    resources.households,
    params={
        "_id": _ids(lambda: GROUP),
        "member": _reference({"Patient": _household_member}, "member.entity"),
    },
    sorts={"_id": (Household.id, "int")},
    scope=Scope.RESIDENTS_READ,
)

# -- contracts -------------------------------------------------------------------------------


def _contract_base(principal: Principal) -> Select[Any]:
    return contracts.filtered(principal, contracts.ContractFilter())


CONTRACT_STATUS = {"executed": ["ACTIVE"], "terminated": ["TERMINATED", "EXPIRED"]}
EPISODE_STATUS = {"active": ["ACTIVE"], "finished": ["TERMINATED", "EXPIRED"]}


def _contract_number(modifier: str | None, raw: str) -> Condition:
    system, value = parse_token(raw)
    if system not in (None, "", CONTRACT_NUMBER):
        return false()
    return Contract.number == value if value is not None else Contract.number.is_not(None)


_subject = _reference({"Patient": lambda k: Contract.resident_id == k}, "subject")
CONTRACT: TypeDef = TypeDef(
    "Contract",
    Contract.id,
    "",
    _contract_base,
    resources.contract_resources,
    params={
        "_id": _ids(lambda: CONTRACT),
        "identifier": Param("token", _contract_number),
        "status": _token(Contract.status, CONTRACT_STATUS),
        "subject": _subject,
        "patient": _subject,
        "authority": _reference(
            {"Organization": lambda k: Contract.organization_id == k}, "authority"
        ),
        "issued": _date(Contract.signed_on),
        "_lastUpdated": _date(Contract.updated_at, instant=True),
    },
    sorts={
        "_id": (Contract.id, "int"),
        "issued": (Contract.signed_on, "date"),
        "_lastUpdated": (Contract.updated_at, "datetime"),
    },  # fmt: skip
    scope=Scope.CONTRACTS_READ,
    resident=lambda c: c.resident_id,
)

EPISODE_OF_CARE: TypeDef = TypeDef(
    "EpisodeOfCare",
    Contract.id,
    "enrolment-",
    _contract_base,
    resources.episodes,
    params={
        "_id": _ids(lambda: EPISODE_OF_CARE),
        "patient": _reference({"Patient": lambda k: Contract.resident_id == k}, "patient"),
        "organization": _reference(
            {"Organization": lambda k: Contract.organization_id == k}, "managingOrganization"
        ),
        "status": _token(Contract.status, EPISODE_STATUS),
        "date": _date(Contract.signed_on),
    },
    sorts={"_id": (Contract.id, "int"), "date": (Contract.signed_on, "date")},
    scope=Scope.CONTRACTS_READ,
    resident=lambda c: c.resident_id,
)

# -- referrals -------------------------------------------------------------------------------


def _referral_base(principal: Principal) -> Select[Any]:
    return referrals.filtered(principal, referrals.ReferralFilter())


REQUEST_STATUS = {
    "active": ["REQUESTED", "RECEIVED", "ACCEPTED", "ARRIVED"],
    "completed": ["COMPLETED"],
    "revoked": ["REJECTED", "CANCELLED"],
}
TASK_STATUS = {
    "requested": ["REQUESTED"], "received": ["RECEIVED"], "accepted": ["ACCEPTED"],
    "rejected": ["REJECTED"], "in-progress": ["ARRIVED"], "completed": ["COMPLETED"],
    "cancelled": ["CANCELLED"],
}  # fmt: skip
_ref_patient = _reference({"Patient": lambda k: Referral.resident_id == k}, "subject")
_performer = _reference(
    {"Organization": lambda k: or_(Referral.hospital_id == k, Referral.team_organization_id == k),
     "CareTeam": lambda k: Referral.team_id == k},
    "requester", "performer",
)  # fmt: skip

SERVICE_REQUEST: TypeDef = TypeDef(
    "ServiceRequest",
    Referral.id,
    "referral-",
    _referral_base,
    resources.service_requests,
    params={
        "_id": _ids(lambda: SERVICE_REQUEST),
        "subject": _ref_patient,
        "patient": _ref_patient,
        "status": _token(Referral.status, REQUEST_STATUS),
        "performer": _performer,
        "authored": _date(Referral.created_at, instant=True),
        "_lastUpdated": _date(Referral.updated_at, instant=True),
    },
    sorts={
        "_id": (Referral.id, "int"),
        "authored": (Referral.created_at, "datetime"),
        "_lastUpdated": (Referral.updated_at, "datetime"),
    },  # fmt: skip
    scope=Scope.REFERRALS_READ,
    resident=lambda r: r.resident_id,
)

_task_patient = _reference({"Patient": lambda k: Referral.resident_id == k}, "for")
TASK: TypeDef = TypeDef(
    "Task",
    Referral.id,
    "referral-",
    _referral_base,
    resources.tasks,
    params={
        "_id": _ids(lambda: TASK),
        "patient": _task_patient,
        "subject": _task_patient,
        "based-on": _reference({"ServiceRequest": lambda k: Referral.id == k}, "basedOn"),
        "status": _token(Referral.status, TASK_STATUS),
        "owner": _performer,
        "modified": _date(Referral.updated_at, instant=True),
    },
    sorts={"_id": (Referral.id, "int"), "modified": (Referral.updated_at, "datetime")},
    scope=Scope.REFERRALS_READ,
    resident=lambda r: r.resident_id,
)


def _booking_base(principal: Principal) -> Select[Any]:
    visible = _referral_base(principal).with_only_columns(Referral.id)
    return select(Booking).where(Booking.referral_id.in_(visible))


def _booking_patient(key: Any) -> Condition:
    return Booking.referral_id.in_(select(Referral.id).where(Referral.resident_id == key))


APPOINTMENT: TypeDef = TypeDef(
    "Appointment",
    Booking.id,
    "booking-",
    _booking_base,
    resources.appointments,
    params={
        "_id": _ids(lambda: APPOINTMENT),
        "patient": _reference({"Patient": _booking_patient}, "participant.actor"),
        "based-on": _reference({"ServiceRequest": lambda k: Booking.referral_id == k}, "basedOn"),
        "date": _date(Booking.date),
    },
    sorts={"_id": (Booking.id, "int"), "date": (Booking.date, "date")},
    scope=Scope.REFERRALS_READ,
)

# A Schedule is a hospital's referral capacity for a day and department (capacity-N) or a
# team's clinic session (session-N, its slots are Slots): two tables, one resource type.
SCHEDULE_PARTS = [
    Part(1, "capacity-", "", Capacity, {"date": Capacity.date,
                                        "organization_id": Capacity.organization_id}),
    Part(2, "session-", "", ClinicSession, {"date": ClinicSession.day,
                                            "organization_id": ClinicSession.organization_id,
                                            "team_id": ClinicSession.team_id,
                                            "kind": ClinicSession.service_kind}),
]  # fmt: skip
SCHEDULE_TABLE = union("fhir_schedule", SCHEDULE_PARTS, ["date", "organization_id", "team_id",
                                                         "kind"])  # fmt: skip
_sc = SCHEDULE_TABLE.c

SCHEDULE: TypeDef = TypeDef(
    "Schedule",
    _sc.ukey,
    "",
    lambda p: select(SCHEDULE_TABLE),
    resources.schedules,
    params={
        "_id": _ids(lambda: SCHEDULE),
        "actor": _reference(
            {
                "Organization": lambda k: _sc.organization_id == k,
                "CareTeam": lambda k: _sc.team_id == k,
            },
            "actor",
        ),  # fmt: skip
        "date": _date(_sc.date),
        "service-type": _token(_sc.kind),
    },
    sorts={"_id": (_sc.ukey, "int"), "date": (_sc.date, "date")},
    parts=_part_ids(SCHEDULE_PARTS),
    table=SCHEDULE_TABLE,
)


def _slot_schedule(key: Any) -> Condition:
    if key % PARTS != 2:  # a capacity Schedule has no Slots
        return false()
    return cast_bool(AppointmentSlot.session_id == key // PARTS)


SLOT: TypeDef = TypeDef(
    "Slot",
    AppointmentSlot.id,
    "slot-",
    lambda p: select(AppointmentSlot),
    resources.slots,
    params={
        "_id": _ids(lambda: SLOT),
        "schedule": _reference({"Schedule": _slot_schedule}, "schedule"),
        "status": _token(AppointmentSlot.taken, {"free": [False], "busy": [True]}),
        "start": _date(AppointmentSlot.start_at, instant=True),
        "service-type": _token(AppointmentSlot.service_kind),
    },
    sorts={"_id": (AppointmentSlot.id, "int"), "start": (AppointmentSlot.start_at, "datetime")},
)

# -- maternal-child visits: Encounters and their Observations (hub/maternal) -----------------

_V, _E = MaternalVisit, ChildExam
_visit = {"resident_id": _V.resident_id, "date": _V.visit_on, "updated_at": _V.updated_at,
          "kind": _V.kind}  # fmt: skip
_exam = {"resident_id": _E.resident_id, "date": _E.exam_on, "updated_at": _E.updated_at,
         "kind": _E.kind}  # fmt: skip
ENCOUNTER_PARTS = [
    Part(1, "maternal-visit-", "", _V, _visit, (_V.deleted.is_(False),)),
    Part(2, "child-exam-", "", _E, _exam, (_E.deleted.is_(False),)),
]
ENCOUNTER_TABLE = union("fhir_encounter", ENCOUNTER_PARTS,
                        ["resident_id", "date", "updated_at", "kind"])  # fmt: skip


def _code(code: str) -> Any:
    return literal_column(f"'{code}'", String)  # a constant of this module, never input


# (part, suffix, table, LOINC or hub code, the columns that must hold a value)
OBSERVATION_KINDS = [
    (1, "-bp", _V, "85354-9", (_V.systolic, _V.diastolic)),
    (2, "-wt", _V, "29463-7", (_V.weight_kg,)),
    (3, "-ga", _V, "49051-6", (_V.gestational_week,)),
    (4, "-risk", _V, "assessment", (_V.risk_colour,)),
    (5, "-ht", _E, "8302-2", (_E.height_cm,)),
    (6, "-wt", _E, "29463-7", (_E.weight_kg,)),
    (7, "-dev", _E, "screening", (_E.development,)),
    (8, "-anaemia", _E, "anaemia", (_E.anaemia,)),
]
OBSERVATION_PARTS = [
    Part(n, "maternal-visit-" if t is _V else "child-exam-", suffix, t,
         {**(_visit if t is _V else _exam), "code": _code(code),
          "encounter": t.id * PARTS + literal_column("1" if t is _V else "2")},
         (t.deleted.is_(False), *(c.is_not(None) for c in needs)))
    for n, suffix, t, code, needs in OBSERVATION_KINDS
]  # fmt: skip
OBSERVATION_TABLE = union("fhir_observation", OBSERVATION_PARTS,
                          ["resident_id", "date", "updated_at", "code", "encounter"])  # fmt: skip


def _visible_residents(table: Any) -> Callable[[Principal], Select[Any]]:
    def base(principal: Principal) -> Select[Any]:
        visible = _patient_base(principal).with_only_columns(Resident.id)
        return select(table).where(table.c.resident_id.in_(visible))

    return base


def _observation_code(modifier: str | None, raw: str) -> Condition:
    _, code = parse_token(raw)
    c = OBSERVATION_TABLE.c.code
    return cast_bool(c == code) if code is not None else cast_bool(c.is_not(None))


_ec, _oc = ENCOUNTER_TABLE.c, OBSERVATION_TABLE.c
_enc_patient = _reference({"Patient": lambda k: _ec.resident_id == k}, "subject")
ENCOUNTER: TypeDef = TypeDef(
    "Encounter",
    _ec.ukey,
    "",
    _visible_residents(ENCOUNTER_TABLE),
    resources.encounters,
    params={
        "_id": _ids(lambda: ENCOUNTER),
        "patient": _enc_patient,
        "subject": _enc_patient,
        "date": _date(_ec.date),
        "type": _token(_ec.kind),
        "_lastUpdated": _date(_ec.updated_at, instant=True),
    },
    sorts={
        "_id": (_ec.ukey, "int"),
        "date": (_ec.date, "date"),
        "_lastUpdated": (_ec.updated_at, "datetime"),
    },  # fmt: skip
    scope=Scope.RESIDENTS_READ,
    resident=lambda r: r.resident_id,
    parts=_part_ids(ENCOUNTER_PARTS),
    table=ENCOUNTER_TABLE,
)

_obs_patient = _reference({"Patient": lambda k: _oc.resident_id == k}, "subject")
OBSERVATION: TypeDef = TypeDef(
    "Observation",
    _oc.ukey,
    "",
    _visible_residents(OBSERVATION_TABLE),
    resources.observations,
    params={
        "_id": _ids(lambda: OBSERVATION),
        "patient": _obs_patient,
        "subject": _obs_patient,
        "encounter": _reference({"Encounter": lambda k: _oc.encounter == k}, "encounter"),
        "code": Param("token", _observation_code),
        "date": _date(_oc.date),
        "_lastUpdated": _date(_oc.updated_at, instant=True),
    },
    sorts={
        "_id": (_oc.ukey, "int"),
        "date": (_oc.date, "date"),
        "_lastUpdated": (_oc.updated_at, "datetime"),
    },  # fmt: skip
    scope=Scope.RESIDENTS_READ,
    resident=lambda r: r.resident_id,
    parts=_part_ids(OBSERVATION_PARTS),
    table=OBSERVATION_TABLE,
)

# -- immunizations (the doses given, from hub/immunization) ----------------------------------


def _immunization_base(principal: Principal) -> Select[Any]:
    """The doses of the residents this client may see (resident visibility)."""
    visible = _patient_base(principal).with_only_columns(Resident.id)
    return select(VaccinationEvent).where(VaccinationEvent.resident_id.in_(visible))


IMMUNIZATION: TypeDef = TypeDef(
    "Immunization",
    VaccinationEvent.id,
    "imm-",
    _immunization_base,
    resources.immunizations,
    params={
        "_id": _ids(lambda: IMMUNIZATION),
        "patient": _reference({"Patient": lambda k: VaccinationEvent.resident_id == k}, "patient"),
        "date": _date(VaccinationEvent.given_on),
        "_lastUpdated": _date(VaccinationEvent.updated_at, instant=True),
    },
    sorts={"_id": (VaccinationEvent.id, "int"), "date": (VaccinationEvent.given_on, "date")},
    scope=Scope.RESIDENTS_READ,
    resident=lambda e: e.resident_id,
)

TYPES: dict[str, TypeDef] = {
    t.name: t
    for t in (
        PATIENT, GROUP, ORGANIZATION, PRACTITIONER, PRACTITIONER_ROLE, CARE_TEAM, CONTRACT,
        EPISODE_OF_CARE, SERVICE_REQUEST, TASK, APPOINTMENT, SCHEDULE, SLOT, ENCOUNTER,
        OBSERVATION, IMMUNIZATION,
    )
}  # fmt: skip

# -- queries -----------------------------------------------------------------------------------

_LOW = {"str": "", "date": dt.date(1, 1, 1), "int": 0,
        "datetime": dt.datetime(1, 1, 1, tzinfo=dt.UTC)}  # fmt: skip


def conditions(td: TypeDef, clauses: Sequence[Clause]) -> list[Condition]:
    out = []
    for c in clauses:
        param = td.params[c.name]
        if c.modifier is not None and c.modifier not in param.modifiers:
            if c.modifier == "missing":
                raise not_supported(f"{c.name}:missing is not supported.")
            raise not_supported(f"{td.name}?{c.name} has no :{c.modifier} modifier.")
        out.append(or_(*(param.where(c.modifier, v) for v in c.values)))
    return out


def sort_key(td: TypeDef, sort: tuple[str, bool] | None) -> tuple[Any, str, bool]:
    """(sort expression, kind, descending); nulls sort as the lowest value."""
    name, desc = sort or ("_id", False)
    if name not in td.sorts:
        raise not_supported(f"{td.name} sorts by {', '.join(td.sorts)}, not {name!r}.")
    column, kind = td.sorts[name]
    if column is td.key:
        return column, kind, desc
    return func.coalesce(column, _LOW[kind]), kind, desc


def sort_value(td: TypeDef, sort: tuple[str, bool] | None, row: Any) -> Any:
    name = (sort or ("_id", False))[0]
    column, kind = td.sorts[name]
    value = getattr(row, column.key)
    return _LOW[kind] if value is None else value


async def search(
    session: AsyncSession, principal: Principal, td: TypeDef, conds: Sequence[Condition], *,
    sort: tuple[str, bool] | None, after: tuple[Any, Any] | None, backward: bool, limit: int,
) -> tuple[list[Any], bool]:  # fmt: skip
    """A keyset page: rows after (or, `backward`, before) the (sort value, key) position, in
    the search's order; and whether more rows lie beyond the page in that direction."""
    expr, _, desc = sort_key(td, sort)
    stmt = td.base(principal).where(*conds)
    forward_desc = desc != backward
    if after is not None:
        value, key = after
        beyond = (expr < value) if forward_desc else (expr > value)
        key_beyond = (td.key < key) if forward_desc else (td.key > key)
        stmt = stmt.where(or_(beyond, and_(expr == value, key_beyond)))
    order = [expr.desc(), td.key.desc()] if forward_desc else [expr.asc(), td.key.asc()]
    if expr is td.key:
        order = order[:1]
    rows = await _rows(session, td, stmt.order_by(*order).limit(limit + 1))
    more = len(rows) > limit
    rows = rows[:limit]
    if backward:
        rows.reverse()
    return rows, more


async def count(
    session: AsyncSession, principal: Principal, td: TypeDef, conds: Sequence[Condition]
) -> int:
    stmt = td.base(principal).where(*conds).order_by(None)
    return int(await session.scalar(select(func.count()).select_from(stmt.subquery())) or 0)


async def by_keys(
    session: AsyncSession, principal: Principal, td: TypeDef, keys: Sequence[Any]
) -> list[Any]:
    """The rows of `keys` this client may see, in key order."""
    if not keys:
        return []
    if td.parts:
        cond = or_(*(td.key_condition(k) for k in keys))
    else:
        cond = td.key.in_(list(keys))
    return await _rows(session, td, td.base(principal).where(cond).order_by(td.key))


async def _rows(session: AsyncSession, td: TypeDef, stmt: Select[Any]) -> list[Any]:
    """ORM objects, or for a union type its rows (attributes by column label)."""
    if td.parts:
        return list((await session.execute(stmt)).all())
    return list((await session.scalars(stmt)).all())


async def merged_survivor(session: AsyncSession, resident_id: int) -> int | None:
    """For a merged-away resident, the id it was merged into (None: not merged)."""
    r = await registry.get(session, resident_id)
    if r is None or r.status != ResidentStatus.MERGED:
        return None
    return r.merged_into_id


def negate(cond: Condition) -> Condition:
    return not_(cond)
