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


def upgrade() -> None:
    _resident_access()


def downgrade() -> None:
    op.drop_index("ix_resident_token_resident", table_name="resident_token")
    op.drop_table("resident_token")
    op.drop_table("resident_login")
