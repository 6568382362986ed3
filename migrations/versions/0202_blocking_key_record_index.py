"""registry linkage: index blocking_key (source_record_id) for re-keying a record

Revision ID: 0202
Revises: 0201
Create Date: 2026-11-23 14:00:00
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0202"
down_revision: str | Sequence[str] | None = "0201"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_index("ix_blocking_key_record", "blocking_key", ["source_record_id"], unique=False)


def downgrade() -> None:
    op.drop_index("ix_blocking_key_record", table_name="blocking_key")
