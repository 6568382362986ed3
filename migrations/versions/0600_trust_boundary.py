"""trust boundary: clients as sources, practitioner bindings, expiry; source trust as data

Revision ID: 0600
Revises: 0203
Create Date: 2026-12-03 12:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import hub.db

revision: str = "0600"
down_revision: str | Sequence[str] | None = "0203"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# The adapters' own sources. An identity checked at a registration desk against the ID card
# (HIS, the maternal-child system) outranks what a signing app typed in.
SOURCES = [
    ("his", "医院信息系统 HIS (HL7 v2)", 100, True),
    ("maternal", "妇幼保健信息系统", 90, True),
    ("immunization", "免疫规划信息系统", 80, False),
    ("cdc", "传染病报告信息管理系统", 80, False),
    ("demo", "Demo data", 50, False),
]


def upgrade() -> None:
    table = op.create_table(
        "source_system",
        sa.Column("key", sa.String(length=40), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("trust", sa.Integer(), nullable=False),
        sa.Column("verifies_identity", sa.Boolean(), nullable=False),
        sa.Column("created_at", hub.db.UtcDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("key", name=op.f("pk_source_system")),
    )
    now = hub.db.utcnow()
    op.bulk_insert(
        table,
        [
            {"key": k, "name": n, "trust": t, "verifies_identity": v, "created_at": now}
            for k, n, t, v in SOURCES
        ],
    )
    with op.batch_alter_table("client", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("practitioner_ids", sa.JSON(), nullable=False, server_default="[]")
        )
        batch_op.add_column(sa.Column("sources", sa.JSON(), nullable=False, server_default="[]"))
        batch_op.add_column(sa.Column("expires_at", hub.db.UtcDateTime(timezone=True)))
        batch_op.add_column(sa.Column("revoked_at", hub.db.UtcDateTime(timezone=True)))
        batch_op.add_column(sa.Column("rotated_at", hub.db.UtcDateTime(timezone=True)))
    with op.batch_alter_table("source_record", schema=None) as batch_op:
        batch_op.add_column(sa.Column("client_id", sa.Integer()))
    with op.batch_alter_table("resident", schema=None) as batch_op:
        batch_op.add_column(sa.Column("created_by_client_id", sa.Integer()))
        batch_op.create_index(
            batch_op.f("ix_resident_created_by_client_id"), ["created_by_client_id"]
        )
        # "who was merged into this one" (FHIR Patient.link) without a scan
        batch_op.create_index(batch_op.f("ix_resident_merged_into_id"), ["merged_into_id"])


def downgrade() -> None:
    with op.batch_alter_table("resident", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_resident_merged_into_id"))
        batch_op.drop_index(batch_op.f("ix_resident_created_by_client_id"))
        batch_op.drop_column("created_by_client_id")
    with op.batch_alter_table("source_record", schema=None) as batch_op:
        batch_op.drop_column("client_id")
    with op.batch_alter_table("client", schema=None) as batch_op:
        for column in ("rotated_at", "revoked_at", "expires_at", "sources", "practitioner_ids"):
            batch_op.drop_column(column)
    op.drop_table("source_system")
