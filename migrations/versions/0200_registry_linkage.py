"""registry linkage: duplicate reviews, separations, merges

Revision ID: 0200
Revises: 0001
Create Date: 2026-11-23 10:58:54.659147
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import hub.db

revision: str = "0200"
down_revision: str | Sequence[str] | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "link_separation",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("record_key", sa.String(length=150), nullable=False),
        sa.Column("resident_id", sa.Integer(), nullable=False),
        sa.Column("reason", sa.String(length=500), nullable=True),
        sa.Column("created_by", sa.String(length=100), nullable=True),
        sa.Column("created_at", hub.db.UtcDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["resident_id"], ["resident.id"], name=op.f("fk_link_separation_resident_id_resident")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_link_separation")),
    )
    with op.batch_alter_table("link_separation", schema=None) as batch_op:
        batch_op.create_index("ix_link_separation_record", ["record_key"], unique=False)
        batch_op.create_index("ix_link_separation_resident", ["resident_id"], unique=False)

    op.create_table(
        "resident_merge",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("survivor_id", sa.Integer(), nullable=False),
        sa.Column("merged_id", sa.Integer(), nullable=False),
        sa.Column("reason", sa.String(length=500), nullable=True),
        sa.Column("source_record_ids", sa.JSON(), nullable=False),
        sa.Column("moved_rows", sa.JSON(), nullable=False),
        sa.Column("created_by", sa.String(length=100), nullable=True),
        sa.Column("created_at", hub.db.UtcDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["merged_id"], ["resident.id"], name=op.f("fk_resident_merge_merged_id_resident")
        ),
        sa.ForeignKeyConstraint(
            ["survivor_id"], ["resident.id"], name=op.f("fk_resident_merge_survivor_id_resident")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_resident_merge")),
    )
    with op.batch_alter_table("resident_merge", schema=None) as batch_op:
        batch_op.create_index("ix_resident_merge_merged", ["merged_id"], unique=False)
        batch_op.create_index("ix_resident_merge_survivor", ["survivor_id"], unique=False)

    op.create_table(
        "duplicate_review",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("resident_id", sa.Integer(), nullable=False),
        sa.Column("source_record_id", sa.Integer(), nullable=True),
        sa.Column("candidates", sa.JSON(), nullable=False),
        sa.Column("top_score", sa.Double(), nullable=True),
        sa.Column("decision", sa.String(length=20), nullable=True),
        sa.Column("decided_resident_id", sa.Integer(), nullable=True),
        sa.Column("resolved_by", sa.String(length=100), nullable=True),
        sa.Column("resolved_at", hub.db.UtcDateTime(timezone=True), nullable=True),
        sa.Column("created_at", hub.db.UtcDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["resident_id"], ["resident.id"], name=op.f("fk_duplicate_review_resident_id_resident")
        ),
        sa.ForeignKeyConstraint(
            ["source_record_id"],
            ["source_record.id"],
            name=op.f("fk_duplicate_review_source_record_id_source_record"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_duplicate_review")),
    )
    with op.batch_alter_table("duplicate_review", schema=None) as batch_op:
        batch_op.create_index("ix_duplicate_review_resident", ["resident_id"], unique=False)
        batch_op.create_index("ix_duplicate_review_status", ["status", "id"], unique=False)


def downgrade() -> None:
    for table, indexes in (
        ("duplicate_review", ("ix_duplicate_review_status", "ix_duplicate_review_resident")),
        ("resident_merge", ("ix_resident_merge_survivor", "ix_resident_merge_merged")),
        ("link_separation", ("ix_link_separation_resident", "ix_link_separation_record")),
    ):
        with op.batch_alter_table(table, schema=None) as batch_op:
            for index in indexes:
                batch_op.drop_index(index)
        op.drop_table(table)
