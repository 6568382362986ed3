"""Registry tables: residents (签约居民), their identifiers, households and source records."""

from __future__ import annotations

import datetime as dt
from enum import StrEnum
from typing import Any

from sqlalchemy import JSON, ForeignKey, Index, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from hub.crypto import BlindIndex, EncryptedJSON, EncryptedString
from hub.db import Base, utcnow


class IdentifierSystem(StrEnum):
    ID_CARD = "ID_CARD"  # 居民身份证号 GB 11643
    INSURANCE_CARD = "INSURANCE_CARD"  # 社保卡/医保卡
    HEALTH_RECORD_NO = "HEALTH_RECORD_NO"  # 健康档案号
    BIRTH_CERTIFICATE_NO = "BIRTH_CERTIFICATE_NO"  # 出生医学证明编号


class InsuranceType(StrEnum):
    URBAN_EMPLOYEE = "URBAN_EMPLOYEE"  # 城镇职工基本医疗保险
    URBAN_RURAL_RESIDENT = "URBAN_RURAL_RESIDENT"  # 城乡居民医疗保险
    SELF_PAY = "SELF_PAY"  # 自费


class PopulationCategory(StrEnum):
    """人群类型 — a resident may have several."""

    GENERAL = "GENERAL"
    CHILD_0_6 = "CHILD_0_6"
    PREGNANT_POSTPARTUM = "PREGNANT_POSTPARTUM"
    TUBERCULOSIS = "TUBERCULOSIS"
    ELDERLY_65 = "ELDERLY_65"
    HYPERTENSION = "HYPERTENSION"
    DISABLED = "DISABLED"
    DIABETES_T2 = "DIABETES_T2"
    SEVERE_MENTAL_DISORDER = "SEVERE_MENTAL_DISORDER"
    FAMILY_PLANNING_SPECIAL = "FAMILY_PLANNING_SPECIAL"
    STUDENT = "STUDENT"
    HOME_BED = "HOME_BED"
    SUBSISTENCE_ALLOWANCE = "SUBSISTENCE_ALLOWANCE"
    LOW_INCOME_HOUSEHOLD = "LOW_INCOME_HOUSEHOLD"
    REGISTERED_POOR = "REGISTERED_POOR"
    HARDSHIP = "HARDSHIP"


class ResidentStatus(StrEnum):
    ACTIVE = "ACTIVE"
    MERGED = "MERGED"


class Household(Base):
    """家庭/户: the head signs for the family in household-signing regions."""

    __tablename__ = "household"

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str | None] = mapped_column(String(64), unique=True)
    # no FK: household and resident reference each other; the service keeps it consistent
    head_resident_id: Mapped[int | None]
    address: Mapped[str | None] = mapped_column(String(300))
    region_key: Mapped[str | None] = mapped_column(String(40))
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)


class Resident(Base):
    """The golden record of one person; its fields are chosen from its source records."""

    __tablename__ = "resident"

    id: Mapped[int] = mapped_column(primary_key=True)
    status: Mapped[str] = mapped_column(String(10), default=ResidentStatus.ACTIVE)
    merged_into_id: Mapped[int | None] = mapped_column(ForeignKey("resident.id"), index=True)
    name: Mapped[str | None] = mapped_column(String(100))
    sex: Mapped[str | None] = mapped_column(String(1))  # GB/T 2261.1
    birth_date: Mapped[dt.date | None]
    # Identifiers, phones and the guardian are encrypted at rest (hub.crypto); lookups go
    # through `resident_identifier` (HMAC values), never these columns.
    id_number: Mapped[str | None] = mapped_column(
        EncryptedString("resident.id_number")
    )  # valid, canonical only
    id_number_flags: Mapped[list[str]] = mapped_column(default=list)
    insurance_card: Mapped[str | None] = mapped_column(EncryptedString("resident.insurance_card"))
    health_record_no: Mapped[str | None] = mapped_column(
        EncryptedString("resident.health_record_no")
    )
    birth_certificate_no: Mapped[str | None] = mapped_column(
        EncryptedString("resident.birth_certificate_no")
    )
    phones: Mapped[list[str]] = mapped_column(EncryptedJSON("resident.phones"), default=list)
    address_region: Mapped[str | None] = mapped_column(String(12))
    address_text: Mapped[str | None] = mapped_column(String(300))
    insurance_type: Mapped[str | None] = mapped_column(String(30))
    household_id: Mapped[int | None] = mapped_column(ForeignKey("household.id"), index=True)
    household_relation: Mapped[str | None] = mapped_column(String(20))
    guardian: Mapped[dict[str, Any] | None] = mapped_column(
        EncryptedJSON("resident.guardian"), default=None
    )
    mother_id_number: Mapped[str | None] = mapped_column(
        EncryptedString("resident.mother_id_number")
    )
    region_key: Mapped[str | None] = mapped_column(String(40))
    organization_id: Mapped[str | None] = mapped_column(ForeignKey("organization.id"))
    team_id: Mapped[str | None] = mapped_column(ForeignKey("team.id"))
    provenance: Mapped[dict[str, Any]] = mapped_column(default=dict)  # field -> source record id
    # The API client whose record created this resident: it may see it (a record that
    # links to someone already known grants nothing).
    created_by_client_id: Mapped[int | None] = mapped_column(default=None, index=True)
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[dt.datetime] = mapped_column(default=utcnow, onupdate=utcnow)

    __table_args__ = (
        Index("ix_resident_name", "name"),
        Index("ix_resident_org", "organization_id", "id"),
        Index("ix_resident_team", "team_id", "id"),
        Index("ix_resident_region", "region_key", "id"),
        Index("ix_resident_birth", "birth_date"),
    )


