"""reports: report_snapshot, the refreshed rollup unbound clients' reports answer from

Revision ID: 1100_report_snapshot
Revises: 0900
Create Date: 2026-12-03 16:05:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import hub.db

revision: str = "1100_report_snapshot"
down_revision: str | Sequence[str] | None = "0900"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "report_snapshot",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=30), nullable=False),
        sa.Column("region_key", sa.String(length=40), nullable=False),
        sa.Column("args_key", sa.String(length=200), nullable=False),
        sa.Column("as_of", sa.Date(), nullable=False),
        sa.Column("refreshed_at", hub.db.UtcDateTime(timezone=True), nullable=False),
        sa.Column("body", sa.JSON(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_report_snapshot")),
        sa.UniqueConstraint("name", "region_key", "args_key", name="uq_report_snapshot"),
    )


def downgrade() -> None:
    op.drop_table("report_snapshot")
