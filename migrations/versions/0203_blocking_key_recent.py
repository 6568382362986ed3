"""registry linkage: blocking_key_recent, where new keys wait to be merged in key order

Revision ID: 0203
Revises: 0202
Create Date: 2026-11-23 14:05:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0203"
down_revision: str | Sequence[str] | None = "0202"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "blocking_key_recent",
        sa.Column("key", sa.String(length=80), nullable=False),
        sa.Column("source_record_id", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["source_record_id"],
            ["source_record.id"],
            name=op.f("fk_blocking_key_recent_source_record_id_source_record"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("key", "source_record_id", name=op.f("pk_blocking_key_recent")),
    )
    op.create_index(
        "ix_blocking_key_recent_record", "blocking_key_recent", ["source_record_id"], unique=False
    )


def downgrade() -> None:
    # Keys not merged yet move to the one table that stays.
    op.execute(
        "INSERT INTO blocking_key (key, source_record_id) "
        "SELECT key, source_record_id FROM blocking_key_recent"
    )
    op.drop_index("ix_blocking_key_recent_record", table_name="blocking_key_recent")
    op.drop_table("blocking_key_recent")
