"""Features: what linkage needs of one source record, computed once, and the blocking
keys under which candidates are found."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass, fields
from typing import Any

from hub.registry.idnumber import contradictions
from hub.registry.normalize import (
    DateRelation,
    clean_identifier,
    date_relation,
    normalize_address,
    normalize_id,
    normalize_name,
    normalize_phone,
    normalize_sex,
    parse_date,
    ymd,
)

# A valid ID number whose birth date is this far from the record's is someone else's
# (a parent's, a guardian's, a sibling's); closer, it is the person's own, the date wrong.
FOREIGN_ID_DAYS = 366
_MOTHER = frozenset({"母亲", "母", "妈妈", "mother", "MTH", "MOTHER"})


@dataclass(slots=True)
class Features:
    """What linkage needs of one source record, computed once (比对特征).

    id_number is set only for a valid ID consistent with the record: its birth date
    equal, off by a typo or swap, or less than a year away (a date entered a day off, or
    shifted by a time-zone conversion). An invalid ID (typo) goes to id_invalid and is
    compared, never trusted; a valid ID of someone at least a year older or younger (the
    mother's number on a baby's record) goes to id_foreign and is not compared at all.
    With a trusted ID, birth date and sex are taken from it.
    """

    record_key: str = ""
    name: str = ""
    pinyin: str = ""
    loose: str = ""
    placeholder_parent: str | None = None
    sex: str | None = None
    birth: dt.date | None = None
    id_number: str | None = None
    id_invalid: str | None = None
    id_foreign: str | None = None
    phone: str | None = None
    phone_local: str | None = None
    address: str | None = None
    street: str | None = None
    unit: str | None = None
    insurance_card: str | None = None
    health_record_no: str | None = None
    birth_certificate_no: str | None = None
    mother_id: str | None = None
    mother_id_valid: bool = False
    guardian_name: str | None = None
    guardian_phone: str | None = None

    @classmethod
    def from_record(cls, record: Mapping[str, Any] | object) -> Features:
        """From the input format (source, source_id, name, sex, birth_date, id_number,
        phone, address, insurance_card, health_record_no, birth_certificate_no,
        mother_id_number, guardian_name, guardian_phone, guardian_relation,
        guardian_id_number), as a mapping or an object with those attributes
        (`hub.registry.records.ResidentRecord`); absent or empty means unknown."""

        def get(key: str) -> Any:
            if isinstance(record, Mapping):
                return record.get(key)
            return getattr(record, key, None)

        name = normalize_name(get("name"))
        sex = normalize_sex(get("sex")) or name.placeholder_sex
        birth = parse_date(get("birth_date"))
        id_number = id_invalid = id_foreign = None
        number = normalize_id(get("id_number"))
        if number.valid:
            clash = contradictions(number, birth_date=birth, sex=None)
            assert number.birth_date is not None
            if not clash or (
                birth is not None
                and (
                    date_relation(birth, number.birth_date) is not DateRelation.DIFFERENT
                    or abs((birth - number.birth_date).days) < FOREIGN_ID_DAYS
                )
            ):
                # The check character vouches for the number's digits, so its birth
                # date and sex beat a mistyped date or sex field.
                id_number = number.value
                birth = number.birth_date
                sex = number.sex
            else:
                id_foreign = number.value  # e.g. the mother's number on a baby's record
        elif number.value:
            id_invalid = number.value
        phone = normalize_phone(get("phone"))
        address = normalize_address(get("address"))
        mother_raw = get("mother_id_number")
        if not mother_raw and str(get("guardian_relation") or "").strip() in _MOTHER:
            mother_raw = get("guardian_id_number")
        mother = normalize_id(mother_raw)
        guardian_phone = normalize_phone(get("guardian_phone"))
        guardian = normalize_name(get("guardian_name")).text or name.placeholder_parent
        source, source_id = get("source"), get("source_id")
        return cls(
            record_key=f"{source}:{source_id}" if source or source_id else "",
            name=name.text,
            pinyin=name.pinyin,
            loose=name.loose,
            placeholder_parent=name.placeholder_parent,
            sex=sex,
            birth=birth,
            id_number=id_number,
            id_invalid=id_invalid,
            id_foreign=id_foreign,
            phone=phone.value if phone and phone.usable else None,
            phone_local=phone.local if phone and phone.usable else None,
            address=address.text if address else None,
            street=address.street if address else None,
            unit=address.unit if address else None,
            insurance_card=clean_identifier(get("insurance_card")),
            health_record_no=clean_identifier(get("health_record_no")),
            birth_certificate_no=clean_identifier(get("birth_certificate_no")),
            mother_id=mother.value or None,
            mother_id_valid=mother.valid,
            guardian_name=guardian or None,
            guardian_phone=guardian_phone.value if guardian_phone else None,
        )

    @property
    def is_placeholder(self) -> bool:
        return self.placeholder_parent is not None

    @property
    def is_provisional(self) -> bool:
        """A newborn known only through the mother (no own ID): a provisional identity."""
        return self.id_number is None and self.mother_id is not None and self.birth is not None

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready; None fields are left out to keep stored rows small."""
        # Not asdict(): it deep-copies, and this runs for every stored record.
        out = {k: v for k in _FEATURE_FIELDS if (v := getattr(self, k)) is not None and v != ""}
        if self.birth is not None:
            out["birth"] = self.birth.isoformat()
        if not self.mother_id_valid:
            out.pop("mother_id_valid", None)
        return out

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Features:
        values = dict(data)
        if isinstance(values.get("birth"), str):
            values["birth"] = dt.date.fromisoformat(values["birth"])
        return cls(**values)


