"""contracts: contracts, packages, periods, service deliveries, number sequences

Revision ID: 0300
Revises: 0001
Create Date: 2026-11-23 10:54:57.937506
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import hub.db

revision: str = "0300"
down_revision: str | Sequence[str] | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "contract_sequence",
        sa.Column("region_code", sa.String(length=12), nullable=False),
        sa.Column("year", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("last", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("region_code", "year", name=op.f("pk_contract_sequence")),
    )
    op.create_table(
        "contract",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("number", sa.String(length=40), nullable=False),
        sa.Column("resident_id", sa.Integer(), nullable=False),
        sa.Column("household_id", sa.Integer(), nullable=True),
        sa.Column("signed_by_id", sa.Integer(), nullable=True),
        sa.Column("guardian", sa.JSON(), nullable=True),
        sa.Column("team_id", sa.String(length=64), nullable=False),
        sa.Column("organization_id", sa.String(length=64), nullable=False),
        sa.Column("region_key", sa.String(length=40), nullable=False),
        sa.Column("status", sa.String(length=12), nullable=False),
        sa.Column("signed_on", sa.Date(), nullable=False),
        sa.Column("paid_on", sa.Date(), nullable=True),
        sa.Column("period_no", sa.Integer(), nullable=False),
        sa.Column("starts_on", sa.Date(), nullable=False),
        sa.Column("ends_on", sa.Date(), nullable=False),
        sa.Column("hospital_ids", sa.JSON(), nullable=False),
        sa.Column("personal_digest", sa.String(length=64), nullable=True),
        sa.Column("renewal", sa.JSON(), nullable=True),
        sa.Column("away_since", sa.Date(), nullable=True),
        sa.Column("absence_decision", sa.String(length=20), nullable=True),
        sa.Column("absence_recorded_at", hub.db.UtcDateTime(timezone=True), nullable=True),
        sa.Column("ended_on", sa.Date(), nullable=True),
        sa.Column("termination_reason", sa.String(length=30), nullable=True),
        sa.Column("termination_note", sa.String(length=500), nullable=True),
        sa.Column("terminated_at", hub.db.UtcDateTime(timezone=True), nullable=True),
        sa.Column("created_at", hub.db.UtcDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", hub.db.UtcDateTime(timezone=True), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["household_id"], ["household.id"], name=op.f("fk_contract_household_id_household")
        ),
        sa.ForeignKeyConstraint(
            ["organization_id"],
            ["organization.id"],
            name=op.f("fk_contract_organization_id_organization"),
        ),
        sa.ForeignKeyConstraint(
            ["resident_id"], ["resident.id"], name=op.f("fk_contract_resident_id_resident")
        ),
        sa.ForeignKeyConstraint(
            ["signed_by_id"], ["resident.id"], name=op.f("fk_contract_signed_by_id_resident")
        ),
        sa.ForeignKeyConstraint(["team_id"], ["team.id"], name=op.f("fk_contract_team_id_team")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_contract")),
        sa.UniqueConstraint("number", name=op.f("uq_contract_number")),
    )
    with op.batch_alter_table("contract", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_contract_household_id"), ["household_id"], unique=False
        )
        batch_op.create_index("ix_contract_org_status", ["organization_id", "status"], unique=False)
        batch_op.create_index("ix_contract_resident", ["resident_id", "id"], unique=False)
        batch_op.create_index("ix_contract_status_ends", ["status", "ends_on", "id"], unique=False)
        batch_op.create_index("ix_contract_team_status", ["team_id", "status"], unique=False)
        batch_op.create_index(
            "uq_contract_active_resident",
            ["resident_id"],
            unique=True,
            sqlite_where=sa.text("status = 'ACTIVE'"),
            postgresql_where=sa.text("status = 'ACTIVE'"),
        )

    op.create_table(
        "contract_package",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("contract_id", sa.Integer(), nullable=False),
        sa.Column("code", sa.String(length=40), nullable=False),
        sa.Column("kind", sa.String(length=20), nullable=False),
        sa.Column("chosen_items", sa.JSON(), nullable=False),
        sa.Column("price", sa.Integer(), nullable=False),
        sa.Column("public_health_fund", sa.Integer(), nullable=False),
        sa.Column("insurance_fund", sa.Integer(), nullable=False),
        sa.Column("personal", sa.Integer(), nullable=False),
        sa.Column("personal_paid_by", sa.String(length=40), nullable=False),
        sa.Column("charge_item", sa.String(length=100), nullable=True),
        sa.ForeignKeyConstraint(
            ["contract_id"],
            ["contract.id"],
            name=op.f("fk_contract_package_contract_id_contract"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_contract_package")),
        sa.UniqueConstraint("contract_id", "code", name="uq_contract_package"),
    )
    op.create_table(
        "contract_period",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("contract_id", sa.Integer(), nullable=False),
        sa.Column("period_no", sa.Integer(), nullable=False),
        sa.Column("starts_on", sa.Date(), nullable=False),
        sa.Column("ends_on", sa.Date(), nullable=False),
        sa.Column("origin", sa.String(length=20), nullable=False),
        sa.Column("packages", sa.JSON(), nullable=False),
        sa.Column("fees", sa.JSON(), nullable=False),
        sa.Column("created_at", hub.db.UtcDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["contract_id"],
            ["contract.id"],
            name=op.f("fk_contract_period_contract_id_contract"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_contract_period")),
        sa.UniqueConstraint("contract_id", "period_no", name="uq_contract_period"),
    )
    op.create_table(
        "service_delivery",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("contract_id", sa.Integer(), nullable=False),
        sa.Column("resident_id", sa.Integer(), nullable=False),
        sa.Column("item_code", sa.String(length=60), nullable=False),
        sa.Column("performed_on", sa.Date(), nullable=False),
        sa.Column("performer_id", sa.String(length=64), nullable=True),
        sa.Column("source", sa.String(length=40), nullable=False),
        sa.Column("source_ref", sa.String(length=100), nullable=True),
        sa.Column("recorded_at", hub.db.UtcDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["contract_id"],
            ["contract.id"],
            name=op.f("fk_service_delivery_contract_id_contract"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["performer_id"],
            ["practitioner.id"],
            name=op.f("fk_service_delivery_performer_id_practitioner"),
        ),
        sa.ForeignKeyConstraint(
            ["resident_id"], ["resident.id"], name=op.f("fk_service_delivery_resident_id_resident")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_service_delivery")),
        sa.UniqueConstraint("source", "source_ref", name="uq_service_delivery_source"),
    )
    with op.batch_alter_table("service_delivery", schema=None) as batch_op:
        batch_op.create_index(
            "ix_service_delivery_contract",
            ["contract_id", "item_code", "performed_on"],
            unique=False,
        )
        batch_op.create_index(
            batch_op.f("ix_service_delivery_resident_id"), ["resident_id"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("service_delivery", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_service_delivery_resident_id"))
        batch_op.drop_index("ix_service_delivery_contract")

    op.drop_table("service_delivery")
    op.drop_table("contract_period")
    op.drop_table("contract_package")
    with op.batch_alter_table("contract", schema=None) as batch_op:
        batch_op.drop_index(
            "uq_contract_active_resident",
            sqlite_where=sa.text("status = 'ACTIVE'"),
            postgresql_where=sa.text("status = 'ACTIVE'"),
        )
        batch_op.drop_index("ix_contract_team_status")
        batch_op.drop_index("ix_contract_status_ends")
        batch_op.drop_index("ix_contract_resident")
        batch_op.drop_index("ix_contract_org_status")
        batch_op.drop_index(batch_op.f("ix_contract_household_id"))

    op.drop_table("contract")
    op.drop_table("contract_sequence")