class ResidentIdentifier(Base):
    """Identifier index: (system, value) → resident. Only valid values are indexed.

    `value` holds HMAC(value) (a blind index, hub.crypto): `value == x` hashes x, so
    lookups work as before and the table reveals no identifier. Besides the identifier
    systems it indexes PHONE, MOTHER_ID_CARD and GUARDIAN_ID_CARD for exact lookups."""

    __tablename__ = "resident_identifier"

    id: Mapped[int] = mapped_column(primary_key=True)
    resident_id: Mapped[int] = mapped_column(ForeignKey("resident.id"), index=True)
    system: Mapped[str] = mapped_column(String(30))
    value: Mapped[str] = mapped_column(BlindIndex(64))

    # (system, value) lookups use the unique constraint's index: a second index on the
    # same leading columns only cost a random write per identifier.
    __table_args__ = (UniqueConstraint("system", "value", "resident_id", name="uq_identifier"),)


class SourceRecord(Base):
    """Every record received, kept as received, linked to exactly one resident."""

    __tablename__ = "source_record"

    id: Mapped[int] = mapped_column(primary_key=True)
    source: Mapped[str] = mapped_column(String(40))
    source_id: Mapped[str] = mapped_column(String(100))
    resident_id: Mapped[int] = mapped_column(ForeignKey("resident.id"), index=True)
    payload: Mapped[dict[str, Any]] = mapped_column(EncryptedJSON("source_record.payload"))
    features: Mapped[dict[str, Any] | None] = mapped_column(
        EncryptedJSON("source_record.features"), default=None
    )  # matcher's form (encrypted: it holds the normalised identifiers)
    flags: Mapped[list[str]] = mapped_column(default=list)
    link_grade: Mapped[str | None] = mapped_column(String(20))
    link_score: Mapped[float | None]
    received_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    # The API client that sent it (None: an adapter, the CLI or a job); only it may replace it.
    client_id: Mapped[int | None] = mapped_column(default=None)

    __table_args__ = (
        UniqueConstraint("source", "source_id", name="uq_source_record"),
        # Covering: the matcher maps the records under a blocking key to their residents
        # without reading the (large) rows.
        Index("ix_source_record_id_resident", "id", "resident_id"),
    )


class BlockingKey(Base):
    """Matcher candidate index: blocking key → source record (and its resident).

    The large, settled part. New keys go to `BlockingKeyRecent` and are merged in here in
    key order now and then (`hub.registry.mpi_index.compact`): inserting at random places
    of a big index dirties a page per key, and writing those pages back was most of the
    cost of linking a record into a registry of millions. On SQLite the table is its
    primary key (WITHOUT ROWID): one B-tree. A record's keys are deleted by (key, record)
    pairs, recomputed from its stored features, so no index by record is kept."""

    __tablename__ = "blocking_key"

    key: Mapped[str] = mapped_column(String(80), primary_key=True)
    source_record_id: Mapped[int] = mapped_column(
        ForeignKey("source_record.id", ondelete="CASCADE"), primary_key=True
    )

    __table_args__ = {"sqlite_with_rowid": False}