_FEATURE_FIELDS = tuple(f.name for f in fields(Features))


def blocking_keys(f: Features) -> list[str]:
    """Index keys under which candidates for `f` are looked up (and `f` is stored).

    Each key is narrow (a handful of residents even in a large registry) and each one
    survives a different kind of error, so a true match shares at least one key.
    """
    keys: list[str] = []
    for ident in (f.id_number, f.id_invalid):
        if ident:
            keys.append(f"id:{ident}")
    if f.insurance_card:
        keys.append(f"ic:{f.insurance_card}")
    if f.health_record_no:
        keys.append(f"hr:{f.health_record_no}")
    if f.birth_certificate_no:
        keys.append(f"bc:{f.birth_certificate_no}")
    if f.phone:
        keys.append(f"ph:{f.phone}")
    if f.mother_id:
        keys.append(f"mo:{f.mother_id}")  # siblings are few; survives birth-date typos
    if f.guardian_name and f.birth:
        keys.append(f"gb:{f.guardian_name}:{ymd(f.birth)}")
    if f.birth and f.street:
        keys.append(f"bs:{ymd(f.birth)}:{f.street}")  # name changed or a stand-in name
    if f.pinyin and not f.is_placeholder:
        given = f.pinyin.partition(" ")[2]
        if f.birth:
            b = f.birth
            day_month = "".join(sorted((f"{b.month:02d}", f"{b.day:02d}")))
            # Homophones and traditional characters, with a day typo. Not name + year: a
            # common name born in a given year is dozens of residents in a registry of a
            # million, and every one of them would be fetched and compared. (A month typo
            # with nothing else in common is left to the other keys: every key is a random
            # write into a large index.)
            keys.append(f"py:{f.pinyin}:{b.year}{b.month:02d}")
            keys.append(f"nd:{f.name}:{day_month}")  # year typos, day/month swaps
            # Given-name typos (a character replaced keeps the length).
            keys.append(f"sb:{f.pinyin.partition(' ')[0]}{len(f.name)}:{ymd(b)}")
            if given:
                keys.append(f"gv:{given}:{ymd(b)}")  # surname typos
        if f.street:
            keys.append(f"ns:{f.pinyin}:{f.street}")  # birth date badly wrong
    return keys


def keys_of(f: Features) -> list[str]:
    """`blocking_keys` as stored: once each, cut to 80 characters, then hashed."""
    return list(dict.fromkeys(stored_key(k[:80]) for k in blocking_keys(f)))


def stored_key(key: str) -> str:
    """A blocking key as the index stores it: its kind, then HMAC of the whole key (the
    keys hold ID numbers, phones, names and birth dates; the table must not)."""
    from hub.crypto import blind

    kind, _, _ = key.partition(":")
    return f"{kind}:{blind(key)}"
