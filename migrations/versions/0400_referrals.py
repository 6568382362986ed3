"""referrals: referrals, transitions, prescriptions, hospital capacity, bookings

Revision ID: 0400
Revises: 0001
Create Date: 2026-11-23 11:00:02.171566
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import hub.db

revision: str = "0400"
down_revision: str | Sequence[str] | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "hospital_capacity",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("organization_id", sa.String(length=64), nullable=False),
        sa.Column("date", sa.Date(), nullable=False),
        sa.Column("department", sa.String(length=100), nullable=False),
        sa.Column("expert_slots", sa.Integer(), nullable=False),
        sa.Column("beds", sa.Integer(), nullable=False),
        sa.Column("reserved_expert_slots", sa.Integer(), nullable=False),
        sa.Column("reserved_beds", sa.Integer(), nullable=False),
        sa.Column("booked_expert_slots", sa.Integer(), nullable=False),
        sa.Column("booked_beds", sa.Integer(), nullable=False),
        sa.Column("shares", sa.JSON(), nullable=False),
        sa.Column("published_at", hub.db.UtcDateTime(timezone=True), nullable=False),
        sa.Column("published_by", sa.String(length=100), nullable=False),
        sa.ForeignKeyConstraint(
            ["organization_id"],
            ["organization.id"],
            name=op.f("fk_hospital_capacity_organization_id_organization"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_hospital_capacity")),
        sa.UniqueConstraint(
            "organization_id", "date", "department", name="uq_hospital_capacity_day"
        ),
    )
    op.create_table(
        "referral",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("direction", sa.String(length=4), nullable=False),
        sa.Column("status", sa.String(length=12), nullable=False),
        sa.Column("resident_id", sa.Integer(), nullable=False),
        sa.Column("team_id", sa.String(length=64), nullable=False),
        sa.Column("team_organization_id", sa.String(length=64), nullable=False),
        sa.Column("hospital_id", sa.String(length=64), nullable=False),
        sa.Column("department", sa.String(length=100), nullable=True),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("diagnosis_code", sa.String(length=16), nullable=False),
        sa.Column("diagnosis_text", sa.String(length=300), nullable=True),
        sa.Column("urgency", sa.String(length=10), nullable=False),
        sa.Column("priorities", sa.JSON(), nullable=False),
        sa.Column("documents", sa.JSON(), nullable=False),
        sa.Column("resident_signed", sa.Boolean(), nullable=False),
        sa.Column("parent_id", sa.Integer(), nullable=True),
        sa.Column("discharge_summary", sa.Text(), nullable=True),
        sa.Column("rehabilitation_plan", sa.Text(), nullable=True),
        sa.Column("completion_note", sa.Text(), nullable=True),
        sa.Column("created_at", hub.db.UtcDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", hub.db.UtcDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["hospital_id"], ["organization.id"], name=op.f("fk_referral_hospital_id_organization")
        ),
        sa.ForeignKeyConstraint(
            ["parent_id"], ["referral.id"], name=op.f("fk_referral_parent_id_referral")
        ),
        sa.ForeignKeyConstraint(
            ["resident_id"], ["resident.id"], name=op.f("fk_referral_resident_id_resident")
        ),
        sa.ForeignKeyConstraint(["team_id"], ["team.id"], name=op.f("fk_referral_team_id_team")),
        sa.ForeignKeyConstraint(
            ["team_organization_id"],
            ["organization.id"],
            name=op.f("fk_referral_team_organization_id_organization"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_referral")),
    )
    with op.batch_alter_table("referral", schema=None) as batch_op:
        batch_op.create_index("ix_referral_hospital", ["hospital_id", "status"], unique=False)
        batch_op.create_index("ix_referral_parent", ["parent_id"], unique=False)
        batch_op.create_index("ix_referral_resident", ["resident_id"], unique=False)
        batch_op.create_index("ix_referral_team", ["team_id", "status"], unique=False)
        batch_op.create_index("ix_referral_team_org", ["team_organization_id", "id"], unique=False)

    op.create_table(
        "referral_booking",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("referral_id", sa.Integer(), nullable=False),
        sa.Column("capacity_id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=12), nullable=False),
        sa.Column("date", sa.Date(), nullable=False),
        sa.Column("department", sa.String(length=100), nullable=False),
        sa.Column("status", sa.String(length=10), nullable=False),
        sa.Column("created_at", hub.db.UtcDateTime(timezone=True), nullable=False),
        sa.Column("released_at", hub.db.UtcDateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["capacity_id"],
            ["hospital_capacity.id"],
            name=op.f("fk_referral_booking_capacity_id_hospital_capacity"),
        ),
        sa.ForeignKeyConstraint(
            ["referral_id"],
            ["referral.id"],
            name=op.f("fk_referral_booking_referral_id_referral"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_referral_booking")),
        sa.UniqueConstraint("referral_id", name=op.f("uq_referral_booking_referral_id")),
    )
    with op.batch_alter_table("referral_booking", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_referral_booking_capacity_id"), ["capacity_id"], unique=False
        )

    op.create_table(
        "referral_prescription",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("referral_id", sa.Integer(), nullable=False),
        sa.Column("drug", sa.String(length=200), nullable=False),
        sa.Column("dose", sa.String(length=100), nullable=False),
        sa.Column("frequency", sa.String(length=100), nullable=True),
        sa.Column("duration_amount", sa.Integer(), nullable=False),
        sa.Column("duration_unit", sa.String(length=8), nullable=False),
        sa.Column("issued_on", sa.Date(), nullable=False),
        sa.ForeignKeyConstraint(
            ["referral_id"],
            ["referral.id"],
            name=op.f("fk_referral_prescription_referral_id_referral"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_referral_prescription")),
    )
    with op.batch_alter_table("referral_prescription", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_referral_prescription_referral_id"), ["referral_id"], unique=False
        )

    op.create_table(
        "referral_transition",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("referral_id", sa.Integer(), nullable=False),
        sa.Column("from_status", sa.String(length=12), nullable=True),
        sa.Column("to_status", sa.String(length=12), nullable=False),
        sa.Column("at", hub.db.UtcDateTime(timezone=True), nullable=False),
        sa.Column("actor", sa.String(length=100), nullable=False),
        sa.Column("client_id", sa.Integer(), nullable=True),
        sa.Column("note", sa.Text(), nullable=True),
        sa.ForeignKeyConstraint(
            ["client_id"], ["client.id"], name=op.f("fk_referral_transition_client_id_client")
        ),
        sa.ForeignKeyConstraint(
            ["referral_id"],
            ["referral.id"],
            name=op.f("fk_referral_transition_referral_id_referral"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_referral_transition")),
    )
    with op.batch_alter_table("referral_transition", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_referral_transition_referral_id"), ["referral_id"], unique=False
        )


def downgrade() -> None:
    op.drop_table("referral_transition")
    op.drop_table("referral_prescription")
    op.drop_table("referral_booking")
    op.drop_table("referral")
    op.drop_table("hospital_capacity")
