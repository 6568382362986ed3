"""registry: drop ix_identifier_lookup (system, value), which uq_identifier (system,
value, resident_id) already serves

Revision ID: 0203
Revises: 0202
Create Date: 2026-11-23 14:45:00
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0203"
down_revision: str | Sequence[str] | None = "0202"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.drop_index("ix_identifier_lookup", table_name="resident_identifier")


def downgrade() -> None:
    op.create_index("ix_identifier_lookup", "resident_identifier", ["system", "value"])
