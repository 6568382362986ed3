"""budgets per client (rate, cost, introspection) and the hash-chained audit trail

Revision ID: 0950
Revises: 0600
Create Date: 2026-12-03 12:40:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import hub.db

revision: str = "0950"
down_revision: str | Sequence[str] | None = "0600"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("client", schema=None) as batch_op:
        batch_op.add_column(sa.Column("rate_per_minute", sa.Integer()))
        batch_op.add_column(sa.Column("cost_per_minute", sa.Integer()))
        batch_op.add_column(sa.Column("introspection", sa.Boolean()))
    op.create_table(
        "client_budget",
        sa.Column("client_id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=8), nullable=False),
        sa.Column("tokens", sa.Float(), nullable=False),
        sa.Column("taken", sa.Float(), nullable=False),
        sa.Column("updated_at", sa.Float(), nullable=False),
        sa.ForeignKeyConstraint(["client_id"], ["client.id"], ondelete="CASCADE",
                                name=op.f("fk_client_budget_client_id_client")),
        sa.PrimaryKeyConstraint("client_id", "kind", name=op.f("pk_client_budget")),
    )
    with op.batch_alter_table("audit_event", schema=None) as batch_op:
        batch_op.add_column(sa.Column("prev_hash", sa.String(length=64)))
        batch_op.add_column(sa.Column("hash", sa.String(length=64)))
        batch_op.create_index("ix_audit_event_client_at", ["client_id", "at"])
    op.create_table(
        "audit_chain_head",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("hash", sa.String(length=64), nullable=False),
        sa.Column("rows", sa.Integer(), nullable=False),
        sa.Column("pruned_hash", sa.String(length=64), nullable=False),
        sa.Column("pruned_rows", sa.Integer(), nullable=False),
        sa.Column("pruned_before", hub.db.UtcDateTime(timezone=True)),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_audit_chain_head")),
    )
    _chain_existing_rows()


def _chain_existing_rows() -> None:
    """Rows written before the chain existed are chained now, in id order."""
    from hub.access.audit import GENESIS, row_hash

    bind = op.get_bind()
    event = sa.table("audit_event", sa.column("id", sa.Integer()),
                     sa.column("at", hub.db.UtcDateTime()), sa.column("client_id", sa.Integer()),
                     sa.column("actor", sa.String()), sa.column("action", sa.String()),
                     sa.column("operation", sa.String()), sa.column("resident_ids", sa.JSON()),
                     sa.column("request_id", sa.String()), sa.column("prev_hash", sa.String()),
                     sa.column("hash", sa.String()))  # fmt: skip
    prev, count = GENESIS, 0
    for row in bind.execute(sa.select(event).order_by(event.c.id)).mappings().all():
        digest = row_hash(prev, dict(row))
        bind.execute(sa.update(event).where(event.c.id == row["id"])
                     .values(prev_hash=prev, hash=digest))  # fmt: skip
        prev, count = digest, count + 1
    head = sa.table("audit_chain_head", sa.column("id", sa.Integer()),
                    sa.column("hash", sa.String()), sa.column("rows", sa.Integer()),
                    sa.column("pruned_hash", sa.String()), sa.column("pruned_rows", sa.Integer()))
    bind.execute(sa.insert(head).values(id=1, hash=prev, rows=count, pruned_hash=GENESIS,
                                        pruned_rows=0))  # fmt: skip


def downgrade() -> None:
    op.drop_table("audit_chain_head")
    with op.batch_alter_table("audit_event", schema=None) as batch_op:
        batch_op.drop_index("ix_audit_event_client_at")
        batch_op.drop_column("hash")
        batch_op.drop_column("prev_hash")
    op.drop_table("client_budget")
    with op.batch_alter_table("client", schema=None) as batch_op:
        for column in ("introspection", "cost_per_minute", "rate_per_minute"):
            batch_op.drop_column(column)
