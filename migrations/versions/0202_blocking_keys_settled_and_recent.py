"""registry linkage: blocking keys in two tables, settled (WITHOUT ROWID on SQLite) and
recent, merged in key order

New keys go to blocking_key_recent; `hub.registry.mpi_index.compact` merges them into
blocking_key in key order when enough have gathered. On SQLite blocking_key is rebuilt
WITHOUT ROWID: the primary key (key, source_record_id) is then the table, one B-tree
instead of a rowid table plus its index.

Revision ID: 0202
Revises: 0201
Create Date: 2026-11-23 14:10:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0202"
down_revision: str | Sequence[str] | None = "0201"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _create(name: str, *, with_rowid: bool) -> None:
    op.create_table(
        name,
        sa.Column("key", sa.String(length=80), nullable=False),
        sa.Column("source_record_id", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["source_record_id"],
            ["source_record.id"],
            name=op.f(f"fk_{name}_source_record_id_source_record"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("key", "source_record_id", name=op.f(f"pk_{name}")),
        sqlite_with_rowid=with_rowid,
    )


def _rebuild_settled(*, with_rowid: bool) -> None:
    """SQLite cannot change a table's rowid-ness: copy it, in key order."""
    op.rename_table("blocking_key", "blocking_key_old")
    _create("blocking_key", with_rowid=with_rowid)
    op.execute(
        "INSERT INTO blocking_key (key, source_record_id) "
        "SELECT key, source_record_id FROM blocking_key_old ORDER BY key, source_record_id"
    )
    op.drop_table("blocking_key_old")


def upgrade() -> None:
    if op.get_bind().dialect.name == "sqlite":
        _rebuild_settled(with_rowid=False)
    _create("blocking_key_recent", with_rowid=False)


def downgrade() -> None:
    # Keys not merged yet move to the one table that stays.
    op.execute(
        "INSERT INTO blocking_key (key, source_record_id) "
        "SELECT key, source_record_id FROM blocking_key_recent"
    )
    op.drop_table("blocking_key_recent")
    if op.get_bind().dialect.name == "sqlite":
        _rebuild_settled(with_rowid=True)
