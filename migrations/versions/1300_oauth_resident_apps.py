"""resident apps over OAuth 2.0: registered apps, authorization codes, the SMART scopes of a
resident token, and per-person budgets of one-time login codes

Revision ID: 1300_oauth_resident_apps
Revises: 0990, 0950
Create Date: 2026-12-03 16:10:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import hub.db

revision: str = "1300_oauth_resident_apps"
down_revision: str | Sequence[str] | None = ("0990", "0950")
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "oauth_app",
        sa.Column("client_id", sa.Integer(), nullable=False),
        sa.Column("redirect_uris", sa.JSON(), nullable=False),
        sa.Column("created_at", hub.db.UtcDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["client_id"], ["client.id"], ondelete="CASCADE",
                                name=op.f("fk_oauth_app_client_id_client")),
        sa.PrimaryKeyConstraint("client_id", name=op.f("pk_oauth_app")),
    )  # fmt: skip
    op.create_table(
        "oauth_code",
        sa.Column("code_hash", sa.String(length=64), nullable=False),
        sa.Column("client_id", sa.Integer(), nullable=False),
        sa.Column("resident_id", sa.Integer(), nullable=False),
        sa.Column("redirect_uri", sa.String(length=2000), nullable=False),
        sa.Column("scope", sa.String(length=1000), nullable=False),
        sa.Column("code_challenge", sa.String(length=128), nullable=False),
        sa.Column("created_at", hub.db.UtcDateTime(timezone=True), nullable=False),
        sa.Column("expires_at", hub.db.UtcDateTime(timezone=True), nullable=False),
        sa.Column("used_at", hub.db.UtcDateTime(timezone=True), nullable=True),
        sa.Column("token_hash", sa.String(length=64), nullable=True),
        sa.ForeignKeyConstraint(["client_id"], ["client.id"], ondelete="CASCADE",
                                name=op.f("fk_oauth_code_client_id_client")),
        sa.ForeignKeyConstraint(["resident_id"], ["resident.id"],
                                name=op.f("fk_oauth_code_resident_id_resident")),
        sa.PrimaryKeyConstraint("code_hash", name=op.f("pk_oauth_code")),
    )  # fmt: skip
    op.create_table(
        "login_budget",
        sa.Column("subject", sa.String(length=64), nullable=False),
        sa.Column("kind", sa.String(length=8), nullable=False),
        sa.Column("tokens", sa.Float(), nullable=False),
        sa.Column("taken", sa.Float(), nullable=False),
        sa.Column("updated_at", sa.Float(), nullable=False),
        sa.PrimaryKeyConstraint("subject", "kind", name=op.f("pk_login_budget")),
    )
    with op.batch_alter_table("resident_token", schema=None) as batch_op:
        batch_op.add_column(sa.Column("scope", sa.String(length=1000), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("resident_token", schema=None) as batch_op:
        batch_op.drop_column("scope")
    op.drop_table("login_budget")
    op.drop_table("oauth_code")
    op.drop_table("oauth_app")
