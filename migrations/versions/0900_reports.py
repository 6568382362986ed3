"""reports: resident locality (乡镇/村), monthly low-income lists, insurance enrolment

Revision ID: 0900
Revises: 0600
Create Date: 2026-12-03 12:30:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import hub.db

revision: str = "0900"
down_revision: str | Sequence[str] | None = "0600"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# The offices whose lists come in as files (hub import ...).
SOURCES = [
    ("low-income", "扶贫办/民政 低收入名单 (file import)", 60, False),
    ("insurance", "医保局 参保名单 (file import)", 70, False),
]


def upgrade() -> None:
    op.create_table(
        "resident_locality",
        sa.Column("resident_id", sa.Integer(), nullable=False),
        sa.Column("region_key", sa.String(length=40), nullable=False),
        sa.Column("township", sa.String(length=60), nullable=False),
        sa.Column("village", sa.String(length=60), nullable=True),
        sa.ForeignKeyConstraint(
            ["resident_id"],
            ["resident.id"],
            name=op.f("fk_resident_locality_resident_id_resident"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("resident_id", name=op.f("pk_resident_locality")),
    )
    op.create_index(
        "ix_resident_locality_region", "resident_locality", ["region_key", "township", "village"]
    )
    op.create_table(
        "low_income_member",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("region_key", sa.String(length=40), nullable=False),
        sa.Column("month", sa.String(length=7), nullable=False),
        sa.Column("resident_id", sa.Integer(), nullable=False),
        sa.Column("household_key", sa.String(length=18), nullable=False),
        sa.Column("township", sa.String(length=60), nullable=False),
        sa.Column("village", sa.String(length=60), nullable=True),
        sa.Column("relation", sa.String(length=20), nullable=True),
        sa.Column("category", sa.String(length=40), nullable=False),
        sa.Column("imported_at", hub.db.UtcDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["resident_id"],
            ["resident.id"],
            name=op.f("fk_low_income_member_resident_id_resident"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_low_income_member")),
        sa.UniqueConstraint("region_key", "month", "resident_id", name="uq_low_income_member"),
    )
    op.create_index(
        "ix_low_income_member_month", "low_income_member", ["region_key", "month", "township"]
    )
    op.create_index("ix_low_income_member_resident", "low_income_member", ["resident_id"])
    op.create_table(
        "insurance_enrolment",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("region_key", sa.String(length=40), nullable=False),
        sa.Column("resident_id", sa.Integer(), nullable=False),
        sa.Column("insurance_type", sa.String(length=30), nullable=False),
        sa.Column("starts_on", sa.Date(), nullable=False),
        sa.Column("ends_on", sa.Date(), nullable=True),
        sa.Column("imported_at", hub.db.UtcDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["resident_id"],
            ["resident.id"],
            name=op.f("fk_insurance_enrolment_resident_id_resident"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_insurance_enrolment")),
        sa.UniqueConstraint(
            "resident_id", "insurance_type", "starts_on", name="uq_insurance_enrolment"
        ),
    )
    source = sa.table(
        "source_system",
        sa.column("key", sa.String),
        sa.column("name", sa.String),
        sa.column("trust", sa.Integer),
        sa.column("verifies_identity", sa.Boolean),
        sa.column("created_at", hub.db.UtcDateTime(timezone=True)),
    )
    now = hub.db.utcnow()
    op.bulk_insert(
        source,
        [
            dict(key=k, name=n, trust=t, verifies_identity=v, created_at=now)
            for k, n, t, v in SOURCES
        ],
    )


def downgrade() -> None:
    op.execute(sa.text("DELETE FROM source_system WHERE key IN ('low-income', 'insurance')"))
    op.drop_table("insurance_enrolment")
    op.drop_index("ix_low_income_member_resident", table_name="low_income_member")
    op.drop_index("ix_low_income_member_month", table_name="low_income_member")
    op.drop_table("low_income_member")
    op.drop_index("ix_resident_locality_region", table_name="resident_locality")
    op.drop_table("resident_locality")