class BlockingKeyRecent(Base):
    """Keys written since the last merge into `BlockingKey`; small, so it stays cached.
    Lookups read both tables."""

    __tablename__ = "blocking_key_recent"

    key: Mapped[str] = mapped_column(String(80), primary_key=True)
    source_record_id: Mapped[int] = mapped_column(
        ForeignKey("source_record.id", ondelete="CASCADE"), primary_key=True
    )

    __table_args__ = {"sqlite_with_rowid": False}


class ResidentCategory(Base):
    """Stored population categories (人群类型), one row each so filters use an index.
    Age-derived ones (0–6, 65+) are computed from the birth date at read time instead."""

    __tablename__ = "resident_category"

    resident_id: Mapped[int] = mapped_column(
        ForeignKey("resident.id", ondelete="CASCADE"), primary_key=True
    )
    category: Mapped[str] = mapped_column(String(40), primary_key=True)

    __table_args__ = (Index("ix_resident_category_category", "category", "resident_id"),)


class ReviewStatus(StrEnum):
    OPEN = "OPEN"
    SAME_PERSON = "SAME_PERSON"  # resolved: merged into the candidate
    DIFFERENT_PEOPLE = "DIFFERENT_PEOPLE"  # resolved: separated for good
    OBSOLETE = "OBSOLETE"  # a merge/unmerge elsewhere settled it


class DuplicateReview(Base):
    """疑似重复: a record the matcher could not decide; it got a new resident and waits here
    for a person to say whether it is one of the candidates."""

    __tablename__ = "duplicate_review"

    id: Mapped[int] = mapped_column(primary_key=True)
    status: Mapped[str] = mapped_column(String(20), default=ReviewStatus.OPEN)
    resident_id: Mapped[int] = mapped_column(ForeignKey("resident.id"))  # the new resident
    source_record_id: Mapped[int | None] = mapped_column(
        ForeignKey("source_record.id", ondelete="SET NULL")
    )
    # [{resident_id, score, grade, reason}], best first, as the matcher saw them
    candidates: Mapped[list[dict[str, Any]]] = mapped_column(JSON, default=list)
    top_score: Mapped[float | None]
    decision: Mapped[str | None] = mapped_column(String(20))
    decided_resident_id: Mapped[int | None]  # the candidate chosen (SAME_PERSON)
    resolved_by: Mapped[str | None] = mapped_column(String(100))
    resolved_at: Mapped[dt.datetime | None]
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)

    __table_args__ = (
        Index("ix_duplicate_review_status", "status", "id"),
        Index("ix_duplicate_review_resident", "resident_id"),
    )


class LinkSeparation(Base):
    """A person said this source record is not that resident: never linked again
    automatically. Follows merges (the rows move to the survivor)."""

    __tablename__ = "link_separation"

    id: Mapped[int] = mapped_column(primary_key=True)
    record_key: Mapped[str] = mapped_column(String(150))  # "source:source_id" (Features.record_key)
    resident_id: Mapped[int] = mapped_column(ForeignKey("resident.id"))
    reason: Mapped[str | None] = mapped_column(String(500))
    created_by: Mapped[str | None] = mapped_column(String(100))
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)

    __table_args__ = (
        Index("ix_link_separation_record", "record_key"),
        Index("ix_link_separation_resident", "resident_id"),
    )


class ResidentMerge(Base):
    """One merge, with what it moved, so an unmerge can give a record back to the
    resident it came from (and that resident's dependent rows with it)."""

    __tablename__ = "resident_merge"

    id: Mapped[int] = mapped_column(primary_key=True)
    survivor_id: Mapped[int] = mapped_column(ForeignKey("resident.id"))
    merged_id: Mapped[int] = mapped_column(ForeignKey("resident.id"))
    reason: Mapped[str | None] = mapped_column(String(500))
    source_record_ids: Mapped[list[int]] = mapped_column(JSON, default=list)
    moved_rows: Mapped[dict[str, Any]] = mapped_column(default=dict)  # "table.column" -> ids
    created_by: Mapped[str | None] = mapped_column(String(100))
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)

    __table_args__ = (
        Index("ix_resident_merge_survivor", "survivor_id"),
        Index("ix_resident_merge_merged", "merged_id"),
    )
