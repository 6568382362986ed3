"""resident access: resident logins and resident-scoped tokens; time-slot appointments

Revision ID: 0990
Revises: 0600
Create Date: 2026-12-03 13:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import hub.db

revision: str = "0990"
down_revision: str | Sequence[str] | None = "0600"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _resident_access() -> None:
    op.create_table(
        "resident_login",
        sa.Column("id", sa.String(length=40), nullable=False),
        sa.Column("client_id", sa.Integer(), nullable=False),
        sa.Column("resident_id", sa.Integer(), nullable=True),
        sa.Column("code_hash", sa.String(length=64), nullable=False),
        sa.Column("tries", sa.Integer(), nullable=False),
        sa.Column("created_at", hub.db.UtcDateTime(timezone=True), nullable=False),
        sa.Column("expires_at", hub.db.UtcDateTime(timezone=True), nullable=False),
        sa.Column("done_at", hub.db.UtcDateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(["client_id"], ["client.id"],
                                name=op.f("fk_resident_login_client_id_client")),
        sa.ForeignKeyConstraint(["resident_id"], ["resident.id"],
                                name=op.f("fk_resident_login_resident_id_resident")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_resident_login")),
    )  # fmt: skip
    op.create_table(
        "resident_token",
        sa.Column("token_hash", sa.String(length=64), nullable=False),
        sa.Column("client_id", sa.Integer(), nullable=False),
        sa.Column("resident_id", sa.Integer(), nullable=False),
        sa.Column("ward_ids", sa.JSON(), nullable=False),
        sa.Column("created_at", hub.db.UtcDateTime(timezone=True), nullable=False),
        sa.Column("expires_at", hub.db.UtcDateTime(timezone=True), nullable=False),
        sa.Column("revoked_at", hub.db.UtcDateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(["client_id"], ["client.id"],
                                name=op.f("fk_resident_token_client_id_client")),
        sa.ForeignKeyConstraint(["resident_id"], ["resident.id"],
                                name=op.f("fk_resident_token_resident_id_resident")),
        sa.PrimaryKeyConstraint("token_hash", name=op.f("pk_resident_token")),
    )  # fmt: skip
    op.create_index("ix_resident_token_resident", "resident_token", ["resident_id", "client_id"])


def _appointments() -> None:
    op.create_table(
        "clinic_session",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("team_id", sa.String(length=64), nullable=False),
        sa.Column("organization_id", sa.String(length=64), nullable=False),
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("start", sa.String(length=5), nullable=False),
        sa.Column("end", sa.String(length=5), nullable=False),
        sa.Column("slot_minutes", sa.Integer(), nullable=False),
        sa.Column("service_kind", sa.String(length=20), nullable=False),
        sa.Column("off_hours", sa.Boolean(), nullable=False),
        sa.Column("created_at", hub.db.UtcDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["organization_id"], ["organization.id"],
                                name=op.f("fk_clinic_session_organization_id_organization")),
        sa.ForeignKeyConstraint(["team_id"], ["team.id"],
                                name=op.f("fk_clinic_session_team_id_team")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_clinic_session")),
    )  # fmt: skip
    op.create_index(op.f("ix_clinic_session_team_id"), "clinic_session", ["team_id"])
    op.create_table(
        "appointment_slot",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("session_id", sa.Integer(), nullable=False),
        sa.Column("team_id", sa.String(length=64), nullable=False),
        sa.Column("service_kind", sa.String(length=20), nullable=False),
        sa.Column("start_at", hub.db.UtcDateTime(timezone=True), nullable=False),
        sa.Column("end_at", hub.db.UtcDateTime(timezone=True), nullable=False),
        sa.Column("taken", sa.Boolean(), nullable=False),
        sa.ForeignKeyConstraint(["session_id"], ["clinic_session.id"],
                                name=op.f("fk_appointment_slot_session_id_clinic_session")),
        sa.ForeignKeyConstraint(["team_id"], ["team.id"],
                                name=op.f("fk_appointment_slot_team_id_team")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_appointment_slot")),
    )  # fmt: skip
    op.create_index(op.f("ix_appointment_slot_session_id"), "appointment_slot", ["session_id"])
    op.create_index("ix_appointment_slot_team_start", "appointment_slot", ["team_id", "start_at"])
    op.create_table(
        "appointment",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("slot_id", sa.Integer(), nullable=False),
        sa.Column("team_id", sa.String(length=64), nullable=False),
        sa.Column("resident_id", sa.Integer(), nullable=False),
        sa.Column("service_kind", sa.String(length=20), nullable=False),
        sa.Column("status", sa.String(length=10), nullable=False),
        sa.Column("start_at", hub.db.UtcDateTime(timezone=True), nullable=False),
        sa.Column("end_at", hub.db.UtcDateTime(timezone=True), nullable=False),
        sa.Column("booked_by_client_id", sa.Integer(), nullable=True),
        sa.Column("booked_at", hub.db.UtcDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", hub.db.UtcDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["resident_id"], ["resident.id"],
                                name=op.f("fk_appointment_resident_id_resident")),
        sa.ForeignKeyConstraint(["slot_id"], ["appointment_slot.id"],
                                name=op.f("fk_appointment_slot_id_appointment_slot")),
        sa.ForeignKeyConstraint(["team_id"], ["team.id"], name=op.f("fk_appointment_team_id_team")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_appointment")),
    )  # fmt: skip
    op.create_index(op.f("ix_appointment_resident_id"), "appointment", ["resident_id"])
    op.create_index(op.f("ix_appointment_slot_id"), "appointment", ["slot_id"])
    op.create_index("ix_appointment_team_start", "appointment", ["team_id", "start_at"])


def upgrade() -> None:
    _resident_access()
    _appointments()


def downgrade() -> None:
    for table in ("appointment", "appointment_slot", "clinic_session"):
        op.drop_table(table)
    op.drop_index("ix_resident_token_resident", table_name="resident_token")
    op.drop_table("resident_token")
    op.drop_table("resident_login")
